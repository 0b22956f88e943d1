//! IncrementalAlterConfigs and the legacy AlterConfigs, for topics.
//!
//! The broker works out the complete new override map (pure: [`apply_ops`]), checks every
//! value with [`topic_config::resolve`], has the TOPICS actor persist it, and then pushes the
//! resolved log config to every partition of the topic. Broker configs are static (config file
//! and flags), so altering a broker resource is refused with INVALID_REQUEST.

use crate::types::topic_name::shown;
use std::collections::BTreeMap;

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::configs::{is_list_key, resource_type, topic_default};
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::controller::topic_config;
use crate::controller::topics::TOPIC_CONFIG_KEYS;
use crate::messages::call::ask;
use crate::messages::{self, NodeMsg, Refusal, SetConfigRequest};
use crate::storage::log::LogConfig;
use crate::types::{ErrorCode, TopicPartition};

/// IncrementalAlterConfigs operations (`AlterConfigOp.OpType`).
pub mod op {
    pub const SET: i8 = 0;
    pub const DELETE: i8 = 1;
    pub const APPEND: i8 = 2;
    pub const SUBTRACT: i8 = 3;
}

/// One requested change: key, operation, value.
pub type ConfigOp = (String, i8, Option<String>);

/// The override map after applying `ops` to `current`, Kafka's checks first: a key twice or an
/// unknown operation is INVALID_REQUEST, an unknown key INVALID_CONFIG, SET needs a value, and
/// APPEND/SUBTRACT only apply to list keys (`cleanup.policy`), starting from the effective
/// value when the topic does not override it. Values are not checked here.
pub fn apply_ops(
    log: &LogConfig,
    current: &BTreeMap<String, String>,
    ops: &[ConfigOp],
) -> Result<BTreeMap<String, String>, Refusal> {
    for (i, (key, _, _)) in ops.iter().enumerate() {
        if ops[..i].iter().any(|(k, _, _)| k == key) {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                format!("config '{key}' appears twice in one resource"),
            ));
        }
    }
    let mut next = current.clone();
    for (key, operation, value) in ops {
        if !TOPIC_CONFIG_KEYS.contains(&key.as_str()) {
            return Err(Refusal::new(
                ErrorCode::INVALID_CONFIG,
                format!("unknown topic config '{key}'"),
            ));
        }
        let list_op = |name: &str| {
            if is_list_key(key) {
                Ok(())
            } else {
                Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("config '{key}' is not a list: {name} is not allowed"),
                ))
            }
        };
        let effective = || {
            current
                .get(key)
                .cloned()
                .or_else(|| topic_default(log, key))
                .unwrap_or_default()
        };
        match *operation {
            op::SET => match value {
                Some(value) => {
                    next.insert(key.clone(), value.clone());
                }
                None => {
                    return Err(Refusal::new(
                        ErrorCode::INVALID_REQUEST,
                        format!("SET of config '{key}' needs a value"),
                    ))
                }
            },
            op::DELETE => {
                next.remove(key);
            }
            op::APPEND => {
                list_op("APPEND")?;
                let mut items = list_items(&effective());
                for item in list_items(value.as_deref().unwrap_or("")) {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                next.insert(key.clone(), items.join(","));
            }
            op::SUBTRACT => {
                list_op("SUBTRACT")?;
                let remove = list_items(value.as_deref().unwrap_or(""));
                let items: Vec<String> = list_items(&effective())
                    .into_iter()
                    .filter(|item| !remove.contains(item))
                    .collect();
                next.insert(key.clone(), items.join(","));
            }
            other => {
                return Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("unknown config operation {other} for '{key}'"),
                ))
            }
        }
    }
    Ok(next)
}

fn list_items(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The legacy AlterConfigs replaces all overrides; a null value means "not set".
fn replacement(configs: &[(String, Option<String>)]) -> Result<BTreeMap<String, String>, Refusal> {
    let ops: Vec<ConfigOp> = configs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), op::SET, Some(v))))
        .collect();
    apply_ops(&LogConfig::default(), &BTreeMap::new(), &ops)
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
    ) -> Result<IncrementalAlterConfigsResponse, GatewayError> {
        let mut responses = Vec::new();
        for resource in request.resources {
            let ops: Vec<ConfigOp> = resource
                .configs
                .iter()
                .map(|c| {
                    (
                        c.name.to_string(),
                        c.config_operation,
                        c.value.as_ref().map(|v| v.to_string()),
                    )
                })
                .collect();
            let name = resource.resource_name.to_string();
            let outcome = self
                .alter_resource(
                    resource.resource_type,
                    &name,
                    request.validate_only,
                    |current| apply_ops(&self.settings.log, current, &ops),
                )
                .await?;
            let mut response =
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_resource_type(resource.resource_type)
                    .with_resource_name(resource.resource_name);
            if let Err(refusal) = outcome {
                response = response
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message)));
            }
            responses.push(response);
        }
        Ok(IncrementalAlterConfigsResponse::default().with_responses(responses))
    }

    pub(super) async fn alter_configs(
        &self,
        request: AlterConfigsRequest,
    ) -> Result<AlterConfigsResponse, GatewayError> {
        let mut responses = Vec::new();
        for resource in request.resources {
            let configs: Vec<(String, Option<String>)> = resource
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            let name = resource.resource_name.to_string();
            let outcome = self
                .alter_resource(resource.resource_type, &name, request.validate_only, |_| {
                    replacement(&configs)
                })
                .await?;
            let mut response = alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name);
            if let Err(refusal) = outcome {
                response = response
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message)));
            }
            responses.push(response);
        }
        Ok(AlterConfigsResponse::default().with_responses(responses))
    }

    /// Alters one resource: `next` turns the topic's current overrides into the new ones. The
    /// outer error is internal (closes the connection); the inner one is the client's answer.
    async fn alter_resource(
        &self,
        kind: i8,
        name: &str,
        validate_only: bool,
        next: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Refusal>,
    ) -> Result<Result<(), Refusal>, GatewayError> {
        match kind {
            resource_type::TOPIC => {}
            resource_type::BROKER => {
                return Ok(Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    "broker configs are static in rill: change the config file or --override flags and restart",
                )))
            }
            other => {
                return Ok(Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported (topics: 2)"),
                )))
            }
        }
        let topics = self.list_topics().await?;
        let Some(meta) = topics.get(name) else {
            return Ok(Err(Refusal::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{}' does not exist", shown(&name)),
            )));
        };
        let configs = match next(&meta.configs) {
            Ok(configs) => configs,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let resolved = match topic_config::resolve(&self.settings.log, &configs) {
            Ok(resolved) => resolved,
            Err(message) => return Ok(Err(Refusal::new(ErrorCode::INVALID_CONFIG, message))),
        };
        let alter = messages::AlterConfigsRequest {
            name: name.to_string(),
            configs,
            validate_only,
        };
        let meta = match ask(&self.node, alter).await? {
            Ok(meta) => meta,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if validate_only {
            return Ok(Ok(()));
        }
        for partition in 0..meta.partitions {
            let tp = TopicPartition {
                topic: name.to_string(),
                partition,
            };
            let set = SetConfigRequest {
                tp,
                config: resolved.clone(),
            };
            if let Err(refused) = ask(&self.node, set).await?.into_result() {
                return Ok(Err(Refusal::new(
                    refused.code,
                    format!(
                        "configs saved, but partition {partition} could not apply them: {}",
                        refused.message
                    ),
                )));
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn set(key: &str, value: &str) -> ConfigOp {
        (key.into(), op::SET, Some(value.into()))
    }

    #[test]
    fn set_and_delete_edit_the_override_map() {
        let current = map(&[("retention.ms", "1"), ("segment.ms", "2")]);
        let ops = [
            set("retention.ms", "10"),
            ("segment.ms".into(), op::DELETE, None),
            ("flush.ms".into(), op::DELETE, None),
            set("segment.bytes", "1048576"),
        ];
        let next = apply_ops(&LogConfig::default(), &current, &ops).unwrap();
        assert_eq!(
            next,
            map(&[("retention.ms", "10"), ("segment.bytes", "1048576")])
        );
    }

    #[test]
    fn kafka_checks_come_with_their_codes() {
        let log = LogConfig::default();
        let none = BTreeMap::new();
        let code = |ops: &[ConfigOp]| apply_ops(&log, &none, ops).unwrap_err().code;
        assert_eq!(code(&[set("a.b", "1")]), ErrorCode::INVALID_CONFIG);
        assert_eq!(
            code(&[set("retention.ms", "1"), set("retention.ms", "2")]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::SET, None)]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::APPEND, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), op::SUBTRACT, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        assert_eq!(
            code(&[("retention.ms".into(), 9, Some("1".into()))]),
            ErrorCode::INVALID_REQUEST
        );
        let err = apply_ops(&log, &none, &[set("nope", "1")]).unwrap_err();
        assert!(err.message.contains("'nope'"), "{}", err.message);
    }

    #[test]
    fn append_and_subtract_work_on_the_list_key_from_its_effective_value() {
        let log = LogConfig::default();
        let appended = apply_ops(
            &log,
            &BTreeMap::new(),
            &[(
                "cleanup.policy".into(),
                op::APPEND,
                Some("compact,delete".into()),
            )],
        )
        .unwrap();
        assert_eq!(appended, map(&[("cleanup.policy", "delete,compact")]));
        let subtracted = apply_ops(
            &log,
            &appended,
            &[("cleanup.policy".into(), op::SUBTRACT, Some("delete".into()))],
        )
        .unwrap();
        assert_eq!(subtracted, map(&[("cleanup.policy", "compact")]));
    }

    #[test]
    fn legacy_alter_replaces_everything_and_skips_nulls() {
        let next = replacement(&[
            ("retention.ms".into(), Some("5".into())),
            ("segment.ms".into(), None),
        ])
        .unwrap();
        assert_eq!(next, map(&[("retention.ms", "5")]));
        assert_eq!(
            replacement(&[("x".into(), Some("1".into()))])
                .unwrap_err()
                .code,
            ErrorCode::INVALID_CONFIG
        );
    }
}
