//! One generator connection: opens a WebSocket (from the next source
//! address), connects and subscribes (Tandem) or joins a room (floor),
//! counts what it receives, optionally publishes over the same socket, and on
//! a drop signal closes its socket at once and reconnects, recovering from
//! its last position.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::net::{self, Sources, Ws};
use crate::publisher::{stamp, Body, Pacer};
use crate::run::{Control, Run};
use crate::stats::{Seen, Tracker};
use crate::target::{Group, Target, TargetKind};
use crate::wire::{self, now_micros, Line};

/// What one connection does.
pub struct ConnSpec {
    /// Index of its group (session or room).
    pub group: usize,
    /// Index within the group (picks the user).
    pub index: usize,
    /// Whether it subscribes to the group's channel (floor: joins the room).
    pub listen: bool,
    /// Publishes over this socket (`chat.send` RPC; floor: text frames).
    pub publish: Option<WsPublish>,
    /// Reconnects (and recovers) when the run says drop.
    pub reconnect: bool,
}

/// A WebSocket publisher's settings.
pub struct WsPublish {
    /// Message bodies.
    pub body: Body,
    /// At most this many unacknowledged messages (Tandem).
    pub in_flight: usize,
}

/// What a connection leaves behind: its offsets, for the final loss count.
pub struct ConnOutcome {
    /// Its group.
    pub group: usize,
    /// The offsets it received (`None` if it never subscribed).
    pub tracker: Option<Tracker>,
}

/// Shared by every connection of a run.
pub struct Env {
    /// The run's counters and control.
    pub run: Rc<Run>,
    /// The server.
    pub target: Rc<Target>,
    /// Groups.
    pub groups: Rc<Vec<Group>>,
    /// Source addresses.
    pub sources: Rc<Sources>,
    /// Limits how many first connects are in progress at once.
    pub gate: Rc<Semaphore>,
}

/// How a socket's life ended.
enum Ended {
    Stop,
    Drop,
    Closed,
    Failed,
}

/// Per-connection state that outlives a socket.
struct State {
    spec: ConnSpec,
    tracker: Option<Tracker>,
    epoch: String,
    ready: bool,
    seen_drop: u32,
    dropped_at: Option<Instant>,
    pacer: Option<Pacer>,
    seq: u64,
    next_id: u32,
    pending: HashMap<u32, Instant>,
}

/// Runs one connection until the run stops.
pub async fn run(env: Rc<Env>, spec: ConnSpec) -> ConnOutcome {
    let mut control = env.run.control.subscribe();
    let mut st = State {
        seen_drop: control.borrow().drop_generation,
        spec,
        tracker: None,
        epoch: String::new(),
        ready: false,
        dropped_at: None,
        pacer: None,
        seq: 0,
        next_id: 3,
        pending: HashMap::new(),
    };
    let mut first = true;
    loop {
        if control.borrow().stop {
            break;
        }
        let permit = if first {
            env.gate.acquire().await.ok()
        } else {
            None
        };
        let opened = st.dropped_at.unwrap_or_else(Instant::now);
        let ws = match open(&env, &mut st).await {
            Ok(ws) => ws,
            Err(err) => {
                env.run.count(|c| c.connect_errors += 1);
                env.run.error(format!("{err:#}"));
                if first || !st.spec.reconnect {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let ended = serve(&env, &mut st, ws, &mut control, opened, permit).await;
        first = false;
        if st.ready {
            st.ready = false;
            env.run.ready.set(env.run.ready.get().saturating_sub(1));
        }
        for _ in st.pending.drain() {
            env.run.count(|c| c.publish_errors += 1);
        }
        match ended {
            Ended::Stop => break,
            Ended::Drop => st.dropped_at = Some(Instant::now()),
            Ended::Closed if st.spec.reconnect => {
                st.dropped_at = Some(Instant::now());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ended::Closed | Ended::Failed => break,
        }
    }
    ConnOutcome {
        group: st.spec.group,
        tracker: st.tracker,
    }
}

async fn open(env: &Env, st: &mut State) -> anyhow::Result<Ws> {
    let target = &env.target;
    let group = &env.groups[st.spec.group];
    let url = target.ws_url(group, st.spec.listen);
    let subprotocol = match target.kind {
        TargetKind::Tandem => Some(target.codec.subprotocol()),
        TargetKind::Floor => None,
    };
    let mut ws = net::ws(env.sources.pick(), target.server.addr, &url, subprotocol).await?;
    if target.kind == TargetKind::Tandem {
        let token = target.token(group.user(st.spec.index))?;
        let channel = st.spec.listen.then(|| target.channel(group));
        let recover = st
            .tracker
            .as_ref()
            .map(|t| (t.position(), st.epoch.as_str()));
        ws.send(target.codec.connect(&token, channel.as_deref(), recover))
            .await?;
    }
    st.next_id = 3;
    Ok(ws)
}

async fn serve(
    env: &Env,
    st: &mut State,
    mut ws: Ws,
    control: &mut watch::Receiver<Control>,
    opened: Instant,
    mut permit: Option<tokio::sync::SemaphorePermit<'_>>,
) -> Ended {
    let run = &env.run;
    if env.target.kind == TargetKind::Floor {
        // No protocol: joined as soon as the socket is open.
        became_ready(env, st, opened);
        drop(permit.take());
    }
    let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let wake = st.pacer.as_ref().filter(|_| st.ready).and_then(|p| {
            if env.target.kind == TargetKind::Tandem
                && st.pending.len() >= st.spec.publish.as_ref().map_or(0, |p| p.in_flight)
            {
                None
            } else {
                p.next_due()
            }
        });
        tokio::select! {
            biased;
            changed = control.changed() => {
                if changed.is_err() {
                    return Ended::Stop;
                }
                let current = control.borrow_and_update().clone();
                if current.stop {
                    let _ = ws.close(None).await;
                    return Ended::Stop;
                }
                if st.spec.reconnect && current.drop_generation != st.seen_drop {
                    st.seen_drop = current.drop_generation;
                    // Dropping the socket without a close handshake, like a
                    // lost network or a killed process.
                    return Ended::Drop;
                }
                if st.spec.publish.is_some() {
                    match current.plan {
                        Some(plan) if st.pacer.map(|p| p.step()) != Some(plan.step) => {
                            st.pacer = Some(Pacer::new(plan));
                        }
                        None => st.pacer = None,
                        _ => {}
                    }
                }
            }
            frame = ws.next() => {
                let msg = match frame {
                    Some(Ok(msg @ (Message::Text(_) | Message::Binary(_)))) => msg,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        run.count(|c| c.server_closes += 1);
                        if let Some(f) = frame {
                            run.error(format!("server closed the connection: {} {}", f.code, f.reason));
                        }
                        return Ended::Closed;
                    }
                    None | Some(Err(_)) => {
                        run.count(|c| c.server_closes += 1);
                        return Ended::Closed;
                    }
                };
                let outcome = match env.target.kind {
                    TargetKind::Floor => {
                        floor_frame(run, st, &msg);
                        Ok(false)
                    }
                    TargetKind::Tandem => tandem_frame(env, st, &msg, opened),
                };
                match outcome {
                    Ok(pong) => {
                        if st.ready {
                            // Subscribed: let the next connection start.
                            drop(permit.take());
                        }
                        if pong && ws.send(env.target.codec.pong()).await.is_err() {
                            return Ended::Closed;
                        }
                    }
                    Err(err) => {
                        run.count(|c| c.connect_errors += 1);
                        run.error(err);
                        return Ended::Failed;
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.map_or(far, Into::into)), if wake.is_some() => {
                if publish_due(env, st, &mut ws).await.is_err() {
                    return Ended::Closed;
                }
            }
        }
    }
}

fn became_ready(env: &Env, st: &mut State, opened: Instant) {
    let run = &env.run;
    if !st.ready {
        st.ready = true;
        run.ready.set(run.ready.get() + 1);
    }
    run.connect
        .borrow_mut()
        .record(opened.elapsed().as_micros() as u64);
    if st.dropped_at.take().is_some() {
        run.last_recovery.set(Some(Instant::now()));
        if env.target.kind == TargetKind::Floor {
            run.count(|c| c.recovered += 1);
        }
    }
    if env.target.kind == TargetKind::Floor && st.tracker.is_none() && st.spec.listen {
        st.tracker = Some(Tracker::new(0));
    }
}

fn floor_frame(run: &Run, st: &mut State, msg: &Message) {
    let Message::Text(text) = msg else { return };
    let Some(seq) = wire::SEQ.find_in(text) else {
        return;
    };
    let ts = wire::TS.find_in(text);
    deliver(run, st, seq, ts, text.len());
}

fn deliver(run: &Run, st: &mut State, offset: u64, ts: Option<u64>, len: usize) {
    let seen = match st.tracker.as_mut() {
        Some(t) => t.record(offset),
        None => Seen::BeforeStart,
    };
    run.count(|c| {
        c.deliveries += 1;
        c.bytes += len as u64;
        match seen {
            Seen::New => c.unique += 1,
            Seen::NewAfterGap => {
                c.unique += 1;
                c.gaps += 1;
            }
            Seen::Duplicate => c.duplicates += 1,
            Seen::BeforeStart => c.before_start += 1,
        }
    });
    if let (Seen::New | Seen::NewAfterGap, Some(ts)) = (seen, ts) {
        run.latency
            .borrow_mut()
            .record(now_micros().saturating_sub(ts));
    }
}

/// Handles a Tandem frame; `Ok(true)` when a pong must be sent.
fn tandem_frame(env: &Env, st: &mut State, msg: &Message, opened: Instant) -> Result<bool, String> {
    let run = &env.run;
    let mut pong = false;
    for line in env.target.codec.lines(msg) {
        match line {
            Line::Ping => pong = true,
            Line::Pub { offset, ts, len } => deliver(run, st, offset, ts, len),
            Line::Join => run.count(|c| c.joins += 1),
            Line::Leave => run.count(|c| c.leaves += 1),
            Line::OtherPush(l) => run.error(format!("push: {}", truncate(&l))),
            Line::Unknown(l) => run.error(format!("unexpected line: {}", truncate(&l))),
            Line::Reply { id: 1, line } => {
                if line.contains(r#""error":"#) {
                    return Err(format!("connect refused: {}", truncate(&line)));
                }
                if !st.spec.listen {
                    became_ready(env, st, opened);
                }
            }
            Line::Reply { id: 2, line } => subscribed(env, st, &line, opened)?,
            Line::Reply { id, line } => acked(env, st, id, &line),
        }
    }
    Ok(pong)
}

fn subscribed(env: &Env, st: &mut State, line: &str, opened: Instant) -> Result<(), String> {
    let run = &env.run;
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("subscribe reply: {e}"))?;
    if value.get("error").is_some() {
        return Err(format!("subscribe refused: {}", truncate(line)));
    }
    let result = &value["subscribe"];
    let offset = result["offset"].as_u64().unwrap_or(0);
    if let Some(epoch) = result["epoch"].as_str() {
        st.epoch = epoch.to_owned();
    }
    match st.tracker {
        None => st.tracker = Some(Tracker::new(offset)),
        Some(_) => {
            if result["recovered"].as_bool() == Some(true) {
                run.count(|c| c.recovered += 1);
            } else {
                run.count(|c| c.recover_failed += 1);
                run.error("a resubscribe was not recovered (recovered: false)");
            }
        }
    }
    if let Some(pubs) = result["publications"].as_array() {
        for p in pubs {
            let Some(offset) = p["offset"].as_u64() else {
                continue;
            };
            run.count(|c| c.recovered_pubs += 1);
            // Recovered publications count for losses and duplicates; their
            // latency (delayed by the reconnect) is not a live delivery's.
            deliver(run, st, offset, None, 0);
        }
    }
    became_ready(env, st, opened);
    Ok(())
}

fn acked(env: &Env, st: &mut State, id: u32, line: &str) {
    let run = &env.run;
    let Some(at) = st.pending.remove(&id) else {
        return;
    };
    if line.contains(r#""error":"#) {
        run.count(|c| c.publish_errors += 1);
        run.error(format!("chat.send refused: {}", truncate(line)));
        return;
    }
    match wire::OFFSET.find_in(line) {
        Some(offset) => {
            run.acks
                .borrow_mut()
                .record(at.elapsed().as_micros() as u64);
            run.acked(st.spec.group, offset);
        }
        None => {
            run.count(|c| c.publish_errors += 1);
            run.error(format!(
                "chat.send reply without an offset: {}",
                truncate(line)
            ));
        }
    }
}

async fn publish_due(env: &Env, st: &mut State, ws: &mut Ws) -> Result<(), ()> {
    let (Some(pacer), Some(publish)) = (st.pacer.as_mut(), st.spec.publish.as_ref()) else {
        return Ok(());
    };
    let group = &env.groups[st.spec.group];
    let now = Instant::now();
    let mut batch = 0;
    while let Some(at) = pacer.take(now) {
        st.seq += 1;
        let ts = stamp(at);
        match env.target.kind {
            TargetKind::Tandem => {
                if st.pending.len() >= publish.in_flight {
                    if pacer.closed_loop() {
                        break;
                    }
                    env.run.count(|c| c.behind += 1);
                    continue;
                }
                let id = st.next_id;
                st.next_id = st.next_id.wrapping_add(1).max(3);
                let data = publish.body.render(&group.id, true, st.seq, ts);
                st.pending.insert(id, at);
                ws.feed(env.target.codec.rpc(id, "chat.send", &data))
                    .await
                    .map_err(|_| ())?;
            }
            TargetKind::Floor => {
                let frame = publish.body.render(&group.id, false, st.seq, ts);
                ws.feed(Message::text(frame)).await.map_err(|_| ())?;
                env.run.acked(st.spec.group, st.seq);
            }
        }
        env.run.count(|c| c.sent += 1);
        batch += 1;
        if batch >= 256 {
            break;
        }
    }
    ws.flush().await.map_err(|_| ())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
