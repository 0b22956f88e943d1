//! Fetches parked until enough bytes are available (`min_bytes`) or `max_wait_ms` passes
//! (Kafka's delayed fetch purgatory): clients' fetches and followers' replica fetches alike.
//! Pure bookkeeping: the actor re-reads a parked fetch whenever one of its partitions was
//! appended to, and answers it at once if it is satisfied.

use std::collections::{BTreeMap, BTreeSet};

use crate::actor::RequestId;
use crate::messages::{FetchRequest, ReplicaFetchRequest};
use crate::types::TopicPartition;

/// A fetch that can wait: it names the partitions whose appends may satisfy it.
pub trait Waiting {
    fn partitions(&self) -> impl Iterator<Item = &TopicPartition>;
}

impl Waiting for FetchRequest {
    fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.partitions.iter().map(|p| &p.tp)
    }
}

impl Waiting for ReplicaFetchRequest {
    fn partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        std::iter::once(&self.tp)
    }
}

pub struct ParkedFetch<F = FetchRequest> {
    pub request: RequestId,
    pub fetch: F,
}

pub struct FetchWaits<F = FetchRequest> {
    next_id: u64,
    parked: BTreeMap<u64, ParkedFetch<F>>,
    /// Partition → parked fetches reading it, so an append wakes only its own readers.
    by_partition: BTreeMap<TopicPartition, BTreeSet<u64>>,
}

impl<F> Default for FetchWaits<F> {
    fn default() -> Self {
        Self {
            next_id: 0,
            parked: BTreeMap::new(),
            by_partition: BTreeMap::new(),
        }
    }
}

impl<F: Waiting> FetchWaits<F> {
    pub fn len(&self) -> usize {
        self.parked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }

    /// Parks a fetch; returns its id (for its timer).
    pub fn park(&mut self, request: RequestId, fetch: F) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        for tp in fetch.partitions() {
            let first = self.by_partition.entry(tp.clone()).or_default().insert(id);
            // The broker merges duplicates (`broker::per_partition`): a fetch listing one
            // partition many times was re-read that many times on every append to it.
            debug_assert!(first, "{tp:?} listed twice in one fetch");
        }
        self.parked.insert(id, ParkedFetch { request, fetch });
        id
    }

    pub fn get(&self, id: u64) -> Option<&ParkedFetch<F>> {
        self.parked.get(&id)
    }

    /// Un-parks a fetch (answered or timed out).
    pub fn take(&mut self, id: u64) -> Option<ParkedFetch<F>> {
        let parked = self.parked.remove(&id)?;
        for tp in parked.fetch.partitions() {
            if let Some(ids) = self.by_partition.get_mut(tp) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_partition.remove(tp);
                }
            }
        }
        Some(parked)
    }

    /// Ids of the fetches reading `tp`, oldest first.
    pub fn reading(&self, tp: &TopicPartition) -> Vec<u64> {
        self.by_partition
            .get(tp)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::FetchPartition;
    use crate::types::Offset;

    fn fetch(topics: &[&str]) -> FetchRequest {
        FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: 0,
            partitions: topics
                .iter()
                .map(|t| FetchPartition {
                    tp: TopicPartition {
                        topic: t.to_string(),
                        partition: 0,
                    },
                    fetch_offset: Offset(0),
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: crate::types::LeaderEpoch::UNKNOWN,
                })
                .collect(),
        }
    }

    #[test]
    fn index_follows_park_and_take() {
        let mut waits: FetchWaits = FetchWaits::default();
        let a = waits.park(RequestId(1), fetch(&["x", "y"]));
        let b = waits.park(RequestId(2), fetch(&["y"]));
        let y = TopicPartition {
            topic: "y".into(),
            partition: 0,
        };
        assert_eq!(waits.reading(&y), vec![a, b]);
        assert_eq!(waits.take(a).unwrap().request, RequestId(1));
        assert!(waits.take(a).is_none());
        assert_eq!(waits.reading(&y), vec![b]);
        assert!(!waits.is_empty());
        waits.take(b);
        assert!(waits.is_empty() && waits.by_partition.is_empty());
    }
}
