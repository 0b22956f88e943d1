//! ACLs (issue 16, Kafka's KIP-140): what the metadata log holds of them, how the gateway reads
//! them and the changes CreateAcls and DeleteAcls ask of the controller quorum's leader
//! ([`super::quorum::LeaderRequest::CreateAcls`], [`super::quorum::LeaderRequest::DeleteAcls`]).
//!
//! Every request's check reads [`PublishedAcls`], which the node's metadata voter keeps up to
//! date as it applies the log; DescribeAcls lists them from the topics actor's view
//! ([`AclsRequest`]). Both hold a shared [`crate::security::acl::Authorizer`], settings-free:
//! the gateway decides with its own `super.users` and `allow.everyone.if.no.acl.found`
//! (`Authorizer::authorize_as`). A change made through another broker is in force here once
//! this broker applied the entry (and at once at the broker that made it: its answer waits
//! for that).

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

/// The ACLs as this node last applied them, shared between the node's metadata voter, which
/// publishes each change as it applies it (before it answers the CreateAcls or DeleteAcls
/// that made it, so the broker that made a change checks with it at once), and the gateway,
/// which reads them for every request it authorizes without asking an actor.
///
/// Deterministic under the simulator: written by one actor's handler and read by the
/// gateway's tasks, all on the one simulated thread, at the points the schedule gives them.
/// Holds no lock across anything but swapping or cloning one `Arc`.
pub type PublishedAcls = Published<Authorizer>;

/// A value of the applied metadata shared whole with the gateway (the ACLs, the client
/// quotas): one `Arc` swapped by the node's metadata voter, cloned by readers.
#[derive(Debug)]
pub struct Published<T>(Arc<std::sync::RwLock<Arc<T>>>);

impl<T> Clone for Published<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for Published<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Published<T> {
    /// The value as last published (the default before the first metadata is applied: no
    /// ACL, so an authorizer allows only super users, or everyone where
    /// `allow.everyone.if.no.acl.found` says so; no quota).
    pub fn load(&self) -> Arc<T> {
        match self.0.read() {
            Ok(value) => Arc::clone(&value),
            // A panic elsewhere while swapping cannot leave a half-written `Arc`.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Publishes `value` (a no-op when it is the one published).
    pub fn publish(&self, value: &Arc<T>) {
        let mut slot = match self.0.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !Arc::ptr_eq(&slot, value) {
            *slot = Arc::clone(value);
        }
    }
}
