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
//! `subscribe` returns only after Redis confirmed the SUBSCRIBE; while the
//! connection is down it fails with [`EngineError::Unavailable`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redis::aio::PubSubSink;
use ::redis::Msg;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::{EngineError, EngineEvents};
use crate::protocol::reply::{ClientInfo, Publication};
use crate::protocol::Json;

/// First pause before reconnecting; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Idle connections are probed this often (a dead peer is found within
/// about this plus the response timeout).
const PING_EVERY: Duration = Duration::from_secs(5);

/// A non-publication message on a fan-out channel.
pub(super) enum WireControl<'a> {
    Join(&'a ClientInfo),
    Leave(&'a ClientInfo),
    Unsubscribe(&'a str),
}

impl WireControl<'_> {
    /// `{"t":"j"|"l","c":channel,"i":info}` or `{"t":"u","c":channel,"u":user}`.
    pub(super) fn encode(&self, channel: &str) -> Result<String, EngineError> {
        let value = match self {
            WireControl::Join(info) => serde_json::json!({"t": "j", "c": channel, "i": info}),
            WireControl::Leave(info) => serde_json::json!({"t": "l", "c": channel, "i": info}),
            WireControl::Unsubscribe(user) => {
                serde_json::json!({"t": "u", "c": channel, "u": user})
            }
        };
        serde_json::to_string(&value).map_err(|e| EngineError::Internal(e.to_string()))
    }
}

/// Every message on a fan-out channel (publications are built in Lua).
#[derive(Deserialize)]
struct Wire {
    /// `p` publication, `j` join, `l` leave, `u` unsubscribe a user.
    t: String,
    /// Epoch of the stream (publications).
    #[serde(default)]
    e: String,
    /// Offset (0 = not kept in history).
    #[serde(default)]
    o: u64,
    /// Publication data.
    d: Option<Json>,
    /// Publisher info, or the client joining/leaving.
    i: Option<ClientInfo>,
    /// Publication tags.
    g: Option<BTreeMap<String, String>>,
    /// User to unsubscribe.
    u: Option<String>,
}

/// What the loop knows about one subscribed channel.
struct Track {
    channel: String,
    /// (epoch, offset) of the last publication delivered since (re)subscribing.
    last: Option<(String, u64)>,
}

/// Subscriptions to change go through here, one at a time.
struct Ops {
    /// The live connection's sink; `None` while disconnected.
    sink: Option<PubSubSink>,
    /// fan-out channel → (channel, local subscribe count).
    subscribed: HashMap<String, (String, usize)>,
}

/// The pub/sub side of the engine.
pub(super) struct Fanout {
    inner: Arc<FanoutInner>,
}

struct FanoutInner {
    client: ::redis::Client,
    events: Arc<dyn EngineEvents>,
    timeout: Duration,
    ops: tokio::sync::Mutex<Ops>,
    /// fan-out channel → position; read by the loop for every message.
    tracks: Mutex<HashMap<String, Track>>,
    connected: watch::Sender<bool>,
}

/// What to do with a message, decided under the tracks lock.
enum Action {
    Deliver(String, Publication),
    Gap(String),
    Join(String, ClientInfo),
    Leave(String, ClientInfo),
    Unsubscribe(String, String),
    Ignore,
}

impl Fanout {
    pub(super) fn new(
        client: ::redis::Client,
        events: Arc<dyn EngineEvents>,
        timeout: Duration,
    ) -> Self {
        let (connected, _) = watch::channel(false);
        Self {
            inner: Arc::new(FanoutInner {
                client,
                events,
                timeout,
                ops: tokio::sync::Mutex::new(Ops {
                    sink: None,
                    subscribed: HashMap::new(),
                }),
                tracks: Mutex::new(HashMap::new()),
                connected,
            }),
        }
    }

    /// Whether the pub/sub connection is up.
    pub(super) fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// Subscribes the node to `channel`'s fan-out; returns once Redis confirmed.
    pub(super) async fn subscribe(&self, channel: &str, fanout: &str) -> Result<(), EngineError> {
        let inner = &self.inner;
        let mut connected = inner.connected.subscribe();
        // A connection being (re)established gets a moment to come up.
        match tokio::time::timeout(inner.timeout, connected.wait_for(|up| *up)).await {
            Ok(Ok(_)) => {}
            _ => return Err(down()),
        }
        let mut ops = inner.ops.lock().await;
        if let Some((_, count)) = ops.subscribed.get_mut(fanout) {
            *count += 1;
            return Ok(());
        }
        let Some(mut sink) = ops.sink.clone() else {
            return Err(down());
        };
        // Track before subscribing: the first message may arrive right after the confirmation.
        inner.tracks().insert(
            fanout.to_owned(),
            Track {
                channel: channel.to_owned(),
                last: None,
            },
        );
        match tokio::time::timeout(inner.timeout, sink.subscribe(fanout)).await {
            Ok(Ok(())) => {
                ops.subscribed
                    .insert(fanout.to_owned(), (channel.to_owned(), 1));
                Ok(())
            }
            Ok(Err(err)) => {
                inner.tracks().remove(fanout);
                Err(EngineError::Unavailable(format!("redis SUBSCRIBE: {err}")))
            }
            Err(_) => {
                inner.tracks().remove(fanout);
                Err(EngineError::Unavailable("redis SUBSCRIBE timed out".into()))
            }
        }
    }

    /// Drops one local subscriber's interest; UNSUBSCRIBEs after the last.
    pub(super) async fn unsubscribe(&self, fanout: &str) -> Result<(), EngineError> {
        let inner = &self.inner;
        let mut ops = inner.ops.lock().await;
        match ops.subscribed.get_mut(fanout) {
            None => return Ok(()),
            Some((_, count)) if *count > 1 => {
                *count -= 1;
                return Ok(());
            }
            Some(_) => {}
        }
        ops.subscribed.remove(fanout);
        inner.tracks().remove(fanout);
        let Some(mut sink) = ops.sink.clone() else {
            // Not connected: the next connection will not subscribe it.
            return Ok(());
        };
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
            let stale = match inner.resubscribe(&mut sink).await {
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
            {
                let mut ops = inner.ops.lock().await;
                ops.sink = None;
                inner.connected.send_replace(false);
            }
            if stopped {
                break;
            }
        }
        inner.connected.send_replace(false);
    }
}

/// Sleeps for the backoff (doubling it); true when stopped meanwhile.
async fn pause(stop: &CancellationToken, backoff: &mut Duration) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
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

    /// Subscribes a fresh connection to every channel, then publishes its sink.
    /// Returns the channels whose subscribers may have missed publications.
    async fn resubscribe(&self, sink: &mut PubSubSink) -> Result<Vec<String>, ::redis::RedisError> {
        let mut ops = self.ops.lock().await;
        let fanouts: Vec<String> = ops.subscribed.keys().cloned().collect();
        // One channel per SUBSCRIBE: the client matches one confirmation per request.
        for fanout in &fanouts {
            match tokio::time::timeout(self.timeout, sink.subscribe(fanout)).await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(::redis::RedisError::from((
                        ::redis::ErrorKind::Io,
                        "SUBSCRIBE timed out",
                    )))
                }
            }
        }
        let stale = {
            let mut tracks = self.tracks();
            tracks
                .values_mut()
                .map(|track| {
                    track.last = None;
                    track.channel.clone()
                })
                .collect()
        };
        ops.sink = Some(sink.clone());
        self.connected.send_replace(true);
        Ok(stale)
    }

    /// Handles one pub/sub message, in arrival order.
    fn handle(&self, message: &Msg) {
        let action = self.decide(message);
        let events = &self.events;
        match action {
            Action::Deliver(channel, publication) => events.publication(&channel, &publication),
            Action::Gap(channel) => events.insufficient_state(&channel),
            Action::Join(channel, info) => events.join(&channel, &info),
            Action::Leave(channel, info) => events.leave(&channel, &info),
            Action::Unsubscribe(channel, user) => events.unsubscribe_user(&channel, &user),
            Action::Ignore => {}
        }
    }

    fn decide(&self, message: &Msg) -> Action {
        let fanout = message.get_channel_name();
        let wire: Wire = match serde_json::from_slice(message.get_payload_bytes()) {
            Ok(wire) => wire,
            Err(err) => {
                tracing::error!(error = %err, fanout, "undecodable pub/sub message");
                return Action::Ignore;
            }
        };
        let mut tracks = self.tracks();
        let Some(track) = tracks.get_mut(fanout) else {
            return Action::Ignore;
        };
        let channel = track.channel.clone();
        match wire.t.as_str() {
            "p" => {
                let Some(data) = wire.d else {
                    return Action::Ignore;
                };
                let publication = Publication {
                    data,
                    info: wire.i,
                    offset: wire.o,
                    tags: wire.g,
                };
                if wire.o == 0 {
                    return Action::Deliver(channel, publication);
                }
                match &mut track.last {
                    Some((epoch, last)) if *epoch == wire.e => {
                        if wire.o == *last + 1 {
                            *last = wire.o;
                            Action::Deliver(channel, publication)
                        } else if wire.o <= *last {
                            Action::Ignore
                        } else {
                            tracing::warn!(channel = %channel, expected = *last + 1, got = wire.o, "publication gap");
                            *last = wire.o;
                            Action::Gap(channel)
                        }
                    }
                    Some(_) => {
                        tracing::warn!(channel = %channel, "stream epoch changed");
                        track.last = Some((wire.e, wire.o));
                        Action::Gap(channel)
                    }
                    None => {
                        track.last = Some((wire.e, wire.o));
                        Action::Deliver(channel, publication)
                    }
                }
            }
            "j" => wire.i.map_or(Action::Ignore, |i| Action::Join(channel, i)),
            "l" => wire.i.map_or(Action::Ignore, |i| Action::Leave(channel, i)),
            "u" => wire
                .u
                .map_or(Action::Ignore, |u| Action::Unsubscribe(channel, u)),
            _ => Action::Ignore,
        }
    }
}
