//! The partitions' side of transactions, as an admin sees it (KIP-664, Kafka's
//! `Admin.describeProducers` and `abortTransaction`): DescribeProducers of each partition's
//! leader (or of one broker named), and an ABORT marker written with WriteTxnMarkers by a
//! partition's leader, to end a transaction no coordinator will end (a hanging one).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, ProducerId, TopicName,
    WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::group::str_bytes;
use super::transactions::retrying;
use crate::types::ErrorCode;

/// A topic partition as the tools name it.
pub type Partition = (String, i32);

/// The most partitions one DescribeProducers asks (Kafka's `find-hanging` batches its requests
/// so, "to avoid overwhelming" a broker).
pub const DESCRIBE_PRODUCERS_BATCH_MAX: usize = 500;

/// One producer a partition's replica remembers (Kafka's admin `ProducerState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    pub producer_id: i64,
    pub producer_epoch: i32,
    pub last_sequence: i32,
    pub last_timestamp_ms: i64,
    /// The coordinator epoch of its last marker there; `None` before any (the broker's -1).
    pub coordinator_epoch: Option<i32>,
    /// The first offset of its open transaction there; `None` when none is open.
    pub current_txn_start_offset: Option<i64>,
}

/// Which transaction an ABORT marker ends (Kafka's `AbortTransactionSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortSpec {
    pub partition: Partition,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
}

/// The producers of each of `partitions`, asked of its leader, or of broker `broker_id` for
/// all of them (a follower answers from its own copy). Any partition refused fails the whole
/// call, as Kafka's `all()` does; a leader moving is asked again.
pub async fn describe_producers(
    client: &Client,
    partitions: &[Partition],
    broker_id: Option<i32>,
) -> ClientResult<BTreeMap<Partition, Vec<ProducerState>>> {
    retrying(client, || describe_once(client, partitions, broker_id)).await
}

async fn describe_once(
    client: &Client,
    partitions: &[Partition],
    broker_id: Option<i32>,
) -> ClientResult<BTreeMap<Partition, Vec<ProducerState>>> {
    let by_broker = route(client, partitions, broker_id).await?;
    let mut described = BTreeMap::new();
    for (node_id, partitions) in by_broker {
        for batch in partitions.chunks(DESCRIBE_PRODUCERS_BATCH_MAX) {
            let answered = describe_at(client, node_id, batch, broker_id.is_some()).await?;
            described.extend(answered);
        }
    }
    Ok(described)
}

/// Each partition's destination: `broker_id`, or its leader as the metadata says now.
async fn route(
    client: &Client,
    partitions: &[Partition],
    broker_id: Option<i32>,
) -> ClientResult<BTreeMap<i32, Vec<Partition>>> {
    let mut topics: Vec<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    let metadata = client.metadata(Some(&topics), false).await?;
    let mut by_broker: BTreeMap<i32, Vec<Partition>> = BTreeMap::new();
    for (topic, partition) in partitions {
        // A partition the cluster's metadata does not have is final: no retry makes it exist
        // (a retriable UNKNOWN_TOPIC_OR_PARTITION would be waited on for the whole timeout).
        let info = metadata.topic(topic).map_err(|e| match e.code() {
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => ClientError::Invalid(e.to_string()),
            _ => e,
        })?;
        let known = info.partitions.iter().find(|p| p.partition == *partition);
        let Some(known) = known else {
            return Err(ClientError::Invalid(format!(
                "UNKNOWN_TOPIC_OR_PARTITION: topic '{topic}' has no partition {partition}"
            )));
        };
        let node_id = match broker_id {
            Some(id) => id,
            None if known.leader >= 0 => known.leader,
            None => {
                return Err(ClientError::Broker {
                    code: ErrorCode::LEADER_NOT_AVAILABLE,
                    message: format!("{topic}-{partition} has no leader"),
                })
            }
        };
        by_broker
            .entry(node_id)
            .or_default()
            .push((topic.clone(), *partition));
    }
    Ok(by_broker)
}

/// DescribeProducers of `partitions` at broker `node_id`. `named`: the user named the broker,
/// so its NOT_LEADER_OR_FOLLOWER (no replica there) is final, as in Kafka's admin client.
async fn describe_at(
    client: &Client,
    node_id: i32,
    partitions: &[Partition],
    named: bool,
) -> ClientResult<BTreeMap<Partition, Vec<ProducerState>>> {
    let connection = client.broker(node_id).await?;
    let version = connection.version(ApiKey::DescribeProducers)?;
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let topics = (by_topic.into_iter())
        .map(|(topic, indexes)| {
            TopicRequest::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partition_indexes(indexes)
        })
        .collect();
    let request = DescribeProducersRequest::default().with_topics(topics);
    let response: DescribeProducersResponse = connection
        .call(ApiKey::DescribeProducers, version, &request)
        .await?;
    let mut described = BTreeMap::new();
    for topic in response.topics {
        let name = topic.name.0.to_string();
        for answer in topic.partitions {
            let code = ErrorCode::from_wire(answer.error_code);
            let at = format!("{name}-{}", answer.partition_index);
            if named && code == ErrorCode::NOT_LEADER_OR_FOLLOWER {
                return Err(ClientError::Invalid(format!(
                    "broker {node_id} holds no replica of {at} (NOT_LEADER_OR_FOLLOWER)"
                )));
            }
            let message = answer.error_message.as_ref().map(|m| m.to_string());
            let context = message.unwrap_or_else(|| format!("describing the producers of {at}"));
            if let Some(e) = ClientError::from_code(code, Some(&context)) {
                return Err(e);
            }
            let producers = (answer.active_producers.iter())
                .map(|p| ProducerState {
                    producer_id: p.producer_id.0,
                    producer_epoch: p.producer_epoch,
                    last_sequence: p.last_sequence,
                    last_timestamp_ms: p.last_timestamp,
                    coordinator_epoch: Some(p.coordinator_epoch).filter(|&e| e >= 0),
                    current_txn_start_offset: Some(p.current_txn_start_offset).filter(|&o| o >= 0),
                })
                .collect();
            described.insert((name.clone(), answer.partition_index), producers);
        }
    }
    let missing = partitions.iter().find(|p| !described.contains_key(*p));
    if let Some((topic, partition)) = missing {
        return Err(ClientError::Protocol(format!(
            "the DescribeProducers answer of broker {node_id} has no entry for \
             {topic}-{partition}"
        )));
    }
    Ok(described)
}

/// Writes the ABORT marker `spec` names at its partition's leader (found again while the
/// leadership moves), and waits for its acknowledgement.
pub async fn abort_transaction(client: &Client, spec: &AbortSpec) -> ClientResult<()> {
    retrying(client, || abort_once(client, spec)).await
}

async fn abort_once(client: &Client, spec: &AbortSpec) -> ClientResult<()> {
    let (topic, partition) = &spec.partition;
    let by_broker = route(client, std::slice::from_ref(&spec.partition), None).await?;
    let leader = *by_broker.keys().next().expect("one partition, one leader");
    let connection = client.broker(leader).await?;
    let version = connection.version(ApiKey::WriteTxnMarkers)?;
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(spec.producer_id))
        .with_producer_epoch(spec.producer_epoch)
        .with_transaction_result(false)
        .with_coordinator_epoch(spec.coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(TopicName(str_bytes(topic)))
            .with_partition_indexes(vec![*partition])]);
    let request = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
    let response: WriteTxnMarkersResponse = connection
        .call(ApiKey::WriteTxnMarkers, version, &request)
        .await?;
    let code = (response.markers.iter())
        .filter(|m| m.producer_id.0 == spec.producer_id)
        .flat_map(|m| m.topics.iter().filter(|t| t.name.0.as_str() == topic))
        .flat_map(|t| t.partitions.iter())
        .find(|p| p.partition_index == *partition)
        .map(|p| ErrorCode::from_wire(p.error_code))
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "the WriteTxnMarkers answer has no entry for {topic}-{partition}"
            ))
        })?;
    let context = format!("writing the ABORT marker to {topic}-{partition} at broker {leader}");
    match ClientError::from_code(code, Some(&context)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
