//! What HTTP handlers (REST, the WebSocket upgrade, operations) share: the
//! node and the few settings the transports need. Built by `app.rs`, read by
//! the transports; it depends on neither, so no cycle runs through `app.rs`.

use std::sync::Arc;

use crate::auth::TokenMinter;
use crate::config::ApiKeys;
use crate::node::Node;
use crate::shutdown::Shutdown;

/// What HTTP handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The node.
    pub node: Node,
    /// Shutdown root (connections are tracked on it).
    pub shutdown: Shutdown,
    /// Allowed WebSocket origins.
    pub allowed_origins: Arc<Vec<String>>,
    /// Largest inbound message.
    pub max_frame_bytes: usize,
    /// WebSocket read buffer size.
    pub read_buffer: usize,
    /// Token minter for the demo login (dev mode only).
    pub minter: Option<Arc<TokenMinter>>,
    /// The server API's keys and limits (`None`: the server API is off).
    pub server_api: Option<Arc<ServerApiSettings>>,
}

/// What the server API (`/api/server`) needs: its keys and its batch limit.
#[derive(Debug)]
pub struct ServerApiSettings {
    /// Valid keys (`TANDEM_SERVER_API_KEY`; several during a rotation).
    pub keys: ApiKeys,
    /// Most calls in one batch (`TANDEM_SERVER_API_MAX_BATCH`).
    pub max_batch: usize,
}
