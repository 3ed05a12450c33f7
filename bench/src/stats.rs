//! Measurements: latency histograms and the offset tracker that turns the
//! offsets a connection receives into losses, duplicates and gaps.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency recorded exactly (longer ones are clamped): 10 minutes.
const MAX_MICROS: u64 = 600_000_000;

/// A latency histogram in microseconds.
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram (1 µs … 10 min, 3 significant digits).
    pub fn new() -> Self {
        match Histogram::new_with_bounds(1, MAX_MICROS, 3) {
            Ok(h) => Self(h),
            // The bounds are constants that hdrhistogram accepts.
            Err(err) => unreachable!("histogram bounds: {err}"),
        }
    }

    /// Records one latency in microseconds (clamped to 1 µs … 10 min).
    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another histogram.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// How many values.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// p50/p90/p99/max in milliseconds.
    pub fn summary(&self) -> Summary {
        let ms = |v: u64| v as f64 / 1000.0;
        Summary {
            count: self.0.len(),
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            max_ms: ms(self.0.max()),
            mean_ms: self.0.mean() / 1000.0,
        }
    }
}

/// Percentiles of a latency distribution.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
}

/// What receiving one offset meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time, in order.
    New,
    /// First time, but it skipped offsets never seen yet (a new hole).
    NewAfterGap,
    /// Already received.
    Duplicate,
    /// At or before the position the connection started from.
    BeforeStart,
}

/// The offsets one connection received on its channel since `start`.
#[derive(Debug, Clone)]
pub struct Tracker {
    start: u64,
    last: u64,
    highest: u64,
    bits: Vec<u64>,
    unique: u64,
}

impl Tracker {
    /// Counting offsets after `start` (the subscribe position).
    pub fn new(start: u64) -> Self {
        Self {
            start,
            last: start,
            highest: start,
            bits: Vec::new(),
            unique: 0,
        }
    }

    /// The position a resubscribe must recover from: the highest offset
    /// received in order (every offset up to it was received).
    pub fn position(&self) -> u64 {
        self.last
    }

    /// Offsets received at least once.
    pub fn unique(&self) -> u64 {
        self.unique
    }

    /// Records `offset`.
    pub fn record(&mut self, offset: u64) -> Seen {
        if offset <= self.start {
            return Seen::BeforeStart;
        }
        let i = (offset - self.start - 1) as usize;
        let (word, bit) = (i / 64, i % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) != 0 {
            return Seen::Duplicate;
        }
        self.bits[word] |= 1 << bit;
        self.unique += 1;
        // A new hole opens when an offset skips past the highest one seen.
        let gap = offset > self.highest + 1;
        self.highest = self.highest.max(offset);
        if offset == self.last + 1 {
            // Advance over anything received out of order before.
            self.last = offset;
            while self.has(self.last + 1) {
                self.last += 1;
            }
        }
        if gap {
            Seen::NewAfterGap
        } else {
            Seen::New
        }
    }

    fn has(&self, offset: u64) -> bool {
        if offset <= self.start {
            return true;
        }
        let i = (offset - self.start - 1) as usize;
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Offsets in `(start, top]` never received.
    pub fn missing_up_to(&self, top: u64) -> u64 {
        top.saturating_sub(self.start)
            .saturating_sub(self.unique_up_to(top))
    }

    fn unique_up_to(&self, top: u64) -> u64 {
        if top <= self.start {
            return 0;
        }
        let n = (top - self.start) as usize;
        let full = n / 64;
        let mut count: u64 = self
            .bits
            .iter()
            .take(full)
            .map(|w| u64::from(w.count_ones()))
            .sum();
        if let Some(w) = self.bits.get(full) {
            let rest = n % 64;
            if rest > 0 {
                count += u64::from((w & ((1u64 << rest) - 1)).count_ones());
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_counts_losses_duplicates_and_gaps() {
        let mut t = Tracker::new(10);
        assert_eq!(t.record(9), Seen::BeforeStart);
        assert_eq!(t.record(11), Seen::New);
        assert_eq!(t.record(11), Seen::Duplicate);
        assert_eq!(t.record(13), Seen::NewAfterGap);
        assert_eq!(t.position(), 11);
        assert_eq!(t.missing_up_to(13), 1);
        assert_eq!(t.record(12), Seen::New);
        assert_eq!(t.position(), 13, "12 closes the hole");
        assert_eq!(t.missing_up_to(13), 0);
        assert_eq!(t.missing_up_to(20), 7);
        assert_eq!(t.record(15), Seen::NewAfterGap);
        assert_eq!(t.record(16), Seen::New, "the same hole is counted once");
        for o in 14..=200 {
            t.record(o);
        }
        assert_eq!(t.unique(), 190);
        assert_eq!(t.position(), 200);
        assert_eq!(t.missing_up_to(200), 0);
        assert_eq!(t.missing_up_to(130), 0);
        assert_eq!(t.missing_up_to(5), 0);
    }

    #[test]
    fn latency_summary() {
        let mut l = Latency::new();
        assert!(l.is_empty());
        for v in 1..=1000 {
            l.record(v * 1000);
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
        let mut m = Latency::new();
        m.merge(&l);
        assert_eq!(m.len(), 1000);
    }
}
