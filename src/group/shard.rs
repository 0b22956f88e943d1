//! One `__consumer_offsets` partition's coordinator: its groups, their committed offsets, its
//! load state, its leadership term and its writes in flight (Kafka's `GroupCoordinatorShard`).
//!
//! * **Loading → Loaded.** A shard is made on `Elected` (or a `Lead` barrier's answer) and
//!   replays the partition below the log end it was given ([`super::load`]); meanwhile every
//!   request gets COORDINATOR_LOAD_IN_PROGRESS. A read answer of an older load is dropped.
//! * **Apply on ack, in issue order.** A state machine's `Write` becomes one batch appended
//!   under the shard's term; the state changes only when its `written` is fed, and writes are
//!   fed in the order they were issued, however their answers arrive.
//! * **Any failed write ends the shard.** A failed or timed-out append may still be in the
//!   log (and read back by the next load), so the shard's memory can no longer be trusted: the
//!   caller drops it ([`Shard::abandon`] answers everything parked with NOT_COORDINATOR) and
//!   loads again after a barrier.
//!
//! Pure: it takes a clock and returns [`ShardOut`]s; the actor turns them into effects.

use std::collections::{BTreeMap, BTreeSet};

use rand::RngCore;

use crate::faults::FaultPoint;
use crate::messages::groups::{
    GroupDescription, GroupOffsets, GroupsReply, GroupsRequest, LeaderTerm, LeaveGroupResult,
    LeftMember, ListGroupsArgs, ListedGroup, OffsetDeleteArgs, OffsetDeleteResult,
    TxnOffsetCommitArgs,
};
use crate::messages::partitions::FetchPartitionResult;
use crate::storage::batch::{
    build_batch_records, build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT,
};
use crate::types::{ErrorCode, Offset, TopicPartition};

use super::consumer::persist;
use super::consumer::ConsumerGroup;
use super::delete::{group_tombstones, may_delete, offset_tombstones, offsets_deletable};
use super::describe::{describe, listed};
use super::load::{Load, LoadStep};
use super::offsets::{unknown_group, CommitIdentity, Offsets};
use super::output::{
    client_code, AfterWrite, Clock, GroupOut, GroupTimer, OffsetsRecord, WriteKind,
};
use super::refusal::{described_refused, fetch_refused, refused};
use super::retention::{consumer_group_expired, expired, Expired};
use super::settings::GroupSettings;
use super::state::{join_error, sync_error, ClassicGroup, GroupState};

/// What a shard asks of its actor, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum ShardOut<W> {
    /// Answer the request `W`.
    Answer(W, GroupsReply),
    /// Arm `group`'s `timer` for `at_mono_ms`.
    Wake {
        group: String,
        timer: GroupTimer,
        at_mono_ms: u64,
    },
    Cancel {
        group: String,
        timer: GroupTimer,
    },
    /// Append `batch` under the shard's term; feed the answer to [`Shard::appended`].
    Append {
        write: u64,
        batch: Vec<u8>,
    },
    /// Read the partition from `from` for the load; feed the answer to [`Shard::fetched`].
    Read {
        from: Offset,
    },
}

/// A write in flight: whose it is, what to do with its outcome, and the outcome once known
/// (kept until every earlier write's is known).
#[derive(Debug)]
struct InFlight<W> {
    group: String,
    then: AfterWrite<W>,
    outcome: Option<Result<(), ErrorCode>>,
}

#[derive(Debug)]
enum Phase {
    Loading(Load),
    Loaded,
}

#[derive(Debug)]
pub struct Shard<W> {
    partition: i32,
    term: LeaderTerm,
    /// Unique per shard made by the actor: answers to an older shard's calls are told apart.
    id: u64,
    phase: Phase,
    groups: BTreeMap<String, ClassicGroup<W>>,
    /// KIP-848 consumer groups ([`consumer_groups`]); a group id is in one map at most.
    consumer: BTreeMap<String, ConsumerGroup>,
    /// Consumer groups whose deletion (DeleteGroups or retention) is being written: they
    /// take no heartbeat or commit until it is acknowledged, then they go (a classic group
    /// is made Dead instead).
    consumer_deleting: BTreeSet<String>,
    offsets: Offsets,
    writes: BTreeMap<u64, InFlight<W>>,
    next_write: u64,
    /// The session of a consumer-protocol member a load restores: the configured one, so a
    /// member that left for good is expired as soon as a live one would be.
    restored_session_ms: u64,
    /// The log end the load was given: markers below it are replayed by the load.
    load_end: Offset,
    /// Transactions that ended (markers past `load_end`) while the load ran: applied after it.
    completions_after_load: Vec<(i64, bool)>,
}

/// Why a shard must be dropped and loaded again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unload(pub String);

impl<W: Copy> Shard<W> {
    /// The shard of `partition` under `term`, loading everything below `log_end`.
    /// `restored_session_ms`: the session of a consumer-protocol member the load restores
    /// (`group.consumer.session.timeout.ms`), until its next heartbeat.
    pub fn new(
        partition: i32,
        term: LeaderTerm,
        log_end: Offset,
        id: u64,
        restored_session_ms: u64,
        now: Clock,
        out: &mut Vec<ShardOut<W>>,
    ) -> Self {
        let load = Load::new(log_end);
        let first = load.start();
        let mut shard = Self {
            partition,
            term,
            id,
            phase: Phase::Loading(load),
            groups: BTreeMap::new(),
            consumer: BTreeMap::new(),
            consumer_deleting: BTreeSet::new(),
            offsets: Offsets::default(),
            writes: BTreeMap::new(),
            next_write: 0,
            restored_session_ms,
            load_end: log_end,
            completions_after_load: Vec::new(),
        };
        shard.load_step(first, now, out);
        shard
    }

    pub fn term(&self) -> LeaderTerm {
        self.term
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn is_loading(&self) -> bool {
        matches!(self.phase, Phase::Loading(_))
    }

    fn load_step(&mut self, step: LoadStep, now: Clock, out: &mut Vec<ShardOut<W>>) {
        match step {
            LoadStep::Read(from) => out.push(ShardOut::Read { from }),
            LoadStep::Done => {
                let Phase::Loading(mut load) = std::mem::replace(&mut self.phase, Phase::Loaded)
                else {
                    return;
                };
                let replay = std::mem::take(&mut load.consumer);
                self.restore_consumer(replay, now, out);
                for (producer_id, commit) in std::mem::take(&mut self.completions_after_load) {
                    self.offsets.txn_completed(producer_id, commit);
                }
                if load.skipped > 0 {
                    let (partition, skipped) = (self.partition, load.skipped);
                    tracing::warn!(partition, skipped, "records skipped while loading");
                }
                for (group, value) in load.finish() {
                    let mut outs = Vec::new();
                    let built = ClassicGroup::from_record(group.clone(), value, now, &mut outs);
                    self.groups.insert(group.clone(), built);
                    self.emit(now, &group, outs, out);
                }
            }
        }
    }

    /// The answer to this shard's load read. `Err`: the load failed; drop the shard.
    pub fn fetched(
        &mut self,
        read: &FetchPartitionResult,
        now: Clock,
        out: &mut Vec<ShardOut<W>>,
    ) -> Result<(), Unload> {
        let Phase::Loading(load) = &mut self.phase else {
            return Ok(()); // not asked for any more
        };
        let partition = self.partition;
        // A crash point: the hook cuts the power, nothing after this becomes durable.
        let _ = crate::fault_point!(FaultPoint::CrashDuringGroupLoad, format!("p{partition}"));
        let step = load.fetched(read, &mut self.offsets).map_err(Unload)?;
        self.load_step(step, now, out);
        Ok(())
    }

    /// A group request (OffsetFetch goes to [`Self::fetch_offsets`]).
    pub fn request(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        rng: &mut impl RngCore,
        request: GroupsRequest,
        w: W,
        out: &mut Vec<ShardOut<W>>,
    ) {
        if self.is_loading() {
            let code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
            return out.push(ShardOut::Answer(w, refused(&request, code)));
        }
        let mut outs = Vec::new();
        let group = match request {
            GroupsRequest::Join(args) if self.consumer_deleting.contains(&args.group) => {
                // The consumer group of that id is being deleted: a classic group may start
                // once it is gone.
                let reply = join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, &args.member_id);
                return out.push(ShardOut::Answer(w, reply));
            }
            GroupsRequest::Join(args) if self.consumer.contains_key(&args.group) => {
                // A classic member cannot join a consumer group (no online migration).
                let reply = join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, &args.member_id);
                return out.push(ShardOut::Answer(w, reply));
            }
            GroupsRequest::ConsumerHeartbeat(call) => {
                return self.consumer_heartbeat(now, s, rng, call, w, out);
            }
            GroupsRequest::Join(args) => {
                let group = args.group.clone();
                let entry = (self.groups.entry(group.clone()))
                    .or_insert_with(|| ClassicGroup::new(group.clone(), now));
                entry.join(now, s, rng, args, w, &mut outs);
                group
            }
            GroupsRequest::Sync(args) => {
                let group = args.group.clone();
                match self.groups.get_mut(&group) {
                    Some(entry) => entry.sync(now, args, w, &mut outs),
                    None => outs.push(GroupOut::Answer(
                        w,
                        sync_error(ErrorCode::UNKNOWN_MEMBER_ID),
                    )),
                }
                group
            }
            GroupsRequest::Heartbeat(args) => {
                let code = (self.groups.get_mut(&args.group))
                    .map_or(ErrorCode::UNKNOWN_MEMBER_ID, |g| g.heartbeat(now, &args));
                outs.push(GroupOut::Answer(w, GroupsReply::Heartbeat(code)));
                args.group
            }
            GroupsRequest::Leave(args) => {
                let group = args.group.clone();
                let left = match self.groups.get_mut(&group) {
                    Some(entry) => entry.leave(now, args, &mut outs),
                    None => unknown_leave(args.members),
                };
                // After what the departure caused (other members' answers come first), and
                // after the Empty group's record when the last members left.
                answer_leave_after_write(&mut outs, w, left);
                group
            }
            GroupsRequest::OffsetCommit(args) => {
                let id = CommitIdentity::of(&args);
                let allowed = match (self.groups.get(&args.group), self.consumer.get(&args.group)) {
                    (_, Some(_)) if self.consumer_deleting.contains(&args.group) => {
                        Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
                    }
                    (_, Some(consumer)) => {
                        consumer.commit_allowed(id.generation, id.member_id, args.api_version)
                    }
                    (Some(entry), None) => entry.commit_allowed(&id),
                    (None, None) => unknown_group(&id),
                };
                let group = args.group.clone();
                self.offsets.commit(now, s, allowed, args, w, &mut outs);
                group
            }
            GroupsRequest::TxnOffsetCommit(args) => {
                let group = args.group.clone();
                let allowed = self.txn_commit_allowed(&args);
                self.offsets.commit_txn(now, s, allowed, args, w, &mut outs);
                group
            }
            GroupsRequest::Delete(args) => {
                let Some(group) = args.groups.into_iter().next() else {
                    return out.push(ShardOut::Answer(w, GroupsReply::Deleted(Vec::new())));
                };
                self.delete_group(now, &group, w, &mut outs);
                group
            }
            GroupsRequest::OffsetDelete(args) => {
                let group = args.group.clone();
                self.delete_offsets(args, w, &mut outs);
                group
            }
            other => {
                // KIP-848 comes with a later lane (Describe and List are reads of the actor).
                let code = ErrorCode::UNSUPPORTED_VERSION;
                return out.push(ShardOut::Answer(w, refused(&other, code)));
            }
        };
        self.emit(now, &group, outs, out);
    }

    /// Whether a TxnOffsetCommit may commit for its group (Kafka's `validateOffsetCommit`
    /// with `isTransactional`): one that names no member (v0–2, or a producer without the
    /// consumer's group metadata) is not checked against the membership; one that does is
    /// checked as an OffsetCommit. A group being deleted takes none.
    fn txn_commit_allowed(&self, args: &TxnOffsetCommitArgs) -> Result<(), ErrorCode> {
        let id = CommitIdentity {
            generation: args.generation,
            member_id: &args.member_id,
            instance_id: args.instance_id.as_deref(),
        };
        let anonymous = id.generation < 0 && id.member_id.is_empty() && id.instance_id.is_none();
        match (self.groups.get(&args.group), self.consumer.get(&args.group)) {
            (_, Some(_)) if self.consumer_deleting.contains(&args.group) => {
                Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            }
            (Some(entry), _) if entry.state() == GroupState::Dead => {
                Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            }
            _ if anonymous => Ok(()),
            // KIP-848 members commit with their member epoch as the generation (v3+).
            (_, Some(consumer)) => consumer.commit_allowed(id.generation, id.member_id, 9),
            (Some(entry), None) => entry.commit_allowed(&id),
            (None, None) => unknown_group(&id),
        }
    }

    /// DeleteGroups of `group`: refused, or its tombstones written (the group is Dead, so
    /// refuses joins, until the write's outcome is known).
    fn delete_group(&mut self, now: Clock, group: &str, w: W, outs: &mut Vec<GroupOut<W>>) {
        let has_offsets = self.offsets.has_offsets(group);
        let allowed = match self.consumer.get(group) {
            // Being deleted already: gone, as a Dead classic group is.
            Some(_) if self.consumer_deleting.contains(group) => Err(ErrorCode::GROUP_ID_NOT_FOUND),
            Some(consumer) if !consumer.members.is_empty() => Err(ErrorCode::NON_EMPTY_GROUP),
            Some(_) => Ok(()),
            None => may_delete(self.groups.get(group), has_offsets),
        };
        if let Err(code) = allowed {
            let reply = GroupsReply::Deleted(vec![(group.to_owned(), code)]);
            return outs.push(GroupOut::Answer(w, reply));
        }
        if let Some(entry) = self.groups.get_mut(group) {
            entry.set_state(GroupState::Dead, now);
        }
        let records = self.deletion_records(group, self.committed_or_in_flight(group));
        outs.push(GroupOut::Write {
            records,
            then: AfterWrite::DeleteGroup { waiter: w },
        });
    }

    /// The partitions `group` has committed, or has a commit of in flight: a deletion's
    /// tombstones cover both (written after the commit, they delete it in the log as the
    /// deletion's acknowledgement does in memory).
    fn committed_or_in_flight(&self, group: &str) -> BTreeSet<TopicPartition> {
        let mut partitions: BTreeSet<TopicPartition> =
            self.offsets.partitions_of(group).into_iter().collect();
        if let Some(in_flight) = self.commits_in_flight().remove(group) {
            partitions.extend(in_flight);
        }
        partitions
    }

    /// The tombstones deleting `group` with its commits of `committed`: a classic group's
    /// record, or every record of a consumer group (which is marked as being deleted).
    fn deletion_records(
        &mut self,
        group: &str,
        committed: impl IntoIterator<Item = TopicPartition>,
    ) -> Vec<OffsetsRecord> {
        match self.consumer.get(group) {
            Some(consumer) => {
                self.consumer_deleting.insert(group.to_owned());
                (offset_tombstones(group, committed))
                    .chain(persist::tombstones(consumer))
                    .collect()
            }
            None => group_tombstones(group, committed),
        }
    }

    /// A deletion of `group` was written (`written`) or failed: a consumer group being
    /// deleted goes, or takes requests again.
    fn consumer_deletion_done(&mut self, group: &str, written: bool) {
        if self.consumer_deleting.remove(group) && written {
            self.consumer.remove(group);
        }
    }

    /// OffsetDelete: partitions of subscribed topics are refused, the committed ones of the
    /// rest get tombstones.
    fn delete_offsets(&mut self, args: OffsetDeleteArgs, w: W, outs: &mut Vec<GroupOut<W>>) {
        let group = args.group;
        let has_offsets = self.offsets.has_offsets(&group);
        let allowed = match self.consumer.get(&group) {
            Some(_) if self.consumer_deleting.contains(&group) => {
                Err(ErrorCode::GROUP_ID_NOT_FOUND)
            }
            Some(consumer) => Ok(consumer.subscribed()),
            None => offsets_deletable(self.groups.get(&group), has_offsets),
        };
        let subscribed = match allowed {
            Ok(subscribed) => subscribed,
            Err(error_code) => {
                let partitions = Vec::new();
                let reply = OffsetDeleteResult {
                    error_code,
                    partitions,
                };
                return outs.push(GroupOut::Answer(w, GroupsReply::OffsetsDeleted(reply)));
            }
        };
        let committed = self.committed_or_in_flight(&group);
        let mut results = Vec::with_capacity(args.partitions.len());
        let mut partitions = Vec::new();
        for tp in args.partitions {
            if subscribed.covers(&tp.topic) {
                results.push((tp, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
                continue;
            }
            if committed.contains(&tp) && !partitions.contains(&tp) {
                partitions.push(tp.clone());
            }
            results.push((tp, ErrorCode::NONE));
        }
        if partitions.is_empty() {
            let reply = OffsetDeleteResult {
                error_code: ErrorCode::NONE,
                partitions: results,
            };
            return outs.push(GroupOut::Answer(w, GroupsReply::OffsetsDeleted(reply)));
        }
        let records = offset_tombstones(&group, partitions.iter().cloned()).collect();
        let then = AfterWrite::DeleteOffsets {
            waiter: w,
            results,
            partitions,
        };
        outs.push(GroupOut::Write { records, then });
    }

    /// The outcome of a deletion's tombstones: applied on success, answered either way.
    fn deleted(
        &mut self,
        group: &str,
        then: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        outs: &mut Vec<GroupOut<W>>,
    ) {
        let failed = outcome
            .err()
            .map(|append| client_code(append, WriteKind::GroupMetadata));
        match then {
            AfterWrite::DeleteGroup { waiter } => {
                self.consumer_deletion_done(group, failed.is_none());
                if failed.is_none() {
                    if self
                        .groups
                        .get(group)
                        .is_some_and(|g| g.state() == GroupState::Dead)
                    {
                        self.groups.remove(group);
                    }
                    self.offsets.remove(group, None);
                }
                let code = failed.unwrap_or(ErrorCode::NONE);
                let reply = GroupsReply::Deleted(vec![(group.to_owned(), code)]);
                outs.push(GroupOut::Answer(waiter, reply));
            }
            AfterWrite::DeleteOffsets {
                waiter,
                mut results,
                partitions,
            } => {
                let error_code = match failed {
                    None => {
                        self.offsets.remove(group, Some(&partitions));
                        ErrorCode::NONE
                    }
                    Some(code) => {
                        for (_, result) in results.iter_mut() {
                            *result = code;
                        }
                        code
                    }
                };
                let reply = OffsetDeleteResult {
                    error_code,
                    partitions: results,
                };
                outs.push(GroupOut::Answer(waiter, GroupsReply::OffsetsDeleted(reply)));
            }
            _ => {}
        }
    }

    /// `offsets.retention.check.interval.ms` woke the shard: every group's expired offsets
    /// get tombstones (one write per group), and a group left Empty without offsets a group
    /// tombstone, made Dead until the write is acknowledged ([`super::retention`]). Applied on
    /// ack like any write, so a load after a crash replays either the offsets or their
    /// tombstones, never half of a group's expiry. Nothing while loading.
    pub fn expire_offsets(&mut self, now: Clock, s: &GroupSettings, out: &mut Vec<ShardOut<W>>) {
        if self.is_loading() {
            return;
        }
        let pending = self.commits_in_flight();
        let none = BTreeSet::new();
        let names: BTreeSet<String> = (self.groups.keys().cloned())
            .chain(self.consumer.keys().cloned())
            .chain(self.offsets.group_names().map(str::to_owned))
            .filter(|name| !self.consumer_deleting.contains(name))
            .collect();
        for name in names {
            let pending = pending.get(&name).unwrap_or(&none);
            let found = match self.consumer.get(&name) {
                Some(group) => consumer_group_expired(
                    group,
                    self.offsets.of(&name),
                    pending,
                    now.unix_ms,
                    s.offsets_retention_ms,
                ),
                None => expired(
                    self.groups.get(&name),
                    self.offsets.of(&name),
                    pending,
                    now.unix_ms,
                    s.offsets_retention_ms,
                ),
            };
            if found.is_empty() {
                continue;
            }
            let Expired { partitions, group } = found;
            let records: Vec<OffsetsRecord> = if group {
                if let Some(entry) = self.groups.get_mut(&name) {
                    entry.set_state(GroupState::Dead, now);
                }
                self.deletion_records(&name, partitions.clone())
            } else {
                offset_tombstones(&name, partitions.iter().cloned()).collect()
            };
            let (count, partition) = (partitions.len(), self.partition);
            tracing::info!(partition, group = %name, count, with_group = group, "offsets expired");
            let then = AfterWrite::Expire { partitions, group };
            self.emit(now, &name, vec![GroupOut::Write { records, then }], out);
        }
    }

    /// The partitions of each group with a commit still in flight, or pending in an open
    /// transaction: retention leaves them be (or its tombstone would land after, and delete,
    /// the newer commit; Kafka keeps a pending one's offset too), and a deletion's tombstones
    /// cover them.
    fn commits_in_flight(&self) -> BTreeMap<String, BTreeSet<TopicPartition>> {
        let mut pending: BTreeMap<String, BTreeSet<TopicPartition>> = BTreeMap::new();
        for (group, tp) in self.offsets.pending_commits() {
            pending.entry(group.clone()).or_default().insert(tp.clone());
        }
        for write in self.writes.values() {
            if let AfterWrite::Commit { group, offsets, .. }
            | AfterWrite::TxnCommit { group, offsets, .. } = &write.then
            {
                let partitions = pending.entry(group.clone()).or_default();
                partitions.extend(offsets.iter().map(|(tp, _)| tp.clone()));
            }
        }
        pending
    }

    /// The outcome of retention's tombstones for `group`: applied on success. A failure ends
    /// the shard (the reload reads what made it); one that never reached the log (an encoding
    /// failure) gives the group back its Empty state.
    fn expiry_written(
        &mut self,
        group: &str,
        partitions: &[TopicPartition],
        with_group: bool,
        outcome: Result<(), ErrorCode>,
    ) {
        let dead = (self.groups.get(group)).is_some_and(|g| g.state() == GroupState::Dead);
        if with_group {
            self.consumer_deletion_done(group, outcome.is_ok());
        }
        match outcome {
            Ok(()) => {
                self.offsets.remove(group, Some(partitions));
                if with_group && dead {
                    self.groups.remove(group);
                }
            }
            Err(_) if with_group && dead => {
                if let Some(entry) = self.groups.get_mut(group) {
                    entry.state = GroupState::Empty;
                }
            }
            Err(_) => {}
        }
    }

    /// Entries this shard holds: groups with a state (classic or consumer) plus
    /// groups with offsets (one with both counts twice; what `GROUPS_PER_NODE_MAX` bounds is
    /// the memory of the maps).
    pub fn group_entries(&self) -> usize {
        self.groups.len() + self.consumer.len() + self.offsets.group_count()
    }

    /// Whether `request` would add an entry to [`Self::group_entries`]: a JoinGroup of a group
    /// without a state, a ConsumerGroupHeartbeat join of a group without a state or members (a
    /// heartbeat that converts an Empty classic group replaces its entry), a commit (plain or
    /// transactional) of a group without offsets.
    pub fn adds_group_entry(&self, request: &GroupsRequest) -> bool {
        let stateless =
            |group: &str| !self.groups.contains_key(group) && !self.consumer.contains_key(group);
        match request {
            GroupsRequest::Join(args) => stateless(&args.group),
            // A join (epoch 0) of a group not known; a leave adds nothing.
            GroupsRequest::ConsumerHeartbeat(call) => {
                call.args.member_epoch == 0 && stateless(&call.args.group)
            }
            GroupsRequest::OffsetCommit(args) => !self.offsets.has_offsets(&args.group),
            GroupsRequest::TxnOffsetCommit(args) => !self.offsets.has_offsets(&args.group),
            _ => false,
        }
    }

    /// Whether the member an OffsetFetch v9 names (`(member id, member epoch)`) may fetch
    /// `group`'s offsets: only a KIP-848 group checks it.
    pub fn fetch_allowed(
        &self,
        group: &str,
        member: Option<&(Option<String>, i32)>,
    ) -> Result<(), ErrorCode> {
        match (self.consumer.get(group), member) {
            (Some(consumer), Some((id, epoch))) => consumer.fetch_allowed(id.as_deref(), *epoch),
            _ => Ok(()),
        }
    }

    /// OffsetFetch of one group (see [`Offsets::fetch`] for `require_stable`).
    pub fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
        require_stable: bool,
    ) -> GroupOffsets {
        if self.is_loading() {
            return fetch_refused(group, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        self.offsets.fetch(group, partitions, require_stable)
    }

    /// `producer_id`'s transaction marker was written at `marker_offset` and acknowledged:
    /// its pending offsets here are committed or dropped. A marker below the log end this
    /// shard's load was given is the load's (replayed in order); one past it that arrives
    /// while loading waits for the load's end.
    pub fn txn_completed(&mut self, producer_id: i64, commit: bool, marker_offset: Offset) {
        if marker_offset < self.load_end {
            return;
        }
        if self.is_loading() {
            return self.completions_after_load.push((producer_id, commit));
        }
        self.offsets.txn_completed(producer_id, commit);
    }

    /// DescribeGroups of one group.
    pub fn describe(&self, group: &str) -> GroupDescription {
        if self.is_loading() {
            let code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
            return described_refused(group, code);
        }
        if self.is_consumer_group(group) {
            // Kafka's answer: DescribeGroups describes classic groups only (admin clients ask
            // ConsumerGroupDescribe first); the gateway turns it into Dead below v6.
            return GroupDescription {
                error_message: Some(format!("Group {group} is not a classic group.")),
                state: GroupState::Dead.name().to_owned(),
                ..described_refused(group, ErrorCode::GROUP_ID_NOT_FOUND)
            };
        }
        describe(
            group,
            self.groups.get(group),
            self.offsets.has_offsets(group),
        )
    }

    /// ListGroups: this shard's groups that `filter` keeps, added to `rows` in name order;
    /// `Err` while loading.
    pub fn list(
        &self,
        filter: &ListGroupsArgs,
        rows: &mut Vec<ListedGroup>,
    ) -> Result<(), ErrorCode> {
        if self.is_loading() {
            return Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        let names: BTreeSet<&str> = (self.groups.keys().map(String::as_str))
            .chain(self.offsets.group_names())
            .collect();
        for name in names.into_iter().filter(|n| !self.is_consumer_group(n)) {
            let has_offsets = self.offsets.has_offsets(name);
            rows.extend(listed(name, self.groups.get(name), has_offsets, filter));
        }
        self.list_consumer(filter, rows);
        rows.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(())
    }

    /// `group`'s `timer` fired.
    pub fn timer(
        &mut self,
        now: Clock,
        group: &str,
        timer: GroupTimer,
        out: &mut Vec<ShardOut<W>>,
    ) {
        let Some(entry) = self.groups.get_mut(group) else {
            return; // gone (or not loaded yet): a stale firing
        };
        let mut outs = Vec::new();
        entry.timer(now, timer, &mut outs);
        self.emit(now, group, outs, out);
    }

    /// The answer to append `write`: `Ok` once acknowledged, else the Append's code. Outcomes
    /// are applied in issue order. `Err`: the write failed; drop the shard.
    pub fn appended(
        &mut self,
        write: u64,
        outcome: Result<(), ErrorCode>,
        now: Clock,
        out: &mut Vec<ShardOut<W>>,
    ) -> Result<(), Unload> {
        let Some(entry) = self.writes.get_mut(&write) else {
            return Ok(()); // answered already
        };
        entry.outcome = Some(outcome);
        match outcome {
            Err(code) if !refused_unwritten(code, &entry.then) => {
                return Err(Unload(format!("write {write} failed: {code:?}")));
            }
            _ => {}
        }
        while let Some(first) = self.writes.first_entry() {
            let Some(outcome) = first.get().outcome else {
                break;
            };
            let done = first.remove();
            let mut outs = Vec::new();
            self.route_written(now, &done.group, done.then, outcome, &mut outs);
            self.emit(now, &done.group, outs, out);
        }
        Ok(())
    }

    /// Drops the shard: every write in flight is answered with its failure (or
    /// NOT_COORDINATOR when its own outcome is unknown or was a success behind a failure), and
    /// every request parked on a member with NOT_COORDINATOR. Nothing is written any more.
    pub fn abandon(mut self, now: Clock, out: &mut Vec<ShardOut<W>>) {
        let writes = std::mem::take(&mut self.writes);
        for (_, write) in writes {
            let code = match write.outcome {
                Some(Err(code)) => code,
                _ => ErrorCode::NOT_COORDINATOR,
            };
            let mut outs = Vec::new();
            self.route_written(now, &write.group, write.then, Err(code), &mut outs);
            self.answers_only(outs, out);
        }
        for entry in self.groups.values() {
            for member in entry.members().values() {
                if let Some(w) = member.join_waiter {
                    let reply = join_error(ErrorCode::NOT_COORDINATOR, &member.id);
                    out.push(ShardOut::Answer(w, reply));
                }
                if let Some(w) = member.sync_waiter {
                    out.push(ShardOut::Answer(w, sync_error(ErrorCode::NOT_COORDINATOR)));
                }
            }
        }
    }

    /// While abandoning: answers go out, a commit that would be written is refused, the rest
    /// (timers, group writes) dies with the shard.
    fn answers_only(&mut self, outs: Vec<GroupOut<W>>, out: &mut Vec<ShardOut<W>>) {
        for o in outs {
            match o {
                GroupOut::Answer(w, reply) => out.push(ShardOut::Answer(w, reply)),
                GroupOut::Write {
                    then: then @ (AfterWrite::Commit { .. } | AfterWrite::TxnCommit { .. }),
                    ..
                } => {
                    let mut answers = Vec::new();
                    let code = Err(ErrorCode::NOT_COORDINATOR);
                    self.offsets.written(then, code, &mut answers);
                    self.answers_only(answers, out);
                }
                GroupOut::Write { .. } | GroupOut::Wake { .. } | GroupOut::Cancel(_) => {}
            }
        }
    }

    /// Hands a write's outcome to whoever asked for it.
    fn route_written(
        &mut self,
        now: Clock,
        group: &str,
        then: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        outs: &mut Vec<GroupOut<W>>,
    ) {
        match then {
            AfterWrite::Commit { .. } | AfterWrite::TxnCommit { .. } => {
                self.offsets.written(then, outcome, outs)
            }
            AfterWrite::DeleteGroup { .. } | AfterWrite::DeleteOffsets { .. } => {
                self.deleted(group, then, outcome, outs)
            }
            AfterWrite::Expire {
                partitions,
                group: with_group,
            } => self.expiry_written(group, &partitions, with_group, outcome),
            AfterWrite::ConsumerHeartbeat { .. } => Self::consumer_written(then, outcome, outs),
            AfterWrite::Left {
                generation,
                waiter,
                mut reply,
            } => {
                if let Some(entry) = self.groups.get_mut(group) {
                    entry.written(now, AfterWrite::Membership { generation }, outcome, outs);
                }
                if let Err(append) = outcome {
                    reply.error_code = client_code(append, WriteKind::GroupMetadata);
                }
                outs.push(GroupOut::Answer(waiter, GroupsReply::Left(reply)));
            }
            _ => {
                if let Some(entry) = self.groups.get_mut(group) {
                    entry.written(now, then, outcome, outs);
                }
            }
        }
    }

    /// Simulation canary only: a commit is applied and answered before its Append is
    /// acknowledged; the write still goes out, with nothing waiting on it.
    fn canary_ack_commit_early(
        &mut self,
        then: AfterWrite<W>,
        queue: &mut std::collections::VecDeque<GroupOut<W>>,
    ) -> AfterWrite<W> {
        if !matches!(then, AfterWrite::Commit { .. })
            || !crate::faults::canary(crate::faults::Canary::AckCommitBeforeAppend)
        {
            return then;
        }
        let mut early = Vec::new();
        self.offsets.written(then, Ok(()), &mut early);
        queue.extend(early);
        // A Membership write with a successful or failed outcome only logs.
        AfterWrite::Membership { generation: -1 }
    }

    /// Turns `group`'s outputs into the shard's, in order; a write that cannot be encoded
    /// fails at once (as a too large append would).
    fn emit(
        &mut self,
        now: Clock,
        group: &str,
        outs: Vec<GroupOut<W>>,
        out: &mut Vec<ShardOut<W>>,
    ) {
        let mut queue: std::collections::VecDeque<GroupOut<W>> = outs.into();
        while let Some(o) = queue.pop_front() {
            match o {
                GroupOut::Answer(w, reply) => out.push(ShardOut::Answer(w, reply)),
                GroupOut::Wake { timer, at_mono_ms } => out.push(ShardOut::Wake {
                    group: group.to_owned(),
                    timer,
                    at_mono_ms,
                }),
                GroupOut::Cancel(timer) => out.push(ShardOut::Cancel {
                    group: group.to_owned(),
                    timer,
                }),
                GroupOut::Write { records, then } => match encode(&records, &then, now.unix_ms) {
                    Ok(batch) => {
                        let then = self.canary_ack_commit_early(then, &mut queue);
                        let write = self.next_write;
                        self.next_write += 1;
                        let in_flight = InFlight {
                            group: group.to_owned(),
                            then,
                            outcome: None,
                        };
                        self.writes.insert(write, in_flight);
                        out.push(ShardOut::Append { write, batch });
                    }
                    Err(error) => {
                        tracing::error!(group, %error, "cannot encode a __consumer_offsets record");
                        let mut more = Vec::new();
                        let code = Err(ErrorCode::RECORD_LIST_TOO_LARGE);
                        self.route_written(now, group, then, code, &mut more);
                        queue.extend(more);
                    }
                },
            }
        }
    }
}

/// Whether a write that failed with `code` is known not to be in the log: a transactional
/// commit the partition refused for its fenced producer epoch (refused before the append). Its
/// client is answered in issue order and the shard stays; any other failure may have been
/// written, and ends the shard.
fn refused_unwritten<W>(code: ErrorCode, then: &AfterWrite<W>) -> bool {
    code == ErrorCode::INVALID_PRODUCER_EPOCH && matches!(then, AfterWrite::TxnCommit { .. })
}

/// One batch holding `records`, stamped `unix_ms`; a transactional commit's batch carries
/// its producer (Kafka's transactional offset commit: sequence 0, the coordinator's append
/// checks only the epoch).
fn encode<W>(
    records: &[OffsetsRecord],
    then: &AfterWrite<W>,
    unix_ms: i64,
) -> Result<Vec<u8>, String> {
    let encoded = (records.iter())
        .map(OffsetsRecord::encode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let views: Vec<(Option<&[u8]>, Option<&[u8]>)> = (encoded.iter())
        .map(|(key, value)| (Some(key.as_slice()), value.as_deref()))
        .collect();
    Ok(match then {
        AfterWrite::TxnCommit {
            producer_id,
            producer_epoch,
            ..
        } => {
            let stamp = ProducerStamp {
                producer_id: *producer_id,
                producer_epoch: *producer_epoch,
                base_sequence: 0,
                attributes: TRANSACTIONAL_BIT,
            };
            build_stamped_batch(&views, unix_ms, stamp)
        }
        _ => build_batch_records(&views, unix_ms),
    })
}

/// A LeaveGroup's answer: after the write of the group's record when the departure emptied
/// the group (that write then carries it), else at once, after what the departure caused.
fn answer_leave_after_write<W>(outs: &mut Vec<GroupOut<W>>, w: W, left: LeaveGroupResult) {
    for o in outs.iter_mut() {
        if let GroupOut::Write { then, .. } = o {
            if let AfterWrite::Membership { generation } = *then {
                *then = AfterWrite::Left {
                    generation,
                    waiter: w,
                    reply: left,
                };
                return;
            }
        }
    }
    outs.push(GroupOut::Answer(w, GroupsReply::Left(left)));
}

/// LeaveGroup of a group this shard does not have (Kafka: UNKNOWN_MEMBER_ID).
fn unknown_leave(members: Vec<(String, Option<String>)>) -> LeaveGroupResult {
    LeaveGroupResult {
        error_code: ErrorCode::UNKNOWN_MEMBER_ID,
        members: (members.into_iter())
            .map(|(member_id, instance_id)| LeftMember {
                member_id,
                instance_id,
                error_code: ErrorCode::UNKNOWN_MEMBER_ID,
            })
            .collect(),
    }
}

#[path = "shard_consumer.rs"]
mod consumer_groups;

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
