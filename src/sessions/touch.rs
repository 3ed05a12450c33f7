//! When this node last stored each session's activity, so that a busy session
//! costs one activity write per interval, not one per read.
//!
//! A time-to-idle cache: an entry older than the interval says nothing any
//! more (the next touch is due anyway), so such entries are dropped whenever
//! the map has grown past [`PRUNE_AT`] since the last sweep. The map thus
//! holds at most the sessions touched within one interval plus [`PRUNE_AT`],
//! however many sessions a long-running node has seen.

use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;
use uuid::Uuid;

/// Size past which stale entries are swept out (amortised over inserts).
pub(super) const PRUNE_AT: usize = 4096;

pub(super) struct TouchThrottle {
    interval: Duration,
    last: DashMap<Uuid, Instant>,
    /// Entries at the last sweep; the next sweep comes after `PRUNE_AT` more.
    swept_at_len: std::sync::atomic::AtomicUsize,
}

impl TouchThrottle {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: DashMap::new(),
            swept_at_len: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Whether the session's activity should be stored now.
    pub(super) fn due(&self, id: Uuid, now: Instant) -> bool {
        self.last
            .get(&id)
            .is_none_or(|last| now.saturating_duration_since(*last) >= self.interval)
    }

    /// Notes that the session's activity was stored at `now`.
    pub(super) fn record(&self, id: Uuid, now: Instant) {
        use std::sync::atomic::Ordering;
        self.last.insert(id, now);
        let len = self.last.len();
        if len >= self.swept_at_len.load(Ordering::Relaxed) + PRUNE_AT {
            let interval = self.interval;
            self.last
                .retain(|_, at| now.saturating_duration_since(*at) < interval);
            self.swept_at_len.store(self.last.len(), Ordering::Relaxed);
        }
    }

    /// Drops a deleted session.
    pub(super) fn forget(&self, id: Uuid) {
        self.last.remove(&id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_within_the_interval() {
        let throttle = TouchThrottle::new(Duration::from_secs(10));
        let id = Uuid::new_v4();
        let start = Instant::now();
        assert!(throttle.due(id, start));
        throttle.record(id, start);
        assert!(!throttle.due(id, start + Duration::from_secs(9)));
        assert!(throttle.due(id, start + Duration::from_secs(10)));
        throttle.forget(id);
        assert!(throttle.due(id, start));
    }

    #[test]
    fn stale_entries_do_not_accumulate() {
        let throttle = TouchThrottle::new(Duration::from_secs(1));
        let start = Instant::now();
        // Waves of sessions, each touched once, each wave an interval apart:
        // the old waves are swept out, so the map does not grow with them.
        let mut later = start;
        for wave in 0..8u64 {
            later = start + Duration::from_secs(5 * wave);
            for _ in 0..PRUNE_AT {
                throttle.record(Uuid::new_v4(), later);
            }
        }
        assert!(
            throttle.len() <= 2 * PRUNE_AT,
            "{} entries kept",
            throttle.len()
        );
        // Recent entries are kept and still throttle.
        let id = Uuid::new_v4();
        throttle.record(id, later);
        assert!(!throttle.due(id, later));
    }
}
