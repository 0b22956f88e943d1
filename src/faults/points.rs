//! Named fault points: the simulator's injections at the moments where a bug would hide.
//!
//! A point is a place in the code (`fault_point!(FaultPoint::X)`) with a stable kebab-case
//! name and a probability. Under `--cfg madsim`, when the simulator installed its hook for the
//! run ([`set_hook`]), reaching the point draws from madsim's seeded RNG (so a seed replays);
//! a hit is offered to the hook, which records it in the run's history and either accepts it
//! (the point *fired*: a crash point's node is power-failed, a delay point's caller sleeps) or
//! declines it (e.g. a crash while the previous one is still being handled). Per simulation
//! thread, every point counts how often it was reached and how often it fired, for the
//! `cargo sim` summary. In every other build `fault_point!` is the constant `false`.

/// What firing a point does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The hook power-fails the node: nothing it does afterwards becomes durable, and the
    /// harness kills and restarts it.
    Crash,
    /// The caller sleeps for [`FaultPoint::delay_ms`] simulated milliseconds.
    Delay,
    /// The caller itself does something unusual but legal (a coordinator failover); the hook
    /// only records it.
    Act,
}

/// Every named fault point. The order is the summary's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultPoint {
    CrashAfterProduceAck,
    CrashAfterCommitAnswer,
    CrashWhileFsyncInFlight,
    CrashAfterSegmentRoll,
    CrashBeforeCheckpointRename,
    CrashDuringRecovery,
    SlowFsync,
    SlowWrite,
    ReorderPersistCompletion,
    CoordinatorFailover,
    CrashDuringGroupLoad,
    CrashDuringCleanSwap,
    CrashAfterVoteGranted,
}

impl FaultPoint {
    pub const ALL: [FaultPoint; 13] = [
        FaultPoint::CrashAfterProduceAck,
        FaultPoint::CrashAfterCommitAnswer,
        FaultPoint::CrashWhileFsyncInFlight,
        FaultPoint::CrashAfterSegmentRoll,
        FaultPoint::CrashBeforeCheckpointRename,
        FaultPoint::CrashDuringRecovery,
        FaultPoint::SlowFsync,
        FaultPoint::SlowWrite,
        FaultPoint::ReorderPersistCompletion,
        FaultPoint::CoordinatorFailover,
        FaultPoint::CrashDuringGroupLoad,
        FaultPoint::CrashDuringCleanSwap,
        FaultPoint::CrashAfterVoteGranted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::CrashAfterProduceAck => "crash-after-produce-ack",
            FaultPoint::CrashAfterCommitAnswer => "crash-after-commit-answer",
            FaultPoint::CrashWhileFsyncInFlight => "crash-while-fsync-in-flight",
            FaultPoint::CrashAfterSegmentRoll => "crash-after-segment-roll",
            FaultPoint::CrashBeforeCheckpointRename => "crash-before-checkpoint-rename",
            FaultPoint::CrashDuringRecovery => "crash-during-recovery",
            FaultPoint::SlowFsync => "slow-fsync",
            FaultPoint::SlowWrite => "slow-write",
            FaultPoint::ReorderPersistCompletion => "reorder-persist-completion",
            FaultPoint::CoordinatorFailover => "coordinator-failover",
            FaultPoint::CrashDuringGroupLoad => "crash-during-group-load",
            FaultPoint::CrashDuringCleanSwap => "crash-during-clean-swap",
            FaultPoint::CrashAfterVoteGranted => "crash-after-vote-granted",
        }
    }

    /// Where the point is and what firing it does (the README's table says the same).
    pub fn doc(self) -> &'static str {
        match self {
            FaultPoint::CrashAfterProduceAck => {
                "host/kafka.rs: a produce answer was written to the client socket; the disk \
                 loses power now, the node dies once the answer can have arrived"
            }
            FaultPoint::CrashAfterCommitAnswer => {
                "host/kafka.rs: an OffsetCommit answer was written to the client socket; the \
                 group coordinator's disk loses power now, the node dies once the answer can \
                 have arrived"
            }
            FaultPoint::CrashWhileFsyncInFlight => {
                "host/node.rs run_persist: a persist job (group-commit fsync) is in flight, \
                 before its ops or between two of them"
            }
            FaultPoint::CrashAfterSegmentRoll => {
                "storage/log roll: the new active segment was just created, nothing synced"
            }
            FaultPoint::CrashBeforeCheckpointRename => {
                "storage/persist.rs replace_file: the tmp file is synced, not yet renamed"
            }
            FaultPoint::CrashDuringRecovery => {
                "storage/log recovery at open: segments recovered (tails cut, indexes \
                 rebuilt) in memory, nothing synced yet"
            }
            FaultPoint::SlowFsync => {
                "host/node.rs run_persist: the fsync takes long, appends pile up behind it"
            }
            FaultPoint::SlowWrite => {
                "host/node.rs run_persist: writes are synchronous calls inside the actor, so \
                 a slow write is modelled as a short delay before the sync that follows it"
            }
            FaultPoint::ReorderPersistCompletion => {
                "host/node.rs run_persist: a job's completion is reported late, so concurrent \
                 jobs (other partitions') complete in another order than they started"
            }
            FaultPoint::CoordinatorFailover => {
                "partition/leadership.rs: a coordinator append reaches a quiet \
                 `__consumer_offsets` replica, which resigns and is elected again under a new term, no data change; the \
                 coordinator drops the partition's groups and loads them again"
            }
            FaultPoint::CrashDuringGroupLoad => {
                "group/shard.rs: a read of the coordinator's load came back, before it is \
                 applied; the node dies in the middle of the replay"
            }
            FaultPoint::CrashDuringCleanSwap => {
                "storage/log/clean/swap.rs (the swap persist job): a cleaned segment's swap \
                 just committed (renamed and the directory synced), the newer segments' not yet (after the last one, \
                 none left), the old files not yet replaced; the node dies in the middle of \
                 the log cleaner's swap"
            }
            FaultPoint::CrashAfterVoteGranted => {
                "controller/quorum.rs: a voter sends the vote it granted a candidate; its disk \
                 loses power now, the node dies once the vote can have arrived (a vote sent \
                 before it is synced is forgotten, and the voter may vote again in the term)"
            }
        }
    }

    pub fn effect(self) -> Effect {
        match self {
            FaultPoint::CrashAfterProduceAck
            | FaultPoint::CrashAfterCommitAnswer
            | FaultPoint::CrashWhileFsyncInFlight
            | FaultPoint::CrashAfterSegmentRoll
            | FaultPoint::CrashBeforeCheckpointRename
            | FaultPoint::CrashDuringRecovery
            | FaultPoint::CrashDuringGroupLoad
            | FaultPoint::CrashDuringCleanSwap
            | FaultPoint::CrashAfterVoteGranted => Effect::Crash,
            FaultPoint::SlowFsync
            | FaultPoint::SlowWrite
            | FaultPoint::ReorderPersistCompletion => Effect::Delay,
            FaultPoint::CoordinatorFailover => Effect::Act,
        }
    }

    /// Chance that reaching the point is a hit. Frequent points get a low one; rare points
    /// (a roll, an open) a high one, so each fires in a handful of seeds. Crash points are
    /// further limited by the harness (one power failure at a time, with a pause between).
    pub fn probability(self) -> f64 {
        match self {
            FaultPoint::CrashAfterProduceAck => 0.01,
            // Commits are rarer than produces (a few a second per group member), and a crash
            // point that fired recently (the gap) declines most hits.
            FaultPoint::CrashAfterCommitAnswer => 0.5,
            FaultPoint::CrashWhileFsyncInFlight => 0.02,
            FaultPoint::CrashAfterSegmentRoll => 0.2,
            FaultPoint::CrashBeforeCheckpointRename => 0.1,
            FaultPoint::CrashDuringRecovery => 0.5,
            FaultPoint::SlowFsync => 0.1,
            FaultPoint::SlowWrite => 0.05,
            FaultPoint::ReorderPersistCompletion => 0.1,
            // Reached on a coordinator's append to a quiet offsets partition: a few times a
            // second with a group.
            FaultPoint::CoordinatorFailover => 0.05,
            // Reached once per load read, and loads are rare (a restart, a failover).
            FaultPoint::CrashDuringGroupLoad => 0.5,
            // Reached once per segment a clean swaps in, every few cleaner backoffs.
            FaultPoint::CrashDuringCleanSwap => 0.5,
            // Reached once per vote granted: a few times per election.
            FaultPoint::CrashAfterVoteGranted => 0.3,
        }
    }

    /// Simulated milliseconds a delay point sleeps: `[lo, hi)`. Slow fsyncs are long enough
    /// for several appends to arrive and wait behind them.
    pub fn delay_range_ms(self) -> (u64, u64) {
        match self {
            FaultPoint::SlowFsync => (20, 250),
            FaultPoint::SlowWrite => (1, 20),
            FaultPoint::ReorderPersistCompletion => (1, 40),
            _ => (0, 1),
        }
    }

    pub fn from_name(name: &str) -> Option<FaultPoint> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Position in [`Self::ALL`] (a table index).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How often one point was reached and fired in one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PointCount {
    pub reached: u64,
    pub fired: u64,
}

/// The simulator's hook: gets each hit (with a detail for the history) and says whether it
/// fired.
#[cfg(madsim)]
pub type Hook = std::rc::Rc<dyn Fn(FaultPoint, String) -> bool>;

#[cfg(madsim)]
thread_local! {
    /// One simulation runs on one thread, so thread-locals keep parallel runs apart.
    static HOOK: std::cell::RefCell<Option<Hook>> = const { std::cell::RefCell::new(None) };
    static COUNTS: std::cell::RefCell<[PointCount; FaultPoint::ALL.len()]> =
        const { std::cell::RefCell::new([PointCount { reached: 0, fired: 0 }; FaultPoint::ALL.len()]) };
}

/// Installs (or, with `None`, removes: every point is then `false`) the simulator's hook for
/// this thread and zeroes the counts.
#[cfg(madsim)]
pub fn set_hook(hook: Option<Hook>) {
    HOOK.with(|h| *h.borrow_mut() = hook);
    COUNTS.with(|c| *c.borrow_mut() = Default::default());
}

/// This thread's counts, in [`FaultPoint::ALL`] order.
#[cfg(madsim)]
pub fn counts() -> Vec<(FaultPoint, PointCount)> {
    COUNTS.with(|c| {
        let counts = c.borrow();
        FaultPoint::ALL
            .into_iter()
            .map(|point| (point, counts[point.index()]))
            .collect()
    })
}

/// Whether `point` fires here (see the module docs). `detail` is only built for a hit.
#[cfg(madsim)]
pub fn fires(point: FaultPoint, detail: impl FnOnce() -> String) -> bool {
    let Some(hook) = HOOK.with(|h| h.borrow().clone()) else {
        return false;
    };
    COUNTS.with(|c| c.borrow_mut()[point.index()].reached += 1);
    if madsim::rand::random::<f64>() >= point.probability() {
        return false;
    }
    // Called with no borrow held: the hook may reach other points' state.
    let fired = hook(point, detail());
    if fired {
        COUNTS.with(|c| c.borrow_mut()[point.index()].fired += 1);
    }
    fired
}

/// Outside simulation no point ever fires, and `detail` is never built.
#[cfg(not(madsim))]
#[inline(always)]
pub fn fires(point: FaultPoint, detail: impl FnOnce() -> String) -> bool {
    let _ = (point, detail);
    false
}

/// A delay point's sleep, drawn from the seeded RNG.
#[cfg(madsim)]
pub fn delay(point: FaultPoint) -> std::time::Duration {
    let (lo, hi) = point.delay_range_ms();
    std::time::Duration::from_millis(lo + madsim::rand::random::<u64>() % (hi - lo).max(1))
}

/// `fault_point!(FaultPoint::X)` or `fault_point!(FaultPoint::X, detail)`: whether the named
/// point fires here. Always `false` outside `--cfg madsim` and in runs without fault points;
/// `detail` (a `String` for the history) is evaluated only when the point is hit.
#[macro_export]
macro_rules! fault_point {
    ($point:expr) => {
        $crate::faults::points::fires($point, ::std::string::String::new)
    };
    ($point:expr, $detail:expr) => {
        $crate::faults::points::fires($point, || $detail)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_round_trip() {
        let mut names: Vec<&str> = FaultPoint::ALL.iter().map(|p| p.name()).collect();
        for (i, point) in FaultPoint::ALL.into_iter().enumerate() {
            assert_eq!(point.index(), i, "ALL is in declaration order");
            assert_eq!(FaultPoint::from_name(point.name()), Some(point));
            assert!(point
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(point.probability() > 0.0 && point.probability() <= 1.0);
            assert!(!point.doc().is_empty());
            let (lo, hi) = point.delay_range_ms();
            assert!(lo < hi);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FaultPoint::ALL.len());
        assert_eq!(FaultPoint::from_name("no-such-point"), None);
    }

    #[test]
    fn no_point_fires_outside_an_enabled_simulation() {
        for point in FaultPoint::ALL {
            assert!(!crate::fault_point!(point));
            assert!(!crate::fault_point!(point, format!("{point:?}")));
        }
    }
}
