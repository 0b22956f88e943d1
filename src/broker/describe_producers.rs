//! DescribeProducers (61) v0 (KIP-664): the producers each named partition's replica here
//! remembers — epoch, last sequence and time, the coordinator epoch of its last marker, and the
//! first offset of its open transaction — for kafka-transactions' `describe-producers`,
//! `find-hanging` and `abort` (`rill transactions`). Kafka's admin client asks each
//! partition's leader, or the broker `--broker-id` names; any replica answers
//! (`partition::describe_producers`).
//!
//! A partition listed twice is asked once and answered once ([`per_partition::merge`]: its
//! answer may hold every producer of the partition, so duplicates would multiply the largest
//! part of the response), and a request may name at most
//! [`crate::limits::REQUEST_PARTITIONS_MAX`] distinct ones.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{
    self as kafka, DescribeProducersRequest, DescribeProducersResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::service::KafkaRequest;
use super::{per_partition, BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{self, NodeMsg, PartitionProducers};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::{ErrorCode, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_producers(
        &self,
        request: DescribeProducersRequest,
        frame: &KafkaRequest,
    ) -> Result<DescribeProducersResponse, GatewayError> {
        let listed = (request.topics.iter()).flat_map(|t| {
            (t.partition_indexes.iter()).map(move |&partition| (t.name.0.as_str(), partition, ()))
        });
        let partitions: Vec<TopicPartition> = per_partition::merge(listed)
            .map_err(|e| GatewayError::Close(format!("DescribeProducers: {e}")))?
            .into_iter()
            .map(|(tp, ())| tp)
            .collect();
        // Kafka's check: READ on each topic.
        let access = self.access(frame, "DescribeProducers");
        let (partitions, refused): (Vec<_>, Vec<_>) = (partitions.into_iter())
            .partition(|tp| access.allows(AclOperation::Read, ResourceType::Topic, &tp.topic));
        let mut answers = match partitions.is_empty() {
            true => Vec::new(),
            false => {
                ask(
                    &self.node,
                    messages::DescribeProducersRequest { partitions },
                )
                .await?
            }
        };
        answers.extend(refused.into_iter().map(|tp| PartitionProducers {
            tp,
            error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            producers: Vec::new(),
        }));
        Ok(describe_producers_response(answers))
    }
}

/// The response: each partition's producers, by topic in the order asked.
pub(super) fn describe_producers_response(
    answers: Vec<PartitionProducers>,
) -> DescribeProducersResponse {
    let partitions = answers.into_iter().map(|answer| {
        let producers = (answer.producers.iter())
            .map(|p| {
                ProducerState::default()
                    .with_producer_id(kafka::ProducerId(p.producer_id.0))
                    .with_producer_epoch(i32::from(p.producer_epoch))
                    .with_last_sequence(p.last_sequence)
                    .with_last_timestamp(p.last_timestamp_ms)
                    .with_coordinator_epoch(p.coordinator_epoch)
                    .with_current_txn_start_offset(p.current_txn_start_offset)
            })
            .collect();
        let partition = PartitionResponse::default()
            .with_partition_index(answer.tp.partition)
            .with_error_code(answer.error_code.wire())
            .with_active_producers(producers);
        (answer.tp, partition)
    });
    let topics = (per_partition::group_by_topic(partitions).into_iter())
        .map(|(name, partitions)| {
            TopicResponse::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(topics)
}
