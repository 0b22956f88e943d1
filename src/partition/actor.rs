//! The `PARTITIONS` actor: hosts every partition log of a node and answers the broker
//! service's requests ([`PartitionsRequest`]) with [`PartitionsReply`].
//!
//! * Produce appends per partition (one bad partition never fails the others). With acks=1
//!   the reply follows the append; with acks=-1/0 under the `EveryAppend` flush policy it
//!   waits until a sync covering every appended partition completed. Syncs are group commits:
//!   at most one persist job per log is in flight and every append arriving meanwhile rides the
//!   next one. The sync token is the replica's id (a partition delete's removal job takes a
//!   fresh one).
//!   An acks=-1 produce that waits arms one `ProduceTimeout` timer at its `timeout_ms`; the
//!   partitions still waiting when it fires answer REQUEST_TIMED_OUT (their records stay
//!   written, as in Kafka).
//! * InitProducerId hands out ids from a block the controller quorum committed; the next block
//!   is a call to the node's voter and the requests wait for its answer ([`ProducerIds`]) —
//!   the only call this actor makes.
//! * Fetch reads up to the high watermark (the log end on one node) and parks until `min_bytes`
//!   are available or `max_wait_ms` passes.
//! * A periodic timer applies retention, expires idle producers and snapshots producer state.
//!
//! Time comes only from `ctx.now` (`unix_ms` for the log, `mono_ms` implicitly via timers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::describe_producers;
use super::epoch_ends;
use super::errors;
use super::fetch_wait::FetchWaits;
use super::following::{self, Following, Sent};
use super::isr::{self, Asked, IsrCalls};
use super::leaders::{self, Absent, Leaders};
use super::leadership;
use super::offline::OfflineLogs;
use super::opening::{self, OpeningQueue, Parked};
use super::producer_ids::{InitStep, ProducerIds};
use super::reads::{self, FetchRead};
use super::replica::{self, Appended, LogStartWaiter, Replica, Waiter};
use super::replica_fetch;
use super::role::Role;
use super::strays;
use super::throttle::{self, ThrottleSettings, Throttles};
use super::verify::{Unverified, Verifications, VERIFY_CALL_TIMEOUT_MS};
use crate::actor::{Actor, Addr, CallId, Ctx, Input, RequestId};
use crate::faults::{self, Canary};
use crate::limits::{
    DISK_FULL_QUIET_MS, FETCH_PARKED_MAX, FETCH_WAIT_MS_MAX, OFFLINE_LOG_RETRY_MS,
    PRODUCER_ID_BLOCK_CALL_TIMEOUT_MS, RETENTION_CHECK_INTERVAL_MS,
};
use crate::messages::groups::GroupsEvent;
use crate::messages::quorum::{IsrOutcome, LeaderRequest, QuorumReply};
use crate::messages::txn::{TxnReply, TxnRequest};
use crate::messages::{
    AppendRequest, DeletePartitionRequest, DeleteRecordsRequest, DeleteRecordsResult,
    DescribeProducersRequest, Done, EnsureRequest, EpochEndsRequest, FetchPartition, FetchRequest,
    InitProducerIdRequest, InitProducerIdResult, LeadRequest, LeaderTerm, LeadersUpdate,
    ListOffsetsRequest, ListOffsetsResult, LogDirPartition, NodeMsg, OfflineRequest,
    PartitionsReply, PartitionsRequest, ProducePartitionResult, ProduceRequest, RecordsChecked,
    ReplicaFetchRequest, ReplicaFetchResult, ReplicaSyncedNotice, SetConfigRequest,
    WriteMarkersRequest, GROUPS, OFFSETS_TOPIC, PARTITIONS, QUORUM, TXN,
};
use crate::storage::disk_full;
use crate::storage::log::clean::CleanSlot;
use crate::storage::log::{partition_metadata, FlushPolicy, Log, LogConfig};
use crate::storage::marker::Marker;
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;
use crate::types::{
    cluster_id_text, BrokerEpoch, ErrorCode, NodeId, Offset, ProducerId, Refusal, TopicPartition,
};

type PCtx<'a, 'b> = &'a mut Ctx<'b, NodeMsg, PartitionsTimer>;

/// The partitions actor's timers. At most one of each is armed at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartitionsTimer {
    /// Periodic housekeeping: retention, idle producers, producer snapshots, offline logs.
    Retention,
    /// A replica's `flush.ms` interval ran out (by replica id; a stale id is ignored).
    Flush(u64),
    /// A parked fetch's `max_wait_ms` ran out (by fetch id; an answered fetch is ignored).
    Fetch(u64),
    /// A parked replica fetch's `max_wait_ms` ran out (likewise).
    ReplicaFetch(u64),
    /// A follower's backoff after a failed fetch ended (by replica id).
    FollowBackoff(u64),
    /// A waiting acks=-1 produce's `timeout_ms` ran out (by produce id; an answered produce
    /// is ignored).
    ProduceTimeout(u64),
    /// A compacted replica's `log.cleaner.backoff.ms` ran out: plan a clean (by replica id).
    Clean(u64),
    /// Time for the leaders here to look for followers to drop from their ISRs, and for ISR
    /// changes to ask again (see [`isr`]).
    IsrCheck,
    /// Offline logs are due to be opened again: a follower's is used by nobody else, and its
    /// partition's high watermark stays while it is out of the ISR under min.insync.replicas.
    OfflineRetry,
}

/// A DeleteRecords request with partitions still waiting for their log start to be durable.
struct PendingDeleteRecords {
    request: RequestId,
    results: Vec<(TopicPartition, DeleteRecordsResult)>,
    outstanding: usize,
}

/// A partition directory being deleted: the removal job runs once the deleted replica's last
/// flush job completed; Ensure/Delete requests for the partition queue behind it, so a
/// re-created partition never shares its directory with a running job of the old one.
struct DirLane {
    /// The Delete request answered when the directory is gone (none when an Ensure found
    /// another topic's directory in its place: the Ensure is queued behind the removal).
    request: Option<RequestId>,
    /// The removal job is running (else the old replica's jobs still run).
    removing: bool,
    /// The old replica's jobs (its flush, its clean's swap) the removal waits for.
    waiting: usize,
    queued: Vec<(RequestId, PartitionsRequest)>,
    /// Not a removal: a follower's log restarting at its leader's log start
    /// ([`PartitionsActor::restart_follower`]), reopened with this config once the job that
    /// moved its log start completed.
    restart: Option<LogConfig>,
}

/// A Shutdown answered once every replica's close job completed.
struct ShutdownWait {
    requests: Vec<RequestId>,
    closing: usize,
    first_error: Option<String>,
}

/// The persist token of a replica's clean: this bit over its replica id (replica and
/// directory tokens count up from 0 and never reach it; the block token is matched first).
const CLEAN_TOKEN_BIT: u64 = 1 << 62;

/// What one partition of a write appends: a client's records (with the broker's walk of them,
/// if it made one), or a transaction coordinator's marker for a producer.
enum Payload {
    Records(Vec<u8>, Option<RecordsChecked>),
    Marker(ProducerId, i16, Marker),
    /// A coordinator's own write (Kafka's `AppendOrigin.COORDINATOR`): a transactional offset
    /// commit carries its producer's id and epoch but no sequence to check.
    Coordinator(Vec<u8>),
    /// A produce's slot refused before the append (its transaction's verification failed).
    Refused(Refusal),
}

/// A COMMIT or ABORT marker written to a `__consumer_offsets` partition: once acknowledged,
/// the group coordinator here completes the producer's pending offsets (Kafka's
/// `onTransactionCompleted`).
#[derive(Clone, Copy, Debug)]
struct OffsetsMarker {
    slot: usize,
    producer_id: ProducerId,
    commit: bool,
}

/// A produce request with partitions still waiting for a sync.
struct PendingProduce {
    request: RequestId,
    results: Vec<(TopicPartition, ProducePartitionResult)>,
    outstanding: usize,
    /// Its `ProduceTimeout` timer is armed (acks=-1; acks=0 owes no answer, so it waits
    /// without one, as Kafka never parks it).
    timeout_armed: bool,
    /// A coordinator's `Lead` barrier rather than a produce: answered with this term and log
    /// end once its one slot is acknowledged.
    lead: Option<(LeaderTerm, Offset)>,
    /// Markers of this write to `__consumer_offsets` partitions, announced once answered.
    offsets_markers: Vec<OffsetsMarker>,
}

impl PendingProduce {
    /// The answer once every slot is settled.
    fn into_reply(self) -> NodeMsg {
        let reply = match self.lead {
            None => PartitionsReply::Produce(self.results),
            Some(lead) => PartitionsReply::Lead(match self.results.first() {
                Some((_, result)) if result.error_code != ErrorCode::NONE => Err(result.error_code),
                _ => Ok(lead),
            }),
        };
        NodeMsg::PartitionsReply(reply)
    }
}

/// Tells the group coordinator here of each `__consumer_offsets` marker written and
/// acknowledged (`results` answers NONE for its slot): the producer's pending transactional
/// offsets there are committed or dropped. One not acknowledged is not announced: the
/// transaction coordinator writes it again, or the next load replays it.
fn announce_txn_completions(
    ctx: PCtx,
    markers: &[OffsetsMarker],
    results: &[(TopicPartition, ProducePartitionResult)],
) {
    for marker in markers {
        let Some((tp, result)) = results.get(marker.slot) else {
            continue;
        };
        if result.error_code != ErrorCode::NONE {
            continue;
        }
        let event = GroupsEvent::TxnCompleted {
            partition: tp.partition,
            producer_id: marker.producer_id,
            commit: marker.commit,
            marker_offset: result.base_offset,
        };
        let to = Addr {
            node: ctx.me.node,
            actor: GROUPS,
        };
        ctx.send(to, NodeMsg::GroupsEvent(event));
    }
}

/// How long a waiting acks=-1 produce may wait, from its `timeout_ms`. Kafka hands the value
/// to its purgatory timer unchanged: a zero or negative delay expires at once (after the
/// append and one check whether it is already acknowledged), so such a produce answers
/// REQUEST_TIMED_OUT unless its partitions were acknowledged by the append itself. The upper
/// end needs no clamp: an `i32` of milliseconds is under 25 days, and the timer costs the same.
fn produce_timeout_ms(timeout_ms: i32) -> u64 {
    u64::try_from(timeout_ms).unwrap_or(0)
}

pub struct Partitions {
    storage: Arc<dyn Storage>,
    replicas: BTreeMap<TopicPartition, Replica>,
    /// Replica id → partition: resolves sync tokens and flush timers.
    by_id: BTreeMap<u64, TopicPartition>,
    next_replica_id: u64,
    producer_ids: ProducerIds,
    /// The ask for the next producer-id block, while it is in flight.
    producer_id_call: Option<CallId>,
    produces: BTreeMap<u64, PendingProduce>,
    next_produce_id: u64,
    fetches: FetchWaits,
    /// Followers' fetches held until this leader has something new for them.
    replica_fetches: FetchWaits<ReplicaFetchRequest>,
    /// This node's own fetches from the leaders of the partitions it follows.
    following: Following,
    /// Partitions whose log could not be opened: answered with KAFKA_STORAGE_ERROR, retried.
    offline: OfflineLogs,
    /// Partitions whose disk filled, with when a write last failed for want of space
    /// (`mono_ms`): logged once when the disk fills and once when space is back (issue 11:
    /// not once per request).
    out_of_space: BTreeMap<TopicPartition, u64>,
    /// Requests waiting for an opening partition's recovery to become durable.
    parked: OpeningQueue,
    delete_records: BTreeMap<u64, PendingDeleteRecords>,
    next_delete_records_id: u64,
    /// Partitions whose directory is being deleted.
    dir_lanes: BTreeMap<TopicPartition, DirLane>,
    /// The topic id each open replica was opened for (where the metadata gave one).
    topic_ids: BTreeMap<TopicPartition, [u8; 16]>,
    /// Persist token → partition, for the jobs a [`DirLane`] waits for.
    dir_tokens: BTreeMap<u64, TopicPartition>,
    /// Persist token → name, for the jobs removing what interrupted removals left
    /// ([`strays`]); nothing waits for them.
    leftovers: BTreeMap<u64, String>,
    /// A directory removal or a leftover's failed since leftovers were last looked for: the
    /// housekeeping tick looks again ([`Self::retry_leftovers`]).
    leftovers_suspected: bool,
    /// The directories of replicas moved away while this node was down were looked for
    /// ([`Self::sweep_moved_away`]).
    moved_away_swept: bool,
    /// A [`PartitionsTimer::OfflineRetry`] is set.
    offline_retry_armed: bool,
    /// Only under the planted `TruncateToHw`: followers that cut their log to their high
    /// watermark before their next fetch (a new leadership, an open).
    hw_cut_pending: BTreeSet<TopicPartition>,
    shutdown: Option<ShutdownWait>,
    /// Compacted replicas' cleaner, by replica id: `None` while the `Clean` timer is armed,
    /// the slot while its clean runs as a persist job. One at a time per replica.
    cleaning: BTreeMap<u64, Option<CleanSlot>>,
    /// Cleans swapping their segments in (a persist job renaming files in the partition's
    /// directory), by the id of the replica that started them, with the partition and the
    /// slot. Until one completed, its partition is not reopened and its directory not
    /// removed, even if the replica went meanwhile (offline, deleted).
    swapping: BTreeMap<u64, (TopicPartition, CleanSlot)>,
    /// Who leads each partition, as the metadata says (see [`leaders`]).
    leaders: Leaders,
    /// The ISR changes this node's leaders asked the controller for (see [`isr`]).
    isr_calls: IsrCalls,
    /// Kafka's `replica.lag.time.max.ms`.
    replica_lag_time_max_ms: u64,
    /// The replication throttles (KIP-73) the metadata sets for this broker, with their quotas
    /// (see [`throttle`]).
    throttles: Throttles,
    /// Whether the `IsrCheck` timer is armed: only while this node leads a partition with
    /// other replicas (a single node's timers stay as they were).
    isr_check_armed: bool,
    /// Clients' transactional batches are accepted ([`Self::with_transactional_writes`]).
    transactional_writes: bool,
    /// A transaction's first batch at a partition waits for its coordinator's verification
    /// (KIP-890 part 1, [`verify`]; Kafka's `transaction.partition.verification.enable`).
    verification: bool,
    verifications: Verifications,
    /// Verify calls out: (parked produce, slot).
    verify_calls: BTreeMap<CallId, (u64, usize)>,
}

fn done(error_code: ErrorCode, message: Option<String>) -> NodeMsg {
    NodeMsg::PartitionsReply(PartitionsReply::Done(Done {
        error_code,
        message,
    }))
}

/// Kafka refuses an `acks=all` append before writing it while the in-sync replicas are fewer
/// than `min.insync.replicas`. A follower is not asked: it refuses every produce.
fn too_few_in_sync(acks: i16, replica: &Replica) -> Option<String> {
    (acks == -1).then(|| replica.too_few_in_sync()).flatten()
}

fn produce_result(
    error_code: ErrorCode,
    message: Option<String>,
    base_offset: Offset,
    log_start: Offset,
) -> ProducePartitionResult {
    ProducePartitionResult {
        error_code,
        error_message: message,
        record_errors: Vec::new(),
        base_offset,
        log_append_time_ms: -1,
        log_start_offset: log_start,
    }
}

impl Partitions {
    /// An actor hosting partition logs under `storage` (one `<topic>-<partition>` directory
    /// each). Partitions are opened by `Ensure` requests, also after a restart.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            producer_ids: ProducerIds::new(storage.clone()),
            producer_id_call: None,
            storage,
            replicas: BTreeMap::new(),
            by_id: BTreeMap::new(),
            next_replica_id: 0,
            produces: BTreeMap::new(),
            next_produce_id: 0,
            fetches: FetchWaits::default(),
            replica_fetches: FetchWaits::default(),
            following: Following::default(),
            offline: OfflineLogs::default(),
            out_of_space: BTreeMap::new(),
            parked: OpeningQueue::default(),
            delete_records: BTreeMap::new(),
            next_delete_records_id: 0,
            dir_lanes: BTreeMap::new(),
            topic_ids: BTreeMap::new(),
            dir_tokens: BTreeMap::new(),
            leftovers: BTreeMap::new(),
            leftovers_suspected: false,
            moved_away_swept: false,
            offline_retry_armed: false,
            hw_cut_pending: BTreeSet::new(),
            shutdown: None,
            cleaning: BTreeMap::new(),
            swapping: BTreeMap::new(),
            leaders: Leaders::default(),
            isr_calls: IsrCalls::default(),
            replica_lag_time_max_ms: isr::REPLICA_LAG_TIME_MAX_MS_DEFAULT,
            isr_check_armed: false,
            throttles: Throttles::new(
                throttle::REPLICATION_QUOTA_WINDOW_NUM_DEFAULT,
                throttle::REPLICATION_QUOTA_WINDOW_SIZE_SECONDS_DEFAULT,
            ),
            transactional_writes: false,
            verification: false,
            verifications: Verifications::default(),
            verify_calls: BTreeMap::new(),
        }
    }

    /// Verifies a transaction's first batch at each partition with its coordinator before
    /// the append (KIP-890 part 1; `transaction.partition.verification.enable`, on by default
    /// in a server).
    pub fn with_transaction_verification(mut self, enabled: bool) -> Self {
        self.verification = enabled;
        self
    }

    /// Accepts clients' transactional batches (issue 15): a server turns it on with its
    /// transaction coordinator; off, a transactional batch is refused INVALID_TXN_STATE.
    pub fn with_transactional_writes(mut self) -> Self {
        self.transactional_writes = true;
        self
    }

    /// Kafka's `replication.quota.window.num` and `replication.quota.window.size.seconds`: the
    /// replication quotas' burst and memory (see [`throttle::ReplicationQuota`]).
    pub fn with_replication_quota_window(mut self, window_num: u32, window_size_s: u32) -> Self {
        self.throttles = Throttles::new(window_num, window_size_s);
        self
    }

    /// Kafka's `replica.lag.time.max.ms`: a follower not caught up for this long leaves the
    /// ISR.
    /// Leaderships wait for this process's registration (see `partition::leaders`): a
    /// production node's, which the lifecycle actor registers.
    pub fn gated(mut self) -> Self {
        self.leaders = Leaders::gated();
        self
    }

    pub fn with_replica_lag_time_max_ms(mut self, replica_lag_time_max_ms: u64) -> Self {
        self.replica_lag_time_max_ms = replica_lag_time_max_ms;
        self
    }

    /// Partitions whose log is offline (could not be opened), for tests and diagnostics.
    pub fn offline_count(&self) -> usize {
        self.offline.len()
    }

    /// The replica hosting `tp`, if any (for tests and diagnostics).
    pub fn replica(&self, tp: &TopicPartition) -> Option<&Replica> {
        self.replicas.get(tp)
    }

    /// Requests waiting for an opening partition (for tests and diagnostics).
    pub fn parked_count(&self) -> usize {
        self.parked.len()
    }

    fn is_opening(&self, tp: &TopicPartition) -> bool {
        self.replicas.get(tp).is_some_and(Replica::is_opening)
    }

    /// Whether the request must wait: an earlier one waits, or it names an opening partition.
    fn must_wait(&self, request: &PartitionsRequest) -> bool {
        !self.parked.is_empty()
            || match request {
                PartitionsRequest::Shutdown => self.replicas.values().any(Replica::is_opening),
                _ => opening::names(request, |tp| self.is_opening(tp)),
            }
    }

    /// A request arrived: it waits if it names an opening partition or an earlier one waits
    /// (`partition::opening`); a full queue refuses it with a retriable code.
    fn on_request(&mut self, ctx: PCtx, id: RequestId, request: PartitionsRequest) {
        self.admit(ctx, id, request, true);
    }

    /// Serves the request, or parks it (`fresh`: it just arrived, so a full queue refuses it;
    /// otherwise it is being replayed and keeps its place).
    fn admit(&mut self, ctx: PCtx, id: RequestId, request: PartitionsRequest, fresh: bool) {
        if opening::may_park(&request) {
            self.revive_named(ctx, &request);
            if self.must_wait(&request) {
                let entry = Parked::Request(id, request);
                if !fresh {
                    self.parked.park_again(entry);
                } else if let Err(Parked::Request(id, request)) = self.parked.park(entry) {
                    ctx.reply(id, opening::refused(request));
                }
                return;
            }
        }
        self.serve(ctx, id, request);
    }

    /// Opens the partitions a produce or fetch names whose log is due to come back, before it
    /// is decided whether the request waits for them.
    fn revive_named(&mut self, ctx: PCtx, request: &PartitionsRequest) {
        match request {
            PartitionsRequest::Append(AppendRequest { tp, .. })
            | PartitionsRequest::Lead(LeadRequest { tp }) => self.revive(ctx, tp),
            PartitionsRequest::Produce(produce) => {
                for (tp, _) in &produce.partitions {
                    self.revive(ctx, tp);
                }
            }
            PartitionsRequest::WriteMarkers(write) => {
                for marker in &write.markers {
                    self.revive(ctx, &marker.tp);
                }
            }
            // A failed replica or an offline partition is reopened (`revive` checks both).
            PartitionsRequest::Fetch(fetch) => {
                for partition in &fetch.partitions {
                    self.revive(ctx, &partition.tp);
                }
            }
            _ => {}
        }
    }

    /// An opening partition's first persist job completed (or failed, which took it offline):
    /// serves the waiting requests in arrival order; those still blocked wait again, in order.
    fn replay_parked(&mut self, ctx: PCtx) {
        for entry in self.parked.take_all() {
            match entry {
                Parked::Request(id, request) => self.admit(ctx, id, request, false),
                Parked::EnsureReply(id, tp) => {
                    if !self.parked.is_empty() || self.is_opening(&tp) {
                        self.parked.park_again(Parked::EnsureReply(id, tp));
                    } else {
                        let reply = self.opened_reply(&tp);
                        ctx.reply(id, reply);
                    }
                }
            }
        }
    }

    /// The `Ensure` answer once `tp`'s open completed.
    fn opened_reply(&self, tp: &TopicPartition) -> NodeMsg {
        if self.replicas.contains_key(tp) {
            return done(ErrorCode::NONE, None);
        }
        match self.offline.reason(tp) {
            Some(reason) => done(ErrorCode::KAFKA_STORAGE_ERROR, Some(reason)),
            None => done(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None),
        }
    }

    fn serve(&mut self, ctx: PCtx, id: RequestId, request: PartitionsRequest) {
        let lane_tp = match &request {
            PartitionsRequest::Ensure(EnsureRequest { tp, .. })
            | PartitionsRequest::Delete(DeletePartitionRequest { tp }) => Some(tp),
            // A config change waits behind a restart (its reopen takes the new config then).
            PartitionsRequest::SetConfig(SetConfigRequest { tp, .. })
                if self.dir_lanes.get(tp).is_some_and(|l| l.restart.is_some()) =>
            {
                Some(tp)
            }
            _ => None,
        };
        if let Some(lane) = lane_tp.and_then(|tp| self.dir_lanes.get_mut(tp)) {
            // Per-directory order: after the running delete.
            lane.queued.push((id, request));
            return;
        }
        match request {
            PartitionsRequest::Ensure(request) if self.held_for_another_topic(&request) => {
                self.replace_held(ctx, id, request)
            }
            PartitionsRequest::Ensure(request) if self.foreign_dir(&request) => {
                self.remove_foreign_dir(ctx, id, request)
            }
            PartitionsRequest::Ensure(EnsureRequest {
                tp,
                config,
                topic_id,
            }) => {
                let reply = self.ensure(ctx, tp.clone(), &config, &topic_id);
                if self.is_opening(&tp) {
                    // Nothing waits (or this request would have): the queue has room.
                    self.parked.park_again(Parked::EnsureReply(id, tp));
                } else {
                    ctx.reply(id, reply);
                    // A log opened with nothing to recover follows at once.
                    self.follow(ctx, &tp);
                }
            }
            PartitionsRequest::SetConfig(SetConfigRequest { tp, config }) => {
                let reply = self.set_config(ctx, &tp, &config);
                ctx.reply(id, reply);
            }
            PartitionsRequest::Delete(DeletePartitionRequest { tp }) => self.delete(ctx, id, tp),
            PartitionsRequest::Shutdown => self.shutdown(ctx, id),
            PartitionsRequest::Produce(produce) => self.produce(ctx, id, produce),
            PartitionsRequest::Fetch(fetch) => self.fetch(ctx, id, fetch),
            PartitionsRequest::ListOffsets(list) => {
                let reply = self.list_offsets(ctx.me.node, list);
                ctx.reply(id, NodeMsg::PartitionsReply(reply));
            }
            PartitionsRequest::ReplicaFetch(ask) => self.replica_fetch(ctx, id, ask),
            PartitionsRequest::EpochEnds(EpochEndsRequest { partitions }) => {
                let me = ctx.me.node;
                let ends = partitions
                    .into_iter()
                    .map(|ask| {
                        let replica = self.replica_or_absent(&ask.tp, me);
                        epoch_ends::answer(ask, replica)
                    })
                    .collect();
                ctx.reply(
                    id,
                    NodeMsg::PartitionsReply(PartitionsReply::EpochEnds(ends)),
                );
            }
            PartitionsRequest::DeleteRecords(DeleteRecordsRequest { partitions }) => {
                self.delete_records(ctx, id, partitions)
            }
            PartitionsRequest::InitProducerId(InitProducerIdRequest {
                transactional_id, ..
            }) => {
                let step = self
                    .producer_ids
                    .request(id, transactional_id, ctx.now.mono_ms);
                self.answer_init_producer_ids(ctx, step);
            }
            PartitionsRequest::Offline(OfflineRequest { topics }) => {
                let offline = self.offline.listed(topics.as_deref());
                ctx.reply(
                    id,
                    NodeMsg::PartitionsReply(PartitionsReply::Offline(offline)),
                );
            }
            PartitionsRequest::Append(append) => self.append(ctx, id, append),
            PartitionsRequest::WriteMarkers(write) => self.write_markers(ctx, id, write),
            PartitionsRequest::Lead(LeadRequest { tp }) => self.lead(ctx, id, tp),
            PartitionsRequest::Leaders(update) => {
                self.on_leaders(ctx, update);
                ctx.reply(id, done(ErrorCode::NONE, None));
            }
            PartitionsRequest::Registered(epoch) => {
                self.leaders.registered(epoch);
                self.take_roles(ctx);
                ctx.reply(id, done(ErrorCode::NONE, None));
            }
            PartitionsRequest::DescribeProducers(DescribeProducersRequest { partitions }) => {
                let me = ctx.me.node;
                let answers = (partitions.into_iter())
                    .map(|tp| {
                        let replica = self.replica_or_absent(&tp, me);
                        describe_producers::answer(tp, replica)
                    })
                    .collect();
                let reply = PartitionsReply::DescribeProducers(answers);
                ctx.reply(id, NodeMsg::PartitionsReply(reply));
            }
            PartitionsRequest::LogDirs(request) => {
                let held = self.log_dirs(request.partitions.as_deref());
                ctx.reply(id, NodeMsg::PartitionsReply(PartitionsReply::LogDirs(held)));
            }
            PartitionsRequest::RemoveStray(request) => {
                let reply = self.remove_strays(ctx, &request.deleted_topic_ids);
                ctx.reply(id, reply);
            }
            PartitionsRequest::ReplicaSynced(notice) => {
                self.replica_synced(ctx, &notice);
                ctx.reply(id, done(ErrorCode::NONE, None));
            }
            PartitionsRequest::Throttles(settings) => {
                self.set_throttles(ctx, settings);
                ctx.reply(id, done(ErrorCode::NONE, None));
            }
        }
    }

    /// The replicas open here, of `partitions` if named, with their sizes (DescribeLogDirs).
    fn log_dirs(&self, partitions: Option<&[TopicPartition]>) -> Vec<LogDirPartition> {
        (self.replicas.iter())
            .filter(|(tp, _)| partitions.is_none_or(|named| named.contains(tp)))
            .map(|(tp, replica)| LogDirPartition {
                tp: tp.clone(),
                size_bytes: replica.log().size_bytes(),
                offset_lag: (replica.high_watermark().0 - replica.log().log_end_offset()).max(0),
                segments: replica.log().segment_count() as u64,
                log_start_offset: replica.log().log_start_offset(),
                log_end_offset: replica.log().log_end_offset(),
                high_watermark: replica.high_watermark().0,
                leader: replica.in_sync_count().is_some(),
            })
            .collect()
    }

    /// Starts removing the stray directories ([`strays`]): each partition one in its
    /// directory's lane (a later Ensure of its name waits for it), each leftover on its own.
    fn remove_strays(&mut self, ctx: PCtx, deleted_topic_ids: &BTreeSet<[u8; 16]>) -> NodeMsg {
        let names = match self.storage.list(Path::new("")) {
            Ok(names) => names,
            Err(error) => {
                let message = format!("cannot list the data directory: {error}");
                return done(ErrorCode::KAFKA_STORAGE_ERROR, Some(message));
            }
        };
        // An offline partition (its open failed) is no longer in use once its topic is
        // deleted: it is a stray like any other.
        let busy = |tp: &TopicPartition| self.dir_in_use(tp);
        let leftovers_too = self.dir_lanes.is_empty() && self.leftovers.is_empty();
        let strays::Strays {
            partitions,
            mut leftovers,
        } = strays::find(
            self.storage.as_ref(),
            &names,
            deleted_topic_ids,
            busy,
            leftovers_too,
        );
        // Both canaries plant a broker that never reads its directories' topic ids here.
        let ignored =
            faults::canary(Canary::StrayDirsKept) || faults::canary(Canary::TopicIdIgnored);
        let partitions = match ignored {
            true => Vec::new(),
            false => partitions,
        };
        for tp in partitions {
            tracing::warn!(topic = %tp.topic, partition = tp.partition, "removing the directory of a deleted topic (this broker was down when it was deleted)");
            // Its own removal job clears a leftover of its name first: no second job on it.
            let doomed = replica::deleting_dir_for(&tp);
            leftovers.retain(|name| Path::new(name) != doomed);
            self.remove_dir(ctx, &tp);
        }
        self.remove_leftovers(ctx, leftovers);
        done(ErrorCode::NONE, None)
    }

    /// Removes `-delete` directories that interrupted or failed removals left.
    fn remove_leftovers(&mut self, ctx: PCtx, names: Vec<String>) {
        self.leftovers_suspected = false;
        for name in names {
            tracing::info!(dir = %name, "removing what an interrupted directory removal left");
            let token = self.next_replica_id;
            self.next_replica_id += 1;
            let ops = vec![
                PersistOp::RemoveDirAll(PathBuf::from(&name)),
                PersistOp::SyncDir(PathBuf::new()),
            ];
            ctx.persist(token, PersistJob::new(self.storage.clone(), ops));
            self.leftovers.insert(token, name);
        }
    }

    /// Housekeeping: after a removal failed (it may have left a `-delete` directory behind
    /// its rename), look for leftovers again once no removal runs.
    fn retry_leftovers(&mut self, ctx: PCtx) {
        if !self.leftovers_suspected || !self.dir_lanes.is_empty() || !self.leftovers.is_empty() {
            return;
        }
        let Ok(names) = self.storage.list(Path::new("")) else {
            return; // the next tick tries again
        };
        let leftovers = strays::find(
            self.storage.as_ref(),
            &names,
            &BTreeSet::new(),
            |_| true,
            true,
        )
        .leftovers;
        self.remove_leftovers(ctx, leftovers);
    }

    /// The metadata changed: every replica here takes the role it now gives (a coordinator
    /// hears of a `__consumer_offsets` leadership lost or gained), and fetches parked on a
    /// replica that no longer leads are answered (NOT_LEADER_OR_FOLLOWER).
    fn on_leaders(&mut self, ctx: PCtx, update: LeadersUpdate) {
        self.leaders.replace(update);
        self.take_roles(ctx);
    }

    /// Every replica here takes the role the leaders table gives it now.
    fn take_roles(&mut self, ctx: PCtx) {
        let me = ctx.me.node;
        let changed: Vec<(TopicPartition, Role)> = (self.replicas.iter())
            .filter_map(|(tp, replica)| {
                let role = self.leaders.role_of(tp, me)?;
                // The table never goes back within a leadership (`Leaders::replace`), so an
                // older state than the controller's answer this leader took is not taken.
                (role != *replica.role()).then(|| (tp.clone(), role))
            })
            .collect();
        for (tp, role) in changed {
            let replica = self.replicas.get_mut(&tp).expect("listed above");
            // A new leadership (led or not, or another epoch), not just another ISR.
            let moved = role.is_leader() != replica.role().is_leader()
                || role.epoch() != replica.role().epoch();
            if !moved {
                // Another ISR: the high watermark may move, acknowledging acks=all produces
                // (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is now below min.insync.replicas).
                replica.set_role(role, self.leaders.replication_factor(&tp));
                let acknowledged = replica.release_acknowledged();
                self.acknowledge_replicated(ctx, &tp, acknowledged);
                self.wake_fetches(ctx, &tp);
                continue;
            }
            tracing::info!(?tp, from = ?replica.role(), to = ?role, "replica role changed");
            if !role.is_leader() && faults::canary(Canary::TruncateToHw) {
                self.hw_cut_pending.insert(tp.clone());
            }
            self.following.forget_in_flight(&tp);
            // A replica closing (shut down, deleted) has resigned already and is not elected.
            let announce = !replica.is_closing();
            if announce {
                leadership::resigned(ctx, &tp, replica);
            }
            // What waits on the old leadership is answered as Kafka's purgatory answers it
            // when leadership goes: acks=all produces and coordinator barriers included.
            let waiters = replica.take_waiters();
            replica.set_role(role, self.leaders.replication_factor(&tp));
            if announce {
                leadership::elected(ctx, &tp, replica);
            }
            for waiter in waiters {
                self.complete_waiter(ctx, waiter, Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
            }
            self.wake_fetches(ctx, &tp);
        }
        self.follow_all(ctx);
        self.arm_isr_check(ctx);
        self.sweep_moved_away(ctx);
    }

    /// Once, when the metadata first has this process's registration: removes the directories
    /// of replicas moved away from this node while it was down (a reassignment that completed
    /// meanwhile; Kafka 3.7's stray logs). Only then: an older view might not yet show a
    /// reassignment that put this node back, and a newer one that moves a replica away while
    /// this node runs removes it through the reconciliation. A directory of another topic of
    /// the same name is the deleted-topic sweep's (`remove_strays`); one without a label goes
    /// too, as in Kafka (`isStrayKraftReplica`: the label is written before any record, so a
    /// directory without one holds none; seed 809: a replica created just before its broker
    /// crashed, its label lost with the unsynced writes, was then moved away and kept for good).
    fn sweep_moved_away(&mut self, ctx: PCtx) {
        let me = ctx.me.node;
        if self.moved_away_swept || !self.leaders.caught_up_with_registration(me) {
            return;
        }
        self.moved_away_swept = true;
        let Ok(names) = self.storage.list(Path::new("")) else {
            return; // nothing to sweep on a disk that cannot be listed (its logs say so)
        };
        let moved_away: Vec<TopicPartition> = (names.iter())
            .filter_map(|name| replica::partition_of_dir(name).map(|tp| (name, tp)))
            .filter(|(name, tp)| {
                let Some(topic_id) = self.leaders.assigned_elsewhere(tp, me) else {
                    return false;
                };
                let labelled = partition_metadata::read(self.storage.as_ref(), Path::new(name));
                !self.dir_in_use(tp)
                    && match labelled {
                        Ok(Some(id)) => id == cluster_id_text(&topic_id),
                        Ok(None) => true,
                        Err(_) => false,
                    }
            })
            .map(|(_, tp)| tp)
            .collect();
        for tp in moved_away {
            tracing::warn!(topic = %tp.topic, partition = tp.partition, "removing the directory of a replica moved away from this broker while it was down");
            self.remove_dir(ctx, &tp);
        }
    }

    /// Whether `tp`'s directory is in use here: an open replica, a directory job, a clean's
    /// swap. Such a directory is never swept.
    fn dir_in_use(&self, tp: &TopicPartition) -> bool {
        self.replicas.contains_key(tp)
            || self.dir_lanes.contains_key(tp)
            || self.swapping.values().any(|(swapping, _)| swapping == tp)
    }

    /// Starts removing `tp`'s directory in its own lane (a later Ensure of its name waits).
    fn remove_dir(&mut self, ctx: PCtx, tp: &TopicPartition) {
        self.offline.remove(tp);
        self.topic_ids.remove(tp);
        self.launch_removal(ctx, tp);
        let lane = DirLane {
            request: None,
            removing: true,
            waiting: 0,
            queued: Vec::new(),
            restart: None,
        };
        self.dir_lanes.insert(tp.clone(), lane);
    }

    /// Arms the offline-log retry while a log is offline (at most one timer).
    fn arm_offline_retry(&mut self, ctx: PCtx) {
        if !self.offline_retry_armed && !self.offline.is_empty() {
            ctx.set_timer(PartitionsTimer::OfflineRetry, OFFLINE_LOG_RETRY_MS);
            self.offline_retry_armed = true;
        }
    }

    /// Arms the ISR check if this node leads a partition with other replicas and it is not
    /// armed.
    fn arm_isr_check(&mut self, ctx: PCtx) {
        if !self.isr_check_armed && self.leaders.leads_replicated(ctx.me.node) {
            let interval_ms = isr::check_interval_ms(self.replica_lag_time_max_ms);
            ctx.set_timer(PartitionsTimer::IsrCheck, interval_ms);
            self.isr_check_armed = true;
        }
    }

    /// Why a client's fetch of `partition` is refused here: leadership (see
    /// [`Self::refuse_not_leader`]), or the leader epoch it names (KIP-320).
    fn refuse_fetch(&self, partition: &FetchPartition, me: NodeId) -> Option<ErrorCode> {
        if let Some(refusal) = self.refuse_not_leader(&partition.tp, me) {
            return Some(refusal.code);
        }
        let replica = self.replicas.get(&partition.tp)?;
        if replica.is_failed() {
            // A failed log may lack what its last write left half done (seed 156: a marker
            // written, its abort not indexed): it serves nothing until it is reopened, which
            // this fetch asks for (`revive_named`); Kafka takes such a log offline alike.
            return Some(ErrorCode::KAFKA_STORAGE_ERROR);
        }
        leaders::check_epoch(partition.current_leader_epoch, replica.role().epoch())
    }

    /// The open replica of `tp`, or where the partition stands without one.
    fn replica_or_absent(&self, tp: &TopicPartition, me: NodeId) -> Result<&Replica, Absent> {
        if let Some(replica) = self.replicas.get(tp) {
            return Ok(replica);
        }
        if self.offline.contains(tp) {
            return Err(Absent::Offline);
        }
        Err(match self.leaders.refuse_elsewhere(tp, me) {
            Some(refusal) => Absent::Elsewhere(refusal),
            None => Absent::Unknown,
        })
    }

    /// Why a client's request for `tp` is refused here for leadership: this replica follows,
    /// or there is none here and the metadata names another leader (or none).
    fn refuse_not_leader(&self, tp: &TopicPartition, me: NodeId) -> Option<Refusal> {
        match self.replicas.get(tp) {
            Some(replica) => replica.role().refuse_produce(),
            None => self.leaders.refuse_elsewhere(tp, me),
        }
    }

    // ---- admin -------------------------------------------------------------------------

    fn ensure(
        &mut self,
        ctx: PCtx,
        tp: TopicPartition,
        config: &LogConfig,
        topic_id: &[u8; 16],
    ) -> NodeMsg {
        if !replica::valid_topic_partition(&tp) {
            return done(
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                Some(format!("invalid topic-partition {tp:?}")),
            );
        }
        if self.replicas.contains_key(&tp) {
            return self.set_config(ctx, &tp, config);
        }
        // An explicit Ensure retries an offline log at once.
        self.offline.remove(&tp);
        if *topic_id != [0; 16] {
            // Kept while the log is offline too: a later open of it (`revive`) labels it.
            self.topic_ids.insert(tp.clone(), *topic_id);
        }
        let opened = self.open_replica(ctx, &tp, config.clone(), None);
        NodeMsg::PartitionsReply(PartitionsReply::Done(opened.into()))
    }

    /// Whether `request`'s directory holds another topic than the one it opens: the topic of
    /// that name was deleted and created again while this broker was down (its partition
    /// directories carry only the name). Only a partition not open here is looked at.
    fn foreign_dir(&self, request: &EnsureRequest) -> bool {
        if request.topic_id == [0; 16]
            || faults::canary(faults::Canary::TopicIdIgnored)
            || self.replicas.contains_key(&request.tp)
            || !replica::valid_topic_partition(&request.tp)
        {
            return false;
        }
        let dir = replica::dir_for(&request.tp);
        match partition_metadata::read(self.storage.as_ref(), &dir) {
            Ok(Some(found)) => found != cluster_id_text(&request.topic_id),
            // No file (a new directory, or one from before topic ids): it is taken as ours.
            Ok(None) => false,
            // Unreadable: the open reads the directory next, and fails (offline) if it must.
            Err(_) => false,
        }
    }

    /// Whether `request`'s partition is held here (open, or offline waiting for a retry) for
    /// another topic of its name: the earlier topic was deleted and its replica here was not
    /// (its removal failed, or the deletion reached this broker as a creation's rollback that
    /// could not clean up), and the metadata now names a new topic. Without this the Ensure
    /// took the old replica as the new topic's, and this broker led the new topic on the
    /// deleted one's records (seed 187: its followers refused it, UNKNOWN_TOPIC_ID, and what it
    /// acknowledged was lost when its next start found the directory foreign).
    fn held_for_another_topic(&self, request: &EnsureRequest) -> bool {
        let unknown = [0; 16];
        let held = (self.replicas.contains_key(&request.tp)) || self.offline.contains(&request.tp);
        held && request.topic_id != unknown
            && !faults::canary(faults::Canary::TopicIdIgnored)
            && (self.topic_ids.get(&request.tp))
                .is_some_and(|id| *id != unknown && *id != request.topic_id)
    }

    /// Closes and removes the replica an earlier topic of `request`'s name left here, as a
    /// Delete does, then serves `request` (queued in the directory's lane).
    fn replace_held(&mut self, ctx: PCtx, id: RequestId, request: EnsureRequest) {
        let tp = request.tp.clone();
        let held = self.topic_ids.get(&tp).map(cluster_id_text);
        tracing::warn!(
            topic = %tp.topic,
            partition = tp.partition,
            held = held.as_deref().unwrap_or("?"),
            topic_id = %cluster_id_text(&request.topic_id),
            "the partition is held here for an earlier topic of the same name; removing it"
        );
        let running = self.close_for_removal(ctx, &tp).flatten();
        let queued = vec![(id, PartitionsRequest::Ensure(request))];
        self.remove_dir_after_jobs(ctx, tp, running, None, queued);
    }

    /// Removes the other topic's directory in `request`'s place, then serves `request` (queued
    /// in the directory's lane, as behind a Delete).
    fn remove_foreign_dir(&mut self, ctx: PCtx, id: RequestId, request: EnsureRequest) {
        let tp = request.tp.clone();
        let dir = replica::dir_for(&tp);
        let found = partition_metadata::read(self.storage.as_ref(), &dir)
            .ok()
            .flatten();
        tracing::warn!(
            topic = %tp.topic,
            partition = tp.partition,
            found = found.as_deref().unwrap_or("?"),
            topic_id = %cluster_id_text(&request.topic_id),
            "the partition's directory holds an earlier topic of the same name; removing it"
        );
        self.offline.remove(&tp);
        let queued = vec![(id, PartitionsRequest::Ensure(request))];
        self.remove_dir_after_jobs(ctx, tp, None, None, queued);
    }

    /// Records in `tp`'s directory (just opened) the topic it belongs to, unless it already
    /// does: the first op of the replica's next flush job, so no record of it is durable
    /// before its label is (found by the simulator: a label written by a job of its own could
    /// fail, or lose the race to a crash, after the records' sync, and the directory, taken
    /// as ours when unlabelled, then gave a topic created again under its name the deleted
    /// one's records). A failed job reopens the log, which labels it again.
    fn label_dir(&mut self, tp: &TopicPartition, topic_id: &[u8; 16]) {
        let dir = replica::dir_for(tp);
        let want = cluster_id_text(topic_id);
        let found = partition_metadata::read(self.storage.as_ref(), &dir)
            .ok()
            .flatten();
        if found.as_deref() == Some(&want) {
            return;
        }
        if let Some(replica) = self.replicas.get_mut(tp) {
            replica.label_before_next_sync(partition_metadata::replace_op(&dir, topic_id));
        }
    }

    /// Opens `tp`'s log (cut to `cut_to`, [`Replica::open`]). On failure the partition goes
    /// offline (KAFKA_STORAGE_ERROR, retried later) and the reason is logged.
    fn open_replica(
        &mut self,
        ctx: PCtx,
        tp: &TopicPartition,
        config: LogConfig,
        cut_to: Option<i64>,
    ) -> Result<(), Refusal> {
        if self.swapping.values().any(|(swapping, _)| swapping == tp) {
            // The old replica's clean still renames files in the directory: the open would
            // race it. Retried at once on the next use, after the swap completed.
            let message = "a log clean is still swapping segments in".to_string();
            self.offline
                .reopen_now(tp.clone(), config, message.clone(), cut_to);
            return Err(Refusal::new(ErrorCode::KAFKA_STORAGE_ERROR, message));
        }
        let id = self.next_replica_id;
        // As the metadata says; before it says anything, this node leads alone.
        let node = ctx.me.node;
        let role = (self.leaders.role_of(tp, node)).unwrap_or_else(|| Role::sole_leader(node));
        match Replica::open(
            self.storage.clone(),
            tp,
            config.clone(),
            ctx.now.unix_ms,
            id,
            node,
            role,
            self.leaders.replication_factor(tp),
            cut_to,
        ) {
            Ok(replica) => {
                self.next_replica_id += 1;
                self.by_id.insert(id, tp.clone());
                let opening = replica.is_opening();
                let log_end = replica.log().log_end_offset();
                self.replicas.insert(tp.clone(), replica);
                if let Some(topic_id) = self.topic_ids.get(tp).copied() {
                    self.label_dir(tp, &topic_id);
                    faults::observe::replica_opened(ctx.me.node.0, tp, &topic_id, log_end);
                }
                if !self.replicas[tp].role().is_leader() && faults::canary(Canary::TruncateToHw) {
                    self.hw_cut_pending.insert(tp.clone());
                }
                // An opening log's first job makes its recovery durable (and labels it).
                self.schedule_flush(ctx, tp);
                if !opening {
                    self.wake_fetches(ctx, tp);
                    leadership::elected(ctx, tp, &self.replicas[tp]);
                }
                Ok(())
            }
            Err(error) => {
                if error.is_storage_full() {
                    self.report_out_of_space(ctx, tp, &error.to_string());
                } else {
                    tracing::error!(?tp, %error, "cannot open partition log; it answers KAFKA_STORAGE_ERROR until a retry opens it");
                }
                let code = errors::log_error_code(&error);
                let message = error.to_string();
                let now = ctx.now.mono_ms;
                self.offline
                    .failed_cut(tp.clone(), config, message.clone(), cut_to, now);
                Err(Refusal::new(code, message))
            }
        }
    }

    /// Before `tp` is used: a log that failed on a write or sync is dropped and reopened
    /// (recovery puts its files back in a known state; a failed sync's unsynced tail is cut),
    /// and an offline log whose retry is due is opened. A log that failed because the disk is
    /// full is retried at the offline interval rather than at once: until space is back every
    /// reopen would fail again.
    fn revive(&mut self, ctx: PCtx, tp: &TopicPartition) {
        if self
            .replicas
            .get(tp)
            .is_some_and(Replica::reopenable_after_failure)
        {
            let replica = self.replicas.remove(tp).expect("checked above");
            self.by_id.remove(&replica.id);
            ctx.cancel_timer(PartitionsTimer::Flush(replica.id));
            leadership::resigned(ctx, tp, &replica);
            let config = replica.log().config().clone();
            let cut_to = replica.reopen_cut();
            let out_of_space = replica.failed_out_of_space();
            if out_of_space {
                let dir = replica.log().dir().display().to_string();
                self.report_out_of_space(ctx, tp, &dir);
            } else {
                tracing::warn!(?tp, "partition log failed on a write; reopening it");
            }
            let (produce, log_start) = replica.abandon();
            for waiter in produce {
                self.complete_waiter(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
            }
            for waiter in log_start {
                self.complete_log_start(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
            }
            if out_of_space {
                let why = "the disk is full".to_string();
                let now = ctx.now.mono_ms;
                self.offline
                    .failed_cut(tp.clone(), config, why, cut_to, now);
            } else {
                let why = "the log failed on a write".to_string();
                self.offline.reopen_now(tp.clone(), config, why, cut_to);
            }
        }
        if let Some((config, cut_to)) = self.offline.take_due(tp, ctx.now.mono_ms) {
            // A reopen on a still-full disk succeeds often (reading needs no space): the line
            // that space is back waits for an append that is written.
            let reopened = self.open_replica(ctx, tp, config, cut_to).is_ok();
            if reopened && !self.out_of_space.contains_key(tp) {
                tracing::info!(?tp, "partition log is open again");
            }
            if reopened {
                self.resign_if_replicated(ctx, tp);
            }
        }
    }

    /// Logs, once per episode, that `tp`'s disk is full (at `path`): produce to it answers
    /// KAFKA_STORAGE_ERROR until space is back; then [`Self::note_written`] logs the recovery.
    fn report_out_of_space(&mut self, ctx: PCtx, tp: &TopicPartition, path: &str) {
        if self
            .out_of_space
            .insert(tp.clone(), ctx.now.mono_ms)
            .is_none()
        {
            tracing::error!(
                topic = %tp.topic,
                partition = tp.partition,
                path,
                "disk full: the partition's log cannot be written; produce to it answers KAFKA_STORAGE_ERROR until space is freed (it recovers on its own, no restart needed)"
            );
        }
    }

    /// `tp` appended: if its disk had filled and no write failed for want of space for
    /// [`DISK_FULL_QUIET_MS`], space is back.
    fn note_written(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let Some(&failed_at) = self.out_of_space.get(tp) else {
            return;
        };
        if ctx.now.mono_ms.saturating_sub(failed_at) >= DISK_FULL_QUIET_MS {
            self.out_of_space.remove(tp);
            tracing::info!(
                topic = %tp.topic,
                partition = tp.partition,
                "disk space is back: the partition accepts produce again"
            );
        }
    }

    fn set_config(&mut self, ctx: PCtx, tp: &TopicPartition, config: &LogConfig) -> NodeMsg {
        if self.offline.set_config(tp, config.clone()) {
            return done(ErrorCode::NONE, None);
        }
        let Some(replica) = self.replicas.get_mut(tp) else {
            return done(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None);
        };
        match replica.set_config(config.clone()) {
            Ok(()) => {
                self.schedule_flush(ctx, tp);
                done(ErrorCode::NONE, None)
            }
            Err(error) => done(errors::log_error_code(&error), Some(error.to_string())),
        }
    }

    /// Deletes `tp`: the replica goes at once (its waiters and parked fetches are answered),
    /// its directory goes with a removal job after the replica's running flush job, if any,
    /// completed; the answer waits for the removal.
    fn delete(&mut self, ctx: PCtx, id: RequestId, tp: TopicPartition) {
        match self.close_for_removal(ctx, &tp) {
            // Whatever files it has go with it, once no job works in there.
            Some(running) => self.remove_dir_after_jobs(ctx, tp, running, Some(id), Vec::new()),
            None => ctx.reply(id, done(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None)),
        }
    }

    /// Closes `tp`'s replica for its directory's removal (a Delete, or an earlier topic's
    /// replica in a new one's place): its waiters are answered UNKNOWN_TOPIC_OR_PARTITION and
    /// its coordinator resigns. `None` if nothing was held (neither open nor offline); else
    /// the flush job still running in its directory, if any.
    fn close_for_removal(&mut self, ctx: PCtx, tp: &TopicPartition) -> Option<Option<u64>> {
        let was_offline = self.offline.remove(tp);
        self.out_of_space.remove(tp);
        self.topic_ids.remove(tp);
        let tp = tp.clone();
        let Some(replica) = self.replicas.remove(&tp) else {
            return was_offline.then_some(None);
        };
        self.by_id.remove(&replica.id);
        ctx.cancel_timer(PartitionsTimer::Flush(replica.id));
        leadership::resigned(ctx, &tp, &replica);
        if replica.is_closing() {
            // A Shutdown waits for it no more: it is gone.
            if let Some(wait) = &mut self.shutdown {
                wait.closing -= 1;
            }
        }
        let running = replica.sync_in_flight().then_some(replica.id);
        let (produce, log_start) = replica.delete();
        for waiter in produce {
            self.complete_waiter(ctx, waiter, Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        }
        for waiter in log_start {
            self.complete_log_start(ctx, waiter, Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        }
        // Parked fetches reading it now see an error, which answers them.
        self.wake_fetches(ctx, &tp);
        self.maybe_answer_shutdown(ctx);
        Some(running)
    }

    /// Removes `tp`'s directory once the jobs still working in it completed (the old
    /// replica's flush job `running`, any clean's swap), then answers `request` (a Delete) and
    /// serves `queued` (an Ensure that found an earlier topic's replica or directory).
    fn remove_dir_after_jobs(
        &mut self,
        ctx: PCtx,
        tp: TopicPartition,
        running: Option<u64>,
        request: Option<RequestId>,
        queued: Vec<(RequestId, PartitionsRequest)>,
    ) {
        let swaps = (self.swapping.iter())
            .filter(|(_, (swapping, _))| *swapping == tp)
            .map(|(replica_id, _)| CLEAN_TOKEN_BIT | replica_id);
        let tokens: Vec<u64> = running.into_iter().chain(swaps).collect();
        for &token in &tokens {
            self.dir_tokens.insert(token, tp.clone());
        }
        let removing = tokens.is_empty();
        if removing {
            self.launch_removal(ctx, &tp);
        }
        let lane = DirLane {
            request,
            removing,
            waiting: tokens.len(),
            queued,
            restart: None,
        };
        self.dir_lanes.insert(tp, lane);
    }

    /// Starts the job removing `tp`'s directory; its completion goes to `tp`'s lane, which
    /// the caller sets up.
    fn launch_removal(&mut self, ctx: PCtx, tp: &TopicPartition) {
        // Tokens share the replica id space, so they never collide with a replica's.
        let token = self.next_replica_id;
        self.next_replica_id += 1;
        ctx.persist(token, replica::removal_job(self.storage.clone(), tp));
        self.dir_tokens.insert(token, tp.clone());
    }

    /// A job a directory lane waited for completed: the old replica's flush (start the
    /// removal) or the removal (answer the Delete, then the requests queued behind it).
    fn on_dir_job_done(&mut self, ctx: PCtx, tp: TopicPartition, result: Result<(), String>) {
        let Some(lane) = self.dir_lanes.get_mut(&tp) else {
            return;
        };
        if !lane.removing {
            lane.waiting = lane.waiting.saturating_sub(1);
            if lane.waiting > 0 {
                return;
            }
            // A Delete's, or an earlier topic's replica replaced (`replace_held`).
            lane.removing = true;
            self.launch_removal(ctx, &tp);
            return;
        }
        let lane = self.dir_lanes.remove(&tp).expect("found above");
        let error = result.err();
        if let Some(config) = lane.restart {
            return self.restarted(ctx, tp, config, error, lane.queued);
        }
        if error.is_some() {
            // Its rename may have gone through: a `-delete` directory to remove later.
            self.leftovers_suspected = true;
        }
        if let (None, Some(error)) = (lane.request, &error) {
            tracing::warn!(topic = %tp.topic, partition = tp.partition, %error, "could not remove the partition directory of an earlier or deleted topic");
        }
        if let Some(request) = lane.request {
            let reply = match &error {
                None => done(ErrorCode::NONE, None),
                Some(error) => done(ErrorCode::KAFKA_STORAGE_ERROR, Some(error.clone())),
            };
            ctx.reply(request, reply);
        }
        for (id, request) in lane.queued {
            if let (None, Some(error)) = (lane.request, &error) {
                if matches!(request, PartitionsRequest::Ensure(_)) {
                    // The other topic's directory could not be removed: the open waits for the
                    // next Ensure rather than trying the removal again at once.
                    ctx.reply(
                        id,
                        done(ErrorCode::KAFKA_STORAGE_ERROR, Some(error.clone())),
                    );
                    continue;
                }
            }
            // A queued Delete opens a new lane; the rest queue behind it again.
            self.on_request(ctx, id, request);
        }
    }

    /// Clean shutdown: one close job per replica (sync, producer snapshot, clean-shutdown
    /// marker), started after the replica's running flush job if any; produce and
    /// DeleteRecords waiters and parked fetches are answered as each replica closes, and the
    /// Shutdown reply goes once all have.
    fn shutdown(&mut self, ctx: PCtx, id: RequestId) {
        if let Some(wait) = &mut self.shutdown {
            wait.requests.push(id);
            return;
        }
        self.shutdown = Some(ShutdownWait {
            requests: vec![id],
            closing: self.replicas.len(),
            first_error: None,
        });
        let tps: Vec<TopicPartition> = self.replicas.keys().cloned().collect();
        for tp in tps {
            let replica = self.replicas.get_mut(&tp).expect("listed above");
            ctx.cancel_timer(PartitionsTimer::Flush(replica.id));
            leadership::resigned(ctx, &tp, replica);
            match replica.begin_close() {
                Some(Ok(job)) => ctx.persist(replica.id, job),
                Some(Err(error)) => self.finish_close(ctx, &tp, Err(error.to_string())),
                None => {} // after the running flush job
            }
        }
        self.maybe_answer_shutdown(ctx);
    }

    /// Starts the close job of a replica that waited for its flush job.
    fn continue_close(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let replica = self.replicas.get_mut(tp).expect("closing replica");
        match replica.close_job() {
            Ok(job) => ctx.persist(replica.id, job),
            Err(error) => self.finish_close(ctx, tp, Err(error.to_string())),
        }
    }

    /// A replica's close job completed (or failed to start): it goes, with its waiters.
    fn finish_close(&mut self, ctx: PCtx, tp: &TopicPartition, result: Result<(), String>) {
        let replica = self.replicas.remove(tp).expect("closing replica");
        self.by_id.remove(&replica.id);
        let closed = replica.finish_close(result);
        let error_code = closed
            .result
            .as_ref()
            .err()
            .map(|_| ErrorCode::KAFKA_STORAGE_ERROR);
        for waiter in closed.produce {
            self.complete_waiter(ctx, waiter, error_code);
        }
        for waiter in closed.log_start {
            self.complete_log_start(ctx, waiter, error_code);
        }
        self.wake_fetches(ctx, tp);
        let wait = self
            .shutdown
            .as_mut()
            .expect("closing only under a shutdown");
        wait.closing -= 1;
        if let Err(error) = closed.result {
            tracing::error!(?tp, %error, "closing a partition log failed");
            wait.first_error.get_or_insert(error);
        }
        self.maybe_answer_shutdown(ctx);
    }

    fn maybe_answer_shutdown(&mut self, ctx: PCtx) {
        if self.shutdown.as_ref().is_some_and(|wait| wait.closing == 0) {
            let wait = self.shutdown.take().expect("checked above");
            for id in wait.requests {
                let reply = match &wait.first_error {
                    None => done(ErrorCode::NONE, None),
                    Some(message) => done(ErrorCode::KAFKA_STORAGE_ERROR, Some(message.clone())),
                };
                ctx.reply(id, reply);
            }
        }
    }

    // ---- produce -----------------------------------------------------------------------

    fn produce(&mut self, ctx: PCtx, id: RequestId, request: ProduceRequest) {
        let unverified = self.unverified(ctx.me.node, &request);
        if unverified.is_empty() {
            return self.produce_verified(ctx, id, request, BTreeMap::new());
        }
        let Some(transactional_id) = request.transactional_id.clone() else {
            // Nothing to verify with: a transaction's batch comes with its producer's id.
            let why = "a transactional batch without its transactional id cannot be verified";
            let refused = (unverified.into_iter())
                .map(|u| (u.slot, Refusal::new(ErrorCode::INVALID_TXN_STATE, why)))
                .collect();
            return self.produce_verified(ctx, id, request, refused);
        };
        let asks = self
            .verifications
            .start(id, request, &transactional_id, unverified);
        for ask in asks {
            let msg = NodeMsg::Txn(TxnRequest::Verify(ask.args));
            let to = Addr {
                node: ctx.me.node,
                actor: TXN,
            };
            let call = ctx.call(to, msg, VERIFY_CALL_TIMEOUT_MS);
            self.verify_calls.insert(call, (ask.produce, ask.slot));
        }
    }

    /// The slots of `request` holding a producer's first transactional batch at a partition
    /// this node leads (no transaction of that producer and epoch open there): verified
    /// before the append when verification is on. Other slots, and refusals the append
    /// makes anyway (not the leader, unknown), go straight on.
    fn unverified(&self, me: NodeId, request: &ProduceRequest) -> Vec<Unverified> {
        if !(self.verification && self.transactional_writes) {
            return Vec::new();
        }
        let mut unverified = Vec::new();
        for (slot, (tp, records)) in request.partitions.iter().enumerate() {
            let Some(header) = transactional_header(records) else {
                continue;
            };
            let Some(replica) = self.replicas.get(tp) else {
                continue;
            };
            if !matches!(replica.role(), Role::Leader { .. })
                || self.leaders.refuse_elsewhere(tp, me).is_some()
            {
                continue;
            }
            let producer = ProducerId(header.producer_id);
            let open = (replica.producers().get(producer)).is_some_and(|entry| {
                let epoch_held = entry.epoch == header.producer_epoch
                    || faults::canary(Canary::FencedEpochAccepted);
                entry.current_txn_first_offset.is_some() && epoch_held
            });
            if !open {
                unverified.push(Unverified {
                    slot,
                    tp: tp.clone(),
                    producer,
                    epoch: header.producer_epoch,
                });
            }
        }
        unverified
    }

    /// The coordinator's answer to a Verify call (a failed call: REQUEST_TIMED_OUT); once
    /// its produce has every answer, it is written.
    fn on_verified(&mut self, ctx: PCtx, call: CallId, answer: Result<NodeMsg, String>) {
        let Some((produce, slot)) = self.verify_calls.remove(&call) else {
            return;
        };
        let code = match answer {
            Ok(NodeMsg::TxnReply(TxnReply::Verified(code))) => code,
            Ok(other) => {
                tracing::warn!(?other, "a Verify got an answer of another kind");
                ErrorCode::UNKNOWN_SERVER_ERROR
            }
            Err(why) => {
                tracing::info!(%why, "a transaction's verification call failed");
                ErrorCode::REQUEST_TIMED_OUT
            }
        };
        if let Some(done) = self.verifications.answered(produce, slot, code) {
            self.produce_verified(ctx, done.id, done.request, done.refused);
        }
    }

    /// Writes `request`, refusing its `refused` slots.
    fn produce_verified(
        &mut self,
        ctx: PCtx,
        id: RequestId,
        request: ProduceRequest,
        mut refused: BTreeMap<usize, Refusal>,
    ) {
        let mut checked = request.checked;
        let writes = (request.partitions.into_iter().enumerate())
            .map(|(slot, (tp, records))| {
                if let Some(refusal) = refused.remove(&slot) {
                    return (tp, Payload::Refused(refusal));
                }
                let check = checked.get_mut(slot).and_then(Option::take);
                (tp, Payload::Records(records, check))
            })
            .collect();
        self.write(
            ctx,
            id,
            request.acks,
            request.timeout_ms,
            writes,
            Vec::new(),
        );
    }

    /// The transaction coordinator's markers (issue 15): each appended as the leader and
    /// answered as an acks=-1 write of it.
    fn write_markers(&mut self, ctx: PCtx, id: RequestId, request: WriteMarkersRequest) {
        let offsets_markers = (request.markers.iter().enumerate())
            .filter(|(_, m)| m.tp.topic == OFFSETS_TOPIC)
            .map(|(slot, m)| OffsetsMarker {
                slot,
                producer_id: m.producer_id,
                commit: m.commit,
            })
            .collect();
        let writes = (request.markers.into_iter())
            .map(|m| {
                let marker = Marker {
                    commit: m.commit,
                    coordinator_epoch: m.coordinator_epoch,
                };
                (
                    m.tp,
                    Payload::Marker(m.producer_id, m.producer_epoch, marker),
                )
            })
            .collect();
        self.write(ctx, id, -1, request.timeout_ms, writes, offsets_markers);
    }

    /// Appends each partition's payload and answers as a produce with `acks` does: at once,
    /// or once every partition waited for is acknowledged (or `timeout_ms` ran out); the
    /// `offsets_markers` among them are announced to the group coordinator with the answer.
    fn write(
        &mut self,
        ctx: PCtx,
        id: RequestId,
        acks: i16,
        timeout_ms: i32,
        writes: Vec<(TopicPartition, Payload)>,
        offsets_markers: Vec<OffsetsMarker>,
    ) {
        let produce_id = self.next_produce_id;
        self.next_produce_id += 1;
        let waits_for_sync = acks != 1 && !faults::canary(Canary::AckBeforeFsync);
        let mut results = Vec::with_capacity(writes.len());
        // (partition, whether records were written): flushes to schedule, fetches to wake.
        let mut touched = Vec::new();
        let mut outstanding = 0;
        // Partitions whose append found the disk full (and their log directories).
        let mut filled = Vec::new();
        for (slot, (tp, payload)) in writes.into_iter().enumerate() {
            let Some(replica) = self.replicas.get_mut(&tp) else {
                let elsewhere = self.leaders.refuse_elsewhere(&tp, ctx.me.node);
                let (code, reason) = match (self.offline.reason(&tp), elsewhere) {
                    (Some(reason), _) => (ErrorCode::KAFKA_STORAGE_ERROR, Some(reason)),
                    (None, Some(refusal)) => (refusal.code, Some(refusal.message)),
                    (None, None) => (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None),
                };
                let unknown = Offset::UNKNOWN;
                results.push((tp, produce_result(code, reason, unknown, unknown)));
                continue;
            };
            if let Some(refusal) = too_few_in_sync(acks, replica) {
                let log_start = Offset(replica.log().log_start_offset());
                let code = ErrorCode::NOT_ENOUGH_REPLICAS;
                results.push((
                    tp,
                    produce_result(code, Some(refusal), Offset::UNKNOWN, log_start),
                ));
                continue;
            }
            let now_ms = ctx.now.unix_ms;
            let is_records = matches!(payload, Payload::Records(..) | Payload::Coordinator(_));
            let marker_of = match &payload {
                Payload::Marker(producer, ..) => Some(*producer),
                _ => None,
            };
            let appended = match payload {
                Payload::Refused(refusal) => Err(refusal.into()),
                Payload::Records(records, _)
                    if !self.transactional_writes && is_transactional(&records) =>
                {
                    // No transaction coordinator yet (issue 15): nothing would ever end the
                    // transaction, whose first offset would hold the partition's last stable
                    // offset, and its read_committed consumers, for good. Kafka refuses a
                    // transactional write its coordinator did not verify (KIP-890) alike.
                    let why =
                        "transactional writes need the transaction coordinator, not built yet";
                    Err(Refusal::new(ErrorCode::INVALID_TXN_STATE, why).into())
                }
                Payload::Records(records, check) => replica.produce(records, check, now_ms),
                Payload::Marker(producer, epoch, marker) => {
                    replica.append_marker(producer, epoch, marker, now_ms)
                }
                Payload::Coordinator(records) => replica.append_for_coordinator(records, now_ms),
            };
            let result = match appended {
                Err(rejection) => {
                    if replica.log().out_of_space() {
                        filled.push((tp.clone(), replica.log().dir().display().to_string()));
                    }
                    let log_start = Offset(replica.log().log_start_offset());
                    let refusal = rejection.refusal;
                    let message = Some(refusal.message);
                    let mut result =
                        produce_result(refusal.code, message, Offset::UNKNOWN, log_start);
                    result.record_errors = rejection.record_errors;
                    result
                }
                Ok(appended) => {
                    if let Some(producer) = marker_of {
                        // Its transaction here ended: a verification still out is void.
                        self.verifications.marker_appended(&tp, producer);
                    }
                    let (first_offset, last_offset) = appended.offsets();
                    let written = matches!(appended, Appended::Written { .. });
                    if written && is_records {
                        let epoch = replica.role().epoch().0;
                        faults::observe::client_records_appended(
                            ctx.me.node.0,
                            &tp.topic,
                            self.topic_ids.get(&tp),
                            tp.partition,
                            epoch,
                        );
                    }
                    // A duplicate waits too: its original may not be durable yet.
                    let end_offset = Offset(last_offset.0 + 1);
                    // acks=all waits for the sync (`flush.messages=1`, the default) and for
                    // the in-sync replicas (the high watermark past the batch).
                    let durable_first = waits_for_sync
                        && (replica.flush_policy() == FlushPolicy::EveryAppend
                            || replica.high_watermark() < end_offset);
                    let waiter = Waiter {
                        produce: produce_id,
                        slot,
                    };
                    let waiting = durable_first && replica.wait_acked(end_offset, waiter).is_none();
                    outstanding += usize::from(waiting);
                    if written || waiting {
                        touched.push((tp.clone(), written));
                    }
                    let log_start = Offset(replica.log().log_start_offset());
                    let mut result = produce_result(ErrorCode::NONE, None, first_offset, log_start);
                    result.log_append_time_ms = appended.log_append_time_ms();
                    result
                }
            };
            results.push((tp, result));
        }
        for (tp, dir) in &filled {
            self.report_out_of_space(ctx, tp, dir);
        }
        // Syncs start only now, so one sync per log covers everything this request appended.
        for (tp, written) in &touched {
            self.schedule_flush(ctx, tp);
            if *written {
                self.note_written(ctx, tp);
                self.wake_fetches(ctx, tp);
            }
        }
        if outstanding == 0 {
            announce_txn_completions(ctx, &offsets_markers, &results);
            ctx.reply(
                id,
                NodeMsg::PartitionsReply(PartitionsReply::Produce(results)),
            );
        } else {
            let timeout_armed = acks == -1;
            if timeout_armed {
                let after_ms = produce_timeout_ms(timeout_ms);
                ctx.set_timer(PartitionsTimer::ProduceTimeout(produce_id), after_ms);
            }
            let pending = PendingProduce {
                request: id,
                results,
                outstanding,
                timeout_armed,
                lead: None,
                offsets_markers,
            };
            self.produces.insert(produce_id, pending);
        }
    }

    /// The group coordinator's write: appended only while `tp` is still led under the
    /// request's term (else NOT_LEADER_OR_FOLLOWER, nothing written), then answered as an
    /// acks=-1 produce, so only once this very replica acknowledged the batch; a replica that
    /// fails meanwhile answers KAFKA_STORAGE_ERROR (`take_offline`).
    fn append(&mut self, ctx: PCtx, id: RequestId, request: AppendRequest) {
        let AppendRequest {
            tp,
            term,
            records,
            timeout_ms,
        } = request;
        // A failover here refuses this append: it was sent under the old term.
        self.maybe_fail_over(ctx, &tp);
        let current = self.replicas.get(&tp).map(Replica::term);
        if current != Some(term) {
            let why = format!("{tp:?} is not led under {term:?} here (now {current:?})");
            let refused =
                ProducePartitionResult::refused(ErrorCode::NOT_LEADER_OR_FOLLOWER, Some(why));
            let reply = PartitionsReply::Produce(vec![(tp, refused)]);
            return ctx.reply(id, NodeMsg::PartitionsReply(reply));
        }
        self.write(
            ctx,
            id,
            -1,
            timeout_ms,
            vec![(tp, Payload::Coordinator(records))],
            Vec::new(),
        );
    }

    /// The coordinator's barrier before it replays `tp`: its term and log end, answered once
    /// everything below that log end is acknowledged (as an acks=-1 produce ending there
    /// would be), or KAFKA_STORAGE_ERROR if the sync covering it fails.
    fn lead(&mut self, ctx: PCtx, id: RequestId, tp: TopicPartition) {
        let Some(replica) = self.replicas.get_mut(&tp) else {
            let code = if self.offline.contains(&tp) {
                ErrorCode::KAFKA_STORAGE_ERROR
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            };
            let reply = PartitionsReply::Lead(Err(code));
            return ctx.reply(id, NodeMsg::PartitionsReply(reply));
        };
        if replica.is_closing() || !replica.role().is_leader() {
            // Shut down, deleted or following: its term has ended (it resigned); a barrier for
            // it would start a load whose writes all fail. Led by another node, NOT_COORDINATOR:
            // the group actor sends the partition's clients there.
            let code = match replica.role() {
                Role::Follower {
                    leader: Some(leader),
                    ..
                } if *leader != ctx.me.node && !replica.is_closing() => ErrorCode::NOT_COORDINATOR,
                _ => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            };
            let reply = PartitionsReply::Lead(Err(code));
            return ctx.reply(id, NodeMsg::PartitionsReply(reply));
        }
        let lead = (replica.term(), Offset(replica.log().log_end_offset()));
        let produce_id = self.next_produce_id;
        self.next_produce_id += 1;
        let waiter = Waiter {
            produce: produce_id,
            slot: 0,
        };
        // As an acks=all produce ending there waits: for the sync, and for the in-sync
        // replicas (a new leader's records from its predecessor are committed only once its
        // followers have them: the coordinator replays only what is committed, KAFKA-20634).
        let waiting = (replica.flush_policy() == FlushPolicy::EveryAppend
            || replica.high_watermark() < lead.1)
            && replica.wait_acked(lead.1, waiter).is_none();
        if !waiting {
            let reply = PartitionsReply::Lead(Ok(lead));
            return ctx.reply(id, NodeMsg::PartitionsReply(reply));
        }
        let log_start = Offset(replica.log().log_start_offset());
        let result = produce_result(ErrorCode::NONE, None, lead.1, log_start);
        let pending = PendingProduce {
            request: id,
            results: vec![(tp.clone(), result)],
            outstanding: 1,
            timeout_armed: false,
            lead: Some(lead),
            offsets_markers: Vec::new(),
        };
        self.produces.insert(produce_id, pending);
        self.schedule_flush(ctx, &tp);
    }

    /// One partition of a pending produce is durable (or failed with `error_code`).
    fn complete_waiter(&mut self, ctx: PCtx, waiter: Waiter, error_code: Option<ErrorCode>) {
        let Some(pending) = self.produces.get_mut(&waiter.produce) else {
            return;
        };
        // A coordinator's load barrier needs what is below it committed, not a quorum of
        // in-sync replicas now (Kafka's loader has no such check): failing it would leave the
        // groups unloaded while this node still leads (found in review).
        let error_code = match error_code {
            Some(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND) if pending.lead.is_some() => None,
            code => code,
        };
        if let (Some(code), Some((_, result))) = (error_code, pending.results.get_mut(waiter.slot))
        {
            result.error_code = code;
            result.base_offset = Offset::UNKNOWN;
            result.log_append_time_ms = -1;
        }
        pending.outstanding -= 1;
        if pending.outstanding == 0 {
            let pending = self.produces.remove(&waiter.produce).expect("found above");
            if pending.timeout_armed {
                ctx.cancel_timer(PartitionsTimer::ProduceTimeout(waiter.produce));
            }
            announce_txn_completions(ctx, &pending.offsets_markers, &pending.results);
            ctx.reply(pending.request, pending.into_reply());
        }
    }

    /// A produce's `timeout_ms` ran out: the partitions still waiting answer REQUEST_TIMED_OUT
    /// (Kafka's `DelayedProduce` expiry: the code changes, the append's offsets stay) and
    /// leave their replicas' waiters, so a later sync completion finds nothing to release.
    fn on_produce_timeout(&mut self, ctx: PCtx, produce_id: u64) {
        let Some(mut pending) = self.produces.remove(&produce_id) else {
            return; // answered meanwhile; its cancel crossed the firing
        };
        for at in 0..pending.results.len() {
            let Some(replica) = self.replicas.get_mut(&pending.results[at].0) else {
                continue; // deleted or abandoned: its waiters were answered then
            };
            for waiter in replica.forget_waiters(produce_id) {
                if let Some((_, result)) = pending.results.get_mut(waiter.slot) {
                    result.error_code = ErrorCode::REQUEST_TIMED_OUT;
                }
            }
        }
        announce_txn_completions(ctx, &pending.offsets_markers, &pending.results);
        ctx.reply(pending.request, pending.into_reply());
    }

    /// Starts a sync or arms the flush timer as the partition's flush policy wants.
    fn schedule_flush(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        if replica.needs_sync() {
            if let Some(job) = replica.start_sync() {
                ctx.persist(replica.id, job);
            }
        }
        if let FlushPolicy::IntervalMs(interval_ms) = replica.flush_policy() {
            if !replica.flush_timer_armed && !replica.sync_in_flight() && replica.is_unsynced() {
                replica.flush_timer_armed = true;
                ctx.set_timer(PartitionsTimer::Flush(replica.id), interval_ms);
            }
        }
        let compaction = replica.log().config().compaction;
        if compaction.cleans() && !self.cleaning.contains_key(&replica.id) {
            self.cleaning.insert(replica.id, None);
            ctx.set_timer(
                PartitionsTimer::Clean(replica.id),
                compaction.cleaner_backoff_ms,
            );
        }
    }

    // ---- log compaction ----------------------------------------------------------------

    /// A compacted replica's backoff ran out: its clean runs as a persist job if the log is
    /// due for one; else the timer waits another backoff.
    fn on_clean_timer(&mut self, ctx: PCtx, replica_id: u64) {
        self.cleaning.remove(&replica_id);
        let Some(tp) = self.by_id.get(&replica_id).cloned() else {
            return; // deleted or reopened: the new replica arms its own timer
        };
        let replica = self.replicas.get(&tp).expect("by_id mirrors replicas");
        match replica.plan_clean(ctx.now.unix_ms) {
            Some(slot) => {
                let job =
                    PersistJob::new(self.storage.clone(), vec![PersistOp::Clean(slot.clone())]);
                self.cleaning.insert(replica_id, Some(slot));
                ctx.persist(CLEAN_TOKEN_BIT | replica_id, job);
            }
            None => self.schedule_flush(ctx, &tp),
        }
    }

    /// A clean's persist job completed: its long part (then the owner checks the pins and
    /// starts the swap job) or its swap (then the owner installs the swapped segments).
    fn on_clean_done(&mut self, ctx: PCtx, replica_id: u64, result: Result<(), String>) {
        if let Some((tp, slot)) = self.swapping.remove(&replica_id) {
            return self.on_swap_done(ctx, replica_id, tp, &slot, result);
        }
        let slot = self.cleaning.remove(&replica_id).flatten();
        let Some(tp) = self.by_id.get(&replica_id).cloned() else {
            return; // deleted meanwhile: its `.cleaned` files go with the directory or the next open
        };
        let replica = self.replicas.get_mut(&tp).expect("by_id mirrors replicas");
        match (result, slot.and_then(|slot| slot.take())) {
            (Ok(()), Some(cleaned)) => {
                let stats = cleaned.stats;
                // `log.cleaner.io.max.bytes.per.second` on average: a job that read more
                // than the rate allows in one backoff (the clean part of a log is read whole)
                // holds the next one off for as long as the rate says.
                let compaction = replica.log().config().compaction;
                let pace_ms = stats.bytes_read.saturating_mul(1000)
                    / compaction.cleaner_io_max_bytes_per_second.max(1);
                if pace_ms > compaction.cleaner_backoff_ms {
                    self.cleaning.insert(replica_id, None);
                    ctx.set_timer(PartitionsTimer::Clean(replica_id), pace_ms);
                }
                match replica.swap_job(cleaned) {
                    // The renames and syncs run off the actor; reads keep using the old
                    // segments' open files until the job completed.
                    Ok(Some(slot)) => {
                        let op = PersistOp::SwapCleaned(slot.clone());
                        let job = PersistJob::new(self.storage.clone(), vec![op]);
                        self.swapping.insert(replica_id, (tp.clone(), slot));
                        ctx.persist(CLEAN_TOKEN_BIT | replica_id, job);
                        tracing::debug!(
                            ?tp,
                            segments = stats.segments,
                            bytes_before = stats.bytes_before,
                            bytes_after = stats.bytes_after,
                            "log cleaned; swapping the segments in"
                        );
                    }
                    Ok(None) => tracing::debug!(?tp, "log clean discarded: the log changed"),
                    Err(error) => {
                        return self.sync_failed(ctx, &tp, error.to_string());
                    }
                }
            }
            // The old segments stand; the next open deletes any `.cleaned` file left.
            (Err(error), _) => tracing::warn!(?tp, %error, "log clean failed"),
            (Ok(()), None) => {}
        }
        self.schedule_flush(ctx, &tp);
    }

    /// A clean's swap job completed: the replica installs the swapped segments; a deferred
    /// close, a waiting directory removal or a waiting reopen goes on.
    fn on_swap_done(
        &mut self,
        ctx: PCtx,
        replica_id: u64,
        tp: TopicPartition,
        slot: &CleanSlot,
        result: Result<(), String>,
    ) {
        if let Some(lane_tp) = self.dir_tokens.remove(&(CLEAN_TOKEN_BIT | replica_id)) {
            return self.on_dir_job_done(ctx, lane_tp, result);
        }
        // The replica may have a new id since (a failover), never a new log: a reopen waits
        // for this job. Gone offline meanwhile: its reopen may go on now.
        let Some(replica) = (self.replicas.get_mut(&tp)).filter(|r| r.log().swap_in_flight())
        else {
            return self.revive(ctx, &tp);
        };
        match replica.finish_swap(slot, result) {
            Ok(()) => tracing::debug!(?tp, "cleaned segments swapped in"),
            // A close waiting for this job ends with the error; else the partition goes
            // offline and its reopen finishes or undoes the swap from the files.
            Err(error) if replica.is_closing() => {
                return self.finish_close(ctx, &tp, Err(error.to_string()))
            }
            Err(error) => return self.sync_failed(ctx, &tp, error.to_string()),
        }
        if replica.close_wanted() {
            return self.continue_close(ctx, &tp);
        }
        self.schedule_flush(ctx, &tp);
    }

    fn on_synced(&mut self, ctx: PCtx, token: u64, result: Result<(), String>) {
        if let Some(name) = self.leftovers.remove(&token) {
            if let Err(error) = result {
                tracing::warn!(dir = %name, %error, "could not remove a directory left by an interrupted removal; tried again at a later housekeeping tick");
                self.leftovers_suspected = true;
            }
            return;
        }
        if let Some(tp) = self.dir_tokens.remove(&token) {
            return self.on_dir_job_done(ctx, tp, result);
        }
        let Some(tp) = self.by_id.get(&token).cloned() else {
            return; // the partition was deleted meanwhile
        };
        let replica = self.replicas.get_mut(&tp).expect("by_id mirrors replicas");
        let was_opening = replica.is_opening();
        if replica.close_running() {
            return self.finish_close(ctx, &tp, result);
        }
        let error = result.as_ref().err().cloned();
        let outcome = replica.finish_sync(result);
        let (durable_start, failed_start) = replica.log_start_durable();
        let close_next = replica.close_wanted();
        for waiter in outcome.durable {
            self.complete_waiter(ctx, waiter, None);
        }
        for waiter in outcome.failed {
            self.complete_waiter(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
        }
        for waiter in durable_start {
            self.complete_log_start(ctx, waiter, None);
        }
        for waiter in failed_start {
            self.complete_log_start(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
        }
        if close_next {
            self.continue_close(ctx, &tp);
        } else if !was_opening {
            match error {
                None => {
                    self.schedule_flush(ctx, &tp);
                    // A follower tells its leader what it synced (see `follow`).
                    self.report_synced(ctx, &tp);
                    self.follow(ctx, &tp);
                }
                Some(error) => self.sync_failed(ctx, &tp, error),
            }
        } else {
            match error {
                None => {
                    self.schedule_flush(ctx, &tp);
                    self.wake_fetches(ctx, &tp);
                    if let Some(replica) = self.replicas.get(&tp) {
                        leadership::elected(ctx, &tp, replica);
                    }
                    self.follow(ctx, &tp);
                }
                Some(error) => self.open_failed(ctx, &tp, error),
            }
            self.replay_parked(ctx);
        }
    }

    /// Simulation only: fault point `coordinator-failover` ([`leadership::fail_over`]) may
    /// move `tp`'s replica to a new term; its new id replaces the old in `by_id`.
    fn maybe_fail_over(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let new_id = self.next_replica_id;
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        let old_id = replica.id;
        if leadership::fail_over(ctx, tp, replica, new_id) {
            self.next_replica_id += 1;
            self.by_id.remove(&old_id);
            self.by_id.insert(new_id, tp.clone());
        }
    }

    /// The first persist job of an opening log failed: the partition goes offline as a failed
    /// open does (KAFKA_STORAGE_ERROR, retried later).
    fn open_failed(&mut self, ctx: PCtx, tp: &TopicPartition, error: String) {
        if !disk_full::is_storage_full_message(&error) {
            // A full disk is logged once per episode by `take_offline`.
            tracing::error!(?tp, %error, "cannot make a partition log's recovery durable; it answers KAFKA_STORAGE_ERROR until a retry opens it");
        }
        self.take_offline(ctx, tp, error);
    }

    /// A flush job of an open log failed (issue 11, disk errors). After a failed fsync the
    /// kernel may have dropped the dirty bytes (fsyncgate), so the log in memory may claim
    /// bytes the disk does not hold, and a retried fsync would succeed without them: the log
    /// must never sync again and acknowledge. The waiters of the failed sync were refused
    /// (KAFKA_STORAGE_ERROR) by `finish_sync`; the partition goes offline — appends arriving
    /// meanwhile are refused with KAFKA_STORAGE_ERROR — and a retry reopens it from what its
    /// files hold, cut to its last good sync (`Log::cut_at_open`, carried by the open's
    /// persist job): a kernel that keeps the failed pages readable cannot bring back bytes
    /// that are not on disk.
    fn sync_failed(&mut self, ctx: PCtx, tp: &TopicPartition, error: String) {
        if !disk_full::is_storage_full_message(&error) {
            tracing::error!(?tp, %error, "partition log sync failed; it answers KAFKA_STORAGE_ERROR until a retry reopens it cut to its last good sync");
        }
        self.take_offline(ctx, tp, error);
    }

    /// Drops `tp`'s replica without a clean close and records it offline (retried after
    /// `OFFLINE_LOG_RETRY_MS`); anything still waiting on it is refused.
    fn take_offline(&mut self, ctx: PCtx, tp: &TopicPartition, error: String) {
        let replica = self.replicas.remove(tp).expect("the caller found it");
        self.by_id.remove(&replica.id);
        ctx.cancel_timer(PartitionsTimer::Flush(replica.id));
        leadership::resigned(ctx, tp, &replica);
        let config = replica.log().config().clone();
        if disk_full::is_storage_full_message(&error) {
            self.report_out_of_space(ctx, tp, &replica.log().dir().display().to_string());
        }
        // Where the reopen cuts: an open that failed keeps the cut it was asked for; a log
        // whose sync failed is cut to its last good sync, since after a failed fsync the page
        // cache may show bytes the disk lost (fsyncgate) and none of them was acknowledged.
        let cut_to = if replica.is_opening() {
            replica.cut_on_open()
        } else {
            replica.reopen_cut()
        };
        let (produce, log_start) = replica.abandon();
        for waiter in produce {
            self.complete_waiter(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
        }
        for waiter in log_start {
            self.complete_log_start(ctx, waiter, Some(ErrorCode::KAFKA_STORAGE_ERROR));
        }
        self.offline
            .failed_cut(tp.clone(), config, error, cut_to, ctx.now.mono_ms);
        self.wake_fetches(ctx, tp);
    }

    fn on_flush_timer(&mut self, ctx: PCtx, replica_id: u64) {
        let Some(tp) = self.by_id.get(&replica_id).cloned() else {
            return;
        };
        let replica = self.replicas.get_mut(&tp).expect("by_id mirrors replicas");
        replica.flush_timer_armed = false;
        if replica.log().flush_due(ctx.now.unix_ms) && !replica.sync_in_flight() {
            if let Some(job) = replica.start_sync() {
                ctx.persist(replica.id, job);
            }
        }
        self.schedule_flush(ctx, &tp);
    }

    // ---- fetch -------------------------------------------------------------------------

    /// Reads a fetch; offline partitions answer KAFKA_STORAGE_ERROR instead of "unknown". A
    /// fetch parked before a partition it reads was revived may be re-read while that one is
    /// opening: its recovered bytes are not durable yet, so it answers the retriable refusal.
    fn read_fetch(&self, me: NodeId, fetch: &FetchRequest) -> FetchRead {
        // Refused before reading, so a refused partition takes no bytes of the budget.
        let refused: Vec<Option<ErrorCode>> = (fetch.partitions.iter())
            .map(|p| self.refuse_fetch(p, me))
            .collect();
        let mut read = reads::read_fetch(&self.replicas, fetch, &refused);
        for (result, refused) in read.results.iter_mut().zip(&refused) {
            if refused.is_some() {
                continue;
            } else if self.is_opening(&result.tp) {
                result.error_code = opening::REFUSED;
                result.records.clear();
            }
        }
        if !self.offline.is_empty() {
            for (result, refused) in read.results.iter_mut().zip(&refused) {
                if refused.is_none() && self.offline.contains(&result.tp) {
                    result.error_code = ErrorCode::KAFKA_STORAGE_ERROR;
                }
            }
        }
        read
    }

    fn fetch(&mut self, ctx: PCtx, id: RequestId, fetch: FetchRequest) {
        let read = self.read_fetch(ctx.me.node, &fetch);
        if read.satisfies(&fetch) || self.fetches.len() >= FETCH_PARKED_MAX {
            return reply_fetch(ctx, id, read);
        }
        let wait_ms = (fetch.max_wait_ms as u64).min(FETCH_WAIT_MS_MAX);
        let fetch_id = self.fetches.park(id, fetch);
        ctx.set_timer(PartitionsTimer::Fetch(fetch_id), wait_ms);
    }

    /// Re-reads the fetches parked on `tp` and answers those now satisfied.
    fn wake_fetches(&mut self, ctx: PCtx, tp: &TopicPartition) {
        self.wake_replica_fetches(ctx, tp);
        self.wake_client_fetches(ctx, tp);
    }

    /// Re-reads the clients' fetches parked on `tp` and answers those now satisfied.
    fn wake_client_fetches(&mut self, ctx: PCtx, tp: &TopicPartition) {
        for fetch_id in self.fetches.reading(tp) {
            let Some(parked) = self.fetches.get(fetch_id) else {
                continue;
            };
            let read = self.read_fetch(ctx.me.node, &parked.fetch);
            if read.satisfies(&parked.fetch) {
                let parked = self.fetches.take(fetch_id).expect("found above");
                ctx.cancel_timer(PartitionsTimer::Fetch(fetch_id));
                reply_fetch(ctx, parked.request, read);
            }
        }
    }

    fn on_fetch_timer(&mut self, ctx: PCtx, fetch_id: u64) {
        if let Some(parked) = self.fetches.take(fetch_id) {
            let read = self.read_fetch(ctx.me.node, &parked.fetch);
            reply_fetch(ctx, parked.request, read);
        }
    }

    // ---- followers' fetches (this node leads) ------------------------------------------

    /// A follower's fetch: answered at once when there is something to say, else held until
    /// an append or its `max_wait_ms` (bounded as a client's).
    fn replica_fetch(&mut self, ctx: PCtx, id: RequestId, ask: ReplicaFetchRequest) {
        let result = self.serve_replica_fetch(ctx, &ask);
        if replica_fetch::answers_now(&ask, &result)
            || self.replica_fetches.len() >= FETCH_PARKED_MAX
        {
            return reply_replica_fetch(ctx, id, result);
        }
        let mut wait_ms = u64::from(ask.max_wait_ms).min(FETCH_WAIT_MS_MAX);
        if self.throttle_held(ctx, &ask) {
            // Held by the leader's quota: served again once the quota has room (Kafka's
            // DelayedFetch for a throttled partition waits out its max wait instead).
            wait_ms = wait_ms.min(self.throttles.leader_wait_ms(ctx.now.mono_ms).max(1));
        }
        let fetch_id = self.replica_fetches.park(id, ask);
        ctx.set_timer(PartitionsTimer::ReplicaFetch(fetch_id), wait_ms);
    }

    /// The answer to `ask` as of now; a fetch served without error or divergence records the
    /// follower's log end on the leader. A high watermark moved by it acknowledges the acks=all
    /// produces it passed and shows consumers the records below it.
    fn serve_replica_fetch(&mut self, ctx: PCtx, ask: &ReplicaFetchRequest) -> ReplicaFetchResult {
        let topic_id = self.topic_ids.get(&ask.tp).copied().unwrap_or_default();
        let assigned = self.leaders.is_replica(&ask.tp, ask.replica);
        let budget = self.leader_budget(ctx, ask);
        let replica = self.replica_or_absent(&ask.tp, ctx.me.node);
        let registered = self.leaders.broker(ask.replica).map(|b| b.epoch);
        let result = replica_fetch::serve(ask, replica, &topic_id, assigned, registered, budget);
        if result.error_code != ErrorCode::NONE || result.diverging_epoch.is_some() {
            return result;
        }
        let sent_bytes = result.records.len() as u64;
        (self.throttles).record_leader(&ask.tp, sent_bytes, ctx.now.mono_ms);
        let Some(replica) = self.replicas.get_mut(&ask.tp) else {
            return result;
        };
        let hw_before = replica.high_watermark();
        let now_ms = ctx.now.mono_ms as i64;
        let offsets = (ask.fetch_offset, ask.synced_offset);
        let epochs = (ask.broker_epoch, registered);
        let acknowledged = replica.follower_fetched(ask.replica, offsets, epochs, now_ms);
        let (follower, epoch) = (ask.replica, ask.broker_epoch);
        self.follower_progressed(ctx, &ask.tp, (follower, epoch), hw_before, acknowledged);
        result
    }

    /// Whether `ask`'s follower is in `tp`'s ISR as this leader counts it: the committed ISR
    /// or the one it asked for (a follower being added must not be held back by its own
    /// catching up). Kafka exempts in-sync followers from the leader's throttle "to avoid
    /// ISR thrashing".
    fn follower_in_sync(&self, ask: &ReplicaFetchRequest) -> bool {
        let Some(replica) = self.replicas.get(&ask.tp) else {
            return false;
        };
        let committed = match replica.role() {
            Role::Leader { isr, .. } => isr.contains(&ask.replica),
            Role::Follower { .. } => false,
        };
        committed || (replica.proposed_isr()).is_some_and(|isr| isr.contains(&ask.replica))
    }

    /// The bytes this leader may send `ask`'s follower now (`None`: no limit).
    fn leader_budget(&mut self, ctx: PCtx, ask: &ReplicaFetchRequest) -> Option<u64> {
        if !self.throttles.leader_throttled(&ask.tp) {
            return None;
        }
        let in_sync = self.follower_in_sync(ask);
        (self.throttles).leader_budget_bytes(&ask.tp, in_sync, ctx.now.mono_ms)
    }

    /// Whether the leader's quota holds `ask` now (it would get no records for it).
    fn throttle_held(&mut self, ctx: PCtx, ask: &ReplicaFetchRequest) -> bool {
        self.leader_budget(ctx, ask) == Some(0)
    }

    /// The metadata's throttles for this broker changed: held fetches are served again at
    /// once under the new ones (a cleared throttle releases them, as Kafka's `removeThrottle`).
    fn set_throttles(&mut self, ctx: PCtx, mut settings: ThrottleSettings) {
        if faults::canary(Canary::ThrottleNotReleased) {
            // Planted: what the metadata clears is kept (each rate, each throttled set).
            let old = self.throttles.settings().clone();
            let rate = |new: Option<u64>, old: Option<u64>| new.or(old);
            settings.leader_rate_bytes_per_s = rate(
                settings.leader_rate_bytes_per_s,
                old.leader_rate_bytes_per_s,
            );
            settings.follower_rate_bytes_per_s = rate(
                settings.follower_rate_bytes_per_s,
                old.follower_rate_bytes_per_s,
            );
            for (topic, set) in old.leader {
                settings.leader.entry(topic).or_insert(set);
            }
            for (topic, set) in old.follower {
                settings.follower.entry(topic).or_insert(set);
            }
        }
        tracing::info!(?settings, "replication throttles changed");
        self.throttles.update(settings, ctx.now.mono_ms);
        let led: Vec<TopicPartition> = (self.replicas.iter())
            .filter(|(_, r)| r.role().is_leader())
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &led {
            self.wake_replica_fetches(ctx, tp);
        }
    }

    /// A follower's fetch or sync notice was counted (the high watermark was `hw_before`):
    /// the acks=all produces it acknowledged are answered, client fetches wake if the high
    /// watermark moved, and the follower may join the ISR by what counts of it (durable, under
    /// flush.messages=1) — only its own process's progress (KIP-903).
    fn follower_progressed(
        &mut self,
        ctx: PCtx,
        tp: &TopicPartition,
        (follower, broker_epoch): (NodeId, BrokerEpoch),
        hw_before: Offset,
        acknowledged: Vec<Waiter>,
    ) {
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let moved = replica.high_watermark() > hw_before;
        let counted = (replica.followers().get(&follower))
            .filter(|f| f.broker_epoch == broker_epoch)
            .map(|f| f.log_end);
        self.acknowledge_replicated(ctx, tp, acknowledged);
        if moved {
            self.wake_client_fetches(ctx, tp);
        }
        if let Some(counted) = counted {
            self.maybe_expand_isr(ctx, tp, follower, counted, broker_epoch);
        }
    }

    /// A follower's sync notice: counted for the high watermark if it comes from a replica
    /// of this leadership (the topic and leader epoch it names are this one's) that fetched in
    /// it, in the same broker epoch (see [`Replica::follower_synced`]).
    fn replica_synced(&mut self, ctx: PCtx, notice: &ReplicaSyncedNotice) {
        let topic_id = self.topic_ids.get(&notice.tp).copied().unwrap_or_default();
        let Some(replica) = self.replicas.get_mut(&notice.tp) else {
            return;
        };
        let unknown = [0; 16];
        let other_topic =
            notice.topic_id != unknown && topic_id != unknown && notice.topic_id != topic_id;
        let this_leadership =
            replica.role().is_leader() && replica.role().epoch() == notice.current_leader_epoch;
        if other_topic || !this_leadership || replica.resigning() {
            return;
        }
        let hw_before = replica.high_watermark();
        let now_ms = ctx.now.mono_ms as i64;
        let (follower, synced, epoch) = (notice.replica, notice.synced_offset, notice.broker_epoch);
        let acknowledged = replica.follower_synced(follower, synced, epoch, now_ms);
        self.follower_progressed(ctx, &notice.tp, (follower, epoch), hw_before, acknowledged);
    }

    // ---- the ISR of the partitions this node leads (`partition::isr`) ------------------

    /// A follower outside the ISR fetched or synced up to `counted` in broker epoch
    /// `broker_epoch`: ask the controller to add it if it caught up.
    fn maybe_expand_isr(
        &mut self,
        ctx: PCtx,
        tp: &TopicPartition,
        follower: NodeId,
        counted: Offset,
        broker_epoch: BrokerEpoch,
    ) {
        let status = self.leaders.broker(follower);
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        if replica.resigning() {
            return;
        }
        let expanded = isr::expanded(replica, follower, counted, broker_epoch, status);
        if let Some(expanded) = expanded {
            tracing::info!(?tp, %follower, isr = ?expanded, "a follower caught up: expanding the ISR");
            replica.propose_isr(expanded);
            self.ask_isr(ctx, tp);
        }
    }

    /// A leader whose log was just reopened cut back after a failed write resigns if the
    /// partition has other replicas: they may hold what it lost, under its leader epoch, and
    /// would keep it while it wrote other records at those offsets in the same epoch (found by
    /// the simulator's replica comparison). A new epoch makes them truncate.
    fn resign_if_replicated(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        if !replica.role().is_leader() || !self.leaders.replicated(tp) {
            return;
        }
        tracing::warn!(?tp, epoch = ?replica.role().epoch(), "the leader's log was cut back after a failed write: resigning the leadership");
        replica.resign();
        self.ask_isr(ctx, tp);
        self.arm_isr_check(ctx);
    }

    /// The periodic check: every leader here drops the in-sync followers that lag, and asks
    /// again for a change whose call failed.
    fn check_isr(&mut self, ctx: PCtx) {
        let now_ms = ctx.now.mono_ms as i64;
        let max_lag_ms = self.replica_lag_time_max_ms as i64;
        let mut to_ask = Vec::new();
        for (tp, replica) in &mut self.replicas {
            if !replica.role().is_leader() || self.isr_calls.in_flight(tp) {
                continue;
            }
            if replica.proposed_isr().is_some() || replica.resigning() {
                to_ask.push(tp.clone());
                continue;
            }
            let lagging = replica.lagging(now_ms, max_lag_ms);
            if let Some(shrunk) = isr::shrunk(replica, &lagging) {
                tracing::info!(?tp, ?lagging, isr = ?shrunk, "followers fell behind: shrinking the ISR");
                replica.propose_isr(shrunk);
                to_ask.push(tp.clone());
            }
        }
        for tp in &to_ask {
            self.ask_isr(ctx, tp);
        }
        self.isr_check_armed = false;
        self.arm_isr_check(ctx);
    }

    /// Sends `tp`'s proposed ISR to the controller through this node's voter, unless a call
    /// for it is in flight.
    fn ask_isr(&mut self, ctx: PCtx, tp: &TopicPartition) {
        if self.isr_calls.in_flight(tp) {
            return;
        }
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        // The metadata's topic id (a change naming none is refused UNKNOWN_TOPIC_ID).
        let Some(topic_id) = self.leaders.topic_id(tp) else {
            return;
        };
        let Some(change) = isr::change(replica, tp.partition, topic_id, ctx.me.node) else {
            return;
        };
        let asked = Asked {
            tp: tp.clone(),
            replica_id: replica.id,
            leader_epoch: change.leader_epoch,
            partition_epoch: change.partition_epoch,
            isr: replica.proposed_isr().cloned().unwrap_or_default(),
        };
        let request = LeaderRequest::AlterPartition {
            node_id: ctx.me.node,
            // The voter fills in this node's registration.
            broker_epoch: BrokerEpoch(0),
            changes: vec![change],
        };
        let to = Addr {
            node: ctx.me.node,
            actor: QUORUM,
        };
        let timeout_ms = isr::ALTER_PARTITION_TIMEOUT_MS;
        let call = ctx.call(to, request.to_own_voter(), timeout_ms);
        self.isr_calls.sent(call, asked);
    }

    /// The controller's answer to an ISR change (or why there is none): a committed change is
    /// this leader's ISR at once; a refusal for good withdraws it; anything else leaves it
    /// asked, for the next check to send again (or the metadata to settle).
    fn on_isr_altered(&mut self, ctx: PCtx, call: CallId, answer: Result<NodeMsg, String>) {
        let Some(asked) = self.isr_calls.answered(call) else {
            return;
        };
        let tp = asked.tp.clone();
        let Some(replica) = self.replicas.get_mut(&tp) else {
            return;
        };
        if replica.id != asked.replica_id || !isr::still_asked(replica, &asked) {
            // An answer to an earlier ask (the metadata moved on, or the log reopened).
            return;
        }
        let outcome = match answer {
            Ok(NodeMsg::QuorumReply(QuorumReply::PartitionsAltered(outcomes))) => {
                outcomes.into_iter().next()
            }
            other => {
                tracing::debug!(
                    ?tp,
                    ?other,
                    "no answer to the ISR change: it is asked again"
                );
                None
            }
        };
        let Some(IsrOutcome { result, .. }) = outcome else {
            return;
        };
        let released = match result {
            Ok(state) => {
                let isr_before = replica.in_sync_count();
                let isr = state.isr.iter().copied().collect();
                let taken = replica.isr_committed(state.leader_epoch, state.partition_epoch, isr);
                // Kafka's IsrShrinksPerSec / IsrExpandsPerSec: marked when the controller
                // commits the leader's change.
                match (taken.is_some(), isr_before) {
                    (true, Some(before)) if state.isr.len() < before => {
                        crate::metrics::count(crate::metrics::ISR_SHRINKS, 1)
                    }
                    (true, Some(before)) if state.isr.len() > before => {
                        crate::metrics::count(crate::metrics::ISR_EXPANDS, 1)
                    }
                    _ => {}
                }
                tracing::info!(?tp, isr = ?state.isr, partition_epoch = state.partition_epoch, taken = taken.is_some(), "the controller committed the ISR change");
                if taken.is_some() {
                    // The table too, so a reopen before the metadata shows it opens in it.
                    self.leaders.took_isr(&tp, &state);
                }
                taken.unwrap_or_default()
            }
            // Kafka reverts to the committed state only on these (`OPERATION_NOT_ATTEMPTED`
            // aside, which Rill's controller never answers).
            Err(code) if code == ErrorCode::INELIGIBLE_REPLICA => {
                tracing::info!(?tp, %code, "the controller refused the ISR change");
                replica.withdraw_isr()
            }
            // Another leadership or partition state: the metadata brings it, and ends the ask.
            Err(code) => {
                tracing::debug!(?tp, %code, "the ISR change waits for the metadata");
                return;
            }
        };
        self.acknowledge_replicated(ctx, &tp, released);
        self.wake_fetches(ctx, &tp);
    }

    /// Answers the acks=all `waiters` of `tp` the high watermark passed (Kafka's
    /// `checkEnoughReplicasReachOffset`): NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank
    /// below min.insync.replicas since the append.
    fn acknowledge_replicated(&mut self, ctx: PCtx, tp: &TopicPartition, waiters: Vec<Waiter>) {
        if waiters.is_empty() {
            return;
        }
        let too_few = (self.replicas.get(tp))
            .and_then(|replica| too_few_in_sync(-1, replica))
            .map(|_| ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        for waiter in waiters {
            self.complete_waiter(ctx, waiter, too_few);
        }
    }

    /// Answers the followers' fetches held on `tp` that now have something to say.
    fn wake_replica_fetches(&mut self, ctx: PCtx, tp: &TopicPartition) {
        for fetch_id in self.replica_fetches.reading(tp) {
            let Some(parked) = self.replica_fetches.get(fetch_id) else {
                continue;
            };
            let ask = parked.fetch.clone();
            let result = self.serve_replica_fetch(ctx, &ask);
            if replica_fetch::answers_now(&ask, &result) {
                let parked = self.replica_fetches.take(fetch_id).expect("found above");
                ctx.cancel_timer(PartitionsTimer::ReplicaFetch(fetch_id));
                reply_replica_fetch(ctx, parked.request, result);
            }
        }
    }

    fn on_replica_fetch_timer(&mut self, ctx: PCtx, fetch_id: u64) {
        if let Some(parked) = self.replica_fetches.take(fetch_id) {
            let result = self.serve_replica_fetch(ctx, &parked.fetch);
            reply_replica_fetch(ctx, parked.request, result);
        }
    }

    // ---- this node's fetches as a follower (`partition::following`) ---------------------

    /// Sends `tp`'s next fetch to its leader, if its replica here follows one elsewhere and
    /// has none in flight or backing off.
    fn follow(&mut self, ctx: PCtx, tp: &TopicPartition) {
        if !self.following.idle(tp) {
            return;
        }
        // A log that failed on a write (an append of the leader's batches) fetches nothing:
        // it is reopened first (seed 368: nothing else reopened it in time, and the follower
        // stayed behind to the end). A reopen that needed no job fetches below at once; one
        // with a job (`fetch_target` skips an opening log) fetches when it ends.
        if (self.replicas.get(tp)).is_some_and(Replica::reopenable_after_failure) {
            self.revive(ctx, tp);
        }
        let me = ctx.me.node;
        if self.throttles.follower_throttled(tp) {
            // Kafka's follower leaves a throttled partition out of its fetch while it is not
            // in the ISR and the quota is spent (`RemoteLeaderEndPoint.buildFetch`).
            let in_sync = self.leaders.in_isr(tp, me);
            let follows = (self.replicas.get(tp))
                .and_then(|r| fetch_target(&self.leaders, tp, r, me))
                .is_some();
            let held = (self.throttles).follower_holds(tp, in_sync, ctx.now.mono_ms);
            if let (true, Some(wait_ms)) = (follows, held) {
                // Looked at again at least every `replica.fetch.backoff.ms`, as Kafka's
                // fetcher does: a debt of seconds must not outlive the throttle's lift by
                // as much (seed 191: a follower silent 11 s after healing).
                let after_ms = wait_ms.clamp(1, following::REPLICA_FETCH_BACKOFF_MS);
                return self.back_off_for(ctx, tp, after_ms);
            }
        }
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let Some((leader, epoch)) = fetch_target(&self.leaders, tp, replica, me) else {
            return;
        };
        let cut_ready =
            !replica.is_opening() && !replica.sync_in_flight() && !replica.log().swap_in_flight();
        if cut_ready && self.hw_cut_pending.remove(tp) {
            // Planted (`TruncateToHw`): the pre-KIP-101 follower cut its log to its high
            // watermark at a new leadership or a restart, which loses what it fetched past
            // it if it is elected before it fetches again (KAFKA-1211).
            let hw = replica.high_watermark();
            return self.cut_follower(ctx, tp, hw, leader);
        }
        // Under `flush.messages=1` the fetch goes out while what it copied is still syncing:
        // it reports its synced offset apart (`following::synced_offset`), and the sync's end
        // is told by a notice if this fetch is still waiting then (`report_synced`).
        let topic_id = self.topic_ids.get(tp).copied().unwrap_or_default();
        // This process's registration (0 until the metadata has it): the leader adds it to the
        // ISR only in its current one (KIP-903).
        let broker_epoch = self.leaders.own_epoch(me);
        let request = following::request(tp, topic_id, replica, me, broker_epoch, epoch);
        let synced = request.synced_offset;
        let to = Addr {
            node: leader,
            actor: PARTITIONS,
        };
        let msg = NodeMsg::Partitions(PartitionsRequest::ReplicaFetch(request));
        let call = ctx.call(to, msg, following::REPLICA_FETCH_TIMEOUT_MS);
        let sent = Sent {
            tp: tp.clone(),
            replica_id: replica.id,
            leader,
            epoch,
            synced,
        };
        self.following.sent(call, sent);
    }

    /// A follower's sync completed: if its fetch waits at the leader (nothing new there yet),
    /// the leader hears of the synced offset by a notice, so acks=all does not wait for that
    /// fetch's answer (up to its hold, `REPLICA_FETCH_WAIT_MAX_MS`).
    fn report_synced(&mut self, ctx: PCtx, tp: &TopicPartition) {
        let me = ctx.me.node;
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let Some(sent) = self.following.in_flight_mut(tp) else {
            return;
        };
        let synced = following::synced_offset(replica);
        let current = fetch_target(&self.leaders, tp, replica, me);
        if synced <= sent.synced
            || replica.id != sent.replica_id
            || current != Some((sent.leader, sent.epoch))
        {
            return;
        }
        sent.synced = synced;
        let topic_id = self.topic_ids.get(tp).copied().unwrap_or_default();
        let broker_epoch = self.leaders.own_epoch(me);
        let notice = following::synced_notice(tp, topic_id, replica, me, broker_epoch, sent.epoch);
        let to = Addr {
            node: sent.leader,
            actor: PARTITIONS,
        };
        ctx.send(
            to,
            NodeMsg::Partitions(PartitionsRequest::ReplicaSynced(notice)),
        );
    }

    /// [`Self::follow`] for every replica here.
    fn follow_all(&mut self, ctx: PCtx) {
        let me = ctx.me.node;
        let followers: Vec<TopicPartition> = (self.replicas.iter())
            .filter(|(tp, replica)| {
                self.following.idle(tp) && fetch_target(&self.leaders, tp, replica, me).is_some()
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &followers {
            self.follow(ctx, tp);
        }
    }

    /// The leader answered a fetch (or it failed): append, cut where the log diverged, or back
    /// off; then the next fetch.
    fn on_replica_fetched(&mut self, ctx: PCtx, call: CallId, answer: Result<NodeMsg, String>) {
        let Some(sent) = self.following.answered(call) else {
            return;
        };
        let tp = sent.tp;
        let me = ctx.me.node;
        let now_ms = ctx.now.unix_ms;
        let Some(replica) = self.replicas.get_mut(&tp) else {
            return;
        };
        let current = fetch_target(&self.leaders, &tp, replica, me);
        if replica.id != sent.replica_id || current != Some((sent.leader, sent.epoch)) {
            // Sent under an older role, or to a log since reopened: fetch under the new one.
            return self.follow(ctx, &tp);
        }
        let result = match answer {
            Ok(NodeMsg::PartitionsReply(PartitionsReply::ReplicaFetch(result))) => result,
            other => {
                tracing::debug!(?tp, leader = %sent.leader, ?other, "replica fetch failed");
                return self.back_off(ctx, &tp);
            }
        };
        // Kafka's follower counts every throttled partition's bytes, in sync or not.
        let received_bytes = result.records.len() as u64;
        (self.throttles).record_follower(&tp, received_bytes, ctx.now.mono_ms);
        if result.error_code == ErrorCode::OFFSET_OUT_OF_RANGE {
            // Kafka's `handleOutOfRangeError`: a follower past the leader's log end cuts to it;
            // one below the leader's log start (away while the leader's retention removed what
            // it lacks, or a new replica of a topic whose retention already removed records)
            // restarts its log empty there.
            let end = Offset(replica.log().log_end_offset());
            tracing::info!(?tp, leader = %sent.leader, fetch_offset = %end, leader_log_start = %result.log_start_offset, leader_log_end = %result.log_end_offset, "the leader does not hold this follower's fetch offset");
            let own_start = Offset(replica.log().log_start_offset());
            if result.log_end_offset < own_start && result.log_end_offset >= Offset(0) {
                // The leader ends below this log's start (an emptier replica was elected):
                // nothing here is the leader's (Kafka's `truncateTo` below the log start).
                return self.restart_follower(ctx, &tp, result.log_end_offset, sent.leader);
            }
            if result.log_end_offset < end && result.log_end_offset >= Offset(0) {
                return self.cut_follower(ctx, &tp, result.log_end_offset, sent.leader);
            }
            if result.log_start_offset > end {
                return self.restart_follower(ctx, &tp, result.log_start_offset, sent.leader);
            }
            return self.back_off(ctx, &tp);
        }
        if result.error_code != ErrorCode::NONE {
            tracing::debug!(?tp, leader = %sent.leader, code = %result.error_code, "replica fetch refused");
            return self.back_off(ctx, &tp);
        }
        let cut_at = match result.diverging_epoch {
            Some((epoch, end)) => Some(following::truncation_offset(replica.log(), epoch, end)),
            // A compacted leader's batch may now span the fetch offset (the cleaner keeps
            // offsets dense by stretching the batch before a removed one): cut to its base,
            // and fetch it whole.
            None => following::first_batch_base(&result.records)
                .filter(|base| base.0 < replica.log().log_end_offset()),
        };
        if let Some(to) = cut_at {
            if to.0 < replica.log().log_start_offset() {
                return self.restart_follower(ctx, &tp, to, sent.leader);
            }
            return self.cut_follower(ctx, &tp, to, sent.leader);
        }
        let appended = !result.records.is_empty();
        let applied = replica
            .append_as_follower(&result.records, result.high_watermark, now_ms)
            .and_then(|()| replica.follow_log_start(result.log_start_offset, now_ms));
        if let Err(error) = applied {
            tracing::warn!(?tp, %error, "could not append the leader's batches");
            return self.back_off(ctx, &tp);
        }
        let caught_up = replica.log().log_end_offset() >= result.high_watermark.0;
        if appended || replica.log().has_pending() {
            self.schedule_flush(ctx, &tp);
        }
        self.throttles.follower_fetched(&tp, caught_up);
        self.follow(ctx, &tp);
    }

    /// Cuts a follower's log at `to` (see [`Replica::truncate_as_follower`]) between its jobs,
    /// then fetches once the cut is durable (`on_synced`), or at once when only its epochs were
    /// cut.
    fn cut_follower(&mut self, ctx: PCtx, tp: &TopicPartition, to: Offset, leader: NodeId) {
        let now_ms = ctx.now.unix_ms;
        let Some(replica) = self.replicas.get_mut(tp) else {
            return;
        };
        let cleaning = matches!(self.cleaning.get(&replica.id), Some(Some(_)));
        if replica.sync_in_flight() || replica.log().swap_in_flight() || cleaning {
            // A log is cut only between its jobs: soon.
            return self.back_off_for(ctx, tp, following::REPLICA_CUT_RETRY_MS);
        }
        match replica.truncate_as_follower(to, now_ms) {
            Ok(end) => {
                tracing::info!(?tp, %leader, %end, "cut the follower's log where it diverged from the leader's");
            }
            Err(error) if replica.is_failed() => {
                return self.take_offline(ctx, tp, error.to_string());
            }
            Err(error) => {
                tracing::warn!(?tp, %error, "could not cut the follower's log");
                return self.back_off(ctx, tp);
            }
        }
        self.schedule_flush(ctx, tp);
        self.follow(ctx, tp);
    }

    /// Restarts a follower's log empty at `at` (Kafka's `truncateFullyAndStartAt`): its log
    /// ends below its leader's log start `at`, or the point to cut it at is below its own log
    /// start (the leader's first batch begins below it: a DeleteRecords in the middle of a
    /// batch; or its whole log diverged), so nothing it holds is of use. The replica is dropped
    /// (no clean close: nothing of it is kept), a job in the directory's lane removes its files
    /// and sets its log start to `at` on disk (a later Ensure or Delete of the partition waits
    /// for it), and the open after it starts the log there ([`Log::restart_ops`]). A crash before the job completed finds the old log, or
    /// it without its snapshots (rebuilt from its batches): the follower fetches and restarts
    /// again.
    fn restart_follower(&mut self, ctx: PCtx, tp: &TopicPartition, at: Offset, leader: NodeId) {
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        let cleaning = matches!(self.cleaning.get(&replica.id), Some(Some(_)));
        if replica.sync_in_flight() || replica.log().swap_in_flight() || cleaning {
            // Only between its jobs, as a cut.
            return self.back_off_for(ctx, tp, following::REPLICA_CUT_RETRY_MS);
        }
        let dir = replica.log().dir().to_path_buf();
        let ops = match Log::restart_ops(self.storage.as_ref(), &dir, at.0) {
            Ok(ops) => ops,
            Err(error) => {
                tracing::warn!(?tp, %error, "cannot list the follower's log files to restart it");
                return self.back_off(ctx, tp);
            }
        };
        tracing::warn!(?tp, %leader, log_start = replica.log().log_start_offset(), log_end = replica.log().log_end_offset(), restart_at = %at, "the follower's log holds nothing its leader's does: restarting it empty there");
        let replica = self.replicas.remove(tp).expect("found above");
        self.by_id.remove(&replica.id);
        ctx.cancel_timer(PartitionsTimer::Flush(replica.id));
        leadership::resigned(ctx, tp, &replica);
        let config = replica.log().config().clone();
        let (produce, log_start) = replica.abandon();
        for waiter in produce {
            self.complete_waiter(ctx, waiter, Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        }
        for waiter in log_start {
            self.complete_log_start(ctx, waiter, Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        }
        self.wake_fetches(ctx, tp);
        let token = self.next_replica_id;
        self.next_replica_id += 1;
        ctx.persist(token, PersistJob::new(self.storage.clone(), ops));
        self.dir_tokens.insert(token, tp.clone());
        let lane = DirLane {
            request: None,
            removing: true,
            waiting: 0,
            queued: Vec::new(),
            restart: Some(config),
        };
        self.dir_lanes.insert(tp.clone(), lane);
    }

    /// A follower's restart job completed ([`Self::restart_follower`]): the log opens again
    /// (restarted at its new log start, or as it was if the job failed: it fetches and tries
    /// again), then the requests that waited behind the job are served.
    fn restarted(
        &mut self,
        ctx: PCtx,
        tp: TopicPartition,
        config: LogConfig,
        error: Option<String>,
        queued: Vec<(RequestId, PartitionsRequest)>,
    ) {
        let why = match &error {
            None => "restarted at its leader's log start".to_string(),
            Some(error) => format!("could not restart at its leader's log start: {error}"),
        };
        if let Some(error) = &error {
            tracing::warn!(?tp, %error, "could not restart the follower's log; reopening it as it was");
        }
        if self.shutdown.is_some() {
            // Stopping: the next start opens it (restarted or not).
            self.offline
                .failed(tp.clone(), config, why, ctx.now.mono_ms);
        } else {
            self.offline.reopen_now(tp.clone(), config, why, None);
            self.revive(ctx, &tp);
        }
        if self.replicas.contains_key(&tp) {
            self.follow(ctx, &tp);
        }
        for (id, request) in queued {
            self.on_request(ctx, id, request);
        }
    }

    fn back_off(&mut self, ctx: PCtx, tp: &TopicPartition) {
        self.back_off_for(ctx, tp, following::REPLICA_FETCH_BACKOFF_MS);
    }

    fn back_off_for(&mut self, ctx: PCtx, tp: &TopicPartition, after_ms: u64) {
        let Some(replica) = self.replicas.get(tp) else {
            return;
        };
        self.following.back_off(tp, replica.id);
        ctx.set_timer(PartitionsTimer::FollowBackoff(replica.id), after_ms);
    }

    // ---- offsets -----------------------------------------------------------------------

    fn list_offsets(&self, me: NodeId, request: ListOffsetsRequest) -> PartitionsReply {
        let results = request
            .partitions
            .into_iter()
            .map(|(tp, timestamp_ms)| {
                if let Some(refusal) = self.refuse_not_leader(&tp, me) {
                    return (tp, ListOffsetsResult::not_found(refusal.code));
                }
                let named = request.current_leader_epochs.get(&tp).copied();
                let fenced = named
                    .zip(self.replicas.get(&tp))
                    .and_then(|(asked, replica)| {
                        leaders::check_epoch(asked, replica.role().epoch())
                    });
                if let Some(code) = fenced {
                    return (tp, ListOffsetsResult::not_found(code));
                }
                let result = match self.replicas.get(&tp) {
                    Some(replica) => {
                        let committed = request.isolation_level == reads::READ_COMMITTED;
                        reads::list_offset(replica, timestamp_ms, committed)
                    }
                    None => ListOffsetsResult::not_found(if self.offline.contains(&tp) {
                        ErrorCode::KAFKA_STORAGE_ERROR
                    } else {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    }),
                };
                (tp, result)
            })
            .collect();
        PartitionsReply::ListOffsets(results)
    }

    /// Kafka's DeleteRecords. The log start moves at once (reads refuse below it); the
    /// answer for a partition waits until its new log start is durable (the flush job that
    /// writes the checkpoint, before the segments' files go, completed).
    fn delete_records(
        &mut self,
        ctx: PCtx,
        id: RequestId,
        partitions: Vec<(TopicPartition, Offset)>,
    ) {
        let now_ms = ctx.now.unix_ms;
        let key = self.next_delete_records_id;
        self.next_delete_records_id += 1;
        let mut outstanding = 0;
        let mut touched = Vec::new();
        let mut results = Vec::with_capacity(partitions.len());
        for (slot, (tp, offset)) in partitions.into_iter().enumerate() {
            let failed = |error_code| DeleteRecordsResult {
                error_code,
                low_watermark: Offset::UNKNOWN,
            };
            let not_leader = self.refuse_not_leader(&tp, ctx.me.node);
            let result = match (not_leader, self.replicas.get_mut(&tp)) {
                (Some(refusal), _) => failed(refusal.code),
                (None, None) => failed(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                (None, Some(replica)) => {
                    // -1 means "up to the high watermark", and nothing above it may go
                    // (Kafka's DeleteRecords).
                    let high_watermark = replica.high_watermark();
                    let before = if offset == Offset::UNKNOWN {
                        high_watermark
                    } else {
                        offset
                    };
                    if before < Offset(0) || before > high_watermark {
                        failed(ErrorCode::OFFSET_OUT_OF_RANGE)
                    } else {
                        match replica.delete_records_before(before.into(), now_ms) {
                            Ok(low_watermark) => {
                                let waiter = LogStartWaiter { request: key, slot };
                                if replica.wait_log_start(low_watermark, waiter).is_none() {
                                    outstanding += 1;
                                    touched.push(tp.clone());
                                }
                                DeleteRecordsResult {
                                    error_code: ErrorCode::NONE,
                                    low_watermark: Offset(low_watermark),
                                }
                            }
                            Err(error) => failed(errors::log_error_code(&error)),
                        }
                    }
                }
            };
            results.push((tp, result));
        }
        for tp in &touched {
            self.schedule_flush(ctx, tp);
        }
        if outstanding == 0 {
            let reply = PartitionsReply::DeleteRecords(results);
            return ctx.reply(id, NodeMsg::PartitionsReply(reply));
        }
        let pending = PendingDeleteRecords {
            request: id,
            results,
            outstanding,
        };
        self.delete_records.insert(key, pending);
    }

    /// One partition of a parked DeleteRecords has a durable log start (or failed).
    fn complete_log_start(
        &mut self,
        ctx: PCtx,
        waiter: LogStartWaiter,
        error_code: Option<ErrorCode>,
    ) {
        let Some(pending) = self.delete_records.get_mut(&waiter.request) else {
            return;
        };
        if let (Some(code), Some((_, result))) = (error_code, pending.results.get_mut(waiter.slot))
        {
            result.error_code = code;
            result.low_watermark = Offset::UNKNOWN;
        }
        pending.outstanding -= 1;
        if pending.outstanding == 0 {
            let pending = self.delete_records.remove(&waiter.request).expect("found");
            let reply = PartitionsReply::DeleteRecords(pending.results);
            ctx.reply(pending.request, NodeMsg::PartitionsReply(reply));
        }
    }

    // ---- housekeeping ------------------------------------------------------------------

    fn on_retention_timer(&mut self, ctx: PCtx) {
        let mut rolled = Vec::new();
        for (tp, replica) in &mut self.replicas {
            replica.tick(ctx.now.unix_ms);
            // A failed log is reopened below, not flushed first: a flush in flight would hold
            // its reopen off until the next tick (seed 368).
            if replica.needs_sync() && !replica.log().is_failed() {
                rolled.push(tp.clone());
            }
        }
        // Retention may have rolled or removed segments, and the tick may want a producer
        // snapshot: one flush job does it all.
        for tp in &rolled {
            self.schedule_flush(ctx, tp);
        }
        self.producer_ids.expire(ctx.now.mono_ms);
        // Failed and offline logs nobody uses still come back (a consumer may be waiting on a
        // parked fetch; a full disk may have space again).
        let mut due: Vec<TopicPartition> = (self.replicas.iter())
            .filter(|(_, replica)| replica.reopenable_after_failure())
            .map(|(tp, _)| tp.clone())
            .collect();
        due.extend(self.offline.due(ctx.now.mono_ms));
        for tp in &due {
            self.revive(ctx, tp);
        }
        // A follower that missed its cue (a log revived just now, a reopen that needed no
        // job) fetches again.
        self.follow_all(ctx);
        self.retry_leftovers(ctx);
        ctx.set_timer(PartitionsTimer::Retention, RETENTION_CHECK_INTERVAL_MS);
    }

    fn on_timer(&mut self, ctx: PCtx, key: PartitionsTimer) {
        match key {
            PartitionsTimer::Retention => self.on_retention_timer(ctx),
            PartitionsTimer::Flush(replica_id) => self.on_flush_timer(ctx, replica_id),
            PartitionsTimer::Fetch(fetch_id) => self.on_fetch_timer(ctx, fetch_id),
            PartitionsTimer::ReplicaFetch(fetch_id) => self.on_replica_fetch_timer(ctx, fetch_id),
            PartitionsTimer::FollowBackoff(replica_id) => {
                if let Some(tp) = self.following.backoff_done(replica_id) {
                    self.follow(ctx, &tp);
                }
            }
            PartitionsTimer::ProduceTimeout(produce_id) => self.on_produce_timeout(ctx, produce_id),
            PartitionsTimer::Clean(replica_id) => self.on_clean_timer(ctx, replica_id),
            PartitionsTimer::IsrCheck => self.check_isr(ctx),
            PartitionsTimer::OfflineRetry => {
                self.offline_retry_armed = false;
                for tp in self.offline.due(ctx.now.mono_ms) {
                    self.revive(ctx, &tp);
                }
                self.follow_all(ctx);
            }
        }
    }
}

impl Partitions {
    /// Answers the InitProducerId requests `step` settled, and asks the node's voter for the
    /// block it needs.
    fn answer_init_producer_ids(&mut self, ctx: PCtx, step: InitStep) {
        for (id, outcome) in step.answers {
            let (error_code, producer_id, producer_epoch) = match outcome {
                Ok((producer_id, epoch)) => (ErrorCode::NONE, producer_id, epoch),
                Err(code) => (code, ProducerId::NONE, -1),
            };
            let reply = PartitionsReply::InitProducerId(InitProducerIdResult {
                error_code,
                producer_id,
                producer_epoch,
            });
            ctx.reply(id, NodeMsg::PartitionsReply(reply));
        }
        if let Some(ask) = step.ask {
            let to = Addr {
                node: ctx.me.node,
                actor: QUORUM,
            };
            let request = LeaderRequest::AllocateProducerIds {
                node_id: ctx.me.node,
                // The voter fills in this node's registration.
                broker_epoch: BrokerEpoch(0),
                at_least: ask.at_least,
            };
            let call = ctx.call(
                to,
                request.to_own_voter(),
                PRODUCER_ID_BLOCK_CALL_TIMEOUT_MS,
            );
            self.producer_id_call = Some(call);
        }
    }

    /// The voter's answer to the block ask (or why there is none).
    fn on_producer_id_block(&mut self, ctx: PCtx, answer: Result<NodeMsg, String>) {
        self.producer_id_call = None;
        let granted = match answer {
            Ok(NodeMsg::QuorumReply(QuorumReply::ProducerIds { first_id, count })) => {
                Ok((first_id, count))
            }
            // No leader yet, a leader still applying, this broker not registered yet, a
            // timeout: Kafka's "retry, the block is being fetched".
            other => {
                tracing::debug!(?other, "no producer id block from the quorum");
                Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
            }
        };
        let step = self.producer_ids.block_granted(granted, ctx.now.mono_ms);
        self.answer_init_producer_ids(ctx, step);
    }
}

fn reply_replica_fetch(ctx: PCtx, id: RequestId, result: ReplicaFetchResult) {
    ctx.reply(
        id,
        NodeMsg::PartitionsReply(PartitionsReply::ReplicaFetch(result)),
    );
}

fn reply_fetch(ctx: PCtx, id: RequestId, read: FetchRead) {
    ctx.reply(
        id,
        NodeMsg::PartitionsReply(PartitionsReply::Fetch(read.results)),
    );
}

impl Actor<NodeMsg> for Partitions {
    type Timer = PartitionsTimer;

    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, PartitionsTimer>,
        input: Input<NodeMsg, PartitionsTimer>,
    ) {
        match input {
            Input::Start => ctx.set_timer(PartitionsTimer::Retention, RETENTION_CHECK_INTERVAL_MS),
            Input::Request {
                id,
                msg: NodeMsg::Partitions(request),
                ..
            } => self.on_request(ctx, id, request),
            Input::Request { id, msg, .. } => {
                tracing::warn!(?msg, "partitions actor got a request it does not serve");
                ctx.reply(
                    id,
                    done(
                        ErrorCode::INVALID_REQUEST,
                        Some("not a partitions request".into()),
                    ),
                );
            }
            Input::Msg {
                msg: NodeMsg::Partitions(PartitionsRequest::Leaders(update)),
                ..
            } => self.on_leaders(ctx, update),
            Input::Msg {
                msg: NodeMsg::Partitions(PartitionsRequest::Registered(epoch)),
                ..
            } => {
                tracing::info!(broker_epoch = %epoch, "registered: this node leads what the metadata gives this registration");
                self.leaders.registered(epoch);
                self.take_roles(ctx);
            }
            Input::Msg {
                msg: NodeMsg::Partitions(PartitionsRequest::ReplicaSynced(notice)),
                ..
            } => self.replica_synced(ctx, &notice),
            Input::Msg {
                msg: NodeMsg::Partitions(PartitionsRequest::Throttles(settings)),
                ..
            } => self.set_throttles(ctx, settings),
            Input::Msg { from, msg } => {
                tracing::warn!(
                    ?from,
                    ?msg,
                    "partitions actor ignores a message it does not take"
                );
            }
            Input::Timer { key } => self.on_timer(ctx, key),
            Input::Synced { token, result } if token & CLEAN_TOKEN_BIT != 0 => {
                self.on_clean_done(ctx, token & !CLEAN_TOKEN_BIT, result)
            }
            Input::Synced { token, result } => self.on_synced(ctx, token, result),
            // Its only call is the producer-id block ask.
            Input::Reply { call, msg } if self.producer_id_call == Some(call) => {
                self.on_producer_id_block(ctx, Ok(msg))
            }
            Input::CallFailed { call, why } if self.producer_id_call == Some(call) => {
                self.on_producer_id_block(ctx, Err(format!("{why:?}")))
            }
            Input::Reply { call, msg } if self.isr_calls.is_call(call) => {
                self.on_isr_altered(ctx, call, Ok(msg))
            }
            Input::CallFailed { call, why } if self.isr_calls.is_call(call) => {
                self.on_isr_altered(ctx, call, Err(format!("{why:?}")))
            }
            Input::Reply { call, msg } if self.verify_calls.contains_key(&call) => {
                self.on_verified(ctx, call, Ok(msg))
            }
            Input::CallFailed { call, why } if self.verify_calls.contains_key(&call) => {
                self.on_verified(ctx, call, Err(format!("{why:?}")))
            }
            Input::Reply { call, msg } if self.following.is_fetch(call) => {
                self.on_replica_fetched(ctx, call, Ok(msg))
            }
            Input::CallFailed { call, why } if self.following.is_fetch(call) => {
                self.on_replica_fetched(ctx, call, Err(format!("{why:?}")))
            }
            Input::Reply { .. } | Input::CallFailed { .. } => {}
        }
        self.arm_offline_retry(ctx);
    }
}

/// The leader `replica` of `tp` fetches from, if it should fetch:
/// [`following::leader_to_fetch_from`], while the metadata assigns the replica here. One removed
/// by a reassignment, its deletion not done yet, fetches nothing: were its node re-added within
/// the same leadership, the leader would credit this replica's log end to the new one (same
/// node, same registration), which starts empty (seed 523).
fn fetch_target(
    leaders: &Leaders,
    tp: &TopicPartition,
    replica: &Replica,
    me: NodeId,
) -> Option<(NodeId, crate::types::LeaderEpoch)> {
    if leaders.is_replica(tp, me) == Some(false) {
        return None;
    }
    following::leader_to_fetch_from(replica, me)
}

/// Whether a produce's records are a transactional batch. The first header says it: a
/// producer's batch must come alone (the append refuses more batches with a producer id), and
/// a control batch is refused as one by the append (a client may not write markers).
fn is_transactional(records: &[u8]) -> bool {
    transactional_header(records).is_some()
}

/// The header of a produce's records when they are a transactional batch (see
/// [`is_transactional`]).
fn transactional_header(records: &[u8]) -> Option<crate::storage::batch::BatchHeader> {
    crate::storage::batch::BatchHeader::parse(records)
        .ok()
        .filter(|header| header.is_transactional() && !header.is_control())
}
