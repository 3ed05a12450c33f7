//! `idle`: N authenticated connections, each subscribed to one session (of
//! `per_session`), doing nothing; the server's RSS growth per connection.
//! With `subscribe: false` the connections only connect (Tandem) or open a
//! socket without joining a room (floor), which separates the cost of a
//! connection from the cost of its subscription.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::load::{secs, ConnectArgs};
use super::{take_connect, Common, Fleet, Window};
use crate::conn::ConnSpec;
use crate::procstat;
use crate::report::Outcome;

/// The idle run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct IdleSettings {
    /// Connections.
    pub connections: usize,
    /// Connections per session (room).
    pub per_session: usize,
    /// Whether each connection subscribes.
    pub subscribe: bool,
    /// Wait after the last connection before measuring.
    #[serde(with = "secs")]
    pub settle: Duration,
    /// How long the connections are held while CPU is measured.
    #[serde(with = "secs")]
    pub hold: Duration,
    /// Connecting.
    pub connect: ConnectArgs,
}

/// Runs the idle scenario (needs the server's pid).
pub async fn idle(common: &Common, s: &IdleSettings) -> anyhow::Result<Outcome> {
    let pid = common
        .server_pid
        .context("idle measures the server's memory: give --server-pid")?;
    let per = s.per_session.max(1);
    let sessions = s.connections.div_ceil(per);
    let users = s.connect.users_per_session.min(per);
    let groups = common.target.create_groups(sessions, users, 32).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = procstat::sample(pid)?.rss;
    let generator_baseline = procstat::sample(std::process::id() as i32)?.rss;
    let mut fleet = Fleet::new(common, groups);
    let specs = (0..s.connections)
        .map(|i| ConnSpec {
            group: i / per,
            index: i % per,
            listen: s.subscribe,
            publish: None,
            reconnect: false,
        })
        .collect();
    fleet.open(specs, s.connect.connect_rate).await;
    let budget = s.connections as f64 / s.connect.connect_rate.max(1.0) + 60.0;
    let all = fleet.wait_ready(Duration::from_secs_f64(budget)).await;
    let connect = take_connect(fleet.run());
    let ready = fleet.run().ready.get();
    tokio::time::sleep(s.settle).await;
    let window = Window::start(&fleet, "idle", common.server_pid);
    tokio::time::sleep(s.hold).await;
    let rss = procstat::sample(pid)?.rss;
    let generator_rss = procstat::sample(std::process::id() as i32)?.rss;
    let still = fleet.run().ready.get();
    let step = window.finish(&fleet, s.hold.as_secs_f64());
    let run = fleet.run().clone();
    fleet.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = procstat::sample(pid)?.rss;
    let per_conn = |a: u64, b: u64| (a as f64 - b as f64) / ready.max(1) as f64;
    let mut figures = BTreeMap::new();
    figures.insert("connections".into(), ready as f64);
    figures.insert("connected_at_end".into(), still as f64);
    figures.insert("all_connected".into(), f64::from(u8::from(all)));
    figures.insert("rss_baseline_bytes".into(), baseline as f64);
    figures.insert("rss_connected_bytes".into(), rss as f64);
    figures.insert("rss_after_close_bytes".into(), after as f64);
    figures.insert("rss_per_connection_bytes".into(), per_conn(rss, baseline));
    figures.insert(
        "generator_rss_per_connection_bytes".into(),
        per_conn(generator_rss, generator_baseline),
    );
    figures.insert("connect_p50_ms".into(), connect.p50_ms);
    figures.insert("connect_p99_ms".into(), connect.p99_ms);
    if let Some(u) = step.usage.server {
        figures.insert("server_cpu_percent".into(), u.cpu_percent);
    }
    let errors = run.errors.borrow().clone();
    super::outcome(common, "idle", s, vec![step], figures, errors)
}
