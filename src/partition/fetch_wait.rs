//! Fetches parked until enough bytes are available (`min_bytes`) or `max_wait_ms` passes
//! (Kafka's delayed fetch purgatory). Pure bookkeeping: the actor re-reads a parked fetch
//! whenever one of its partitions was appended to, and answers it at once if it is satisfied.

use std::collections::{BTreeMap, BTreeSet};

use crate::actor::RequestId;
use crate::messages::FetchRequest;
use crate::types::TopicPartition;

pub struct ParkedFetch {
    pub request: RequestId,
    pub fetch: FetchRequest,
}

#[derive(Default)]
pub struct FetchWaits {
    next_id: u64,
    parked: BTreeMap<u64, ParkedFetch>,
    /// Partition → parked fetches reading it, so an append wakes only its own readers.
    by_partition: BTreeMap<TopicPartition, BTreeSet<u64>>,
}

impl FetchWaits {
    pub fn len(&self) -> usize {
        self.parked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parked.is_empty()
    }

    /// Parks a fetch; returns its id (for its timer).
    pub fn park(&mut self, request: RequestId, fetch: FetchRequest) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        for partition in &fetch.partitions {
            let first = self
                .by_partition
                .entry(partition.tp.clone())
                .or_default()
                .insert(id);
            // The broker merges duplicates (`broker::per_partition`): a fetch listing one
            // partition many times was re-read that many times on every append to it.
            debug_assert!(first, "{:?} listed twice in one fetch", partition.tp);
        }
        self.parked.insert(id, ParkedFetch { request, fetch });
        id
    }

    pub fn get(&self, id: u64) -> Option<&ParkedFetch> {
        self.parked.get(&id)
    }

    /// Un-parks a fetch (answered or timed out).
    pub fn take(&mut self, id: u64) -> Option<ParkedFetch> {
        let parked = self.parked.remove(&id)?;
        for partition in &parked.fetch.partitions {
            if let Some(ids) = self.by_partition.get_mut(&partition.tp) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_partition.remove(&partition.tp);
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
        let mut waits = FetchWaits::default();
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
