//! The server API (issue 12): what an application backend — an AI agent
//! answering in a session, a tool runner reporting progress — does without
//! holding a user's WebSocket. Under `/api/server`, guarded by an API key
//! (`TANDEM_SERVER_API_KEY`, several comma-separated during a rotation;
//! `X-API-Key: <key>` or `Authorization: Bearer <key>`), compared in
//! constant time and never logged. With no key set, every route answers 404
//! `server_api_disabled`.
//!
//! - [`auth`]: the [`auth::ServerKey`] extractor.
//! - [`ops`]: the operations, one function each, shared by their endpoint
//!   and the batch call: append a message (`assistant`, `system`, `tool`),
//!   update a mission step, publish an ephemeral event, disconnect a user on
//!   every node, a session's presence, channel and node stats.
//! - [`batch`]: several operations in one request, a result per call.
//!
//! Domain rules and limits are the sessions service's (`sessions::validate`),
//! the same as for REST and RPC.

pub mod auth;
pub mod batch;
pub mod ops;

pub use auth::ServerKey;
