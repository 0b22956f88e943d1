//! The cleaner's I/O bound, `log.cleaner.io.max.bytes.per.second` (Kafka's `Throttler`, as the
//! log cleaner uses it: checked every 300 ms). Pure: it says how long to sleep, the caller
//! sleeps (a host task, so the wall clock stays out of the log).

/// How often the observed rate is compared with the bound (Kafka's cleaner uses 300 ms).
pub const CHECK_INTERVAL_MS: u64 = 300;

/// Paces a stream of bytes to at most `bytes_per_second`, on average over each check
/// interval.
#[derive(Debug, Clone)]
pub struct Throttler {
    bytes_per_second: f64,
    period_start_ms: u64,
    observed_bytes: f64,
}

impl Throttler {
    /// A throttler whose first period starts at `now_ms` (a monotonic clock). A bound that is
    /// not a positive number never throttles (Kafka's default is `Double.MAX_VALUE`).
    pub fn new(bytes_per_second: f64, now_ms: u64) -> Self {
        Self {
            bytes_per_second,
            period_start_ms: now_ms,
            observed_bytes: 0.0,
        }
    }

    /// Counts `bytes` done at `now_ms`; returns how long to sleep before going on (0 most of
    /// the time): once a check interval has passed, the sleep that brings the interval's
    /// average down to the bound. The next period starts when the sleep ends.
    pub fn observe(&mut self, bytes: u64, now_ms: u64) -> u64 {
        self.observed_bytes += bytes as f64;
        let elapsed_ms = now_ms.saturating_sub(self.period_start_ms);
        if elapsed_ms <= CHECK_INTERVAL_MS || self.observed_bytes <= 0.0 {
            return 0;
        }
        let sleep_ms = if self.bytes_per_second > 0.0 && self.bytes_per_second.is_finite() {
            let needed_ms = self.observed_bytes * 1000.0 / self.bytes_per_second;
            (needed_ms - elapsed_ms as f64).round().max(0.0) as u64
        } else {
            0
        };
        self.period_start_ms = now_ms.saturating_add(sleep_ms);
        self.observed_bytes = 0.0;
        sleep_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_only_after_an_interval_and_only_to_reach_the_bound() {
        let mut t = Throttler::new(1_000.0, 0);
        assert_eq!(t.observe(5_000, 100), 0, "the interval has not passed");
        // 5,400 bytes in 400 ms at 1,000 B/s need 5,400 ms: sleep the other 5,000.
        assert_eq!(t.observe(400, 400), 5_000);
        // The next period starts after the sleep: 100 bytes in 500 ms is under the bound.
        assert_eq!(t.observe(100, 5_900), 0);
        assert_eq!(t.observe(0, 5_950), 0, "the period restarted");
    }

    #[test]
    fn an_unbounded_or_nonsense_rate_never_sleeps() {
        for rate in [f64::MAX, f64::INFINITY, 0.0, -1.0, f64::NAN] {
            let mut t = Throttler::new(rate, 0);
            assert_eq!(t.observe(u64::MAX, 1_000), 0, "{rate}");
        }
    }

    #[test]
    fn paced_bytes_average_to_the_bound() {
        // A reader doing 1,000 bytes every 10 ms (100 kB/s) against a 20 kB/s bound.
        let (mut t, mut now, mut slept) = (Throttler::new(20_000.0, 0), 0u64, 0u64);
        for _ in 0..1_000 {
            now += 10;
            let sleep = t.observe(1_000, now);
            now += sleep;
            slept += sleep;
        }
        let rate = 1_000_000.0 * 1000.0 / now as f64;
        assert!((19_500.0..=20_500.0).contains(&rate), "{rate} B/s");
        assert!(slept > 0);
    }
}
