//! The node's fan-out on a Redis Cluster: sharded pub/sub.
//!
//! Scripts `SPUBLISH` a publication on its channel's fan-out channel, which
//! carries the session's (or channel's) hash tag: only the master that owns
//! that slot (and its replicas) sees it, instead of every node of the cluster
//! bus. The node `SSUBSCRIBE`s through one cluster-aware RESP3 connection
//! (redis-rs `cluster-async`), which keeps one connection per master, sends
//! each `SSUBSCRIBE` to the slot's owner, and after a failover or a
//! resharding re-subscribes every channel on its new owner.
//!
//! Messages of one channel come from one master, in order, and are handled
//! by this loop alone with the same per-channel tracking as on one Redis
//! (`subscriber::decide`): a gap in offsets or a new epoch is reported as
//! [`EngineEvents::insufficient_state`]. Per shard, a lost connection or a
//! failover shows up as the library re-subscribing the shard's channels: every
//! `ssubscribe` confirmation that this node did not ask for (it counts the
//! ones it asked for) means the channel's feed was interrupted, so its local
//! subscribers recover. A dropped node connection (a master killed) is told
//! without the node's address, so then every channel is subscribed again
//! where its slot lives now (retried until the failover is over) and
//! recovers: more recovery than needed, never less. A
//! server-side `sunsubscribe` of a channel still wanted (its slot moved) is
//! answered by subscribing again, and recovery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redis::cluster_async::ClusterConnection;
use ::redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::subscriber::{decide, dispatch, jittered, Action, Track};
use crate::engine::{EngineError, EngineEvents};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// SSUBSCRIBEs in flight at once while re-subscribing after a drop.
const RESYNC_CONCURRENCY: usize = 64;
/// Pause between re-subscribe rounds while a shard is failing over.
const RESYNC_PAUSE: Duration = Duration::from_millis(250);

struct Entry {
    /// Local subscribers.
    count: usize,
    /// Whether the cluster confirmed SSUBSCRIBE on the current connection.
    active: bool,
    /// Confirmations this node asked for and has not seen yet.
    expected: usize,
    /// Serialises this channel's SSUBSCRIBE and SUNSUBSCRIBE.
    gate: Arc<tokio::sync::Mutex<()>>,
}

/// Sharded pub/sub on a cluster.
pub(super) struct ShardedFanout {
    inner: Arc<Inner>,
}

struct Inner {
    seeds: Vec<String>,
    events: Arc<dyn EngineEvents>,
    timeout: Duration,
    connect_timeout: Duration,
    /// Node-wide orders (disconnect a user), a sharded channel too.
    nodes: String,
    entries: Mutex<HashMap<String, Entry>>,
    tracks: Mutex<HashMap<String, Track>>,
    conn: Mutex<Option<ClusterConnection>>,
    /// Whether the node-wide channel is subscribed.
    nodes_active: Mutex<bool>,
    /// Whether the connection is up and every wanted channel subscribed.
    link: watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ShardedFanout {
    pub(super) fn new(
        seeds: Vec<String>,
        events: Arc<dyn EngineEvents>,
        timeout: Duration,
        connect_timeout: Duration,
        nodes: String,
    ) -> Self {
        let (link, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                seeds,
                events,
                timeout,
                connect_timeout,
                nodes,
                entries: Mutex::new(HashMap::new()),
                tracks: Mutex::new(HashMap::new()),
                conn: Mutex::new(None),
                nodes_active: Mutex::new(false),
                link,
            }),
        }
    }

    pub(super) fn is_connected(&self) -> bool {
        *self.inner.link.borrow()
    }

    pub(super) async fn ready(&self, within: Duration) -> bool {
        let mut link = self.inner.link.subscribe();
        let reached = tokio::time::timeout(within, link.wait_for(|up| *up)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Counts a local subscriber; the first one sends SSUBSCRIBE and returns
    /// once the owning master confirmed it. Cancel-safe.
    pub(super) async fn subscribe(&self, channel: &str, fanout: &str) -> Result<(), EngineError> {
        let inner = &*self.inner;
        let gate = {
            let mut entries = lock(&inner.entries);
            let entry = entries.entry(fanout.to_owned()).or_insert_with(|| Entry {
                count: 0,
                active: false,
                expected: 0,
                gate: Arc::new(tokio::sync::Mutex::new(())),
            });
            entry.count += 1;
            entry.gate.clone()
        };
        let mut pending = Pending {
            inner,
            fanout,
            done: false,
        };
        let _turn = gate.lock().await;
        if lock(&inner.entries).get(fanout).is_some_and(|e| e.active) {
            pending.done = true;
            return Ok(());
        }
        let conn = match inner.current() {
            Some(conn) => conn,
            None => {
                let mut link = inner.link.subscribe();
                let _ = tokio::time::timeout(inner.timeout, link.wait_for(|up| *up)).await;
                inner.current().ok_or_else(down)?
            }
        };
        lock(&inner.tracks)
            .entry(fanout.to_owned())
            .or_insert_with(|| Track {
                channel: channel.to_owned(),
                last: None,
            });
        inner.ssubscribe(conn, fanout).await?;
        if let Some(entry) = lock(&inner.entries).get_mut(fanout) {
            entry.active = true;
        }
        pending.done = true;
        Ok(())
    }

    /// Drops a local subscriber; SUNSUBSCRIBEs after the last.
    pub(super) async fn unsubscribe(&self, fanout: &str) -> Result<(), EngineError> {
        let inner = &*self.inner;
        let gate = {
            let mut entries = lock(&inner.entries);
            let Some(entry) = entries.get_mut(fanout) else {
                return Ok(());
            };
            entry.count = entry.count.saturating_sub(1);
            if entry.count > 0 {
                return Ok(());
            }
            entry.gate.clone()
        };
        let _turn = gate.lock().await;
        let was_active = {
            let mut entries = lock(&inner.entries);
            match entries.get(fanout) {
                Some(entry) if entry.count > 0 => return Ok(()),
                None => return Ok(()),
                Some(entry) => {
                    let active = entry.active;
                    entries.remove(fanout);
                    lock(&inner.tracks).remove(fanout);
                    active
                }
            }
        };
        let Some(mut conn) = inner.current().filter(|_| was_active) else {
            return Ok(());
        };
        match tokio::time::timeout(inner.timeout, conn.sunsubscribe(fanout)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(EngineError::Unavailable(format!(
                "redis SUNSUBSCRIBE: {err}"
            ))),
            Err(_) => Err(EngineError::Unavailable(
                "redis SUNSUBSCRIBE timed out".into(),
            )),
        }
    }

    /// Connects (with backoff), subscribes what is wanted, then handles
    /// pushes until `stop`. The cluster connection repairs itself; the loop
    /// starts over only if it ends altogether.
    pub(super) async fn run(&self, stop: CancellationToken) {
        let inner = &*self.inner;
        let mut backoff = MIN_BACKOFF;
        loop {
            if stop.is_cancelled() {
                break;
            }
            let (tx, mut rx) = mpsc::unbounded_channel::<PushInfo>();
            let connected = async {
                let client = super::conn::cluster_client(
                    &inner.seeds,
                    inner.timeout,
                    inner.connect_timeout,
                    Some(tx),
                )?;
                client.get_async_connection().await
            };
            let connected = tokio::select! {
                _ = stop.cancelled() => break,
                result = tokio::time::timeout(inner.timeout, connected) => result,
            };
            let conn = match connected {
                Ok(Ok(conn)) => conn,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "redis cluster pub/sub: cannot connect");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
                Err(_) => {
                    tracing::warn!("redis cluster pub/sub: connect timed out");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            if let Err(err) = inner.start(conn).await {
                tracing::warn!(error = %err, "redis cluster pub/sub: subscribing failed");
                inner.disconnected();
                if pause(&stop, &mut backoff).await {
                    break;
                }
                continue;
            }
            backoff = MIN_BACKOFF;
            // After a node connection dropped: re-subscribes its channels
            // where they live now (alongside the delivery of other messages).
            let mut resync: Option<
                std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>,
            > = None;
            let stopped = loop {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break true,
                    push = rx.recv() => match push {
                        Some(push) => {
                            if inner.handle(push).await && resync.is_none() {
                                resync = Some(Box::pin(inner.resync(&stop)));
                            }
                        }
                        None => {
                            tracing::warn!("redis cluster pub/sub connection ended");
                            break false;
                        }
                    },
                    _ = async { if let Some(r) = resync.as_mut() { r.await } }, if resync.is_some() => {
                        resync = None;
                    }
                }
            };
            inner.disconnected();
            if stopped {
                break;
            }
        }
        inner.link.send_replace(false);
    }
}

/// Undoes a subscribe's count when it does not complete.
struct Pending<'a> {
    inner: &'a Inner,
    fanout: &'a str,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut entries = lock(&self.inner.entries);
        if let Some(entry) = entries.get_mut(self.fanout) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count == 0 && !entry.active {
                entries.remove(self.fanout);
                lock(&self.inner.tracks).remove(self.fanout);
            }
        }
    }
}

async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = jittered(*backoff);
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

fn down() -> EngineError {
    EngineError::Unavailable("redis cluster pub/sub connection is down".into())
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

impl Inner {
    fn current(&self) -> Option<ClusterConnection> {
        lock(&self.conn).clone()
    }

    fn disconnected(&self) {
        *lock(&self.conn) = None;
        self.link.send_replace(false);
        for entry in lock(&self.entries).values_mut() {
            entry.active = false;
            entry.expected = 0;
        }
    }

    /// SSUBSCRIBEs `fanout`, counting the confirmation as expected.
    async fn ssubscribe(
        &self,
        mut conn: ClusterConnection,
        fanout: &str,
    ) -> Result<(), EngineError> {
        if let Some(entry) = lock(&self.entries).get_mut(fanout) {
            entry.expected += 1;
        }
        let result = match tokio::time::timeout(self.timeout, conn.ssubscribe(fanout)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(EngineError::Unavailable(format!("redis SSUBSCRIBE: {err}"))),
            Err(_) => Err(EngineError::Unavailable(
                "redis SSUBSCRIBE timed out".into(),
            )),
        };
        if result.is_err() {
            // A late confirmation then reads as an interruption: a needless
            // recovery at worst, never a missed one.
            if let Some(entry) = lock(&self.entries).get_mut(fanout) {
                entry.expected = 0;
            }
        }
        result
    }

    /// A new connection: the node-wide channel, then every wanted channel;
    /// the ones tracked before may have missed publications.
    async fn start(&self, conn: ClusterConnection) -> Result<(), EngineError> {
        let mut node_conn = conn.clone();
        match tokio::time::timeout(self.timeout, node_conn.ssubscribe(&self.nodes)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                return Err(EngineError::Unavailable(format!("redis SSUBSCRIBE: {err}")))
            }
            Err(_) => {
                return Err(EngineError::Unavailable(
                    "redis SSUBSCRIBE timed out".into(),
                ))
            }
        }
        *lock(&self.conn) = Some(conn.clone());
        *lock(&self.nodes_active) = true;
        let stale: Vec<String> = lock(&self.tracks)
            .values_mut()
            .map(|t| {
                t.last = None;
                t.channel.clone()
            })
            .collect();
        let wanted: Vec<(String, Arc<tokio::sync::Mutex<()>>)> = lock(&self.entries)
            .iter()
            .filter(|(_, e)| e.count > 0)
            .map(|(f, e)| (f.clone(), e.gate.clone()))
            .collect();
        for (fanout, gate) in wanted {
            let _turn = gate.lock().await;
            let want = lock(&self.entries)
                .get(&fanout)
                .is_some_and(|e| e.count > 0 && !e.active);
            if want {
                self.ssubscribe(conn.clone(), &fanout).await?;
                if let Some(entry) = lock(&self.entries).get_mut(&fanout) {
                    entry.active = true;
                }
            }
        }
        self.link.send_replace(true);
        for channel in &stale {
            self.events.insufficient_state(channel);
        }
        Ok(())
    }

    /// Handles one push; true when a node connection dropped (the caller
    /// then runs [`Inner::resync`]).
    async fn handle(&self, push: PushInfo) -> bool {
        match push.kind {
            PushKind::SMessage | PushKind::Message => {
                let fanout = text(push.data.first());
                let payload = match push.data.get(1) {
                    Some(Value::BulkString(bytes)) => bytes.as_slice(),
                    _ => return false,
                };
                if let Some(fanout) = fanout {
                    let action = decide(&mut lock(&self.tracks), &self.nodes, &fanout, payload);
                    dispatch(&*self.events, action);
                }
            }
            PushKind::SSubscribe => {
                let Some(fanout) = text(push.data.first()) else {
                    return false;
                };
                let interrupted = {
                    let mut entries = lock(&self.entries);
                    match entries.get_mut(&fanout) {
                        Some(entry) if entry.expected > 0 => {
                            entry.expected -= 1;
                            false
                        }
                        Some(entry) => entry.count > 0,
                        None => false,
                    }
                };
                if interrupted {
                    self.interrupted(&fanout);
                }
            }
            PushKind::SUnsubscribe => {
                let Some(fanout) = text(push.data.first()) else {
                    return false;
                };
                let wanted = lock(&self.entries)
                    .get(&fanout)
                    .is_some_and(|e| e.count > 0 && e.active);
                if !wanted && fanout != self.nodes {
                    return false;
                }
                // The owner dropped it (its slot moved): subscribe again where it is now.
                tracing::info!(
                    fanout,
                    "redis cluster: channel unsubscribed by the server; subscribing again"
                );
                if let Some(conn) = self.current() {
                    let result = if fanout == self.nodes {
                        let mut conn = conn;
                        tokio::time::timeout(self.timeout, conn.ssubscribe(&fanout))
                            .await
                            .map_err(|_| down())
                            .and_then(|r| r.map_err(super::unavailable))
                    } else {
                        self.ssubscribe(conn, &fanout).await
                    };
                    if let Err(err) = result {
                        tracing::warn!(error = %err, fanout, "redis cluster: subscribing again failed");
                    }
                }
                if fanout != self.nodes {
                    self.interrupted(&fanout);
                }
            }
            PushKind::Disconnection => {
                // Which node dropped is not told: every channel is
                // subscribed again where its slot lives now, then recovers.
                tracing::warn!("redis cluster pub/sub: a node connection dropped; channels are re-subscribed and recover");
                for entry in lock(&self.entries).values_mut() {
                    entry.active = false;
                }
                *lock(&self.nodes_active) = false;
                return true;
            }
            _ => {}
        }
        false
    }

    /// Subscribes every wanted channel that is not active (after a node
    /// connection dropped), retrying until all are or `stop`; each channel
    /// that is subscribed again recovers (its subscribers may have missed
    /// publications meanwhile).
    async fn resync(&self, stop: &CancellationToken) {
        use futures_util::StreamExt;
        loop {
            if !*lock(&self.nodes_active) {
                if let Some(mut conn) = self.current() {
                    let done = matches!(
                        tokio::time::timeout(self.timeout, conn.ssubscribe(&self.nodes)).await,
                        Ok(Ok(()))
                    );
                    *lock(&self.nodes_active) = done;
                }
            }
            let todo: Vec<(String, Arc<tokio::sync::Mutex<()>>)> = lock(&self.entries)
                .iter()
                .filter(|(_, e)| e.count > 0 && !e.active)
                .map(|(f, e)| (f.clone(), e.gate.clone()))
                .collect();
            if todo.is_empty() && *lock(&self.nodes_active) {
                return;
            }
            let Some(conn) = self.current() else { return };
            futures_util::stream::iter(todo)
                .for_each_concurrent(RESYNC_CONCURRENCY, |(fanout, gate)| {
                    let conn = conn.clone();
                    async move {
                        let _turn = gate.lock().await;
                        let want = lock(&self.entries)
                            .get(&fanout)
                            .is_some_and(|e| e.count > 0 && !e.active);
                        if !want {
                            return;
                        }
                        if self.ssubscribe(conn, &fanout).await.is_ok() {
                            if let Some(entry) = lock(&self.entries).get_mut(&fanout) {
                                entry.active = true;
                            }
                            self.interrupted(&fanout);
                        }
                    }
                })
                .await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RESYNC_PAUSE) => {}
            }
        }
    }

    /// The feed of `fanout` was interrupted: its subscribers recover.
    fn interrupted(&self, fanout: &str) {
        let channel = {
            let mut tracks = lock(&self.tracks);
            tracks.get_mut(fanout).map(|t| {
                t.last = None;
                t.channel.clone()
            })
        };
        if let Some(channel) = channel {
            tracing::info!(channel = %channel, "redis cluster: feed re-subscribed; subscribers recover");
            dispatch(&*self.events, Action::Gap(channel));
        }
    }
}
