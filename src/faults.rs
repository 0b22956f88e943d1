//! Fault points and canary bugs for the simulator. Both compile to nothing in a normal build.
//!
//! * [`buggify!`](crate::buggify) — `true` now and then, only under `--cfg madsim` and only when
//!   the simulator enabled buggify for the run (the draw comes from the simulator's seeded RNG,
//!   so a seed replays exactly). Put it where an injected delay or failure exercises a path
//!   that real networks and disks take rarely.
//! * [`canary`] — deliberately planted bugs that the simulator switches on one at a time to
//!   prove its checker catches them (`cargo sim --canary NAME`). Never on outside simulation.

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canary {
    /// acks=all is answered right after the append, before the fsync that makes it durable.
    AckBeforeFsync,
    /// The first append after a partition is opened is acknowledged one offset too low,
    /// reusing an offset that already holds another record.
    ReuseOffsetAfterRecovery,
    /// Idempotent retries are appended again instead of being recognised as duplicates.
    SkipIdempotenceCheck,
    /// Opening a partition after a restart drops its last batch.
    DropLastBatchOnRestart,
    /// A produce waiting on a sync that failed is acknowledged anyway (as if the retried
    /// fsync, which succeeds after fsyncgate dropped the bytes, had made it durable).
    AckAfterFailedSync,
}

impl Canary {
    pub const ALL: [Canary; 5] = [
        Canary::AckBeforeFsync,
        Canary::ReuseOffsetAfterRecovery,
        Canary::SkipIdempotenceCheck,
        Canary::DropLastBatchOnRestart,
        Canary::AckAfterFailedSync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Canary::AckBeforeFsync => "ack-before-fsync",
            Canary::ReuseOffsetAfterRecovery => "reuse-offset-after-recovery",
            Canary::SkipIdempotenceCheck => "skip-idempotence-check",
            Canary::DropLastBatchOnRestart => "drop-last-batch-on-restart",
            Canary::AckAfterFailedSync => "ack-after-failed-sync",
        }
    }

    pub fn from_name(name: &str) -> Option<Canary> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    #[cfg(madsim)]
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

#[cfg(madsim)]
thread_local! {
    /// One simulation runs on one thread, so a thread-local keeps parallel runs apart.
    static CANARIES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Switches the planted bug on for this simulation thread (simulation builds only).
#[cfg(madsim)]
pub fn set_canary(canary: Option<Canary>) {
    CANARIES.with(|c| c.set(canary.map_or(0, Canary::bit)));
}

/// Whether the planted bug is on. Always `false` outside simulation.
#[inline]
pub fn canary(canary: Canary) -> bool {
    #[cfg(madsim)]
    {
        CANARIES.with(|c| c.get() & canary.bit() != 0)
    }
    #[cfg(not(madsim))]
    {
        let _ = canary;
        false
    }
}

/// `true` with probability `p` when the simulator enabled buggify; always `false` otherwise.
#[inline]
pub fn buggify_with_prob(p: f64) -> bool {
    #[cfg(madsim)]
    {
        madsim::buggify::buggify_with_prob(p)
    }
    #[cfg(not(madsim))]
    {
        let _ = p;
        false
    }
}

/// `buggify!()` fires with 5 % probability, `buggify!(p)` with probability `p`, in simulation
/// runs that enabled it; it is `false` in every other build.
#[macro_export]
macro_rules! buggify {
    () => {
        $crate::faults::buggify_with_prob(0.05)
    };
    ($p:expr) => {
        $crate::faults::buggify_with_prob($p)
    };
}
