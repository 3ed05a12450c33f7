//! WebSocket integration tests: a real server on an ephemeral port, driven by
//! a protocol-level client (see `helpers`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod sessions_access;
mod sessions_convergence;
mod sessions_rpc;
mod sessions_status;
mod sessions_transfer;
mod ws_connect;
mod ws_errors;
mod ws_limits;
mod ws_presence;
mod ws_pubsub;
mod ws_recovery;
mod ws_shutdown;
