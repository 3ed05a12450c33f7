//! `load`: N subscribers in R sessions, P publishers per session at a rate
//! (or as fast as acknowledged), and its presets `many` (10,000 connections
//! in 1,000 sessions of 10, one of each publishing at 10/s) and `acks`
//! (acknowledged writes, no subscribers).

use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;

use super::{final_losses, take_connect, Common, Fleet, Window};
use crate::conn::{ConnSpec, WsPublish};
use crate::publisher::{self, Body, PublisherKind};
use crate::report::Outcome;
use crate::target::{TargetKind, OWNER};

/// Extra bytes of a Tandem `chat.message` publication line over its
/// content (measured: envelope, event, message fields, metadata), so floor
/// frames default to the size of the Tandem publication they stand for.
pub const TANDEM_PUB_OVERHEAD: usize = 500;

/// How messages are published.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct PublishArgs {
    /// Publisher kind.
    #[arg(long, value_enum, default_value = "rest")]
    pub publisher: PublisherKind,
    /// Chat message content, bytes.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Unacknowledged messages a publisher may have in flight.
    #[arg(long, default_value_t = 1000)]
    pub in_flight: usize,
    /// Floor frame size, bytes (0: payload + the size of a Tandem publication's envelope).
    #[arg(long, default_value_t = 0)]
    pub floor_frame_bytes: usize,
}

/// How connections are made.
#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct ConnectArgs {
    /// New connections per second while setting up (0: no limit).
    #[arg(long, default_value_t = 2000.0)]
    pub connect_rate: f64,
    /// Distinct users per session (collaborators; connections reuse them).
    /// Tandem allows 49 besides the owner unless TANDEM_MAX_COLLABORATORS is raised.
    #[arg(long, default_value_t = 40)]
    pub users_per_session: usize,
}

/// The settings of a load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSettings {
    /// Sessions (floor: rooms).
    pub sessions: usize,
    /// Subscribed connections per session.
    pub per_session: usize,
    /// Publishers per session.
    pub publishers: usize,
    /// Whether a WebSocket publisher is one of the session's subscribers
    /// (otherwise it has a connection of its own that does not subscribe).
    pub publisher_subscribes: bool,
    /// Messages per second per publisher (0: as fast as acknowledged).
    pub rate: f64,
    /// Publishing time.
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Longest wait for outstanding deliveries after publishing.
    #[serde(with = "secs")]
    pub drain: Duration,
    /// Whether subscribers reconnect and recover when dropped (storm).
    pub reconnect: bool,
    /// Publishing.
    pub publish: PublishArgs,
    /// Connecting.
    pub connect: ConnectArgs,
}

/// Durations as seconds in the settings JSON.
pub mod secs {
    use std::time::Duration;

    /// Serialises a duration as fractional seconds.
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

impl LoadSettings {
    /// Subscriber connections in all.
    pub fn subscribers(&self) -> usize {
        self.sessions * self.per_session
    }
}

/// Creates the sessions, opens every connection and starts the REST
/// publishers; fails when not every connection got ready.
pub async fn setup(common: &Common, s: &LoadSettings) -> anyhow::Result<Fleet> {
    let target = &common.target;
    anyhow::ensure!(
        target.kind == TargetKind::Tandem || s.publishers <= 1,
        "the floor has no offsets: at most one publisher per room"
    );
    anyhow::ensure!(
        target.kind == TargetKind::Tandem
            || s.publish.publisher == PublisherKind::Rest
            || s.rate > 0.0,
        "floor WebSocket publishers get no acknowledgement: give a rate"
    );
    let users = s.connect.users_per_session.min(s.per_session.max(1));
    let groups = target.create_groups(s.sessions, users, 32).await?;
    let mut fleet = Fleet::new(common, groups.clone());
    let run_key = rand::random::<u32>();
    let floor_bytes = match s.publish.floor_frame_bytes {
        0 => s.publish.payload + TANDEM_PUB_OVERHEAD,
        n => n,
    };
    let body = |g: usize, p: usize| {
        Body::new(
            target.kind,
            s.publish.payload,
            floor_bytes,
            format!("b{run_key:x}-{g}-{p}"),
        )
    };
    let ws = s.publish.publisher == PublisherKind::WsRpc;
    let mut specs = Vec::new();
    for g in 0..groups.len() {
        for i in 0..s.per_session {
            let publishes = ws && s.publisher_subscribes && i < s.publishers;
            specs.push(ConnSpec {
                group: g,
                index: i,
                listen: true,
                publish: publishes.then(|| WsPublish {
                    body: body(g, i),
                    in_flight: s.publish.in_flight,
                }),
                reconnect: s.reconnect,
            });
        }
        if ws && !s.publisher_subscribes {
            for p in 0..s.publishers {
                specs.push(ConnSpec {
                    group: g,
                    index: p,
                    listen: false,
                    publish: Some(WsPublish {
                        body: body(g, p),
                        in_flight: s.publish.in_flight,
                    }),
                    reconnect: false,
                });
            }
        }
    }
    let n = specs.len();
    fleet.open(specs, s.connect.connect_rate).await;
    let budget = if s.connect.connect_rate > 0.0 {
        n as f64 / s.connect.connect_rate
    } else {
        0.0
    };
    if !fleet
        .wait_ready(Duration::from_secs_f64(budget + 60.0))
        .await
    {
        let run = fleet.run().clone();
        let errors = run.errors.borrow().join("; ");
        let ready = run.ready.get();
        fleet.stop().await;
        anyhow::bail!("only {ready} of {n} connections got ready: {errors}");
    }
    if !ws {
        for (g, group) in groups.iter().enumerate() {
            for p in 0..s.publishers {
                let task = publisher::rest(
                    fleet.run().clone(),
                    Rc::clone(target),
                    g,
                    group.clone(),
                    OWNER.to_owned(),
                    body(g, p),
                    s.publish.in_flight,
                );
                fleet.spawn(task);
            }
        }
    }
    // Let join pushes and the last subscribe replies settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(fleet)
}

/// Runs `s` once: one window of publishing, then the exact loss count.
pub async fn load(common: &Common, scenario: &str, s: &LoadSettings) -> anyhow::Result<Outcome> {
    let fleet = setup(common, s).await?;
    let connect = take_connect(fleet.run());
    let window = Window::start(&fleet, format!("{}/s", s.rate), common.server_pid);
    Window::publish_and_drain(&fleet, 1, s.rate, s.duration, s.drain).await;
    let mut step = window.finish(&fleet, s.duration.as_secs_f64());
    step.figures.insert("connect_p50_ms".into(), connect.p50_ms);
    step.figures.insert("connect_p99_ms".into(), connect.p99_ms);
    let run = fleet.run().clone();
    let connections = fleet.len();
    let outcomes = fleet.stop().await;
    let tops = run.tops.borrow().clone();
    let lost = final_losses(&outcomes, &tops);
    let mut figures = std::collections::BTreeMap::new();
    figures.insert("connections".into(), connections as f64);
    figures.insert("lost_final".into(), lost as f64);
    figures.insert("duplicates".into(), step.counters.duplicates as f64);
    figures.insert("deliveries_per_s".into(), step.deliveries_per_s);
    figures.insert("sent_per_s".into(), step.sent_per_s);
    if step.counters.deliveries > 0 {
        // The publication message on the wire (JSON: its line; Protobuf: the
        // message with its length prefix), averaged over live deliveries.
        figures.insert(
            "bytes_per_delivery".into(),
            step.counters.bytes as f64 / step.counters.deliveries as f64,
        );
    }
    if step.latency.count > 0 {
        figures.insert("latency_p50_ms".into(), step.latency.p50_ms);
        figures.insert("latency_p99_ms".into(), step.latency.p99_ms);
    }
    if step.acks.count > 0 {
        figures.insert("ack_p50_ms".into(), step.acks.p50_ms);
        figures.insert("ack_p99_ms".into(), step.acks.p99_ms);
    }
    if let Some(u) = step.usage.server {
        figures.insert("server_cpu_percent".into(), u.cpu_percent);
    }
    let errors = run.errors.borrow().clone();
    super::outcome(common, scenario, s, vec![step], figures, errors)
}
