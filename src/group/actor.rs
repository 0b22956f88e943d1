//! The `GROUPS` actor: the group coordinator of this node. It hosts one [`Shard`] per
//! `__consumer_offsets` partition this node leads, made on `Elected` and dropped on `Resigned`
//! (sent by the partitions actor, never polled), and routes every group request to its
//! group's shard by Kafka's placement hash.
//!
//! * No shard (its partition still opening) or loading: COORDINATOR_LOAD_IN_PROGRESS (see
//!   [`NO_SHARD`]);
//!   the internal topic's partition count not known yet (it does not exist):
//!   COORDINATOR_NOT_AVAILABLE, and the count is asked of TOPICS again. All are retriable.
//! * A shard's writes are `Append` calls to PARTITIONS under the shard's term, its load reads
//!   are `Fetch` calls; each call remembers the shard (by id) it is for, so an answer for a
//!   shard since replaced is dropped.
//! * A failed write or read drops the shard (what failed may still be in the log) and asks
//!   PARTITIONS for a `Lead` barrier: its answer (the term and a durable log end) starts the
//!   next load, as `Elected` does. After a failed load read the barrier waits
//!   [`LOAD_RETRY_MS`] (a load fails again on the same bytes), and so does a barrier the
//!   partition refused because it is offline after a disk error (asking again is what reopens
//!   it).
//!
//! Time comes only from `ctx.now`; member ids from `ctx.rng`.

use std::collections::{BTreeMap, BTreeSet};

use super::output::{Clock, GroupTimer};
use super::placement::offsets_partition;
use super::refusal::{
    consumer_described_refused, described_refused, fetch_refused, refused, single_group,
};
use super::settings::GroupSettings;
use super::shard::{Shard, ShardOut, Unload};
use crate::actor::{Actor, Addr, CallFailure, CallId, Ctx, Input, RequestId};
use crate::limits::GROUPS_PER_NODE_MAX;
use crate::messages::{
    AppendRequest, FetchPartitionResult, GroupsEvent, GroupsReply, GroupsRequest, LeadRequest,
    LeaderTerm, ListGroupsArgs, ListGroupsResult, NodeMsg, OffsetFetchArgs, PartitionsReply,
    PartitionsRequest, TopicsReply, TopicsRequest, OFFSETS_TOPIC, PARTITIONS, TOPICS,
};
use crate::types::{ErrorCode, Offset, TopicPartition};

type GCtx<'a, 'b> = &'a mut Ctx<'b, NodeMsg, GroupsTimer>;

/// How long a load read may take before the load is given up (a local read answers at once).
const LOAD_READ_CALL_TIMEOUT_MS: u64 = 30_000;
/// How long the barrier may take: it waits for one sync of the partition.
const LEAD_CALL_TIMEOUT_MS: u64 = 60_000;
/// How long after a failed load the next one starts. A load fails again on the same bytes
/// (a read error, a batch the load cannot walk), so an immediate retry would spin the actor
/// and flood the log; the retry still comes, in case the cause was passing.
const LOAD_RETRY_MS: u64 = 1_000;
/// An Append answers REQUEST_TIMED_OUT by itself at its `timeout_ms`; the call only ends later
/// if the partitions actor is gone.
const APPEND_CALL_MARGIN_MS: u64 = 5_000;
/// How long the partition-count question to TOPICS may take.
const LIST_CALL_TIMEOUT_MS: u64 = 30_000;

/// The answer for a group whose `__consumer_offsets` partition has no shard here. On one node
/// every partition of the internal topic is led by this node, so a missing shard is one whose
/// replica is still opening (no `Elected` yet) or reloading after a failed write: the load is
/// in progress, which every client retries at this coordinator. NOT_COORDINATOR would send
/// it back to FindCoordinator, which names this node again — and librdkafka hands it to the
/// application as an error for the committed offsets of `assign()`ed partitions. A partition
/// the barrier found led by another node answers NOT_COORDINATOR instead (`led_elsewhere`),
/// until this node is elected: its clients find the coordinator that node runs.
const NO_SHARD: ErrorCode = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;

/// GROUPS' timer keys. Strings make them `Ord`; the timers table orders by (deadline, arming).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupsTimer {
    /// A member's (or pending member's) session.
    Session {
        partition: i32,
        group: String,
        member: String,
    },
    /// The initial delay, then the join deadline.
    Rebalance { partition: i32, group: String },
    /// The CompletingRebalance deadline.
    Sync { partition: i32, group: String },
    /// `offsets.retention.check.interval.ms`: every loaded shard looks for expired offsets.
    Retention,
    /// A KIP-848 consumer group's earliest member deadline.
    Consumer { partition: i32, group: String },
    /// A failed load of `partition` is tried again ([`LOAD_RETRY_MS`]).
    Reload { partition: i32 },
}

impl GroupsTimer {
    fn of(partition: i32, group: String, timer: GroupTimer) -> Self {
        match timer {
            GroupTimer::Session(member) => GroupsTimer::Session {
                partition,
                group,
                member,
            },
            GroupTimer::Rebalance => GroupsTimer::Rebalance { partition, group },
            GroupTimer::Sync => GroupsTimer::Sync { partition, group },
            GroupTimer::Consumer => GroupsTimer::Consumer { partition, group },
        }
    }
}

/// What a call of this actor was for.
#[derive(Debug)]
enum Pending {
    Append {
        partition: i32,
        shard: u64,
        write: u64,
    },
    Read {
        partition: i32,
        shard: u64,
    },
    Lead {
        partition: i32,
    },
    PartitionCount,
}

pub struct GroupsActor {
    settings: GroupSettings,
    shards: BTreeMap<i32, Shard<RequestId>>,
    /// `__consumer_offsets`' partition count, once the topic exists: placement's modulus.
    partition_count: Option<i32>,
    counting: bool,
    calls: BTreeMap<CallId, Pending>,
    next_shard: u64,
    /// When the next retention check is due (mono ms), once the first shard was made: the
    /// `Retention` timer only wakes, an early firing re-arms for what is left.
    next_retention_mono_ms: Option<u64>,
    /// [`GROUPS_PER_NODE_MAX`] (smaller in unit tests).
    groups_max: usize,
    /// When a request without a shard last asked for `partition`'s barrier (mono ms): at most
    /// one a [`LOAD_RETRY_MS`].
    lead_asked_mono_ms: BTreeMap<i32, u64>,
    /// When each partition's shard was last unloaded (`mono_ms`): see `unload`.
    unloaded_mono_ms: BTreeMap<i32, u64>,
    /// Partitions whose barrier answered that another node leads them: their requests are
    /// answered NOT_COORDINATOR until an election here (seed 1056: a deposed coordinator
    /// answered "loading" for 12 s, and the client kept asking it).
    led_elsewhere: BTreeSet<i32>,
}

fn clock(ctx: &Ctx<'_, NodeMsg, GroupsTimer>) -> Clock {
    Clock {
        mono_ms: ctx.now.mono_ms,
        unix_ms: ctx.now.unix_ms,
    }
}

fn offsets_tp(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: OFFSETS_TOPIC.to_owned(),
        partition,
    }
}

fn local(ctx: &Ctx<'_, NodeMsg, GroupsTimer>, actor: crate::actor::ActorId) -> Addr {
    Addr {
        node: ctx.me.node,
        actor,
    }
}

impl GroupsActor {
    pub fn new(settings: GroupSettings) -> Self {
        Self {
            settings,
            shards: BTreeMap::new(),
            partition_count: None,
            counting: false,
            calls: BTreeMap::new(),
            next_shard: 0,
            next_retention_mono_ms: None,
            groups_max: GROUPS_PER_NODE_MAX,
            lead_asked_mono_ms: BTreeMap::new(),
            unloaded_mono_ms: BTreeMap::new(),
            led_elsewhere: BTreeSet::new(),
        }
    }

    /// Group entries over every shard of this node (see [`Shard::group_entries`]).
    fn group_entries(&self) -> usize {
        self.shards.values().map(Shard::group_entries).sum()
    }

    /// Arms the first retention check, `offsets.retention.check.interval.ms` after the first
    /// shard (a node that never coordinates a group never checks).
    fn arm_retention(&mut self, ctx: GCtx) {
        if self.next_retention_mono_ms.is_none() {
            let interval_ms = self.settings.offsets_retention_check_interval_ms;
            self.next_retention_mono_ms = Some(ctx.now.mono_ms.saturating_add(interval_ms));
            ctx.set_timer(GroupsTimer::Retention, interval_ms);
        }
    }

    /// The `Retention` timer: when due, every loaded shard writes its expired offsets'
    /// tombstones, and the next check is armed.
    fn retention(&mut self, ctx: GCtx) {
        let Some(due_ms) = self.next_retention_mono_ms else {
            return;
        };
        if ctx.now.mono_ms < due_ms {
            return ctx.set_timer(GroupsTimer::Retention, due_ms - ctx.now.mono_ms);
        }
        let interval_ms = self.settings.offsets_retention_check_interval_ms;
        self.next_retention_mono_ms = Some(ctx.now.mono_ms.saturating_add(interval_ms));
        ctx.set_timer(GroupsTimer::Retention, interval_ms);
        let now = clock(ctx);
        let partitions: Vec<i32> = self.shards.keys().copied().collect();
        for partition in partitions {
            let Some(shard) = self.shards.get_mut(&partition) else {
                continue;
            };
            let mut out = Vec::new();
            shard.expire_offsets(now, &self.settings, &mut out);
            self.apply(ctx, partition, out);
        }
    }

    /// Shards this node has (loading or loaded), for tests and diagnostics.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Whether `partition`'s shard is loaded (for tests and diagnostics).
    pub fn is_loaded(&self, partition: i32) -> bool {
        self.shards.get(&partition).is_some_and(|s| !s.is_loading())
    }

    /// Asks TOPICS for the internal topic's partition count, unless a question is out.
    fn count_partitions(&mut self, ctx: GCtx) {
        if self.partition_count.is_some() || self.counting {
            return;
        }
        self.counting = true;
        let to = local(ctx, TOPICS);
        let call = ctx.call(
            to,
            NodeMsg::Topics(TopicsRequest::List),
            LIST_CALL_TIMEOUT_MS,
        );
        self.calls.insert(call, Pending::PartitionCount);
    }

    /// `partition` is led under `term`, durable below `log_end`: a new shard loads it (the
    /// one it replaces, of an older term, is dropped). The same term again changes nothing.
    fn elected(&mut self, ctx: GCtx, partition: i32, term: LeaderTerm, log_end: Offset) {
        self.led_elsewhere.remove(&partition);
        if self
            .shards
            .get(&partition)
            .is_some_and(|s| s.term() == term)
        {
            return;
        }
        self.drop_shard(ctx, partition);
        self.count_partitions(ctx);
        self.arm_retention(ctx);
        let id = self.next_shard;
        self.next_shard += 1;
        let mut out = Vec::new();
        let session_ms = self.settings.consumer.session_timeout_ms;
        let shard = Shard::new(
            partition,
            term,
            log_end,
            id,
            session_ms,
            clock(ctx),
            &mut out,
        );
        self.shards.insert(partition, shard);
        self.apply(ctx, partition, out);
    }

    /// `partition` is led under `term`, but not all of its log is committed yet: the load reads
    /// only below the high watermark, so it would stop short (and be retried a pause later).
    /// The barrier answers once it is (seed 1595: a restarted leader's high watermark stays at
    /// its log start until its followers fetch), and its answer loads as `Elected` does.
    fn elected_uncommitted(&mut self, ctx: GCtx, partition: i32, term: LeaderTerm) {
        self.led_elsewhere.remove(&partition);
        if (self.shards.get(&partition)).is_some_and(|s| s.term() == term) {
            return;
        }
        self.drop_shard(ctx, partition);
        self.count_partitions(ctx);
        // Even with a barrier out: one asked in an earlier term may be answered with its end.
        self.lead(ctx, partition);
    }

    /// `partition`'s `term` ended: its shard goes, if it is of that term.
    fn resigned(&mut self, ctx: GCtx, partition: i32, term: LeaderTerm) {
        if self
            .shards
            .get(&partition)
            .is_some_and(|s| s.term() == term)
        {
            self.drop_shard(ctx, partition);
        }
    }

    fn drop_shard(&mut self, ctx: GCtx, partition: i32) {
        if let Some(shard) = self.shards.remove(&partition) {
            let mut out = Vec::new();
            shard.abandon(clock(ctx), &mut out);
            self.apply(ctx, partition, out);
        }
    }

    /// The shard's memory cannot be trusted (`why`): drop it and load again after a barrier.
    /// A shard unloaded again within [`LOAD_RETRY_MS`] of its last unload loads after that
    /// pause instead (seed 490, with transactions: a load whose first write failed at once,
    /// its partition's ISR below `min.insync.replicas`, was reloaded at once, over and over,
    /// and simulated time never moved on).
    fn unload(&mut self, ctx: GCtx, partition: i32, why: Unload) {
        let now_ms = ctx.now.mono_ms;
        let last = self.unloaded_mono_ms.insert(partition, now_ms);
        if last.is_some_and(|at| now_ms < at + LOAD_RETRY_MS) {
            return self.reload_later(ctx, partition, why);
        }
        tracing::warn!(partition, why = %why.0, "group coordinator shard unloaded; reloading after a barrier");
        self.drop_shard(ctx, partition);
        self.lead(ctx, partition);
    }

    /// The load of `partition` failed (`why`): drop the shard and load again
    /// [`LOAD_RETRY_MS`] later.
    fn reload_later(&mut self, ctx: GCtx, partition: i32, why: Unload) {
        tracing::warn!(partition, why = %why.0, retry_ms = LOAD_RETRY_MS, "group coordinator load failed");
        // A client's request during the pause must not start the load again at once.
        self.lead_asked_mono_ms.insert(partition, ctx.now.mono_ms);
        self.drop_shard(ctx, partition);
        ctx.set_timer(GroupsTimer::Reload { partition }, LOAD_RETRY_MS);
    }

    fn lead(&mut self, ctx: GCtx, partition: i32) {
        let request = PartitionsRequest::Lead(LeadRequest {
            tp: offsets_tp(partition),
        });
        let to = local(ctx, PARTITIONS);
        let call = ctx.call(to, NodeMsg::Partitions(request), LEAD_CALL_TIMEOUT_MS);
        self.calls.insert(call, Pending::Lead { partition });
    }

    /// A request found no shard for `partition`: asks for its barrier, unless one is out or
    /// was asked within [`LOAD_RETRY_MS`]. A partition that could not be opened (a disk error
    /// at start-up) is opened again only when something uses it, and nothing but this actor
    /// uses `__consumer_offsets`: without this its groups would wait for a client-less retry.
    /// While the partition is still opening, the barrier waits for the open and its answer
    /// starts the load that `Elected` would have (the same term twice changes nothing).
    fn lead_if_idle(&mut self, ctx: GCtx, partition: i32) {
        let now_ms = ctx.now.mono_ms;
        let out = (self.calls.values())
            .any(|p| matches!(p, Pending::Lead { partition: q } if *q == partition));
        let recent =
            (self.lead_asked_mono_ms.get(&partition)).is_some_and(|at| now_ms < at + LOAD_RETRY_MS);
        if out || recent {
            return;
        }
        self.lead_asked_mono_ms.insert(partition, now_ms);
        self.lead(ctx, partition);
    }

    fn on_request(&mut self, ctx: GCtx, id: RequestId, request: GroupsRequest) {
        // ListGroups lists the shards this node holds, which needs no partition count: a
        // cluster without `__consumer_offsets` yet has no groups, and Kafka lists none
        // (kafka-consumer-groups --list prints nothing) rather than refuse.
        if let GroupsRequest::List(args) = &request {
            return ctx.reply(id, NodeMsg::GroupsReply(self.list(args)));
        }
        let Some(count) = self.partition_count else {
            self.count_partitions(ctx);
            let reply = refused(&request, ErrorCode::COORDINATOR_NOT_AVAILABLE);
            return ctx.reply(id, NodeMsg::GroupsReply(reply));
        };
        // The reads answer at once from what the shards have applied.
        let read = match &request {
            GroupsRequest::OffsetFetch(args) => Some(self.fetch_offsets(args, count)),
            GroupsRequest::Describe(args) => Some(self.describe(&args.groups, count)),
            GroupsRequest::ConsumerDescribe(args) => {
                Some(self.describe_consumer(&args.groups, count))
            }
            _ => None,
        };
        if let Some(reply) = read {
            return ctx.reply(id, NodeMsg::GroupsReply(reply));
        }
        let Some(group) = single_group(&request) else {
            // A Delete of several groups (the gateway sends one per group), or KIP-848's
            // describe, which comes with a later lane.
            let reply = refused(&request, ErrorCode::INVALID_REQUEST);
            return ctx.reply(id, NodeMsg::GroupsReply(reply));
        };
        let partition = offsets_partition(group, count);
        let Some(shard) = self.shards.get(&partition) else {
            self.lead_if_idle(ctx, partition);
            let reply = refused(&request, self.no_shard(partition));
            return ctx.reply(id, NodeMsg::GroupsReply(reply));
        };
        if shard.adds_group_entry(&request) && self.group_entries() >= self.groups_max {
            // A new group past the node's bound; existing groups carry on. Retriable, as
            // for GROUP_PENDING_MEMBERS_MAX: Kafka has no such bound to copy.
            let reply = refused(&request, ErrorCode::COORDINATOR_NOT_AVAILABLE);
            return ctx.reply(id, NodeMsg::GroupsReply(reply));
        }
        let Some(shard) = self.shards.get_mut(&partition) else {
            return;
        };
        let mut out = Vec::new();
        let now = clock(ctx);
        shard.request(now, &self.settings, &mut *ctx.rng, request, id, &mut out);
        self.apply(ctx, partition, out);
    }

    /// The answer for a group of `partition`, which has no shard here: [`NO_SHARD`], or
    /// NOT_COORDINATOR when another node leads it.
    fn no_shard(&self, partition: i32) -> ErrorCode {
        match self.led_elsewhere.contains(&partition) {
            true => ErrorCode::NOT_COORDINATOR,
            false => NO_SHARD,
        }
    }

    /// OffsetFetch answers at once from what each group's shard has applied.
    fn fetch_offsets(&self, args: &OffsetFetchArgs, count: i32) -> GroupsReply {
        let groups = (args.groups.iter())
            .map(|(group, partitions)| {
                let partition = offsets_partition(group, count);
                let member = args.members.get(group);
                match self.shards.get(&partition) {
                    Some(shard) => match shard.fetch_allowed(group, member) {
                        Ok(()) => {
                            let stable = args.require_stable;
                            shard.fetch_offsets(group, partitions.as_deref(), stable)
                        }
                        Err(code) => fetch_refused(group, code),
                    },
                    None => fetch_refused(group, self.no_shard(partition)),
                }
            })
            .collect();
        GroupsReply::Fetched(groups)
    }

    /// DescribeGroups: each group from its shard, [`NO_SHARD`] where this node has none.
    fn describe(&self, groups: &[String], count: i32) -> GroupsReply {
        let described = (groups.iter())
            .map(|group| {
                let partition = offsets_partition(group, count);
                match self.shards.get(&partition) {
                    Some(shard) => shard.describe(group),
                    None => described_refused(group, self.no_shard(partition)),
                }
            })
            .collect();
        GroupsReply::Described(described)
    }

    /// ConsumerGroupDescribe: each group from its shard, [`NO_SHARD`] where this node has none.
    fn describe_consumer(&self, groups: &[String], count: i32) -> GroupsReply {
        let described = (groups.iter())
            .map(|group| {
                let partition = offsets_partition(group, count);
                match self.shards.get(&partition) {
                    Some(shard) => shard.describe_consumer(group),
                    None => consumer_described_refused(group, self.no_shard(partition)),
                }
            })
            .collect();
        GroupsReply::ConsumerDescribed(described)
    }

    /// ListGroups over every shard of this node (Kafka lists the groups of the partitions the
    /// broker leads); a shard still loading makes the answer COORDINATOR_LOAD_IN_PROGRESS.
    fn list(&self, filter: &ListGroupsArgs) -> GroupsReply {
        let mut groups = Vec::new();
        for shard in self.shards.values() {
            if let Err(code) = shard.list(filter, &mut groups) {
                let groups = Vec::new();
                return GroupsReply::Listed(ListGroupsResult {
                    error_code: code,
                    groups,
                });
            }
        }
        let error_code = ErrorCode::NONE;
        GroupsReply::Listed(ListGroupsResult { error_code, groups })
    }

    /// Carries out `partition`'s shard outputs.
    fn apply(&mut self, ctx: GCtx, partition: i32, out: Vec<ShardOut<RequestId>>) {
        for o in out {
            match o {
                ShardOut::Answer(id, reply) => ctx.reply(id, NodeMsg::GroupsReply(reply)),
                ShardOut::Wake {
                    group,
                    timer,
                    at_mono_ms,
                } => {
                    let after_ms = at_mono_ms.saturating_sub(ctx.now.mono_ms);
                    ctx.set_timer(GroupsTimer::of(partition, group, timer), after_ms);
                }
                ShardOut::Cancel { group, timer } => {
                    ctx.cancel_timer(GroupsTimer::of(partition, group, timer));
                }
                ShardOut::Append { write, batch } => {
                    let Some(shard) = self.shards.get(&partition) else {
                        continue;
                    };
                    let timeout_ms = self.settings.offsets_commit_timeout_ms;
                    let request = PartitionsRequest::Append(AppendRequest {
                        tp: offsets_tp(partition),
                        term: shard.term(),
                        records: batch,
                        timeout_ms,
                    });
                    let call_ms = u64::try_from(timeout_ms).unwrap_or(0) + APPEND_CALL_MARGIN_MS;
                    let call = ctx.call(
                        local(ctx, PARTITIONS),
                        NodeMsg::Partitions(request),
                        call_ms,
                    );
                    let shard = shard.id();
                    let pending = Pending::Append {
                        partition,
                        shard,
                        write,
                    };
                    self.calls.insert(call, pending);
                }
                ShardOut::Read { from } => {
                    let Some(shard) = self.shards.get(&partition) else {
                        continue;
                    };
                    let read = super::load::Load::read(offsets_tp(partition), from);
                    let msg = NodeMsg::Partitions(PartitionsRequest::Fetch(read));
                    let call = ctx.call(local(ctx, PARTITIONS), msg, LOAD_READ_CALL_TIMEOUT_MS);
                    let shard = shard.id();
                    self.calls.insert(call, Pending::Read { partition, shard });
                }
            }
        }
    }

    /// The shard `partition` with id `id`, if it is still there.
    fn shard_of(&mut self, partition: i32, id: u64) -> Option<&mut Shard<RequestId>> {
        self.shards.get_mut(&partition).filter(|s| s.id() == id)
    }

    fn on_answer(&mut self, ctx: GCtx, call: CallId, answer: Result<NodeMsg, CallFailure>) {
        let Some(pending) = self.calls.remove(&call) else {
            return;
        };
        let now = clock(ctx);
        match pending {
            Pending::PartitionCount => {
                self.counting = false;
                if let Ok(NodeMsg::TopicsReply(TopicsReply::List(topics))) = answer {
                    self.partition_count = topics.get(OFFSETS_TOPIC).map(|meta| meta.partitions);
                }
            }
            Pending::Lead { partition } => match answer {
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term, log_end))))) => {
                    self.elected(ctx, partition, term, log_end)
                }
                // Offline after a disk error: the partitions actor reopens it when it is next
                // used and its retry is due, so ask again after a pause — nothing else may use
                // the partition, and without a coordinator its groups would wait for good.
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                )))) => {
                    tracing::warn!(
                        partition,
                        retry_ms = LOAD_RETRY_MS,
                        "no barrier: the partition is offline; asking again after a pause"
                    );
                    ctx.set_timer(GroupsTimer::Reload { partition }, LOAD_RETRY_MS);
                }
                // Led by another node: its clients go there until `Elected` comes.
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(
                    ErrorCode::NOT_COORDINATOR,
                )))) => {
                    tracing::info!(partition, "led elsewhere; waiting for Elected");
                    if !self.shards.contains_key(&partition) {
                        self.led_elsewhere.insert(partition);
                    }
                }
                // Not led now: `Elected` comes when it is again.
                Ok(other) => tracing::info!(partition, ?other, "no barrier; waiting for Elected"),
                Err(why) => {
                    tracing::warn!(partition, ?why, "the barrier call failed; asking again");
                    if !self.shards.contains_key(&partition) {
                        self.lead(ctx, partition);
                    }
                }
            },
            Pending::Append {
                partition,
                shard,
                write,
            } => {
                let outcome = match answer {
                    Ok(NodeMsg::PartitionsReply(PartitionsReply::Produce(results))) => {
                        match results.first().map(|(_, r)| r.error_code) {
                            Some(ErrorCode::NONE) => Ok(()),
                            Some(code) => Err(code),
                            None => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
                        }
                    }
                    Ok(_) => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
                    Err(_) => Err(ErrorCode::REQUEST_TIMED_OUT),
                };
                let Some(shard) = self.shard_of(partition, shard) else {
                    return; // the shard was dropped; its waiters were answered then
                };
                let mut out = Vec::new();
                let result = shard.appended(write, outcome, now, &mut out);
                self.apply(ctx, partition, out);
                if let Err(why) = result {
                    self.unload(ctx, partition, why);
                }
            }
            Pending::Read { partition, shard } => {
                let read = match answer {
                    Ok(NodeMsg::PartitionsReply(PartitionsReply::Fetch(mut results)))
                        if results.len() == 1 =>
                    {
                        Ok(results.remove(0))
                    }
                    other => Err(Unload(format!("the load read got {other:?}"))),
                };
                let Some(shard) = self.shard_of(partition, shard) else {
                    return; // an older load's read: dropped
                };
                let mut out = Vec::new();
                let result =
                    read.and_then(|read: FetchPartitionResult| shard.fetched(&read, now, &mut out));
                self.apply(ctx, partition, out);
                if let Err(why) = result {
                    self.reload_later(ctx, partition, why);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: GCtx, key: GroupsTimer) {
        let (partition, group, timer) = match key {
            GroupsTimer::Session {
                partition,
                group,
                member,
            } => (partition, group, GroupTimer::Session(member)),
            GroupsTimer::Rebalance { partition, group } => {
                (partition, group, GroupTimer::Rebalance)
            }
            GroupsTimer::Sync { partition, group } => (partition, group, GroupTimer::Sync),
            GroupsTimer::Retention => return self.retention(ctx),
            GroupsTimer::Reload { partition } => {
                // Unless an election brought a shard meanwhile.
                if !self.shards.contains_key(&partition) {
                    self.lead(ctx, partition);
                }
                return;
            }
            GroupsTimer::Consumer { partition, group } => (partition, group, GroupTimer::Consumer),
        };
        let Some(shard) = self.shards.get_mut(&partition) else {
            return;
        };
        let mut out = Vec::new();
        if timer == GroupTimer::Consumer {
            shard.consumer_timer(clock(ctx), &self.settings, &group, &mut out);
        } else {
            shard.timer(clock(ctx), &group, timer, &mut out);
        }
        self.apply(ctx, partition, out);
    }
}

impl Actor<NodeMsg> for GroupsActor {
    type Timer = GroupsTimer;

    fn handle(&mut self, ctx: GCtx, input: Input<NodeMsg, GroupsTimer>) {
        match input {
            // The partition count is asked for when first needed (an election or a request):
            // a node that never coordinates a group never asks.
            Input::Start => {}
            Input::Msg {
                msg: NodeMsg::GroupsEvent(event),
                ..
            } => match event {
                GroupsEvent::Elected {
                    partition,
                    term,
                    log_end,
                    high_watermark,
                } if high_watermark < log_end => self.elected_uncommitted(ctx, partition, term),
                GroupsEvent::Elected {
                    partition,
                    term,
                    log_end,
                    ..
                } => self.elected(ctx, partition, term, log_end),
                GroupsEvent::Resigned { partition, term } => self.resigned(ctx, partition, term),
                GroupsEvent::TxnCompleted {
                    partition,
                    producer_id,
                    commit,
                    marker_offset,
                } => {
                    // No shard: the marker is below the next load's end, which replays it.
                    if let Some(shard) = self.shards.get_mut(&partition) {
                        shard.txn_completed(producer_id.0, commit, marker_offset);
                    }
                }
            },
            Input::Msg { from, msg } => {
                tracing::warn!(?from, ?msg, "group coordinator ignores this message");
            }
            Input::Request {
                id,
                msg: NodeMsg::Groups(request),
                ..
            } => self.on_request(ctx, id, request),
            Input::Request { id, msg, .. } => {
                tracing::warn!(?msg, "group coordinator got a request it does not serve");
                let reply = GroupsReply::Heartbeat(ErrorCode::INVALID_REQUEST);
                ctx.reply(id, NodeMsg::GroupsReply(reply));
            }
            Input::Reply { call, msg } => self.on_answer(ctx, call, Ok(msg)),
            Input::CallFailed { call, why } => self.on_answer(ctx, call, Err(why)),
            Input::Timer { key } => self.on_timer(ctx, key),
            // It persists nothing itself: its writes are the partitions actor's.
            Input::Synced { .. } => {}
        }
    }
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
