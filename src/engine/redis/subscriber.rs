//! The node's pub/sub loop: one dedicated Redis connection subscribed to the
//! fan-out channel of every channel with local subscribers.
//!
//! Messages are handled in the order Redis sent them, by this loop alone, so a
//! channel's publications reach the hub in offset order. The loop tracks the
//! last offset (and epoch) delivered per channel: a publication that skips
//! offsets or carries another epoch, and every reconnect of the connection,
//! means local subscribers may have missed something, which is reported as
//! [`EngineEvents::insufficient_state`] (they resubscribe and recover).
//!
//! `subscribe` is counted per local subscriber and returns only after Redis
//! confirmed the channel's SUBSCRIBE; while the connection is down it fails
//! with [`EngineError::Unavailable`]. Each channel's SUBSCRIBE/UNSUBSCRIBE
//! round trips are serialised by that channel's own gate and pipelined with
//! every other channel's, so a client never waits for another channel's
//! round trip; a reconnect resubscribes many channels at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redis::aio::PubSubSink;
use ::redis::Msg;
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::wire::{self, Message};
use crate::engine::{ClientInfo, Publication};
use crate::engine::{EngineError, EngineEvents};

/// First pause before reconnecting; doubles up to [`MAX_BACKOFF`], each
/// pause jittered (see [`jittered`]).
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Idle connections are probed this often (a dead peer is found within
/// about this plus the response timeout).
const PING_EVERY: Duration = Duration::from_secs(5);
/// SUBSCRIBEs in flight at once while a new connection resubscribes.
const RESUBSCRIBE_CONCURRENCY: usize = 128;

/// What the loop knows about one subscribed channel.
pub(super) struct Track {
    pub(super) channel: String,
    /// (epoch, offset) of the last publication delivered since (re)subscribing.
    pub(super) last: Option<(String, u64)>,
}

/// One fan-out channel the node wants.
struct Entry {
    /// Local subscribers: `subscribe` calls not yet undone by `unsubscribe`.
    count: usize,
    /// Whether Redis confirmed SUBSCRIBE on the current connection.
    active: bool,
    /// Serialises this channel's SUBSCRIBE and UNSUBSCRIBE (and nothing
    /// else: one channel's round trip never waits for another's).
    gate: Arc<tokio::sync::Mutex<()>>,
}

/// The pub/sub side of the engine.
pub(super) struct Fanout {
    inner: Arc<FanoutInner>,
}

struct FanoutInner {
    client: ::redis::Client,
    /// The node-wide channel (orders for every node), subscribed on every connection.
    nodes: String,
    events: Arc<dyn EngineEvents>,
    timeout: Duration,
    /// fan-out channel → what the node wants of it.
    entries: Mutex<HashMap<String, Entry>>,
    /// The live connection's sink; `None` while disconnected.
    sink: Mutex<Option<PubSubSink>>,
    /// fan-out channel → position; read by the loop for every message.
    tracks: Mutex<HashMap<String, Track>>,
    /// Where the connection is; subscribers and readiness wait on it.
    link: watch::Sender<Link>,
}

/// The state of the pub/sub connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No connection.
    Down,
    /// Connected, resubscribing what the node wants: new subscribes may go.
    Resubscribing,
    /// Connected and every wanted channel subscribed: ready.
    Up,
}

/// Undoes a `subscribe`'s count when it does not complete (error, timeout,
/// or the caller dropped it), so cancelling a subscribe never leaks one.
struct Pending<'a> {
    inner: &'a FanoutInner,
    fanout: &'a str,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut entries = self.inner.entries();
        if let Some(entry) = entries.get_mut(self.fanout) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count == 0 && !entry.active {
                entries.remove(self.fanout);
                self.inner.tracks().remove(self.fanout);
            }
        }
    }
}

/// What to do with a message, decided under the tracks lock.
pub(super) enum Action {
    Deliver(String, Publication),
    Gap(String),
    Join(String, ClientInfo),
    Leave(String, ClientInfo),
    Unsubscribe(String, String),
    DisconnectUser(String, bool),
    Ignore,
}

impl Fanout {
    pub(super) fn new(
        client: ::redis::Client,
        events: Arc<dyn EngineEvents>,
        timeout: Duration,
        nodes: String,
    ) -> Self {
        let (link, _) = watch::channel(Link::Down);
        Self {
            inner: Arc::new(FanoutInner {
                client,
                nodes,
                events,
                timeout,
                entries: Mutex::new(HashMap::new()),
                sink: Mutex::new(None),
                tracks: Mutex::new(HashMap::new()),
                link,
            }),
        }
    }

    /// Whether the pub/sub connection is up and every wanted channel is subscribed.
    pub(super) fn is_connected(&self) -> bool {
        *self.inner.link.borrow() == Link::Up
    }

    /// Waits until the pub/sub connection is up, at most `within`.
    pub(super) async fn ready(&self, within: Duration) -> bool {
        self.inner.wait_link(within, |link| link == Link::Up).await
    }

    /// Counts one more local subscriber of `channel`; the first one (or the
    /// first after a reconnect) sends SUBSCRIBE. Returns once Redis confirmed
    /// it. Cancel-safe: a dropped call undoes its count.
    pub(super) async fn subscribe(&self, channel: &str, fanout: &str) -> Result<(), EngineError> {
        let inner = &*self.inner;
        let gate = {
            let mut entries = inner.entries();
            let entry = entries.entry(fanout.to_owned()).or_insert_with(|| Entry {
                count: 0,
                active: false,
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
        if inner.entries().get(fanout).is_some_and(|e| e.active) {
            pending.done = true;
            return Ok(());
        }
        let mut sink = match inner.current_sink() {
            Some(sink) => sink,
            None => {
                // A connection being (re)established gets a moment to come up.
                inner
                    .wait_link(inner.timeout, |link| link != Link::Down)
                    .await;
                inner.current_sink().ok_or_else(down)?
            }
        };
        // Track before subscribing: the first message may come right after the confirmation.
        inner
            .tracks()
            .entry(fanout.to_owned())
            .or_insert_with(|| Track {
                channel: channel.to_owned(),
                last: None,
            });
        match tokio::time::timeout(inner.timeout, sink.subscribe(fanout)).await {
            Ok(Ok(())) => {
                if let Some(entry) = inner.entries().get_mut(fanout) {
                    entry.active = true;
                }
                pending.done = true;
                Ok(())
            }
            Ok(Err(err)) => Err(EngineError::Unavailable(format!("redis SUBSCRIBE: {err}"))),
            Err(_) => Err(EngineError::Unavailable("redis SUBSCRIBE timed out".into())),
        }
    }

    /// Drops one local subscriber's interest; UNSUBSCRIBEs after the last.
    pub(super) async fn unsubscribe(&self, fanout: &str) -> Result<(), EngineError> {
        let inner = &*self.inner;
        let gate = {
            let mut entries = inner.entries();
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
        {
            let mut entries = inner.entries();
            match entries.get(fanout) {
                // Someone subscribed again meanwhile: keep it.
                Some(entry) if entry.count > 0 => return Ok(()),
                Some(entry) if !entry.active => {
                    entries.remove(fanout);
                    inner.tracks().remove(fanout);
                    return Ok(());
                }
                None => return Ok(()),
                Some(_) => {}
            }
            inner.tracks().remove(fanout);
        }
        let result = match inner.current_sink() {
            // Not connected: the next connection will not subscribe it.
            None => Ok(()),
            Some(mut sink) => {
                match tokio::time::timeout(inner.timeout, sink.unsubscribe(fanout)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(EngineError::Unavailable(format!(
                        "redis UNSUBSCRIBE: {err}"
                    ))),
                    Err(_) => Err(EngineError::Unavailable(
                        "redis UNSUBSCRIBE timed out".into(),
                    )),
                }
            }
        };
        let mut entries = inner.entries();
        if let Some(entry) = entries.get_mut(fanout) {
            entry.active = false;
            if entry.count == 0 {
                entries.remove(fanout);
            }
        }
        result
    }

    /// The loop: connect, resubscribe, deliver, and start over on any failure.
    pub(super) async fn run(&self, stop: CancellationToken) {
        let inner = &self.inner;
        let mut backoff = MIN_BACKOFF;
        loop {
            if stop.is_cancelled() {
                break;
            }
            let connecting = tokio::time::timeout(inner.timeout, inner.client.get_async_pubsub());
            let pubsub = tokio::select! {
                _ = stop.cancelled() => break,
                result = connecting => result,
            };
            let pubsub = match pubsub {
                Ok(Ok(pubsub)) => pubsub,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, ?backoff, "redis pub/sub: cannot connect");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
                Err(_) => {
                    tracing::warn!(?backoff, "redis pub/sub: connect timed out");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            let (mut sink, mut stream) = pubsub.split();
            let stale = match inner.resubscribe(&sink).await {
                Ok(stale) => stale,
                Err(err) => {
                    tracing::warn!(error = %err, "redis pub/sub: resubscribing failed");
                    if pause(&stop, &mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            backoff = MIN_BACKOFF;
            if !stale.is_empty() {
                tracing::info!(
                    channels = stale.len(),
                    "redis pub/sub reconnected; subscribers will recover"
                );
            }
            for channel in &stale {
                inner.events.insufficient_state(channel);
            }
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ping.tick().await;
            let stopped = loop {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break true,
                    message = stream.next() => match message {
                        Some(message) => inner.handle(&message),
                        None => {
                            tracing::warn!("redis pub/sub connection lost");
                            break false;
                        }
                    },
                    _ = ping.tick() => {
                        let probe = sink.ping::<::redis::Value>();
                        if !matches!(tokio::time::timeout(inner.timeout, probe).await, Ok(Ok(_))) {
                            tracing::warn!("redis pub/sub connection does not answer pings");
                            break false;
                        }
                    }
                }
            };
            inner.disconnected();
            if stopped {
                break;
            }
        }
        inner.link.send_replace(Link::Down);
    }
}

/// Sleeps for the backoff (doubling it); true when stopped meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = jittered(*backoff);
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

/// A pause of between half and all of `backoff` ("equal jitter"), so that
/// the nodes that lost one Redis together do not come back in lockstep.
pub(super) fn jittered(backoff: Duration) -> Duration {
    let half = backoff / 2;
    half + half.mul_f64(rand::random::<f64>())
}

fn down() -> EngineError {
    EngineError::Unavailable("redis pub/sub connection is down".into())
}

impl FanoutInner {
    fn tracks(&self) -> MutexGuard<'_, HashMap<String, Track>> {
        self.tracks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn current_sink(&self) -> Option<PubSubSink> {
        self.sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set_sink(&self, sink: Option<PubSubSink>) {
        *self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = sink;
    }

    /// The connection is gone: nothing is subscribed any more.
    /// Waits, at most `within`, for the link to satisfy `wanted`; whether it does.
    async fn wait_link(&self, within: Duration, wanted: impl Fn(Link) -> bool) -> bool {
        let mut link = self.link.subscribe();
        let reached = tokio::time::timeout(within, link.wait_for(|l| wanted(*l))).await;
        matches!(reached, Ok(Ok(_)))
    }

    fn disconnected(&self) {
        self.set_sink(None);
        self.link.send_replace(Link::Down);
        for entry in self.entries().values_mut() {
            entry.active = false;
        }
    }

    /// Subscribes a fresh connection to every wanted channel (many at once,
    /// each under its channel's gate), then reports the node ready. Returns
    /// the channels whose subscribers may have missed publications.
    async fn resubscribe(&self, sink: &PubSubSink) -> Result<Vec<String>, ::redis::RedisError> {
        // Channels tracked before this connection may have missed
        // publications; channels subscribed from here on have not.
        let stale: Vec<String> = {
            let mut tracks = self.tracks();
            tracks
                .values_mut()
                .map(|track| {
                    track.last = None;
                    track.channel.clone()
                })
                .collect()
        };
        let mut node_sink = sink.clone();
        match tokio::time::timeout(self.timeout, node_sink.subscribe(&self.nodes)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(::redis::RedisError::from((
                    ::redis::ErrorKind::Io,
                    "SUBSCRIBE timed out",
                )))
            }
        }
        self.set_sink(Some(sink.clone()));
        self.link.send_replace(Link::Resubscribing);
        let wanted: Vec<(String, Arc<tokio::sync::Mutex<()>>)> = self
            .entries()
            .iter()
            .filter(|(_, e)| e.count > 0)
            .map(|(fanout, e)| (fanout.clone(), e.gate.clone()))
            .collect();
        let results: Vec<::redis::RedisResult<()>> = futures_util::stream::iter(wanted)
            .map(|(fanout, gate)| async move {
                let _turn = gate.lock().await;
                let wanted = self
                    .entries()
                    .get(&fanout)
                    .is_some_and(|e| e.count > 0 && !e.active);
                if !wanted {
                    return Ok(());
                }
                let mut sink = sink.clone();
                match tokio::time::timeout(self.timeout, sink.subscribe(&fanout)).await {
                    Ok(Ok(())) => {
                        if let Some(entry) = self.entries().get_mut(&fanout) {
                            entry.active = true;
                        }
                        Ok(())
                    }
                    Ok(Err(err)) => Err(err),
                    Err(_) => Err(::redis::RedisError::from((
                        ::redis::ErrorKind::Io,
                        "SUBSCRIBE timed out",
                    ))),
                }
            })
            .buffer_unordered(RESUBSCRIBE_CONCURRENCY)
            .collect()
            .await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            self.disconnected();
            return Err(err);
        }
        self.link.send_replace(Link::Up);
        Ok(stale)
    }

    /// Handles one pub/sub message, in arrival order.
    fn handle(&self, message: &Msg) {
        let action = decide(
            &mut self.tracks(),
            &self.nodes,
            message.get_channel_name(),
            message.get_payload_bytes(),
        );
        dispatch(&*self.events, action);
    }
}

/// Hands a decided message to the hub.
pub(super) fn dispatch(events: &dyn EngineEvents, action: Action) {
    match action {
        Action::Deliver(channel, publication) => events.publication(&channel, &publication),
        Action::Gap(channel) => events.insufficient_state(&channel),
        Action::Join(channel, info) => events.join(&channel, &info),
        Action::Leave(channel, info) => events.leave(&channel, &info),
        Action::Unsubscribe(channel, user) => events.unsubscribe_user(&channel, &user),
        Action::DisconnectUser(user, reconnect) => events.disconnect_user(&user, reconnect),
        Action::Ignore => {}
    }
}

/// Decides what a message on `fanout` means, tracking offsets per channel
/// (shared by the single-Redis loop and the cluster's sharded one).
pub(super) fn decide(
    tracks: &mut HashMap<String, Track>,
    nodes: &str,
    fanout: &str,
    payload: &[u8],
) -> Action {
    let decoded = match wire::decode(payload) {
        Ok(decoded) => decoded,
        Err(err) => {
            tracing::error!(error = %err, fanout, "undecodable pub/sub message");
            return Action::Ignore;
        }
    };
    if fanout == nodes {
        return match decoded {
            Message::DisconnectUser { user, reconnect } => Action::DisconnectUser(user, reconnect),
            _ => Action::Ignore,
        };
    }
    let Some(track) = tracks.get_mut(fanout) else {
        return Action::Ignore;
    };
    let channel = track.channel.clone();
    match decoded {
        Message::Publication { epoch, publication } => {
            let offset = publication.offset;
            if offset == 0 {
                return Action::Deliver(channel, publication);
            }
            match &mut track.last {
                Some((last_epoch, last)) if *last_epoch == epoch => {
                    if offset == *last + 1 {
                        *last = offset;
                        Action::Deliver(channel, publication)
                    } else if offset <= *last {
                        Action::Ignore
                    } else {
                        tracing::warn!(channel = %channel, expected = *last + 1, got = offset, "publication gap");
                        *last = offset;
                        Action::Gap(channel)
                    }
                }
                Some(_) => {
                    tracing::warn!(channel = %channel, "stream epoch changed");
                    track.last = Some((epoch, offset));
                    Action::Gap(channel)
                }
                None => {
                    track.last = Some((epoch, offset));
                    Action::Deliver(channel, publication)
                }
            }
        }
        Message::Join(info) => Action::Join(channel, info),
        Message::Leave(info) => Action::Leave(channel, info),
        Message::Unsubscribe(user) => Action::Unsubscribe(channel, user),
        Message::DisconnectUser { .. } => Action::Ignore,
    }
}

#[cfg(test)]
mod jitter_tests {
    use super::*;

    #[test]
    fn pauses_are_jittered_within_the_backoff() {
        let backoff = Duration::from_millis(800);
        let waits: Vec<Duration> = (0..64).map(|_| jittered(backoff)).collect();
        assert!(waits.iter().all(|w| *w >= backoff / 2 && *w <= backoff));
        let distinct: std::collections::BTreeSet<Duration> = waits.iter().copied().collect();
        assert!(distinct.len() > 8, "pauses are spread, not one value");
    }
}
