//! The WebSocket transport: the upgrade at `/connection/websocket`, the
//! per-connection read loop, and the writer task that owns the socket's sink.

pub mod connection;
pub mod upgrade;
pub mod writer;
