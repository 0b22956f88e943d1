//! Group commit: one fsync serves every append that was waiting when it started.
//!
//! [`GroupCommit`] is the pure bookkeeping a host keeps next to a [`super::log::Log`]: who
//! waits for which offset to become durable, whether a sync is in flight, and — when a sync
//! completes — which waiters are now satisfied and whether another sync must start for the
//! appends that arrived meanwhile. It performs no I/O, so it is unit-tested directly.
//!
//! Typical host loop (acks wait for durability):
//! ```text
//! info = log.append(..)?;
//! if let Some(t) = gc.wait(info.last_offset + 1, token) { reply(t) }        // already durable
//! if gc.should_start() { let (h, p) = log.flush_job().expect("unsynced appends to flush"); gc.started(p.covers_offset); spawn(h.sync()) }
//! // ... when that sync returns Ok:
//! log.flushed(p);
//! let done = gc.synced(log.synced_offset());
//! reply to done.ready; if done.start_another { start the next sync as above }
//! ```

use std::collections::BTreeMap;

/// Waiters for durability, and the sync in flight.
#[derive(Debug)]
pub struct GroupCommit<T> {
    /// Every offset below this is known durable.
    durable_offset: i64,
    /// End offset needed → tokens waiting for it. BTreeMap: satisfied waiters are a prefix.
    waiters: BTreeMap<i64, Vec<T>>,
    /// `covers_offset` of the sync running now.
    in_flight: Option<i64>,
}

/// Outcome of a completed sync.
#[derive(Debug, PartialEq, Eq)]
pub struct Synced<T> {
    /// Tokens whose offsets are now durable, in offset order.
    pub ready: Vec<T>,
    /// Waiters remain beyond what was synced and no sync runs: start one.
    pub start_another: bool,
}

impl<T> GroupCommit<T> {
    pub fn new(durable_offset: i64) -> Self {
        Self {
            durable_offset,
            waiters: BTreeMap::new(),
            in_flight: None,
        }
    }

    pub fn durable_offset(&self) -> i64 {
        self.durable_offset
    }

    /// `covers_offset` of the sync in flight, if any.
    pub fn in_flight(&self) -> Option<i64> {
        self.in_flight
    }

    /// Number of tokens waiting.
    pub fn waiting(&self) -> usize {
        self.waiters.values().map(Vec::len).sum()
    }

    /// Registers `token` as waiting until every offset below `end_offset` is durable.
    /// Returns the token back at once if that is already the case.
    pub fn wait(&mut self, end_offset: i64, token: T) -> Option<T> {
        if end_offset <= self.durable_offset {
            return Some(token);
        }
        self.waiters.entry(end_offset).or_default().push(token);
        None
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

    /// The sync in flight completed and offsets below `durable_offset` are durable (pass
    /// `Log::synced_offset()` after `Log::flushed`). Returns the satisfied tokens.
    pub fn synced(&mut self, durable_offset: i64) -> Synced<T> {
        self.in_flight = None;
        self.durable_offset = self.durable_offset.max(durable_offset);
        let still_waiting = self
            .waiters
            .split_off(&self.durable_offset.saturating_add(1));
        let ready = std::mem::replace(&mut self.waiters, still_waiting)
            .into_values()
            .flatten()
            .collect();
        Synced {
            ready,
            start_another: !self.waiters.is_empty(),
        }
    }

    /// The sync failed (the log is unusable until reopened): returns every waiter so each
    /// can be answered with an error.
    pub fn failed(&mut self) -> Vec<T> {
        self.in_flight = None;
        std::mem::take(&mut self.waiters)
            .into_values()
            .flatten()
            .collect()
    }

    /// The log was truncated or restarted (e.g. the leader became a follower): waiters can
    /// no longer be satisfied as asked; returns them all and restarts at `durable_offset`.
    /// A sync still in flight will report through [`GroupCommit::synced`] as usual.
    pub fn reset(&mut self, durable_offset: i64) -> Vec<T> {
        self.durable_offset = durable_offset;
        std::mem::take(&mut self.waiters)
            .into_values()
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_durable_returns_at_once() {
        let mut gc = GroupCommit::new(10);
        assert_eq!(gc.wait(10, "a"), Some("a"));
        assert_eq!(gc.wait(5, "b"), Some("b"));
        assert!(!gc.should_start());
    }

    #[test]
    fn one_sync_serves_everyone_waiting_and_late_arrivals_trigger_another() {
        let mut gc = GroupCommit::new(0);
        assert_eq!(gc.wait(3, 'a'), None);
        assert_eq!(gc.wait(5, 'b'), None);
        assert!(gc.should_start());
        gc.started(5);
        assert_eq!(gc.in_flight(), Some(5));
        // Appends arriving while the sync runs do not start another.
        assert_eq!(gc.wait(9, 'c'), None);
        assert!(!gc.should_start());
        let done = gc.synced(5);
        assert_eq!(done.ready, vec!['a', 'b']);
        assert!(done.start_another, "'c' still needs a sync");
        assert_eq!(gc.durable_offset(), 5);
        gc.started(9);
        let done = gc.synced(9);
        assert_eq!(done.ready, vec!['c']);
        assert!(!done.start_another);
        assert_eq!(gc.waiting(), 0);
    }

    #[test]
    fn a_sync_covering_less_than_some_waiters_releases_only_the_covered() {
        let mut gc = GroupCommit::new(0);
        gc.wait(2, 1);
        gc.wait(4, 2);
        gc.wait(4, 3);
        gc.wait(6, 4);
        gc.started(4);
        let done = gc.synced(4);
        assert_eq!(done.ready, vec![1, 2, 3]);
        assert!(done.start_another);
        // A stale (lower) report never moves durability back.
        gc.started(4);
        let done = gc.synced(1);
        assert!(done.ready.is_empty());
        assert_eq!(gc.durable_offset(), 4);
    }

    #[test]
    fn failure_and_reset_hand_back_every_waiter() {
        let mut gc = GroupCommit::new(0);
        gc.wait(2, 'x');
        gc.wait(7, 'y');
        gc.started(7);
        assert_eq!(gc.failed(), vec!['x', 'y']);
        assert!(!gc.should_start());
        gc.wait(9, 'z');
        assert_eq!(gc.reset(3), vec!['z']);
        assert_eq!(gc.durable_offset(), 3);
        assert_eq!(gc.wait(3, 'w'), Some('w'));
    }

    #[test]
    #[should_panic(expected = "one sync at a time")]
    fn starting_two_syncs_is_a_programmer_error() {
        let mut gc: GroupCommit<()> = GroupCommit::new(0);
        gc.started(1);
        gc.started(2);
    }
}
