//! CreateTopics and DeleteTopics: the request goes to the topics actor whole (it runs topic
//! administration one operation at a time) and its outcomes are encoded per version.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    self as kafka, CreateTopicsResponse, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authorize::TOPIC_NOT_AUTHORIZED;
use super::mutation_quota::MutationQuota;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::limits::PARTITIONS_PER_REQUEST_MAX;
use crate::messages::call::ask;
use crate::messages::{
    CreateTopicsRequest, DeleteTopicsRequest, NewTopic, NodeMsg, Refusal, TopicDeletion, TopicRef,
};
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::types::ErrorCode;

/// The first versions refusing topics over the mutation quota (KIP-599's "strict" versions;
/// older ones are only throttled).
const CREATE_TOPICS_STRICT_SINCE: i16 = 6;
const DELETE_TOPICS_STRICT_SINCE: i16 = 5;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn create_topics(
        &self,
        mut request: kafka::CreateTopicsRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<CreateTopicsResponse, GatewayError> {
        let mut results = Vec::new();
        // Kafka's check: CREATE on the cluster, else CREATE on each topic.
        let access = self.access(frame, "CreateTopics");
        if !access.sees(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME) {
            let (allowed, refused) = (std::mem::take(&mut request.topics).into_iter())
                .partition(|t| access.allows(AclOperation::Create, ResourceType::Topic, &t.name));
            request.topics = allowed;
            results.extend(refused.into_iter().map(
                |topic: kafka::create_topics_request::CreatableTopic| {
                    CreatableTopicResult::default()
                        .with_name(topic.name)
                        .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire())
                        .with_error_message(Some(StrBytes::from_static_str(TOPIC_NOT_AUTHORIZED)))
                },
            ));
            if request.topics.is_empty() {
                return Ok(CreateTopicsResponse::default().with_topics(results));
            }
        }
        if let Some(refusal) = self.too_many_partitions(&request) {
            // Kafka refuses the whole request, every topic with the same error.
            for topic in request.topics {
                results.push(
                    CreatableTopicResult::default()
                        .with_name(topic.name)
                        .with_error_code(refusal.code.wire())
                        .with_error_message(Some(StrBytes::from_string(refusal.message.clone()))),
                );
            }
            return Ok(CreateTopicsResponse::default().with_topics(results));
        }
        // `controller_mutation_rate`: the topics in order, refused once the quota is exceeded.
        let quota = self.mutation_quota(frame, request.validate_only, CREATE_TOPICS_STRICT_SINCE);
        if let Some(quota) = &quota {
            let (admitted, refused) = quota.admit_each(std::mem::take(&mut request.topics), |t| {
                u64::try_from(self.partitions_asked(t)).unwrap_or(0)
            });
            request.topics = admitted;
            results.extend(refused.into_iter().map(|(topic, refusal)| {
                CreatableTopicResult::default()
                    .with_name(topic.name)
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message)))
            }));
        }
        let throttle_ms = quota.as_ref().map_or(0, |quota| quota.throttle_ms());
        if request.topics.is_empty() {
            return Ok(CreateTopicsResponse::default()
                .with_topics(results)
                .with_throttle_time_ms(throttle_ms));
        }
        let names: Vec<String> = request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .collect();
        let create = CreateTopicsRequest {
            topics: request
                .topics
                .into_iter()
                .map(|topic| NewTopic {
                    name: topic.name.0.to_string(),
                    partitions: topic.num_partitions,
                    replication_factor: topic.replication_factor,
                    configs: topic
                        .configs
                        .into_iter()
                        .filter_map(|c| c.value.map(|v| (c.name.to_string(), v.to_string())))
                        .collect(),
                    assignments: (topic.assignments.into_iter())
                        .map(|a| {
                            (
                                a.partition_index,
                                a.broker_ids.into_iter().map(|b| b.0).collect(),
                            )
                        })
                        .collect(),
                })
                .collect(),
            validate_only: request.validate_only,
        };
        let changes = ask(&self.node, create).await?;
        for (name, change) in names.into_iter().zip(changes) {
            let result =
                CreatableTopicResult::default().with_name(TopicName(StrBytes::from_string(name)));
            results.push(match change {
                // Fields only from the version that has them (kafka-protocol refuses otherwise).
                Ok(meta) if version >= 7 => result
                    .with_topic_id(uuid::Uuid::from_bytes(meta.id))
                    .with_num_partitions(meta.partitions)
                    .with_replication_factor(meta.replication_factor),
                Ok(meta) if version >= 5 => result
                    .with_num_partitions(meta.partitions)
                    .with_replication_factor(meta.replication_factor),
                Ok(_) => result,
                Err(refusal) => result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message))),
            });
        }
        Ok(CreateTopicsResponse::default()
            .with_topics(results)
            .with_throttle_time_ms(throttle_ms))
    }

    /// The partitions a CreateTopics entry asks for (-1: its assignments', or
    /// `num.partitions`).
    fn partitions_asked(&self, topic: &kafka::create_topics_request::CreatableTopic) -> i64 {
        match topic.num_partitions {
            -1 if topic.assignments.is_empty() => i64::from(self.settings.num_partitions),
            -1 => topic.assignments.len() as i64,
            n => i64::from(n.max(0)),
        }
    }

    /// Kafka's per-request bound: more than [`PARTITIONS_PER_REQUEST_MAX`] partitions in one
    /// CreateTopics (all topics together, -1 counting as `num.partitions`) is POLICY_VIOLATION.
    fn too_many_partitions(&self, request: &kafka::CreateTopicsRequest) -> Option<Refusal> {
        let total: i64 = (request.topics.iter())
            .map(|t| self.partitions_asked(t))
            .sum();
        (total > PARTITIONS_PER_REQUEST_MAX).then(|| Refusal {
            code: ErrorCode::POLICY_VIOLATION,
            message: format!(
                "Excessively large number of partitions per request: {total} requested, limit {PARTITIONS_PER_REQUEST_MAX}."
            ),
        })
    }

    pub(super) async fn delete_topics(
        &self,
        request: kafka::DeleteTopicsRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<DeleteTopicsResponse, GatewayError> {
        // v0-v5 name topics in `topic_names`; v6 in `topics` (by name or id).
        let mut topics: Vec<TopicRef> = request
            .topic_names
            .into_iter()
            .map(|n| TopicRef::Name(n.0.to_string()))
            .collect();
        topics.extend(request.topics.into_iter().map(|state| match state.name {
            Some(name) => TopicRef::Name(name.0.to_string()),
            None => TopicRef::Id(state.topic_id.into_bytes()),
        }));
        // Kafka's check: DELETE on the cluster allows every topic; else DELETE on each topic
        // (one named by id is checked by its name; the answer then names only the id).
        let access = self.access(frame, "DeleteTopics");
        let mut results = Vec::new();
        if !access.sees(AclOperation::Delete, ResourceType::Cluster, CLUSTER_NAME) {
            let known = self.list_topics().await?;
            let names_of: BTreeMap<[u8; 16], &String> =
                (known.iter()).map(|(name, meta)| (meta.id, name)).collect();
            let name_of = |id: &[u8; 16]| names_of.get(id).copied();
            let refused = |topic: &TopicRef| match topic {
                TopicRef::Name(name) => {
                    !access.allows(AclOperation::Delete, ResourceType::Topic, name)
                }
                TopicRef::Id(id) => name_of(id).is_some_and(|name| {
                    !access.allows(AclOperation::Delete, ResourceType::Topic, name)
                }),
            };
            let (refused, allowed): (Vec<_>, Vec<_>) = topics.into_iter().partition(refused);
            topics = allowed;
            let error = |r: DeletableTopicResult| {
                let r = r.with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire());
                match version >= 5 {
                    true => {
                        r.with_error_message(Some(StrBytes::from_static_str(TOPIC_NOT_AUTHORIZED)))
                    }
                    false => r,
                }
            };
            results.extend(refused.into_iter().map(|topic| error(deletable(topic))));
            if topics.is_empty() {
                return Ok(DeleteTopicsResponse::default().with_responses(results));
            }
        }
        // `controller_mutation_rate`: the topics in order, refused once the quota is exceeded.
        let quota = self.mutation_quota(frame, false, DELETE_TOPICS_STRICT_SINCE);
        if let Some(quota) = &quota {
            topics = self.admitted_deletions(quota, topics, &mut results).await?;
        }
        let throttle_ms = quota.as_ref().map_or(0, |quota| quota.throttle_ms());
        if topics.is_empty() {
            return Ok(DeleteTopicsResponse::default()
                .with_responses(results)
                .with_throttle_time_ms(throttle_ms));
        }
        let deletions = ask(&self.node, DeleteTopicsRequest { topics })
            .await?
            .map_err(GatewayError::Close)?;
        for TopicDeletion { name, outcome } in deletions {
            let Some(name) = name else {
                results.push(
                    DeletableTopicResult::default()
                        .with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.wire()),
                );
                continue;
            };
            let result = DeletableTopicResult::default()
                .with_name(Some(TopicName(StrBytes::from_string(name))));
            results.push(match outcome {
                Ok(meta) if version >= 6 => result.with_topic_id(uuid::Uuid::from_bytes(meta.id)),
                Ok(_) => result,
                Err(refusal) if version >= 5 => result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message))),
                Err(refusal) => result.with_error_code(refusal.code.wire()),
            });
        }
        Ok(DeleteTopicsResponse::default()
            .with_responses(results)
            .with_throttle_time_ms(throttle_ms))
    }

    /// The `topics` a DeleteTopics may delete under its mutation quota (each counted with its
    /// partitions; one not known counts none and is left to the topics actor to refuse); the
    /// others answered THROTTLING_QUOTA_EXCEEDED into `results`.
    async fn admitted_deletions(
        &self,
        quota: &MutationQuota,
        topics: Vec<TopicRef>,
        results: &mut Vec<DeletableTopicResult>,
    ) -> Result<Vec<TopicRef>, GatewayError> {
        let known = self.list_topics().await?;
        let by_id: BTreeMap<[u8; 16], i32> = (known.values())
            .map(|meta| (meta.id, meta.partitions))
            .collect();
        let (admitted, refused) = quota.admit_each(topics, |topic| {
            let partitions = match topic {
                TopicRef::Name(name) => known.get(name).map(|meta| meta.partitions),
                TopicRef::Id(id) => by_id.get(id).copied(),
            };
            u64::try_from(partitions.unwrap_or(0)).unwrap_or(0)
        });
        results.extend(refused.into_iter().map(|(topic, refusal)| {
            deletable(topic)
                .with_error_code(refusal.code.wire())
                .with_error_message(Some(StrBytes::from_string(refusal.message)))
        }));
        Ok(admitted)
    }
}

/// A DeleteTopics answer's entry for `topic`, by name, or by id alone (as the request named it).
fn deletable(topic: TopicRef) -> DeletableTopicResult {
    match topic {
        TopicRef::Name(name) => {
            DeletableTopicResult::default().with_name(Some(TopicName(StrBytes::from_string(name))))
        }
        TopicRef::Id(id) => DeletableTopicResult::default()
            .with_name(None)
            .with_topic_id(uuid::Uuid::from_bytes(id)),
    }
}
