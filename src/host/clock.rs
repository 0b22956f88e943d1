//! Time for actors. Under madsim both clocks are virtual and seeded, so runs repeat exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::actor::cell::CellNow;
use crate::actor::Now;
use crate::broker::service::MonoClock;

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

    /// The time to hand a cell: one clock reading, in milliseconds for the actor and in
    /// nanoseconds for timer deadlines.
    pub fn now(&self) -> CellNow {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let elapsed = Instant::now().duration_since(self.started);
        CellNow {
            now: Now {
                unix_ms,
                mono_ms: elapsed.as_millis() as u64,
            },
            mono_ns: elapsed.as_nanos() as u64,
        }
    }

    /// The instant a cell's deadline (monotonic nanoseconds) stands for. Exact: a deadline set
    /// `after_ms` after a reading is that reading's instant plus `after_ms`.
    pub fn instant_at(&self, mono_ns: u64) -> Instant {
        let far_future = || self.started + Duration::from_secs(86_400 * 365 * 30);
        self.started
            .checked_add(Duration::from_nanos(mono_ns))
            .unwrap_or_else(far_future)
    }
}

/// The gateway's clock ([`crate::broker::service::MonoClock`]): the same monotonic time the
/// node's actors get, virtual under madsim.
impl MonoClock for Clock {
    fn now_ns(&self) -> u64 {
        let elapsed = Instant::now().duration_since(self.started);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }
}
