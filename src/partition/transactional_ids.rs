//! The transactional id → (producer id, epoch) table of `InitProducerId`, bounded.
//!
//! Any client may name any number of transactional ids, each up to 32 KiB, so the table must
//! not grow with what clients send (issue: 100,000 ids of 1 KB held 106 MB forever). Like
//! Kafka's `transactional.id.expiration.ms`, an id not used for
//! [`TRANSACTIONAL_ID_EXPIRATION_MS`] is forgotten; and beyond [`TRANSACTIONAL_IDS_MAX`] ids or
//! [`TRANSACTIONAL_ID_BYTES_MAX`] bytes of names, the least recently used one is forgotten
//! first. Forgetting an id costs its producer one thing: the next `InitProducerId` gets a new
//! producer id instead of a bumped epoch, exactly what a restart does today (the table is in
//! memory only until transactions exist).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::limits::{
    TRANSACTIONAL_IDS_MAX, TRANSACTIONAL_ID_BYTES_MAX, TRANSACTIONAL_ID_EXPIRATION_MS,
};
use crate::types::ProducerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    producer_id: ProducerId,
    epoch: i16,
    last_used_ms: u64,
}

/// Ids with their producer and the time of their last use, plus the same ids ordered by that
/// time (oldest first) for expiry and eviction. Both hold one shared copy of each name.
#[derive(Debug, Default)]
pub struct TransactionalIds {
    entries: BTreeMap<Arc<str>, Entry>,
    by_last_use: BTreeSet<(u64, Arc<str>)>,
    name_bytes: usize,
}

impl TransactionalIds {
    /// The producer id and epoch `id` was last given, if it is remembered.
    pub fn get(&self, id: &str) -> Option<(ProducerId, i16)> {
        self.entries.get(id).map(|e| (e.producer_id, e.epoch))
    }

    /// Remembers `id` → (producer id, epoch) as used at `now_ms` (monotonic), then forgets what
    /// the bounds require.
    pub fn put(&mut self, id: &str, producer_id: ProducerId, epoch: i16, now_ms: u64) {
        self.remove(id);
        let name: Arc<str> = Arc::from(id);
        self.entries.insert(
            name.clone(),
            Entry {
                producer_id,
                epoch,
                last_used_ms: now_ms,
            },
        );
        self.by_last_use.insert((now_ms, name));
        self.name_bytes += id.len();
        self.expire(now_ms);
        while self.entries.len() > TRANSACTIONAL_IDS_MAX
            || self.name_bytes > TRANSACTIONAL_ID_BYTES_MAX
        {
            self.forget_oldest();
        }
    }

    /// Forgets every id unused for [`TRANSACTIONAL_ID_EXPIRATION_MS`] at `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some((last_used_ms, _)) = self.by_last_use.first() {
            if now_ms.saturating_sub(*last_used_ms) < TRANSACTIONAL_ID_EXPIRATION_MS {
                break;
            }
            self.forget_oldest();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of id names held (the part a client controls).
    pub fn name_bytes(&self) -> usize {
        self.name_bytes
    }

    fn forget_oldest(&mut self) {
        if let Some((_, id)) = self.by_last_use.pop_first() {
            self.entries.remove(&*id);
            self.name_bytes -= id.len();
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some((name, old)) = self.entries.remove_entry(id) {
            self.by_last_use.remove(&(old.last_used_ms, name));
            self.name_bytes -= id.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_remembered_until_it_expires() {
        let mut ids = TransactionalIds::default();
        ids.put("a", ProducerId(7), 0, 1_000);
        ids.put("b", ProducerId(8), 3, 5_000);
        assert_eq!(ids.get("a"), Some((ProducerId(7), 0)));
        ids.expire(1_000 + TRANSACTIONAL_ID_EXPIRATION_MS - 1);
        assert_eq!(ids.get("a"), Some((ProducerId(7), 0)), "not yet");
        ids.expire(1_000 + TRANSACTIONAL_ID_EXPIRATION_MS);
        assert_eq!(
            (ids.get("a"), ids.get("b")),
            (None, Some((ProducerId(8), 3)))
        );
        assert_eq!((ids.len(), ids.name_bytes()), (1, 1));
    }

    #[test]
    fn using_an_id_again_renews_it() {
        let mut ids = TransactionalIds::default();
        ids.put("a", ProducerId(7), 0, 0);
        ids.put("a", ProducerId(7), 1, TRANSACTIONAL_ID_EXPIRATION_MS - 1);
        ids.expire(TRANSACTIONAL_ID_EXPIRATION_MS + 5);
        assert_eq!(ids.get("a"), Some((ProducerId(7), 1)));
        assert_eq!((ids.len(), ids.name_bytes()), (1, 1));
    }

    #[test]
    fn past_the_count_bound_the_least_recently_used_goes_first() {
        let mut ids = TransactionalIds::default();
        for i in 0..TRANSACTIONAL_IDS_MAX as u64 + 10 {
            ids.put(&format!("id-{i}"), ProducerId(i as i64), 0, i);
        }
        assert_eq!(ids.len(), TRANSACTIONAL_IDS_MAX);
        assert_eq!(ids.get("id-9"), None);
        assert_eq!(ids.get("id-10"), Some((ProducerId(10), 0)));
    }

    #[test]
    fn past_the_byte_bound_long_names_are_evicted() {
        let mut ids = TransactionalIds::default();
        let long = "x".repeat(30_000);
        let n = TRANSACTIONAL_ID_BYTES_MAX / 30_000 + 5;
        for i in 0..n {
            ids.put(&format!("{long}{i}"), ProducerId(i as i64), 0, i as u64);
        }
        assert!(ids.name_bytes() <= TRANSACTIONAL_ID_BYTES_MAX);
        assert!(ids.len() < n);
        assert_eq!(
            ids.get(&format!("{long}{}", n - 1)),
            Some((ProducerId((n - 1) as i64), 0))
        );
    }

    #[test]
    fn a_table_is_empty_until_an_id_is_put_and_again_once_it_expired() {
        let mut ids = TransactionalIds::default();
        assert!(ids.is_empty());
        ids.put("a", ProducerId(7), 0, 0);
        assert!(!ids.is_empty());
        ids.expire(TRANSACTIONAL_ID_EXPIRATION_MS);
        assert!(ids.is_empty());
    }
}
