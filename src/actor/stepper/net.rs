//! What the stepper's network does to a message between nodes.

use std::ops::Range;

use rand::rngs::SmallRng;
use rand::Rng;

/// What the network does to each message between nodes. Probabilities are in `0.0..=1.0`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetFaults {
    /// Chance that a message is lost.
    pub drop: f64,
    /// Chance that a message (not lost) arrives twice; each copy has its own delay.
    pub duplicate: f64,
    /// Delivery delay, drawn per copy: a range wider than one value reorders messages. An empty
    /// range means exactly `delay_ms.start`.
    pub delay_ms: Range<u64>,
}

impl NetFaults {
    /// A perfect network: nothing lost or duplicated, everything delivered at once, in order.
    pub const NONE: Self = Self {
        drop: 0.0,
        duplicate: 0.0,
        delay_ms: 0..0,
    };

    pub(super) fn delay(&self, rng: &mut SmallRng) -> u64 {
        if self.delay_ms.is_empty() {
            self.delay_ms.start
        } else {
            rng.gen_range(self.delay_ms.clone())
        }
    }
}
