//! Consume-transform-produce (issue 15: "exactly-once for consume-transform-produce"): workers
//! that read one partition of the transactional topic ([`TXN_TOPIC`]) with read_committed and
//! write `c{value}` of each record to [`CTP_OUT_TOPIC`] in a transaction that also commits the
//! consumed position for the group [`CTP_GROUP`] (TxnOffsetCommit), as Kafka Streams and every
//! exactly-once application do. The raw protocol in the versions `workload::txn` speaks
//! (FindCoordinator v1, InitProducerId v1, AddPartitionsToTxn v1, EndTxn v1, Produce v8,
//! Fetch v11), with AddOffsetsToTxn v1, TxnOffsetCommit v3 and OffsetFetch v7
//! (`require_stable`, KIP-447).
//!
//! Each worker has its own transactional id ([`transactional_id`]) and one input partition,
//! as a "simple" consumer of the group (no membership: generation −1, no member id). A round:
//! OffsetFetch (asked again on UNSTABLE_OFFSET_COMMIT: a transaction's commit pends), read from
//! the committed offset (0 without one), and once records come (or [`COMMIT_INTERVAL`] passed,
//! so the group's offsets are committed again before the broker's retention expires them):
//! AddPartitionsToTxn of the output partitions, AddOffsetsToTxn, the transformed records as
//! transactional batches, TxnOffsetCommit of the position after what it read, EndTxn — commit,
//! or now and then ([`ABORT_PROBABILITY`]) abort, as an application that fails a round does;
//! the next round starts again from the committed offset. On any failure or unknown outcome
//! the worker takes a new epoch (InitProducerId, which aborts the open transaction) and starts
//! the round again: what a real application does after an abortable error.
//!
//! After the workers stop, [`final_read`] fetches the group's committed offsets (require_stable)
//! and reads [`CTP_OUT_TOPIC`] with read_committed once each partition's LSO reached its HW.
//! Recorded as `CtpIdentity`, `CtpRound`, `CtpFinalOffsets`, `CtpFinalRead`; judged by
//! `checker::ctp`.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, InitProducerIdRequest, InitProducerIdResponse,
    OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse, ProducerId,
    TopicName, TransactionalId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::admin::Identity;
use super::batch::{self, Entry, Stamp, CODECS};
use super::txn::{
    self, coordinator_retriable, may_hide_a_write, FINAL_READ_MARGIN, PRODUCE_ATTEMPTS_MAX,
    PRODUCE_TIMEOUT_MS, STEP_BOUND, TXN_TIMEOUT_MS, TXN_TOPIC,
};
use super::{retriable, route, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::{CallError, Connection};
use crate::history::{Event, TxnOutcome};

/// The workers' output topic (the transactional topic's replication, no retention).
pub const CTP_OUT_TOPIC: &str = "sim-ctp-out";
/// Its partitions: a round spreads its records over them.
pub const CTP_OUT_PARTITIONS: i32 = 2;
/// The consumer group whose offsets the workers commit in their transactions.
pub const CTP_GROUP: &str = "sim-ctp";
/// Share of the rounds a worker aborts on purpose (after its TxnOffsetCommit).
pub const ABORT_PROBABILITY: f64 = 0.2;
/// A round without records commits its position after this long: the group has no members,
/// so the broker expires each offset `OFFSETS_RETENTION_MS` after its commit.
const COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// A worker's long poll.
const FETCH_MAX_WAIT_MS: i32 = 100;

pub fn out_topic() -> TopicName {
    TopicName(StrBytes::from_static_str(CTP_OUT_TOPIC))
}

/// Worker `worker`'s transactional id.
pub fn transactional_id(worker: u32) -> String {
    format!("sim-ctp-{worker}")
}

/// The value a worker writes for input value `input`.
pub fn output_value(input: &str) -> String {
    format!("c{input}")
}

/// The input value an output value names.
pub fn input_of(output: &str) -> Option<&str> {
    output.strip_prefix('c')
}

fn group_id() -> GroupId {
    GroupId(StrBytes::from_static_str(CTP_GROUP))
}

/// Why a coordinator request got no answer.
enum NoAnswer {
    /// No coordinator was found before the worker gave up: nothing was sent.
    NoCoordinator,
    /// Sent (maybe only in part), unanswered.
    Lost,
}

/// The coordinator of a transactional id (key type 1) or of a group (key type 0).
struct Coordinator {
    key: String,
    key_type: i8,
    conn: Option<Connection>,
    next_broker: usize,
}

impl Coordinator {
    fn new(key: String, key_type: i8) -> Self {
        Self {
            key,
            key_type,
            conn: None,
            next_broker: 0,
        }
    }

    /// FindCoordinator v1 asked of each broker in turn, and a connection to the broker it
    /// names; `None` once past `give_up`.
    async fn find(&mut self, w: &Workload, give_up: Instant) -> Option<Connection> {
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.key.clone()))
            .with_key_type(self.key_type);
        while Instant::now() < give_up {
            let asked = w.brokers[self.next_broker % w.brokers.len()];
            if let Ok(mut conn) = Connection::connect(asked, CALL_TIMEOUT).await {
                let answer: Result<FindCoordinatorResponse, _> = conn
                    .call(ApiKey::FindCoordinator, 1, &request, CALL_TIMEOUT)
                    .await;
                let named = match &answer {
                    Ok(a) if a.error_code == 0 => route::broker_addr(&a.host, a.port),
                    _ => None,
                };
                match named {
                    Some(addr) if addr == asked => return Some(conn),
                    Some(addr) => {
                        if let Ok(conn) = Connection::connect(addr, CALL_TIMEOUT).await {
                            return Some(conn);
                        }
                    }
                    None => {}
                }
            }
            self.next_broker += 1;
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        None
    }

    /// One request to the coordinator (found first if need be); the connection is dropped
    /// after a transport error.
    async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        w: &Workload,
        give_up: Instant,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, NoAnswer> {
        if self.conn.is_none() {
            self.conn = Some(self.find(w, give_up).await.ok_or(NoAnswer::NoCoordinator)?);
        }
        let conn = self.conn.as_mut().expect("found above");
        let answer: Result<Resp, CallError> = conn.call(key, version, request, CALL_TIMEOUT).await;
        if answer.is_err() {
            self.conn = None;
        }
        answer.map_err(|_| NoAnswer::Lost)
    }

    /// A refusal that names another coordinator (or none yet): find it again.
    fn refused(&mut self, code: ErrorCode) {
        if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE {
            self.conn = None;
        }
    }
}

/// The committed offset of each of `partitions` of [`TXN_TOPIC`] for [`CTP_GROUP`]
/// (OffsetFetch v7, require_stable), asked until every one is stable or `give_up`.
async fn fetch_offsets(
    w: &Workload,
    coordinator: &mut Coordinator,
    partitions: &[i32],
    give_up: Instant,
) -> Option<Vec<(i32, i64)>> {
    let request = OffsetFetchRequest::default()
        .with_group_id(group_id())
        .with_require_stable(true)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(txn::topic())
            .with_partition_indexes(partitions.to_vec())]));
    while Instant::now() < give_up {
        let answer = coordinator
            .call::<_, OffsetFetchResponse>(w, give_up, ApiKey::OffsetFetch, 7, &request)
            .await;
        if let Ok(r) = answer {
            let codes = std::iter::once(r.error_code)
                .chain((r.topics.iter()).flat_map(|t| t.partitions.iter().map(|p| p.error_code)));
            match codes
                .map(ErrorCode::from_wire)
                .find(|c| *c != ErrorCode::NONE)
            {
                None => {
                    let offsets: Vec<(i32, i64)> = (r.topics.iter())
                        .flat_map(|t| t.partitions.iter())
                        .map(|p| (p.partition_index, p.committed_offset))
                        .collect();
                    if partitions
                        .iter()
                        .all(|p| offsets.iter().any(|(q, _)| q == p))
                    {
                        return Some(offsets);
                    }
                }
                Some(code) => coordinator.refused(code),
            }
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
    None
}

/// What comes after a round.
enum Next {
    Continue,
    /// Take a new epoch (the round was given up, or its end is not known).
    Reinit,
    /// Past `give_up`: stop.
    Stop,
}

struct Worker {
    w: Workload,
    id: u32,
    input: i32,
    txn_coordinator: Coordinator,
    group_coordinator: Coordinator,
    identity: Option<Identity>,
    /// The next sequence of each output partition under `identity`.
    sequences: BTreeMap<i32, i32>,
    /// A connection to each output partition's leader.
    leaders: BTreeMap<i32, Connection>,
    /// A connection to the input partition's leader.
    input_conn: Option<Connection>,
    give_up: Instant,
    next_round: u32,
}

/// Runs rounds over input partition `input` until `until`, retrying nothing past `give_up`.
pub async fn ctp_worker(w: Workload, id: u32, input: i32, until: Instant, give_up: Instant) {
    let mut worker = Worker {
        w,
        id,
        input,
        txn_coordinator: Coordinator::new(transactional_id(id), 1),
        group_coordinator: Coordinator::new(CTP_GROUP.to_owned(), 0),
        identity: None,
        sequences: BTreeMap::new(),
        leaders: BTreeMap::new(),
        input_conn: None,
        give_up,
        next_round: 0,
    };
    if !worker.init().await {
        return;
    }
    while Instant::now() < until {
        match worker.round(until).await {
            Next::Continue => {}
            Next::Reinit => {
                if !worker.init().await {
                    return;
                }
            }
            Next::Stop => return,
        }
    }
}

impl Worker {
    fn txn_id(&self) -> TransactionalId {
        TransactionalId(StrBytes::from_string(transactional_id(self.id)))
    }

    fn past_give_up(&self) -> Next {
        match Instant::now() < self.give_up {
            true => Next::Reinit,
            false => Next::Stop,
        }
    }

    /// A new epoch (InitProducerId v1: the coordinator aborts the open transaction of the
    /// earlier epoch first), retried until answered or `give_up`.
    async fn init(&mut self) -> bool {
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(self.txn_id()))
            .with_transaction_timeout_ms(TXN_TIMEOUT_MS)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        self.identity = None;
        self.sequences.clear();
        while Instant::now() < self.give_up {
            let answer = self
                .txn_coordinator
                .call::<_, InitProducerIdResponse>(
                    &self.w,
                    self.give_up,
                    ApiKey::InitProducerId,
                    1,
                    &request,
                )
                .await;
            if let Ok(r) = answer {
                match ErrorCode::from_wire(r.error_code) {
                    ErrorCode::NONE => {
                        self.w.record(Event::CtpIdentity {
                            worker: self.id,
                            producer_id: r.producer_id.0,
                            epoch: r.producer_epoch,
                        });
                        self.identity = Some(Identity {
                            producer_id: r.producer_id.0,
                            epoch: r.producer_epoch,
                        });
                        return true;
                    }
                    code => self.txn_coordinator.refused(code),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        false
    }

    /// One round: the committed offset, a read from it, and the transaction.
    async fn round(&mut self, until: Instant) -> Next {
        let Some(offsets) = fetch_offsets(
            &self.w,
            &mut self.group_coordinator,
            &[self.input],
            self.give_up,
        )
        .await
        else {
            return Next::Stop;
        };
        // -1: nothing committed (yet, or any more: the group's offsets expire).
        let from = (offsets.iter())
            .find(|(p, _)| *p == self.input)
            .map_or(-1, |(_, o)| *o);
        let Some((inputs, to)) = self.consume(from.max(0), until).await else {
            return match Instant::now() < until {
                true => Next::Continue,
                false => Next::Stop,
            };
        };
        let round = self.next_round;
        self.next_round += 1;
        let commit = !madsim::rand::thread_rng().gen_bool(ABORT_PROBABILITY);
        let mut offsets_invoked_ms = None;
        let written = self.transform(&inputs, to, &mut offsets_invoked_ms).await;
        let (outcome, invoked_ms, next) = match written {
            Err(why) => (
                TxnOutcome::Abandoned { why },
                self.w.now_ms(),
                self.past_give_up(),
            ),
            Ok(()) => {
                let (outcome, invoked_ms) = self.end(commit).await;
                let next = match outcome {
                    TxnOutcome::Ok => Next::Continue,
                    _ => self.past_give_up(),
                };
                (outcome, invoked_ms, next)
            }
        };
        self.w.record(Event::CtpRound {
            worker: self.id,
            round,
            input_partition: self.input,
            from,
            to,
            inputs,
            offsets_invoked_ms,
            commit: commit && offsets_invoked_ms.is_some(),
            outcome,
            invoked_ms,
        });
        next
    }

    /// Reads the input partition with read_committed from `from`: the records of the first
    /// fetch that returns any, and the position after it; or none and the position reached
    /// once [`COMMIT_INTERVAL`] passed. `None` past `until`.
    async fn consume(&mut self, from: i64, until: Instant) -> Option<(Vec<(i64, String)>, i64)> {
        let commit_by = Instant::now() + COMMIT_INTERVAL;
        let mut position = from;
        loop {
            if Instant::now() >= until {
                return None;
            }
            if Instant::now() >= commit_by {
                return Some((Vec::new(), position));
            }
            if self.input_conn.is_none() {
                match route::try_connect_leader(&self.w, TXN_TOPIC, self.input).await {
                    Some(c) => self.input_conn = Some(c),
                    None => {
                        tokio::time::sleep(RETRY_BACKOFF).await;
                        continue;
                    }
                }
            }
            let conn = self.input_conn.as_mut().expect("connected above");
            match txn::fetch_committed(conn, self.input, position, FETCH_MAX_WAIT_MS).await {
                Ok(f) if f.code == ErrorCode::NONE => {
                    let after = f.next_offset.filter(|after| *after > position);
                    if !f.records.is_empty() {
                        let next = after.unwrap_or(position);
                        return Some((f.records, next));
                    }
                    if let Some(after) = after {
                        position = after;
                    }
                }
                Ok(f) if f.code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                    // Below the log start: jump there. Past the log end (a crash cut the
                    // log below the committed offset): wait for the log to grow back.
                    if position < f.log_start {
                        position = f.log_start;
                    }
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                Ok(f) if retriable(f.code) => {
                    self.input_conn = None;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                Ok(_) => tokio::time::sleep(RETRY_BACKOFF).await,
                Err(_) => {
                    self.input_conn = None;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        }
    }

    /// The round's writes: the output partitions and the group added to the transaction,
    /// `c{value}` of each input, the offset `to` committed in it. `Err`: why it was given up.
    async fn transform(
        &mut self,
        inputs: &[(i64, String)],
        to: i64,
        offsets_invoked_ms: &mut Option<u64>,
    ) -> Result<(), String> {
        let mut outputs: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for (_, value) in inputs {
            let partition = madsim::rand::thread_rng().gen_range(0..CTP_OUT_PARTITIONS);
            outputs
                .entry(partition)
                .or_default()
                .push(output_value(value));
        }
        if !outputs.is_empty() {
            let partitions: Vec<i32> = outputs.keys().copied().collect();
            self.add_partitions(&partitions).await?;
        }
        self.add_offsets().await?;
        for (partition, values) in outputs {
            self.produce(partition, values).await?;
        }
        *offsets_invoked_ms = Some(self.w.now_ms());
        self.commit_offset(to).await
    }

    /// AddPartitionsToTxn v1 of output `partitions`, retried on the coordinator's retriable
    /// answers for [`STEP_BOUND`].
    async fn add_partitions(&mut self, partitions: &[i32]) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any round");
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.txn_id())
            .with_v3_and_below_producer_id(ProducerId(identity.producer_id))
            .with_v3_and_below_producer_epoch(identity.epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(out_topic())
                .with_partitions(partitions.to_vec())]);
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        while Instant::now() < deadline {
            let answer = self
                .txn_coordinator
                .call::<_, AddPartitionsToTxnResponse>(
                    &self.w,
                    self.give_up,
                    ApiKey::AddPartitionsToTxn,
                    1,
                    &request,
                )
                .await;
            if let Ok(r) = answer {
                let codes: Vec<ErrorCode> = (r.results_by_topic_v3_and_below.iter())
                    .flat_map(|t| t.results_by_partition.iter())
                    .map(|p| ErrorCode::from_wire(p.partition_error_code))
                    .collect();
                let refusal = (codes.iter().copied()).find(|code| {
                    *code != ErrorCode::NONE && *code != ErrorCode::OPERATION_NOT_ATTEMPTED
                });
                match refusal {
                    None if codes.len() == partitions.len()
                        && codes.iter().all(|c| *c == ErrorCode::NONE) =>
                    {
                        return Ok(())
                    }
                    None => {}
                    Some(code)
                        if coordinator_retriable(code)
                            || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION =>
                    {
                        self.txn_coordinator.refused(code)
                    }
                    Some(code) => return Err(format!("AddPartitionsToTxn answered {code:?}")),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err("AddPartitionsToTxn not answered in time".into())
    }

    /// AddOffsetsToTxn v1 of [`CTP_GROUP`], retried as AddPartitionsToTxn.
    async fn add_offsets(&mut self) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any round");
        let request = AddOffsetsToTxnRequest::default()
            .with_transactional_id(self.txn_id())
            .with_producer_id(ProducerId(identity.producer_id))
            .with_producer_epoch(identity.epoch)
            .with_group_id(group_id());
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        while Instant::now() < deadline {
            let answer = self
                .txn_coordinator
                .call::<_, AddOffsetsToTxnResponse>(
                    &self.w,
                    self.give_up,
                    ApiKey::AddOffsetsToTxn,
                    1,
                    &request,
                )
                .await;
            if let Ok(r) = answer {
                match ErrorCode::from_wire(r.error_code) {
                    ErrorCode::NONE => return Ok(()),
                    code if coordinator_retriable(code) => self.txn_coordinator.refused(code),
                    code => return Err(format!("AddOffsetsToTxn answered {code:?}")),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err("AddOffsetsToTxn not answered in time".into())
    }

    /// TxnOffsetCommit v3 of offset `to` of the input partition, to the group's coordinator,
    /// as a simple consumer (generation −1, no member id), retried on retriable answers for
    /// [`STEP_BOUND`].
    async fn commit_offset(&mut self, to: i64) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any round");
        let request = TxnOffsetCommitRequest::default()
            .with_transactional_id(self.txn_id())
            .with_group_id(group_id())
            .with_producer_id(ProducerId(identity.producer_id))
            .with_producer_epoch(identity.epoch)
            .with_generation_id(-1)
            .with_member_id(StrBytes::default())
            .with_group_instance_id(None)
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(txn::topic())
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(self.input)
                    .with_committed_offset(to)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(StrBytes::default()))])]);
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        while Instant::now() < deadline {
            let answer = self
                .group_coordinator
                .call::<_, TxnOffsetCommitResponse>(
                    &self.w,
                    self.give_up,
                    ApiKey::TxnOffsetCommit,
                    3,
                    &request,
                )
                .await;
            if let Ok(r) = answer {
                let code = (r.topics.iter())
                    .flat_map(|t| t.partitions.iter())
                    .map(|p| ErrorCode::from_wire(p.error_code))
                    .find(|c| *c != ErrorCode::NONE);
                let answered = (r.topics.iter()).any(|t| !t.partitions.is_empty());
                match code {
                    None if answered => return Ok(()),
                    None => {}
                    Some(code)
                        if coordinator_retriable(code)
                            || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION =>
                    {
                        self.group_coordinator.refused(code)
                    }
                    Some(code) => return Err(format!("TxnOffsetCommit answered {code:?}")),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err("TxnOffsetCommit not answered in time".into())
    }

    /// A connection to output `partition`'s leader, asked for until `give_up`.
    async fn leader(&mut self, partition: i32) -> Option<&mut Connection> {
        if !self.leaders.contains_key(&partition) {
            loop {
                if Instant::now() >= self.give_up {
                    return None;
                }
                if let Some(conn) =
                    route::try_connect_leader(&self.w, CTP_OUT_TOPIC, partition).await
                {
                    self.leaders.insert(partition, conn);
                    break;
                }
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
        self.leaders.get_mut(&partition)
    }

    /// One transactional batch of `values` to output `partition` (acks=all), re-sent with
    /// the same bytes on a retriable refusal or no answer. `Err`: why the round is given up.
    async fn produce(&mut self, partition: i32, values: Vec<String>) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any round");
        let base_sequence = self.sequences.get(&partition).copied().unwrap_or(0);
        let key = format!("c{}", self.id).into_bytes();
        let entries: Vec<Entry<'_>> = (values.iter())
            .map(|value| Entry { key: &key, value })
            .collect();
        let codec = CODECS[madsim::rand::thread_rng().gen_range(0..CODECS.len())];
        let stamp = Stamp {
            producer_id: identity.producer_id,
            epoch: identity.epoch,
            base_sequence,
        };
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let bytes = batch::encode_transactional(&entries, stamp, codec, timestamp_ms)
            .expect("the workload's batches encode");
        drop(entries);
        let request = ProduceRequest::default()
            .with_transactional_id(Some(self.txn_id()))
            .with_acks(-1)
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(out_topic())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(bytes))])]);
        for _ in 0..PRODUCE_ATTEMPTS_MAX {
            let Some(conn) = self.leader(partition).await else {
                break;
            };
            let answer = conn
                .call::<_, ProduceResponse>(
                    ApiKey::Produce,
                    8,
                    &request,
                    Duration::from_millis(PRODUCE_ANSWER_BOUND_MS),
                )
                .await;
            let answer = answer.and_then(|r| {
                (r.responses.first())
                    .and_then(|t| t.partition_responses.first())
                    .map(|p| ErrorCode::from_wire(p.error_code))
                    .ok_or_else(|| CallError::Protocol("no partition answer".into()))
            });
            match answer {
                Ok(ErrorCode::NONE) => {
                    self.sequences
                        .insert(partition, base_sequence + values.len() as i32);
                    return Ok(());
                }
                Ok(code) if retriable(code) => {
                    self.leaders.remove(&partition);
                }
                Ok(code) => {
                    return Err(format!("produce to output p{partition} answered {code:?}"))
                }
                Err(_) => {
                    self.leaders.remove(&partition);
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err(format!(
            "the produce to output p{partition} was not acknowledged"
        ))
    }

    /// EndTxn v1, retried on the coordinator's retriable answers for [`STEP_BOUND`] (as
    /// `workload::txn`'s): its outcome, and when its first attempt was sent.
    async fn end(&mut self, commit: bool) -> (TxnOutcome, u64) {
        let identity = self.identity.expect("an identity before any round");
        let request = EndTxnRequest::default()
            .with_transactional_id(self.txn_id())
            .with_producer_id(ProducerId(identity.producer_id))
            .with_producer_epoch(identity.epoch)
            .with_committed(commit);
        let invoked_ms = self.w.now_ms();
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        let mut unanswered: Option<String> = None;
        while Instant::now() < deadline {
            let answer = self
                .txn_coordinator
                .call::<_, EndTxnResponse>(&self.w, self.give_up, ApiKey::EndTxn, 1, &request)
                .await;
            match answer {
                Ok(r) => match ErrorCode::from_wire(r.error_code) {
                    ErrorCode::NONE => return (TxnOutcome::Ok, invoked_ms),
                    code if coordinator_retriable(code) => {
                        if may_hide_a_write(code) {
                            unanswered = Some(format!("answered {code:?}"));
                        }
                        self.txn_coordinator.refused(code)
                    }
                    code => {
                        let outcome = match unanswered {
                            Some(why) => TxnOutcome::Unknown {
                                why: format!(
                                    "error {} after an unanswered attempt ({why})",
                                    code.wire()
                                ),
                            },
                            None => TxnOutcome::Fail { code: code.wire() },
                        };
                        return (outcome, invoked_ms);
                    }
                },
                Err(NoAnswer::Lost) => unanswered = Some("no answer".into()),
                Err(NoAnswer::NoCoordinator) => {}
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        let outcome = match unanswered {
            Some(why) => TxnOutcome::Unknown {
                why: format!("EndTxn not answered in time ({why})"),
            },
            None => TxnOutcome::Abandoned {
                why: "EndTxn not answered in time".into(),
            },
        };
        (outcome, invoked_ms)
    }
}

/// After the workers stopped: the group's committed offsets of `inputs` (require_stable,
/// `CtpFinalOffsets`, empty when no answer was stable in time), then each partition of [`CTP_OUT_TOPIC`] read with read_committed as
/// `txn::final_read` reads its topic (`CtpFinalRead`). `FinalReadTimedOut` for what cannot be
/// read by `deadline`.
pub async fn final_read(w: &Workload, inputs: &[i32], deadline: Instant) {
    let hanging_after = Duration::from_millis(2 * TXN_TIMEOUT_MS as u64);
    let stable_by = (deadline.checked_sub(FINAL_READ_MARGIN).unwrap_or(deadline))
        .min(Instant::now() + hanging_after);
    let mut coordinator = Coordinator::new(CTP_GROUP.to_owned(), 0);
    // None stable (a commit left pending, as a COMMIT marker lost with unsynced bytes
    // leaves it): no offsets, which `checker::ctp` judges by the claims.
    let offsets = fetch_offsets(w, &mut coordinator, inputs, stable_by).await;
    w.record(Event::CtpFinalOffsets {
        offsets: offsets.unwrap_or_default(),
    });
    for partition in 0..CTP_OUT_PARTITIONS {
        match txn::read_partition(w, CTP_OUT_TOPIC, partition, stable_by, deadline).await {
            Some((lso, hw, records)) => w.record(Event::CtpFinalRead {
                partition,
                lso,
                hw,
                records,
            }),
            None => w.record(Event::FinalReadTimedOut {
                partition,
                detail: format!(
                    "no complete read_committed read of {CTP_OUT_TOPIC} before the liveness deadline"
                ),
            }),
        }
    }
}
