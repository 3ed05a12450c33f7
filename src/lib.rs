//! Tandem: a real-time collaboration server speaking the Centrifugo client
//! protocol (JSON), so the official Centrifugo SDKs are its clients.
//!
//! # Layout
//! A message flows socket → protocol → client state → hub/engine → socket:
//!
//! - [`ws`]: the WebSocket upgrade, the per-connection read loop and the writer task.
//! - [`protocol`]: commands, replies, pushes, codes and the codec (pure data).
//! - [`client`]: one connection's protocol state machine, a file per command.
//! - [`hub`]: local connections and subscriptions, fan-out with bounded queues.
//! - [`engine`]: the [`engine::Engine`] trait (history, positions, presence,
//!   cross-node fan-out) with an embedded memory implementation and a Redis
//!   one for several nodes (docs/redis.md).
//! - [`policy`]: who may do what on which channel.
//! - [`auth`]: verifying and minting connection JWTs.
//! - [`rpc`]: RPC methods reachable through the protocol.
//! - [`node`]: the handle tying hub, engine, policy, auth and RPC together.
//! - [`observe`]: Prometheus metrics (one registry per node, served by [`ops`]).
//! - [`api`], [`ops`]: HTTP endpoints; [`web`]: the browser frontend at `/`; [`app`]: assembly; [`config`]: settings;
//!   [`shutdown`]: ownership of background tasks; [`telemetry`]: logging.

pub mod api;
pub mod app;
pub mod auth;
pub mod channels;
pub mod client;
pub mod config;
pub mod engine;
pub mod errors;
pub mod http;
pub mod hub;
pub mod node;
pub mod observe;
pub mod ops;
pub mod protocol;
pub mod rpc;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod sweeper;
pub mod telemetry;
pub mod web;
pub mod ws;

pub use app::App;
