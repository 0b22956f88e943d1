//! An actor's armed timers, keyed by the actor's own timer type ([`super::Actor::Timer`]).
//!
//! Runtime-neutral bookkeeping: the deadline type is whatever the driver measures time in (the
//! host uses tokio's `Instant`; a stepper can use virtual milliseconds). Only the host decides
//! when a deadline has passed; this table only orders them.
//!
//! Firing order is (deadline, arming order) and never depends on the keys' own order, so typing
//! the keys cannot change which timer fires first. Both maps are ordered, so iteration is
//! deterministic (docs/architecture.md#determinism-rules).

use std::collections::BTreeMap;

/// Armed timers in deadline order. Re-arming a key replaces its deadline (and its place among
/// equal deadlines, as if it had been armed just now).
#[derive(Debug)]
pub struct Timers<K, D> {
    /// (deadline, arming sequence) → key: the firing order. The sequence breaks ties between
    /// equal deadlines in the order the timers were armed.
    by_deadline: BTreeMap<(D, u64), K>,
    /// key → its slot in `by_deadline`: re-arm and cancel without a scan.
    by_key: BTreeMap<K, (D, u64)>,
    next_seq: u64,
}

impl<K, D> Default for Timers<K, D> {
    fn default() -> Self {
        Self {
            by_deadline: BTreeMap::new(),
            by_key: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<K: Clone + Ord, D: Copy + Ord> Timers<K, D> {
    /// Arms `key` to fire at `deadline`, replacing its earlier deadline if it was armed.
    pub fn set(&mut self, key: K, deadline: D) {
        let slot = (deadline, self.next_seq);
        self.next_seq += 1;
        if let Some(old) = self.by_key.insert(key.clone(), slot) {
            self.by_deadline.remove(&old);
        }
        self.by_deadline.insert(slot, key);
    }

    /// Disarms `key`; a key that is not armed is ignored (it may just have fired). Returns
    /// whether it was armed.
    pub fn cancel(&mut self, key: &K) -> bool {
        match self.by_key.remove(key) {
            Some(slot) => {
                self.by_deadline.remove(&slot);
                true
            }
            None => false,
        }
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<D> {
        self.by_deadline
            .keys()
            .next()
            .map(|(deadline, _)| *deadline)
    }

    /// Disarms and returns the timer with the earliest deadline (ties: the one armed first).
    pub fn pop_next(&mut self) -> Option<(D, K)> {
        let ((deadline, _), key) = self.by_deadline.pop_first()?;
        let slot = self.by_key.remove(&key);
        debug_assert!(
            slot.is_some_and(|(d, _)| d == deadline),
            "timer maps disagree"
        );
        Some((deadline, key))
    }

    pub fn len(&self) -> usize {
        debug_assert_eq!(self.by_key.len(), self.by_deadline.len());
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::Timers;

    /// A timer type shaped like a real actor's: unit and id-carrying variants whose ids overlap.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Tick,
        Flush(u64),
        Fetch(u64),
    }

    fn drain(timers: &mut Timers<Key, u64>) -> Vec<(u64, Key)> {
        std::iter::from_fn(|| timers.pop_next()).collect()
    }

    #[test]
    fn fire_in_deadline_order_not_key_order() {
        let mut timers = Timers::default();
        timers.set(Key::Fetch(1), 30);
        timers.set(Key::Tick, 50);
        timers.set(Key::Flush(9), 10);
        assert_eq!(timers.next_deadline(), Some(10));
        assert_eq!(
            drain(&mut timers),
            [(10, Key::Flush(9)), (30, Key::Fetch(1)), (50, Key::Tick)]
        );
        assert!(timers.is_empty());
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn equal_deadlines_fire_in_arming_order() {
        let mut timers = Timers::default();
        // Armed in the reverse of key order: the arming order must win.
        timers.set(Key::Fetch(2), 5);
        timers.set(Key::Flush(1), 5);
        timers.set(Key::Tick, 5);
        assert_eq!(
            drain(&mut timers),
            [(5, Key::Fetch(2)), (5, Key::Flush(1)), (5, Key::Tick)]
        );
    }

    #[test]
    fn re_arming_replaces_the_deadline_and_fires_once() {
        let mut timers = Timers::default();
        timers.set(Key::Flush(1), 10);
        timers.set(Key::Tick, 20);
        timers.set(Key::Flush(1), 40); // later than Tick now
        assert_eq!(timers.len(), 2);
        assert_eq!(drain(&mut timers), [(20, Key::Tick), (40, Key::Flush(1))]);

        // Re-arming at the same deadline moves the key behind timers armed since.
        timers.set(Key::Fetch(1), 7);
        timers.set(Key::Fetch(2), 7);
        timers.set(Key::Fetch(1), 7);
        assert_eq!(drain(&mut timers), [(7, Key::Fetch(2)), (7, Key::Fetch(1))]);
    }

    #[test]
    fn cancel_disarms_only_that_key() {
        let mut timers = Timers::default();
        // Same id under two variants: distinct timers (what the old packed tag bits encoded).
        timers.set(Key::Flush(3), 10);
        timers.set(Key::Fetch(3), 10);
        timers.cancel(&Key::Flush(3));
        timers.cancel(&Key::Flush(3)); // twice: ignored
        timers.cancel(&Key::Tick); // never armed: ignored
        assert_eq!(timers.len(), 1);
        assert_eq!(drain(&mut timers), [(10, Key::Fetch(3))]);

        // A fired timer is disarmed: cancelling it afterwards does nothing, re-arming works.
        timers.set(Key::Tick, 1);
        assert_eq!(timers.pop_next(), Some((1, Key::Tick)));
        timers.cancel(&Key::Tick);
        timers.set(Key::Tick, 2);
        assert_eq!(drain(&mut timers), [(2, Key::Tick)]);
    }
}
