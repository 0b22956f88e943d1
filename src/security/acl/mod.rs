//! Kafka's ACLs and StandardAuthorizer's decision, as pure logic: what an ACL is, which ones
//! a DescribeAcls or DeleteAcls filter selects, and whether a principal may do an operation
//! on a resource.
//!
//! * [`codes`] — the four enums (resource type, pattern type, operation, permission) with
//!   Kafka's wire codes and names.
//! * [`binding`] — `AclBinding` (a resource pattern and an access control entry) and the
//!   checks CreateAcls makes, refusing with INVALID_REQUEST in Kafka's words.
//! * [`filter`] — `AclBindingFilter`: ANY, MATCH and open fields, as DescribeAcls and
//!   DeleteAcls read them.
//! * [`rules`] — when one ACL applies to a request (principal, host, implied operations) and
//!   how the applying ACLs decide together (DENY beats ALLOW; no ACL at all → the default).
//! * [`index`] — the stored ACLs by type, pattern and principal, and the prefix walk that
//!   finds the PREFIXED patterns covering a name without reading the others.
//! * [`authorizer`] — `Authorizer`: the ACLs by id (as the metadata log's records name them),
//!   `super.users`, `allow.everyone.if.no.acl.found`, `authorize` and
//!   `authorize_by_resource_type`.
//! * [`host`] — a client's address as the text Kafka compares ACL hosts with.
//!
//! Each rule follows Kafka's source (`org.apache.kafka.metadata.authorizer.
//! StandardAuthorizerData`, `org.apache.kafka.server.authorizer.Authorizer`,
//! `org.apache.kafka.controller.AclControlManager`, `kafka.server.AclApis`, and the
//! `common.acl` / `common.resource` classes); each file names what it follows. No I/O, no
//! clock, no randomness: ids come from the caller (the metadata log's records), and every
//! collection iterates in a fixed order.

pub mod authorizer;
pub mod binding;
pub mod codes;
pub mod filter;
pub mod host;
pub mod index;
pub mod rules;

pub use authorizer::{AclStoreError, Authorizer, AuthorizerSettings};
pub use binding::{
    AccessControlEntry, AclBinding, AclBindingError, ResourcePattern, CLUSTER_NAME, WILDCARD_HOST,
    WILDCARD_PRINCIPAL, WILDCARD_RESOURCE,
};
pub use codes::{AclOperation, AclPermissionType, PatternType, ResourceType};
pub use filter::{AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter};
pub use host::client_host_text;
pub use index::AclId;
pub use rules::{Action, Decision, Session};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod model_tests;
