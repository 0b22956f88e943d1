//! Transactions (issue 15): transactional producers and `read_committed` readers of their own
//! topic, [`TXN_TOPIC`], speaking the raw protocol as librdkafka's transactional producer
//! does (the versions it sends: FindCoordinator v1, InitProducerId v1, AddPartitionsToTxn v1,
//! EndTxn v1; Produce v8, Fetch v11).
//!
//! * A producer finds its coordinator (FindCoordinator key type 1, again on NOT_COORDINATOR
//!   and COORDINATOR_NOT_AVAILABLE), takes an epoch (InitProducerId with its transactional id
//!   and a [`TXN_TIMEOUT_MS`] timeout, retried on CONCURRENT_TRANSACTIONS), then runs
//!   transaction after transaction: AddPartitionsToTxn of 1–3 partitions, transactional
//!   batches to each (sequences per partition from 0 in each epoch, retried with the same
//!   bytes on a retriable refusal or no answer), values `x{producer}-{txn}-{n}`, and EndTxn
//!   commit or abort by the seed. When a write or AddPartitionsToTxn fails, or EndTxn does not
//!   end as asked, it gives the transaction up and takes a new epoch (which aborts it at the
//!   coordinator and fences every write of the old epoch), as Kafka's clients do after an
//!   abortable or fatal error.
//! * A reader per partition fetches with `isolation_level=1` and returns records as Kafka's
//!   consumer does ([`committed_records`]): a transactional batch of a producer the answer
//!   lists an aborted transaction of (from its first offset on, until that producer's ABORT
//!   marker) is dropped, and control batches never surface.
//! * After the producers stop, [`final_read`] reads each partition with `read_committed` once
//!   its LSO reached its HW (every transaction decided), within a bound.
//!
//! * A zombie (Kafka's name for a producer instance fenced by a newer one): after a producer
//!   gave a transaction up that cannot have committed and took a new epoch, it may
//!   ([`ZOMBIE_WRITE_PROBABILITY`]) write once more to that transaction under the old epoch,
//!   right after the next transaction's first write to one of its partitions, as a fenced
//!   instance's late batch would arrive. The broker must refuse it (the epoch check, and
//!   KIP-890's verification); recorded as the given-up transaction's, so a read_committed read
//!   of it is an aborted read.
//!
//! Everything goes into the history (`TxnIdentity`, `TxnBegin`, `TxnSent`, `TxnEnd`,
//! `TxnPoll`, `TxnFinalRead`), which `checker::txn` judges.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse,
    FetchRequest, FetchResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
    TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rand::seq::SliceRandom;
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::admin::{self, Identity};
use super::batch::{self, Entry, FetchedBatch, Stamp, CODECS};
use super::{retriable, route, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::{CallError, Connection};
use crate::history::{Event, SendOutcome, TxnOutcome};

/// The transactional producers' topic (the data topic's replication, no retention).
pub const TXN_TOPIC: &str = "sim-txn";
/// Its partitions: a transaction writes 1 to all of them.
pub const TXN_PARTITIONS: i32 = 3;
/// `transaction.timeout.ms` the producers ask for: the coordinator aborts a transaction open
/// longer (from its first AddPartitionsToTxn).
pub const TXN_TIMEOUT_MS: i32 = 10_000;
/// Share of the transactions that commit (the others abort).
const COMMIT_PROBABILITY: f64 = 0.7;
/// Batches per partition of a transaction.
const BATCHES_PER_PARTITION: std::ops::RangeInclusive<u32> = 1..=3;
/// Share of the batches with one record (the others 2 to 4): a transaction's first batch
/// on a partition is then often a single record, which an LSO one past the first open offset
/// (the canary `lso-inclusive`) hands to read_committed readers.
const SINGLE_RECORD_PROBABILITY: f64 = 0.6;
/// Pause between two batches of a transaction, and between two transactions.
const BATCH_PAUSE_MS: std::ops::Range<u64> = 0..40;
const TXN_PAUSE_MS: std::ops::Range<u64> = 20..300;
/// How often a transaction given up is written to once more under its old epoch (a zombie).
pub const ZOMBIE_WRITE_PROBABILITY: f64 = 0.5;
/// A zombie write's value numbers start here (`x{producer}-{txn}-{n}`), past any planned one.
const ZOMBIE_VALUE_BASE: u32 = 1000;
/// The broker's `timeout.ms` for a produce (acks=all).
pub(crate) const PRODUCE_TIMEOUT_MS: i32 = 2_000;
/// Attempts per batch before the producer gives the transaction up.
pub(crate) const PRODUCE_ATTEMPTS_MAX: u32 = 10;
/// How long AddPartitionsToTxn or EndTxn keeps being retried before the producer gives the
/// transaction up (longer than [`TXN_TIMEOUT_MS`]: the coordinator's abort shows first).
pub(crate) const STEP_BOUND: Duration = Duration::from_secs(15);
/// A reader's long poll.
const READER_MAX_WAIT_MS: i32 = 100;
/// The final read waits for a stable log (LSO at HW) at most until this long before its
/// deadline, then reads what is stable.
pub(crate) const FINAL_READ_MARGIN: Duration = Duration::from_secs(5);
/// Pause between two looks at a partition's LSO in the final read.
pub(crate) const STABLE_POLL: Duration = Duration::from_millis(200);

pub fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str(TXN_TOPIC))
}

/// Producer `producer`'s transactional id.
pub fn transactional_id(producer: u32) -> String {
    format!("sim-txn-{producer}")
}

/// Value `n` of transaction `txn` of producer `producer`.
pub fn value_name(producer: u32, txn: u32, n: u32) -> String {
    format!("x{producer}-{txn}-{n}")
}

/// (producer, txn, n) of a value [`value_name`] made; `None` for anything else.
pub fn parse_value(value: &str) -> Option<(u32, u32, u32)> {
    let mut parts = value.strip_prefix('x')?.split('-');
    let producer = parts.next()?.parse().ok()?;
    let txn = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some((producer, txn, n)),
        Some(_) => None,
    }
}

/// Error codes after which a coordinator request is asked again (after finding the
/// coordinator again for the first two).
pub(crate) fn coordinator_retriable(code: ErrorCode) -> bool {
    [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::CONCURRENT_TRANSACTIONS,
        ErrorCode::REQUEST_TIMED_OUT,
    ]
    .contains(&code)
}

/// Retriable refusals that do not prove the request unapplied: the coordinator's write may
/// have been in flight when it lost its partition (NOT_COORDINATOR), the gateway's ask of it
/// timed out (COORDINATOR_NOT_AVAILABLE), or the write outlived its timeout.
pub(crate) fn may_hide_a_write(code: ErrorCode) -> bool {
    [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::REQUEST_TIMED_OUT,
    ]
    .contains(&code)
}

/// Why a coordinator request got no answer.
enum NoAnswer {
    /// No coordinator was found before the producer gave up: nothing was sent.
    NoCoordinator,
    /// Sent (maybe only in part), unanswered: its effect is unknown.
    Lost(CallError),
}

/// What a transaction is made of, drawn from the seed.
struct Plan {
    partitions: Vec<i32>,
    /// (partition, records) of each batch, in the order they are sent.
    batches: Vec<(i32, u32)>,
    commit: bool,
}

/// A transaction given up, kept to write to once more under its old epoch.
struct Zombie {
    txn: u32,
    identity: Identity,
    /// The old epoch's next sequence per partition.
    sequences: BTreeMap<i32, i32>,
    partitions: Vec<i32>,
}

/// What comes after a transaction.
enum Next {
    Continue,
    /// Take a new epoch (the transaction was given up, or its end is not known).
    Reinit,
    /// Past `give_up`: stop.
    Stop,
}

/// How a transaction ended, for its `TxnEnd`.
struct Ending {
    commit: bool,
    outcome: TxnOutcome,
    invoked_ms: u64,
    next: Next,
}

struct TxnProducer {
    w: Workload,
    id: u32,
    transactional_id: String,
    /// A connection to the coordinator; `None`: find it (again).
    coordinator: Option<Connection>,
    /// The broker FindCoordinator is asked of next (an index into `w.brokers`).
    next_broker: usize,
    identity: Option<Identity>,
    /// The next sequence of each partition under `identity`.
    sequences: BTreeMap<i32, i32>,
    /// A connection to each partition's leader.
    leaders: BTreeMap<i32, Connection>,
    next_txn: u32,
    /// Nothing is retried past this.
    give_up: Instant,
    /// A given-up transaction to write to once more as a zombie.
    zombie: Option<Zombie>,
}

/// Runs transactions until `until`, retrying nothing past `give_up`.
pub async fn txn_producer(w: Workload, id: u32, until: Instant, give_up: Instant) {
    let mut p = TxnProducer {
        w,
        id,
        transactional_id: transactional_id(id),
        coordinator: None,
        next_broker: 0,
        identity: None,
        sequences: BTreeMap::new(),
        leaders: BTreeMap::new(),
        next_txn: 0,
        give_up,
        zombie: None,
    };
    if !p.init().await {
        return;
    }
    while Instant::now() < until {
        let plan = p.plan();
        let txn = p.next_txn;
        p.next_txn += 1;
        p.w.record(Event::TxnBegin {
            producer: id,
            txn,
            partitions: plan.partitions.clone(),
        });
        let ending = p.transaction(txn, &plan).await;
        // Only a transaction that cannot have committed: a zombie's write to it must never be
        // read (a refused one leaves all-or-nothing nothing to judge either).
        let may_commit =
            ending.commit && matches!(ending.outcome, TxnOutcome::Ok | TxnOutcome::Unknown { .. });
        p.w.record(Event::TxnEnd {
            producer: id,
            txn,
            commit: ending.commit,
            outcome: ending.outcome,
            invoked_ms: ending.invoked_ms,
        });
        match ending.next {
            Next::Continue => {}
            Next::Reinit => {
                let zombie =
                    !may_commit && madsim::rand::thread_rng().gen_bool(ZOMBIE_WRITE_PROBABILITY);
                if let (true, Some(identity)) = (zombie, p.identity) {
                    p.zombie = Some(Zombie {
                        txn,
                        identity,
                        sequences: p.sequences.clone(),
                        partitions: plan.partitions.clone(),
                    });
                }
                if !p.init().await {
                    return;
                }
            }
            Next::Stop => return,
        }
        let pause = madsim::rand::thread_rng().gen_range(TXN_PAUSE_MS);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

impl TxnProducer {
    fn txn_id(&self) -> TransactionalId {
        TransactionalId(StrBytes::from_string(self.transactional_id.clone()))
    }

    fn plan(&self) -> Plan {
        let mut rng = madsim::rand::thread_rng();
        let count = rng.gen_range(1..=TXN_PARTITIONS);
        let mut chosen = BTreeSet::new();
        while (chosen.len() as i32) < count {
            chosen.insert(rng.gen_range(0..TXN_PARTITIONS));
        }
        let partitions: Vec<i32> = chosen.into_iter().collect();
        let mut batches: Vec<(i32, u32)> = Vec::new();
        for &partition in &partitions {
            for _ in 0..rng.gen_range(BATCHES_PER_PARTITION) {
                let records = match rng.gen_bool(SINGLE_RECORD_PROBABILITY) {
                    true => 1,
                    false => rng.gen_range(2..=4),
                };
                batches.push((partition, records));
            }
        }
        batches.shuffle(&mut rng);
        Plan {
            partitions,
            batches,
            commit: rng.gen_bool(COMMIT_PROBABILITY),
        }
    }

    /// One transaction of `plan`: AddPartitionsToTxn, its batches, EndTxn.
    async fn transaction(&mut self, txn: u32, plan: &Plan) -> Ending {
        let given_up = |p: &Self, why: String| Ending {
            commit: false,
            outcome: TxnOutcome::Abandoned { why },
            invoked_ms: p.w.now_ms(),
            next: match Instant::now() < p.give_up {
                true => Next::Reinit,
                false => Next::Stop,
            },
        };
        if let Err(why) = self.add_partitions(&plan.partitions).await {
            return given_up(&*self, why);
        }
        let mut n = 0;
        for (i, &(partition, records)) in plan.batches.iter().enumerate() {
            if i > 0 {
                let pause = madsim::rand::thread_rng().gen_range(BATCH_PAUSE_MS);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let values: Vec<String> = (n..n + records)
                .map(|k| value_name(self.id, txn, k))
                .collect();
            n += records;
            if let Err(why) = self.produce(txn, partition, values).await {
                return given_up(&*self, why);
            }
            let zombie_here =
                (self.zombie.as_ref()).is_some_and(|z| z.partitions.contains(&partition));
            if zombie_here {
                if let Some(zombie) = self.zombie.take() {
                    self.zombie_write(zombie, partition).await;
                }
            }
        }
        let (outcome, invoked_ms) = self.end(plan.commit).await;
        let next = match (&outcome, Instant::now() < self.give_up) {
            (TxnOutcome::Ok, _) => Next::Continue,
            (_, true) => Next::Reinit,
            (_, false) => Next::Stop,
        };
        Ending {
            commit: plan.commit,
            outcome,
            invoked_ms,
            next,
        }
    }

    /// FindCoordinator (v1, key type 1) for the transactional id, asked of each broker in
    /// turn, and a connection to the broker it names; `None` once past `give_up`.
    async fn find_coordinator(&mut self) -> Option<Connection> {
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(self.transactional_id.clone()))
            .with_key_type(1);
        while Instant::now() < self.give_up {
            let asked = self.w.brokers[self.next_broker % self.w.brokers.len()];
            if let Ok(mut conn) = Connection::connect(asked, CALL_TIMEOUT).await {
                let answer: Result<FindCoordinatorResponse, _> = conn
                    .call(ApiKey::FindCoordinator, 1, &request, CALL_TIMEOUT)
                    .await;
                // NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE (the topic is being created),
                // COORDINATOR_LOAD_IN_PROGRESS, or no answer: ask again, the next broker.
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

    /// One request to the coordinator (found first if need be). The connection is dropped
    /// after a transport error, and after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE
    /// ([`Self::coordinator_refused`]).
    async fn coordinator_call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, NoAnswer> {
        if self.coordinator.is_none() {
            self.coordinator = Some(
                self.find_coordinator()
                    .await
                    .ok_or(NoAnswer::NoCoordinator)?,
            );
        }
        let conn = self.coordinator.as_mut().expect("found above");
        let answer: Result<Resp, CallError> = conn.call(key, version, request, CALL_TIMEOUT).await;
        if answer.is_err() {
            self.coordinator = None;
        }
        answer.map_err(NoAnswer::Lost)
    }

    /// A refusal that names another coordinator (or none yet): find it again.
    fn coordinator_refused(&mut self, code: ErrorCode) {
        if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE {
            self.coordinator = None;
        }
    }

    /// A new epoch (InitProducerId v1 with the transactional id: the coordinator aborts an
    /// open transaction of the earlier epoch first, answering CONCURRENT_TRANSACTIONS until it
    /// has), retried until answered or `give_up`. Every sequence starts again from 0.
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
                .coordinator_call::<_, InitProducerIdResponse>(ApiKey::InitProducerId, 1, &request)
                .await;
            if let Ok(r) = answer {
                match ErrorCode::from_wire(r.error_code) {
                    ErrorCode::NONE => {
                        self.w.record(Event::TxnIdentity {
                            producer: self.id,
                            producer_id: r.producer_id.0,
                            epoch: r.producer_epoch,
                        });
                        self.identity = Some(Identity {
                            producer_id: r.producer_id.0,
                            epoch: r.producer_epoch,
                        });
                        return true;
                    }
                    code => self.coordinator_refused(code),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        false
    }

    /// AddPartitionsToTxn v1 of `partitions`, retried on the coordinator's retriable answers
    /// for [`STEP_BOUND`]. `Err`: why the transaction must be given up.
    async fn add_partitions(&mut self, partitions: &[i32]) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any transaction");
        let request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.txn_id())
            .with_v3_and_below_producer_id(ProducerId(identity.producer_id))
            .with_v3_and_below_producer_epoch(identity.epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic())
                .with_partitions(partitions.to_vec())]);
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        while Instant::now() < deadline {
            let answer = self
                .coordinator_call::<_, AddPartitionsToTxnResponse>(
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
                // One partition's refusal makes the others OPERATION_NOT_ATTEMPTED.
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
                        self.coordinator_refused(code)
                    }
                    Some(code) => return Err(format!("AddPartitionsToTxn answered {code:?}")),
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err("AddPartitionsToTxn not answered in time".into())
    }

    /// A connection to `partition`'s leader, asked for until `give_up`.
    async fn leader(&mut self, partition: i32) -> Option<&mut Connection> {
        if !self.leaders.contains_key(&partition) {
            loop {
                if Instant::now() >= self.give_up {
                    return None;
                }
                if let Some(conn) = route::try_connect_leader(&self.w, TXN_TOPIC, partition).await {
                    self.leaders.insert(partition, conn);
                    break;
                }
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
        self.leaders.get_mut(&partition)
    }

    /// One transactional batch of `values` to `partition` (acks=all), re-sent with the same
    /// bytes (so the same sequences: a duplicate is recognised) on a retriable refusal or no
    /// answer. Each value's outcome goes into the history. `Err`: why the transaction must
    /// be given up.
    async fn produce(
        &mut self,
        txn: u32,
        partition: i32,
        values: Vec<String>,
    ) -> Result<(), String> {
        let identity = self.identity.expect("an identity before any transaction");
        let base_sequence = self.sequences.get(&partition).copied().unwrap_or(0);
        let key = format!("x{}", self.id).into_bytes();
        let entries: Vec<Entry<'_>> = (values.iter())
            .map(|value| Entry { key: &key, value })
            .collect();
        let codec = CODECS[madsim::rand::thread_rng().gen_range(0..CODECS.len())];
        let stamp = Stamp {
            producer_id: identity.producer_id,
            epoch: identity.epoch,
            base_sequence,
        };
        let request = self.produce_request(partition, &entries, stamp, codec);
        drop(entries);
        // Some attempt went unanswered: an error answer later cannot prove the batch unwritten.
        let mut unanswered: Option<String> = None;
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
                    .map(|p| (ErrorCode::from_wire(p.error_code), p.base_offset))
                    .ok_or_else(|| CallError::Protocol("no partition answer".into()))
            });
            match answer {
                Ok((ErrorCode::NONE, base_offset)) => {
                    self.sequences
                        .insert(partition, base_sequence + values.len() as i32);
                    self.conclude(txn, partition, values, |i| SendOutcome::Ok {
                        offset: base_offset + i as i64,
                    });
                    return Ok(());
                }
                Ok((code, _)) if retriable(code) => {
                    if code == ErrorCode::REQUEST_TIMED_OUT
                        || code == ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                    {
                        // Appended, maybe, and not acknowledged.
                        unanswered = Some(format!("answered {code:?}"));
                    }
                    // The leader may have moved: route afresh.
                    self.leaders.remove(&partition);
                }
                Ok((code, _)) => {
                    let outcome = match &unanswered {
                        Some(why) => SendOutcome::Unknown {
                            why: format!(
                                "error {} after an unanswered attempt ({why})",
                                code.wire()
                            ),
                        },
                        None => SendOutcome::Fail { code: code.wire() },
                    };
                    self.conclude(txn, partition, values, |_| outcome.clone());
                    return Err(format!("produce to p{partition} answered {code:?}"));
                }
                Err(e) => {
                    unanswered = Some(e.to_string());
                    self.leaders.remove(&partition);
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        let why = match unanswered {
            Some(why) => format!("no answer to the produce to p{partition} ({why})"),
            None => format!("the produce to p{partition} was refused until the end"),
        };
        self.conclude(txn, partition, values, |_| SendOutcome::Unknown {
            why: why.clone(),
        });
        Err(why)
    }

    /// The transactional Produce (v8 fields, acks=all) of `entries` to `partition`.
    fn produce_request(
        &self,
        partition: i32,
        entries: &[Entry<'_>],
        stamp: Stamp,
        codec: kafka_protocol::records::Compression,
    ) -> ProduceRequest {
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let bytes = batch::encode_transactional(entries, stamp, codec, timestamp_ms)
            .expect("the workload's batches encode");
        ProduceRequest::default()
            .with_transactional_id(Some(self.txn_id()))
            .with_acks(-1)
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(bytes))])])
    }

    /// One write to a given-up transaction under its old epoch, to `partition` (a zombie's
    /// late batch), sent once: the broker must refuse it. Recorded as that transaction's.
    async fn zombie_write(&mut self, zombie: Zombie, partition: i32) {
        let value = value_name(self.id, zombie.txn, ZOMBIE_VALUE_BASE);
        let key = format!("x{}", self.id).into_bytes();
        let entries = [Entry {
            key: &key,
            value: &value,
        }];
        let stamp = Stamp {
            producer_id: zombie.identity.producer_id,
            epoch: zombie.identity.epoch,
            base_sequence: zombie.sequences.get(&partition).copied().unwrap_or(0),
        };
        let request = self.produce_request(partition, &entries, stamp, CODECS[0]);
        let Some(conn) = self.leader(partition).await else {
            return; // nothing sent
        };
        let answer = conn
            .call::<_, ProduceResponse>(
                ApiKey::Produce,
                8,
                &request,
                Duration::from_millis(PRODUCE_ANSWER_BOUND_MS),
            )
            .await;
        let outcome = match answer.map(|r| {
            (r.responses.first())
                .and_then(|t| t.partition_responses.first())
                .map(|p| (ErrorCode::from_wire(p.error_code), p.base_offset))
        }) {
            Ok(Some((ErrorCode::NONE, offset))) => SendOutcome::Ok { offset },
            Ok(Some((code, _))) if code != ErrorCode::REQUEST_TIMED_OUT => {
                SendOutcome::Fail { code: code.wire() }
            }
            Ok(_) => SendOutcome::Unknown {
                why: "the zombie write timed out".into(),
            },
            Err(e) => {
                self.leaders.remove(&partition);
                SendOutcome::Unknown { why: e.to_string() }
            }
        };
        self.conclude(zombie.txn, partition, vec![value], |_| outcome.clone());
    }

    /// Records each value's outcome (`outcome(i)` for value `i`).
    fn conclude(
        &self,
        txn: u32,
        partition: i32,
        values: Vec<String>,
        outcome: impl Fn(usize) -> SendOutcome,
    ) {
        for (i, value) in values.into_iter().enumerate() {
            self.w.record(Event::TxnSent {
                producer: self.id,
                txn,
                partition,
                value,
                outcome: outcome(i),
            });
        }
    }

    /// EndTxn v1, retried on the coordinator's retriable answers for [`STEP_BOUND`]: its
    /// outcome, and when its first attempt was sent.
    async fn end(&mut self, commit: bool) -> (TxnOutcome, u64) {
        let identity = self.identity.expect("an identity before any transaction");
        let request = EndTxnRequest::default()
            .with_transactional_id(self.txn_id())
            .with_producer_id(ProducerId(identity.producer_id))
            .with_producer_epoch(identity.epoch)
            .with_committed(commit);
        let invoked_ms = self.w.now_ms();
        let deadline = (Instant::now() + STEP_BOUND).min(self.give_up);
        // Some attempt went unanswered, or was refused in a way that does not prove it
        // unapplied ([`may_hide_a_write`]): it may have ended the transaction as asked.
        let mut unanswered: Option<String> = None;
        while Instant::now() < deadline {
            let answer = self
                .coordinator_call::<_, EndTxnResponse>(ApiKey::EndTxn, 1, &request)
                .await;
            match answer {
                Ok(r) => match ErrorCode::from_wire(r.error_code) {
                    ErrorCode::NONE => return (TxnOutcome::Ok, invoked_ms),
                    code if coordinator_retriable(code) => {
                        if may_hide_a_write(code) {
                            unanswered = Some(format!("answered {code:?}"));
                        }
                        self.coordinator_refused(code)
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
                Err(NoAnswer::Lost(e)) => unanswered = Some(e.to_string()),
                Err(NoAnswer::NoCoordinator) => {}
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        let outcome = match unanswered {
            Some(why) => TxnOutcome::Unknown {
                why: format!("EndTxn not answered in time ({why})"),
            },
            // Never sent, or every answer was a retriable refusal: the end did not happen.
            None => TxnOutcome::Abandoned {
                why: "EndTxn not answered in time".into(),
            },
        };
        (outcome, invoked_ms)
    }
}

/// The records a `read_committed` client returns from one fetch answer's `batches`, given the
/// answer's aborted transactions as (producer id, first offset) — Kafka's `CompletedFetch`:
/// before each batch of a producer, the aborted transactions whose first offset is at or
/// below the batch's last offset mark their producers aborting; a transactional batch of an
/// aborting producer is dropped, that producer's ABORT marker ends it, and control batches
/// never surface. (offset, value) of each record, the value as text.
pub fn committed_records(batches: &[FetchedBatch], aborted: &[(i64, i64)]) -> Vec<(i64, String)> {
    // Aborted transactions not reached yet, by (first offset, producer id).
    let mut pending: BTreeSet<(i64, i64)> = (aborted.iter())
        .map(|&(producer_id, first_offset)| (first_offset, producer_id))
        .collect();
    let mut aborting: BTreeSet<i64> = BTreeSet::new();
    let mut out = Vec::new();
    for batch in batches {
        if batch.producer_id >= 0 {
            while let Some(&(first_offset, producer_id)) = pending.first() {
                if first_offset > batch.last_offset {
                    break;
                }
                pending.pop_first();
                aborting.insert(producer_id);
            }
            if batch.control {
                if is_abort_marker(batch) {
                    aborting.remove(&batch.producer_id);
                }
            } else if batch.transactional && aborting.contains(&batch.producer_id) {
                continue;
            }
        }
        if batch.control {
            continue;
        }
        for (offset, _, value) in &batch.records {
            let value = (value.as_ref())
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            out.push((*offset, value));
        }
    }
    out
}

/// Whether a control batch is an ABORT marker: its record's key is (version i16, type i16),
/// type 0 ABORT, 1 COMMIT.
fn is_abort_marker(batch: &FetchedBatch) -> bool {
    (batch.records.first())
        .and_then(|(_, key, _)| key.as_ref())
        .is_some_and(|key| key.len() >= 4 && i16::from_be_bytes([key[2], key[3]]) == 0)
}

/// One read_committed fetch's answer for a partition of [`TXN_TOPIC`].
pub struct CommittedFetch {
    pub code: ErrorCode,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start: i64,
    /// (offset, value) of each record a client returns, at or after the fetch offset.
    pub records: Vec<(i64, String)>,
    /// The offset after the last batch returned (records or control), if any.
    pub next_offset: Option<i64>,
}

/// Fetch v11 of `partition` of [`TXN_TOPIC`] from `offset` with `isolation_level=1`.
pub async fn fetch_committed(
    conn: &mut Connection,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Result<CommittedFetch, CallError> {
    fetch_committed_of(conn, TXN_TOPIC, partition, offset, max_wait_ms).await
}

/// Fetch v11 of `partition` of `topic` from `offset` with `isolation_level=1`.
pub async fn fetch_committed_of(
    conn: &mut Connection,
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Result<CommittedFetch, CallError> {
    let p = FetchPartition::default()
        .with_partition(partition)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    let request = FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![p])]);
    let response: FetchResponse = conn.call(ApiKey::Fetch, 11, &request, CALL_TIMEOUT).await?;
    let data = (response.responses.first())
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| CallError::Protocol("no partition answer".into()))?;
    let aborted: Vec<(i64, i64)> = (data.aborted_transactions.iter().flatten())
        .map(|a| (a.producer_id.0, a.first_offset))
        .collect();
    let batches = match data.records.clone() {
        Some(bytes) => batch::decode_batches(bytes)
            .map_err(|e| CallError::Protocol(format!("undecodable records: {e}")))?,
        None => Vec::new(),
    };
    let mut records = committed_records(&batches, &aborted);
    // A fetch returns whole batches: drop the records before the asked offset.
    records.retain(|(o, _)| *o >= offset);
    Ok(CommittedFetch {
        code: ErrorCode::from_wire(data.error_code),
        high_watermark: data.high_watermark,
        last_stable_offset: data.last_stable_offset,
        log_start: data.log_start_offset,
        records,
        next_offset: batches.last().map(|b| b.last_offset + 1),
    })
}

/// Reads `partition` of [`TXN_TOPIC`] with read_committed from offset 0 until `until`,
/// recording every record returned (`TxnPoll`).
pub async fn txn_reader(w: Workload, partition: i32, until: Instant) {
    let mut conn: Option<Connection> = None;
    let mut next = 0i64;
    while Instant::now() < until {
        if conn.is_none() {
            match route::try_connect_leader(&w, TXN_TOPIC, partition).await {
                Some(c) => conn = Some(c),
                None => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        match fetch_committed(c, partition, next, READER_MAX_WAIT_MS).await {
            Ok(f) if f.code == ErrorCode::NONE => {
                for (offset, value) in f.records {
                    w.record(Event::TxnPoll {
                        consumer: partition as u32,
                        partition,
                        offset,
                        value,
                        lso: f.last_stable_offset,
                        hw: f.high_watermark,
                    });
                }
                if let Some(after) = f.next_offset.filter(|after| *after > next) {
                    next = after;
                }
            }
            Ok(f) if f.code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                // The log was cut (a crash lost its unsynced tail): jump into range.
                next = if next < f.log_start {
                    f.log_start
                } else {
                    f.high_watermark.max(f.log_start)
                };
            }
            Ok(f) if retriable(f.code) => {
                // The partition may have moved to another leader: route afresh.
                conn = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Ok(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            Err(CallError::Protocol(detail)) if detail.starts_with("undecodable") => {
                w.record(Event::Fault {
                    kind: "txn-corrupt-read",
                    detail: format!("partition {partition} at {next}: {detail}"),
                });
                conn = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Err(_) => conn = None,
        }
    }
}

/// After the transactional producers stopped: each partition of [`TXN_TOPIC`] read with
/// read_committed from its start, once a fetch answers its LSO at its HW (every transaction
/// decided) or, failing that, [`FINAL_READ_MARGIN`] before `deadline`, up to its LSO then
/// (the checker judges an LSO left below the HW). `FinalReadTimedOut` when a partition cannot
/// be read by `deadline`.
pub async fn final_read(w: &Workload, deadline: Instant) {
    // A transaction not decided within two transaction timeouts of the producers' end (the
    // coordinator aborts one past its timeout) hangs: reading on would only take the time the
    // data topic's own final read needs within the same deadline (seed 403).
    let hanging_after = Duration::from_millis(2 * TXN_TIMEOUT_MS as u64);
    let stable_by = (deadline.checked_sub(FINAL_READ_MARGIN).unwrap_or(deadline))
        .min(Instant::now() + hanging_after);
    for partition in 0..TXN_PARTITIONS {
        match read_partition(w, TXN_TOPIC, partition, stable_by, deadline).await {
            Some((lso, hw, records)) => w.record(Event::TxnFinalRead {
                partition,
                lso,
                hw,
                records,
            }),
            None => w.record(Event::FinalReadTimedOut {
                partition,
                detail: format!(
                    "no complete read_committed read of {TXN_TOPIC} before the liveness deadline"
                ),
            }),
        }
    }
}

/// (LSO, HW, records below the LSO) of one partition of `topic`, as [`final_read`] reads it.
pub(crate) async fn read_partition(
    w: &Workload,
    topic: &str,
    partition: i32,
    stable_by: Instant,
    deadline: Instant,
) -> Option<(i64, i64, Vec<(i64, String)>)> {
    let mut start = 0i64;
    'attempt: while Instant::now() < deadline {
        let Some(mut conn) = route::try_connect_leader(w, topic, partition).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let (lso, hw) = loop {
            if Instant::now() >= deadline {
                return None;
            }
            match fetch_committed_of(&mut conn, topic, partition, start, 0).await {
                Ok(f) if f.code == ErrorCode::NONE => {
                    if f.last_stable_offset >= f.high_watermark || Instant::now() >= stable_by {
                        // A leader just elected answers a high watermark behind its
                        // predecessor's until its followers fetched (as Kafka's does), and
                        // ListOffsets(latest) OFFSET_NOT_AVAILABLE meanwhile (seed 97 with
                        // the consume-transform-produce workers: a preferred leader elected
                        // after healing hid a committed transaction's records from this
                        // read).
                        let name = TopicName(StrBytes::from_string(topic.to_owned()));
                        match admin::list_offset_of(&mut conn, name, partition, admin::LATEST).await
                        {
                            Ok(latest) if latest <= f.high_watermark => {
                                break (f.last_stable_offset, f.high_watermark)
                            }
                            Ok(_) => {}
                            Err(_) => {
                                tokio::time::sleep(RETRY_BACKOFF).await;
                                continue 'attempt;
                            }
                        }
                    }
                    tokio::time::sleep(STABLE_POLL).await;
                }
                Ok(f) if f.code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                    start = f.log_start.max(0);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue 'attempt;
                }
                _ => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue 'attempt;
                }
            }
        };
        let mut records = Vec::new();
        let mut next = start;
        while next < lso {
            match fetch_committed_of(&mut conn, topic, partition, next, 0).await {
                Ok(f) if f.code == ErrorCode::NONE => match f.next_offset {
                    Some(after) if after > next => {
                        records.extend(f.records);
                        next = after;
                    }
                    _ => {
                        tokio::time::sleep(RETRY_BACKOFF).await;
                        continue 'attempt;
                    }
                },
                _ => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue 'attempt;
                }
            }
        }
        return Some((lso, hw, records));
    }
    None
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn data(base: i64, count: i64, producer_id: i64, transactional: bool) -> FetchedBatch {
        FetchedBatch {
            base_offset: base,
            last_offset: base + count - 1,
            producer_id,
            transactional,
            control: false,
            records: (base..base + count)
                .map(|o| (o, None, Some(Bytes::from(format!("v{o}")))))
                .collect(),
        }
    }

    fn marker(offset: i64, producer_id: i64, commit: bool) -> FetchedBatch {
        let key = [0u8, 0, 0, u8::from(commit)];
        FetchedBatch {
            base_offset: offset,
            last_offset: offset,
            producer_id,
            transactional: true,
            control: true,
            records: vec![(offset, Some(Bytes::copy_from_slice(&key)), None)],
        }
    }

    #[test]
    fn values_parse_back() {
        assert_eq!(parse_value(&value_name(1, 22, 3)), Some((1, 22, 3)));
        for other in ["p1-2", "x1-2", "x1-2-3-4", "xa-1-2", "", "\0\0\0\0"] {
            assert_eq!(parse_value(other), None, "{other}");
        }
    }

    #[test]
    fn read_committed_drops_aborted_batches_and_markers() {
        // Producer 7 aborts [0, 2] (marker at 3), then commits [4] (marker at 5); producer 8
        // writes a batch at 1 that commits (marker at 6); a non-transactional record at 7.
        let batches = vec![
            data(0, 1, 7, true),
            data(1, 1, 8, true),
            data(2, 1, 7, true),
            marker(3, 7, false),
            data(4, 1, 7, true),
            marker(5, 7, true),
            marker(6, 8, true),
            data(7, 1, -1, false),
        ];
        let read = committed_records(&batches, &[(7, 0)]);
        let offsets: Vec<i64> = read.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, vec![1, 4, 7]);
        // Without the aborted list every data batch surfaces, never a marker.
        let offsets: Vec<i64> = (committed_records(&batches, &[]).iter())
            .map(|(o, _)| *o)
            .collect();
        assert_eq!(offsets, vec![0, 1, 2, 4, 7]);
    }
}
