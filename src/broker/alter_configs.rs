//! IncrementalAlterConfigs and the legacy AlterConfigs, for topics and brokers.
//!
//! The gateway decodes the request and sends every topic resource to the TOPICS actor in one
//! request. The actor works out each topic's new override map from its current one
//! (`controller::config_ops`), checks it, persists it and pushes the resolved log config to
//! every partition of the topic, one request at a time after every earlier administration.
//! Broker resources (`""`, the cluster default, or a broker id) go to the controller quorum in
//! one request through this node's voter: only the replication throttle rates are dynamic
//! (`controller::metadata::broker_config`); every other broker setting is static in Rill
//! (config file and `--override`) and refused with INVALID_CONFIG.

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest as KafkaAlter,
    AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::authorize::Access;
use super::configs::{config_refusal, resource_type};
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{AlterBrokerConfigsArgs, QuorumReply};
use crate::messages::{AlterConfigsRequest, ConfigChange, NodeMsg, Refusal};
use crate::security::acl::AclOperation;
use crate::types::ErrorCode;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
        frame: &KafkaRequest,
    ) -> Result<IncrementalAlterConfigsResponse, GatewayError> {
        let access = self.access(frame, "IncrementalAlterConfigs");
        let changes = request.resources.iter().map(|resource| {
            let ops = resource
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
            (resource.resource_type, name, ConfigChange::Incremental(ops))
        });
        let outcomes = self
            .alter_resources(changes.collect(), request.validate_only, &access)
            .await?;
        let mut responses = Vec::new();
        for (resource, outcome) in request.resources.into_iter().zip(outcomes) {
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
        request: KafkaAlter,
        frame: &KafkaRequest,
    ) -> Result<AlterConfigsResponse, GatewayError> {
        let access = self.access(frame, "AlterConfigs");
        let changes = request.resources.iter().map(|resource| {
            let configs = resource
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            let name = resource.resource_name.to_string();
            (resource.resource_type, name, ConfigChange::Replace(configs))
        });
        let outcomes = self
            .alter_resources(changes.collect(), request.validate_only, &access)
            .await?;
        let mut responses = Vec::new();
        for (resource, outcome) in request.resources.into_iter().zip(outcomes) {
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

    /// Alters the resources (kind, name, change), answering each in order. Broker configs
    /// are refused here; the topics go to the topics actor in one request, which works out each
    /// topic's new overrides from its current ones. The outer error is internal (closes the
    /// connection); the inner ones are the client's answers.
    async fn alter_resources(
        &self,
        resources: Vec<(i8, String, ConfigChange)>,
        validate_only: bool,
        access: &Access,
    ) -> Result<Vec<Result<(), Refusal>>, GatewayError> {
        let refusals: Vec<Option<Refusal>> = resources
            .iter()
            .map(|(kind, name, _)| match *kind {
                resource_type::TOPIC | resource_type::BROKER => {
                    config_refusal(access, AclOperation::AlterConfigs, *kind, name)
                        .map(|(code, message)| Refusal::new(code, message))
                }
                other => Some(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported (topics: 2, brokers: 4)"),
                )),
            })
            .collect();
        // A refused resource is answered with its refusal and not sent on.
        let kinds: Vec<Option<i8>> = (resources.iter().zip(&refusals))
            .map(|((kind, _, _), refusal)| refusal.is_none().then_some(*kind))
            .collect();
        let resources: Vec<_> = (resources.into_iter().zip(&kinds))
            .filter(|(_, kind)| kind.is_some())
            .map(|(resource, _)| resource)
            .collect();
        let brokers: Vec<(String, ConfigChange)> = (resources.iter())
            .filter(|(kind, _, _)| *kind == resource_type::BROKER)
            .map(|(_, name, change)| (name.clone(), change.clone()))
            .collect();
        let mut brokers_altered = if brokers.is_empty() {
            Vec::new()
        } else {
            self.alter_broker_configs(brokers, validate_only).await
        }
        .into_iter();
        let topics: Vec<(String, ConfigChange)> = resources
            .into_iter()
            .filter(|(kind, _, _)| *kind == resource_type::TOPIC)
            .map(|(_, name, change)| (name, change))
            .collect();
        let mut altered = if topics.is_empty() {
            Vec::new()
        } else {
            let alter = AlterConfigsRequest {
                topics,
                validate_only,
            };
            ask(&self.node, alter).await?.map_err(GatewayError::Close)?
        }
        .into_iter();
        let mut outcomes = Vec::with_capacity(refusals.len());
        for (refusal, kind) in refusals.into_iter().zip(kinds) {
            outcomes.push(match refusal {
                Some(refusal) => Err(refusal),
                None if kind == Some(resource_type::BROKER) => {
                    brokers_altered.next().ok_or_else(|| {
                        GatewayError::Close(
                            "the controller answered fewer brokers than asked".into(),
                        )
                    })?
                }
                None => altered.next().ok_or_else(|| {
                    GatewayError::Close("the topics actor answered fewer topics than asked".into())
                })?,
            });
        }
        Ok(outcomes)
    }

    /// The broker resources' changes, decided by the controller quorum: each resource's
    /// outcome in order (all refused alike when the quorum does not answer).
    async fn alter_broker_configs(
        &self,
        resources: Vec<(String, ConfigChange)>,
        validate_only: bool,
    ) -> Vec<Result<(), Refusal>> {
        let count = resources.len();
        let args = AlterBrokerConfigsArgs {
            resources,
            validate_only,
        };
        let refusal = match ask(&self.node, args).await {
            Ok(QuorumReply::BrokerConfigsAltered(outcomes)) if outcomes.len() == count => {
                return outcomes
            }
            Ok(QuorumReply::NotLeader { .. }) => Refusal::new(
                ErrorCode::NOT_CONTROLLER,
                "the controller quorum has no leader now; retry",
            ),
            Ok(other) => Refusal::new(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("the controller quorum did not alter the broker configs: {other:?}"),
            ),
            Err(e) => Refusal::new(
                ErrorCode::REQUEST_TIMED_OUT,
                format!("the controller quorum did not answer: {e}"),
            ),
        };
        vec![Err(refusal); count]
    }
}
