//! OffsetForLeaderEpoch for one partition: where a leader epoch ends in this replica's log,
//! answered only by the leader. A pure function of what the actor holds, so it is tested
//! without one.
//!
//! The order of the checks is Kafka's (`Partition.getLocalLog`, then
//! `UnifiedLog.endOffsetForEpoch`):
//! 1. no replica here: KAFKA_STORAGE_ERROR if its log is offline, NOT_LEADER_OR_FOLLOWER if the
//!    metadata names the partition, else UNKNOWN_TOPIC_OR_PARTITION;
//! 2. the epoch the asker knows (KIP-320): older is FENCED_LEADER_EPOCH, newer
//!    UNKNOWN_LEADER_EPOCH;
//! 3. a follower: NOT_LEADER_OR_FOLLOWER;
//! 4. the log's `endOffsetFor`: the largest epoch at or below the one asked and where it ends,
//!    or -1/-1 (no error) when the log knows no such epoch.

use super::leaders::{self, Absent};
use super::replica::Replica;
use crate::messages::{EpochEnd, EpochEndAsk};
use crate::types::{ErrorCode, LeaderEpoch, Offset};

/// The answer for `ask`, from the open replica if there is one.
pub fn answer(ask: EpochEndAsk, replica: Result<&Replica, Absent>) -> EpochEnd {
    let replica = match leaders::leading_replica(replica, ask.current_leader_epoch) {
        Ok(replica) => replica,
        Err(code) => return EpochEnd::undefined(ask.tp, code),
    };
    let end = replica.log().end_offset_for(ask.leader_epoch.0);
    EpochEnd {
        tp: ask.tp,
        error_code: ErrorCode::NONE,
        leader_epoch: LeaderEpoch(end.epoch),
        end_offset: Offset(end.end_offset),
    }
}
