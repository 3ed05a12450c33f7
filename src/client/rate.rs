//! A token bucket limiting commands per connection.

use tokio::time::Instant;

/// Allows `rate` commands per second with a burst of `rate`; 0 disables it.
pub(super) struct RateLimiter {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub(super) fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second);
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes a token if one is available.
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let start = Instant::now();
        let mut r = RateLimiter::new(3, start);
        assert!(r.allow(start) && r.allow(start) && r.allow(start));
        assert!(!r.allow(start));
        assert!(r.allow(start + Duration::from_millis(400)));
        assert!(RateLimiter::new(0, start).allow(start));
    }
}
