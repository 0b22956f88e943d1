//! DescribeProducers for one partition: the producers its replica here remembers, as Kafka's
//! `Partition.activeProducerState` lists them (kafka-transactions `describe-producers`, and
//! `find-hanging`, which looks for transactions open here that no coordinator will end).
//!
//! Any replica answers, leader or follower: a follower applies every batch and marker it
//! copies to its producer state (`Replica::append_as_follower`), and Kafka's tool can ask one
//! replica (`--broker-id`) to compare it with the leader's. A pure function of what the actor
//! holds, so it is tested without one.
//!
//! Kafka's checks (`ReplicaManager.getPartitionOrError`): no replica here is
//! KAFKA_STORAGE_ERROR if its log is offline, NOT_LEADER_OR_FOLLOWER if the metadata names the
//! partition, else UNKNOWN_TOPIC_OR_PARTITION; a replica whose log failed is
//! KAFKA_STORAGE_ERROR.

use super::leaders::Absent;
use super::producer_state::{ProducerEntry, ProducerStates};
use super::replica::Replica;
use crate::messages::{ActiveProducer, PartitionProducers};
use crate::types::{ErrorCode, ProducerId, TopicPartition};

/// The answer for `tp`, from its replica here if there is one.
pub fn answer(tp: TopicPartition, replica: Result<&Replica, Absent>) -> PartitionProducers {
    match replica {
        Err(absent) => refused(tp, absent.code()),
        Ok(replica) if replica.is_failed() => refused(tp, ErrorCode::KAFKA_STORAGE_ERROR),
        Ok(replica) => PartitionProducers {
            tp,
            error_code: ErrorCode::NONE,
            producers: active(replica.producers()),
        },
    }
}

/// Every producer `states` remembers, by id.
pub fn active(states: &ProducerStates) -> Vec<ActiveProducer> {
    (states.entries())
        .map(|(&id, entry)| producer(id, entry))
        .collect()
}

/// Kafka's `ProducerState` of one entry: -1 for what it has none of (no batch of its epoch
/// yet, no marker, no transaction open).
fn producer(producer_id: ProducerId, entry: &ProducerEntry) -> ActiveProducer {
    ActiveProducer {
        producer_id,
        producer_epoch: entry.epoch,
        last_sequence: entry.batches.back().map_or(-1, |b| b.last_seq),
        last_timestamp_ms: entry.last_timestamp_ms,
        coordinator_epoch: entry.coordinator_epoch,
        current_txn_start_offset: entry.current_txn_first_offset.unwrap_or(-1),
    }
}

fn refused(tp: TopicPartition, error_code: ErrorCode) -> PartitionProducers {
    PartitionProducers {
        tp,
        error_code,
        producers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::producer_state::ProducerBatch;
    use crate::storage::batch::TRANSACTIONAL_BIT;
    use crate::storage::batch::{build_stamped_batch, BatchHeader, ProducerStamp};
    use crate::types::Refusal;

    fn header(pid: i64, epoch: i16, seq: i32, records: usize, transactional: bool) -> BatchHeader {
        let stamp = ProducerStamp {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            attributes: if transactional { TRANSACTIONAL_BIT } else { 0 },
        };
        let values: Vec<(Option<&[u8]>, Option<&[u8]>)> = vec![(None, Some(b"v")); records];
        BatchHeader::parse(&build_stamped_batch(&values, 0, stamp)).unwrap()
    }

    /// An idempotent producer, one with a transaction open, and one whose transaction a marker
    /// ended: each with its epoch, last sequence, time and coordinator epoch, and the open
    /// transaction's first offset (-1 where there is none), by producer id.
    #[test]
    fn each_producer_is_listed_with_its_last_batch_and_its_open_transaction() {
        let mut states = ProducerStates::default();
        let plain = header(9, 1, 0, 3, false);
        states.record(ProducerBatch::from_header_at(&plain, 0), 1_000);
        let open = header(4, 0, 0, 2, true);
        states.record(ProducerBatch::from_header_at(&open, 3), 2_000);
        let next = header(4, 0, 2, 1, true);
        states.record(ProducerBatch::from_header_at(&next, 6), 3_000);
        let ended = header(7, 2, 0, 1, true);
        states.record(ProducerBatch::from_header_at(&ended, 5), 2_500);
        states.apply_marker(ProducerId(7), 2, 5, 4_000);
        // A marker for a producer never seen here (the coordinator writes one to every
        // partition of a transaction): remembered with no batch.
        states.apply_marker(ProducerId(11), 0, 6, 5_000);
        let producer =
            |id: i64, epoch: i16, seq: i32, at: i64, coordinator: i32, start: i64| ActiveProducer {
                producer_id: ProducerId(id),
                producer_epoch: epoch,
                last_sequence: seq,
                last_timestamp_ms: at,
                coordinator_epoch: coordinator,
                current_txn_start_offset: start,
            };
        assert_eq!(
            active(&states),
            [
                producer(4, 0, 2, 3_000, -1, 3),
                producer(7, 2, 0, 4_000, 5, -1),
                producer(9, 1, 2, 1_000, -1, -1),
                producer(11, 0, -1, 5_000, 6, -1),
            ]
        );
    }

    #[test]
    fn a_partition_without_a_replica_here_is_refused_with_kafkas_code() {
        let tp = TopicPartition {
            topic: "t".into(),
            partition: 3,
        };
        let not_here = Refusal::new(ErrorCode::NOT_LEADER_OR_FOLLOWER, "led by 2");
        for (absent, code) in [
            (Absent::Offline, ErrorCode::KAFKA_STORAGE_ERROR),
            (
                Absent::Elsewhere(not_here),
                ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ),
            (Absent::Unknown, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        ] {
            let answered = answer(tp.clone(), Err(absent));
            assert_eq!(
                (answered.tp.clone(), answered.error_code),
                (tp.clone(), code)
            );
            assert!(answered.producers.is_empty());
        }
    }
}
