//! `fanout`: one session, many subscribers, one publisher; the publish rate
//! is raised step by step until a step fails (a loss, a duplicate, p99 over
//! the limit, the publisher falling behind, or the server closing a
//! connection). Reports the highest passing rate and the latency at a
//! reference rate.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::load::{setup, LoadSettings};
use super::{final_losses, Common, Window};
use crate::report::{Outcome, Step};

/// The sweep's settings.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutSettings {
    /// The session and its connections (rate and duration are per step).
    pub load: LoadSettings,
    /// Rates to try, messages per second, in increasing order.
    pub rates: Vec<f64>,
    /// The rate whose latency is reported on its own.
    pub latency_at: f64,
    /// A step passes only with p99 below this, ms.
    pub p99_limit_ms: f64,
    /// Keep stepping after a failure (up to the end of `rates`).
    pub keep_going: bool,
}

/// Whether a step met the criterion.
pub fn passes(step: &Step, rate: f64, seconds: f64, p99_limit_ms: f64) -> bool {
    let c = &step.counters;
    let wanted = rate * seconds;
    step.lost == 0
        && c.duplicates == 0
        && c.publish_errors == 0
        && c.behind == 0
        && c.server_closes == 0
        && (c.acked as f64) >= 0.95 * wanted
        && step.latency.p99_ms < p99_limit_ms
}

/// Runs the sweep.
pub async fn fanout(common: &Common, s: &FanoutSettings) -> anyhow::Result<Outcome> {
    let mut rates = s.rates.clone();
    if !rates.contains(&s.latency_at) {
        rates.push(s.latency_at);
    }
    rates.sort_by(f64::total_cmp);
    let fleet = setup(common, &s.load).await?;
    let seconds = s.load.duration.as_secs_f64();
    let mut steps = Vec::new();
    let mut best: f64 = 0.0;
    let mut failed = false;
    for (k, rate) in rates.iter().copied().enumerate() {
        if failed && !s.keep_going {
            break;
        }
        let window = Window::start(&fleet, format!("{rate}/s"), common.server_pid);
        Window::publish_and_drain(&fleet, k as u32 + 1, rate, s.load.duration, s.load.drain).await;
        let mut step = window.finish(&fleet, seconds);
        let pass = passes(&step, rate, seconds, s.p99_limit_ms);
        step.pass = Some(pass);
        step.figures.insert("rate".into(), rate);
        eprintln!(
            "fanout {}: {rate}/s {}",
            common.label,
            if pass { "pass" } else { "FAIL" }
        );
        if pass && !failed {
            best = rate;
        }
        failed |= !pass;
        let closed = step.counters.server_closes > 0;
        steps.push(step);
        if closed {
            break; // connections are gone
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let run = fleet.run().clone();
    let outcomes = fleet.stop().await;
    let tops = run.tops.borrow().clone();
    let mut figures = BTreeMap::new();
    figures.insert("max_passing_rate".into(), best);
    figures.insert("lost_final".into(), final_losses(&outcomes, &tops) as f64);
    if let Some(at) = steps
        .iter()
        .find(|st| st.figures.get("rate") == Some(&s.latency_at))
    {
        figures.insert("latency_at_p50_ms".into(), at.latency.p50_ms);
        figures.insert("latency_at_p99_ms".into(), at.latency.p99_ms);
    }
    if let Some(last) = steps.iter().rfind(|st| st.pass == Some(true)) {
        figures.insert("deliveries_per_s_at_max".into(), last.deliveries_per_s);
        if let Some(u) = last.usage.server {
            figures.insert("server_cpu_at_max".into(), u.cpu_percent);
        }
    }
    if let Some(fail) = steps.iter().find(|st| st.pass == Some(false)) {
        figures.insert("first_failing_rate".into(), fail.figures["rate"]);
        figures.insert("deliveries_per_s_at_fail".into(), fail.deliveries_per_s);
        figures.insert("p99_ms_at_fail".into(), fail.latency.p99_ms);
    }
    let errors = run.errors.borrow().clone();
    super::outcome(common, "fanout", s, steps, figures, errors)
}
