//! Per-request authorization (issue 16): the checks Kafka's `KafkaApis` and `AuthHelper` make
//! of each request against the ACLs, when `authorizer.class.name` is set.
//!
//! Each handler takes an [`Access`] for its request ([`BrokerService::access`]) and asks it
//! for the operations Kafka checks, resource by resource: e.g. Produce WRITE on each topic,
//! Fetch READ, Metadata DESCRIBE (topics it may not describe are left out, not refused),
//! the group APIs READ on the group. Without an authorizer every check allows.
//!
//! The ACLs are the ones this node's metadata voter published last ([`PublishedAcls`]): read
//! per request without asking an actor, so a check costs one `Arc` clone and the lookups
//! ([`crate::security::acl::authorizer`]). The server takes no client before its voter applied
//! the metadata the quorum's leader had committed (`host::server`), so the ACLs are in place
//! by a client's first request (Kafka refuses with AuthorizerNotReady before then). A gateway
//! built without a publisher (tests) knows no ACL: only super users pass, or everyone with
//! `allow.everyone.if.no.acl.found`.
//!
//! [`PublishedAcls`]: crate::messages::acls::PublishedAcls

use std::sync::Arc;

use super::service::{ConnectionContext, KafkaRequest};
use super::BrokerService;
use crate::actor::client::ActorClient;
use crate::faults::{canary, Canary};
use crate::messages::acls::SharedAcls;
use crate::messages::NodeMsg;
use crate::security::acl::{
    client_host_text, AclOperation, Action, AuthorizerSettings, ResourceType, Session, CLUSTER_NAME,
};
use crate::security::principal::KafkaPrincipal;
use crate::types::log_sampling::PowersOfTwo;

/// Kafka's words for TOPIC_AUTHORIZATION_FAILED (`Errors`' default message).
pub const TOPIC_NOT_AUTHORIZED: &str = "Topic authorization failed.";

/// Kafka's words for GROUP_AUTHORIZATION_FAILED.
pub const GROUP_NOT_AUTHORIZED: &str = "Group authorization failed.";

/// Kafka's words for TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
pub const TXN_ID_NOT_AUTHORIZED: &str = "Transactional Id authorization failed.";

/// Kafka's `authorized_operations` when the request did not ask for them (INT32_MIN).
pub(super) const OPERATIONS_NOT_ASKED: i32 = i32::MIN;

/// The operations each resource type supports (Kafka's `AclEntry.supportedOperations`), of
/// which an `authorized_operations` field reports those allowed.
pub(super) const TOPIC_OPERATIONS: [AclOperation; 8] = [
    AclOperation::Read,
    AclOperation::Write,
    AclOperation::Create,
    AclOperation::Describe,
    AclOperation::Delete,
    AclOperation::Alter,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
];
pub(super) const GROUP_OPERATIONS: [AclOperation; 3] = [
    AclOperation::Read,
    AclOperation::Delete,
    AclOperation::Describe,
];
pub(super) const CLUSTER_OPERATIONS: [AclOperation; 7] = [
    AclOperation::Create,
    AclOperation::ClusterAction,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
    AclOperation::IdempotentWrite,
    AclOperation::Alter,
    AclOperation::Describe,
];

/// What one request's principal may do, from its address. Owned (a few `Arc`s), so an
/// answer completed later can still check.
pub(super) struct Access {
    /// The ACLs and this broker's authorizer settings; `None`: no authorizer, all allowed.
    checker: Option<(SharedAcls, Arc<AuthorizerSettings>)>,
    /// Who the connection authenticated as.
    context: Arc<ConnectionContext>,
    /// The client's address as ACL hosts are compared with it.
    host: String,
    /// The API asking, for the log of refusals.
    api: &'static str,
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// The checks for `request` (of the API named `api`, for the log).
    pub(super) fn access(&self, request: &KafkaRequest, api: &'static str) -> Access {
        let checker = (self.authorizer.as_ref()).map(|s| (self.acls.load(), Arc::clone(s)));
        let host = match checker {
            Some(_) => client_host_text(request.client.ip()),
            None => String::new(),
        };
        Access {
            checker,
            context: Arc::clone(&request.context),
            host,
            api,
        }
    }
}

impl Access {
    fn principal(&self) -> &KafkaPrincipal {
        &self.context.principal
    }

    /// Whether an authorizer checks anything (`authorizer.class.name` is set).
    pub fn is_on(&self) -> bool {
        self.checker.is_some()
    }

    /// May the principal do `operation` on the resource? A refusal is logged (Kafka's
    /// `logIfDenied`).
    pub fn allows(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        self.decide(operation, resource_type, name, true)
    }

    /// [`Access::allows`] for a check that only filters what an answer lists (Metadata's
    /// topics, ListGroups' groups): a refusal there is routine and not logged.
    pub fn sees(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        self.decide(operation, resource_type, name, false)
    }

    /// Kafka's `authorized_operations` bit field: the bit of each of `supported` the
    /// principal may do on the resource (asked quietly, as Kafka does).
    pub fn operations(
        &self,
        resource_type: ResourceType,
        name: &str,
        supported: &[AclOperation],
    ) -> i32 {
        (supported.iter())
            .filter(|op| self.sees(**op, resource_type, name))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    /// The cluster's `authorized_operations` as Kafka answers them: 0 unless the principal may
    /// DESCRIBE the cluster.
    pub fn cluster_operations(&self) -> i32 {
        match self.sees(AclOperation::Describe, ResourceType::Cluster, CLUSTER_NAME) {
            true => self.operations(ResourceType::Cluster, CLUSTER_NAME, &CLUSTER_OPERATIONS),
            false => 0,
        }
    }

    /// May the principal do `operation` on the CLUSTER?
    pub fn allows_cluster(&self, operation: AclOperation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// May the principal do `operation` on some resource of `resource_type`? Kafka's
    /// `authorizeByResourceType` (InitProducerId without a transactional id: WRITE on any
    /// topic in place of IDEMPOTENT_WRITE on the cluster).
    pub fn allows_some(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        let Some((acls, settings)) = &self.checker else {
            return true;
        };
        let session = Session {
            principal: self.principal(),
            host: &self.host,
        };
        acls.authorize_by_resource_type_as(settings, &session, operation, resource_type)
            || canary(Canary::AclsIgnored)
    }

    fn decide(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
        log_if_denied: bool,
    ) -> bool {
        let Some((acls, settings)) = &self.checker else {
            return true;
        };
        let session = Session {
            principal: self.principal(),
            host: &self.host,
        };
        let action = Action {
            operation,
            resource_type,
            resource_name: name,
        };
        let decision = acls.authorize_as(settings, &session, &action);
        if !decision.is_allowed() && log_if_denied {
            // At info for the powers of two of their count: a client repeating a refused
            // request must not flood the log.
            static REFUSED: PowersOfTwo = PowersOfTwo::new();
            let (refused, loud) = REFUSED.count();
            let (principal, host, api) = (self.principal(), &self.host, self.api);
            if loud {
                tracing::info!(%principal, %host, api, ?operation, ?resource_type, name, ?decision, refused, "request refused by the authorizer");
            } else {
                tracing::debug!(%principal, %host, api, ?operation, ?resource_type, name, ?decision, "request refused by the authorizer");
            }
        }
        decision.is_allowed() || canary(Canary::AclsIgnored)
    }
}
