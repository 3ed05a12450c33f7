//! The scenarios. Each takes its settings and a [`Common`] (the server and
//! how to reach it) and returns an [`Outcome`](crate::report::Outcome).
//!
//! - [`load`]: N subscribers in R sessions, P publishers per session at a
//!   rate (or as fast as acknowledged); `many` and `acks` are presets of it.
//! - [`fanout`]: one session, many subscribers, a publish-rate sweep.
//! - [`idle`]: many subscribed connections doing nothing: RSS per connection.
//! - [`storm`]: every subscriber drops at once while publishing continues.
//! - [`sweep`]: the sweeper over many sessions of which a few are due.

use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::conn::{self, ConnOutcome, ConnSpec, Env};
use crate::net::Sources;
use crate::procstat::Watch;
use crate::report::Step;
use crate::run::{wait_until, Counters, Run};
use crate::stats::Latency;
use crate::target::{Group, Target};

pub mod fanout;
pub mod idle;
pub mod load;
pub mod storm;
pub mod sweep;

/// What every scenario needs.
pub struct Common {
    /// The server.
    pub target: Rc<Target>,
    /// Source addresses.
    pub sources: Rc<Sources>,
    /// The server's pid, for CPU and RSS.
    pub server_pid: Option<i32>,
    /// First connects in progress at once.
    pub connect_concurrency: usize,
    /// Label of the results.
    pub label: String,
}

/// The connections (and REST publishers) of a run.
pub struct Fleet {
    /// Shared by the connections.
    pub env: Rc<Env>,
    conns: Vec<JoinHandle<ConnOutcome>>,
    tasks: Vec<JoinHandle<()>>,
    /// Per group: connections subscribed to it.
    pub receivers: Vec<u64>,
}

impl Fleet {
    /// An empty fleet over `groups`.
    pub fn new(common: &Common, groups: Vec<Group>) -> Self {
        let n = groups.len();
        let env = Rc::new(Env {
            run: Rc::new(Run::new(n)),
            target: common.target.clone(),
            groups: Rc::new(groups),
            sources: common.sources.clone(),
            gate: Rc::new(Semaphore::new(common.connect_concurrency.max(1))),
        });
        Self {
            env,
            conns: Vec::new(),
            tasks: Vec::new(),
            receivers: vec![0; n],
        }
    }

    /// The run.
    pub fn run(&self) -> &Rc<Run> {
        &self.env.run
    }

    /// Opens `specs`, at most `rate` new connections per second (0: no limit).
    pub async fn open(&mut self, specs: Vec<ConnSpec>, rate: f64) {
        let start = Instant::now();
        for (i, spec) in specs.into_iter().enumerate() {
            if rate > 0.0 {
                let at = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
            }
            if spec.listen {
                self.receivers[spec.group] += 1;
            }
            self.conns
                .push(tokio::task::spawn_local(conn::run(self.env.clone(), spec)));
        }
    }

    /// Starts another task (a REST publisher) owned by the fleet.
    pub fn spawn(&mut self, task: impl std::future::Future<Output = ()> + 'static) {
        self.tasks.push(tokio::task::spawn_local(task));
    }

    /// How many connections were opened.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection was opened.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Waits until every connection is ready or failed, or `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let n = self.conns.len();
        let run = self.run().clone();
        wait_until(timeout, || {
            run.ready.get() + run.c.get().connect_errors as usize >= n
        })
        .await;
        run.ready.get() >= n
    }

    /// Deliveries expected so far: each acknowledged message once per
    /// subscriber of its group.
    pub fn expected(&self) -> u64 {
        let published = self.run().published.borrow();
        published
            .iter()
            .zip(&self.receivers)
            .map(|(p, r)| p * r)
            .sum()
    }

    /// Stops every connection and task; returns the connections' offsets.
    pub async fn stop(self) -> Vec<ConnOutcome> {
        self.env.run.steer(|c| c.stop = true);
        for t in &self.tasks {
            t.abort();
        }
        let mut out = Vec::with_capacity(self.conns.len());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for handle in self.conns {
            let abort = handle.abort_handle();
            match tokio::time::timeout_at(deadline, handle).await {
                Ok(Ok(o)) => out.push(o),
                Ok(Err(_)) => {}
                Err(_) => abort.abort(),
            }
        }
        out
    }
}

/// Waits (up to `timeout` in all) for the acknowledgements still in flight,
/// which add to what is expected, then for the expected deliveries.
pub async fn drain_all(fleet: &Fleet, timeout: Duration) {
    let run = fleet.run();
    let deadline = Instant::now() + timeout;
    wait_until(timeout, || {
        let c = run.c.get();
        c.acked + c.publish_errors >= c.sent
    })
    .await;
    let left = deadline.saturating_duration_since(Instant::now());
    wait_until(left, || run.c.get().unique >= fleet.expected()).await;
}

/// Offsets never received, summed over connections: each connection
/// should have every offset of its group after its start up to the
/// group's top.
pub fn final_losses(outcomes: &[ConnOutcome], tops: &[u64]) -> u64 {
    outcomes
        .iter()
        .filter_map(|o| {
            let t = o.tracker.as_ref()?;
            Some(t.missing_up_to(tops.get(o.group).copied().unwrap_or(0)))
        })
        .sum()
}

/// A measured window: counters and histograms from [`Window::start`] to
/// [`Window::finish`].
pub struct Window {
    name: String,
    started: Instant,
    counters: Counters,
    expected: u64,
    watch: Watch,
}

impl Window {
    /// Starts a window (resets the latency histograms).
    pub fn start(fleet: &Fleet, name: impl Into<String>, server_pid: Option<i32>) -> Self {
        let run = fleet.run();
        let _ = run.take_latencies();
        Self {
            name: name.into(),
            started: Instant::now(),
            counters: run.c.get(),
            expected: fleet.expected(),
            watch: Watch::start(server_pid),
        }
    }

    /// Publishes for `duration`, then waits up to `drain` for the expected
    /// deliveries; `seconds` of the step is the publishing time.
    pub async fn publish_and_drain(
        fleet: &Fleet,
        step: u32,
        rate: f64,
        duration: Duration,
        drain: Duration,
    ) {
        let run = fleet.run();
        run.publish(step, rate, duration);
        tokio::time::sleep(duration).await;
        run.steer(|c| c.plan = None);
        drain_all(fleet, drain).await;
    }

    /// Ends the window: counter deltas, rates over `seconds`, latencies.
    pub fn finish(self, fleet: &Fleet, seconds: f64) -> Step {
        let run = fleet.run();
        let usage = self.watch.stop();
        let c = delta(&run.c.get(), &self.counters);
        let (latency, acks) = run.take_latencies();
        let expected = fleet.expected() - self.expected;
        let elapsed = self.started.elapsed().as_secs_f64();
        Step {
            name: self.name,
            seconds,
            counters: c,
            expected,
            lost: expected.saturating_sub(c.unique),
            sent_per_s: rate(c.sent, seconds),
            deliveries_per_s: rate(c.deliveries, elapsed),
            latency: summary(&latency),
            acks: summary(&acks),
            usage,
            pass: None,
            figures: Default::default(),
        }
    }
}

fn rate(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

fn summary(l: &Latency) -> crate::stats::Summary {
    if l.is_empty() {
        Default::default()
    } else {
        l.summary()
    }
}

/// `b - a`, field by field.
pub fn delta(b: &Counters, a: &Counters) -> Counters {
    Counters {
        deliveries: b.deliveries - a.deliveries,
        unique: b.unique - a.unique,
        duplicates: b.duplicates - a.duplicates,
        gaps: b.gaps - a.gaps,
        before_start: b.before_start - a.before_start,
        bytes: b.bytes - a.bytes,
        joins: b.joins - a.joins,
        leaves: b.leaves - a.leaves,
        sent: b.sent - a.sent,
        acked: b.acked - a.acked,
        publish_errors: b.publish_errors - a.publish_errors,
        behind: b.behind - a.behind,
        connect_errors: b.connect_errors - a.connect_errors,
        server_closes: b.server_closes - a.server_closes,
        recovered: b.recovered - a.recovered,
        recover_failed: b.recover_failed - a.recover_failed,
        recovered_pubs: b.recovered_pubs - a.recovered_pubs,
    }
}

/// The outcome of a scenario run, with the run's errors.
pub fn outcome(
    common: &Common,
    scenario: &str,
    settings: &impl serde::Serialize,
    steps: Vec<Step>,
    figures: std::collections::BTreeMap<String, f64>,
    errors: Vec<String>,
) -> anyhow::Result<crate::report::Outcome> {
    Ok(crate::report::Outcome {
        scenario: scenario.to_owned(),
        label: common.label.clone(),
        target: common.target.kind,
        codec: common.target.codec,
        settings: serde_json::to_value(settings)?,
        steps,
        figures,
        errors,
    })
}

/// Connect and subscribe latencies (and clears them).
pub fn take_connect(run: &Run) -> crate::stats::Summary {
    summary(&run.connect.replace(Latency::new()))
}
