//! The Redis engine: history, positions, presence, sessions and cross-node
//! fan-out in one Redis shared by several nodes (SPEC §4, §6; docs/redis.md).
//!
//! # How it keeps the contracts
//! - **Atomicity and order**: every write that creates a publication is one Lua
//!   script (sources under `lua/`, loaded with `include_str!`) that allocates the offset in the
//!   stream's meta hash, stores the publication in a STREAM under the id
//!   `<offset>-0` and PUBLISHes it to the channel's fan-out channel. Redis runs
//!   scripts one at a time, so PUBLISH order is offset order.
//! - **Delivery**: every node, the writer included, delivers publications to
//!   its hub only from Redis pub/sub (`subscriber.rs`), in the order received,
//!   and tracks the last offset per channel. A gap, an epoch change or a lost
//!   pub/sub connection is reported as [`EngineEvents::insufficient_state`]:
//!   local subscribers resubscribe and recover from the stream.
//! - **Epochs**: a stream's epoch is stored in its meta hash; a missing meta
//!   (expired, evicted, lost) makes the next reader or writer store the random
//!   candidate epoch it passes, so lost history is never mistaken for a
//!   continuation.
//! - **Errors**: every connection error or timeout is
//!   [`EngineError::Unavailable`]; nothing is acknowledged before Redis
//!   replied. The connection manager reconnects by itself; the pub/sub loop
//!   reconnects with backoff.

mod conn;
mod indexes;
pub mod keys;
mod presence;
mod sharded;
mod store;
mod subscriber;
mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError, RedisResult, Script, ServerErrorKind};
use async_trait::async_trait;
pub use conn::{key_slot, Topology};
use tokio_util::sync::CancellationToken;

pub use keys::validate_prefix;
use keys::{ChannelKeys, Keys};

use super::{
    Broker, EngineConfig, EngineError, EngineEvents, HistoryFilter, HistoryPage, PresenceMap,
    PublishRequest, StreamPosition,
};
use super::{ClientInfo, Payload, Publication};
use conn::Conn;
use subscriber::Fanout;
use wire::Message;

/// Where the Redis engine connects and how it names its keys.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://…` URL (may carry a password; never logged); a
    /// `redis+cluster://host:port,host:port` URL means a cluster.
    pub url: String,
    /// Seed nodes of a Redis Cluster (`host:port` or URLs); empty = the
    /// single Redis at `url`.
    pub cluster_nodes: Vec<String>,
    /// On a cluster: how often pending index updates are replayed (a
    /// session's global index entries lag its record at most this long).
    pub repair_interval: Duration,
    /// After a session write, wait until this many replicas acknowledged it
    /// (`WAIT`) before answering (0 = do not wait).
    pub wait_replicas: u32,
    /// Test-only fault injection: on a cluster, leave out the index
    /// follow-up after the atomic step, as if the node crashed right there.
    pub fault_skip_index_update: bool,
    /// Key and channel prefix.
    pub prefix: String,
    /// Give every stream a new epoch at its first use after Redis restarted
    /// (it may have lost its last writes: see docs/redis.md).
    pub new_epoch_on_restart: bool,
}

impl RedisConfig {
    /// Single Redis at `url` under `prefix`, with the default settings.
    pub fn single(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            new_epoch_on_restart: true,
            cluster_nodes: Vec::new(),
            repair_interval: Duration::from_secs(30),
            wait_replicas: 0,
            fault_skip_index_update: false,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("new_epoch_on_restart", &self.new_epoch_on_restart)
            .field("cluster_nodes", &self.cluster_nodes.len())
            .field("repair_interval", &self.repair_interval)
            .field("wait_replicas", &self.wait_replicas)
            .finish()
    }
}

/// How long one Redis command may take before it counts as unavailable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Upper bound of one engine operation (a reconnect included).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Stream metas of non-session channels outlive their history by far, so a
/// client's position stays comparable after the history expired.
const MIN_META_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The Lua scripts, each prefixed with the shared helpers.
struct Scripts {
    publish: Script,
    history: Script,
    presence_add: Script,
    presence_get: Script,
    commit: Script,
    snapshot: Script,
    events: Script,
    touch: Script,
    delete: Script,
    index_state: Script,
    unlink: Script,
}

/// The helpers every stream script starts with, after the restart-fencing switch.
const LIB: &str = include_str!("lua/lib.lua");

/// A stream script: the fencing and cluster switches, the helpers, then `body`.
fn stream_script(fence_restarts: bool, split: bool, body: &str) -> Script {
    let publish = if split { "SPUBLISH" } else { "PUBLISH" };
    Script::new(&format!(
        "local tandem_fence_restarts = {fence_restarts}\nlocal tandem_split = {split}\n\
         local tandem_publish = '{publish}'\n{LIB}\n{body}"
    ))
}

impl Scripts {
    fn new(fence_restarts: bool, split: bool) -> Self {
        let stream = |body| stream_script(fence_restarts, split, body);
        Self {
            publish: stream(include_str!("lua/publish.lua")),
            history: stream(include_str!("lua/history.lua")),
            presence_add: Script::new(include_str!("lua/presence_add.lua")),
            presence_get: Script::new(include_str!("lua/presence_get.lua")),
            commit: stream(include_str!("lua/commit.lua")),
            snapshot: stream(include_str!("lua/snapshot.lua")),
            events: Script::new(include_str!("lua/events.lua")),
            touch: stream(include_str!("lua/touch.lua")),
            delete: stream(include_str!("lua/delete.lua")),
            index_state: Script::new(include_str!("lua/index_state.lua")),
            unlink: Script::new(include_str!("lua/unlink.lua")),
        }
    }
}

/// The Redis engine. Cheap to clone (shares its connections).
///
/// Build it with [`RedisEngine::new`], then run [`RedisEngine::run`] (the
/// pub/sub loop) as a background task: without it, [`Broker::subscribe`]
/// fails with [`EngineError::Unavailable`] and nothing is delivered.
#[derive(Clone)]
pub struct RedisEngine {
    inner: Arc<Inner>,
}

struct Inner {
    conn: conn::Source,
    keys: Keys,
    scripts: Scripts,
    config: EngineConfig,
    fanout: Fanouts,
    /// On a cluster: global indexes are updated after the atomic step.
    split: bool,
    repair_interval: Duration,
    wait_replicas: u32,
    fault_skip_index_update: bool,
}

/// The pub/sub side: one connection to one Redis, or sharded pub/sub on a cluster.
enum Fanouts {
    Single(Fanout),
    Cluster(sharded::ShardedFanout),
}

impl Fanouts {
    async fn subscribe(&self, channel: &str, fanout: &str) -> Result<(), EngineError> {
        match self {
            Self::Single(f) => f.subscribe(channel, fanout).await,
            Self::Cluster(f) => f.subscribe(channel, fanout).await,
        }
    }

    async fn unsubscribe(&self, fanout: &str) -> Result<(), EngineError> {
        match self {
            Self::Single(f) => f.unsubscribe(fanout).await,
            Self::Cluster(f) => f.unsubscribe(fanout).await,
        }
    }

    async fn run(&self, stop: CancellationToken) {
        match self {
            Self::Single(f) => f.run(stop).await,
            Self::Cluster(f) => f.run(stop).await,
        }
    }

    fn is_connected(&self) -> bool {
        match self {
            Self::Single(f) => f.is_connected(),
            Self::Cluster(f) => f.is_connected(),
        }
    }

    async fn ready(&self, within: Duration) -> bool {
        match self {
            Self::Single(f) => f.ready(within).await,
            Self::Cluster(f) => f.ready(within).await,
        }
    }
}

impl RedisEngine {
    /// An engine for `redis` reporting to `events`. Connects lazily: a Redis
    /// that is down at start makes operations fail (and `/readyz` report 503)
    /// until it is back.
    pub fn new(
        redis: &RedisConfig,
        config: EngineConfig,
        events: Arc<dyn EngineEvents>,
    ) -> Result<Self, EngineError> {
        validate_prefix(&redis.prefix)
            .map_err(|p| EngineError::Internal(format!("TANDEM_REDIS_PREFIX: {p}")))?;
        let topology = Topology::from_settings(&redis.url, &redis.cluster_nodes)
            .map_err(|e| EngineError::Internal(format!("TANDEM_REDIS_URL: {e}")))?;
        let keys = Keys::new(&redis.prefix);
        let nodes = keys.nodes();
        let (conn, fanout) = match &topology {
            Topology::Single(url) => {
                let client = ::redis::Client::open(url.as_str())
                    .map_err(|e| EngineError::Internal(format!("TANDEM_REDIS_URL: {e}")))?;
                let manager_config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
                    .map_err(unavailable)?;
                (
                    conn::Source::Single(conn),
                    Fanouts::Single(Fanout::new(client, events, RESPONSE_TIMEOUT, nodes)),
                )
            }
            Topology::Cluster(seeds) => {
                let client = conn::cluster_client(seeds, RESPONSE_TIMEOUT, CONNECT_TIMEOUT, None)
                    .map_err(|e| {
                    EngineError::Internal(format!("TANDEM_REDIS_CLUSTER_NODES: {e}"))
                })?;
                (
                    conn::Source::Cluster(Box::new(conn::ClusterSource {
                        client,
                        conn: tokio::sync::OnceCell::new(),
                        connect_timeout: OPERATION_TIMEOUT,
                    })),
                    Fanouts::Cluster(sharded::ShardedFanout::new(
                        seeds.clone(),
                        events,
                        RESPONSE_TIMEOUT,
                        CONNECT_TIMEOUT,
                        nodes,
                    )),
                )
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                keys,
                scripts: Scripts::new(redis.new_epoch_on_restart, topology.is_cluster()),
                config,
                fanout,
                split: topology.is_cluster(),
                repair_interval: redis.repair_interval.max(Duration::from_millis(100)),
                wait_replicas: redis.wait_replicas,
                fault_skip_index_update: redis.fault_skip_index_update,
            }),
        })
    }

    /// Whether this engine runs on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.split
    }

    /// Runs the pub/sub loop until `stop`: (re)connects with backoff,
    /// resubscribes every channel, delivers messages to the hub in order.
    pub async fn run(self, stop: CancellationToken) {
        self.inner.fanout.run(stop).await;
    }

    /// The command connection (on a cluster, connected at first use).
    async fn conn(&self) -> Result<Conn, EngineError> {
        self.inner.conn.get().await
    }

    fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    fn history_ttl_ms(&self) -> u64 {
        millis(self.inner.config.history_ttl).max(1)
    }

    /// Meta TTL for a channel (0 = never expires: session streams).
    fn meta_ttl_ms(&self, keys: &ChannelKeys) -> u64 {
        if keys.session {
            0
        } else {
            millis(MIN_META_TTL.max(self.inner.config.history_ttl * 2))
        }
    }
}

/// Runs one Redis operation with the engine's timeout and error mapping.
async fn run<T>(op: impl Future<Output = RedisResult<T>>) -> Result<T, EngineError> {
    match tokio::time::timeout(OPERATION_TIMEOUT, op).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(EngineError::Unavailable(
            "redis did not answer in time".into(),
        )),
    }
}

/// Maps a Redis error: connection trouble, timeouts and "try later" server
/// states are [`EngineError::Unavailable`]; script or data errors are internal.
fn classify(err: RedisError) -> EngineError {
    let temporary = matches!(
        err.kind(),
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::NoScript
        )
    ) || err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || matches!(err.code(), Some("OOM" | "BUSY" | "LOADING" | "NOREPLICAS"))
        || matches!(err.kind(), ErrorKind::Io | ErrorKind::Client);
    if temporary {
        unavailable(err)
    } else {
        EngineError::Internal(format!("redis: {err}"))
    }
}

fn unavailable(err: RedisError) -> EngineError {
    EngineError::Unavailable(format!("redis: {err}"))
}

fn internal(what: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(what.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A new random epoch candidate (used only when a stream has none).
fn candidate_epoch() -> String {
    super::memory::new_epoch()
}

/// Parses a stream entry (`<offset>-0`, fields `d`, `i`, `t`) into a publication.
fn entry_to_publication(id: &str, fields: &[Vec<u8>]) -> Result<Publication, EngineError> {
    let offset = id
        .split('-')
        .next()
        .and_then(|o| o.parse::<u64>().ok())
        .ok_or_else(|| internal(format!("bad stream id {id:?}")))?;
    let mut data = None;
    let mut info = None;
    let mut tags = None;
    for pair in fields.chunks(2) {
        if let [name, value] = pair {
            match name.as_slice() {
                b"d" => data = Some(Payload::from_bytes(value.clone())),
                b"i" => info = Some(serde_json::from_slice::<ClientInfo>(value).map_err(internal)?),
                b"t" => tags = Some(serde_json::from_slice(value).map_err(internal)?),
                _ => {}
            }
        }
    }
    Ok(Publication {
        data: data.ok_or_else(|| internal(format!("stream entry {id} has no data")))?,
        info,
        offset,
        tags,
        published_at: None,
    })
}

/// The script's history reply: epoch, top, ok flag, entries.
type HistoryReply = (String, u64, i64, Vec<(String, Vec<Vec<u8>>)>);

#[async_trait]
impl Broker for RedisEngine {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn publish(
        &self,
        channel: &str,
        request: PublishRequest,
    ) -> Result<StreamPosition, EngineError> {
        let keys = self.keys().channel(channel);
        let publication = &request.publication;
        let info = match &publication.info {
            Some(info) => serde_json::to_string(info).map_err(internal)?,
            None => String::new(),
        };
        let tags = match &publication.tags {
            Some(tags) => serde_json::to_string(tags).map_err(internal)?,
            None => String::new(),
        };
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.publish.key(&keys.stream);
        invocation
            .key(&keys.meta)
            .arg(candidate_epoch())
            .arg(self.inner.config.history_size)
            .arg(self.history_ttl_ms())
            .arg(self.meta_ttl_ms(&keys))
            .arg(&keys.fanout)
            .arg(if request.history { "1" } else { "0" })
            .arg(publication.data.as_bytes())
            .arg(info)
            .arg(tags);
        let (epoch, offset): (String, u64) = run(invocation.invoke_async(&mut conn)).await?;
        if request.history {
            self.wait_for_replicas(&keys.stream).await;
        }
        Ok(StreamPosition { offset, epoch })
    }

    async fn publish_join(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.control(channel, Message::Join(info.clone())).await
    }

    async fn publish_leave(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        self.control(channel, Message::Leave(info.clone())).await
    }

    async fn unsubscribe_user(&self, channel: &str, user: &str) -> Result<(), EngineError> {
        self.control(channel, Message::Unsubscribe(user.to_owned()))
            .await
    }

    async fn disconnect_user(&self, user: &str, reconnect: bool) -> Result<(), EngineError> {
        let message = wire::encode_control(&Message::DisconnectUser {
            user: user.to_owned(),
            reconnect,
        })?;
        let mut conn = self.conn().await?;
        let _receivers: i64 = run(::redis::cmd(self.publish_command())
            .arg(self.keys().nodes())
            .arg(message)
            .query_async(&mut conn))
        .await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<(), EngineError> {
        let keys = self.keys().channel(channel);
        self.inner.fanout.subscribe(channel, &keys.fanout).await
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), EngineError> {
        let keys = self.keys().channel(channel);
        self.inner.fanout.unsubscribe(&keys.fanout).await
    }

    async fn history(
        &self,
        channel: &str,
        filter: HistoryFilter,
    ) -> Result<HistoryPage, EngineError> {
        let keys = self.keys().channel(channel);
        let (has_since, since_epoch, since_offset) = match &filter.since {
            Some(since) => ("1", since.epoch.clone(), since.offset),
            None => ("0", String::new(), 0),
        };
        let mut conn = self.conn().await?;
        let mut invocation = self.inner.scripts.history.key(&keys.stream);
        invocation
            .key(&keys.meta)
            .arg(candidate_epoch())
            .arg(self.meta_ttl_ms(&keys))
            .arg(has_since)
            .arg(since_epoch)
            .arg(since_offset)
            .arg(filter.limit)
            .arg(if filter.reverse { "1" } else { "0" });
        let (epoch, top, ok, entries): HistoryReply =
            run(invocation.invoke_async(&mut conn)).await?;
        if ok == 0 {
            return Err(EngineError::UnrecoverablePosition);
        }
        let publications = entries
            .iter()
            .map(|(id, fields)| entry_to_publication(id, fields))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HistoryPage {
            publications,
            position: StreamPosition { offset: top, epoch },
        })
    }

    async fn add_presence(&self, channel: &str, info: &ClientInfo) -> Result<(), EngineError> {
        presence::add(self, channel, info).await
    }

    async fn remove_presence(&self, channel: &str, client_id: &str) -> Result<(), EngineError> {
        presence::remove(self, channel, client_id).await
    }

    async fn presence(&self, channel: &str) -> Result<PresenceMap, EngineError> {
        presence::list(self, channel).await
    }

    async fn health(&self) -> Result<(), EngineError> {
        self.ping().await?;
        if !self.inner.fanout.is_connected() {
            return Err(EngineError::Unavailable(
                "redis pub/sub connection is down".into(),
            ));
        }
        Ok(())
    }
}

impl RedisEngine {
    /// Waits until the pub/sub connection is up (and has resubscribed), at
    /// most `within`; whether it is.
    pub async fn wait_ready(&self, within: Duration) -> bool {
        self.inner.fanout.ready(within).await
    }

    /// `PUBLISH`, or `SPUBLISH` (sharded pub/sub) on a cluster.
    fn publish_command(&self) -> &'static str {
        if self.inner.split {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// With `wait_replicas` set: waits until that many replicas of the node
    /// holding `key` acknowledged the writes made so far. A write that is not
    /// acknowledged in time stays stored on the master: it is logged, not
    /// reported as failed (a retry would not be idempotent for every caller).
    async fn wait_for_replicas(&self, key: &str) {
        let wanted = self.inner.wait_replicas;
        if wanted == 0 {
            return;
        }
        let mut cmd = ::redis::cmd("WAIT");
        cmd.arg(wanted).arg(millis(RESPONSE_TIMEOUT) / 2);
        let mut conn = match self.conn().await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "redis WAIT: no connection");
                return;
            }
        };
        match run(conn.on_node_of(key, cmd)).await {
            Ok(::redis::Value::Int(n)) if n >= i64::from(wanted) => {}
            Ok(reply) => {
                tracing::warn!(
                    ?reply,
                    wanted,
                    "redis WAIT: fewer replicas acknowledged the write"
                )
            }
            Err(err) => tracing::warn!(error = %err, "redis WAIT failed"),
        }
    }

    /// PINGs Redis over the command connection (on a cluster: every master).
    pub async fn ping(&self) -> Result<(), EngineError> {
        let mut conn = self.conn().await?;
        if self.inner.split {
            // Routed to every master; each must answer.
            let _: ::redis::Value = run(::redis::cmd("PING").query_async(&mut conn)).await?;
            return Ok(());
        }
        let pong: String = run(::redis::cmd("PING").query_async(&mut conn)).await?;
        if pong != "PONG" {
            return Err(internal(format!("PING answered {pong:?}")));
        }
        Ok(())
    }

    /// Sends a join, leave or unsubscribe order to every node subscribed to `channel`.
    async fn control(&self, channel: &str, control: Message) -> Result<(), EngineError> {
        let keys = self.keys().channel(channel);
        let message = wire::encode_control(&control)?;
        let mut conn = self.conn().await?;
        let _receivers: i64 = run(::redis::cmd(self.publish_command())
            .arg(&keys.fanout)
            .arg(message)
            .query_async(&mut conn))
        .await?;
        Ok(())
    }
}
