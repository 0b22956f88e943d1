//! Fetch v4–12 (topics by name; no fetch sessions: session id 0 means every request is full,
//! which KIP-227 allows) and ListOffsets v1–7.

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{codec, BrokerService};
use crate::host::kafka::{KafkaRequest, Pending};
use crate::partition::messages::{
    self, NodeMsg, PartitionsReply, PartitionsRequest, TopicPartition, PARTITIONS,
};

impl BrokerService {
    pub(super) async fn fetch(&self, request: &KafkaRequest, body: FetchRequest) -> Pending {
        let mut partitions = Vec::new();
        for topic in body.topics {
            for p in topic.partitions {
                partitions.push(messages::FetchPartition {
                    tp: TopicPartition {
                        topic: topic.topic.0.to_string(),
                        partition: p.partition,
                    },
                    fetch_offset: p.fetch_offset,
                    partition_max_bytes: p.partition_max_bytes,
                });
            }
        }
        let ask = messages::FetchRequest {
            max_wait_ms: body.max_wait_ms,
            min_bytes: body.min_bytes,
            max_bytes: body.max_bytes,
            isolation_level: body.isolation_level,
            partitions,
        };
        let reply = match self
            .node
            .submit(
                PARTITIONS,
                NodeMsg::Partitions(PartitionsRequest::Fetch(ask)),
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(e.to_string()),
        };
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            match reply.await {
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Fetch(results))) => codec::encode(
                    prefix,
                    ApiKey::Fetch,
                    &fetch_response(results, prefix.api_version),
                ),
                other => Err(format!("unexpected fetch reply {other:?}")),
            }
        }))
    }

    pub(super) async fn list_offsets(
        &self,
        body: ListOffsetsRequest,
        version: i16,
    ) -> Result<ListOffsetsResponse, String> {
        let mut partitions = Vec::new();
        for topic in &body.topics {
            for p in &topic.partitions {
                partitions.push((
                    TopicPartition {
                        topic: topic.name.0.to_string(),
                        partition: p.partition_index,
                    },
                    p.timestamp,
                ));
            }
        }
        let ask = messages::ListOffsetsRequest {
            isolation_level: body.isolation_level,
            partitions,
        };
        let results = match self
            .node
            .request(
                PARTITIONS,
                NodeMsg::Partitions(PartitionsRequest::ListOffsets(ask)),
            )
            .await
        {
            Ok(NodeMsg::PartitionsReply(PartitionsReply::ListOffsets(results))) => results,
            other => return Err(format!("unexpected list offsets reply {other:?}")),
        };
        let mut topics: Vec<ListOffsetsTopicResponse> = Vec::new();
        for (tp, result) in results {
            let mut partition = ListOffsetsPartitionResponse::default()
                .with_partition_index(tp.partition)
                .with_error_code(result.error_code)
                .with_timestamp(result.timestamp)
                .with_offset(result.offset);
            if version >= 4 && result.error_code == 0 {
                partition = partition.with_leader_epoch(0);
            }
            match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
                Some(topic) => topic.partitions.push(partition),
                None => topics.push(
                    ListOffsetsTopicResponse::default()
                        .with_name(TopicName(StrBytes::from_string(tp.topic)))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        Ok(ListOffsetsResponse::default().with_topics(topics))
    }
}

fn fetch_response(results: Vec<messages::FetchPartitionResult>, version: i16) -> FetchResponse {
    let mut topics: Vec<FetchableTopicResponse> = Vec::new();
    for result in results {
        let mut partition = PartitionData::default()
            .with_partition_index(result.tp.partition)
            .with_error_code(result.error_code)
            .with_high_watermark(result.high_watermark)
            .with_last_stable_offset(result.last_stable_offset)
            .with_records(Some(bytes::Bytes::from(result.records)));
        if version >= 5 {
            partition = partition.with_log_start_offset(result.log_start_offset);
        }
        match topics
            .iter_mut()
            .find(|t| t.topic.0.as_str() == result.tp.topic)
        {
            Some(topic) => topic.partitions.push(partition),
            None => topics.push(
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_string(result.tp.topic)))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    FetchResponse::default().with_responses(topics)
}
