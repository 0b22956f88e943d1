//! A producer for one topic: partitions like the Java client, batches per partition by
//! `batch.size` / `linger.ms`, pipelines batches to partition leaders, retries retriable errors
//! after a metadata refresh, and reports the outcome of every record.
//!
//! The caller drives it: [`Producer::send`] appends (and dispatches full batches), a caller's
//! loop calls [`Producer::flush_due`] at [`Producer::linger_deadline`], and
//! [`Producer::close`] sends what is left and waits for every acknowledgement. Outcomes arrive
//! per batch ([`BatchOutcome`]) with the caller's record ids, so per-record results cost two
//! vector pushes per record and no allocation of their own.
#![allow(clippy::disallowed_methods)] // host-side client: reads the clock, spawns ack waiters

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::limits::{PRODUCER_INFLIGHT_BATCHES_MAX, RETRIES_MAX, RETRY_BACKOFF_MS};
use super::murmur2::partition_for_key;
use super::records::BatchBuilder;
use super::txn_producer::TxnSession;
use crate::types::ErrorCode;

/// Producer settings under the Java client's names.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `acks`: 0, 1 or -1 (all).
    pub acks: i16,
    /// `linger.ms`: how long a batch waits for more records.
    pub linger_ms: u64,
    /// `batch.size`: a batch is sent once it holds this many bytes.
    pub batch_size_bytes: usize,
    /// `request.timeout.ms`, sent to the broker as the produce timeout.
    pub request_timeout_ms: u64,
    /// `allow.auto.create.topics`.
    pub allow_auto_create: bool,
    /// `transactional.id`: a transactional producer ([`Producer::commit_transaction`]).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open longer.
    pub transaction_timeout_ms: i32,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: -1,
            linger_ms: 5,
            batch_size_bytes: 16_384,
            request_timeout_ms: 30_000,
            allow_auto_create: true,
            transactional_id: None,
            // The Java client's default.
            transaction_timeout_ms: 60_000,
        }
    }
}

impl ProducerConfig {
    /// Applies one `key=value` producer property; unknown keys are an error so typos show.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match self.apply(key, value)? {
            true => Ok(()),
            false => Err(format!("unknown producer property '{key}'")),
        }
    }

    /// Applies one `key=value` producer property: `Ok(false)` for a key the producer does not
    /// know (the caller decides whether that is an error), an error for a bad value.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key} must be a non-negative integer, got '{v}'"))
        };
        match key {
            "acks" => {
                self.acks = match value {
                    "all" | "-1" => -1,
                    "1" => 1,
                    "0" => 0,
                    _ => return Err(format!("acks must be all, -1, 1 or 0, got '{value}'")),
                }
            }
            "linger.ms" => self.linger_ms = number(value)?,
            "batch.size" => self.batch_size_bytes = number(value)?.max(1) as usize,
            "request.timeout.ms" => self.request_timeout_ms = number(value)?.max(1),
            "allow.auto.create.topics" => {
                self.allow_auto_create = value.parse().map_err(|_| {
                    format!("allow.auto.create.topics must be true or false, got '{value}'")
                })?
            }
            "transactional.id" => {
                if value.is_empty() {
                    return Err("transactional.id must not be empty".into());
                }
                self.transactional_id = Some(value.to_owned());
            }
            "transaction.timeout.ms" => {
                self.transaction_timeout_ms = i32::try_from(number(value)?)
                    .map_err(|_| format!("transaction.timeout.ms is too large: {value}"))?
            }
            "compression.type" => {
                if value != "none" {
                    return Err(format!(
                        "compression.type={value} is not supported yet (only none)"
                    ));
                }
            }
            // Accepted for compatibility with the Java tools' usual flags; no effect here.
            "client.id"
            | "retries"
            | "max.in.flight.requests.per.connection"
            | "enable.idempotence"
            | "buffer.memory"
            | "delivery.timeout.ms" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The result of one batch: which caller records it held and where they landed.
#[derive(Debug)]
pub struct BatchOutcome {
    pub partition: i32,
    /// The caller's ids of the records, in batch order.
    pub record_ids: Vec<u64>,
    /// When each record was handed to [`Producer::send`].
    pub enqueued_at: Vec<Instant>,
    /// When the acknowledgement arrived (or the failure was final).
    pub completed_at: Instant,
    /// Offset of the first record; -1 with acks=0.
    pub base_offset: ClientResult<i64>,
}

struct OpenBatch {
    builder: BatchBuilder,
    record_ids: Vec<u64>,
    enqueued_at: Vec<Instant>,
    created_at: Instant,
}

/// A producer bound to one topic.
pub struct Producer {
    client: Arc<Client>,
    config: ProducerConfig,
    topic: String,
    partition_count: i32,
    /// Leader per partition, index = partition id; ack tasks update it after a leader moves.
    leaders: Arc<Mutex<Vec<i32>>>,
    open: BTreeMap<i32, OpenBatch>,
    /// Where unkeyed records go until their batch is sent (the sticky partitioner).
    sticky_partition: Option<i32>,
    next_round_robin: i32,
    inflight: Arc<Semaphore>,
    outcomes_tx: mpsc::UnboundedSender<BatchOutcome>,
    outcomes_rx: mpsc::UnboundedReceiver<BatchOutcome>,
    /// A transactional producer's session; its batches carry its identity.
    txn: Option<TxnSession>,
    /// A batch of the open transaction failed for good (its error): it can only be aborted.
    txn_failed: Arc<Mutex<Option<String>>>,
}

/// Wall-clock milliseconds, the CreateTime of records.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Producer {
    /// Looks up the topic (creating it when the broker auto-creates) and its leaders.
    pub async fn new(
        client: Arc<Client>,
        topic: &str,
        config: ProducerConfig,
    ) -> ClientResult<Self> {
        let leaders = topic_leaders(&client, topic, config.allow_auto_create).await?;
        let txn = match &config.transactional_id {
            Some(id) => Some(TxnSession::init(&client, id, config.transaction_timeout_ms).await?),
            None => None,
        };
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        Ok(Self {
            client,
            config,
            topic: topic.to_string(),
            next_round_robin: 0,
            partition_count: leaders.len() as i32,
            leaders: Arc::new(Mutex::new(leaders)),
            open: BTreeMap::new(),
            sticky_partition: None,
            inflight: Arc::new(Semaphore::new(PRODUCER_INFLIGHT_BATCHES_MAX)),
            outcomes_tx,
            outcomes_rx,
            txn,
            txn_failed: Arc::new(Mutex::new(None)),
        })
    }

    /// Whether this producer is transactional (`transactional.id`).
    pub fn is_transactional(&self) -> bool {
        self.txn.is_some()
    }

    /// Sends every open batch, waits for every acknowledgement, then commits the open
    /// transaction (`commitTransaction()`). A batch of it that failed for good aborts it
    /// instead and fails. A producer that is not transactional only flushes.
    pub async fn commit_transaction(&mut self) -> ClientResult<()> {
        self.flush().await?;
        self.wait_acknowledged().await?;
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        let failed = (self.txn_failed.lock())
            .unwrap_or_else(|p| p.into_inner())
            .take();
        txn.end(&self.client, failed.is_none()).await?;
        match failed {
            Some(error) => Err(ClientError::Invalid(format!(
                "a batch of the transaction failed ({error}): the transaction was aborted"
            ))),
            None => Ok(()),
        }
    }

    /// Waits until no batch is in flight.
    async fn wait_acknowledged(&self) -> ClientResult<()> {
        let all = PRODUCER_INFLIGHT_BATCHES_MAX as u32;
        let _all_done = self
            .inflight
            .acquire_many(all)
            .await
            .map_err(|_| ClientError::Invalid("producer is closed".into()))?;
        Ok(())
    }

    pub fn partition_count(&self) -> i32 {
        self.partition_count
    }

    /// The partition a record goes to: explicit, by key (murmur2), or sticky round-robin.
    pub fn choose_partition(
        &mut self,
        key: Option<&[u8]>,
        partition: Option<i32>,
    ) -> ClientResult<i32> {
        let count = self.partition_count();
        match (partition, key) {
            (Some(p), _) if (0..count).contains(&p) => Ok(p),
            (Some(p), _) => Err(ClientError::Invalid(format!(
                "partition {p} does not exist: topic '{}' has {count} partitions",
                self.topic
            ))),
            (None, Some(key)) => Ok(partition_for_key(key, count)),
            (None, None) => Ok(*self.sticky_partition.get_or_insert_with(|| {
                let p = self.next_round_robin % count;
                self.next_round_robin = (p + 1) % count;
                p
            })),
        }
    }

    /// Appends one record under the caller's `record_id`; sends batches that fill up. Waits
    /// when too many batches are in flight.
    pub async fn send(
        &mut self,
        record_id: u64,
        key: Option<&[u8]>,
        value: &[u8],
        partition: Option<i32>,
    ) -> ClientResult<()> {
        let partition = self.choose_partition(key, partition)?;
        let now = Instant::now();
        let timestamp_ms = now_ms();
        let batch_size = self.config.batch_size_bytes;
        if let Some(open) = self.open.get(&partition) {
            if open.builder.size_bytes() + open.builder.record_size_bytes(key, value, timestamp_ms)
                > batch_size
            {
                self.dispatch(partition).await?;
            }
        }
        let open = self.open.entry(partition).or_insert_with(|| OpenBatch {
            builder: BatchBuilder::new(timestamp_ms, batch_size.min(1 << 20)),
            record_ids: Vec::new(),
            enqueued_at: Vec::new(),
            created_at: now,
        });
        open.builder.append(key, value, timestamp_ms);
        open.record_ids.push(record_id);
        open.enqueued_at.push(now);
        if open.builder.size_bytes() >= batch_size {
            self.dispatch(partition).await?;
        }
        Ok(())
    }

    /// When the oldest open batch's `linger.ms` runs out, if any batch is open.
    pub fn linger_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|b| b.created_at + Duration::from_millis(self.config.linger_ms))
            .min()
    }

    /// Sends every batch whose linger time is over.
    pub async fn flush_due(&mut self) -> ClientResult<()> {
        let now = Instant::now();
        let linger = Duration::from_millis(self.config.linger_ms);
        let due: Vec<i32> = self
            .open
            .iter()
            .filter(|(_, b)| b.created_at + linger <= now)
            .map(|(p, _)| *p)
            .collect();
        for partition in due {
            self.dispatch(partition).await?;
        }
        Ok(())
    }

    /// Sends every open batch now.
    pub async fn flush(&mut self) -> ClientResult<()> {
        let open: Vec<i32> = self.open.keys().copied().collect();
        for partition in open {
            self.dispatch(partition).await?;
        }
        Ok(())
    }

    /// An outcome that has already arrived, if any.
    pub fn try_outcome(&mut self) -> Option<BatchOutcome> {
        self.outcomes_rx.try_recv().ok()
    }

    /// Sends what is left, waits for every acknowledgement (a transactional producer commits
    /// its open transaction), returns the outcomes not yet taken.
    pub async fn close(mut self) -> ClientResult<Vec<BatchOutcome>> {
        self.commit_transaction().await?;
        let all = PRODUCER_INFLIGHT_BATCHES_MAX as u32;
        let _all_done = self
            .inflight
            .acquire_many(all)
            .await
            .map_err(|_| ClientError::Invalid("producer closed twice".into()))?;
        drop(self.outcomes_tx);
        let mut outcomes = Vec::new();
        while let Some(o) = self.outcomes_rx.recv().await {
            outcomes.push(o);
        }
        Ok(outcomes)
    }

    /// Seals the partition's open batch and writes it to the leader; the acknowledgement is
    /// awaited by a task so the next batches can be pipelined behind it.
    async fn dispatch(&mut self, partition: i32) -> ClientResult<()> {
        let Some(open) = self.open.remove(&partition) else {
            return Ok(());
        };
        if self.sticky_partition == Some(partition) {
            self.sticky_partition = None;
        }
        let permit = self
            .inflight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ClientError::Invalid("producer is closed".into()))?;
        let producer = match &mut self.txn {
            Some(txn) => {
                txn.add_partition(&self.client, &self.topic, partition)
                    .await?;
                let count = open.builder.record_count();
                Some(txn.next_batch(&self.topic, partition, count))
            }
            None => None,
        };
        let records = Bytes::from(open.builder.finish_as(producer));
        let request = produce_request(&self.topic, partition, records, &self.config);
        let first = self.write_once(partition, &request).await;
        let job = AckJob {
            client: self.client.clone(),
            leaders: self.leaders.clone(),
            topic: self.topic.clone(),
            partition,
            request,
            acks: self.config.acks,
            record_ids: open.record_ids,
            enqueued_at: open.enqueued_at,
            outcomes: self.outcomes_tx.clone(),
            txn_failed: self.txn.is_some().then(|| self.txn_failed.clone()),
            _permit: permit,
        };
        tokio::spawn(job.run(first));
        Ok(())
    }

    /// One attempt to write the request to the partition's current leader.
    async fn write_once(&self, partition: i32, request: &ProduceRequest) -> Attempt {
        let leader = lock(&self.leaders)[partition as usize];
        attempt(&self.client, leader, request, self.config.acks).await
    }
}

/// The leader of each partition of `topic`, waiting out a fresh auto-creation.
async fn topic_leaders(client: &Client, topic: &str, auto_create: bool) -> ClientResult<Vec<i32>> {
    let mut tries = 0;
    loop {
        let metadata = client.metadata(Some(&[topic]), auto_create).await?;
        let result = metadata.topic(topic).and_then(|t| {
            if t.partitions.is_empty() || t.partitions.iter().any(|p| p.leader < 0) {
                Err(ClientError::Broker {
                    code: ErrorCode::LEADER_NOT_AVAILABLE,
                    message: format!("topic '{topic}' has partitions without a leader"),
                })
            } else {
                Ok(t.partitions.iter().map(|p| p.leader).collect())
            }
        });
        match result {
            Err(e) if e.is_retriable() && tries < RETRIES_MAX => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
            }
            other => return other,
        }
    }
}

fn produce_request(
    topic: &str,
    partition: i32,
    records: Bytes,
    config: &ProducerConfig,
) -> ProduceRequest {
    // A transactional producer names its id: the leader verifies a transaction's first batch
    // at a partition with the id's coordinator (KIP-890).
    let transactional_id = (config.transactional_id.as_deref())
        .map(|id| kafka_protocol::messages::TransactionalId(StrBytes::from_string(id.to_owned())));
    ProduceRequest::default()
        .with_transactional_id(transactional_id)
        .with_acks(config.acks)
        .with_timeout_ms(config.request_timeout_ms.min(i32::MAX as u64) as i32)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

/// A written request (answer pending), or why it could not be written.
enum Attempt {
    Pending(super::connection::PendingResponse),
    /// acks=0: written, no answer coming.
    Written,
    Failed(ClientError),
}

async fn attempt(client: &Client, leader: i32, request: &ProduceRequest, acks: i16) -> Attempt {
    let connection = match client.broker(leader).await {
        Ok(c) => c,
        Err(e) => return Attempt::Failed(e),
    };
    let version = match connection.version(ApiKey::Produce) {
        Ok(v) => v,
        Err(e) => return Attempt::Failed(e),
    };
    if acks == 0 {
        return match connection
            .send_without_response(ApiKey::Produce, version, request)
            .await
        {
            Ok(()) => Attempt::Written,
            Err(e) => Attempt::Failed(e),
        };
    }
    match connection.send(ApiKey::Produce, version, request).await {
        Ok(p) => Attempt::Pending(p),
        Err(e) => Attempt::Failed(e),
    }
}

/// Waits for one batch's acknowledgement, retrying retriable failures on the (possibly new)
/// leader, and reports the outcome.
struct AckJob {
    client: Arc<Client>,
    leaders: Arc<Mutex<Vec<i32>>>,
    topic: String,
    partition: i32,
    request: ProduceRequest,
    acks: i16,
    record_ids: Vec<u64>,
    enqueued_at: Vec<Instant>,
    outcomes: mpsc::UnboundedSender<BatchOutcome>,
    /// A transactional producer's first failure: set when this batch fails for good.
    txn_failed: Option<Arc<Mutex<Option<String>>>>,
    _permit: OwnedSemaphorePermit,
}

impl AckJob {
    async fn run(self, first: Attempt) {
        let mut current = first;
        let mut tries = 0;
        let base_offset = loop {
            let result = match current {
                Attempt::Written => Ok(-1),
                Attempt::Failed(e) => Err(e),
                Attempt::Pending(p) => match p.wait::<ProduceResponse>().await {
                    Ok(response) => partition_result(&response, &self.topic, self.partition),
                    Err(e) => Err(e),
                },
            };
            match result {
                Err(e) if e.is_retriable() && tries < RETRIES_MAX => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(RETRY_BACKOFF_MS)).await;
                    current = match self.current_leader().await {
                        Ok(leader) => attempt(&self.client, leader, &self.request, self.acks).await,
                        Err(e) => Attempt::Failed(e),
                    };
                }
                other => break other,
            }
        };
        if let (Err(error), Some(failed)) = (&base_offset, &self.txn_failed) {
            let mut first = failed.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| error.to_string());
        }
        let _ = self.outcomes.send(BatchOutcome {
            partition: self.partition,
            record_ids: self.record_ids,
            enqueued_at: self.enqueued_at,
            completed_at: Instant::now(),
            base_offset,
        });
    }

    async fn current_leader(&self) -> ClientResult<i32> {
        let leaders = topic_leaders(&self.client, &self.topic, false).await?;
        let leader = leaders.get(self.partition as usize).copied();
        let mut known = lock(&self.leaders);
        if leaders.len() == known.len() {
            *known = leaders;
        }
        leader.ok_or_else(|| {
            ClientError::Invalid(format!(
                "partition {} of topic '{}' disappeared",
                self.partition, self.topic
            ))
        })
    }
}

fn lock(leaders: &Mutex<Vec<i32>>) -> std::sync::MutexGuard<'_, Vec<i32>> {
    // Replacing the vector whole cannot leave it half-updated, so a poisoned lock is usable.
    leaders.lock().unwrap_or_else(|p| p.into_inner())
}

fn partition_result(response: &ProduceResponse, topic: &str, partition: i32) -> ClientResult<i64> {
    let answer = response
        .responses
        .iter()
        .filter(|t| t.name.0.as_str() == topic)
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == partition)
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "the produce answer has no entry for {topic}-{partition}"
            ))
        })?;
    let message = answer
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .filter(|m| !m.is_empty())
        .or_else(|| {
            answer
                .record_errors
                .first()
                .and_then(|e| e.batch_index_error_message.as_ref().map(|m| m.to_string()))
        })
        .unwrap_or_else(|| format!("producing to {topic}-{partition} failed"));
    match ClientError::from_code(ErrorCode::from_wire(answer.error_code), Some(&message)) {
        Some(e) => Err(e),
        None => Ok(answer.base_offset),
    }
}
