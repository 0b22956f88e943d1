//! Waiters for an offset watermark: "tell me when every offset below X is reached".
//!
//! [`OffsetWaiters`] is the pure bookkeeping behind acks=all: a produce's partition slot waits
//! until the replica's acknowledgement watermark (its durable offset, and the high watermark
//! once followers exist) reaches the end of what it appended. Whoever owns the watermark calls
//! [`OffsetWaiters::advance`] when it moves and gets the satisfied tokens back in offset order
//! (ties in arrival order). A waiter that gives up (its request timed out) is removed with
//! [`OffsetWaiters::take`]. It performs no I/O and knows nothing of syncs; the group commit
//! ([`super::group_commit`]) drives it.
//!
//! The number of tokens is bounded by the requests that can be in flight (one per produce
//! partition slot, `limits::INFLIGHT_PER_CONNECTION_MAX` per connection).

use std::collections::BTreeMap;

use crate::types::Offset;

/// Tokens waiting for a watermark, ordered by the offset they wait for.
#[derive(Debug)]
pub struct OffsetWaiters<T> {
    /// Every offset below this is reached. Only [`Self::reset`] moves it down.
    reached: Offset,
    /// (end offset needed, arrival sequence) → token. Ordered: the satisfied waiters are a
    /// prefix, and equal offsets keep their arrival order.
    waiting: BTreeMap<(Offset, u64), T>,
    next_seq: u64,
}

impl<T> OffsetWaiters<T> {
    /// No one waits, and every offset below `reached` is reached.
    pub fn new(reached: Offset) -> Self {
        Self {
            reached,
            waiting: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Every offset below this is reached.
    pub fn reached(&self) -> Offset {
        self.reached
    }

    /// Number of tokens waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Registers `token` until every offset below `until` is reached. Returns the token back
    /// at once if that is already the case.
    pub fn wait(&mut self, until: Offset, token: T) -> Option<T> {
        if until <= self.reached {
            return Some(token);
        }
        self.waiting.insert((until, self.next_seq), token);
        self.next_seq += 1;
        None
    }

    /// The watermark moved to `to` (a lower, stale report is ignored: it never moves back).
    /// Returns the tokens now satisfied, in offset order.
    pub fn advance(&mut self, to: Offset) -> Vec<T> {
        self.reached = self.reached.max(to);
        if self
            .waiting
            .first_key_value()
            .is_none_or(|((until, _), _)| *until > self.reached)
        {
            return Vec::new();
        }
        let still_waiting = self
            .waiting
            .split_off(&(Offset(self.reached.0.saturating_add(1)), 0));
        std::mem::replace(&mut self.waiting, still_waiting)
            .into_values()
            .collect()
    }

    /// Removes and returns the tokens `pred` selects (e.g. those of a request that timed
    /// out), in offset order. Scans every waiter: for the rare path, not per append.
    pub fn take(&mut self, mut pred: impl FnMut(&T) -> bool) -> Vec<T> {
        let keys: Vec<(Offset, u64)> = self
            .waiting
            .iter()
            .filter(|(_, token)| pred(token))
            .map(|(key, _)| *key)
            .collect();
        keys.iter()
            .filter_map(|key| self.waiting.remove(key))
            .collect()
    }

    /// Returns every waiter (they will not be satisfied: the log failed or went away), in
    /// offset order. The watermark stays.
    pub fn fail_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.waiting).into_values().collect()
    }

    /// The watermark was cut back (truncation, restart): returns every waiter, which can no
    /// longer be satisfied as asked, and restarts at `reached`.
    pub fn reset(&mut self, reached: Offset) -> Vec<T> {
        self.reached = reached;
        self.fail_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_offset_already_reached_returns_the_token_at_once() {
        let mut w = OffsetWaiters::new(Offset(10));
        assert_eq!(w.wait(Offset(10), "a"), Some("a"));
        assert_eq!(w.wait(Offset(5), "b"), Some("b"));
        assert!(w.is_empty());
        assert_eq!(w.wait(Offset(11), "c"), None);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn advance_releases_a_prefix_in_offset_then_arrival_order() {
        let mut w = OffsetWaiters::new(Offset(0));
        w.wait(Offset(4), 'c');
        w.wait(Offset(2), 'a');
        w.wait(Offset(4), 'd');
        w.wait(Offset(3), 'b');
        w.wait(Offset(6), 'e');
        assert_eq!(w.advance(Offset(4)), vec!['a', 'b', 'c', 'd']);
        assert_eq!(w.reached(), Offset(4));
        // A stale (lower) report never moves the watermark back or releases anything.
        assert!(w.advance(Offset(1)).is_empty());
        assert_eq!(w.reached(), Offset(4));
        assert_eq!(w.advance(Offset(9)), vec!['e']);
        assert!(w.is_empty());
    }

    #[test]
    fn take_removes_only_the_selected_waiters() {
        let mut w = OffsetWaiters::new(Offset(0));
        w.wait(Offset(2), (1, 'x'));
        w.wait(Offset(5), (2, 'y'));
        w.wait(Offset(3), (1, 'z'));
        assert_eq!(w.take(|(id, _)| *id == 1), vec![(1, 'x'), (1, 'z')]);
        assert!(w.take(|(id, _)| *id == 1).is_empty(), "taken once");
        assert_eq!(w.advance(Offset(9)), vec![(2, 'y')]);
    }

    #[test]
    fn fail_all_and_reset_hand_back_every_waiter() {
        let mut w = OffsetWaiters::new(Offset(0));
        w.wait(Offset(7), 'y');
        w.wait(Offset(2), 'x');
        assert_eq!(w.fail_all(), vec!['x', 'y']);
        assert_eq!(w.reached(), Offset(0));
        w.advance(Offset(8));
        w.wait(Offset(9), 'z');
        assert_eq!(w.reset(Offset(3)), vec!['z']);
        assert_eq!(
            w.reached(),
            Offset(3),
            "a reset may move the watermark down"
        );
        assert_eq!(w.wait(Offset(3), 'w'), Some('w'));
        assert_eq!(w.wait(Offset(4), 'v'), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Wait(i64),
        Advance(i64),
        TakeOdd,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..20).prop_map(Op::Wait),
            (0i64..20).prop_map(Op::Advance),
            Just(Op::TakeOdd),
        ]
    }

    proptest! {
        /// Against a list model: every token comes back exactly once, when (and only when)
        /// its offset is reached, in (offset, arrival) order.
        #[test]
        fn matches_a_sorted_list_model(ops in proptest::collection::vec(op(), 0..64)) {
            let mut w = OffsetWaiters::new(Offset(0));
            let mut model: Vec<(i64, u32)> = Vec::new();
            let mut reached = 0i64;
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Wait(until) => {
                        let token = next;
                        next += 1;
                        let got = w.wait(Offset(until), (until, token));
                        if until <= reached {
                            prop_assert_eq!(got, Some((until, token)));
                        } else {
                            prop_assert_eq!(got, None);
                            model.push((until, token));
                        }
                    }
                    Op::Advance(to) => {
                        reached = reached.max(to);
                        let mut ready: Vec<(i64, u32)> =
                            model.iter().copied().filter(|(u, _)| *u <= reached).collect();
                        ready.sort();
                        model.retain(|(u, _)| *u > reached);
                        prop_assert_eq!(w.advance(Offset(to)), ready);
                    }
                    Op::TakeOdd => {
                        let mut taken: Vec<(i64, u32)> =
                            model.iter().copied().filter(|(_, t)| t % 2 == 1).collect();
                        taken.sort();
                        model.retain(|(_, t)| t % 2 == 0);
                        prop_assert_eq!(w.take(|(_, t)| t % 2 == 1), taken);
                    }
                }
                prop_assert_eq!(w.len(), model.len());
                prop_assert_eq!(w.reached(), Offset(reached));
            }
        }
    }
}
