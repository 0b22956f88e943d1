//! DescribeClientQuotas (48) and AlterClientQuotas (49), KIP-546: the client quotas that
//! kafka-configs `--entity-type users|clients`, `rill configs` and Java's admin client manage.
//!
//! Any broker describes from the quotas its metadata voter published (the ones it enforces),
//! as Kafka's brokers answer from their metadata cache (`ClientQuotasImage.describe`). An
//! alteration goes to the controller quorum's leader through this node's voter and is
//! answered once committed, applied and published here, so a describe on this broker right
//! after it sees it, and its next request is held to it. Kafka's authorization:
//! DESCRIBE_CONFIGS on the cluster to describe, ALTER_CONFIGS to alter
//! (CLUSTER_AUTHORIZATION_FAILED for the whole describe, or for every entry).

use kafka_protocol::messages::alter_client_quotas_response::{
    EntityData as AlteredEntity, EntryData as AlteredEntry,
};
use kafka_protocol::messages::describe_client_quotas_response::{
    EntityData as DescribedEntity, EntryData as DescribedEntry, ValueData,
};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::acls::CLUSTER_NOT_AUTHORIZED;
use super::error::quorum_refusal;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::QuorumReply;
use crate::messages::quotas::{AlterClientQuotasArgs, MatchName, QuotaAlteration};
use crate::messages::NodeMsg;
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, Refusal};

/// DescribeClientQuotas' match types (`ComponentData.match_type`).
const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_SPECIFIED: i8 = 2;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_client_quotas(
        &self,
        request: DescribeClientQuotasRequest,
        frame: &KafkaRequest,
    ) -> Result<DescribeClientQuotasResponse, GatewayError> {
        let refused = |refusal: Refusal| {
            Ok(DescribeClientQuotasResponse::default()
                .with_error_code(refusal.code.wire())
                .with_error_message(Some(StrBytes::from_string(refusal.message)))
                .with_entries(None))
        };
        if !(self.access(frame, "DescribeClientQuotas"))
            .allows_cluster(AclOperation::DescribeConfigs)
        {
            let code = ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
            return refused(Refusal::new(code, CLUSTER_NOT_AUTHORIZED));
        }
        let filter = match filter_of(&request) {
            Ok(filter) => filter,
            Err(refusal) => return refused(refusal),
        };
        let entries = match self.quotas.load().describe(&filter, request.strict) {
            Ok(entries) => entries,
            Err(refusal) => return refused(refusal),
        };
        let entries = (entries.into_iter())
            .map(|(entity, values)| {
                let entity = (entity.parts().into_iter())
                    .map(|(kind, name)| {
                        DescribedEntity::default()
                            .with_entity_type(StrBytes::from_static_str(kind))
                            .with_entity_name(name.map(|n| StrBytes::from_string(n.to_string())))
                    })
                    .collect();
                let values = (values.into_iter())
                    .map(|(key, value)| {
                        ValueData::default()
                            .with_key(StrBytes::from_string(key))
                            .with_value(value)
                    })
                    .collect();
                DescribedEntry::default()
                    .with_entity(entity)
                    .with_values(values)
            })
            .collect();
        Ok(DescribeClientQuotasResponse::default()
            .with_error_message(None)
            .with_entries(Some(entries)))
    }

    pub(super) async fn alter_client_quotas(
        &self,
        request: AlterClientQuotasRequest,
        frame: &KafkaRequest,
    ) -> Result<AlterClientQuotasResponse, GatewayError> {
        let allowed =
            (self.access(frame, "AlterClientQuotas")).allows_cluster(AclOperation::AlterConfigs);
        let entries: Vec<QuotaAlteration> = (request.entries.iter())
            .map(|entry| QuotaAlteration {
                entity: (entry.entity.iter())
                    .map(|e| {
                        (
                            e.entity_type.to_string(),
                            e.entity_name.as_ref().map(|n| n.to_string()),
                        )
                    })
                    .collect(),
                ops: (entry.ops.iter())
                    .map(|op| (op.key.to_string(), (!op.remove).then_some(op.value)))
                    .collect(),
            })
            .collect();
        let results = if !allowed {
            let refusal = Refusal::new(
                ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                CLUSTER_NOT_AUTHORIZED,
            );
            vec![Err(refusal); entries.len()]
        } else if entries.is_empty() {
            Vec::new()
        } else {
            let count = entries.len();
            let args = AlterClientQuotasArgs {
                entries: entries.clone(),
                validate_only: request.validate_only,
            };
            match ask(&self.node, args).await {
                Ok(QuorumReply::ClientQuotasAltered { results, .. }) if results.len() == count => {
                    results
                }
                other => vec![Err(quorum_refusal(other, "alter the client quotas")); count],
            }
        };
        let entries = (entries.into_iter().zip(results))
            .map(|(entry, result)| {
                let entity = (entry.entity.into_iter())
                    .map(|(kind, name)| {
                        AlteredEntity::default()
                            .with_entity_type(StrBytes::from_string(kind))
                            .with_entity_name(name.map(StrBytes::from_string))
                    })
                    .collect();
                let (code, message) = match result {
                    Ok(()) => (ErrorCode::NONE, None),
                    Err(refusal) => (refusal.code, Some(StrBytes::from_string(refusal.message))),
                };
                AlteredEntry::default()
                    .with_error_code(code.wire())
                    .with_error_message(message)
                    .with_entity(entity)
            })
            .collect();
        Ok(AlterClientQuotasResponse::default().with_entries(entries))
    }
}

/// The request's filter components, checked as Kafka checks their match types.
fn filter_of(request: &DescribeClientQuotasRequest) -> Result<Vec<(String, MatchName)>, Refusal> {
    let invalid = |m: String| Refusal::new(ErrorCode::INVALID_REQUEST, m);
    (request.components.iter())
        .map(|c| {
            let kind = c.entity_type.to_string();
            let matching = match (c.match_type, &c._match) {
                (MATCH_EXACT, Some(name)) => MatchName::Exact(name.to_string()),
                (MATCH_EXACT, None) => {
                    return Err(invalid(format!(
                        "Request specified MATCH_EXACT match type for entity type {kind}, but no match string"
                    )))
                }
                (MATCH_DEFAULT, None) => MatchName::Default,
                (MATCH_SPECIFIED, None) => MatchName::Any,
                (MATCH_DEFAULT | MATCH_SPECIFIED, Some(_)) => {
                    return Err(invalid(format!(
                        "Request specified a match string for entity type {kind} with a match \
                         type that takes none"
                    )))
                }
                (other, _) => {
                    return Err(invalid(format!("Unknown match type {other}")));
                }
            };
            Ok((kind, matching))
        })
        .collect()
}
