//! Topic administration: CreateTopics, DeleteTopics.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::controller::topic_config;
use crate::limits::PARTITIONS_PER_REQUEST_MAX;
use crate::messages::call::ask;
use crate::messages::{CreateTopicRequest, DeleteTopicRequest, NodeMsg, Refusal, TopicMeta};
use crate::types::ErrorCode;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn create_topics(
        &self,
        request: CreateTopicsRequest,
        version: i16,
    ) -> Result<CreateTopicsResponse, GatewayError> {
        let mut results = Vec::new();
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
        for topic in request.topics {
            let name = topic.name.0.to_string();
            // -1 means "the broker default" (KIP-464).
            let partitions = if topic.num_partitions == -1 {
                self.settings.num_partitions as i32
            } else {
                topic.num_partitions
            };
            let replication_factor = if topic.replication_factor == -1 {
                self.settings.default_replication_factor as i16
            } else {
                topic.replication_factor
            };
            let configs: BTreeMap<String, String> = topic
                .configs
                .into_iter()
                .filter_map(|c| c.value.map(|v| (c.name.to_string(), v.to_string())))
                .collect();
            let result = CreatableTopicResult::default()
                .with_name(TopicName(StrBytes::from_string(name.clone())));
            if let Err(message) = topic_config::resolve(&self.settings.log, &configs) {
                results.push(
                    result
                        .with_error_code(ErrorCode::INVALID_CONFIG.wire())
                        .with_error_message(Some(StrBytes::from_string(message))),
                );
                continue;
            }
            let validate_only = request.validate_only;
            let create = CreateTopicRequest {
                name: name.clone(),
                partitions,
                replication_factor,
                configs,
                validate_only,
            };
            let mut change = ask(&self.node, create).await?;
            if let (Ok(meta), false) = (&change, validate_only) {
                if let Err(error) = self.ensure_partitions(&name, meta).await {
                    change = Err(self.roll_back_creation(&name, meta, error).await?);
                }
            }
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
        Ok(CreateTopicsResponse::default().with_topics(results))
    }

    /// Kafka's per-request bound: more than [`PARTITIONS_PER_REQUEST_MAX`] partitions in one
    /// CreateTopics (all topics together, -1 counting as `num.partitions`) is POLICY_VIOLATION.
    fn too_many_partitions(&self, request: &CreateTopicsRequest) -> Option<Refusal> {
        let total: i64 = request
            .topics
            .iter()
            .map(|t| match t.num_partitions {
                -1 if t.assignments.is_empty() => i64::from(self.settings.num_partitions),
                -1 => t.assignments.len() as i64,
                n => i64::from(n.max(0)),
            })
            .sum();
        (total > PARTITIONS_PER_REQUEST_MAX).then(|| Refusal {
            code: ErrorCode::POLICY_VIOLATION,
            message: format!(
                "Excessively large number of partitions per request: {total} requested, limit {PARTITIONS_PER_REQUEST_MAX}."
            ),
        })
    }

    /// A topic was registered but its logs could not all be opened: unregister it (and drop
    /// the logs that did open), so Metadata never shows a topic without logs (issue 9's
    /// zombie topics). Answers KAFKA_STORAGE_ERROR with the reason.
    pub(super) async fn roll_back_creation(
        &self,
        name: &str,
        meta: &TopicMeta,
        error: GatewayError,
    ) -> Result<Refusal, GatewayError> {
        tracing::error!(topic = name, %error, "cannot open the new topic's logs; removing it");
        if let Err(cleanup) = self.delete_partitions(name, meta.partitions).await {
            // Unregister anyway: a registry naming logs that do not exist is the bug.
            tracing::warn!(topic = name, error = %cleanup, "cannot remove the new topic's partial logs");
        }
        // Refused or not (already gone), the creation failed.
        let _ = ask(
            &self.node,
            DeleteTopicRequest {
                name: name.to_string(),
            },
        )
        .await?;
        Ok(Refusal {
            code: ErrorCode::KAFKA_STORAGE_ERROR,
            message: format!("cannot create the topic's logs: {error}"),
        })
    }

    pub(super) async fn delete_topics(
        &self,
        request: DeleteTopicsRequest,
        version: i16,
    ) -> Result<DeleteTopicsResponse, GatewayError> {
        // v0-v5 name topics in `topic_names`; v6 in `topics` (by name or id).
        let mut names: Vec<Option<String>> = request
            .topic_names
            .into_iter()
            .map(|n| Some(n.0.to_string()))
            .collect();
        let known = self.list_topics().await?;
        for state in request.topics {
            let by_name = state.name.map(|n| n.0.to_string());
            let by_id = || {
                known
                    .iter()
                    .find(|(_, m)| uuid::Uuid::from_bytes(m.id) == state.topic_id)
                    .map(|(n, _)| n.clone())
            };
            names.push(by_name.or_else(by_id));
        }
        let mut results = Vec::new();
        for name in names {
            let Some(name) = name else {
                results.push(
                    DeletableTopicResult::default()
                        .with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.wire()),
                );
                continue;
            };
            let result = DeletableTopicResult::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))));
            let change = ask(&self.node, DeleteTopicRequest { name: name.clone() }).await?;
            if let Ok(meta) = &change {
                self.delete_partitions(&name, meta.partitions).await?;
            }
            results.push(match change {
                Ok(meta) if version >= 6 => result.with_topic_id(uuid::Uuid::from_bytes(meta.id)),
                Ok(_) => result,
                Err(refusal) if version >= 5 => result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message))),
                Err(refusal) => result.with_error_code(refusal.code.wire()),
            });
        }
        Ok(DeleteTopicsResponse::default().with_responses(results))
    }
}
