//! The process's file descriptor limit, read (and raised) once at start-up, and the budget
//! derived from it: how many log files may stay open and the default `max.connections`.
//!
//! Like many servers, `rill server` raises its soft `RLIMIT_NOFILE` to the hard limit: the
//! soft limit is often 1024 while the hard one allows far more, and a broker that runs out of
//! descriptors fails appends and, before issue 9, could not start again.

use crate::limits::{fd_share_connections, fd_share_log_files};

/// The descriptor limit the server runs with, and how it is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// The soft limit after raising it (what `open` and `accept` are held to).
    pub soft: u64,
    pub hard: u64,
    /// The soft limit found at start, when it was raised.
    pub raised_from: Option<u64>,
}

impl FdBudget {
    /// A budget for a known limit (tests; the simulator, which has no process limit).
    pub fn fixed(limit: u64) -> Self {
        Self {
            soft: limit,
            hard: limit,
            raised_from: None,
        }
    }

    /// Log files the storage keeps open at most.
    pub fn log_open_files(&self) -> usize {
        usize::try_from(fd_share_log_files(self.soft)).unwrap_or(usize::MAX)
    }

    /// `max.connections` when the configuration does not set it.
    pub fn max_connections_default(&self) -> u64 {
        fd_share_connections(self.soft)
    }

    /// Reads `RLIMIT_NOFILE` and raises the soft limit to the hard one (an unlimited hard limit
    /// is left alone: the kernel caps the soft limit at `fs.nr_open` anyway). Falls back to
    /// 1024, the common default, if the limit cannot be read.
    #[cfg(not(madsim))]
    pub fn raise_and_read() -> Self {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a valid pointer.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "cannot read the file descriptor limit; assuming 1024"
            );
            return Self::fixed(1024);
        }
        let found = limit.rlim_cur as u64;
        let mut budget = Self {
            soft: found,
            hard: limit.rlim_max as u64,
            raised_from: None,
        };
        if limit.rlim_cur < limit.rlim_max && limit.rlim_max != libc::RLIM_INFINITY {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads one `rlimit` through a valid pointer.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                budget.soft = limit.rlim_max as u64;
                budget.raised_from = Some(found);
            }
        }
        budget
    }

    /// Under the simulator there is no process limit to read: a typical one.
    #[cfg(madsim)]
    pub fn raise_and_read() -> Self {
        Self::fixed(65_536)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_and_log_files_stay_inside_the_limit() {
        for limit in [64u64, 256, 1024, 20_000, 1 << 20] {
            let budget = FdBudget::fixed(limit);
            let used = budget.log_open_files() as u64
                + budget.max_connections_default()
                + crate::limits::FD_RESERVED;
            assert!(used <= limit.max(64 + 16 + 1), "limit {limit}: {used}");
            assert!(budget.max_connections_default() >= 1);
        }
        assert_eq!(FdBudget::fixed(256).max_connections_default(), 96);
        assert_eq!(FdBudget::fixed(256).log_open_files(), 48);
    }
}
