//! ACLs (issue 16, Kafka's KIP-140 admin APIs): what the metadata log holds of them, how the
//! gateway reads them (asking [`super::TOPICS`], which holds the node's applied view of the
//! metadata) and the changes CreateAcls and DeleteAcls ask of the controller quorum's leader
//! ([`super::quorum::LeaderRequest::CreateAcls`], [`super::quorum::LeaderRequest::DeleteAcls`]).
//!
//! The gateway asks [`AclsRequest`] for the ACLs as applied here (a shared
//! [`crate::security::acl::Authorizer`], settings-free) and decides with its own
//! `super.users` and `allow.everyone.if.no.acl.found` (`Authorizer::authorize_as`).
//! A change altered through another broker is seen here once this broker applied the entry
//! (and at once through the broker that made it: its answer waits for that).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::security::acl::{AclBinding, AclBindingFilter, Authorizer};
use crate::types::Refusal;

/// Every ACL the metadata holds, shared: the image and the topics actor's view hold the same
/// value, and a change copies it once (`Arc::make_mut`). Its settings are the default.
pub type SharedAcls = Arc<Authorizer>;

/// The ACLs as applied at this node. Answered by [`super::TOPICS`] with [`SharedAcls`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclsRequest;

/// Asks the controller to create ACLs ([`super::quorum::LeaderRequest::CreateAcls`]),
/// through this node's voter: each binding's outcome in request order.
#[derive(Clone, Debug)]
pub struct CreateAclsArgs {
    pub bindings: Vec<AclBinding>,
}

/// Asks the controller to delete the ACLs each filter matches
/// ([`super::quorum::LeaderRequest::DeleteAcls`]).
#[derive(Clone, Debug)]
pub struct DeleteAclsArgs {
    pub filters: Vec<AclBindingFilter>,
}

/// Each CreateAcls binding's outcome, in request order.
pub type AclCreations = Vec<Result<(), Refusal>>;

/// Each DeleteAcls filter's outcome, in request order: the ACLs it matched and removed.
pub type AclDeletions = Vec<Result<Vec<AclBinding>, Refusal>>;
