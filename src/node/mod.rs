//! The node: one running Tandem server, and the one facade transports (the
//! WebSocket client state machine, a server API) reach the hub and the
//! engine through.
//!
//! `Node` registers connections, subscribes them to channels (with recovery,
//! presence and join), publishes, reads history and presence, disconnects a
//! user or a client, and reports channel and node stats. It ties the hub
//! (local connections), the engine (history, presence, cross-node fan-out),
//! the channel policy, token verification and the RPC router together.
//! Connections get a clone; nothing here is global.

mod error;
mod operations;
pub mod policy;
mod subscribe;

use std::sync::Arc;

pub use error::NodeError;
pub use operations::{ChannelStats, NodeStats, PresenceStats};
pub use policy::{Action, ChannelOptions, Policy};
pub use subscribe::{SubscribeRequest, Subscribed, Subscription};

use crate::auth::TokenVerifier;
use crate::engine::Broker;
use crate::hub::Hub;
use crate::rpc::RpcRouter;
use crate::sessions::SessionService;

/// Per-connection limits and timers, from the configuration.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Outbound messages queued per connection.
    pub max_queue: usize,
    /// Outbound bytes queued per connection.
    pub max_queue_bytes: usize,
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
    /// Longest a subscribe may take before it fails with a temporary error.
    pub subscribe_timeout: std::time::Duration,
}

/// What a node is made of.
pub struct NodeParts {
    /// Unique id of this process run.
    pub id: String,
    /// Local connections and subscriptions.
    pub hub: Hub,
    /// The broker: channels, history, presence, cross-node fan-out.
    pub broker: Arc<dyn Broker>,
    /// The sessions service (over the same engine).
    pub sessions: SessionService,
    /// Connection token verification.
    pub verifier: TokenVerifier,
    /// RPC methods.
    pub rpc: RpcRouter,
    /// Per-connection limits.
    pub limits: ClientLimits,
}

/// Shared handle on the node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    id: String,
    hub: Hub,
    broker: Arc<dyn Broker>,
    policy: Policy,
    sessions: SessionService,
    verifier: TokenVerifier,
    rpc: RpcRouter,
    limits: ClientLimits,
}

impl Node {
    /// Assembles a node.
    pub fn new(parts: NodeParts) -> Self {
        let NodeParts {
            id,
            hub,
            broker,
            sessions,
            verifier,
            rpc,
            limits,
        } = parts;
        Self {
            inner: Arc::new(NodeInner {
                id,
                hub,
                broker,
                policy: Policy::new(sessions.clone()),
                sessions,
                verifier,
                rpc,
                limits,
            }),
        }
    }

    /// The sessions service (the domain's one entry point).
    pub fn sessions(&self) -> &SessionService {
        &self.inner.sessions
    }

    /// This node's id (unique per process run).
    pub fn id(&self) -> &str {
        &self.inner.id
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

    fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    fn broker(&self) -> &dyn Broker {
        self.inner.broker.as_ref()
    }

    fn policy(&self) -> &Policy {
        &self.inner.policy
    }
}
