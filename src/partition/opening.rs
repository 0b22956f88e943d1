//! Requests that wait while a partition log is opening.
//!
//! Opening a log recovers it without any fsync in the handler: the recovery's durability (the
//! recovered files, the directory, the recovery point, the clean-shutdown marker's removal) is
//! the replica's first persist job. Until that job completed the partition may take no append —
//! an append acknowledged before the marker's removal is durable could leave a stale "clean"
//! marker over torn bytes after a crash — so the `Ensure` reply and every request naming an
//! opening partition wait here, and are served in arrival order once it completed. While any
//! request waits, later partition requests wait behind it too, so no request overtakes an
//! earlier one (an idempotent producer's batches stay in order).
//!
//! The queue is bounded ([`OPENING_PARKED_MAX`]); past it a request is refused with
//! NOT_LEADER_OR_FOLLOWER, the retriable code Kafka gives while a replica is not ready to lead
//! a partition: clients refresh their metadata and retry, which is what an opening partition
//! needs (LEADER_NOT_AVAILABLE is a metadata-level code that produce and fetch clients do not
//! expect per partition).

use std::collections::VecDeque;

use crate::actor::RequestId;
use crate::limits::OPENING_PARKED_MAX;
use crate::messages::{
    DeleteRecordsResult, EpochEnd, FetchPartitionResult, ListOffsetsResult, NodeMsg,
    PartitionProducers, PartitionsReply, PartitionsRequest, ProducePartitionResult,
    ReplicaFetchResult,
};
use crate::types::{ErrorCode, Offset, TopicPartition};

/// The code a request gets when the queue is full.
pub const REFUSED: ErrorCode = ErrorCode::NOT_LEADER_OR_FOLLOWER;

/// One waiting entry.
pub enum Parked {
    /// A request naming an opening partition (or arriving behind one that does).
    Request(RequestId, PartitionsRequest),
    /// The answer to the `Ensure` that started opening this partition.
    EnsureReply(RequestId, TopicPartition),
}

#[derive(Default)]
pub struct OpeningQueue {
    queue: VecDeque<Parked>,
}

impl OpeningQueue {
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Parks a newly arrived entry; gives it back when the queue is full.
    pub fn park(&mut self, entry: Parked) -> Result<(), Parked> {
        if self.queue.len() >= OPENING_PARKED_MAX {
            return Err(entry);
        }
        self.queue.push_back(entry);
        Ok(())
    }

    /// Parks an entry taken by [`Self::take_all`] again (it was accepted once: never refused).
    pub fn park_again(&mut self, entry: Parked) {
        self.queue.push_back(entry);
    }

    /// Every entry, oldest first, to be served (or parked again) in that order.
    pub fn take_all(&mut self) -> VecDeque<Parked> {
        std::mem::take(&mut self.queue)
    }
}

/// Whether the request can wait for an opening partition. InitProducerId, Offline and Leaders
/// name no single partition and are served at once.
pub fn may_park(request: &PartitionsRequest) -> bool {
    !matches!(
        request,
        PartitionsRequest::InitProducerId(_)
            | PartitionsRequest::Offline(_)
            | PartitionsRequest::Leaders(_)
            | PartitionsRequest::RemoveStray(_)
            | PartitionsRequest::LogDirs(_)
            | PartitionsRequest::Registered(_)
            // A notice to a leader: one still opening leads nothing yet.
            | PartitionsRequest::ReplicaSynced(_)
            | PartitionsRequest::Throttles(_)
    )
}

/// Whether the request names a partition for which `opening` holds. Shutdown names every
/// partition: the caller asks whether any is opening.
pub fn names(request: &PartitionsRequest, opening: impl Fn(&TopicPartition) -> bool) -> bool {
    match request {
        PartitionsRequest::Ensure(r) => opening(&r.tp),
        PartitionsRequest::SetConfig(r) => opening(&r.tp),
        PartitionsRequest::Delete(r) => opening(&r.tp),
        PartitionsRequest::Produce(r) => r.partitions.iter().any(|(tp, _)| opening(tp)),
        PartitionsRequest::Fetch(r) => r.partitions.iter().any(|p| opening(&p.tp)),
        PartitionsRequest::ListOffsets(r) => r.partitions.iter().any(|(tp, _)| opening(tp)),
        PartitionsRequest::EpochEnds(r) => r.partitions.iter().any(|a| opening(&a.tp)),
        PartitionsRequest::ReplicaFetch(r) => opening(&r.tp),
        PartitionsRequest::DeleteRecords(r) => r.partitions.iter().any(|(tp, _)| opening(tp)),
        PartitionsRequest::Append(r) => opening(&r.tp),
        PartitionsRequest::Lead(r) => opening(&r.tp),
        PartitionsRequest::WriteMarkers(r) => r.markers.iter().any(|m| opening(&m.tp)),
        PartitionsRequest::DescribeProducers(r) => r.partitions.iter().any(|tp| opening(tp)),
        PartitionsRequest::Shutdown
        | PartitionsRequest::InitProducerId(_)
        | PartitionsRequest::Offline(_)
        | PartitionsRequest::Leaders(_)
        | PartitionsRequest::RemoveStray(_)
        | PartitionsRequest::LogDirs(_)
        | PartitionsRequest::Registered(_)
        | PartitionsRequest::ReplicaSynced(_)
        | PartitionsRequest::Throttles(_) => false,
    }
}

/// The answer to a request refused because the queue is full: [`REFUSED`] for every partition
/// it names.
pub fn refused(request: PartitionsRequest) -> NodeMsg {
    let message = || Some("the partition log is opening; retry".to_owned());
    let reply = match request {
        PartitionsRequest::Produce(r) => PartitionsReply::Produce(
            r.partitions
                .into_iter()
                .map(|(tp, _)| (tp, ProducePartitionResult::refused(REFUSED, message())))
                .collect(),
        ),
        PartitionsRequest::Append(r) => PartitionsReply::Produce(vec![(
            r.tp,
            ProducePartitionResult::refused(REFUSED, message()),
        )]),
        PartitionsRequest::WriteMarkers(r) => PartitionsReply::Produce(
            r.markers
                .into_iter()
                .map(|m| (m.tp, ProducePartitionResult::refused(REFUSED, message())))
                .collect(),
        ),
        PartitionsRequest::Lead(_) => PartitionsReply::Lead(Err(REFUSED)),
        PartitionsRequest::DescribeProducers(r) => PartitionsReply::DescribeProducers(
            r.partitions
                .into_iter()
                .map(|tp| PartitionProducers {
                    tp,
                    error_code: REFUSED,
                    producers: Vec::new(),
                })
                .collect(),
        ),
        PartitionsRequest::Fetch(r) => PartitionsReply::Fetch(
            r.partitions
                .into_iter()
                .map(|p| FetchPartitionResult {
                    tp: p.tp,
                    error_code: REFUSED,
                    high_watermark: Offset::UNKNOWN,
                    last_stable_offset: Offset::UNKNOWN,
                    log_start_offset: Offset::UNKNOWN,
                    records: Vec::new(),
                    aborted: None,
                })
                .collect(),
        ),
        PartitionsRequest::ListOffsets(r) => PartitionsReply::ListOffsets(
            r.partitions
                .into_iter()
                .map(|(tp, _)| (tp, ListOffsetsResult::not_found(REFUSED)))
                .collect(),
        ),
        PartitionsRequest::ReplicaFetch(_) => {
            PartitionsReply::ReplicaFetch(ReplicaFetchResult::refused(REFUSED))
        }
        PartitionsRequest::EpochEnds(r) => PartitionsReply::EpochEnds(
            r.partitions
                .into_iter()
                .map(|a| EpochEnd::undefined(a.tp, REFUSED))
                .collect(),
        ),
        PartitionsRequest::DeleteRecords(r) => PartitionsReply::DeleteRecords(
            r.partitions
                .into_iter()
                .map(|(tp, _)| {
                    let result = DeleteRecordsResult {
                        error_code: REFUSED,
                        low_watermark: Offset::UNKNOWN,
                    };
                    (tp, result)
                })
                .collect(),
        ),
        _ => PartitionsReply::Done(crate::messages::Done {
            error_code: REFUSED,
            message: message(),
        }),
    };
    NodeMsg::PartitionsReply(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        AppendRequest, DeleteRecordsRequest, FetchPartition, FetchRequest, LeadRequest, LeaderTerm,
        ListOffsetsRequest,
    };
    use crate::types::LeaderEpoch;

    fn tps() -> Vec<TopicPartition> {
        (0..2)
            .map(|partition| TopicPartition {
                topic: "a".into(),
                partition,
            })
            .collect()
    }

    #[test]
    fn a_refused_request_answers_every_partition_it_names_in_its_own_reply() {
        let list = PartitionsRequest::ListOffsets(ListOffsetsRequest {
            isolation_level: 0,
            partitions: tps().into_iter().map(|tp| (tp, -1)).collect(),
            current_leader_epochs: Default::default(),
        });
        let NodeMsg::PartitionsReply(PartitionsReply::ListOffsets(results)) = refused(list) else {
            panic!("a ListOffsets reply");
        };
        let answered: Vec<_> = results.iter().map(|(tp, _)| tp.clone()).collect();
        assert_eq!(answered, tps());
        assert!(results.iter().all(|(_, r)| r.error_code == REFUSED));
        assert!(results.iter().all(|(_, r)| r.offset == Offset::UNKNOWN));

        let delete = PartitionsRequest::DeleteRecords(DeleteRecordsRequest {
            partitions: tps().into_iter().map(|tp| (tp, Offset(5))).collect(),
        });
        let NodeMsg::PartitionsReply(PartitionsReply::DeleteRecords(results)) = refused(delete)
        else {
            panic!("a DeleteRecords reply");
        };
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|(_, r)| r.error_code == REFUSED));

        let fetch = PartitionsRequest::Fetch(FetchRequest {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            isolation_level: 0,
            partitions: (tps().into_iter())
                .map(|tp| FetchPartition {
                    tp,
                    fetch_offset: Offset(3),
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: LeaderEpoch::UNKNOWN,
                })
                .collect(),
        });
        let NodeMsg::PartitionsReply(PartitionsReply::Fetch(results)) = refused(fetch) else {
            panic!("a Fetch reply");
        };
        let answered: Vec<_> = results.iter().map(|r| r.tp.clone()).collect();
        assert_eq!(answered, tps());
        // No records and no offsets: nothing of the opening log is served.
        assert!(results.iter().all(|r| r.error_code == REFUSED
            && r.records.is_empty()
            && r.high_watermark == Offset::UNKNOWN
            && r.log_start_offset == Offset::UNKNOWN));
    }

    #[test]
    fn a_refused_append_answers_its_partition_and_a_refused_lead_answers_the_code() {
        let tp = tps().remove(0);
        let append = PartitionsRequest::Append(AppendRequest {
            tp: tp.clone(),
            term: LeaderTerm {
                epoch: LeaderEpoch(1),
                replica: 0,
            },
            records: Vec::new(),
            timeout_ms: 1_000,
        });
        let NodeMsg::PartitionsReply(PartitionsReply::Produce(results)) = refused(append) else {
            panic!("a Produce reply");
        };
        assert_eq!(results.len(), 1);
        assert_eq!((&results[0].0, results[0].1.error_code), (&tp, REFUSED));

        let lead = PartitionsRequest::Lead(LeadRequest { tp });
        let reply = refused(lead);
        assert!(
            matches!(
                reply,
                NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(REFUSED)))
            ),
            "{reply:?}"
        );
    }
}
