//! Engines: where history, stream positions and presence live, and how
//! publications reach every node (SPEC §6).
//!
//! Two contracts: the [`Broker`] (channels: streams, history, presence,
//! cross-node fan-out), defined here and knowing nothing of sessions, and the
//! [`SessionStore`] that the sessions domain defines for the storage it needs
//! (`crate::sessions::store`). Each engine implements both: the embedded
//! [`memory::MemoryEngine`] and [`redis::RedisEngine`] for several nodes
//! sharing one Redis; [`Engine`] names the pair. Engines never import the hub,
//! the node or a transport: they report what happens in a channel through
//! [`EngineEvents`], which the hub implements, so dependencies point one way
//! (transport → node → hub/domain → engine).
//!
//! # Contracts every broker keeps
//! - **Order**: for one channel, `publish` assigns gapless increasing offsets, and
//!   [`EngineEvents::publication`] is called for that channel in offset order, on
//!   every node.
//! - **Atomicity**: storing a publication in history, assigning its offset and
//!   handing it to the fan-out happen as one step; a publication that was not
//!   stored is never delivered, and `publish` returns only once it is stored.
//! - **Epochs**: a stream's epoch changes whenever its history is lost (restart of
//!   the memory engine, loss of the Redis keys); a reader never gets a position of
//!   one epoch mixed with publications of another.
//! - **Presence expiry**: `add_presence` also refreshes; entries that are not
//!   refreshed within the presence TTL vanish (this is how a crashed node's clients
//!   leave presence).
//! - **Errors** are [`EngineError`]s; a temporary one means "try again", never
//!   "maybe stored".

pub mod memory;
pub mod publication;
pub mod redis;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::sessions::store::SessionStore;

pub use publication::{ClientInfo, Payload, Publication};

/// A position in a channel's stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamPosition {
    /// Offset of the newest publication (0 for an empty stream).
    pub offset: u64,
    /// The stream's incarnation.
    pub epoch: String,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The publication (its `offset` is assigned by the engine).
    pub publication: Publication,
    /// Keep it in the channel's history (and give it an offset).
    pub history: bool,
}

/// Which part of a stream to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// At most this many publications (0 = only the position).
    pub limit: usize,
    /// Start after (or, with `reverse`, before) this position.
    pub since: Option<StreamPosition>,
    /// Newest first.
    pub reverse: bool,
}

/// A page of history.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// Publications in the requested order.
    pub publications: Vec<Publication>,
    /// The stream's current top.
    pub position: StreamPosition,
}

/// Engine failures. Mapped once to protocol errors and HTTP statuses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The backing service is unreachable or timed out; nothing was stored.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    /// The requested `since` position belongs to another epoch.
    #[error("unrecoverable position")]
    UnrecoverablePosition,
    /// A bug.
    #[error("engine internal error: {0}")]
    Internal(String),
    /// Stored data that cannot be decoded (written by another version, or
    /// damaged). Reported for the one record; never fails other reads.
    #[error("stored data cannot be decoded: {0}")]
    Corrupt(String),
}

/// History and presence settings shared by engines.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Publications kept per channel.
    pub history_size: usize,
    /// How long a publication stays in history.
    pub history_ttl: Duration,
    /// How long a presence entry lives without a refresh.
    pub presence_ttl: Duration,
}

/// How an engine tells the node what happened in a channel.
///
/// Calls must not block: implementations hand work to bounded queues.
pub trait EngineEvents: Send + Sync + 'static {
    /// A publication arrived, in offset order per channel.
    fn publication(&self, channel: &str, publication: &Publication);
    /// A client joined the channel's presence.
    fn join(&self, channel: &str, info: &ClientInfo);
    /// A client left the channel's presence.
    fn leave(&self, channel: &str, info: &ClientInfo);
    /// Every subscription of `user` to `channel` must end (server unsubscribe).
    fn unsubscribe_user(&self, channel: &str, user: &str);
    /// Every connection of `user` on this node must close (`reconnect`:
    /// whether the clients may come back at once).
    fn disconnect_user(&self, user: &str, reconnect: bool);
    /// This node may have missed publications of `channel` (a gap in offsets,
    /// an epoch change, a lost pub/sub connection): local subscribers must
    /// resubscribe and recover. The memory engine never calls it.
    fn insufficient_state(&self, channel: &str);
}

/// Presence entries keyed by client id.
pub type PresenceMap = BTreeMap<String, ClientInfo>;

/// The broker: history, positions, presence and cross-node fan-out. It knows
/// channels and publications, nothing of sessions.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Short name for logs and `/readyz` ("memory", "redis").
    fn name(&self) -> &'static str;

    /// Stores (when `history`) and fans out a publication; returns its position.
    /// Fan-out happens through [`EngineEvents::publication`] on every node.
    async fn publish(
        &self,
        channel: &str,
        request: PublishRequest,
    ) -> Result<StreamPosition, EngineError>;

    /// Tells every node that `info` joined `channel`.
    async fn publish_join(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError>;

    /// Tells every node that `info` left `channel`.
    async fn publish_leave(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError>;

    /// Ends every subscription of `user` to `channel`, on every node (access revoked).
    async fn unsubscribe_user(&self, channel: &str, user: &str) -> Result<(), EngineError>;

    /// Closes every connection of `user` on every node, through
    /// [`EngineEvents::disconnect_user`].
    async fn disconnect_user(&self, user: &str, reconnect: bool) -> Result<(), EngineError>;

    /// Counts one more local subscriber of `channel` and makes sure the
    /// channel's feed reaches this node: when it returns `Ok`, every later
    /// publication is delivered through [`EngineEvents::publication`].
    /// Called once per local subscriber; concurrent calls for other channels
    /// never wait for this one. Cancel-safe: a call dropped before it returns
    /// counts nothing.
    async fn subscribe(&self, channel: &str) -> Result<(), EngineError>;

    /// Undoes one successful [`Broker::subscribe`]; after the last one the
    /// node stops receiving the channel's feed.
    async fn unsubscribe(&self, channel: &str) -> Result<(), EngineError>;

    /// Reads a channel's history; creates the stream's epoch if it has none yet.
    /// `since` with another epoch fails with [`EngineError::UnrecoverablePosition`].
    async fn history(
        &self,
        channel: &str,
        filter: HistoryFilter,
    ) -> Result<HistoryPage, EngineError>;

    /// Adds or refreshes a presence entry.
    async fn add_presence(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError>;

    /// Removes a presence entry.
    async fn remove_presence(&self, channel: &str, client_id: &str) -> Result<(), EngineError>;

    /// Who is present (entries past their TTL are left out).
    async fn presence(&self, channel: &str) -> Result<PresenceMap, EngineError>;

    /// Checks that the engine can serve requests (for `/readyz`).
    async fn health(&self) -> Result<(), EngineError>;
}

/// A complete engine: the [`Broker`] plus the storage the sessions domain
/// defines ([`SessionStore`]). The memory and Redis engines are both; the
/// application builds one and hands each layer only the part it needs (the
/// node gets the broker, the domain both, the sweeper the store).
pub trait Engine: Broker + SessionStore {}

impl<T: Broker + SessionStore + ?Sized> Engine for T {}
