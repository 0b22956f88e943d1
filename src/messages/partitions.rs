//! The partitions actor's requests and replies ([`super::PARTITIONS`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::groups::LeaderTerm;
use crate::storage::log::LogConfig;
use crate::storage::records::{RecordTimestamps, RecordsError};
use crate::types::{
    BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Offset, ProducerId, Refusal, TopicPartition,
};

/// Requests to [`super::PARTITIONS`]. Each carries its own type, so the gateway asks with a
/// typed call (`super::call`) and gets the matching reply type back. A newtype variant of a
/// struct has the postcard bytes of a struct variant with the same fields.
#[derive(Debug, Serialize, Deserialize)]
pub enum PartitionsRequest {
    Ensure(EnsureRequest),
    SetConfig(SetConfigRequest),
    Delete(DeletePartitionRequest),
    /// Clean shutdown: sync, snapshot and close every log (the node is stopping).
    Shutdown,
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
    DeleteRecords(DeleteRecordsRequest),
    InitProducerId(InitProducerIdRequest),
    Offline(OfflineRequest),
    /// The group coordinator's write to a `__consumer_offsets` partition it leads.
    Append(AppendRequest),
    /// The group coordinator's barrier before it replays a partition (see [`LeadRequest`]).
    Lead(LeadRequest),
    /// Who leads every partition, after a metadata change: a message from the topics actor,
    /// never answered (see `partition::leaders`).
    Leaders(LeadersUpdate),
    /// This process registered with the controller quorum in this broker epoch: a message from
    /// the lifecycle actor, never answered. Until the metadata has this registration the node
    /// takes no leadership (`partition::leaders`).
    Registered(BrokerEpoch),
    /// Remove the directories no topic owns any more (see [`RemoveStrayRequest`]).
    RemoveStray(RemoveStrayRequest),
    /// OffsetForLeaderEpoch: where leader epochs end (see [`EpochEndsRequest`]).
    EpochEnds(EpochEndsRequest),
    /// A follower's fetch from this node, the partition's leader (see [`ReplicaFetchRequest`]).
    ReplicaFetch(ReplicaFetchRequest),
    /// DescribeLogDirs: the replicas open here and their sizes (see [`LogDirsRequest`]).
    LogDirs(LogDirsRequest),
    /// A follower's sync completed while its fetch waited at this node, the leader (see
    /// [`ReplicaSyncedNotice`]): a message, never answered.
    ReplicaSynced(ReplicaSyncedNotice),
    /// The replication throttles the metadata sets for this broker (KIP-73): a message from
    /// the topics actor when they change, never answered (see `partition::throttle`).
    Throttles(super::throttles::ThrottleSettings),
    /// The transaction coordinator's markers for partitions this node leads (see
    /// [`WriteMarkersRequest`]); answered as an acks=-1 produce, one result per marker.
    WriteMarkers(WriteMarkersRequest),
    /// DescribeProducers: the producers each named replica here remembers (see
    /// [`DescribeProducersRequest`]).
    DescribeProducers(DescribeProducersRequest),
}

/// The active producers of each named partition as its replica here has them (Kafka's
/// `Partition.activeProducerState`: any replica answers, leader or follower, so an admin can
/// compare them); answered [`PartitionsReply::DescribeProducers`] in the order asked.
#[derive(Debug, Serialize, Deserialize)]
pub struct DescribeProducersRequest {
    pub partitions: Vec<TopicPartition>,
}

/// One partition's answer: its producers by id, or why there are none to tell
/// (NOT_LEADER_OR_FOLLOWER: no replica here; UNKNOWN_TOPIC_OR_PARTITION: no such partition;
/// KAFKA_STORAGE_ERROR: its log is offline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionProducers {
    pub tp: TopicPartition,
    pub error_code: ErrorCode,
    pub producers: Vec<ActiveProducer>,
}

/// One producer a partition remembers (Kafka's `DescribeProducersResponse.ProducerState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveProducer {
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    /// The last sequence of its last batch here (-1: none since its epoch began).
    pub last_sequence: i32,
    /// When its last batch or marker was appended here (the broker's clock).
    pub last_timestamp_ms: i64,
    /// The coordinator epoch of its last marker here (-1: none).
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction here (-1: none open).
    pub current_txn_start_offset: i64,
}

/// One transaction marker to write (Kafka's `WriteTxnMarkersRequest` entry, one partition):
/// the producer's transaction on `tp` ends, committed or aborted, by `coordinator_epoch`'s
/// coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerWrite {
    pub tp: TopicPartition,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub commit: bool,
}

/// Markers for partitions led here, each appended as the leader (checked against the
/// producer's epoch and the coordinator epoch, Kafka's `appendEndTxnMarker`) and answered once
/// acknowledged as an acks=-1 write; `timeout_ms` bounds the wait (REQUEST_TIMED_OUT).
#[derive(Debug, Serialize, Deserialize)]
pub struct WriteMarkersRequest {
    pub markers: Vec<MarkerWrite>,
    pub timeout_ms: i32,
}

/// A follower that syncs every append (`flush.messages=1`) made its copy durable up to
/// `synced_offset` after its last fetch was sent: the leader counts it for the high
/// watermark, within what that fetch showed the follower's log to hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaSyncedNotice {
    pub tp: TopicPartition,
    /// As in [`ReplicaFetchRequest`]: the follower's view of the topic id, its node and broker
    /// epoch, the leader epoch it follows in.
    pub topic_id: [u8; 16],
    pub replica: NodeId,
    pub broker_epoch: BrokerEpoch,
    pub current_leader_epoch: LeaderEpoch,
    pub synced_offset: Offset,
}

/// The replicas this node holds open, of the partitions named (`None`: all), for
/// DescribeLogDirs; answered [`PartitionsReply::LogDirs`] in (topic, partition) order.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogDirsRequest {
    pub partitions: Option<Vec<TopicPartition>>,
}

/// One replica held here (Kafka's `DescribeLogDirsPartition`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDirPartition {
    pub tp: TopicPartition,
    /// The bytes of its segments.
    pub size_bytes: u64,
    /// How far its log end is behind its high watermark (Kafka's `offsetLag`; 0 once it holds
    /// everything committed it knows of).
    pub offset_lag: i64,
    /// Its segments, first offset, next offset and high watermark (the admin endpoint's log
    /// gauges and consumer lag).
    pub segments: u64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub high_watermark: i64,
    /// This node leads it now.
    pub leader: bool,
}

/// Every partition of the cluster with its leader, as this node's metadata says.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeadersUpdate {
    pub partitions: BTreeMap<TopicPartition, PartitionLeader>,
    /// Every registered broker (see [`super::AppliedTopics::brokers`]).
    pub brokers: BTreeMap<NodeId, BrokerStatus>,
}

/// One partition's leader (`None`: offline), its leader epoch, in-sync replicas and
/// assigned replicas (the only nodes whose fetches the leader serves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLeader {
    /// The topic's id (a topic deleted and created again under its name is another).
    pub topic_id: [u8; 16],
    pub leader: Option<NodeId>,
    pub epoch: LeaderEpoch,
    /// Bumped by every change of the partition (Kafka's `partitionEpoch`): a leader's ISR
    /// change names the state it was worked out from.
    pub partition_epoch: i32,
    pub isr: Vec<NodeId>,
    pub replicas: Vec<NodeId>,
}

/// A registered broker as the metadata has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    pub epoch: BrokerEpoch,
    /// A fenced broker leads nothing and does not enter an ISR.
    pub fenced: bool,
}

/// Create the partition's log, or open it if it exists on disk. Idempotent. The settings are
/// the topic's, already resolved against the broker defaults
/// (`controller::topic_config::resolve`).
#[derive(Debug, Serialize, Deserialize)]
pub struct EnsureRequest {
    pub tp: TopicPartition,
    pub config: LogConfig,
    /// The topic's id in the metadata: a directory holding another topic of the same name
    /// (deleted and created again while this broker was down) is removed before the open
    /// (`storage::log::partition_metadata`). All zero: unknown, nothing is checked.
    pub topic_id: [u8; 16],
}

/// Change a partition's log settings (IncrementalAlterConfigs).
#[derive(Debug, Serialize, Deserialize)]
pub struct SetConfigRequest {
    pub tp: TopicPartition,
    pub config: LogConfig,
}

/// Close and delete the partition's log directory.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeletePartitionRequest {
    pub tp: TopicPartition,
}

/// Remove every partition directory not open here whose `partition.metadata` names one of
/// these deleted topics (its broker was down while the topic was deleted: Kafka's stray
/// logs), and what a removal interrupted by a crash left (`…-delete` directories). Sent at
/// start-up and when the metadata lists newly deleted topics; answered once the removals
/// started (each runs as a persist job).
#[derive(Debug, Serialize, Deserialize)]
pub struct RemoveStrayRequest {
    pub deleted_topic_ids: BTreeSet<[u8; 16]>,
}

/// [`PartitionsRequest::Shutdown`], as a typed call.
#[derive(Debug)]
pub struct ShutdownRequest;

/// Move partitions' log start offsets forward (DeleteRecords): to the offset given, or to the
/// high watermark for -1 ([`Offset::UNKNOWN`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteRecordsRequest {
    pub partitions: Vec<(TopicPartition, Offset)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InitProducerIdRequest {
    pub transactional_id: Option<String>,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
}

/// Which partitions of `topics` (all topics when `None`) are offline: their log cannot be
/// opened, so they answer KAFKA_STORAGE_ERROR. Metadata reports them as Kafka reports a
/// partition whose log dir is offline, instead of the registry's healthy view.
#[derive(Debug, Serialize, Deserialize)]
pub struct OfflineRequest {
    pub topics: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ProduceRequest {
    /// 0: no answer is sent to the client (the service drops the reply), 1: after the append,
    /// -1: after the append is durable per the partition's flush policy.
    pub acks: i16,
    pub timeout_ms: i32,
    pub partitions: Vec<(TopicPartition, Vec<u8>)>,
    /// The broker's record walk of each partition's data, by index (`storage::records`),
    /// done on the connection's task so the partitions actor does not decompress. A missing
    /// entry (or `None`) is walked by the actor itself. An entry exists only for data whose
    /// batch headers and CRCs held (`records::check_produced`): the append trusts those CRCs
    /// and does not compute them again.
    #[serde(default)]
    pub checked: Vec<Option<RecordsChecked>>,
    /// The producer's transactional id (Produce v3+): a transaction's first batch at a
    /// partition is verified with its coordinator before the append (KIP-890 part 1).
    #[serde(default)]
    pub transactional_id: Option<String>,
}

/// The outcome of walking one partition's records.
pub type RecordsChecked = Result<RecordTimestamps, RecordsError>;

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchRequest {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    /// 0 = read_uncommitted, 1 = read_committed (LSO = HW while there are no transactions).
    pub isolation_level: i8,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchPartition {
    pub tp: TopicPartition,
    pub fetch_offset: Offset,
    pub partition_max_bytes: i32,
    /// The leader epoch the client knows (Fetch v9+, from Metadata); `UNKNOWN` skips the
    /// check (KIP-320: older than the leader's FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH).
    pub current_leader_epoch: LeaderEpoch,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListOffsetsRequest {
    pub isolation_level: i8,
    /// Timestamp: -2 earliest, -1 latest, -3 max timestamp, else the first offset whose
    /// timestamp is at or after it.
    pub partitions: Vec<(TopicPartition, i64)>,
    /// The leader epoch the client knows, for the partitions it named one for (ListOffsets
    /// v4+; checked as Fetch's, KIP-320).
    pub current_leader_epochs: BTreeMap<TopicPartition, LeaderEpoch>,
}

/// Where a leader epoch ends in each partition's log (OffsetForLeaderEpoch, KIP-101/320):
/// a consumer checks its position after a leader change, a follower finds where its log
/// diverged. Only the leader answers, after the KIP-320 check of the epoch the asker knows
/// (Kafka's order: the epoch, then the leadership).
#[derive(Debug, Serialize, Deserialize)]
pub struct EpochEndsRequest {
    pub partitions: Vec<EpochEndAsk>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EpochEndAsk {
    pub tp: TopicPartition,
    /// The leader epoch the asker knows ([`LeaderEpoch::UNKNOWN`]: none named).
    pub current_leader_epoch: LeaderEpoch,
    /// The epoch whose end is asked.
    pub leader_epoch: LeaderEpoch,
}

/// The answer for one partition: the largest epoch at or below the one asked and the offset
/// where it ends (Kafka's `endOffsetFor`), both -1 when the log knows no such epoch.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEnd {
    pub tp: TopicPartition,
    pub error_code: ErrorCode,
    pub leader_epoch: LeaderEpoch,
    pub end_offset: Offset,
}

impl EpochEnd {
    /// No answer: refused with `error_code`, or (with `NONE`) no such epoch.
    pub fn undefined(tp: TopicPartition, error_code: ErrorCode) -> Self {
        Self {
            tp,
            error_code,
            leader_epoch: LeaderEpoch::UNKNOWN,
            end_offset: Offset::UNKNOWN,
        }
    }
}

/// A follower's fetch from the leader of `tp`: Kafka's follower Fetch, as a typed request on
/// the inter-node transport to the leader node's PARTITIONS actor (replica traffic stays off
/// the client listeners). One partition per request: a follower keeps one in flight per
/// partition it follows, and the leader holds it (`max_wait_ms`) while it has nothing new.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplicaFetchRequest {
    pub tp: TopicPartition,
    /// The topic's id as the follower's metadata says (all zero: unknown). A leader holding
    /// another topic of that name answers UNKNOWN_TOPIC_ID, as Kafka's Fetch v13+ does, so a
    /// replica left from a deleted topic never copies its successor.
    pub topic_id: [u8; 16],
    /// The follower's node and its broker epoch (KIP-903: a broker registered again, with an
    /// empty disk, must not count with its old self's progress).
    pub replica: NodeId,
    pub broker_epoch: BrokerEpoch,
    /// The leader epoch the follower follows in (KIP-320's check, as a client's).
    pub current_leader_epoch: LeaderEpoch,
    /// The follower's log end: the first offset it lacks.
    pub fetch_offset: Offset,
    /// Every offset below this is durable on the follower: its log end unless its log syncs
    /// every append (`flush.messages=1`), whose copy counts for the high watermark only once
    /// synced. The follower fetches on while its sync runs, and tells the leader of the sync's
    /// end with a [`ReplicaSyncedNotice`] if no later fetch does.
    pub synced_offset: Offset,
    /// The epoch of the follower's last batch ([`LeaderEpoch::UNKNOWN`]: an empty log). The
    /// leader answers a diverging epoch when its own log does not agree up to `fetch_offset`.
    pub last_fetched_epoch: LeaderEpoch,
    pub log_start_offset: Offset,
    /// At least one whole batch is returned even if it is larger (KIP-74).
    pub max_bytes: u32,
    pub max_wait_ms: u32,
}

/// The leader's answer to a [`ReplicaFetchRequest`].
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaFetchResult {
    pub error_code: ErrorCode,
    pub high_watermark: Offset,
    pub log_start_offset: Offset,
    pub log_end_offset: Offset,
    /// The follower's log diverged from the leader's: the largest epoch at or below its last
    /// fetched one that the leader has, and where it ends on the leader (no records then). The
    /// follower truncates by it (KIP-101/279/595), never to its high watermark.
    pub diverging_epoch: Option<(LeaderEpoch, Offset)>,
    /// Batches from `fetch_offset` on, as the leader stored them (offsets and epochs kept).
    #[serde(with = "serde_bytes")]
    pub records: Vec<u8>,
}

impl ReplicaFetchResult {
    /// Refused with `error_code`, nothing known.
    pub fn refused(error_code: ErrorCode) -> Self {
        Self {
            error_code,
            high_watermark: Offset::UNKNOWN,
            log_start_offset: Offset::UNKNOWN,
            log_end_offset: Offset::UNKNOWN,
            diverging_epoch: None,
            records: Vec::new(),
        }
    }
}

/// Append `records` (one uncompressed batch built by the coordinator) to `tp`, only if the
/// partition is still led under `term` (else NOT_LEADER_OR_FOLLOWER), and answer once the
/// batch is acknowledged as an acks=-1 produce would be, by that same term: the reply is
/// [`PartitionsReply::Produce`] with one entry.
#[derive(Debug, Serialize, Deserialize)]
pub struct AppendRequest {
    pub tp: TopicPartition,
    pub term: LeaderTerm,
    pub records: Vec<u8>,
    pub timeout_ms: i32,
}

/// A barrier: answer `tp`'s current term and log end only once everything below the log end
/// as it is when asked is acknowledged, so a replay up to it never sees an unsynced record.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeadRequest {
    pub tp: TopicPartition,
}

/// The answer to [`LeadRequest`]: the term and the log end, or why the partition is not led.
pub type Leadership = Result<(LeaderTerm, Offset), ErrorCode>;

/// Replies from [`super::PARTITIONS`].
#[derive(Debug, Serialize, Deserialize)]
pub enum PartitionsReply {
    /// To Ensure, SetConfig, Delete and Shutdown.
    Done(Done),
    Produce(Vec<(TopicPartition, ProducePartitionResult)>),
    Fetch(Vec<FetchPartitionResult>),
    ListOffsets(Vec<(TopicPartition, ListOffsetsResult)>),
    DeleteRecords(Vec<(TopicPartition, DeleteRecordsResult)>),
    InitProducerId(InitProducerIdResult),
    /// The offline partitions asked for, in (topic, partition) order.
    Offline(Vec<TopicPartition>),
    Lead(Leadership),
    /// To EpochEnds, in the order asked.
    EpochEnds(Vec<EpochEnd>),
    ReplicaFetch(ReplicaFetchResult),
    LogDirs(Vec<LogDirPartition>),
    /// To DescribeProducers, in the order asked.
    DescribeProducers(Vec<PartitionProducers>),
}

/// The outcome of a request that answers nothing else: a Kafka error code (0 = done).
#[derive(Debug, Serialize, Deserialize)]
pub struct Done {
    pub error_code: ErrorCode,
    pub message: Option<String>,
}

impl Done {
    /// The outcome as a result: `NONE` is `Ok`, any other code a [`Refusal`] (its message, or
    /// the bare code when the actor gave none).
    pub fn into_result(self) -> Result<(), Refusal> {
        if self.error_code == ErrorCode::NONE {
            return Ok(());
        }
        let message = self
            .message
            .unwrap_or_else(|| format!("error {}", self.error_code));
        Err(Refusal::new(self.error_code, message))
    }
}

impl From<Result<(), Refusal>> for Done {
    fn from(outcome: Result<(), Refusal>) -> Self {
        match outcome {
            Ok(()) => Done {
                error_code: ErrorCode::NONE,
                message: None,
            },
            Err(refusal) => Done {
                error_code: refusal.code,
                message: Some(refusal.message),
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InitProducerIdResult {
    pub error_code: ErrorCode,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ProducePartitionResult {
    pub error_code: ErrorCode,
    pub error_message: Option<String>,
    /// The records that caused the refusal (Produce v8+ `record_errors`), as Kafka's
    /// `LogValidator` reports them; empty for refusals of the whole batch.
    #[serde(default)]
    pub record_errors: Vec<RecordError>,
    pub base_offset: Offset,
    /// The time the broker stamped the records with when the topic uses LogAppendTime;
    /// -1 when they keep their CreateTime.
    pub log_append_time_ms: i64,
    pub log_start_offset: Offset,
}

impl ProducePartitionResult {
    /// A partition's produce refused as a whole with `error_code`.
    pub fn refused(error_code: ErrorCode, error_message: Option<String>) -> Self {
        Self {
            error_code,
            error_message,
            record_errors: Vec::new(),
            base_offset: Offset::UNKNOWN,
            log_append_time_ms: -1,
            log_start_offset: Offset::UNKNOWN,
        }
    }
}

/// One refused record of a produced batch (Kafka's `ProduceResponse.RecordError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// The record's index within its batch.
    pub batch_index: i32,
    pub message: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchPartitionResult {
    pub tp: TopicPartition,
    pub error_code: ErrorCode,
    pub high_watermark: Offset,
    pub last_stable_offset: Offset,
    pub log_start_offset: Offset,
    pub records: Vec<u8>,
    /// `read_committed`: the aborted transactions overlapping what was read (Kafka's
    /// `aborted_transactions`: the client drops their producers' records from each first
    /// offset until the producer's ABORT marker); `None` for `read_uncommitted`.
    pub aborted: Option<Vec<AbortedTransaction>>,
}

impl FetchPartitionResult {
    /// `tp` refused with `error_code`, nothing read (Kafka's `FetchResponse.partitionResponse`
    /// for an error: offsets unknown).
    pub fn refused(tp: TopicPartition, error_code: ErrorCode) -> Self {
        Self {
            tp,
            error_code,
            high_watermark: Offset::UNKNOWN,
            last_stable_offset: Offset::UNKNOWN,
            log_start_offset: Offset::UNKNOWN,
            records: Vec::new(),
            aborted: None,
        }
    }
}

/// An aborted transaction as a `read_committed` fetch answer lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTransaction {
    pub producer_id: ProducerId,
    pub first_offset: Offset,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListOffsetsResult {
    pub error_code: ErrorCode,
    pub timestamp: i64,
    pub offset: Offset,
    /// The leader epoch of the record at `offset` (ListOffsets v4+); unknown without one.
    pub leader_epoch: LeaderEpoch,
}

impl ListOffsetsResult {
    /// A lookup that found no offset: refused with `error_code`, or (with `NONE`) no record
    /// matched — Kafka's -1 for timestamp, offset and epoch.
    pub fn not_found(error_code: ErrorCode) -> Self {
        Self {
            error_code,
            timestamp: -1,
            offset: Offset::UNKNOWN,
            leader_epoch: LeaderEpoch::UNKNOWN,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteRecordsResult {
    pub error_code: ErrorCode,
    pub low_watermark: Offset,
}
