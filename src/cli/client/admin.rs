//! Admin calls: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
//! IncrementalAlterConfigs, DescribeClientQuotas and AlterClientQuotas, and
//! DescribeTopicPartitions for the eligible leader replicas Metadata lacks. Describe and list
//! are Metadata ([`Client::metadata`]). Each call returns one result per topic (or config
//! resource, or quota entity) so tools can report them separately.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, BrokerId, CreatePartitionsRequest,
    CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
    DescribeConfigsRequest, DescribeConfigsResponse, DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use crate::types::ErrorCode;

/// DescribeConfigs / IncrementalAlterConfigs resource type of a topic.
pub const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs / IncrementalAlterConfigs resource type of a broker (named by its id, or
/// `""` for the cluster-wide default).
pub const RESOURCE_BROKER: i8 = 4;
/// IncrementalAlterConfigs operation: set the key to the value.
pub const CONFIG_OP_SET: i8 = 0;
/// IncrementalAlterConfigs operation: remove the key's override (the value is null).
pub const CONFIG_OP_DELETE: i8 = 1;
/// DescribeConfigs `config_source` of a topic-level override.
pub const CONFIG_SOURCE_DYNAMIC_TOPIC: i8 = 1;
/// How long the broker may take on an admin request (Kafka's tools use 30 s too).
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    /// -1 lets the broker use `num.partitions`.
    pub partitions: i32,
    /// -1 lets the broker use `default.replication.factor`.
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// One resource's changes for IncrementalAlterConfigs: its type ([`RESOURCE_TOPIC`],
/// [`RESOURCE_BROKER`]), its name, and each `(key, operation, value)` ([`CONFIG_OP_SET`] with a
/// value, [`CONFIG_OP_DELETE`] with `None`).
pub type ConfigChanges = (i8, String, Vec<(String, i8, Option<String>)>);

/// A resource type in words, for messages: `topic`, `broker`.
pub fn resource_label(resource_type: i8) -> String {
    match resource_type {
        RESOURCE_TOPIC => "topic".to_owned(),
        RESOURCE_BROKER => "broker".to_owned(),
        other => format!("resource of type {other}"),
    }
}

/// One topic config as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub read_only: bool,
    pub sensitive: bool,
    /// Kafka's ConfigSource id (1 = topic override, 5 = default, ...).
    pub source: i8,
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// The error of one result entry, if any.
fn entry_error(code: i16, message: Option<&StrBytes>, fallback: String) -> Option<ClientError> {
    let message = message.map(|m| m.as_str()).filter(|m| !m.is_empty());
    ClientError::from_code(
        ErrorCode::from_wire(code),
        Some(message.unwrap_or(&fallback)),
    )
}

impl Client {
    /// Creates topics; one result per requested topic, in request order.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
    ) -> ClientResult<Vec<(String, ClientResult<()>)>> {
        let metadata = self.metadata(Some(&[]), false).await?;
        let connection = self.admin_connection(&metadata).await;
        let version = connection.version(ApiKey::CreateTopics)?;
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(topic_name(&t.name))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(str_bytes(k))
                                            .with_value(Some(str_bytes(v)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response: CreateTopicsResponse = connection
            .call(ApiKey::CreateTopics, version, &request)
            .await?;
        Ok(topics
            .iter()
            .map(|t| {
                let result = response
                    .topics
                    .iter()
                    .find(|r| r.name.0.as_str() == t.name)
                    .map_or_else(
                        || Err(missing_result(&t.name)),
                        |r| {
                            let fallback = format!("cannot create topic '{}'", t.name);
                            match entry_error(r.error_code, r.error_message.as_ref(), fallback) {
                                Some(e) => Err(e),
                                None => Ok(()),
                            }
                        },
                    );
                (t.name.clone(), result)
            })
            .collect())
    }

    /// Deletes topics by name; one result per topic.
    pub async fn delete_topics(
        &self,
        names: &[&str],
    ) -> ClientResult<Vec<(String, ClientResult<()>)>> {
        let metadata = self.metadata(Some(&[]), false).await?;
        let connection = self.admin_connection(&metadata).await;
        let version = connection.version(ApiKey::DeleteTopics)?;
        let mut request = DeleteTopicsRequest::default().with_timeout_ms(ADMIN_TIMEOUT_MS);
        if version >= 6 {
            request.topics = names
                .iter()
                .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                .collect();
        } else {
            request.topic_names = names.iter().map(|n| topic_name(n)).collect();
        }
        let response: DeleteTopicsResponse = connection
            .call(ApiKey::DeleteTopics, version, &request)
            .await?;
        Ok(names
            .iter()
            .map(|name| {
                let result = response
                    .responses
                    .iter()
                    .find(|r| r.name.as_ref().map(|n| n.0.as_str()) == Some(*name))
                    .map_or_else(
                        || Err(missing_result(name)),
                        |r| {
                            let fallback = format!("cannot delete topic '{name}'");
                            match entry_error(r.error_code, r.error_message.as_ref(), fallback) {
                                Some(e) => Err(e),
                                None => Ok(()),
                            }
                        },
                    );
                (name.to_string(), result)
            })
            .collect())
    }

    /// Raises a topic's partition count to `count`.
    pub async fn create_partitions(&self, name: &str, count: i32) -> ClientResult<()> {
        let metadata = self.metadata(Some(&[]), false).await?;
        let connection = self.admin_connection(&metadata).await;
        let version = connection.version(ApiKey::CreatePartitions)?;
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(ADMIN_TIMEOUT_MS)
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name(name))
                .with_count(count)
                .with_assignments(None)]);
        let response: CreatePartitionsResponse = connection
            .call(ApiKey::CreatePartitions, version, &request)
            .await?;
        let result = response
            .results
            .iter()
            .find(|r| r.name.0.as_str() == name)
            .ok_or_else(|| missing_result(name))?;
        let fallback = format!("cannot set topic '{name}' to {count} partitions");
        match entry_error(result.error_code, result.error_message.as_ref(), fallback) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Changes configs through IncrementalAlterConfigs (KIP-339), sent where the admin calls
    /// go ([`Client::admin_connection`]), all in one request. One result per resource, in
    /// request order: `Err` with the broker's error for a resource it refused.
    pub async fn incremental_alter_configs(
        &self,
        resources: Vec<ConfigChanges>,
    ) -> ClientResult<Vec<(i8, String, ClientResult<()>)>> {
        let metadata = self.metadata(Some(&[]), false).await?;
        let connection = self.admin_connection(&metadata).await;
        let version = connection.version(ApiKey::IncrementalAlterConfigs)?;
        let request = IncrementalAlterConfigsRequest::default()
            .with_validate_only(false)
            .with_resources(
                resources
                    .iter()
                    .map(|(resource_type, name, ops)| {
                        AlterConfigsResource::default()
                            .with_resource_type(*resource_type)
                            .with_resource_name(str_bytes(name))
                            .with_configs(
                                ops.iter()
                                    .map(|(key, op, value)| {
                                        AlterableConfig::default()
                                            .with_name(str_bytes(key))
                                            .with_config_operation(*op)
                                            .with_value(value.as_deref().map(str_bytes))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response: IncrementalAlterConfigsResponse = connection
            .call(ApiKey::IncrementalAlterConfigs, version, &request)
            .await?;
        Ok(resources
            .into_iter()
            .map(|(resource_type, name, _)| {
                let label = resource_label(resource_type);
                let result = response
                    .responses
                    .iter()
                    .find(|r| r.resource_type == resource_type && r.resource_name.as_str() == name)
                    .map_or_else(
                        || {
                            Err(ClientError::Protocol(format!(
                                "the broker's answer has no entry for {label} '{name}'"
                            )))
                        },
                        |r| {
                            let fallback = format!("cannot alter the configs of {label} '{name}'");
                            match entry_error(r.error_code, r.error_message.as_ref(), fallback) {
                                Some(e) => Err(e),
                                None => Ok(()),
                            }
                        },
                    );
                (resource_type, name, result)
            })
            .collect())
    }

    /// The topic's configs, or `Ok(None)` when the broker does not serve DescribeConfigs.
    pub async fn describe_topic_configs(
        &self,
        name: &str,
    ) -> ClientResult<Option<Vec<ConfigEntry>>> {
        let connection = self.bootstrap();
        let Ok(version) = connection.version(ApiKey::DescribeConfigs) else {
            return Ok(None);
        };
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(RESOURCE_TOPIC)
                .with_resource_name(str_bytes(name))
                .with_configuration_keys(None),
        ]);
        let response: DescribeConfigsResponse = connection
            .call(ApiKey::DescribeConfigs, version, &request)
            .await?;
        let result = response
            .results
            .into_iter()
            .find(|r| r.resource_name.as_str() == name)
            .ok_or_else(|| missing_result(name))?;
        let fallback = format!("cannot describe the configs of topic '{name}'");
        if let Some(e) = entry_error(result.error_code, result.error_message.as_ref(), fallback) {
            return Err(e);
        }
        Ok(Some(
            result
                .configs
                .into_iter()
                .map(|c| ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    read_only: c.read_only,
                    sensitive: c.is_sensitive,
                    source: c.config_source,
                })
                .collect(),
        ))
    }
}

/// A partition's eligible leader replicas and last known ones (KIP-966), as
/// DescribeTopicPartitions answers them (`None`: the broker does not keep them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EligibleLeaders {
    pub elr: Option<Vec<i32>>,
    pub last_known_elr: Option<Vec<i32>>,
}

/// The most DescribeTopicPartitions pages one call follows (2,000 partitions each).
const DESCRIBE_PAGES_MAX: usize = 10_000;

impl Client {
    /// The eligible leader replicas of every partition of `topics`, by (topic, partition),
    /// through DescribeTopicPartitions (following its cursor), or `Ok(None)` when the broker
    /// does not serve it (Kafka's kafka-topics then prints N/A). Topic errors are left to the
    /// Metadata answer the caller already has.
    pub async fn eligible_leaders(
        &self,
        topics: &[&str],
    ) -> ClientResult<Option<BTreeMap<(String, i32), EligibleLeaders>>> {
        let connection = self.bootstrap();
        let Ok(version) = connection.version(ApiKey::DescribeTopicPartitions) else {
            return Ok(None);
        };
        let requested: Vec<TopicRequest> = (topics.iter())
            .map(|name| TopicRequest::default().with_name(TopicName(str_bytes(name))))
            .collect();
        let mut found = BTreeMap::new();
        let mut cursor: Option<Cursor> = None;
        for _ in 0..DESCRIBE_PAGES_MAX {
            let request = DescribeTopicPartitionsRequest::default()
                .with_topics(requested.clone())
                .with_response_partition_limit(2000)
                .with_cursor(cursor.take());
            let response: DescribeTopicPartitionsResponse = connection
                .call(ApiKey::DescribeTopicPartitions, version, &request)
                .await?;
            for topic in &response.topics {
                let Some(name) = &topic.name else { continue };
                for p in &topic.partitions {
                    let ids = |v: &Vec<BrokerId>| v.iter().map(|b| b.0).collect();
                    found.insert(
                        (name.0.to_string(), p.partition_index),
                        EligibleLeaders {
                            elr: p.eligible_leader_replicas.as_ref().map(ids),
                            last_known_elr: p.last_known_elr.as_ref().map(ids),
                        },
                    );
                }
            }
            let Some(next) = response.next_cursor else {
                return Ok(Some(found));
            };
            let key = (next.topic_name.0.to_string(), next.partition_index);
            if found.contains_key(&key) {
                // A cursor back into what was answered: the broker would page forever.
                return Err(ClientError::Protocol(format!(
                    "DescribeTopicPartitions' cursor went back to {}-{}",
                    key.0, key.1
                )));
            }
            cursor = Some(
                Cursor::default()
                    .with_topic_name(next.topic_name)
                    .with_partition_index(next.partition_index),
            );
        }
        Err(ClientError::Protocol(
            "DescribeTopicPartitions did not finish paging".to_owned(),
        ))
    }
}

fn missing_result(name: &str) -> ClientError {
    ClientError::Protocol(format!(
        "the broker's answer has no entry for topic '{name}'"
    ))
}

/// A client quota entity (KIP-546, Kafka's `ClientQuotaEntity`): each component's type
/// (`user`, `client-id`, `ip`) and name, `None` naming the type's default entity.
pub type QuotaEntity = Vec<(String, Option<String>)>;

/// How one DescribeClientQuotas component matches an entity's name (Kafka's
/// `ClientQuotaFilterComponent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// The entity of that name (`match_type` 0, EXACT).
    Exact(String),
    /// The type's default entity (1, DEFAULT).
    Default,
    /// Any entity with that type, its default included (2, SPECIFIED).
    Specified,
}

/// One AlterClientQuotas op: the key and its new value, `None` to remove the key.
pub type QuotaOp = (String, Option<f64>);

/// One entity's quotas as DescribeClientQuotas answers them, in the answer's order.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityQuotas {
    pub entity: QuotaEntity,
    pub values: Vec<(String, f64)>,
}

/// DescribeClientQuotas for one filter: each component an entity type and how it matches;
/// `strict` leaves out entities having a type no component names (Kafka's
/// `ClientQuotaFilter.containsOnly`, what kafka-configs sends).
pub fn describe_client_quotas_request(
    components: &[(String, QuotaMatch)],
    strict: bool,
) -> DescribeClientQuotasRequest {
    let components = (components.iter())
        .map(|(entity_type, matching)| {
            let (match_type, name) = match matching {
                QuotaMatch::Exact(name) => (0, Some(str_bytes(name))),
                QuotaMatch::Default => (1, None),
                QuotaMatch::Specified => (2, None),
            };
            ComponentData::default()
                .with_entity_type(str_bytes(entity_type))
                .with_match_type(match_type)
                .with_match(name)
        })
        .collect();
    DescribeClientQuotasRequest::default()
        .with_components(components)
        .with_strict(strict)
}

/// AlterClientQuotas for one entity: a value sets its key, `None` removes it (`remove = true`,
/// the value 0.0 as Kafka's admin client sends it). Never `validate_only`.
pub fn alter_client_quotas_request(
    entity: &QuotaEntity,
    ops: &[QuotaOp],
) -> AlterClientQuotasRequest {
    let entity = (entity.iter())
        .map(|(entity_type, name)| {
            EntityData::default()
                .with_entity_type(str_bytes(entity_type))
                .with_entity_name(name.as_deref().map(str_bytes))
        })
        .collect();
    let ops = (ops.iter())
        .map(|(key, value)| {
            OpData::default()
                .with_key(str_bytes(key))
                .with_value(value.unwrap_or(0.0))
                .with_remove(value.is_none())
        })
        .collect();
    AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default().with_entity(entity).with_ops(ops)])
        .with_validate_only(false)
}

/// The entities and values of a DescribeClientQuotas answer, or its whole-request error.
pub fn described_quotas(response: DescribeClientQuotasResponse) -> ClientResult<Vec<EntityQuotas>> {
    let fallback = "cannot describe client quotas".to_owned();
    if let Some(e) = entry_error(
        response.error_code,
        response.error_message.as_ref(),
        fallback,
    ) {
        return Err(e);
    }
    Ok((response.entries.unwrap_or_default().into_iter())
        .map(|entry| EntityQuotas {
            entity: (entry.entity.into_iter())
                .map(|e| {
                    (
                        e.entity_type.to_string(),
                        e.entity_name.map(|n| n.to_string()),
                    )
                })
                .collect(),
            values: (entry.values.into_iter())
                .map(|v| (v.key.to_string(), v.value))
                .collect(),
        })
        .collect())
}

/// An AlterClientQuotas answer's entries: each entity with its result, in the answer's order.
pub fn altered_quotas(response: AlterClientQuotasResponse) -> Vec<(QuotaEntity, ClientResult<()>)> {
    (response.entries.into_iter())
        .map(|entry| {
            let entity: QuotaEntity = (entry.entity.into_iter())
                .map(|e| {
                    (
                        e.entity_type.to_string(),
                        e.entity_name.map(|n| n.to_string()),
                    )
                })
                .collect();
            let fallback = "cannot alter the client quotas".to_owned();
            let result = match entry_error(entry.error_code, entry.error_message.as_ref(), fallback)
            {
                Some(e) => Err(e),
                None => Ok(()),
            };
            (entity, result)
        })
        .collect()
}

impl Client {
    /// DescribeClientQuotas (KIP-546) through the bootstrap broker (any broker answers from
    /// its metadata image); [`ClientError::Unsupported`] when the broker does not serve it.
    pub async fn describe_client_quotas(
        &self,
        request: &DescribeClientQuotasRequest,
    ) -> ClientResult<Vec<EntityQuotas>> {
        let connection = self.bootstrap();
        let version = connection.version(ApiKey::DescribeClientQuotas)?;
        let response: DescribeClientQuotasResponse = connection
            .call(ApiKey::DescribeClientQuotas, version, request)
            .await?;
        described_quotas(response)
    }

    /// AlterClientQuotas (KIP-546) through the bootstrap broker (its voter forwards the
    /// alteration to the quorum's leader, as AlterUserScramCredentials): one result per entry
    /// the broker answered, each `Err` with the broker's refusal.
    pub async fn alter_client_quotas(
        &self,
        request: &AlterClientQuotasRequest,
    ) -> ClientResult<Vec<(QuotaEntity, ClientResult<()>)>> {
        let connection = self.bootstrap();
        let version = connection.version(ApiKey::AlterClientQuotas)?;
        let response: AlterClientQuotasResponse = connection
            .call(ApiKey::AlterClientQuotas, version, request)
            .await?;
        Ok(altered_quotas(response))
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::alter_client_quotas_response;
    use kafka_protocol::messages::describe_client_quotas_response;

    use super::*;

    #[test]
    fn the_describe_request_carries_kafkas_match_types() {
        let request = describe_client_quotas_request(
            &[
                ("user".into(), QuotaMatch::Exact("alice".into())),
                ("client-id".into(), QuotaMatch::Default),
                ("ip".into(), QuotaMatch::Specified),
            ],
            true,
        );
        assert!(request.strict);
        let components: Vec<(&str, i8, Option<&str>)> = (request.components.iter())
            .map(|c| (c.entity_type.as_str(), c.match_type, c._match.as_deref()))
            .collect();
        assert_eq!(
            components,
            [
                ("user", 0, Some("alice")),
                ("client-id", 1, None),
                ("ip", 2, None)
            ]
        );
    }

    #[test]
    fn the_alter_request_is_one_entry_with_sets_and_removals() {
        let entity = vec![
            ("user".to_owned(), Some("alice".to_owned())),
            ("client-id".to_owned(), None),
        ];
        let request = alter_client_quotas_request(
            &entity,
            &[
                ("producer_byte_rate".into(), Some(1024.0)),
                ("consumer_byte_rate".into(), None),
            ],
        );
        assert!(!request.validate_only);
        let [entry] = &request.entries[..] else {
            panic!("{request:?}")
        };
        let entity: Vec<(&str, Option<&str>)> = (entry.entity.iter())
            .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref()))
            .collect();
        assert_eq!(entity, [("user", Some("alice")), ("client-id", None)]);
        let ops: Vec<(&str, f64, bool)> = (entry.ops.iter())
            .map(|op| (op.key.as_str(), op.value, op.remove))
            .collect();
        assert_eq!(
            ops,
            [
                ("producer_byte_rate", 1024.0, false),
                ("consumer_byte_rate", 0.0, true)
            ]
        );
    }

    #[test]
    fn answers_are_read_with_their_errors() {
        use describe_client_quotas_response::{EntityData, EntryData, ValueData};
        let answer =
            DescribeClientQuotasResponse::default().with_entries(Some(vec![EntryData::default()
                .with_entity(vec![EntityData::default()
                    .with_entity_type(str_bytes("client-id"))
                    .with_entity_name(Some(str_bytes("app")))])
                .with_values(vec![ValueData::default()
                    .with_key(str_bytes("producer_byte_rate"))
                    .with_value(1024.0)])]));
        assert_eq!(
            described_quotas(answer).unwrap(),
            [EntityQuotas {
                entity: vec![("client-id".into(), Some("app".into()))],
                values: vec![("producer_byte_rate".into(), 1024.0)],
            }]
        );
        let refused = DescribeClientQuotasResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire())
            .with_error_message(None)
            .with_entries(None);
        let error = described_quotas(refused).unwrap_err();
        assert_eq!(error.code(), Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED));
        assert!(error
            .to_string()
            .starts_with("CLUSTER_AUTHORIZATION_FAILED: "));

        let altered = AlterClientQuotasResponse::default().with_entries(vec![
            alter_client_quotas_response::EntryData::default()
                .with_error_code(ErrorCode::INVALID_REQUEST.wire())
                .with_error_message(Some(str_bytes("Invalid configuration key retention.ms")))
                .with_entity(vec![alter_client_quotas_response::EntityData::default()
                    .with_entity_type(str_bytes("user"))
                    .with_entity_name(None)]),
        ]);
        let [(entity, result)] = &altered_quotas(altered)[..] else {
            panic!("one entry")
        };
        assert_eq!(entity, &vec![("user".to_owned(), None)]);
        assert_eq!(
            result.as_ref().unwrap_err().to_string(),
            "INVALID_REQUEST: Invalid configuration key retention.ms"
        );
    }
}
