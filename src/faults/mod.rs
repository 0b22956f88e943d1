//! Fault points and canary bugs for the simulator. All of it compiles to nothing (or to
//! `false`) in a normal build.
//!
//! * [`buggify!`](crate::buggify) — `true` now and then, only under `--cfg madsim` and only when
//!   the simulator enabled buggify for the run (the draw comes from the simulator's seeded RNG,
//!   so a seed replays exactly). Put it where an injected delay or failure exercises a path
//!   that real networks and disks take rarely.
//! * [`points`] — *named* fault points at the dangerous moments (crash after an ack, while an
//!   fsync is in flight, …): [`fault_point!`](crate::fault_point) asks the simulator's hook,
//!   which records every firing in the run's history and counts it in the summary.
//! * [`observe`] — what the checker watches inside the nodes (each voter's applied metadata
//!   entries), recorded only in simulation.
//! * [`canary`] — deliberately planted bugs that the simulator switches on one at a time to
//!   prove its checker catches them (`cargo sim --canary NAME`). Never on outside simulation.

pub mod canary;
pub mod observe;
pub mod points;

#[cfg(madsim)]
pub use canary::set_canary;
pub use canary::{canary, Canary};
pub use points::FaultPoint;

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
