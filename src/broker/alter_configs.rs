//! IncrementalAlterConfigs and the legacy AlterConfigs, for topics.
//!
//! The gateway decodes the request, refuses broker resources (broker configs are static:
//! config file and flags, INVALID_REQUEST), and sends every topic resource to the TOPICS actor
//! in one request. The actor works out each topic's new override map from its current one
//! (`controller::config_ops`), checks it, persists it and pushes the resolved log config to
//! every partition of the topic, one request at a time after every earlier administration.

use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest as KafkaAlter,
    AlterConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::configs::resource_type;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{AlterConfigsRequest, ConfigChange, NodeMsg, Refusal};
use crate::types::ErrorCode;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn incremental_alter_configs(
        &self,
        request: IncrementalAlterConfigsRequest,
    ) -> Result<IncrementalAlterConfigsResponse, GatewayError> {
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
            .alter_resources(changes.collect(), request.validate_only)
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
    ) -> Result<AlterConfigsResponse, GatewayError> {
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
            .alter_resources(changes.collect(), request.validate_only)
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
    ) -> Result<Vec<Result<(), Refusal>>, GatewayError> {
        let refusals: Vec<Option<Refusal>> = resources
            .iter()
            .map(|(kind, _, _)| match *kind {
                resource_type::TOPIC => None,
                resource_type::BROKER => Some(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    "broker configs are static in rill: change the config file or --override flags and restart",
                )),
                other => Some(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported (topics: 2)"),
                )),
            })
            .collect();
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
        for refusal in refusals {
            outcomes.push(match refusal {
                Some(refusal) => Err(refusal),
                None => altered.next().ok_or_else(|| {
                    GatewayError::Close("the topics actor answered fewer topics than asked".into())
                })?,
            });
        }
        Ok(outcomes)
    }
}
