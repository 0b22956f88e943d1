//! Produce v3–9: hands the record batches to the PARTITIONS actor in request order and answers
//! when it does (after the append for acks=1, after the covering fsync for acks=all under the
//! durable flush policy). acks=0 gets no answer at all.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{codec, BrokerService};

/// Kafka error INVALID_REQUIRED_ACKS.
const INVALID_REQUIRED_ACKS: i16 = 21;
use crate::host::kafka::{KafkaRequest, Pending};
use crate::limits::PRODUCE_DECOMPRESSED_BYTES_MAX;
use crate::partition::messages::{
    self, NodeMsg, PartitionsReply, PartitionsRequest, TopicPartition, PARTITIONS,
};
use crate::storage::records;

impl BrokerService {
    pub(super) async fn produce(&self, request: &KafkaRequest, body: ProduceRequest) -> Pending {
        let version = request.prefix.api_version;
        let acks = body.acks;
        if !matches!(acks, -1..=1) {
            // Kafka answers every partition with INVALID_REQUIRED_ACKS.
            let results = body
                .topic_data
                .iter()
                .flat_map(|t| {
                    t.partition_data.iter().map(|p| {
                        let tp = TopicPartition {
                            topic: t.name.0.to_string(),
                            partition: p.index,
                        };
                        let result = messages::ProducePartitionResult {
                            error_code: INVALID_REQUIRED_ACKS,
                            error_message: Some(format!("acks={acks} is not -1, 0 or 1")),
                            base_offset: -1,
                            log_append_time_ms: -1,
                            log_start_offset: -1,
                        };
                        (tp, result)
                    })
                })
                .collect();
            return codec::respond(
                request,
                ApiKey::Produce,
                &produce_response(results, version),
            );
        }
        let mut partitions = Vec::new();
        let mut checked = Vec::new();
        // Every record is walked here, on this connection's task, not on the partitions actor:
        // decompression costs this client's time only. The budget bounds the whole request.
        let mut budget = PRODUCE_DECOMPRESSED_BYTES_MAX;
        for topic in body.topic_data {
            for data in topic.partition_data {
                let tp = TopicPartition {
                    topic: topic.name.0.to_string(),
                    partition: data.index,
                };
                let mut records = data.records.map(|b| b.to_vec()).unwrap_or_default();
                checked.push(records::check_produced(&mut records, &mut budget));
                partitions.push((tp, records));
            }
        }
        let ask = messages::ProduceRequest {
            acks,
            timeout_ms: body.timeout_ms,
            partitions,
            checked,
        };
        let reply = match self
            .node
            .submit(
                PARTITIONS,
                NodeMsg::Partitions(PartitionsRequest::Produce(ask)),
            )
            .await
        {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(e.to_string()),
        };
        if acks == 0 {
            // The client expects no response; the actor's reply is dropped when it comes.
            return Pending::Ready(None);
        }
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            match reply.await {
                Ok(NodeMsg::PartitionsReply(PartitionsReply::Produce(results))) => {
                    codec::encode(prefix, ApiKey::Produce, &produce_response(results, version))
                }
                other => Err(format!("unexpected produce reply {other:?}")),
            }
        }))
    }
}

fn produce_response(
    results: Vec<(TopicPartition, messages::ProducePartitionResult)>,
    version: i16,
) -> ProduceResponse {
    // Group per topic, keeping the order in which topics first appear.
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    for (tp, result) in results {
        let mut partition = PartitionProduceResponse::default()
            .with_index(tp.partition)
            .with_error_code(result.error_code)
            .with_base_offset(result.base_offset)
            .with_log_append_time_ms(result.log_append_time_ms);
        if version >= 5 {
            partition = partition.with_log_start_offset(result.log_start_offset);
        }
        if version >= 8 {
            partition =
                partition.with_error_message(result.error_message.map(StrBytes::from_string));
        }
        match topics.iter_mut().find(|t| t.name.0.as_str() == tp.topic) {
            Some(topic) => topic.partition_responses.push(partition),
            None => topics.push(
                TopicProduceResponse::default()
                    .with_name(TopicName(StrBytes::from_string(tp.topic)))
                    .with_partition_responses(vec![partition]),
            ),
        }
    }
    ProduceResponse::default().with_responses(topics)
}
