//! The leader's side of a follower's fetch ([`ReplicaFetchRequest`]): a pure function of the
//! replica, so the actor can re-run it for a parked fetch as often as it needs to.
//!
//! The checks, in Kafka's order (`ReplicaManager.readFromLog`, `Partition.fetchRecords`):
//! 1. another topic of that name (UNKNOWN_TOPIC_ID), no replica here, the asker's epoch
//!    (KIP-320: FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH), this replica not the leader
//!    (NOT_LEADER_OR_FOLLOWER), the asker not an assigned replica (UNKNOWN_LEADER_EPOCH when
//!    it named an epoch, else NOT_LEADER_OR_FOLLOWER), the asker's broker epoch older than one
//!    its registration's or than its fetches in this leadership named already (KIP-903:
//!    NOT_LEADER_OR_FOLLOWER);
//! 2. the follower's last fetched epoch (a fetch offset below the log start is
//!    OFFSET_OUT_OF_RANGE first, KAFKA-12003) (KIP-595's diverging epoch, which replaced the
//!    OffsetForLeaderEpoch round trip of KIP-101/279): where that epoch ends on the leader
//!    (`endOffsetFor`); if it ends before the fetch offset, or the leader's largest epoch at
//!    or below it is older, the follower's log diverged there: that epoch and end are the
//!    answer, with no records. An epoch the leader cannot place is OFFSET_OUT_OF_RANGE;
//! 3. the fetch offset outside `[log start, log end]`: OFFSET_OUT_OF_RANGE, with the leader's
//!    log start and end so the follower knows where to go (but a follower with an empty log
//!    at the base of the batch holding the log start gets that batch: [`read_from`]);
//! 4. the batches from the fetch offset up to the log end (not the high watermark: a follower
//!    copies what is not committed yet, which is what lets it commit), within `max_bytes` but
//!    at least one batch; a follower held by the leader's replication throttle gets none, and
//!    one the quota has room left for gets at most that room (still at least one batch), so
//!    errors and divergences are answered whatever the quota (Kafka's `readFromLog` returns
//!    empty records for a throttled partition only after its checks).

use super::errors;
use super::following;
use super::leaders::{self, Absent};
use super::replica::Replica;
use crate::messages::{ReplicaFetchRequest, ReplicaFetchResult};
use crate::storage::log::epoch_cache::EpochEndOffset;
use crate::types::{BrokerEpoch, ErrorCode, LeaderEpoch, Offset};

/// The leader's answer to `ask` as of now; `topic_id` is the leader's own (all zero: unknown),
/// `assigned` whether the metadata lists the asker among the partition's replicas (`None`:
/// not known yet).
pub fn serve(
    ask: &ReplicaFetchRequest,
    replica: Result<&Replica, Absent>,
    topic_id: &[u8; 16],
    assigned: Option<bool>,
    registered: Option<BrokerEpoch>,
    budget_bytes: Option<u64>,
) -> ReplicaFetchResult {
    let unknown = [0; 16];
    if ask.topic_id != unknown && *topic_id != unknown && ask.topic_id != *topic_id {
        return ReplicaFetchResult::refused(ErrorCode::UNKNOWN_TOPIC_ID);
    }
    let replica = match leaders::leading_replica(replica, ask.current_leader_epoch) {
        Ok(replica) => replica,
        Err(code) => return ReplicaFetchResult::refused(code),
    };
    if replica.resigning() {
        // Its log was cut back after a failed write: answered from it, a follower would cut
        // what this leader lost, records perhaps acknowledged, before the new leadership
        // (maybe that follower's own) is named.
        return ReplicaFetchResult::refused(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if assigned == Some(false) {
        // Not a replica of the partition (Kafka's `followerReplicaOrThrow`): a reassignment
        // the asker has not applied yet, or a stray node.
        let code = match ask.current_leader_epoch == LeaderEpoch::UNKNOWN {
            true => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            false => ErrorCode::UNKNOWN_LEADER_EPOCH,
        };
        return ReplicaFetchResult::refused(code);
    }
    // KIP-903 (Kafka's `Replica.updateFetchStateOrThrow`): a fetch in an earlier broker epoch
    // than the replica's registration, or than one this leadership already saw from it, comes
    // from a process since replaced (0: the asker does not know its own yet).
    let seen = replica
        .followers()
        .get(&ask.replica)
        .map(|f| f.broker_epoch);
    let newest = seen.max(registered);
    if ask.broker_epoch.0 != 0 && newest.is_some_and(|newest| newest > ask.broker_epoch) {
        return ReplicaFetchResult::refused(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    let log = replica.log();
    let mut result = ReplicaFetchResult {
        error_code: ErrorCode::NONE,
        high_watermark: replica.high_watermark(),
        log_start_offset: Offset(log.log_start_offset()),
        log_end_offset: Offset(log.log_end_offset()),
        diverging_epoch: None,
        records: Vec::new(),
    };
    if ask.last_fetched_epoch != LeaderEpoch::UNKNOWN {
        let end = log.end_offset_for(ask.last_fetched_epoch.0);
        if end == EpochEndOffset::UNDEFINED {
            result.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
            return result;
        }
        // Below the log start the answer is OFFSET_OUT_OF_RANGE whether or not the epochs
        // diverge (KAFKA-12003): the follower must restart at the leader's log start.
        if ask.fetch_offset.0 < log.log_start_offset() {
            result.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
            return result;
        }
        if end.end_offset < ask.fetch_offset.0 || end.epoch < ask.last_fetched_epoch.0 {
            result.diverging_epoch = Some((LeaderEpoch(end.epoch), Offset(end.end_offset)));
            return result;
        }
    }
    let from = read_from(ask, replica);
    let in_range = (log.log_start_offset()..=log.log_end_offset()).contains(&from.0);
    let max_bytes = match budget_bytes {
        Some(0) if in_range => return result,
        // Out of range: the read answers OFFSET_OUT_OF_RANGE, throttled or not (Kafka's
        // `fetchRecords` fails before the throttle is looked at).
        Some(0) => 1,
        Some(room) => (ask.max_bytes as u64).min(room),
        None => ask.max_bytes as u64,
    };
    match log.read(from.0, max_bytes as usize) {
        Ok(slice) => result.records = slice.bytes,
        Err(error) => result.error_code = errors::log_error_code(&error),
    }
    result
}

/// Where the leader reads an answer from: the fetch offset, except for a follower with an
/// empty log (it names no epoch) that starts at the base of the batch holding the leader's
/// log start, below it (a DeleteRecords in the middle of a batch): it gets that batch whole
/// (Kafka's follower appends it after `truncateFullyAndStartAt(batch base)`), which it could
/// not otherwise, since no fetch offset below the log start is served. Any other offset
/// below it stays OFFSET_OUT_OF_RANGE.
fn read_from(ask: &ReplicaFetchRequest, replica: &Replica) -> Offset {
    let log = replica.log();
    let start = log.log_start_offset();
    // An empty follower log names no epoch and starts where it ends.
    let empty =
        ask.last_fetched_epoch == LeaderEpoch::UNKNOWN && ask.log_start_offset == ask.fetch_offset;
    if !empty || ask.fetch_offset.0 >= start {
        return ask.fetch_offset;
    }
    let base =
        (log.read(start, 1).ok()).and_then(|slice| following::first_batch_base(&slice.bytes));
    match base == Some(ask.fetch_offset) {
        true => Offset(start),
        false => ask.fetch_offset,
    }
}

/// Whether the leader answers `result` at once rather than hold the fetch: it carries records,
/// an error or a divergence, or the follower asked not to wait.
pub fn answers_now(ask: &ReplicaFetchRequest, result: &ReplicaFetchResult) -> bool {
    ask.max_wait_ms == 0
        || result.error_code != ErrorCode::NONE
        || result.diverging_epoch.is_some()
        || !result.records.is_empty()
}
