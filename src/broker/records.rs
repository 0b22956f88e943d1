//! DeleteRecords: moves partitions' log start offsets forward (Kafka's `kafka-delete-records`).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{self, DeleteRecordsResult, NodeMsg, OFFSETS_TOPIC};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::{ErrorCode, Offset, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn delete_records(
        &self,
        request: DeleteRecordsRequest,
        frame: &KafkaRequest,
    ) -> Result<DeleteRecordsResponse, GatewayError> {
        // Kafka keys the request by partition: a later listing replaces an earlier one.
        let listed = request.topics.iter().flat_map(|topic| {
            let name = topic.name.0.as_str();
            topic
                .partitions
                .iter()
                .map(move |p| (name, p.partition_index, Offset(p.offset)))
        });
        let partitions =
            super::per_partition::merge(listed).map_err(|e| format!("DeleteRecords: {e}"))?;
        // The internal topic's records belong to the group coordinator (Kafka refuses them with
        // INVALID_TOPIC_EXCEPTION); the other partitions are served as usual.
        // Kafka's check: DELETE on each topic, refused whether or not it exists.
        let access = self.access(frame, "DeleteRecords");
        let (partitions, unauthorized): (Vec<_>, Vec<_>) =
            (partitions.into_iter()).partition(|(tp, _)| {
                access.allows(AclOperation::Delete, ResourceType::Topic, &tp.topic)
            });
        let (partitions, internal): (Vec<_>, Vec<_>) = partitions
            .into_iter()
            .partition(|(tp, _)| tp.topic != OFFSETS_TOPIC);
        let mut results = if partitions.is_empty() {
            Vec::new()
        } else {
            ask(&self.node, messages::DeleteRecordsRequest { partitions }).await?
        };
        results.extend(internal.into_iter().map(|(tp, _)| {
            let refused = DeleteRecordsResult {
                error_code: ErrorCode::INVALID_TOPIC_EXCEPTION,
                low_watermark: Offset::UNKNOWN,
            };
            (tp, refused)
        }));
        results.extend(unauthorized.into_iter().map(|(tp, _)| {
            let refused = DeleteRecordsResult {
                error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                low_watermark: Offset::UNKNOWN,
            };
            (tp, refused)
        }));
        Ok(DeleteRecordsResponse::default().with_topics(group_by_topic(results)))
    }
}

/// Groups per-partition results by topic, topics in the order they first appear.
fn group_by_topic(
    results: Vec<(TopicPartition, DeleteRecordsResult)>,
) -> Vec<DeleteRecordsTopicResult> {
    let partitions = results.into_iter().map(|(tp, result)| {
        let partition = DeleteRecordsPartitionResult::default()
            .with_partition_index(tp.partition)
            .with_low_watermark(result.low_watermark.into())
            .with_error_code(result.error_code.wire());
        (tp, partition)
    });
    super::per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            DeleteRecordsTopicResult::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_grouped_by_topic_in_first_seen_order() {
        let r = |topic: &str, partition, error_code, low_watermark| {
            (
                TopicPartition {
                    topic: topic.into(),
                    partition,
                },
                DeleteRecordsResult {
                    error_code,
                    low_watermark: Offset(low_watermark),
                },
            )
        };
        let topics = group_by_topic(vec![
            r("b", 0, ErrorCode::NONE, 5),
            r("a", 1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1),
            r("b", 2, ErrorCode::NONE, 7),
        ]);
        type Shape<'a> = Vec<(&'a str, Vec<(i32, ErrorCode, i64)>)>;
        let shape: Shape = topics
            .iter()
            .map(|t| {
                (
                    t.name.0.as_str(),
                    t.partitions
                        .iter()
                        .map(|p| {
                            let code = ErrorCode::from_wire(p.error_code);
                            (p.partition_index, code, p.low_watermark)
                        })
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("b", vec![(0, ErrorCode::NONE, 5), (2, ErrorCode::NONE, 7)]),
                ("a", vec![(1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1)])
            ]
        );
    }
}
