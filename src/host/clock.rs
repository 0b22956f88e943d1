//! Time for actors. Under madsim both clocks are virtual and seeded, so runs repeat exactly.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::actor::Now;

/// A node's clock: monotonic time counts from the node's start.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    started: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    pub fn now(&self) -> Now {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mono_ms = Instant::now().duration_since(self.started).as_millis() as u64;
        Now { unix_ms, mono_ms }
    }

    /// The instant `after_ms` from now, for timers.
    pub fn deadline(after_ms: u64) -> Instant {
        Instant::now() + std::time::Duration::from_millis(after_ms)
    }
}
