//! CreateAcls (30), DescribeAcls (29) and DeleteAcls (31), KIP-140: the ACLs kafka-acls,
//! `rill acls` and the admin clients manage (every request's check is `super::authorize`).
//!
//! As Kafka's `AclApis` and `ControllerApis`:
//! * without an authorizer (`authorizer.class.name` unset) each answers SECURITY_DISABLED,
//!   "No Authorizer is configured.";
//! * with one, CreateAcls and DeleteAcls need ALTER on the CLUSTER and DescribeAcls DESCRIBE
//!   on it, else CLUSTER_AUTHORIZATION_FAILED (every result of the request);
//! * any broker describes from the metadata it applied (the topics actor's view), as Kafka's
//!   brokers answer from their authorizer's cache; a creation or deletion goes to the
//!   controller quorum's leader through this node's voter (`controller::metadata::acls`) and
//!   is answered once committed and applied here, so a describe on this broker right after it
//!   sees it.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::error::quorum_refusal;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::acls::{AclsRequest, CreateAclsArgs, DeleteAclsArgs};
use crate::messages::call::ask;
use crate::messages::quorum::QuorumReply;
use crate::messages::NodeMsg;
use crate::security::acl::{
    AccessControlEntry, AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation,
    AclPermissionType, PatternType, ResourcePattern, ResourcePatternFilter, ResourceType,
};
use crate::types::{ErrorCode, Refusal};

/// Kafka's words when no authorizer is configured (`AclApis`).
pub const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// Kafka's `ClusterAuthorizationException` default words.
pub const CLUSTER_NOT_AUTHORIZED: &str = "Cluster authorization failed.";

fn security_disabled() -> Refusal {
    Refusal::new(ErrorCode::SECURITY_DISABLED, NO_AUTHORIZER)
}

fn cluster_refused() -> Refusal {
    Refusal::new(
        ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
        CLUSTER_NOT_AUTHORIZED,
    )
}

fn text(s: String) -> StrBytes {
    StrBytes::from_string(s)
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Why the ACL APIs refuse this request as a whole (no authorizer, or the principal may
    /// not do `operation` on the cluster), if they do.
    fn acl_api_refusal(
        &self,
        request: &KafkaRequest,
        api: &'static str,
        operation: AclOperation,
    ) -> Option<Refusal> {
        let access = self.access(request, api);
        if !access.is_on() {
            return Some(security_disabled());
        }
        if !access.allows_cluster(operation) {
            return Some(cluster_refused());
        }
        None
    }

    pub(super) async fn create_acls(
        &self,
        body: CreateAclsRequest,
        request: &KafkaRequest,
    ) -> Result<CreateAclsResponse, GatewayError> {
        let count = body.creations.len();
        if let Some(refusal) = self.acl_api_refusal(request, "CreateAcls", AclOperation::Alter) {
            return Ok(created(vec![Err(refusal); count]));
        }
        if count == 0 {
            return Ok(created(Vec::new()));
        }
        let bindings: Vec<AclBinding> = (body.creations.into_iter())
            .map(|c| {
                AclBinding::new(
                    ResourcePattern::new(
                        ResourceType::from_code(c.resource_type),
                        &c.resource_name,
                        PatternType::from_code(c.resource_pattern_type),
                    ),
                    AccessControlEntry::new(
                        &c.principal,
                        &c.host,
                        AclOperation::from_code(c.operation),
                        AclPermissionType::from_code(c.permission_type),
                    ),
                )
            })
            .collect();
        let results = match ask(&self.node, CreateAclsArgs { bindings }).await {
            Ok(QuorumReply::AclsCreated { results, .. }) if results.len() == count => results,
            other => vec![Err(quorum_refusal(other, "create the ACLs")); count],
        };
        Ok(created(results))
    }

    pub(super) async fn delete_acls(
        &self,
        body: DeleteAclsRequest,
        request: &KafkaRequest,
    ) -> Result<DeleteAclsResponse, GatewayError> {
        let count = body.filters.len();
        if let Some(refusal) = self.acl_api_refusal(request, "DeleteAcls", AclOperation::Alter) {
            return Ok(deleted(vec![Err(refusal); count]));
        }
        if count == 0 {
            return Ok(deleted(Vec::new()));
        }
        let filters: Vec<AclBindingFilter> = (body.filters.into_iter())
            .map(|f| {
                binding_filter(
                    f.resource_type_filter,
                    f.resource_name_filter,
                    f.pattern_type_filter,
                    f.principal_filter,
                    f.host_filter,
                    f.operation,
                    f.permission_type,
                )
            })
            .collect();
        let results = match ask(&self.node, DeleteAclsArgs { filters }).await {
            Ok(QuorumReply::AclsDeleted { results, .. }) if results.len() == count => results,
            other => vec![Err(quorum_refusal(other, "delete the ACLs")); count],
        };
        Ok(deleted(results))
    }

    pub(super) async fn describe_acls(
        &self,
        body: DescribeAclsRequest,
        request: &KafkaRequest,
    ) -> Result<DescribeAclsResponse, GatewayError> {
        if let Some(refusal) = self.acl_api_refusal(request, "DescribeAcls", AclOperation::Describe)
        {
            return Ok(describe_refused(refusal));
        }
        let filter = binding_filter(
            body.resource_type_filter,
            body.resource_name_filter,
            body.pattern_type_filter,
            body.principal_filter,
            body.host_filter,
            body.operation,
            body.permission_type,
        );
        // Kafka's `DescribeAclsRequest.validate`: a value this version does not know is
        // refused, not read as matching nothing.
        if filter.is_unknown() {
            return Ok(describe_refused(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                "DescribeAclsRequest contains UNKNOWN elements",
            )));
        }
        let acls = ask(&self.node, AclsRequest).await?;
        let mut by_pattern: BTreeMap<&ResourcePattern, Vec<&AccessControlEntry>> = BTreeMap::new();
        for (_, binding) in acls.matching(&filter) {
            by_pattern
                .entry(&binding.pattern)
                .or_default()
                .push(&binding.entry);
        }
        let resources = (by_pattern.into_iter())
            .map(|(pattern, entries)| {
                let acls = (entries.into_iter())
                    .map(|e| {
                        AclDescription::default()
                            .with_principal(text(e.principal.clone()))
                            .with_host(text(e.host.clone()))
                            .with_operation(e.operation.code())
                            .with_permission_type(e.permission.code())
                    })
                    .collect();
                DescribeAclsResource::default()
                    .with_resource_type(pattern.resource_type.code())
                    .with_resource_name(text(pattern.name.clone()))
                    .with_pattern_type(pattern.pattern_type.code())
                    .with_acls(acls)
            })
            .collect();
        Ok(DescribeAclsResponse::default()
            .with_error_message(None)
            .with_resources(resources))
    }
}

/// A DescribeAcls or DeleteAcls filter as the wire carries it (a null text: any).
fn binding_filter(
    resource_type: i8,
    name: Option<StrBytes>,
    pattern_type: i8,
    principal: Option<StrBytes>,
    host: Option<StrBytes>,
    operation: i8,
    permission: i8,
) -> AclBindingFilter {
    AclBindingFilter {
        pattern: ResourcePatternFilter {
            resource_type: ResourceType::from_code(resource_type),
            name: name.map(|n| n.to_string()),
            pattern_type: PatternType::from_code(pattern_type),
        },
        entry: AccessControlEntryFilter {
            principal: principal.map(|p| p.to_string()),
            host: host.map(|h| h.to_string()),
            operation: AclOperation::from_code(operation),
            permission: AclPermissionType::from_code(permission),
        },
    }
}

fn created(results: Vec<Result<(), Refusal>>) -> CreateAclsResponse {
    let results = (results.into_iter())
        .map(|result| match result {
            Ok(()) => AclCreationResult::default().with_error_message(None),
            Err(refusal) => AclCreationResult::default()
                .with_error_code(refusal.code.wire())
                .with_error_message(Some(text(refusal.message))),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

fn deleted(results: Vec<Result<Vec<AclBinding>, Refusal>>) -> DeleteAclsResponse {
    let results = (results.into_iter())
        .map(|result| match result {
            Ok(matched) => {
                let matching = (matched.into_iter())
                    .map(|b| {
                        DeleteAclsMatchingAcl::default()
                            .with_error_message(None)
                            .with_resource_type(b.pattern.resource_type.code())
                            .with_resource_name(text(b.pattern.name))
                            .with_pattern_type(b.pattern.pattern_type.code())
                            .with_principal(text(b.entry.principal))
                            .with_host(text(b.entry.host))
                            .with_operation(b.entry.operation.code())
                            .with_permission_type(b.entry.permission.code())
                    })
                    .collect();
                DeleteAclsFilterResult::default()
                    .with_error_message(None)
                    .with_matching_acls(matching)
            }
            Err(refusal) => DeleteAclsFilterResult::default()
                .with_error_code(refusal.code.wire())
                .with_error_message(Some(text(refusal.message))),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

fn describe_refused(refusal: Refusal) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(refusal.code.wire())
        .with_error_message(Some(text(refusal.message)))
}
