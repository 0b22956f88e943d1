//! Group commit: one fsync serves every append that was waiting when it started.
//!
//! [`GroupCommit`] is the pure bookkeeping a host keeps next to a [`super::log::Log`]: who
//! waits for which offset to be acknowledged ([`OffsetWaiters`]), whether a sync is in flight,
//! and — when a sync completes — which waiters are now satisfied and whether another sync must
//! start for the appends that arrived meanwhile. It performs no I/O, so it is unit-tested
//! directly.
//!
//! The watermark the waiters key on is the host's acknowledgement offset: the durable (synced)
//! offset, capped by the high watermark where followers exist (`partition::replica`). On one
//! node the high watermark is the log end, so it is the durable offset.
//!
//! Typical host loop (acks wait for durability):
//! ```text
//! info = log.append(..)?;
//! if let Some(t) = gc.wait(Offset(info.last_offset + 1), token) { reply(t) }   // already acked
//! if gc.should_start() { let (h, p) = log.flush_job().expect("unsynced appends to flush"); gc.started(p.covers_offset); spawn(h.sync()) }
//! // ... when that sync returns Ok:
//! log.flushed(p);
//! let done = gc.synced(ack_offset /* min(log.synced_offset(), high watermark) */);
//! reply to done.ready; if done.start_another { start the next sync as above }
//! ```

use super::waiters::OffsetWaiters;
use crate::types::Offset;

/// Waiters for the acknowledgement offset, and the sync in flight.
#[derive(Debug)]
pub struct GroupCommit<T> {
    waiters: OffsetWaiters<T>,
    /// `covers_offset` of the sync running now.
    in_flight: Option<i64>,
}

/// Outcome of a completed sync.
#[derive(Debug, PartialEq, Eq)]
pub struct Synced<T> {
    /// Tokens whose offsets are now acknowledged, in offset order.
    pub ready: Vec<T>,
    /// Waiters remain beyond what was synced and no sync runs: start one.
    pub start_another: bool,
}

impl<T> GroupCommit<T> {
    pub fn new(acked: Offset) -> Self {
        Self {
            waiters: OffsetWaiters::new(acked),
            in_flight: None,
        }
    }

    /// Every offset below this is acknowledged.
    pub fn acked_offset(&self) -> Offset {
        self.waiters.reached()
    }

    /// `covers_offset` of the sync in flight, if any.
    pub fn in_flight(&self) -> Option<i64> {
        self.in_flight
    }

    /// Number of tokens waiting.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Registers `token` as waiting until every offset below `end_offset` is acknowledged.
    /// Returns the token back at once if that is already the case.
    pub fn wait(&mut self, end_offset: Offset, token: T) -> Option<T> {
        self.waiters.wait(end_offset, token)
    }

    /// Whether the host should start a sync now: someone waits and none is running.
    pub fn should_start(&self) -> bool {
        self.in_flight.is_none() && !self.waiters.is_empty()
    }

    /// The host started a sync covering offsets below `covers_offset`.
    pub fn started(&mut self, covers_offset: i64) {
        assert!(
            self.in_flight.is_none(),
            "one sync at a time: wait for synced() first"
        );
        self.in_flight = Some(covers_offset);
    }

    /// The sync in flight completed and offsets below `acked` are acknowledged (the durable
    /// offset after `Log::flushed`, capped by the high watermark). Returns the satisfied tokens.
    pub fn synced(&mut self, acked: Offset) -> Synced<T> {
        self.in_flight = None;
        let ready = self.waiters.advance(acked);
        Synced {
            ready,
            start_another: !self.waiters.is_empty(),
        }
    }

    /// Offsets below `acked` are acknowledged without a sync completing (the high watermark
    /// moved: a follower caught up). Returns the satisfied tokens; a sync in flight stays.
    pub fn advanced(&mut self, acked: Offset) -> Vec<T> {
        self.waiters.advance(acked)
    }

    /// Removes the waiters `pred` selects (their request gave up, e.g. timed out); a later
    /// sync no longer finds them.
    pub fn take(&mut self, pred: impl FnMut(&T) -> bool) -> Vec<T> {
        self.waiters.take(pred)
    }

    /// The sync failed (the log is unusable until reopened): returns every waiter so each
    /// can be answered with an error.
    pub fn failed(&mut self) -> Vec<T> {
        self.in_flight = None;
        self.waiters.fail_all()
    }

    /// The log was truncated or restarted (e.g. the leader became a follower): waiters can
    /// no longer be satisfied as asked; returns them all and restarts at `acked`.
    /// A sync still in flight will report through [`GroupCommit::synced`] as usual.
    pub fn reset(&mut self, acked: Offset) -> Vec<T> {
        self.waiters.reset(acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_durable_returns_at_once() {
        let mut gc = GroupCommit::new(Offset(10));
        assert_eq!(gc.wait(Offset(10), "a"), Some("a"));
        assert_eq!(gc.wait(Offset(5), "b"), Some("b"));
        assert!(!gc.should_start());
    }

    #[test]
    fn one_sync_serves_everyone_waiting_and_late_arrivals_trigger_another() {
        let mut gc = GroupCommit::new(Offset(0));
        assert_eq!(gc.wait(Offset(3), 'a'), None);
        assert_eq!(gc.wait(Offset(5), 'b'), None);
        assert!(gc.should_start());
        gc.started(5);
        assert_eq!(gc.in_flight(), Some(5));
        // Appends arriving while the sync runs do not start another.
        assert_eq!(gc.wait(Offset(9), 'c'), None);
        assert!(!gc.should_start());
        let done = gc.synced(Offset(5));
        assert_eq!(done.ready, vec!['a', 'b']);
        assert!(done.start_another, "'c' still needs a sync");
        assert_eq!(gc.waiting(), 1, "'c' waits");
        assert_eq!(gc.acked_offset(), Offset(5));
        gc.started(9);
        let done = gc.synced(Offset(9));
        assert_eq!(done.ready, vec!['c']);
        assert!(!done.start_another);
        assert_eq!(gc.waiting(), 0);
    }

    #[test]
    fn a_sync_covering_less_than_some_waiters_releases_only_the_covered() {
        let mut gc = GroupCommit::new(Offset(0));
        gc.wait(Offset(2), 1);
        gc.wait(Offset(4), 2);
        gc.wait(Offset(4), 3);
        gc.wait(Offset(6), 4);
        gc.started(4);
        let done = gc.synced(Offset(4));
        assert_eq!(done.ready, vec![1, 2, 3]);
        assert!(done.start_another);
        // A stale (lower) report never moves durability back.
        gc.started(4);
        let done = gc.synced(Offset(1));
        assert!(done.ready.is_empty());
        assert_eq!(gc.acked_offset(), Offset(4));
    }

    #[test]
    fn failure_and_reset_hand_back_every_waiter() {
        let mut gc = GroupCommit::new(Offset(0));
        gc.wait(Offset(2), 'x');
        gc.wait(Offset(7), 'y');
        gc.started(7);
        assert_eq!(gc.failed(), vec!['x', 'y']);
        assert!(!gc.should_start());
        gc.wait(Offset(9), 'z');
        assert_eq!(gc.reset(Offset(3)), vec!['z']);
        assert_eq!(gc.acked_offset(), Offset(3));
        assert_eq!(gc.wait(Offset(3), 'w'), Some('w'));
    }

    #[test]
    fn a_taken_waiter_is_not_released_and_needs_no_sync() {
        let mut gc = GroupCommit::new(Offset(0));
        gc.wait(Offset(2), (1, 'a'));
        gc.wait(Offset(4), (2, 'b'));
        gc.started(2);
        // Request 2 gave up while the sync ran: the sync releases only request 1, and nothing
        // is left to start another sync for.
        assert_eq!(gc.take(|(id, _)| *id == 2), vec![(2, 'b')]);
        let done = gc.synced(Offset(2));
        assert_eq!(done.ready, vec![(1, 'a')]);
        assert!(!done.start_another);
    }

    #[test]
    #[should_panic(expected = "one sync at a time")]
    fn starting_two_syncs_is_a_programmer_error() {
        let mut gc: GroupCommit<()> = GroupCommit::new(Offset(0));
        gc.started(1);
        gc.started(2);
    }
}
