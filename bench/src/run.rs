//! The state one run shares between its connections and publishers (one
//! thread, so plain `Cell`s), and the control signal that steers them.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::stats::Latency;

/// What the scenario tells every task.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Publishing plan in force (`None`: don't publish).
    pub plan: Option<Plan>,
    /// Bumped to make every reconnecting connection drop its socket at once.
    pub drop_generation: u32,
    /// Set to end the run: connections close.
    pub stop: bool,
}

/// A publishing window.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Step number (a new number restarts the pacers).
    pub step: u32,
    /// Messages per second per publisher (0: as fast as acknowledged).
    pub rate: f64,
    /// Start of the window.
    pub start: Instant,
    /// End of the window.
    pub end: Instant,
}

/// Cumulative counters (copied at step boundaries to get per-step figures).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    /// Publications received (every copy).
    pub deliveries: u64,
    /// Offsets received for the first time by a connection.
    pub unique: u64,
    /// Offsets a connection received again.
    pub duplicates: u64,
    /// Publications that arrived after a hole (the missing ones came later or never).
    pub gaps: u64,
    /// Publications at or before a connection's starting position.
    pub before_start: u64,
    /// Bytes of publication lines received.
    pub bytes: u64,
    /// Join pushes received.
    pub joins: u64,
    /// Leave pushes received.
    pub leaves: u64,
    /// Messages sent by publishers.
    pub sent: u64,
    /// Messages acknowledged (Tandem: a reply with an offset; floor REST: 2xx;
    /// floor WebSocket: on send).
    pub acked: u64,
    /// Failed or refused publishes.
    pub publish_errors: u64,
    /// Publishes skipped because too many were in flight (the publisher fell behind).
    pub behind: u64,
    /// Connections that failed to open, connect or subscribe.
    pub connect_errors: u64,
    /// Connections the server closed.
    pub server_closes: u64,
    /// Resubscribes answered `recovered: true` (floor: reconnects).
    pub recovered: u64,
    /// Resubscribes answered `recovered: false`.
    pub recover_failed: u64,
    /// Publications delivered inside recovering subscribe replies.
    pub recovered_pubs: u64,
}

/// Everything shared by the tasks of one run.
pub struct Run {
    /// Counters.
    pub c: Cell<Counters>,
    /// End-to-end latency of live deliveries (publisher timestamp → receipt).
    pub latency: RefCell<Latency>,
    /// Acknowledgement latency (intended send time → reply).
    pub acks: RefCell<Latency>,
    /// Connect + subscribe latency (socket open → subscribe reply).
    pub connect: RefCell<Latency>,
    /// Per group: highest acknowledged offset (floor: sequence number).
    pub tops: RefCell<Vec<u64>>,
    /// Per group: messages acknowledged.
    pub published: RefCell<Vec<u64>>,
    /// Connections subscribed (or joined, on the floor) right now.
    pub ready: Cell<usize>,
    /// When the last connection finished recovering after a drop.
    pub last_recovery: Cell<Option<Instant>>,
    /// The first few distinct error messages.
    pub errors: RefCell<Vec<String>>,
    /// The control signal.
    pub control: watch::Sender<Control>,
}

impl Run {
    /// A run over `groups` groups.
    pub fn new(groups: usize) -> Self {
        Self {
            c: Cell::new(Counters::default()),
            latency: RefCell::new(Latency::new()),
            acks: RefCell::new(Latency::new()),
            connect: RefCell::new(Latency::new()),
            tops: RefCell::new(vec![0; groups]),
            published: RefCell::new(vec![0; groups]),
            ready: Cell::new(0),
            last_recovery: Cell::new(None),
            errors: RefCell::new(Vec::new()),
            control: watch::channel(Control::default()).0,
        }
    }

    /// Changes the counters.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.c.get();
        f(&mut c);
        self.c.set(c);
    }

    /// Keeps `message` if it is one of the first 20 distinct errors.
    pub fn error(&self, message: impl Into<String>) {
        let message = message.into();
        let mut errors = self.errors.borrow_mut();
        if errors.len() < 20 && !errors.contains(&message) {
            errors.push(message);
        }
    }

    /// Records an acknowledged message of `group` at `offset`.
    pub fn acked(&self, group: usize, offset: u64) {
        if let Some(top) = self.tops.borrow_mut().get_mut(group) {
            *top = (*top).max(offset);
        }
        if let Some(n) = self.published.borrow_mut().get_mut(group) {
            *n += 1;
        }
        self.count(|c| c.acked += 1);
    }

    /// Changes the control signal.
    pub fn steer(&self, f: impl FnOnce(&mut Control)) {
        self.control.send_modify(f);
    }

    /// Starts a publishing window of `duration` at `rate` per publisher.
    pub fn publish(&self, step: u32, rate: f64, duration: Duration) {
        let start = Instant::now();
        self.steer(|c| {
            c.plan = Some(Plan {
                step,
                rate,
                start,
                end: start + duration,
            })
        });
    }

    /// Takes the delivery and ack histograms (for per-step figures).
    pub fn take_latencies(&self) -> (Latency, Latency) {
        (
            self.latency.replace(Latency::new()),
            self.acks.replace(Latency::new()),
        )
    }
}

/// Waits until `done()` or `timeout`, polling every 10 ms; returns whether `done()`.
pub async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
