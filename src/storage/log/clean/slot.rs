//! A clean run as persist jobs, in two phases. [`PersistOp::Clean`]: the [`CleanJob`] goes in
//! when the log's owner plans it, the [`Cleaned`] result comes out when the owner hears the job
//! completed. [`PersistOp::SwapCleaned`]: the [`SwapJob`] the owner made of it once the pins
//! held goes in, the [`Swapped`] segments (or the error) come out for [`Log::swap_done`].
//! Actor messages are bytes, so a job holding open files travels beside them in this shared
//! slot, the way persist jobs already carry their files.
//!
//! [`PersistOp::Clean`]: crate::storage::persist::PersistOp::Clean
//! [`PersistOp::SwapCleaned`]: crate::storage::persist::PersistOp::SwapCleaned
//! [`Log::swap_done`]: crate::storage::log::Log::swap_done

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{CleanJob, Cleaned, SwapJob, Swapped};
use crate::storage::log::LogError;

enum State {
    Planned(CleanJob),
    Done(Cleaned),
    Swap(SwapJob),
    Swapped(Result<Swapped, LogError>),
    Empty,
}

/// The slot shared by the owner and the persist job running one phase of its clean.
#[derive(Clone)]
pub struct CleanSlot(Arc<Mutex<State>>);

impl std::fmt::Debug for CleanSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CleanSlot")
    }
}

impl CleanSlot {
    pub fn new(job: CleanJob) -> Self {
        Self(Arc::new(Mutex::new(State::Planned(job))))
    }

    /// The slot of a clean's second phase: the swap the owner decided on.
    pub fn swap(job: SwapJob) -> Self {
        Self(Arc::new(Mutex::new(State::Swap(job))))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the planned job (step 1: the key map and the synced `.cleaned` files) or the swap
    /// (steps 2–5). Running it again is a no-op, so a retried persist job does not clean or
    /// swap twice.
    pub fn run(&self) -> io::Result<()> {
        let taken = std::mem::replace(&mut *self.state(), State::Empty);
        match taken {
            State::Planned(job) => {
                let cleaned = job
                    .run(&mut |_| {})
                    .map_err(|e| io::Error::other(e.to_string()))?;
                *self.state() = State::Done(cleaned);
                Ok(())
            }
            State::Swap(job) => {
                let swapped = job.run();
                let error = swapped
                    .as_ref()
                    .err()
                    .map(|e| io::Error::other(e.to_string()));
                *self.state() = State::Swapped(swapped);
                error.map_or(Ok(()), Err)
            }
            other => {
                *self.state() = other;
                Ok(())
            }
        }
    }

    /// The finished clean, once: the owner swaps it in.
    pub fn take(&self) -> Option<Cleaned> {
        match std::mem::replace(&mut *self.state(), State::Empty) {
            State::Done(cleaned) => Some(cleaned),
            _ => None,
        }
    }

    /// The finished swap, once (`None` if it never ran): the owner installs it.
    pub fn take_swapped(&self) -> Option<Result<Swapped, LogError>> {
        match std::mem::replace(&mut *self.state(), State::Empty) {
            State::Swapped(swapped) => Some(swapped),
            _ => None,
        }
    }
}
