//! Committed offsets of one shard's groups (Kafka's `OffsetMetadataManager`): an
//! OffsetCommit is checked, written, and applied only once its write is acknowledged; an
//! OffsetFetch reads what is applied.
//!
//! Membership is not this module's business: the caller passes the verdict of
//! `ClassicGroup::commit_allowed` (or, for a group that does not exist, [`unknown_group`]).

use std::collections::BTreeMap;

use crate::faults::{self, Canary};
use crate::messages::groups::{CommittedOffset, GroupOffsets, GroupsReply, OffsetCommitArgs};
use crate::types::{ErrorCode, LeaderEpoch, Offset, TopicPartition};

use super::output::{client_code, AfterWrite, Clock, GroupOut, OffsetsRecord, WriteKind};
use super::records::OffsetValue;
use super::settings::GroupSettings;

/// Who commits: the fields `ClassicGroup::commit_allowed` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitIdentity<'a> {
    pub generation: i32,
    pub member_id: &'a str,
    pub instance_id: Option<&'a str>,
}

impl<'a> CommitIdentity<'a> {
    pub fn of(req: &'a OffsetCommitArgs) -> Self {
        Self {
            generation: req.generation,
            member_id: &req.member_id,
            instance_id: req.instance_id.as_deref(),
        }
    }
}

/// The verdict for a commit to a group that does not exist (Kafka's `validateOffsetCommit`):
/// generation < 0 is a simple consumer or a tool, which creates the group; otherwise the
/// member's group is gone (ILLEGAL_GENERATION; OffsetCommit v9+ says GROUP_ID_NOT_FOUND,
/// which the gateway maps).
pub fn unknown_group(id: &CommitIdentity<'_>) -> Result<(), ErrorCode> {
    if id.generation < 0 {
        Ok(())
    } else {
        Err(ErrorCode::ILLEGAL_GENERATION)
    }
}

/// One stored commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOffset {
    pub offset: CommittedOffset,
    /// unix ms.
    pub commit_timestamp_ms: i64,
    /// unix ms; only commits of OffsetCommit v2–4 with a `retention_time_ms` have one.
    pub expire_timestamp_ms: Option<i64>,
}

impl StoredOffset {
    /// A stored commit as replayed from its record.
    pub fn from_record(value: OffsetValue) -> Self {
        Self {
            offset: CommittedOffset {
                offset: Offset(value.offset),
                leader_epoch: LeaderEpoch(value.leader_epoch),
                metadata: Some(value.metadata),
            },
            commit_timestamp_ms: value.commit_timestamp_ms,
            expire_timestamp_ms: value.expire_timestamp_ms,
        }
    }
}

/// Every group's committed offsets in one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    groups: BTreeMap<String, BTreeMap<TopicPartition, StoredOffset>>,
}

impl Offsets {
    /// An OffsetCommit from `w`. `allowed` is the membership verdict. Partitions whose
    /// metadata is too long get OFFSET_METADATA_TOO_LARGE; the rest are written as one batch
    /// and answered (and applied) in [`Offsets::written`]; with none left it answers now.
    pub fn commit<W: Copy>(
        &self,
        now: Clock,
        s: &GroupSettings,
        allowed: Result<(), ErrorCode>,
        req: OffsetCommitArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        if let Err(code) = allowed {
            let results = req.offsets.into_iter().map(|(tp, _)| (tp, code)).collect();
            out.push(GroupOut::Answer(w, GroupsReply::Committed(results)));
            return;
        }
        // Kafka: retention_time_ms = -1 means the broker's retention.
        let expire_timestamp_ms =
            (req.retention_ms >= 0).then(|| now.unix_ms.saturating_add(req.retention_ms));
        let mut results = Vec::with_capacity(req.offsets.len());
        let mut offsets = Vec::new();
        let mut records = Vec::new();
        for (tp, committed) in req.offsets {
            let metadata_bytes = committed.metadata.as_ref().map_or(0, String::len);
            if metadata_bytes > s.offset_metadata_max_bytes {
                results.push((tp, ErrorCode::OFFSET_METADATA_TOO_LARGE));
                continue;
            }
            records.push(OffsetsRecord::Offset {
                group: req.group.clone(),
                tp: tp.clone(),
                value: Some(OffsetValue {
                    offset: committed.offset.0,
                    leader_epoch: committed.leader_epoch.0,
                    metadata: committed.metadata.clone().unwrap_or_default(),
                    commit_timestamp_ms: now.unix_ms,
                    expire_timestamp_ms,
                }),
            });
            results.push((tp.clone(), ErrorCode::NONE));
            offsets.push((tp, committed));
        }
        if records.is_empty() {
            out.push(GroupOut::Answer(w, GroupsReply::Committed(results)));
            return;
        }
        out.push(GroupOut::Write {
            records,
            then: AfterWrite::Commit {
                waiter: w,
                group: req.group,
                results,
                offsets,
                commit_timestamp_ms: now.unix_ms,
                expire_timestamp_ms,
            },
        });
    }

    /// The outcome of a commit's write. `outcome` is the Append's own code: on success the
    /// offsets become committed, on failure nothing changes and the written partitions get
    /// the client's code for it. Other `AfterWrite`s belong to the group and are ignored.
    pub fn written<W: Copy>(
        &mut self,
        after: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let AfterWrite::Commit {
            waiter,
            group,
            mut results,
            offsets,
            commit_timestamp_ms,
            expire_timestamp_ms,
        } = after
        else {
            return;
        };
        match outcome {
            Ok(()) => {
                let stored = self.groups.entry(group).or_default();
                for (tp, offset) in offsets {
                    let value = StoredOffset {
                        offset,
                        commit_timestamp_ms,
                        expire_timestamp_ms,
                    };
                    stored.insert(tp, value);
                }
            }
            Err(append) => {
                let code = client_code(append, WriteKind::Commit);
                for (_, result) in results.iter_mut().filter(|(_, c)| *c == ErrorCode::NONE) {
                    *result = code;
                }
            }
        }
        out.push(GroupOut::Answer(waiter, GroupsReply::Committed(results)));
    }

    /// A record replayed at load: a commit, or its removal (a tombstone).
    pub fn replay(&mut self, group: &str, tp: TopicPartition, value: Option<StoredOffset>) {
        match value {
            Some(value) => {
                let stored = self.groups.entry(group.to_owned()).or_default();
                // The canary applies the replayed commits out of order: the oldest one wins.
                if faults::canary(Canary::GroupReplayOldestCommit) {
                    stored.entry(tp).or_insert(value);
                } else {
                    stored.insert(tp, value);
                }
            }
            None => {
                if let Some(stored) = self.groups.get_mut(group) {
                    stored.remove(&tp);
                    if stored.is_empty() {
                        self.groups.remove(group);
                    }
                }
            }
        }
    }

    /// The group's committed offsets of `partitions`, or of every partition it committed.
    /// A partition without a commit answers offset -1 with no error, as Kafka does.
    pub fn fetch(&self, group: &str, partitions: Option<&[TopicPartition]>) -> GroupOffsets {
        let stored = self.groups.get(group);
        let found = |tp: &TopicPartition| stored.and_then(|s| s.get(tp));
        let partitions = match partitions {
            Some(listed) => listed
                .iter()
                .map(|tp| {
                    let offset = found(tp).map_or_else(no_commit, |s| s.offset.clone());
                    (tp.clone(), offset, ErrorCode::NONE)
                })
                .collect(),
            None => stored
                .into_iter()
                .flatten()
                .map(|(tp, s)| (tp.clone(), s.offset.clone(), ErrorCode::NONE))
                .collect(),
        };
        GroupOffsets {
            group: group.to_owned(),
            error_code: ErrorCode::NONE,
            partitions,
        }
    }

    /// Every group with a committed offset, in name order.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// `group`'s committed partitions, in order.
    pub fn partitions_of(&self, group: &str) -> Vec<TopicPartition> {
        self.groups
            .get(group)
            .map_or_else(Vec::new, |stored| stored.keys().cloned().collect())
    }

    /// Drops `group`'s commits of `partitions` (all of them when `None`): its tombstones were
    /// acknowledged.
    pub fn remove(&mut self, group: &str, partitions: Option<&[TopicPartition]>) {
        let Some(stored) = self.groups.get_mut(group) else {
            return;
        };
        match partitions {
            Some(listed) => listed.iter().for_each(|tp| {
                stored.remove(tp);
            }),
            None => stored.clear(),
        }
        if stored.is_empty() {
            self.groups.remove(group);
        }
    }

    /// `group`'s committed offsets, if it has any.
    pub fn of(&self, group: &str) -> Option<&BTreeMap<TopicPartition, StoredOffset>> {
        self.groups.get(group)
    }

    /// Groups with a committed offset.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Whether `group` has any committed offset.
    pub fn has_offsets(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }
}

/// OffsetFetch's answer for a partition without a commit (Kafka's `INVALID_OFFSET`, no
/// epoch, `NO_METADATA`).
fn no_commit() -> CommittedOffset {
    CommittedOffset {
        offset: Offset::UNKNOWN,
        leader_epoch: LeaderEpoch::UNKNOWN,
        metadata: Some(String::new()),
    }
}
