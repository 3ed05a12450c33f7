//! The node: one running Tandem server's shared parts, behind one handle.
//!
//! `Node` ties the hub (local connections), the engine (history, presence,
//! cross-node fan-out), the channel policy, token verification and the RPC
//! router together. Connections get a clone; nothing here is global.

use std::sync::Arc;

use crate::auth::TokenVerifier;
use crate::engine::Engine;
use crate::hub::Hub;
use crate::policy::Policy;
use crate::rpc::RpcRouter;

/// Per-connection limits and timers, from the configuration.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Outbound messages queued per connection.
    pub max_queue: usize,
    /// Channels per connection.
    pub max_channels: usize,
    /// Commands per second (0 = unlimited).
    pub max_commands_per_second: u32,
    /// Publications per history read and per recovery.
    pub history_cap: usize,
    /// Server ping interval.
    pub ping_interval: std::time::Duration,
    /// Time allowed for a pong.
    pub pong_timeout: std::time::Duration,
    /// Time allowed for `connect`.
    pub connect_timeout: std::time::Duration,
    /// Time allowed past token expiry for `refresh`.
    pub expiry_grace: std::time::Duration,
    /// Presence refresh interval (a third of the presence TTL).
    pub presence_refresh: std::time::Duration,
}

/// Shared handle on the node's parts. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    id: String,
    hub: Hub,
    engine: Arc<dyn Engine>,
    policy: Policy,
    verifier: TokenVerifier,
    rpc: RpcRouter,
    limits: ClientLimits,
}

impl Node {
    /// Assembles a node.
    pub fn new(
        id: String,
        hub: Hub,
        engine: Arc<dyn Engine>,
        verifier: TokenVerifier,
        rpc: RpcRouter,
        limits: ClientLimits,
    ) -> Self {
        Self {
            inner: Arc::new(NodeInner {
                id,
                hub,
                engine,
                policy: Policy,
                verifier,
                rpc,
                limits,
            }),
        }
    }

    /// This node's id (unique per process run).
    pub fn id(&self) -> &str {
        &self.inner.id
    }
    /// Local connections and subscriptions.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }
    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        self.inner.engine.as_ref()
    }
    /// The channel policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }
    /// Connection token verification.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.inner.verifier
    }
    /// RPC methods.
    pub fn rpc(&self) -> &RpcRouter {
        &self.inner.rpc
    }
    /// Per-connection limits.
    pub fn limits(&self) -> &ClientLimits {
        &self.inner.limits
    }
}
