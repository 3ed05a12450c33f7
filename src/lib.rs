//! Tandem: a real-time collaboration server speaking the Centrifugo client
//! protocol (JSON and Protobuf), so the official Centrifugo SDKs are its clients.
//!
//! # Layout
//! Layers point one way, transports → node → domain → engine; the map with
//! the rule behind each arrow is `docs/architecture.md`.
//!
//! - Transports (the edge): [`ws`] (WebSocket upgrade, read loop, writer),
//!   [`protocol`] (wire types, codes, the codec; conversions at the edge;
//!   `protocol::protobuf` is the binary variant, its messages generated from
//!   `proto/client.proto` by `build.rs`),
//!   [`client`] (one connection's protocol state machine, a file per command),
//!   [`api`] (REST and OpenAPI), [`rpc`] (RPC methods over the WebSocket and
//!   the table pairing each with its REST twin).
//! - [`node`]: the facade transports call: subscribe (with recovery, presence
//!   and join), publish, history, presence, disconnect a user or a client,
//!   channel and node stats; the channel policy.
//! - [`hub`]: local connections (indexed by user) and subscriptions, fan-out
//!   with bounded queues and one lazily encoded frame per codec.
//! - [`sessions`]: the domain: model, typed events, the service used by REST
//!   and RPC, validation and limits, and the storage contract
//!   (`sessions::store::SessionStore`) that engines implement.
//! - [`engine`]: the [`engine::Broker`] contract (streams, history, presence,
//!   cross-node fan-out), codec-neutral data ([`engine::Payload`],
//!   [`engine::Publication`]), the embedded memory engine and the Redis
//!   engine (`engine::redis`, docs/redis.md).
//! - [`sweeper`]: abandons idle sessions and archives abandoned ones.
//! - [`channels`]: channel names, parsed in one place; [`errors`]: every error
//!   mapped once to a protocol code and an HTTP status; [`auth`]: verifying and
//!   minting connection JWTs.
//! - [`app`]: the composition root; [`state`]: what HTTP handlers share;
//!   [`http`]: the accept loop (header timeout, connection cap); [`ops`]:
//!   health and readiness; [`web`]: the browser frontend at `/`; [`config`]:
//!   settings; [`shutdown`]: ownership of background tasks; [`telemetry`]:
//!   logging.

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
