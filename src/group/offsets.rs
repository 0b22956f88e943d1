//! Committed offsets of one shard's groups (Kafka's `OffsetMetadataManager`): an
//! OffsetCommit is checked, written, and applied only once its write is acknowledged; an
//! OffsetFetch reads what is applied.
//!
//! Membership is not this module's business: the caller passes the verdict of
//! `ClassicGroup::commit_allowed` (or, for a group that does not exist, [`unknown_group`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::faults::{self, Canary};
use crate::messages::groups::{
    CommittedOffset, GroupOffsets, GroupsReply, OffsetCommitArgs, TxnOffsetCommitArgs,
};
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
    /// Where its record lies in the partition relative to the shard's other commits (a count
    /// of the commits applied before it, in log order, during this shard's life): a
    /// transaction's commit completed by its marker replaces only an older one (Kafka compares
    /// the two batches' log offsets).
    pub log_order: u64,
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
            log_order: 0,
        }
    }
}

/// Every group's committed offsets in one shard, and the offsets transactions commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offsets {
    groups: BTreeMap<String, BTreeMap<TopicPartition, StoredOffset>>,
    /// By producer id: the offsets its open transaction commits, by group (Kafka's
    /// `pendingTransactionalOffsetCommits`).
    pending: BTreeMap<i64, BTreeMap<String, BTreeMap<TopicPartition, StoredOffset>>>,
    /// Commits applied so far (plain or transactional, replayed or written): the next one's
    /// [`StoredOffset::log_order`]. Writes are applied in issue order, which is log order.
    applied: u64,
}

/// The records of a commit of `offsets` to `group`, with each partition's answer: too long
/// metadata is OFFSET_METADATA_TOO_LARGE and not written.
#[allow(clippy::type_complexity)]
fn commit_records(
    now: Clock,
    s: &GroupSettings,
    group: &str,
    offsets: Vec<(TopicPartition, CommittedOffset)>,
    expire_timestamp_ms: Option<i64>,
) -> (
    Vec<(TopicPartition, ErrorCode)>,
    Vec<(TopicPartition, CommittedOffset)>,
    Vec<OffsetsRecord>,
) {
    let mut results = Vec::with_capacity(offsets.len());
    let mut written = Vec::new();
    let mut records = Vec::new();
    for (tp, committed) in offsets {
        let metadata_bytes = committed.metadata.as_ref().map_or(0, String::len);
        if metadata_bytes > s.offset_metadata_max_bytes {
            results.push((tp, ErrorCode::OFFSET_METADATA_TOO_LARGE));
            continue;
        }
        records.push(OffsetsRecord::Offset {
            group: group.to_owned(),
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
        written.push((tp, committed));
    }
    (results, written, records)
}

/// A commit (plain or transactional) of `offsets` to `group`: refused as a whole when not
/// `allowed`, answered at once when nothing is left to write, else written with `then` (made
/// of the answer and the offsets written) handed back with its outcome.
#[allow(clippy::too_many_arguments)]
fn commit_or_answer<W>(
    now: Clock,
    s: &GroupSettings,
    allowed: Result<(), ErrorCode>,
    group: &str,
    offsets: Vec<(TopicPartition, CommittedOffset)>,
    expire_timestamp_ms: Option<i64>,
    w: W,
    then: impl FnOnce(
        Vec<(TopicPartition, ErrorCode)>,
        Vec<(TopicPartition, CommittedOffset)>,
    ) -> AfterWrite<W>,
    out: &mut Vec<GroupOut<W>>,
) {
    if let Err(code) = allowed {
        let results = offsets.into_iter().map(|(tp, _)| (tp, code)).collect();
        return out.push(GroupOut::Answer(w, GroupsReply::Committed(results)));
    }
    let (results, offsets, records) = commit_records(now, s, group, offsets, expire_timestamp_ms);
    if records.is_empty() {
        return out.push(GroupOut::Answer(w, GroupsReply::Committed(results)));
    }
    let then = then(results, offsets);
    out.push(GroupOut::Write { records, then });
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
        // Kafka: retention_time_ms = -1 means the broker's retention.
        let expire_timestamp_ms =
            (req.retention_ms >= 0).then(|| now.unix_ms.saturating_add(req.retention_ms));
        let then = |results, offsets| AfterWrite::Commit {
            waiter: w,
            group: req.group.clone(),
            results,
            offsets,
            commit_timestamp_ms: now.unix_ms,
            expire_timestamp_ms,
        };
        let group = &req.group;
        commit_or_answer(
            now,
            s,
            allowed,
            group,
            req.offsets,
            expire_timestamp_ms,
            w,
            then,
            out,
        );
    }

    /// A TxnOffsetCommit from `w` (`allowed`: the membership verdict): written as the
    /// producer's transactional batch, then pending in its transaction until its marker
    /// ([`Offsets::txn_completed`]). Transactional commits never expire on their own
    /// (TxnOffsetCommit has no retention).
    pub fn commit_txn<W: Copy>(
        &self,
        now: Clock,
        s: &GroupSettings,
        allowed: Result<(), ErrorCode>,
        req: TxnOffsetCommitArgs,
        w: W,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let then = |results, offsets| AfterWrite::TxnCommit {
            waiter: w,
            group: req.group.clone(),
            producer_id: req.producer_id.0,
            producer_epoch: req.producer_epoch,
            results,
            offsets,
            commit_timestamp_ms: now.unix_ms,
        };
        commit_or_answer(now, s, allowed, &req.group, req.offsets, None, w, then, out);
    }

    /// `producer_id`'s transaction ended on this partition: its pending offsets become
    /// committed (`commit`) or are dropped (Kafka's `completePendingTxnOffsetCommit`). A
    /// pending offset replaces only a commit written before it: a plain commit written while
    /// the transaction was open is newer and stays (Kafka's `olderThan`).
    pub fn txn_completed(&mut self, producer_id: i64, commit: bool) {
        let Some(pending) = self.pending.remove(&producer_id) else {
            return;
        };
        if !commit {
            return;
        }
        for (group, partitions) in pending {
            let stored = self.groups.entry(group).or_default();
            for (tp, value) in partitions {
                match stored.get(&tp) {
                    Some(newer) if newer.log_order > value.log_order => {}
                    _ => {
                        stored.insert(tp, value);
                    }
                }
            }
        }
    }

    /// The next commit's place in log order.
    fn next_log_order(&mut self) -> u64 {
        self.applied += 1;
        self.applied
    }

    /// A transactional commit replayed at load: pending in `producer_id`'s transaction.
    pub fn replay_pending(
        &mut self,
        producer_id: i64,
        group: &str,
        tp: TopicPartition,
        value: StoredOffset,
    ) {
        let value = StoredOffset {
            log_order: self.next_log_order(),
            ..value
        };
        let groups = self.pending.entry(producer_id).or_default();
        groups
            .entry(group.to_owned())
            .or_default()
            .insert(tp, value);
    }

    /// Whether a transaction has a commit of `group`'s `tp` pending (OffsetFetch with
    /// `require_stable` answers UNSTABLE_OFFSET_COMMIT for it).
    pub fn is_pending(&self, group: &str, tp: &TopicPartition) -> bool {
        (self.pending.values()).any(|groups| {
            groups
                .get(group)
                .is_some_and(|partitions| partitions.contains_key(tp))
        })
    }

    /// Every (group, partition) some open transaction has a commit of.
    pub fn pending_commits(&self) -> impl Iterator<Item = (&String, &TopicPartition)> {
        (self.pending.values().flatten())
            .flat_map(|(group, partitions)| partitions.keys().map(move |tp| (group, tp)))
    }

    /// Drops every open transaction's commit of `group`'s `tp` (all its partitions when
    /// `None`): a tombstone of the group's offset deletes the pending ones too (Kafka's
    /// replay of an offset tombstone), else a deleted group's pending commit would bring its
    /// offset back at the marker.
    fn remove_pending(&mut self, group: &str, partitions: Option<&[TopicPartition]>) {
        for groups in self.pending.values_mut() {
            let Some(stored) = groups.get_mut(group) else {
                continue;
            };
            match partitions {
                Some(listed) => listed.iter().for_each(|tp| {
                    stored.remove(tp);
                }),
                None => stored.clear(),
            }
            if stored.is_empty() {
                groups.remove(group);
            }
        }
        self.pending.retain(|_, groups| !groups.is_empty());
    }

    /// The outcome of a commit's write. `outcome` is the Append's own code: on success the
    /// offsets become committed (a transactional commit's pending), on failure nothing
    /// changes and the written partitions get the client's code for it. Other `AfterWrite`s
    /// belong to the group and are ignored.
    pub fn written<W: Copy>(
        &mut self,
        after: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<GroupOut<W>>,
    ) {
        let (waiter, group, mut results, offsets, commit_timestamp_ms, expire_timestamp_ms, txn) =
            match after {
                AfterWrite::Commit {
                    waiter,
                    group,
                    results,
                    offsets,
                    commit_timestamp_ms,
                    expire_timestamp_ms,
                } => (
                    waiter,
                    group,
                    results,
                    offsets,
                    commit_timestamp_ms,
                    expire_timestamp_ms,
                    None,
                ),
                AfterWrite::TxnCommit {
                    waiter,
                    group,
                    producer_id,
                    results,
                    offsets,
                    commit_timestamp_ms,
                    ..
                } => (
                    waiter,
                    group,
                    results,
                    offsets,
                    commit_timestamp_ms,
                    None,
                    Some(producer_id),
                ),
                _ => return,
            };
        match outcome {
            Ok(()) => {
                let log_order = self.next_log_order();
                // A transaction's commits pend in it; the others are committed now (the
                // canary commits a transaction's at once too).
                let stored = match txn {
                    Some(_) if faults::canary(Canary::TxnOffsetsAppliedEarly) => &mut self.groups,
                    Some(producer_id) => self.pending.entry(producer_id).or_default(),
                    None => &mut self.groups,
                };
                let stored = stored.entry(group).or_default();
                for (tp, offset) in offsets {
                    let value = StoredOffset {
                        offset,
                        commit_timestamp_ms,
                        expire_timestamp_ms,
                        log_order,
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
                let value = StoredOffset {
                    log_order: self.next_log_order(),
                    ..value
                };
                let stored = self.groups.entry(group.to_owned()).or_default();
                // The canary applies the replayed commits out of order: the oldest one wins.
                if faults::canary(Canary::GroupReplayOldestCommit) {
                    stored.entry(tp).or_insert(value);
                } else {
                    stored.insert(tp, value);
                }
            }
            None => self.remove(group, Some(std::slice::from_ref(&tp))),
        }
    }

    /// The group's committed offsets of `partitions`, or of every partition it committed.
    /// A partition without a commit answers offset -1 with no error, as Kafka does.
    ///
    /// With `require_stable` (OffsetFetch v7+, KIP-447), a partition a transaction has a
    /// commit of pending answers UNSTABLE_OFFSET_COMMIT (the client asks again once the
    /// transaction ended) instead of the offset it may be about to replace.
    pub fn fetch(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
        require_stable: bool,
    ) -> GroupOffsets {
        let stored = self.groups.get(group);
        let found = |tp: &TopicPartition| stored.and_then(|s| s.get(tp));
        let answer = |tp: &TopicPartition, offset: Option<&StoredOffset>| {
            if require_stable && self.is_pending(group, tp) {
                return (tp.clone(), no_commit(), ErrorCode::UNSTABLE_OFFSET_COMMIT);
            }
            let offset = offset.map_or_else(no_commit, |s| s.offset.clone());
            (tp.clone(), offset, ErrorCode::NONE)
        };
        let partitions = match partitions {
            Some(listed) => listed.iter().map(|tp| answer(tp, found(tp))).collect(),
            None => stored
                .into_iter()
                .flatten()
                .map(|(tp, s)| answer(tp, Some(s)))
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

    /// Drops `group`'s commits of `partitions` (all of them when `None`), pending ones
    /// included: its tombstones were acknowledged (or replayed).
    pub fn remove(&mut self, group: &str, partitions: Option<&[TopicPartition]>) {
        self.remove_pending(group, partitions);
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

    /// Groups with a committed offset or a transaction's commit pending (what the node's
    /// group bound counts).
    pub fn group_count(&self) -> usize {
        let pending_only: BTreeSet<&String> = (self.pending.values())
            .flat_map(BTreeMap::keys)
            .filter(|group| !self.groups.contains_key(*group))
            .collect();
        self.groups.len() + pending_only.len()
    }

    /// Whether `group` has any committed offset, or a transaction's commit pending.
    pub fn has_offsets(&self, group: &str) -> bool {
        self.groups.contains_key(group)
            || (self.pending.values()).any(|groups| groups.contains_key(group))
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
