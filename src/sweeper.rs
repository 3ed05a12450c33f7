//! The sweeper (SPEC §2): sessions nobody touches become `abandoned` after
//! `abandon_after`, `archived` after `archive_after` more, and — when
//! `delete_archived_after` is set — are deleted that long after archiving.
//!
//! Every node runs one. A sweep reads the engine's idle index
//! ([`SessionStore::due_sessions`](crate::sessions::store::SessionStore::due_sessions)),
//! so it costs what is due, not what exists. Each transition goes through
//! [`SessionService::sweep_transition`]: a compare-and-set on the record's
//! version and its last activity, so two nodes sweeping the same session, or a
//! write or activity ping arriving during the sweep, never produce a double
//! transition or abandon a session that just became active again. See
//! `docs/sweeper.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::channels;
use crate::engine::Engine;
use crate::observe::{Metrics, SweepCounts};
use crate::sessions::model::{SessionStatus, Timestamp};
use crate::sessions::status::Transition;
use crate::sessions::store::quiet_since;
use crate::sessions::{DomainError, SessionService};

/// Where the sweeper's "now" comes from (injected so it can be replaced).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// The sweeper's settings.
#[derive(Debug, Clone)]
pub struct SweeperConfig {
    /// Idle time after which an active session is abandoned.
    pub abandon_after: Duration,
    /// Time after abandonment at which a session is archived.
    pub archive_after: Duration,
    /// Time between sweeps.
    pub interval: Duration,
    /// Time after archiving at which a session is deleted (off when `None`).
    pub delete_archived_after: Option<Duration>,
    /// Sessions read from the index per request.
    pub batch: usize,
    /// At most this many sessions examined per phase and sweep (the rest waits
    /// for the next sweep).
    pub max_per_sweep: usize,
    /// Due sessions handled at the same time.
    pub concurrency: usize,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        Self {
            abandon_after: Duration::from_secs(24 * 3600),
            archive_after: Duration::from_secs(7 * 24 * 3600),
            interval: Duration::from_secs(60),
            delete_archived_after: None,
            batch: 500,
            max_per_sweep: 20_000,
            concurrency: 16,
        }
    }
}

/// What one sweep did (the same counts the metrics record).
pub type SweepReport = SweepCounts;

impl SweepReport {
    /// Transitions made (abandon + archive + delete).
    pub fn transitions(&self) -> u64 {
        self.abandoned + self.archived + self.deleted
    }
}

/// The three things a sweep does, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Abandon,
    Archive,
    Delete,
}

impl Phase {
    fn status(self) -> SessionStatus {
        match self {
            Phase::Abandon => SessionStatus::Active,
            Phase::Archive => SessionStatus::Abandoned,
            Phase::Delete => SessionStatus::Archived,
        }
    }
}

/// What happened to one due session.
enum Handled {
    Done,
    Refreshed,
    Skipped,
}

/// The background sweeper of one node. Cheap to clone.
#[derive(Clone)]
pub struct Sweeper {
    inner: Arc<Inner>,
}

struct Inner {
    service: SessionService,
    engine: Arc<dyn Engine>,
    config: SweeperConfig,
    clock: Arc<dyn Clock>,
    /// Where each sweep's counts go (`tandem_sweep*` series).
    metrics: Metrics,
}

impl Sweeper {
    /// A sweeper over `service` (and its `engine`) on the system clock,
    /// counting its work in `metrics`.
    pub fn new(
        service: SessionService,
        engine: Arc<dyn Engine>,
        config: SweeperConfig,
        metrics: Metrics,
    ) -> Self {
        Self::with_clock(service, engine, config, metrics, Arc::new(SystemClock))
    }

    /// A sweeper whose "now" comes from `clock`.
    pub fn with_clock(
        service: SessionService,
        engine: Arc<dyn Engine>,
        config: SweeperConfig,
        metrics: Metrics,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                engine,
                config,
                clock,
                metrics,
            }),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &SweeperConfig {
        &self.inner.config
    }

    /// Sweeps every `interval` (the first one after one interval) until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let period = self.inner.config.interval;
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    let now = self.inner.clock.now();
                    self.sweep(now, Some(&stop)).await;
                }
            }
        }
    }

    /// One sweep at `now`: abandon, archive, delete what is due.
    pub async fn sweep_once(&self, now: Timestamp) -> SweepReport {
        self.sweep(now, None).await
    }

    async fn sweep(&self, now: Timestamp, stop: Option<&CancellationToken>) -> SweepReport {
        let started = Instant::now();
        let mut report = SweepReport::default();
        let config = &self.inner.config;
        let phases = [
            (Phase::Abandon, Some(config.abandon_after)),
            (Phase::Archive, Some(config.archive_after)),
            (Phase::Delete, config.delete_archived_after),
        ];
        for (phase, after) in phases {
            if let Some(after) = after {
                self.phase(phase, now, after, stop, &mut report).await;
            }
        }
        report.duration = started.elapsed();
        self.record(&report);
        let duration_ms = report.duration.as_secs_f64() * 1000.0;
        if report.transitions() > 0 || report.errors > 0 || report.refreshed > 0 {
            tracing::info!(
                examined = report.examined,
                abandoned = report.abandoned,
                archived = report.archived,
                deleted = report.deleted,
                refreshed = report.refreshed,
                skipped = report.skipped,
                errors = report.errors,
                duration_ms,
                "sweep"
            );
        } else {
            tracing::debug!(examined = report.examined, duration_ms, "sweep");
        }
        report
    }

    /// Counts the sweep in the metrics (`tandem_sweeps_total`,
    /// `tandem_sweeper_transitions_total`, `tandem_sweeper_sessions_total`,
    /// `tandem_sweep_seconds`).
    fn record(&self, r: &SweepReport) {
        self.inner.metrics.sweep(r);
    }

    /// Handles the sessions of one phase that are due at `now`, batch by batch.
    async fn phase(
        &self,
        phase: Phase,
        now: Timestamp,
        after: Duration,
        stop: Option<&CancellationToken>,
        report: &mut SweepReport,
    ) {
        let Some(cutoff) = chrono::Duration::from_std(after)
            .ok()
            .and_then(|d| now.checked_sub_signed(d))
        else {
            return;
        };
        let config = &self.inner.config;
        let batch = config.batch.max(1);
        let mut budget = config.max_per_sweep.max(1);
        while budget > 0 {
            let limit = batch.min(budget);
            let ids = match self
                .inner
                .engine
                .due_sessions(phase.status(), cutoff, limit)
                .await
            {
                Ok(ids) => ids,
                Err(err) => {
                    tracing::warn!(error = %err, ?phase, "sweep: cannot read the idle index");
                    report.errors += 1;
                    return;
                }
            };
            let fetched = ids.len();
            let mut moved = false;
            // The sessions of a batch are independent: handled concurrently
            // (on Redis the round trips of one overlap the others'), at most
            // `concurrency` at a time.
            let results: Vec<(Uuid, Result<Option<Handled>, DomainError>)> =
                futures_util::stream::iter(ids)
                    .map(|id| async move {
                        if stop.is_some_and(CancellationToken::is_cancelled) {
                            return (id, Ok(None));
                        }
                        (id, self.handle(phase, id, cutoff, now).await)
                    })
                    .buffer_unordered(config.concurrency.max(1))
                    .collect()
                    .await;
            if stop.is_some_and(CancellationToken::is_cancelled) {
                return;
            }
            for (id, result) in results {
                report.examined += 1;
                match result {
                    Ok(Some(Handled::Done)) => {
                        moved = true;
                        match phase {
                            Phase::Abandon => report.abandoned += 1,
                            Phase::Archive => report.archived += 1,
                            Phase::Delete => report.deleted += 1,
                        }
                    }
                    Ok(Some(Handled::Refreshed)) => {
                        moved = true;
                        report.refreshed += 1;
                    }
                    Ok(Some(Handled::Skipped)) => {
                        // Someone else changed it: it left this part of the index.
                        moved = true;
                        report.skipped += 1;
                    }
                    Ok(None) => report.skipped += 1,
                    Err(err) => {
                        tracing::warn!(error = %err, session = %id, ?phase, "sweep: session not handled");
                        report.errors += 1;
                    }
                }
            }
            budget = budget.saturating_sub(fetched);
            // A short batch means nothing more is due; a batch where nothing
            // moved would be read again identically.
            if fetched < limit || !moved {
                return;
            }
        }
    }

    /// One due session. `Ok(None)`: the index entry is not (yet) due after all.
    async fn handle(
        &self,
        phase: Phase,
        id: Uuid,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Handled>, DomainError> {
        let engine = &self.inner.engine;
        let service = &self.inner.service;
        let Some(record) = engine.load(id).await? else {
            return Ok(Some(Handled::Skipped));
        };
        if record.session.status != phase.status() {
            return Ok(Some(Handled::Skipped));
        }
        if quiet_since(&record.session) > cutoff {
            return Ok(None);
        }
        let done = match phase {
            Phase::Abandon => {
                let present = engine.presence(&channels::session(id)).await?;
                if !present.is_empty() {
                    // Someone has it open: that is activity. Refreshed at most
                    // once per `abandon_after` per session.
                    engine.touch(id, now).await?;
                    return Ok(Some(Handled::Refreshed));
                }
                service
                    .sweep_transition(&record, Transition::Abandon, now)
                    .await?
            }
            Phase::Archive => {
                service
                    .sweep_transition(&record, Transition::Archive, now)
                    .await?
            }
            Phase::Delete => service.sweep_delete(id, now).await?,
        };
        Ok(Some(if done {
            Handled::Done
        } else {
            Handled::Skipped
        }))
    }
}
