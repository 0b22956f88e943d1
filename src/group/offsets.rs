//! Committed offsets of one shard's groups.
use std::collections::BTreeMap;

use crate::messages::groups::{CommittedOffset, GroupOffsets, OffsetCommitArgs};
use crate::types::{ErrorCode, TopicPartition};

use super::output::{AfterWrite, Clock, GroupOut};
use super::settings::GroupSettings;

/// Who commits: the fields `ClassicGroup::commit_allowed` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitIdentity<'a> {
    pub generation: i32,
    pub member_id: &'a str,
    pub instance_id: Option<&'a str>,
}

/// One stored commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOffset {
    pub offset: CommittedOffset,
    pub commit_timestamp_ms: i64,
    pub expire_timestamp_ms: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct Offsets {
    groups: BTreeMap<String, BTreeMap<TopicPartition, StoredOffset>>,
}

impl Offsets {
    pub fn commit<W: Copy>(
        &self,
        now: Clock,
        s: &GroupSettings,
        allowed: Result<(), ErrorCode>,
        req: OffsetCommitArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let _ = (now, s, allowed, req, w, out, &self.groups);
        todo!()
    }
    pub fn written<W: Copy>(
        &mut self,
        after: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let _ = (after, outcome, out);
        todo!()
    }
    pub fn fetch(&self, group: &str, partitions: Option<&[TopicPartition]>) -> GroupOffsets {
        let _ = (group, partitions);
        todo!()
    }
}
