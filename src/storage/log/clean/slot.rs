//! A [`CleanJob`] run as a persist job ([`crate::storage::persist::PersistOp::Clean`]): the
//! job goes in when the log's owner plans it, the [`Cleaned`] result comes out when the owner
//! hears the job completed. Actor messages are bytes, so a job holding open files travels
//! beside them in this shared slot, the way persist jobs already carry their files.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{CleanJob, Cleaned};

enum State {
    Planned(CleanJob),
    Done(Cleaned),
    Empty,
}

/// The slot shared by the owner and the persist job running its clean.
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

    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs the planned job (step 1: the key map and the synced `.cleaned` files). Running
    /// it again is a no-op, so a retried persist job does not clean twice.
    pub fn run(&self) -> io::Result<()> {
        let job = match std::mem::replace(&mut *self.state(), State::Empty) {
            State::Planned(job) => job,
            other => {
                *self.state() = other;
                return Ok(());
            }
        };
        let cleaned = job
            .run(&mut |_| {})
            .map_err(|e| io::Error::other(e.to_string()))?;
        *self.state() = State::Done(cleaned);
        Ok(())
    }

    /// The finished clean, once: the owner swaps it in.
    pub fn take(&self) -> Option<Cleaned> {
        match std::mem::replace(&mut *self.state(), State::Empty) {
            State::Done(cleaned) => Some(cleaned),
            _ => None,
        }
    }
}
