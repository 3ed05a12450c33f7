//! What the server reports about itself: Prometheus metrics (issue 12).
//!
//! [`Metrics`] is one node's registry: a Prometheus recorder owned by the
//! app (no global recorder, so several apps in one process, as in the
//! tests, each count their own), rendered as text by `GET /metrics`
//! (`ops::metrics`). Each series is recorded through one named method here,
//! so every name, label and unit is written once.
//!
//! Labels have bounded cardinality: command methods, engine operations,
//! route templates, disconnect reasons, channel namespaces (`session`,
//! `user`), never a session id, a user id or a channel name.
//!
//! Where it is recorded:
//! - connections, disconnects and slow consumers: the WebSocket loop (`ws::connection`);
//! - commands by method and result: the client state machine (`client`);
//! - recoveries: the node's subscribe path (`node::subscribe`);
//! - deliveries and publish-to-deliver latency: the hub's fan-out;
//! - publications, engine calls, latency and errors: one wrapper around the
//!   engine ([`engine::MeteredEngine`]);
//! - sweeper transitions: the sweeper, once per sweep;
//! - HTTP requests by route template and status: one middleware ([`http`]);
//! - gauges (connections, users, channels, subscriptions): read from the
//!   node at each scrape.

pub mod engine;
pub mod http;

use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio_util::sync::CancellationToken;

/// Histogram buckets, in seconds (every histogram here is a duration).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes (the recorder keeps raw samples until then).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// Every series: name, kind, unit and help text.
const SERIES: &[(&str, Kind, Option<Unit>, &str)] = &[
    ("tandem_connections", Kind::Gauge, None, "Connected clients on this node."),
    ("tandem_users", Kind::Gauge, None, "Distinct users connected on this node."),
    ("tandem_channels", Kind::Gauge, None, "Channels with subscribers on this node."),
    ("tandem_subscriptions", Kind::Gauge, None, "Channel subscriptions on this node."),
    ("tandem_connections_opened_total", Kind::Counter, None, "WebSocket connections accepted."),
    ("tandem_disconnects_total", Kind::Counter, None, "Connections ended, by disconnect reason (`none`: the peer went away)."),
    ("tandem_slow_consumer_disconnects_total", Kind::Counter, None, "Connections closed because their outbound queue was full (3008)."),
    ("tandem_commands_total", Kind::Counter, None, "Protocol commands, by method and result (ok, error, disconnect)."),
    ("tandem_publications_total", Kind::Counter, None, "Publications into channels, by channel namespace."),
    ("tandem_deliveries_total", Kind::Counter, None, "Publications queued to local subscribers."),
    ("tandem_publish_to_deliver_seconds", Kind::Histogram, Some(Unit::Seconds), "Time from a publication's acceptance by the engine to its queueing for a local subscriber."),
    ("tandem_recoveries_total", Kind::Counter, None, "Subscribes asking to recover, by result (recovered, not_recovered)."),
    ("tandem_engine_operations_total", Kind::Counter, None, "Engine calls, by operation and result (ok, error)."),
    ("tandem_engine_errors_total", Kind::Counter, None, "Engine errors, by operation and kind (unavailable, internal, corrupt, unrecoverable_position)."),
    ("tandem_engine_operation_seconds", Kind::Histogram, Some(Unit::Seconds), "Engine call latency, by operation."),
    ("tandem_sweeps_total", Kind::Counter, None, "Sweeps run."),
    ("tandem_sweeper_transitions_total", Kind::Counter, None, "Lifecycle transitions made by the sweeper (abandon, archive, delete)."),
    ("tandem_sweeper_sessions_total", Kind::Counter, None, "Due sessions the sweeper examined, by outcome (examined, refreshed, skipped, error)."),
    ("tandem_sweep_seconds", Kind::Histogram, Some(Unit::Seconds), "Duration of one sweep."),
    ("tandem_http_requests_total", Kind::Counter, None, "HTTP requests, by method, route template and status."),
    ("tandem_http_request_seconds", Kind::Histogram, Some(Unit::Seconds), "HTTP request latency, by method and route template."),
    ("tandem_server_api_calls_total", Kind::Counter, None, "Server API operations (single or in a batch), by operation and result (ok, error)."),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One node's metrics. Cheap to clone; a disabled one records nothing.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

/// Labels: name → value (values from bounded sets only).
pub type Labels<'a> = &'a [(&'static str, &'a str)];

impl Metrics {
    /// A registry with every series described.
    pub fn new() -> Self {
        let recorder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
            Ok(builder) => builder.build_recorder(),
            // Only an empty bucket list is refused; ours is not empty.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        for (name, kind, unit, help) in SERIES {
            let name = metrics::KeyName::from_const_str(name);
            let help = metrics::SharedString::const_str(help);
            match kind {
                Kind::Counter => recorder.describe_counter(name, *unit, help),
                Kind::Gauge => recorder.describe_gauge(name, *unit, help),
                Kind::Histogram => recorder.describe_histogram(name, *unit, help),
            }
        }
        let handle = recorder.handle();
        Self {
            inner: Some(Arc::new(Inner { recorder, handle })),
        }
    }

    /// A registry that records nothing (`TANDEM_METRICS=false`, unit tests).
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Everything in the Prometheus text format (`None` when disabled).
    pub fn render(&self) -> Option<String> {
        self.inner.as_ref().map(|inner| inner.handle.render())
    }

    /// Folds histogram samples into buckets every [`UPKEEP_INTERVAL`] until
    /// `stop`, so memory stays bounded between scrapes.
    pub async fn run_upkeep(self, stop: CancellationToken) {
        let Some(inner) = self.inner else { return };
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => inner.handle.run_upkeep(),
            }
        }
    }

    fn key(name: &'static str, labels: Labels<'_>) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        Key::from_parts(name, labels)
    }

    fn counter(&self, name: &'static str, labels: Labels<'_>) -> Counter {
        match &self.inner {
            Some(inner) => inner
                .recorder
                .register_counter(&Self::key(name, labels), &METADATA),
            None => Counter::noop(),
        }
    }

    fn gauge(&self, name: &'static str, labels: Labels<'_>) -> Gauge {
        match &self.inner {
            Some(inner) => inner
                .recorder
                .register_gauge(&Self::key(name, labels), &METADATA),
            None => Gauge::noop(),
        }
    }

    fn histogram(&self, name: &'static str, labels: Labels<'_>) -> Histogram {
        match &self.inner {
            Some(inner) => inner
                .recorder
                .register_histogram(&Self::key(name, labels), &METADATA),
            None => Histogram::noop(),
        }
    }

    /// The node's current load (set at each scrape).
    pub fn node_load(&self, connections: usize, users: usize, channels: usize, subs: usize) {
        let as_f64 = |n: usize| n as f64;
        self.gauge("tandem_connections", &[])
            .set(as_f64(connections));
        self.gauge("tandem_users", &[]).set(as_f64(users));
        self.gauge("tandem_channels", &[]).set(as_f64(channels));
        self.gauge("tandem_subscriptions", &[]).set(as_f64(subs));
    }

    /// A WebSocket connection was accepted.
    pub fn connection_opened(&self) {
        self.counter("tandem_connections_opened_total", &[])
            .increment(1);
    }

    /// A connection ended; `reason` is the disconnect's short reason (a
    /// protocol constant), `None` when the peer went away.
    pub fn connection_closed(&self, reason: Option<&'static str>, slow: bool) {
        let reason = reason.unwrap_or("none");
        self.counter("tandem_disconnects_total", &[("reason", reason)])
            .increment(1);
        if slow {
            self.counter("tandem_slow_consumer_disconnects_total", &[])
                .increment(1);
        }
    }

    /// A protocol command was handled: `method` as named by the protocol,
    /// `result` one of `ok`, `error`, `disconnect`.
    pub fn command(&self, method: &'static str, result: &'static str) {
        self.counter(
            "tandem_commands_total",
            &[("method", method), ("result", result)],
        )
        .increment(1);
    }

    /// `count` publications went into channels of `namespace`.
    pub fn publications(&self, namespace: &'static str, count: u64) {
        self.counter("tandem_publications_total", &[("namespace", namespace)])
            .increment(count);
    }

    /// `count` publications were queued to local subscribers.
    pub fn deliveries(&self, count: u64) {
        if count > 0 {
            self.counter("tandem_deliveries_total", &[])
                .increment(count);
        }
    }

    /// How long a publication took from the engine to a local subscriber's queue.
    pub fn publish_to_deliver(&self, elapsed: Duration) {
        self.histogram("tandem_publish_to_deliver_seconds", &[])
            .record(elapsed.as_secs_f64());
    }

    /// A subscribe asked to recover; whether it did.
    pub fn recovery(&self, recovered: bool) {
        let result = if recovered {
            "recovered"
        } else {
            "not_recovered"
        };
        self.counter("tandem_recoveries_total", &[("result", result)])
            .increment(1);
    }

    /// One engine call: its operation, latency and error kind (if it failed).
    pub fn engine_call(&self, op: &'static str, elapsed: Duration, error: Option<&'static str>) {
        let result = if error.is_some() { "error" } else { "ok" };
        self.counter(
            "tandem_engine_operations_total",
            &[("op", op), ("result", result)],
        )
        .increment(1);
        self.histogram("tandem_engine_operation_seconds", &[("op", op)])
            .record(elapsed.as_secs_f64());
        if let Some(kind) = error {
            self.counter("tandem_engine_errors_total", &[("op", op), ("kind", kind)])
                .increment(1);
        }
    }

    /// One sweep's outcome.
    pub fn sweep(&self, report: &SweepCounts) {
        self.counter("tandem_sweeps_total", &[]).increment(1);
        for (transition, n) in [
            ("abandon", report.abandoned),
            ("archive", report.archived),
            ("delete", report.deleted),
        ] {
            self.counter(
                "tandem_sweeper_transitions_total",
                &[("transition", transition)],
            )
            .increment(n);
        }
        for (outcome, n) in [
            ("examined", report.examined),
            ("refreshed", report.refreshed),
            ("skipped", report.skipped),
            ("error", report.errors),
        ] {
            self.counter("tandem_sweeper_sessions_total", &[("outcome", outcome)])
                .increment(n);
        }
        self.histogram("tandem_sweep_seconds", &[])
            .record(report.duration.as_secs_f64());
    }

    /// One HTTP request: `route` is the matched route template (or
    /// `unmatched`), never the raw path.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.counter(
            "tandem_http_requests_total",
            &[("method", method), ("route", route), ("status", &status)],
        )
        .increment(1);
        self.histogram(
            "tandem_http_request_seconds",
            &[("method", method), ("route", route)],
        )
        .record(elapsed.as_secs_f64());
    }

    /// One server API operation and whether it succeeded.
    pub fn server_api_call(&self, op: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.counter(
            "tandem_server_api_calls_total",
            &[("op", op), ("result", result)],
        )
        .increment(1);
    }
}

/// What one sweep did: the sweeper's report, which [`Metrics::sweep`] records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Index entries examined (due sessions read back from the index).
    pub examined: u64,
    /// Sessions this node abandoned.
    pub abandoned: u64,
    /// Sessions this node archived.
    pub archived: u64,
    /// Archived sessions this node deleted.
    pub deleted: u64,
    /// Due sessions kept active because someone was connected to them.
    pub refreshed: u64,
    /// Due sessions left alone: another node got there first, or a write or
    /// activity arrived since the index was read.
    pub skipped: u64,
    /// Engine or domain errors (logged; the session is retried next sweep).
    pub errors: u64,
    /// How long the sweep took.
    pub duration: Duration,
}

/// The namespace of a channel name, for labels (`session`, `user`, `other`).
pub fn namespace(channel: &str) -> &'static str {
    if channel.starts_with(crate::channels::SESSION_PREFIX) {
        "session"
    } else if channel.starts_with(crate::channels::USER_PREFIX) {
        "user"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_with_help_and_bounded_labels() {
        let metrics = Metrics::new();
        metrics.command("publish", "ok");
        metrics.command("publish", "ok");
        metrics.http_request("GET", "/api/sessions/{id}", 200, Duration::from_millis(3));
        metrics.publish_to_deliver(Duration::from_micros(300));
        let text = metrics.render().unwrap();
        assert!(
            text.contains("tandem_commands_total{method=\"publish\",result=\"ok\"} 2"),
            "{text}"
        );
        assert!(text.contains("# HELP tandem_commands_total"), "{text}");
        assert!(text.contains("route=\"/api/sessions/{id}\""), "{text}");
        assert!(
            text.contains("tandem_publish_to_deliver_seconds_bucket{le=\"0.0005\"} 1"),
            "{text}"
        );
        assert_eq!(namespace("session:x"), "session");
        assert_eq!(namespace("user:x"), "user");
    }

    #[test]
    fn a_disabled_registry_renders_nothing() {
        let metrics = Metrics::disabled();
        metrics.command("publish", "ok");
        assert!(metrics.render().is_none());
    }

    #[test]
    fn every_series_is_described_once() {
        let mut names: Vec<&str> = SERIES.iter().map(|s| s.0).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
