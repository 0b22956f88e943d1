//! Workload clients: producers that send unique values and consumers that read their assigned
//! partition in order, speaking the real Kafka protocol over simulated TCP and recording every
//! step in the [`History`]. They retry like real clients do.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
    InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse,
    ProduceRequest, ProduceResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::time::Instant;

use crate::client::{CallError, Connection};
use crate::history::{Event, History, SendOutcome};

/// Every call waits at most this long (simulated time); then its outcome is unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between retries.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);
/// Attempts per value before giving up on it.
const ATTEMPTS_MAX: u32 = 20;

pub const TOPIC: &str = "sim";

/// What every workload task needs.
#[derive(Clone)]
pub struct Workload {
    pub broker: SocketAddr,
    pub partitions: i32,
    pub acks: i16,
    pub idempotent: bool,
    pub history: History,
    pub started: Instant,
}

impl Workload {
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&self, event: Event) {
        self.history.record(self.now_ms(), event);
    }

    async fn connect(&self) -> Connection {
        loop {
            match Connection::connect(self.broker, CALL_TIMEOUT).await {
                Ok(conn) => return conn,
                Err(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            }
        }
    }
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

/// Creates the topic, retrying until the broker says it exists.
pub async fn create_topic(w: &Workload, configs: &[(&'static str, String)]) {
    let configs: Vec<CreatableTopicConfig> = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str(k))
                .with_value(Some(StrBytes::from_string(v.clone())))
        })
        .collect();
    let topic = CreatableTopic::default()
        .with_name(topic_name())
        .with_num_partitions(w.partitions)
        .with_replication_factor(1)
        .with_configs(configs);
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(5000);
    loop {
        let mut conn = w.connect().await;
        if let Ok(response) = conn
            .call::<_, CreateTopicsResponse>(ApiKey::CreateTopics, 5, &request, CALL_TIMEOUT)
            .await
        {
            if matches!(response.topics[0].error_code, 0 | 36) {
                return;
            }
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// Idempotent producer identity and its next sequence on its partition.
struct Identity {
    producer_id: i64,
    epoch: i16,
    next_sequence: i32,
}

async fn init_producer_id(w: &Workload, producer: u32) -> Identity {
    // Not transactional: a null transactional id (the crate's default is `Some("")`).
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    loop {
        let mut conn = w.connect().await;
        if let Ok(r) = conn
            .call::<_, InitProducerIdResponse>(ApiKey::InitProducerId, 4, &request, CALL_TIMEOUT)
            .await
        {
            if r.error_code == 0 {
                w.record(Event::Identity {
                    producer,
                    producer_id: r.producer_id.0,
                    epoch: r.producer_epoch,
                });
                return Identity {
                    producer_id: r.producer_id.0,
                    epoch: r.producer_epoch,
                    next_sequence: 0,
                };
            }
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

fn encode_batch(
    value: &str,
    key: &str,
    identity: Option<&Identity>,
    timestamp_ms: i64,
) -> bytes::Bytes {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: identity.map_or(-1, |i| i.producer_id),
        producer_epoch: identity.map_or(-1, |i| i.epoch),
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: identity.map_or(-1, |i| i.next_sequence),
        timestamp: timestamp_ms,
        key: Some(bytes::Bytes::copy_from_slice(key.as_bytes())),
        value: Some(bytes::Bytes::copy_from_slice(value.as_bytes())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, [&record], &options)
        .expect("one uncompressed record encodes");
    buf.freeze()
}

/// Error codes worth retrying with the same batch: the broker is (re)starting or busy.
fn retriable(code: i16) -> bool {
    matches!(code, 3 | 6 | 7 | 56)
}

/// Sends unique values `p{id}-{n}` to one partition, one at a time, until `until`.
pub async fn producer(w: Workload, id: u32, until: Instant) {
    let partition = id as i32 % w.partitions;
    let key = format!("p{id}");
    let mut identity = if w.idempotent {
        Some(init_producer_id(&w, id).await)
    } else {
        None
    };
    let mut conn: Option<Connection> = None;
    let mut n = 0u64;
    while Instant::now() < until {
        let value = format!("p{id}-{n}");
        n += 1;
        w.record(Event::Send {
            producer: id,
            partition,
            value: value.clone(),
        });
        // The same bytes (same sequence) on every attempt: that is what lets the broker
        // recognise a retry.
        let batch = encode_batch(
            &value,
            &key,
            identity.as_ref(),
            // The simulated wall clock, which the broker's clock also reads: the broker refuses
            // CreateTime records more than `message.timestamp.after.max.ms` ahead of it.
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        );
        let data = PartitionProduceData::default()
            .with_index(partition)
            .with_records(Some(batch));
        let request = ProduceRequest::default()
            .with_acks(w.acks)
            .with_timeout_ms(CALL_TIMEOUT.as_millis() as i32)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name())
                .with_partition_data(vec![data])]);
        let mut unknown: Option<String> = None;
        let mut outcome = None;
        for _ in 0..ATTEMPTS_MAX {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(w.connect().await),
            };
            match c
                .call::<_, ProduceResponse>(ApiKey::Produce, 8, &request, CALL_TIMEOUT)
                .await
            {
                Ok(response) => {
                    let p = &response.responses[0].partition_responses[0];
                    if p.error_code == 0 {
                        outcome = Some(SendOutcome::Ok {
                            offset: p.base_offset,
                        });
                        break;
                    }
                    if !retriable(p.error_code) {
                        outcome = Some(match unknown.take() {
                            Some(why) => SendOutcome::Unknown { why },
                            None => SendOutcome::Fail { code: p.error_code },
                        });
                        break;
                    }
                }
                Err(e) => {
                    conn = None;
                    unknown.get_or_insert_with(|| e.to_string());
                }
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        let outcome = outcome.unwrap_or_else(|| SendOutcome::Unknown {
            why: unknown.unwrap_or_else(|| "retries exhausted".into()),
        });
        if let Some(identity) = identity.as_mut() {
            match &outcome {
                SendOutcome::Ok { .. } => identity.next_sequence += 1,
                // The broker's view of our sequence is unknown now: start a new identity.
                _ => *identity = init_producer_id(&w, id).await,
            }
        }
        w.record(Event::Sent {
            producer: id,
            partition,
            value,
            outcome,
        });
    }
}

fn fetch_request(partition: i32, offset: i64, max_wait_ms: i32) -> FetchRequest {
    let p = FetchPartition::default()
        .with_partition(partition)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name())
            .with_partitions(vec![p])])
}

/// One fetch: (error code, high watermark, log start, records at or after `offset`).
async fn fetch_once(
    conn: &mut Connection,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Result<(i16, i64, i64, Vec<(i64, String)>), CallError> {
    let response: FetchResponse = conn
        .call(
            ApiKey::Fetch,
            11,
            &fetch_request(partition, offset, max_wait_ms),
            CALL_TIMEOUT,
        )
        .await?;
    let data = &response.responses[0].partitions[0];
    let mut records = Vec::new();
    if let Some(bytes) = &data.records {
        let mut buf = bytes.clone();
        let sets = RecordBatchDecoder::decode_all(&mut buf)
            .map_err(|e| CallError::Protocol(format!("undecodable records: {e}")))?;
        for set in sets {
            for r in set.records {
                if r.offset >= offset {
                    let value = r
                        .value
                        .map(|v| String::from_utf8_lossy(&v).into_owned())
                        .unwrap_or_default();
                    records.push((r.offset, value));
                }
            }
        }
    }
    Ok((
        data.error_code,
        data.high_watermark,
        data.log_start_offset,
        records,
    ))
}

async fn list_offset(
    conn: &mut Connection,
    partition: i32,
    timestamp: i64,
) -> Result<i64, CallError> {
    let p = ListOffsetsPartition::default()
        .with_partition_index(partition)
        .with_timestamp(timestamp);
    let request = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(topic_name())
        .with_partitions(vec![p])]);
    let response: ListOffsetsResponse = conn
        .call(ApiKey::ListOffsets, 5, &request, CALL_TIMEOUT)
        .await?;
    let p = &response.topics[0].partitions[0];
    if p.error_code != 0 {
        return Err(CallError::Protocol(format!(
            "list offsets error {}",
            p.error_code
        )));
    }
    Ok(p.offset)
}

/// Reads `partition` from offset 0 in order until `until`, recording every record seen.
pub async fn consumer(w: Workload, id: u32, partition: i32, until: Instant) {
    let mut conn: Option<Connection> = None;
    let mut next = 0i64;
    while Instant::now() < until {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(w.connect().await),
        };
        match fetch_once(c, partition, next, 100).await {
            Ok((0, _, _, records)) => {
                for (offset, value) in records {
                    w.record(Event::Poll {
                        consumer: id,
                        partition,
                        offset,
                        value,
                    });
                    next = offset + 1;
                }
            }
            Ok((1, hw, log_start, _)) => {
                // Out of range: the log was truncated (lost unsynced data) or retention moved
                // its start. Like a consumer with auto.offset.reset, jump into range.
                let to = if next < log_start {
                    log_start
                } else {
                    hw.max(log_start)
                };
                w.record(Event::Reset {
                    consumer: id,
                    partition,
                    from: next,
                    to,
                });
                next = to;
            }
            Ok(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            Err(CallError::Protocol(detail)) if detail.starts_with("undecodable") => {
                w.record(Event::Fault {
                    kind: "corrupt-read",
                    detail: format!("partition {partition} at {next}: {detail}"),
                });
                conn = None;
            }
            Err(_) => conn = None,
        }
    }
}

/// After healing: reads each partition from its log start to its high watermark. Records a
/// `FinalRead`, or `FinalReadTimedOut` when it cannot finish by `deadline` (liveness).
pub async fn final_read(w: &Workload, deadline: Instant) {
    for partition in 0..w.partitions {
        let result = tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            read_partition_fully(w, partition),
        )
        .await;
        match result {
            Ok((log_start, high_watermark, records)) => w.record(Event::FinalRead {
                partition,
                log_start,
                high_watermark,
                records,
            }),
            Err(_) => w.record(Event::FinalReadTimedOut {
                partition,
                detail: "no complete read before the liveness deadline".into(),
            }),
        }
    }
}

async fn read_partition_fully(w: &Workload, partition: i32) -> (i64, i64, Vec<(i64, String)>) {
    'attempt: loop {
        let mut conn = w.connect().await;
        let Ok(log_start) = list_offset(&mut conn, partition, -2).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let Ok(high_watermark) = list_offset(&mut conn, partition, -1).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let mut records = Vec::new();
        let mut next = log_start;
        while next < high_watermark {
            match fetch_once(&mut conn, partition, next, 100).await {
                Ok((0, _, _, batch)) if !batch.is_empty() => {
                    next = batch.last().expect("non-empty").0 + 1;
                    records.extend(batch);
                }
                _ => {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue 'attempt;
                }
            }
        }
        return (log_start, high_watermark, records);
    }
}
