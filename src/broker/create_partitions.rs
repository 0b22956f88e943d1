//! CreatePartitions: the request goes to the topics actor whole, which grows each topic (the
//! registry first, then the new partition logs) and answers one outcome per topic.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{self as kafka, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::authorize::TOPIC_NOT_AUTHORIZED;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{CreatePartitionsRequest, Growth, NodeMsg};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::ErrorCode;

/// The first version refusing topics over the mutation quota (KIP-599's "strict"; older ones
/// are only throttled).
const STRICT_SINCE: i16 = 3;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn create_partitions(
        &self,
        mut request: kafka::CreatePartitionsRequest,
        frame: &KafkaRequest,
    ) -> Result<CreatePartitionsResponse, GatewayError> {
        // Kafka's check: ALTER on each topic.
        let access = self.access(frame, "CreatePartitions");
        let (allowed, refused): (Vec<_>, Vec<_>) = (std::mem::take(&mut request.topics)
            .into_iter())
        .partition(|t| access.allows(AclOperation::Alter, ResourceType::Topic, &t.name));
        request.topics = allowed;
        let refused: Vec<_> = (refused.into_iter())
            .map(|topic| {
                CreatePartitionsTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire())
                    .with_error_message(Some(StrBytes::from_static_str(TOPIC_NOT_AUTHORIZED)))
            })
            .collect();
        let mut refused = refused;
        // `controller_mutation_rate`: the partitions each topic adds, refused once exceeded.
        let quota = self.mutation_quota(frame, request.validate_only, STRICT_SINCE);
        if let Some(quota) = &quota {
            let known = self.list_topics().await?;
            let (admitted, throttled) =
                quota.admit_each(std::mem::take(&mut request.topics), |t| {
                    let now =
                        (known.get(t.name.0.as_str())).map_or(t.count, |meta| meta.partitions);
                    // Widened: a count is the client's, any i32.
                    u64::try_from(i64::from(t.count) - i64::from(now)).unwrap_or(0)
                });
            request.topics = admitted;
            refused.extend(throttled.into_iter().map(|(topic, refusal)| {
                CreatePartitionsTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message)))
            }));
        }
        let throttle_ms = quota.as_ref().map_or(0, |quota| quota.throttle_ms());
        if request.topics.is_empty() {
            return Ok(CreatePartitionsResponse::default()
                .with_results(refused)
                .with_throttle_time_ms(throttle_ms));
        }
        let grow = CreatePartitionsRequest {
            topics: request
                .topics
                .iter()
                .map(|topic| Growth {
                    name: topic.name.0.to_string(),
                    count: topic.count,
                    assignments: topic.assignments.as_ref().map(|a| {
                        a.iter()
                            .map(|r| r.broker_ids.iter().map(|b| b.0).collect())
                            .collect()
                    }),
                })
                .collect(),
            validate_only: request.validate_only,
        };
        let outcomes = ask(&self.node, grow).await?;
        let mut results: Vec<_> = request
            .topics
            .into_iter()
            .zip(outcomes)
            .map(|(topic, outcome)| {
                let result = CreatePartitionsTopicResult::default().with_name(topic.name);
                match outcome {
                    Ok(()) => result,
                    Err(refusal) => result
                        .with_error_code(refusal.code.wire())
                        .with_error_message(Some(StrBytes::from_string(refusal.message))),
                }
            })
            .collect();
        results.extend(refused);
        Ok(CreatePartitionsResponse::default()
            .with_results(results)
            .with_throttle_time_ms(throttle_ms))
    }
}
