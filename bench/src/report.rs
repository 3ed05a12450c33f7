//! Results: what every scenario prints (one JSON object per run, see
//! [`Outcome`]) and the Markdown that `bench/run.sh` writes to
//! docs/benchmarks.md from a file of such lines ([`markdown`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::procstat::WindowUsage;
use crate::run::Counters;
use crate::stats::Summary;
use crate::target::TargetKind;

mod markdown;
pub use markdown::{markdown, Machine};

/// The result of one scenario run against one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// Scenario name (`fanout`, `many`, `idle`, `storm`, `acks`, `sweep`, `load`).
    pub scenario: String,
    /// What was measured (`floor`, `memory`, `redis`, ...: the run's `--label`).
    pub label: String,
    /// Tandem or the floor.
    pub target: TargetKind,
    /// The wire protocol variant the generator spoke (results written
    /// before there was a choice read as JSON).
    #[serde(default)]
    pub codec: crate::wire::Codec,
    /// The scenario's settings.
    pub settings: serde_json::Value,
    /// Measured windows (one per rate in a sweep, otherwise one).
    pub steps: Vec<Step>,
    /// Headline figures of the scenario (e.g. `max_passing_rate`).
    pub figures: BTreeMap<String, f64>,
    /// The first distinct errors seen.
    pub errors: Vec<String>,
}

/// One measured window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Step {
    /// Short name (`200/s`).
    pub name: String,
    /// Length of the publishing window (or the hold), seconds.
    pub seconds: f64,
    /// Counter changes during the window (and its drain).
    pub counters: Counters,
    /// Deliveries expected (messages acknowledged × subscribers of their session).
    pub expected: u64,
    /// Expected deliveries never received.
    pub lost: u64,
    /// Messages sent per second (all publishers).
    pub sent_per_s: f64,
    /// Deliveries per second over the window.
    pub deliveries_per_s: f64,
    /// End-to-end latency of live deliveries.
    pub latency: Summary,
    /// Acknowledgement latency of the publishes.
    pub acks: Summary,
    /// Server and generator CPU and memory over the window.
    pub usage: WindowUsage,
    /// Whether the window met the scenario's criterion, where it has one.
    pub pass: Option<bool>,
    /// Scenario-specific figures.
    pub figures: BTreeMap<String, f64>,
}

impl Outcome {
    /// One line of JSON (figures that are not finite numbers are left out:
    /// JSON has no NaN).
    pub fn to_json_line(&self) -> String {
        let mut clean = self.clone();
        clean.figures.retain(|_, v| v.is_finite());
        for step in &mut clean.steps {
            step.figures.retain(|_, v| v.is_finite());
        }
        serde_json::to_string(&clean).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }

    /// A human summary.
    pub fn human(&self) -> String {
        let mut out = format!(
            "== {} on {} ({:?}, {:?})\n",
            self.scenario, self.label, self.target, self.codec
        );
        for (k, v) in &self.figures {
            out.push_str(&format!("   {k}: {}\n", fmt_num(*v)));
        }
        for s in &self.steps {
            let c = &s.counters;
            out.push_str(&format!(
                "   [{}] {:.1}s sent {} ({:.0}/s) acked {} errors {} behind {} | deliveries {} ({:.0}/s) expected {} lost {} dup {} gaps {} | latency p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms | ack p50 {:.2} p99 {:.2} ms | server cpu {} rss {} | generator cpu {}{}\n",
                s.name,
                s.seconds,
                c.sent,
                s.sent_per_s,
                c.acked,
                c.publish_errors,
                c.behind,
                c.deliveries,
                s.deliveries_per_s,
                s.expected,
                s.lost,
                c.duplicates,
                c.gaps,
                s.latency.p50_ms,
                s.latency.p90_ms,
                s.latency.p99_ms,
                s.latency.max_ms,
                s.acks.p50_ms,
                s.acks.p99_ms,
                s.usage.server.map_or("-".into(), |u| format!("{:.0}%", u.cpu_percent)),
                s.usage.server.map_or("-".into(), |u| fmt_bytes(u.rss_bytes as f64)),
                s.usage.generator.map_or("-".into(), |u| format!("{:.0}%", u.cpu_percent)),
                match s.pass {
                    Some(true) => " PASS",
                    Some(false) => " FAIL",
                    None => "",
                }
            ));
            for (k, v) in &s.figures {
                out.push_str(&format!("      {k}: {}\n", fmt_num(*v)));
            }
        }
        for e in &self.errors {
            out.push_str(&format!("   error: {e}\n"));
        }
        out
    }
}

/// A number with few decimals.
pub fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Bytes in KiB/MiB.
pub fn fmt_bytes(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= (1 << 20) as f64 {
        format!("{:.1} MiB", v / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", v / 1024.0)
    }
}
