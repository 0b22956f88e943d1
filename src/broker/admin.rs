//! Topic administration: CreateTopics, DeleteTopics.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::BrokerService;
use crate::controller::topic_config;
use crate::limits::PARTITIONS_PER_REQUEST_MAX;
use crate::messages::{Refusal, TopicMeta, TopicsReply, TopicsRequest};
use crate::types::ErrorCode;

impl BrokerService {
    pub(super) async fn create_topics(
        &self,
        request: CreateTopicsRequest,
        version: i16,
    ) -> Result<CreateTopicsResponse, String> {
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
            let ask = TopicsRequest::Create {
                name: name.clone(),
                partitions,
                replication_factor,
                configs,
                validate_only,
            };
            let mut reply = self.topics(ask).await?;
            if let (TopicsReply::Topic(meta), false) = (&reply, validate_only) {
                if let Err(error) = self.ensure_partitions(&name, meta).await {
                    reply = self.roll_back_creation(&name, meta, error).await?;
                }
            }
            results.push(match reply {
                // Fields only from the version that has them (kafka-protocol refuses otherwise).
                TopicsReply::Topic(meta) if version >= 7 => result
                    .with_topic_id(uuid::Uuid::from_bytes(meta.id))
                    .with_num_partitions(meta.partitions)
                    .with_replication_factor(meta.replication_factor),
                TopicsReply::Topic(meta) if version >= 5 => result
                    .with_num_partitions(meta.partitions)
                    .with_replication_factor(meta.replication_factor),
                TopicsReply::Topic(_) => result,
                TopicsReply::Refused(refusal) => result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message))),
                other => return Err(format!("unexpected topics reply {other:?}")),
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
        error: String,
    ) -> Result<TopicsReply, String> {
        tracing::error!(topic = name, %error, "cannot open the new topic's logs; removing it");
        if let Err(cleanup) = self.delete_partitions(name, meta.partitions).await {
            // Unregister anyway: a registry naming logs that do not exist is the bug.
            tracing::warn!(topic = name, error = %cleanup, "cannot remove the new topic's partial logs");
        }
        match self
            .topics(TopicsRequest::Delete {
                name: name.to_string(),
            })
            .await?
        {
            TopicsReply::Topic(_) | TopicsReply::Refused(_) => Ok(TopicsReply::Refused(Refusal {
                code: ErrorCode::KAFKA_STORAGE_ERROR,
                message: format!("cannot create the topic's logs: {error}"),
            })),
            other => Err(format!("unexpected topics reply {other:?}")),
        }
    }

    pub(super) async fn delete_topics(
        &self,
        request: DeleteTopicsRequest,
        version: i16,
    ) -> Result<DeleteTopicsResponse, String> {
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
            let reply = self
                .topics(TopicsRequest::Delete { name: name.clone() })
                .await?;
            if let TopicsReply::Topic(meta) = &reply {
                self.delete_partitions(&name, meta.partitions).await?;
            }
            results.push(match reply {
                TopicsReply::Topic(meta) if version >= 6 => {
                    result.with_topic_id(uuid::Uuid::from_bytes(meta.id))
                }
                TopicsReply::Topic(_) => result,
                TopicsReply::Refused(refusal) if version >= 5 => result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message))),
                TopicsReply::Refused(refusal) => result.with_error_code(refusal.code.wire()),
                other => return Err(format!("unexpected topics reply {other:?}")),
            });
        }
        Ok(DeleteTopicsResponse::default().with_responses(results))
    }
}
