//! The workload's administrative calls: creating the topic, getting an idempotent producer
//! identity, listing offsets, and the final drained read after healing.

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, InitProducerIdRequest,
    InitProducerIdResponse, ListOffsetsRequest, ListOffsetsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::consumer::fetch_once;
use super::{topic_name, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::client::{CallError, Connection};
use crate::history::Event;

/// ListOffsets' special timestamps.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

/// Creates the topic, retrying until the broker says it exists.
pub async fn create_topic(w: &Workload, configs: &[(&'static str, String)]) {
    let name = topic_name();
    create_replicated_topic(w, name, w.partitions, w.replication_factor, configs).await
}

/// Creates `name` with `partitions` (one replica each), retrying until the broker says it
/// exists.
pub async fn create_topic_named(
    w: &Workload,
    name: TopicName,
    partitions: i32,
    configs: &[(&'static str, String)],
) {
    create_replicated_topic(w, name, partitions, 1, configs).await
}

/// Creates `name` with `partitions` of `replication_factor` replicas, retrying until the
/// broker says it exists.
pub async fn create_replicated_topic(
    w: &Workload,
    name: TopicName,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&'static str, String)],
) {
    let configs: Vec<CreatableTopicConfig> = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str(k))
                .with_value(Some(StrBytes::from_string(v.clone())))
        })
        .collect();
    let topic = CreatableTopic::default()
        .with_name(name)
        .with_num_partitions(partitions)
        .with_replication_factor(replication_factor)
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
            let code = ErrorCode::from_wire(response.topics[0].error_code);
            if code == ErrorCode::NONE || code == ErrorCode::TOPIC_ALREADY_EXISTS {
                return;
            }
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// An idempotent producer's identity.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub producer_id: i64,
    pub epoch: i16,
}

/// A fresh identity from InitProducerId, retried until the broker gives one.
pub async fn init_producer_id(w: &Workload, producer: u32) -> Identity {
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
            if ErrorCode::from_wire(r.error_code) == ErrorCode::NONE {
                w.record(Event::Identity {
                    producer,
                    producer_id: r.producer_id.0,
                    epoch: r.producer_epoch,
                });
                return Identity {
                    producer_id: r.producer_id.0,
                    epoch: r.producer_epoch,
                };
            }
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// The offset ListOffsets gives for `timestamp` ([`EARLIEST`], [`LATEST`]).
pub async fn list_offset(
    conn: &mut Connection,
    partition: i32,
    timestamp: i64,
) -> Result<i64, CallError> {
    list_offset_of(conn, topic_name(), partition, timestamp).await
}

/// The offset ListOffsets gives for `timestamp` of `partition` of `topic`: an error while the
/// leader cannot say (OFFSET_NOT_AVAILABLE from a leader just elected whose high watermark is
/// behind its predecessor's).
pub async fn list_offset_of(
    conn: &mut Connection,
    topic: TopicName,
    partition: i32,
    timestamp: i64,
) -> Result<i64, CallError> {
    let p = ListOffsetsPartition::default()
        .with_partition_index(partition)
        .with_timestamp(timestamp);
    let request = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(topic)
        .with_partitions(vec![p])]);
    let response: ListOffsetsResponse = conn
        .call(ApiKey::ListOffsets, 5, &request, CALL_TIMEOUT)
        .await?;
    let p = &response.topics[0].partitions[0];
    if ErrorCode::from_wire(p.error_code) != ErrorCode::NONE {
        return Err(CallError::Protocol(format!(
            "list offsets error {}",
            p.error_code
        )));
    }
    Ok(p.offset)
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
        // Every attempt routes afresh: a failure may mean the leader moved.
        let mut conn = w.connect_leader(super::TOPIC, partition).await;
        let Ok(log_start) = list_offset(&mut conn, partition, EARLIEST).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let Ok(high_watermark) = list_offset(&mut conn, partition, LATEST).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let mut records = Vec::new();
        let mut next = log_start;
        while next < high_watermark {
            match fetch_once(&mut conn, partition, next, 100).await {
                Ok(fetched) if fetched.code == ErrorCode::NONE && !fetched.records.is_empty() => {
                    next = fetched.records.last().expect("non-empty").0 + 1;
                    records.extend(fetched.records);
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
