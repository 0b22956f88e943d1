//! Log lines a remote party can cause (refused connections, failed TLS handshakes, failed
//! logins) are counted, and said at info only when the count reaches a power of two (1, 2,
//! 4, 8, …): the first is always seen, a flood costs a log line per doubling, and every one
//! stays at debug.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count whose powers of two are worth a line at info.
#[derive(Debug, Default)]
pub struct PowersOfTwo(AtomicU64);

impl PowersOfTwo {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Counts one more and returns the count, and whether it is a power of two.
    pub fn count(&self) -> (u64, bool) {
        let count = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        (count, count.is_power_of_two())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_powers_of_two_are_loud() {
        let counter = PowersOfTwo::new();
        let loud: Vec<u64> = (0..100)
            .map(|_| counter.count())
            .filter(|(_, loud)| *loud)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(loud, [1, 2, 4, 8, 16, 32, 64]);
    }
}
