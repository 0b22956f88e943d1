//! The read side of the partitions actor as pure functions over the hosted replicas: Fetch
//! (with Kafka's byte budget rules), ListOffsets. No effects, so the actor can re-run a parked
//! fetch as often as it needs to.

use std::collections::BTreeMap;

use super::errors;
use super::replica::Replica;
use crate::limits;
use crate::messages::{
    AbortedTransaction, FetchPartition, FetchPartitionResult, FetchRequest, ListOffsetsResult,
};
use crate::storage::batch::HEADER_BYTES;
use crate::storage::log::LogError;
use crate::types::{ErrorCode, LeaderEpoch, Offset, ProducerId, TopicPartition};

/// ListOffsets special timestamps.
pub const EARLIEST_TIMESTAMP: i64 = -2;
pub const LATEST_TIMESTAMP: i64 = -1;
pub const MAX_TIMESTAMP: i64 = -3;
/// KIP-405: earliest offset still on local disk; everything is local here.
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// Fetch's and ListOffsets' `isolation_level` for `read_committed`.
pub const READ_COMMITTED: i8 = 1;

/// A fetch's results as of now.
pub struct FetchRead {
    pub results: Vec<FetchPartitionResult>,
    /// Record bytes returned across partitions.
    pub bytes: usize,
    /// Some partition answered with an error (Kafka answers such a fetch at once).
    pub has_error: bool,
}

impl FetchRead {
    /// Whether the fetch can be answered now rather than parked.
    pub fn satisfies(&self, fetch: &FetchRequest) -> bool {
        self.has_error || fetch.max_wait_ms <= 0 || self.bytes >= fetch.min_bytes.max(0) as usize
    }
}

/// Reads every partition of `fetch`. The total stays within `max_bytes`, except that the first
/// partition with data always gets at least one whole batch (Kafka's KIP-74 rule, so a batch
/// larger than the limits cannot stall a consumer); later partitions get nothing rather than
/// an oversized batch.
/// `refused[i]`: the error partition `i` of the fetch is answered with, unread (the caller's
/// leadership and epoch checks); a shorter list refuses nothing past its end.
pub fn read_fetch(
    replicas: &BTreeMap<TopicPartition, Replica>,
    fetch: &FetchRequest,
    refused: &[Option<ErrorCode>],
) -> FetchRead {
    let mut remaining = fetch.max_bytes.max(0) as usize;
    let mut read = FetchRead {
        results: Vec::with_capacity(fetch.partitions.len()),
        bytes: 0,
        has_error: false,
    };
    for (index, partition) in fetch.partitions.iter().enumerate() {
        let refusal = refused.get(index).copied().flatten();
        let result = match (refusal, replicas.get(&partition.tp)) {
            (Some(code), _) => FetchPartitionResult::refused(partition.tp.clone(), code),
            (None, None) => FetchPartitionResult::refused(
                partition.tp.clone(),
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ),
            (None, Some(replica)) => read_partition(
                replica,
                partition,
                fetch.isolation_level == READ_COMMITTED,
                &mut remaining,
                read.bytes == 0,
            ),
        };
        read.has_error |= result.error_code != ErrorCode::NONE;
        read.bytes += result.records.len();
        read.results.push(result);
    }
    read
}

fn read_partition(
    replica: &Replica,
    partition: &FetchPartition,
    read_committed: bool,
    remaining: &mut usize,
    first_with_data: bool,
) -> FetchPartitionResult {
    let log = replica.log();
    let high_watermark = replica.high_watermark();
    let last_stable_offset = replica.last_stable_offset();
    // read_committed sees below the LSO (exclusive), which is the HW while no transaction is
    // open or unreplicated here.
    let upper = match read_committed {
        true => last_stable_offset,
        false => high_watermark,
    };
    let limit = (partition.partition_max_bytes.max(0) as usize).min(*remaining);
    let mut result = FetchPartitionResult {
        tp: partition.tp.clone(),
        error_code: ErrorCode::NONE,
        high_watermark,
        last_stable_offset,
        log_start_offset: Offset(log.log_start_offset()),
        records: Vec::new(),
        aborted: read_committed.then(Vec::new),
    };
    if limit == 0 && !first_with_data {
        return result;
    }
    let fetch_offset: i64 = partition.fetch_offset.into();
    match log.read_bounded(fetch_offset, limit, upper.into()) {
        Ok(slice) => {
            if first_with_data || slice.bytes.len() <= limit {
                *remaining = remaining.saturating_sub(slice.bytes.len());
                if read_committed && !slice.bytes.is_empty() {
                    let read_bytes = slice.bytes.len();
                    match aborted_in(replica, fetch_offset, slice.next_offset, read_bytes) {
                        Ok(aborted) => result.aborted = Some(aborted),
                        Err(error) => {
                            result.error_code = errors::log_error_code(&error);
                            return result;
                        }
                    }
                }
                result.records = slice.bytes;
            }
        }
        Err(error) => result.error_code = errors::log_error_code(&error),
    }
    result
}

/// The aborted transactions a `read_committed` consumer must know of to read
/// `[fetch_offset, upper_bound)`, `read_bytes` of batches (Kafka's
/// `collectAbortedTransactions`). Each has a batch among those read, or was open at
/// `fetch_offset` (one per producer then), so the list is bounded by the read and
/// [`limits::FETCH_OPEN_TXNS_MAX`]; past that bound it is cut, and logged.
fn aborted_in(
    replica: &Replica,
    fetch_offset: i64,
    upper_bound: i64,
    read_bytes: usize,
) -> Result<Vec<AbortedTransaction>, LogError> {
    let max = read_bytes / HEADER_BYTES + limits::FETCH_OPEN_TXNS_MAX;
    let found = (replica.log()).aborted_between(fetch_offset, upper_bound, max)?;
    if found.len() >= max {
        tracing::error!(
            dir = %replica.log().dir().display(),
            fetch_offset,
            max,
            "more aborted transactions overlap a read_committed fetch than it lists"
        );
    }
    Ok((found.iter())
        .map(|txn| AbortedTransaction {
            producer_id: ProducerId(txn.producer_id),
            first_offset: Offset(txn.first_offset),
        })
        .collect())
}

/// One ListOffsets lookup, as Kafka's `Partition.fetchOffsetForTimestamp` and
/// `ReplicaManager.fetchOffset`: the latest offset is the last one a consumer may fetch (the
/// LSO for `read_committed`, else the high watermark), and a lookup by timestamp (or the max
/// timestamp) that lands at or past it finds nothing — a consumer must not be sent where it
/// cannot read yet. A leader whose high watermark has not yet reached the start of its epoch
/// (just elected, its followers not caught up) answers OFFSET_NOT_AVAILABLE (retriable) to the
/// latest offset, and to a lookup whose answer is not fetchable yet: the offset it would
/// answer could go back. Unknown partitions are the caller's business.
///
/// The leader epoch (v4+) is Kafka's: the leader's current epoch for the latest offset, and the
/// epoch the found record was written in otherwise, from the log's leader-epoch cache. Where the
/// cache knows none (no record written yet, or a log written before the cache existed) it is
/// the replica's epoch, as Kafka's leader assigns its epoch at its log end when it takes over.
pub fn list_offset(
    replica: &Replica,
    timestamp_ms: i64,
    read_committed: bool,
) -> ListOffsetsResult {
    let log = replica.log();
    let current = replica.role().epoch();
    let found = |timestamp, offset| ListOffsetsResult {
        error_code: ErrorCode::NONE,
        timestamp,
        offset: Offset(offset),
        leader_epoch: log.epoch_for_offset(offset).map_or(current, LeaderEpoch),
    };
    let none = || ListOffsetsResult::not_found(ErrorCode::NONE);
    let last_fetchable = match read_committed {
        true => replica.last_stable_offset(),
        false => replica.high_watermark(),
    };
    let lagging =
        (replica.leader_epoch_start()).is_some_and(|start| start > replica.high_watermark());
    let not_found = || match lagging {
        true => ListOffsetsResult::not_found(ErrorCode::OFFSET_NOT_AVAILABLE),
        false => none(),
    };
    let fetchable = |(timestamp, offset): (i64, i64)| match offset < last_fetchable.0 {
        true => found(timestamp, offset),
        false => not_found(),
    };
    match timestamp_ms {
        EARLIEST_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP => found(-1, log.log_start_offset()),
        LATEST_TIMESTAMP if lagging => not_found(),
        LATEST_TIMESTAMP => ListOffsetsResult {
            leader_epoch: current,
            ..found(-1, last_fetchable.into())
        },
        MAX_TIMESTAMP => match log.max_timestamp() {
            Ok(Some(found)) => fetchable(found),
            Ok(None) => not_found(),
            Err(error) => list_error(&error),
        },
        t if t >= 0 => match log.offset_for_timestamp(t) {
            Ok(Some((offset, timestamp))) => fetchable((timestamp, offset)),
            Ok(None) => not_found(),
            Err(error) => list_error(&error),
        },
        _ => ListOffsetsResult::not_found(ErrorCode::INVALID_REQUEST),
    }
}

fn list_error(error: &LogError) -> ListOffsetsResult {
    ListOffsetsResult::not_found(errors::log_error_code(error))
}
