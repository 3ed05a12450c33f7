//! Publishers: how messages get into the server, at what pace, with what
//! body. [`PublisherKind`] names the ways in: WebSocket RPC (`chat.send` on a
//! connection, see [`crate::conn`]) and the REST API (here). The server API
//! will be another kind once Tandem has one.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::run::{Plan, Run};
use crate::target::{Group, Target, TargetKind};
use crate::wire::{self, now_micros, SEQ_KEY, TS_KEY};

/// How a publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublisherKind {
    /// `chat.send` RPC over a WebSocket connection (floor: a text frame).
    WsRpc,
    /// `POST /api/sessions/{id}/messages` (floor: `POST /rooms/{room}/publish`).
    Rest,
}

/// Paces one publisher through a [`Plan`]: message `k` is due at
/// `start + k / rate`. Latencies are measured from that intended time, so a
/// publisher that falls behind shows it (no coordinated omission).
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    plan: Plan,
    sent: u64,
}

impl Pacer {
    /// A pacer for `plan`.
    pub fn new(plan: Plan) -> Self {
        Self { plan, sent: 0 }
    }

    /// The step this pacer runs.
    pub fn step(&self) -> u32 {
        self.plan.step
    }

    /// Whether the window is over.
    pub fn finished(&self, now: Instant) -> bool {
        now >= self.plan.end
    }

    /// When the next message is due (`None` when the window is over; with
    /// rate 0, now: as fast as the in-flight window allows).
    pub fn next_due(&self) -> Option<Instant> {
        let at = if self.plan.rate > 0.0 {
            self.plan.start + Duration::from_secs_f64(self.sent as f64 / self.plan.rate)
        } else {
            Instant::now()
        };
        (at < self.plan.end).then_some(at)
    }

    /// Whether messages go out as fast as acknowledged (rate 0) rather than
    /// on a schedule.
    pub fn closed_loop(&self) -> bool {
        self.plan.rate <= 0.0
    }

    /// Takes the next message if it is due at `now`: its intended send time.
    pub fn take(&mut self, now: Instant) -> Option<Instant> {
        if self.closed_loop() {
            return (now < self.plan.end).then(|| {
                self.sent += 1;
                now
            });
        }
        let at = self.next_due()?;
        if at <= now {
            self.sent += 1;
            Some(at)
        } else {
            None
        }
    }
}

/// The text of message `seq`: `payload` bytes of content plus the sequence
/// number and timestamp in its metadata (Tandem), or a frame of about the
/// same size (floor, which broadcasts it as it is).
pub struct Body {
    /// Target kind.
    pub kind: TargetKind,
    /// Content padding.
    pad: String,
    /// Idempotency key prefix (unique per publisher and run).
    key: String,
}

impl Body {
    /// Bodies of `payload` content bytes (floor frames: `floor_bytes` in all).
    pub fn new(kind: TargetKind, payload: usize, floor_bytes: usize, key: String) -> Self {
        let pad = match kind {
            TargetKind::Tandem => "x".repeat(payload.max(1)),
            // `{"bseq":N,"bts":T,"pad":""}` is about 45 bytes (16-digit T).
            TargetKind::Floor => "x".repeat(floor_bytes.saturating_sub(45).max(1)),
        };
        Self { kind, pad, key }
    }

    /// The `chat.send` parameters / REST body (with `session_id` when
    /// `with_session`), or the floor frame.
    pub fn render(&self, session: &str, with_session: bool, seq: u64, ts: u64) -> String {
        match self.kind {
            TargetKind::Floor => {
                format!(
                    r#"{{"{SEQ_KEY}":{seq},"{TS_KEY}":{ts},"pad":"{}"}}"#,
                    self.pad
                )
            }
            TargetKind::Tandem => {
                let session = if with_session {
                    format!(r#""session_id":"{session}","#)
                } else {
                    String::new()
                };
                format!(
                    r#"{{{session}"content":"{}","metadata":{{"{SEQ_KEY}":{seq},"{TS_KEY}":{ts}}},"idempotency_key":"{}-{seq}"}}"#,
                    self.pad, self.key
                )
            }
        }
    }
}

/// Timestamp to stamp on a message intended for `at` (µs since the epoch).
pub fn stamp(at: Instant) -> u64 {
    let late = Instant::now().saturating_duration_since(at);
    now_micros().saturating_sub(late.as_micros() as u64)
}

/// A REST publisher for `group`: follows the run's plans, sends each due
/// message as its own request (at most `in_flight` at a time) as `user`.
pub async fn rest(
    run: Rc<Run>,
    target: Rc<Target>,
    group_index: usize,
    group: Group,
    user: String,
    body: Body,
    in_flight: usize,
) {
    let token = match target.kind {
        TargetKind::Tandem => match target.token(&user) {
            Ok(t) => Some(t),
            Err(err) => {
                run.error(format!("token: {err}"));
                return;
            }
        },
        TargetKind::Floor => None,
    };
    let url = match target.kind {
        TargetKind::Tandem => format!("{}/api/sessions/{}/messages", target.server.http, group.id),
        TargetKind::Floor => format!("{}/rooms/{}/publish", target.server.http, group.id),
    };
    let body = Rc::new(body);
    let pending = Rc::new(Cell::new(0usize));
    let mut control = run.control.subscribe();
    let mut last_step = None;
    let mut seq = 0u64;
    'plans: loop {
        let current = control.borrow_and_update().clone();
        if current.stop {
            break;
        }
        if let Some(plan) = current.plan.filter(|p| Some(p.step) != last_step) {
            last_step = Some(plan.step);
            let mut pacer = Pacer::new(plan);
            loop {
                let now = Instant::now();
                while let Some(at) = pacer.take(now) {
                    if pending.get() >= in_flight {
                        if pacer.closed_loop() {
                            break;
                        }
                        run.count(|c| c.behind += 1);
                        continue;
                    }
                    seq += 1;
                    let text = body.render(&group.id, false, seq, stamp(at));
                    let mut request = target
                        .http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(text);
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    pending.set(pending.get() + 1);
                    run.count(|c| c.sent += 1);
                    let (run, pending, kind) = (run.clone(), pending.clone(), target.kind);
                    tokio::task::spawn_local(async move {
                        let outcome = send(request, kind, seq).await;
                        pending.set(pending.get() - 1);
                        match outcome {
                            Ok(offset) => {
                                run.acks
                                    .borrow_mut()
                                    .record(at.elapsed().as_micros() as u64);
                                run.acked(group_index, offset);
                            }
                            Err(err) => {
                                run.count(|c| c.publish_errors += 1);
                                run.error(err);
                            }
                        }
                    });
                }
                if pacer.finished(Instant::now()) {
                    break;
                }
                let wake = pacer
                    .next_due()
                    .unwrap_or_else(Instant::now)
                    .max(Instant::now() + Duration::from_micros(200));
                tokio::select! {
                    changed = control.changed() => {
                        if changed.is_err() || control.borrow().stop {
                            return;
                        }
                        if control.borrow().plan.map(|p| p.step) != Some(plan.step) {
                            continue 'plans;
                        }
                    }
                    _ = tokio::time::sleep_until(wake.into()) => {}
                }
            }
        }
        if control.changed().await.is_err() {
            break;
        }
    }
}

/// One REST publish; the acknowledged offset (floor: the sequence number).
async fn send(request: reqwest::RequestBuilder, kind: TargetKind, seq: u64) -> Result<u64, String> {
    let response = request.send().await.map_err(|e| format!("publish: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("publish: {e}"))?;
    if !status.is_success() {
        return Err(format!("publish: {status}: {text}"));
    }
    match kind {
        TargetKind::Floor => Ok(seq),
        TargetKind::Tandem => wire::OFFSET
            .find_in(&text)
            .ok_or_else(|| format!("publish: no offset in the reply: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_spaces_messages_and_stops_at_the_end() {
        let start = Instant::now() - Duration::from_millis(100);
        let plan = Plan {
            step: 1,
            rate: 100.0,
            start,
            end: start + Duration::from_secs(1),
        };
        let mut p = Pacer::new(plan);
        let mut n = 0;
        while p.take(Instant::now()).is_some() {
            n += 1;
        }
        // 100 ms at 100/s: messages 0..=10 are due.
        assert!((10..=12).contains(&n), "{n}");
        assert!(!p.finished(Instant::now()));
        assert!(p.finished(start + Duration::from_secs(2)));
    }

    #[test]
    fn bodies_carry_sequence_and_timestamp() {
        let b = Body::new(TargetKind::Tandem, 8, 0, "k".into());
        let text = b.render("s1", true, 5, 77);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["session_id"], "s1");
        assert_eq!(v["content"], "xxxxxxxx");
        assert_eq!(v["metadata"][SEQ_KEY], 5);
        assert_eq!(v["metadata"][TS_KEY], 77);
        assert_eq!(v["idempotency_key"], "k-5");
        let f = Body::new(TargetKind::Floor, 8, 400, "k".into()).render(
            "r",
            false,
            5,
            1_700_000_000_000_000,
        );
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v[SEQ_KEY], 5);
        assert!((390..=410).contains(&f.len()), "{}", f.len());
    }
}
