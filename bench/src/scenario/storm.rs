//! `storm`: subscribers in many sessions, publishing going on; at
//! `drop_after` every subscriber loses its connection at once (the socket is
//! dropped without a close handshake) and reconnects at once, resubscribing
//! from its last offset. Measures the time until all have recovered, and
//! counts over the whole run what was lost and what came twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::load::{secs, setup, LoadSettings};
use super::{drain_all, final_losses, take_connect, Common, Window};
use crate::report::Outcome;
use crate::run::wait_until;
use crate::target::TargetKind;

/// The storm's settings.
#[derive(Debug, Clone, Serialize)]
pub struct StormSettings {
    /// Sessions, subscribers, publishers and the publishing window
    /// (`duration` covers before, during and after the drop).
    pub load: LoadSettings,
    /// When, after publishing starts, everyone drops.
    #[serde(with = "secs")]
    pub drop_after: Duration,
    /// Longest wait for every subscriber to be back.
    #[serde(with = "secs")]
    pub recovery_timeout: Duration,
}

/// Runs the storm.
pub async fn storm(common: &Common, s: &StormSettings) -> anyhow::Result<Outcome> {
    let mut load = s.load.clone();
    load.reconnect = true;
    let fleet = setup(common, &load).await?;
    let clients = load.subscribers() as u64;
    let connect = take_connect(fleet.run());
    let run = fleet.run().clone();
    let window = Window::start(&fleet, "storm", common.server_pid);
    let started = Instant::now();
    run.publish(1, load.rate, load.duration);
    tokio::time::sleep(s.drop_after).await;
    let before = run.c.get();
    let _ = take_connect(&run);
    let dropped_at = Instant::now();
    run.steer(|c| c.drop_generation += 1);
    let all_back = wait_until(s.recovery_timeout, || {
        let c = run.c.get();
        (c.recovered + c.recover_failed) - (before.recovered + before.recover_failed) >= clients
    })
    .await;
    let recovery = run
        .last_recovery
        .get()
        .filter(|_| all_back)
        .map(|t| t.duration_since(dropped_at).as_secs_f64());
    let reconnects = take_connect(&run);
    let rest = load.duration.saturating_sub(started.elapsed());
    tokio::time::sleep(rest).await;
    run.steer(|c| c.plan = None);
    drain_all(&fleet, load.drain).await;
    let mut step = window.finish(&fleet, load.duration.as_secs_f64());
    let outcomes = fleet.stop().await;
    let tops = run.tops.borrow().clone();
    let lost = final_losses(&outcomes, &tops);
    let c = step.counters;
    let mut figures = BTreeMap::new();
    figures.insert("clients".into(), clients as f64);
    figures.insert("recovered".into(), c.recovered as f64);
    figures.insert("recover_failed".into(), c.recover_failed as f64);
    figures.insert("all_back".into(), f64::from(u8::from(all_back)));
    if let Some(r) = recovery {
        figures.insert("recovery_s".into(), r);
    }
    figures.insert("reconnect_p50_ms".into(), reconnects.p50_ms);
    figures.insert("reconnect_p99_ms".into(), reconnects.p99_ms);
    figures.insert("connect_p99_ms".into(), connect.p99_ms);
    figures.insert("published".into(), c.acked as f64);
    figures.insert("recovered_publications".into(), c.recovered_pubs as f64);
    if common.target.kind == TargetKind::Tandem {
        figures.insert("lost".into(), lost as f64);
        figures.insert("duplicates".into(), c.duplicates as f64);
    }
    step.pass = Some(
        all_back
            && c.recover_failed == 0
            && (common.target.kind == TargetKind::Floor || (lost == 0 && c.duplicates == 0)),
    );
    let errors = run.errors.borrow().clone();
    super::outcome(common, "storm", s, vec![step], figures, errors)
}
