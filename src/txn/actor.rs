//! The `TXN` actor: the transaction coordinator of this node. It hosts one [`Shard`] per
//! `__transaction_state` partition this node leads, made on `Elected` and dropped on
//! `Resigned` (sent by the partitions actor, as the group coordinator's are), routes each
//! request to its transactional id's shard by Kafka's placement hash, and sends the markers of
//! prepared transactions to the partitions' leaders ([`Markers`]).
//!
//! * The internal topic's partition count, and every partition's leader, come from the topics
//!   actor ([`TxnEvent::Leaders`]). Before the topic exists: COORDINATOR_NOT_AVAILABLE (the
//!   gateway's FindCoordinator creates it). An id whose partition another node leads:
//!   NOT_COORDINATOR (the client finds the coordinator again); one led here with no shard yet,
//!   or loading: COORDINATOR_LOAD_IN_PROGRESS. All are retriable.
//! * A shard's writes are `Append` calls to PARTITIONS under the shard's term, its load reads
//!   `Fetch` calls, its producer ids `InitProducerId` calls without a transactional id (ids
//!   still come from the quorum's blocks); each call remembers the shard (by id) it is for, so
//!   an answer for a shard since replaced is dropped.
//! * A failed write or read drops the shard and asks PARTITIONS for a `Lead` barrier, whose
//!   answer starts the next load (the group coordinator's rule, see `group::actor`).
//! * Markers: one `WriteMarkers` call per leader node per round; partitions whose marker
//!   could not be written are sent again after a pause ([`MARKER_RETRY_MIN_MS`] doubling to
//!   [`MARKER_RETRY_MAX_MS`]) to the leader the metadata then names. The markers carry the
//!   shard's leader epoch as the coordinator epoch, so a deposed coordinator's late markers
//!   are refused (TRANSACTION_COORDINATOR_FENCED).
//! * Every `abort_scan_interval_ms` the open transactions past their timeout are aborted, and
//!   every `id_expiration_scan_interval_ms` the ids unused for `id_expiration_ms` are forgotten.
//! * ListTransactions and DescribeTransactions (KIP-664) are reads the actor answers at once
//!   from what its shards have acknowledged: List over every shard of this node (Kafka's
//!   brokers each list the ids of the partitions they lead; the admin client asks them all),
//!   COORDINATOR_LOAD_IN_PROGRESS with nothing listed while any shard loads; Describe each id
//!   from its partition's shard, with the per-request rules above where there is none.
//!
//! * A partition leader's Verify (KIP-890 part 1) comes to this node's actor whichever node
//!   coordinates the id: answered from the shard when the id's partition is led here, else
//!   sent on once to the node the metadata names as its leader and the answer relayed.
//!
//! Time comes only from `ctx.now` (the transaction timestamps are wall-clock milliseconds, as
//! Kafka's); nothing random is drawn.

use std::collections::{BTreeMap, BTreeSet};

use super::markers::{Finished, JobRef, Markers};
use super::settings::TxnSettings;
use super::shard::{ListFilter, Shard, ShardOut, Unload};
use crate::actor::{Actor, ActorId, Addr, CallFailure, CallId, Ctx, Input, RequestId};
use crate::limits::{TXN_IDS_PER_NODE_MAX, TXN_ID_BYTES_PER_NODE_MAX};
use crate::messages::partitions::MarkerWrite;
use crate::messages::txn::{
    ListTxnArgs, ListTxnResult, TxnDescription, TxnEvent, TxnReply, TxnRequest, TXN_STATE_TOPIC,
};
use crate::messages::{
    AppendRequest, FetchPartitionResult, InitProducerIdRequest, LeadRequest, LeaderTerm, NodeMsg,
    PartitionsReply, PartitionsRequest, WriteMarkersRequest, PARTITIONS, TXN,
};
use crate::types::placement::coordinator_partition;
use crate::types::{ErrorCode, NodeId, Offset, ProducerId, TopicPartition};

type TCtx<'a, 'b> = &'a mut Ctx<'b, NodeMsg, TxnTimer>;

/// How long a load read may take (a local read answers at once).
const LOAD_READ_CALL_TIMEOUT_MS: u64 = 30_000;
/// How long the barrier may take: it waits for one sync of the partition.
const LEAD_CALL_TIMEOUT_MS: u64 = 60_000;
/// How long after a failed load the next one starts (see `group::actor`'s).
const LOAD_RETRY_MS: u64 = 1_000;
/// How long a `__transaction_state` write may wait for its acknowledgement (Kafka's
/// `request.timeout.ms` default for the coordinator's appends).
const WRITE_TIMEOUT_MS: i32 = 30_000;
/// An Append or WriteMarkers answers REQUEST_TIMED_OUT by itself at its `timeout_ms`; the
/// call only ends later if the actor answering it is gone (or its node unreachable).
const CALL_MARGIN_MS: u64 = 5_000;
/// How long a producer id may take (a new block is committed by the quorum).
const PRODUCER_ID_CALL_TIMEOUT_MS: u64 = 30_000;
/// The first pause before markers are sent again; it doubles while rounds keep failing.
pub const MARKER_RETRY_MIN_MS: u64 = 50;
/// The longest pause before markers are sent again.
pub const MARKER_RETRY_MAX_MS: u64 = 1_000;
/// How long a Verify sent on to the id's coordinator node may take before the write waiting
/// for it is refused as retriable.
const VERIFY_CALL_TIMEOUT_MS: u64 = 10_000;

/// TXN's timer keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnTimer {
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
    AbortScan,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`.
    ExpireIds,
    /// Markers not written are sent again.
    Markers,
    /// A failed load of `partition` is tried again ([`LOAD_RETRY_MS`]).
    Reload { partition: i32 },
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
    ProducerId {
        partition: i32,
        shard: u64,
    },
    Markers {
        sent: Vec<(JobRef, TopicPartition)>,
    },
    /// A Verify sent on to the id's coordinator node: its answer is `request`'s.
    Forwarded {
        request: RequestId,
    },
}

pub struct TxnActor {
    settings: TxnSettings,
    shards: BTreeMap<i32, Shard<RequestId>>,
    /// Every partition's leader, once the topics actor has sent them.
    leaders: Option<BTreeMap<TopicPartition, Option<NodeId>>>,
    /// `__transaction_state`'s partition count, once it exists: placement's modulus.
    partition_count: Option<i32>,
    calls: BTreeMap<CallId, Pending>,
    next_shard: u64,
    markers: Markers,
    /// A marker round is due (something was added or a leader moved): sent at the end of the
    /// current input.
    markers_due: bool,
    /// A resend timer is armed.
    marker_resend_armed: bool,
    /// The last pause used (doubled by each failed round, reset by a round with no failure).
    marker_backoff_ms: u64,
    abort_scan_armed: bool,
    /// When a request without a shard last asked for `partition`'s barrier (mono ms).
    lead_asked_mono_ms: BTreeMap<i32, u64>,
    /// When each partition's shard was last unloaded (`mono_ms`): see `unload`.
    unloaded_mono_ms: BTreeMap<i32, u64>,
    /// Partitions whose barrier answered that another node leads them (see `group::actor`).
    led_elsewhere: BTreeSet<i32>,
    /// [`TXN_IDS_PER_NODE_MAX`] (smaller in unit tests).
    ids_max: usize,
}

fn state_tp(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: TXN_STATE_TOPIC.to_owned(),
        partition,
    }
}

fn local(ctx: &Ctx<'_, NodeMsg, TxnTimer>, actor: ActorId) -> Addr {
    Addr {
        node: ctx.me.node,
        actor,
    }
}

impl TxnActor {
    pub fn new(settings: TxnSettings) -> Self {
        Self {
            settings,
            shards: BTreeMap::new(),
            leaders: None,
            partition_count: None,
            calls: BTreeMap::new(),
            next_shard: 0,
            markers: Markers::default(),
            markers_due: false,
            marker_resend_armed: false,
            marker_backoff_ms: MARKER_RETRY_MIN_MS,
            abort_scan_armed: false,
            lead_asked_mono_ms: BTreeMap::new(),
            unloaded_mono_ms: BTreeMap::new(),
            led_elsewhere: BTreeSet::new(),
            ids_max: TXN_IDS_PER_NODE_MAX,
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

    /// Transactions whose markers are being written (for tests and diagnostics).
    pub fn marker_jobs(&self) -> usize {
        self.markers.len()
    }

    /// Whether the node holds as many ids (or bytes of their names) as it may.
    fn ids_full(&self) -> bool {
        let count: usize = self.shards.values().map(Shard::id_count).sum();
        let bytes: usize = self.shards.values().map(Shard::id_bytes).sum();
        count >= self.ids_max || bytes >= TXN_ID_BYTES_PER_NODE_MAX
    }

    /// Arms the timed-out transactions' scan and the expired ids' with the first shard (a node
    /// that never coordinates a transaction never scans).
    fn arm_abort_scan(&mut self, ctx: TCtx) {
        if !self.abort_scan_armed {
            self.abort_scan_armed = true;
            ctx.set_timer(TxnTimer::AbortScan, self.settings.abort_scan_interval_ms);
            let expiry_ms = self.settings.id_expiration_scan_interval_ms;
            ctx.set_timer(TxnTimer::ExpireIds, expiry_ms);
        }
    }

    /// The partition leaders changed: placement's modulus, and a marker round (a partition may
    /// have a leader now).
    fn leaders(&mut self, leaders: BTreeMap<TopicPartition, Option<NodeId>>) {
        let count = (leaders.keys())
            .filter(|tp| tp.topic == TXN_STATE_TOPIC)
            .count();
        self.partition_count = i32::try_from(count).ok().filter(|&count| count > 0);
        self.leaders = Some(leaders);
        self.markers_due = true;
    }

    /// `partition` is led under `term`, durable below `log_end`: a new shard loads it.
    fn elected(&mut self, ctx: TCtx, partition: i32, term: LeaderTerm, log_end: Offset) {
        self.led_elsewhere.remove(&partition);
        if (self.shards.get(&partition)).is_some_and(|s| s.term() == term) {
            return;
        }
        self.drop_shard(ctx, partition);
        self.arm_abort_scan(ctx);
        let id = self.next_shard;
        self.next_shard += 1;
        let mut out = Vec::new();
        let max_timeout_ms = self.settings.max_timeout_ms;
        let shard = Shard::new(partition, term, log_end, id, max_timeout_ms, &mut out);
        self.shards.insert(partition, shard);
        self.apply(ctx, partition, out);
    }

    /// Led under `term` but not all committed yet: the barrier answers once it is (see
    /// `group::actor::elected_uncommitted`).
    fn elected_uncommitted(&mut self, ctx: TCtx, partition: i32, term: LeaderTerm) {
        self.led_elsewhere.remove(&partition);
        if (self.shards.get(&partition)).is_some_and(|s| s.term() == term) {
            return;
        }
        self.drop_shard(ctx, partition);
        self.lead(ctx, partition);
    }

    fn resigned(&mut self, ctx: TCtx, partition: i32, term: LeaderTerm) {
        if (self.shards.get(&partition)).is_some_and(|s| s.term() == term) {
            self.drop_shard(ctx, partition);
        }
    }

    fn drop_shard(&mut self, ctx: TCtx, partition: i32) {
        if let Some(shard) = self.shards.remove(&partition) {
            self.markers.drop_shard(partition, shard.id());
            let mut out = Vec::new();
            shard.abandon(&mut out);
            self.apply(ctx, partition, out);
        }
    }

    /// The shard's memory cannot be trusted (`why`): drop it and load again after a barrier
    /// (the same term would not fence the old shard's appends; the barrier comes after them).
    /// A shard unloaded again within [`LOAD_RETRY_MS`] of its last unload loads after that
    /// pause instead (seed 490, with transactions: a load whose first write failed at once,
    /// its partition's ISR below `min.insync.replicas`, was reloaded at once, over and over,
    /// and simulated time never moved on).
    fn unload(&mut self, ctx: TCtx, partition: i32, why: Unload) {
        let now_ms = ctx.now.mono_ms;
        let last = self.unloaded_mono_ms.insert(partition, now_ms);
        if last.is_some_and(|at| now_ms < at + LOAD_RETRY_MS) {
            return self.reload_later(ctx, partition, why);
        }
        tracing::warn!(partition, why = %why.0, "transaction coordinator shard unloaded; reloading after a barrier");
        self.drop_shard(ctx, partition);
        self.lead(ctx, partition);
    }

    /// The load of `partition` failed: drop the shard and load again [`LOAD_RETRY_MS`] later.
    fn reload_later(&mut self, ctx: TCtx, partition: i32, why: Unload) {
        tracing::warn!(partition, why = %why.0, retry_ms = LOAD_RETRY_MS, "transaction coordinator load failed");
        self.lead_asked_mono_ms.insert(partition, ctx.now.mono_ms);
        self.drop_shard(ctx, partition);
        ctx.set_timer(TxnTimer::Reload { partition }, LOAD_RETRY_MS);
    }

    fn lead(&mut self, ctx: TCtx, partition: i32) {
        let request = PartitionsRequest::Lead(LeadRequest {
            tp: state_tp(partition),
        });
        let to = local(ctx, PARTITIONS);
        let call = ctx.call(to, NodeMsg::Partitions(request), LEAD_CALL_TIMEOUT_MS);
        self.calls.insert(call, Pending::Lead { partition });
    }

    /// A request found no shard for a partition led here: asks for its barrier, unless one is
    /// out or was asked within [`LOAD_RETRY_MS`] (a partition that failed to open is opened
    /// again only when something uses it).
    fn lead_if_idle(&mut self, ctx: TCtx, partition: i32) {
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

    /// The answer for an id of `partition`, which has no shard here; one led here has its
    /// barrier asked for (`lead_if_idle`).
    fn no_shard(&mut self, ctx: TCtx, partition: i32) -> ErrorCode {
        let leader = (self.leaders.as_ref())
            .and_then(|leaders| leaders.get(&state_tp(partition)).copied().flatten());
        match leader {
            _ if self.led_elsewhere.contains(&partition) => ErrorCode::NOT_COORDINATOR,
            Some(node) if node == ctx.me.node => {
                self.lead_if_idle(ctx, partition);
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            }
            // Another node leads it, or nobody does now: the client looks again.
            _ => ErrorCode::NOT_COORDINATOR,
        }
    }

    /// ListTransactions over every shard of this node, from what each has acknowledged; a
    /// shard still loading makes the answer COORDINATOR_LOAD_IN_PROGRESS with nothing listed
    /// (Kafka's `listTransactionStates`). Sorted by id.
    fn list(&self, args: &ListTxnArgs, now_ms: i64) -> TxnReply {
        let (filter, unknown_states) = ListFilter::new(args);
        let mut transactions = Vec::new();
        for shard in self.shards.values() {
            if let Err(code) = shard.list(&filter, now_ms, &mut transactions) {
                return TxnReply::Listed(ListTxnResult::refused(code));
            }
        }
        transactions.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        TxnReply::Listed(ListTxnResult {
            error_code: ErrorCode::NONE,
            unknown_states,
            transactions,
        })
    }

    /// DescribeTransactions: each id from its partition's shard, in the request's order.
    fn describe(&mut self, ctx: TCtx, ids: &[String]) -> TxnReply {
        let mut described = Vec::with_capacity(ids.len());
        for transactional_id in ids {
            described.push(self.describe_one(ctx, transactional_id));
        }
        TxnReply::Described(described)
    }

    /// One id of a DescribeTransactions, refused as a request for the id would be when its
    /// partition has no shard here (NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS and the
    /// partition's barrier asked for).
    fn describe_one(&mut self, ctx: TCtx, transactional_id: &str) -> TxnDescription {
        if transactional_id.is_empty() {
            return TxnDescription::refused(transactional_id, ErrorCode::INVALID_REQUEST);
        }
        let Some(count) = self.partition_count else {
            let code = ErrorCode::COORDINATOR_NOT_AVAILABLE;
            return TxnDescription::refused(transactional_id, code);
        };
        let partition = coordinator_partition(transactional_id, count);
        if let Some(shard) = self.shards.get(&partition) {
            return shard.describe(transactional_id);
        }
        TxnDescription::refused(transactional_id, self.no_shard(ctx, partition))
    }

    fn on_request(&mut self, ctx: TCtx, id: RequestId, request: TxnRequest) {
        // The reads answer at once, over the shards.
        let read = match &request {
            TxnRequest::List(args) => Some(self.list(args, ctx.now.unix_ms)),
            TxnRequest::Describe(args) => Some(self.describe(ctx, &args.transactional_ids)),
            _ => None,
        };
        if let Some(reply) = read {
            return ctx.reply(id, NodeMsg::TxnReply(reply));
        }
        let refuse = |ctx: TCtx, code| {
            let reply = TxnReply::refused(&request, code);
            ctx.reply(id, NodeMsg::TxnReply(reply));
        };
        let transactional_id = request.transactional_id().unwrap_or_default();
        if transactional_id.is_empty() {
            return refuse(ctx, ErrorCode::INVALID_REQUEST);
        }
        let Some(count) = self.partition_count else {
            return refuse(ctx, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        };
        let partition = coordinator_partition(transactional_id, count);
        if let TxnRequest::Verify(args) = &request {
            if !self.shards.contains_key(&partition) && !args.forwarded {
                return self.forward_verify(ctx, id, partition, args.clone());
            }
        }
        let Some(shard) = self.shards.get(&partition) else {
            let code = self.no_shard(ctx, partition);
            return refuse(ctx, code);
        };
        let new_id = matches!(request, TxnRequest::InitProducerId(_))
            && !shard.is_loading()
            && shard.metadata(transactional_id).is_none();
        if new_id && self.ids_full() {
            // A new id past the node's bound; known ids carry on (retriable, as for groups).
            return refuse(ctx, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let Some(shard) = self.shards.get_mut(&partition) else {
            return;
        };
        let mut out = Vec::new();
        shard.request(ctx.now.unix_ms, id, request, &mut out);
        self.apply(ctx, partition, out);
    }

    /// A partition leader's Verify of an id coordinated elsewhere: sent on, once, to the node
    /// the metadata names as the leader of the id's partition (none: NOT_COORDINATOR, which
    /// the partition answers as retriable).
    fn forward_verify(
        &mut self,
        ctx: TCtx,
        id: RequestId,
        partition: i32,
        args: crate::messages::txn::VerifyArgs,
    ) {
        let leader = (self.leaders.as_ref())
            .and_then(|leaders| leaders.get(&state_tp(partition)).copied().flatten())
            .filter(|node| *node != ctx.me.node);
        let Some(node) = leader else {
            let reply = TxnReply::Verified(self.no_shard(ctx, partition));
            return ctx.reply(id, NodeMsg::TxnReply(reply));
        };
        let to = Addr { node, actor: TXN };
        let forwarded = crate::messages::txn::VerifyArgs {
            forwarded: true,
            ..args
        };
        let msg = NodeMsg::Txn(TxnRequest::Verify(forwarded));
        let call = ctx.call(to, msg, VERIFY_CALL_TIMEOUT_MS);
        self.calls.insert(call, Pending::Forwarded { request: id });
    }

    /// Carries out `partition`'s shard outputs.
    fn apply(&mut self, ctx: TCtx, partition: i32, out: Vec<ShardOut<RequestId>>) {
        for o in out {
            let Some(shard) = self.shards.get(&partition) else {
                // Only answers remain once the shard is gone (its `abandon`).
                if let ShardOut::Answer(id, reply) = o {
                    ctx.reply(id, NodeMsg::TxnReply(reply));
                }
                continue;
            };
            let (term, shard_id) = (shard.term(), shard.id());
            match o {
                ShardOut::Answer(id, reply) => ctx.reply(id, NodeMsg::TxnReply(reply)),
                ShardOut::Append { write, batch } => {
                    let request = PartitionsRequest::Append(AppendRequest {
                        tp: state_tp(partition),
                        term,
                        records: batch,
                        timeout_ms: WRITE_TIMEOUT_MS,
                    });
                    let call_ms = WRITE_TIMEOUT_MS as u64 + CALL_MARGIN_MS;
                    let to = local(ctx, PARTITIONS);
                    let call = ctx.call(to, NodeMsg::Partitions(request), call_ms);
                    let pending = Pending::Append {
                        partition,
                        shard: shard_id,
                        write,
                    };
                    self.calls.insert(call, pending);
                }
                ShardOut::Read { from } => {
                    let read = super::load::Load::read(state_tp(partition), from);
                    let msg = NodeMsg::Partitions(PartitionsRequest::Fetch(read));
                    let call = ctx.call(local(ctx, PARTITIONS), msg, LOAD_READ_CALL_TIMEOUT_MS);
                    let pending = Pending::Read {
                        partition,
                        shard: shard_id,
                    };
                    self.calls.insert(call, pending);
                }
                ShardOut::NeedProducerId => {
                    let request = PartitionsRequest::InitProducerId(InitProducerIdRequest {
                        transactional_id: None,
                        producer_id: ProducerId::NONE,
                        producer_epoch: -1,
                    });
                    let to = local(ctx, PARTITIONS);
                    let msg = NodeMsg::Partitions(request);
                    let call = ctx.call(to, msg, PRODUCER_ID_CALL_TIMEOUT_MS);
                    let pending = Pending::ProducerId {
                        partition,
                        shard: shard_id,
                    };
                    self.calls.insert(call, pending);
                }
                ShardOut::Markers(job) => {
                    self.markers.add(partition, shard_id, term.epoch.0, job);
                    self.markers_due = true;
                }
            }
        }
    }

    /// Sends every marker that can go now, and completes the transactions with none left.
    fn send_markers(&mut self, ctx: TCtx) {
        self.markers_due = false;
        let Some(leaders) = &self.leaders else {
            return; // sent once the leaders are known
        };
        let round = self.markers.sends(leaders);
        for (node, writes) in round.calls {
            let (sent, markers): (Vec<(JobRef, TopicPartition)>, Vec<MarkerWrite>) = (writes
                .into_iter())
            .map(|(key, write)| ((key, write.tp.clone()), write))
            .unzip();
            let timeout_ms = self.settings.marker_timeout_ms;
            let request = PartitionsRequest::WriteMarkers(WriteMarkersRequest {
                markers,
                timeout_ms,
            });
            let to = Addr {
                node,
                actor: PARTITIONS,
            };
            let call_ms = u64::try_from(timeout_ms).unwrap_or(0) + CALL_MARGIN_MS;
            let call = ctx.call(to, NodeMsg::Partitions(request), call_ms);
            self.calls.insert(call, Pending::Markers { sent });
        }
        if round.waiting {
            self.resend_later(ctx);
        }
        self.complete(ctx, round.finished);
    }

    /// Markers are sent again after a pause, doubling while rounds keep failing.
    fn resend_later(&mut self, ctx: TCtx) {
        if self.marker_resend_armed {
            return;
        }
        let pause_ms = self.marker_backoff_ms;
        self.marker_backoff_ms = (pause_ms * 2).min(MARKER_RETRY_MAX_MS);
        self.marker_resend_armed = true;
        ctx.set_timer(TxnTimer::Markers, pause_ms);
    }

    /// Transactions with every marker written complete in their shards.
    fn complete(&mut self, ctx: TCtx, finished: Vec<Finished>) {
        for done in finished {
            let Some(shard) = self.shard_of(done.partition, done.shard) else {
                continue;
            };
            let mut out = Vec::new();
            let now_ms = ctx.now.unix_ms;
            shard.markers_written(now_ms, &done.id, done.producer_id, done.epoch, &mut out);
            self.apply(ctx, done.partition, out);
        }
    }

    /// The shard `partition` with id `id`, if it is still there.
    fn shard_of(&mut self, partition: i32, id: u64) -> Option<&mut Shard<RequestId>> {
        self.shards.get_mut(&partition).filter(|s| s.id() == id)
    }

    fn on_answer(&mut self, ctx: TCtx, call: CallId, answer: Result<NodeMsg, CallFailure>) {
        let Some(pending) = self.calls.remove(&call) else {
            return;
        };
        match pending {
            Pending::Lead { partition } => match answer {
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Ok((term, log_end))))) => {
                    self.elected(ctx, partition, term, log_end)
                }
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                )))) => {
                    tracing::warn!(
                        partition,
                        "no barrier: the partition is offline; asking again after a pause"
                    );
                    ctx.set_timer(TxnTimer::Reload { partition }, LOAD_RETRY_MS);
                }
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Lead(Err(
                    ErrorCode::NOT_COORDINATOR,
                )))) => {
                    if !self.shards.contains_key(&partition) {
                        self.led_elsewhere.insert(partition);
                    }
                }
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
                let result = shard.appended(write, outcome, &mut out);
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
                    return; // an older load's read
                };
                let mut out = Vec::new();
                let result =
                    read.and_then(|read: FetchPartitionResult| shard.fetched(&read, &mut out));
                self.apply(ctx, partition, out);
                if let Err(why) = result {
                    self.reload_later(ctx, partition, why);
                }
            }
            Pending::ProducerId { partition, shard } => {
                let granted = match answer {
                    Ok(NodeMsg::PartitionsReply(PartitionsReply::InitProducerId(result))) => {
                        match result.error_code {
                            ErrorCode::NONE => Ok(result.producer_id),
                            code => Err(code),
                        }
                    }
                    _ => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
                };
                let now_ms = ctx.now.unix_ms;
                let Some(shard) = self.shard_of(partition, shard) else {
                    return; // dropped: its waiting requests were answered then
                };
                let mut out = Vec::new();
                match granted {
                    Ok(producer_id) => shard.producer_id(now_ms, producer_id, &mut out),
                    Err(code) => shard.producer_id_failed(code, &mut out),
                }
                self.apply(ctx, partition, out);
            }
            Pending::Forwarded { request } => {
                let reply = match answer {
                    Ok(NodeMsg::TxnReply(reply @ TxnReply::Verified(_))) => reply,
                    Ok(other) => {
                        tracing::warn!(?other, "a forwarded Verify got an answer of another kind");
                        TxnReply::Verified(ErrorCode::UNKNOWN_SERVER_ERROR)
                    }
                    Err(_) => TxnReply::Verified(ErrorCode::REQUEST_TIMED_OUT),
                };
                ctx.reply(request, NodeMsg::TxnReply(reply));
            }
            Pending::Markers { sent } => {
                let codes: Option<BTreeMap<TopicPartition, ErrorCode>> = match answer {
                    Ok(NodeMsg::PartitionsReply(PartitionsReply::Produce(results))) => Some(
                        (results.into_iter())
                            .map(|(tp, result)| (tp, result.error_code))
                            .collect(),
                    ),
                    _ => None,
                };
                let answered = self.markers.answered(&sent, codes.as_ref());
                if answered.again {
                    self.resend_later(ctx);
                } else if !self.marker_resend_armed {
                    self.marker_backoff_ms = MARKER_RETRY_MIN_MS;
                }
                self.complete(ctx, answered.finished);
                for (partition, shard) in answered.given_up {
                    // The transaction stays prepared in this shard: reload it from the log,
                    // which sends its markers again or finds another coordinator leading.
                    if self.shard_of(partition, shard).is_some() {
                        let why = Unload("a transaction's markers were fenced".into());
                        self.reload_later(ctx, partition, why);
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: TCtx, key: TxnTimer) {
        match key {
            TxnTimer::AbortScan => {
                ctx.set_timer(TxnTimer::AbortScan, self.settings.abort_scan_interval_ms);
                let partitions: Vec<i32> = self.shards.keys().copied().collect();
                for partition in partitions {
                    let Some(shard) = self.shards.get_mut(&partition) else {
                        continue;
                    };
                    let mut out = Vec::new();
                    let aborted = shard.abort_timed_out(ctx.now.unix_ms, &mut out);
                    if !aborted.is_empty() {
                        tracing::info!(partition, ?aborted, "timed-out transactions aborted");
                    }
                    self.apply(ctx, partition, out);
                }
            }
            TxnTimer::ExpireIds => {
                let interval_ms = self.settings.id_expiration_scan_interval_ms;
                ctx.set_timer(TxnTimer::ExpireIds, interval_ms);
                let expiration_ms = self.settings.id_expiration_ms;
                let partitions: Vec<i32> = self.shards.keys().copied().collect();
                for partition in partitions {
                    let Some(shard) = self.shards.get_mut(&partition) else {
                        continue;
                    };
                    let mut out = Vec::new();
                    let expired = shard.expire_ids(ctx.now.unix_ms, expiration_ms, &mut out);
                    if expired > 0 {
                        tracing::info!(partition, expired, "expired transactional ids forgotten");
                    }
                    self.apply(ctx, partition, out);
                }
            }
            TxnTimer::Markers => {
                self.marker_resend_armed = false;
                self.markers_due = true;
            }
            TxnTimer::Reload { partition } => {
                if !self.shards.contains_key(&partition) {
                    self.lead(ctx, partition);
                }
            }
        }
    }
}

impl Actor<NodeMsg> for TxnActor {
    type Timer = TxnTimer;

    fn handle(&mut self, ctx: TCtx, input: Input<NodeMsg, TxnTimer>) {
        match input {
            Input::Start => {}
            Input::Msg {
                msg: NodeMsg::TxnEvent(event),
                ..
            } => match event {
                TxnEvent::Elected {
                    partition,
                    term,
                    log_end,
                    high_watermark,
                } if high_watermark < log_end => self.elected_uncommitted(ctx, partition, term),
                TxnEvent::Elected {
                    partition,
                    term,
                    log_end,
                    ..
                } => self.elected(ctx, partition, term, log_end),
                TxnEvent::Resigned { partition, term } => self.resigned(ctx, partition, term),
                TxnEvent::Leaders(leaders) => self.leaders(leaders),
            },
            Input::Msg { from, msg } => {
                tracing::warn!(?from, ?msg, "transaction coordinator ignores this message");
            }
            Input::Request {
                id,
                msg: NodeMsg::Txn(request),
                ..
            } => self.on_request(ctx, id, request),
            Input::Request { id, msg, .. } => {
                tracing::warn!(
                    ?msg,
                    "transaction coordinator got a request it does not serve"
                );
                let reply = TxnReply::EndTxn(ErrorCode::INVALID_REQUEST);
                ctx.reply(id, NodeMsg::TxnReply(reply));
            }
            Input::Reply { call, msg } => self.on_answer(ctx, call, Ok(msg)),
            Input::CallFailed { call, why } => self.on_answer(ctx, call, Err(why)),
            Input::Timer { key } => self.on_timer(ctx, key),
            Input::Synced { .. } => {}
        }
        // Completions may add markers (a load's prepared transactions), and markers may
        // complete at once (a transaction of deleted partitions): until nothing is left to do.
        while self.markers_due {
            self.send_markers(ctx);
        }
    }
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
