//! An ACL as Kafka writes one: a resource pattern (what) and an access control entry (who,
//! from where, doing what, allowed or denied) — Kafka's `AclBinding`, `ResourcePattern` and
//! `AccessControlEntry` — and the checks CreateAcls makes before it stores one.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::codes::{AclOperation, AclPermissionType, PatternType, ResourceType};
use crate::types::{ErrorCode, Refusal};

/// The one name a CLUSTER resource has (Kafka's `Resource.CLUSTER_NAME`).
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// A LITERAL resource name that stands for every resource of its type
/// (`ResourcePattern.WILDCARD_RESOURCE`).
pub const WILDCARD_RESOURCE: &str = "*";

/// An ACL host that matches every client address (`AclEntry.WILDCARD_HOST`).
pub const WILDCARD_HOST: &str = "*";

/// An ACL principal that matches every principal, whatever its type
/// (`StandardAuthorizerData.WILDCARD_PRINCIPAL`).
pub const WILDCARD_PRINCIPAL: &str = "User:*";

/// Which resources an ACL is about (Kafka's `ResourcePattern`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    /// A resource's full name, `*` (LITERAL only: every resource of the type), or a prefix.
    pub name: String,
    /// LITERAL or PREFIXED in a stored binding.
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    pub fn new(resource_type: ResourceType, name: &str, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            name: name.to_string(),
            pattern_type,
        }
    }

    pub fn literal(resource_type: ResourceType, name: &str) -> Self {
        Self::new(resource_type, name, PatternType::Literal)
    }

    pub fn prefixed(resource_type: ResourceType, name: &str) -> Self {
        Self::new(resource_type, name, PatternType::Prefixed)
    }

    /// Whether this pattern covers the resource `name` of the same type: a LITERAL pattern of
    /// that name or of `*`, a PREFIXED pattern the name starts with (a prefix of itself
    /// included). Prefixes are of characters, as Java's `startsWith`; for UTF-8 text a byte
    /// prefix that is valid text is the same thing. What StandardAuthorizer reads and what a
    /// MATCH filter selects (`ResourcePatternFilter.matches`).
    pub fn covers(&self, name: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.name == name || self.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(self.name.as_str()),
            _ => false,
        }
    }
}

/// Kafka's `ResourcePattern.toString`.
impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

/// Who may (or may not) do what, from where (Kafka's `AccessControlEntry`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AccessControlEntry {
    /// `Type:name` as written (`User:alice`), or `User:*` for everyone. Kept as text, as Kafka
    /// keeps it: the type is everything before the first colon.
    pub principal: String,
    /// A client address as text (as Java's `InetAddress.getHostAddress` prints it, see
    /// [`super::host::client_host_text`]), or `*` for every address.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AccessControlEntry {
    pub fn new(
        principal: &str,
        host: &str,
        operation: AclOperation,
        permission: AclPermissionType,
    ) -> Self {
        Self {
            principal: principal.to_string(),
            host: host.to_string(),
            operation,
            permission,
        }
    }
}

/// Kafka's `AccessControlEntryData.toString`.
impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }
}

/// One ACL (Kafka's `AclBinding`): what CreateAcls creates, DescribeAcls lists and the
/// metadata log's `AccessControlEntryRecord` carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

impl AclBinding {
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        Self { pattern, entry }
    }

    /// Whether CreateAcls may store this binding; the first reason it may not.
    ///
    /// Kafka checks in two places, and a client sees the broker's reasons first: the broker
    /// (`AclApis.handleCreateAcls`) refuses a CLUSTER name other than `kafka-cluster`, then an
    /// empty name; the controller (`AclControlManager.validateNewAcl`) refuses a resource
    /// type, pattern type, operation or permission that is a filter value or unknown, and a
    /// principal without a colon (KAFKA-18051). Here the controller's type checks come first:
    /// in Kafka a binding with ANY, MATCH or UNKNOWN in it never gets as far as the broker's
    /// checks — the whole request fails before them (`CreateAclsRequest` refuses UNKNOWN
    /// codes, `ResourcePattern` and `AccessControlEntry` refuse the filter values) — so the
    /// order decides nothing a Kafka client could observe. Every refusal here is one
    /// binding's INVALID_REQUEST, with Kafka's words; failing the whole request instead is
    /// the request handler's choice.
    ///
    /// Kafka accepts what the controller does not look at: any host text, a principal with an
    /// empty type (`:alice`), a PREFIXED pattern named `*` (it covers names that start with
    /// `*`, not every name). So does this.
    pub fn validate(&self) -> Result<(), AclBindingError> {
        let pattern = &self.pattern;
        let entry = &self.entry;
        if matches!(
            pattern.resource_type,
            ResourceType::Unknown | ResourceType::Any
        ) {
            return Err(AclBindingError::ResourceType(pattern.resource_type));
        }
        if !matches!(
            pattern.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Err(AclBindingError::PatternType(pattern.pattern_type));
        }
        if matches!(entry.operation, AclOperation::Unknown | AclOperation::Any) {
            return Err(AclBindingError::Operation(entry.operation));
        }
        if !matches!(
            entry.permission,
            AclPermissionType::Allow | AclPermissionType::Deny
        ) {
            return Err(AclBindingError::Permission(entry.permission));
        }
        if pattern.resource_type == ResourceType::Cluster && pattern.name != CLUSTER_NAME {
            return Err(AclBindingError::ClusterName);
        }
        if pattern.name.is_empty() {
            return Err(AclBindingError::EmptyName);
        }
        if !entry.principal.contains(':') {
            return Err(AclBindingError::Principal(entry.principal.clone()));
        }
        Ok(())
    }
}

/// Kafka's `AclBinding.toString`.
impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(pattern={}, entry={})", self.pattern, self.entry)
    }
}

/// Why CreateAcls refuses a binding. Each is Kafka's `InvalidRequestException` with Kafka's
/// message: the client gets INVALID_REQUEST and [`AclBindingError::refusal`]'s text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AclBindingError {
    /// UNKNOWN, or the filter value ANY.
    #[error("Invalid resourceType {0}")]
    ResourceType(ResourceType),
    /// UNKNOWN, or the filter values ANY and MATCH.
    #[error("Invalid patternType {0}")]
    PatternType(PatternType),
    /// UNKNOWN, or the filter value ANY.
    #[error("Invalid operation {0}")]
    Operation(AclOperation),
    /// UNKNOWN, or the filter value ANY.
    #[error("Invalid permissionType {0}")]
    Permission(AclPermissionType),
    #[error("The only valid name for the CLUSTER resource is {CLUSTER_NAME}")]
    ClusterName,
    #[error("Invalid empty resource name")]
    EmptyName,
    /// The principal has no colon, so no type: no session principal could ever match it.
    #[error(
        "Could not parse principal from `{0}` (no colon is present separating the principal \
         type from the principal name)"
    )]
    Principal(String),
}

impl AclBindingError {
    /// The creation result's error code and message.
    pub fn refusal(&self) -> Refusal {
        Refusal::new(ErrorCode::INVALID_REQUEST, self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AclBinding {
        AclBinding::new(
            ResourcePattern::literal(ResourceType::Topic, "orders"),
            AccessControlEntry::new(
                "User:alice",
                "*",
                AclOperation::Read,
                AclPermissionType::Allow,
            ),
        )
    }

    fn refused(change: impl FnOnce(&mut AclBinding)) -> AclBindingError {
        let mut binding = good();
        change(&mut binding);
        binding.validate().unwrap_err()
    }

    #[test]
    fn a_specific_binding_is_accepted() {
        assert_eq!(good().validate(), Ok(()));
        let mut prefixed = good();
        prefixed.pattern = ResourcePattern::prefixed(ResourceType::Group, "app-");
        prefixed.entry.permission = AclPermissionType::Deny;
        prefixed.entry.operation = AclOperation::All;
        assert_eq!(prefixed.validate(), Ok(()));
        let mut cluster = good();
        cluster.pattern = ResourcePattern::literal(ResourceType::Cluster, "kafka-cluster");
        assert_eq!(cluster.validate(), Ok(()));
    }

    /// Every filter value and UNKNOWN is refused where a binding needs a specific value, with
    /// the controller's words.
    #[test]
    fn filter_values_and_unknowns_are_refused() {
        for rt in [ResourceType::Unknown, ResourceType::Any] {
            let error = refused(|b| b.pattern.resource_type = rt);
            assert_eq!(error, AclBindingError::ResourceType(rt));
            assert_eq!(
                error.to_string(),
                format!("Invalid resourceType {}", rt.name())
            );
        }
        for pt in [PatternType::Unknown, PatternType::Any, PatternType::Match] {
            let error = refused(|b| b.pattern.pattern_type = pt);
            assert_eq!(
                error.to_string(),
                format!("Invalid patternType {}", pt.name())
            );
        }
        for op in [AclOperation::Unknown, AclOperation::Any] {
            let error = refused(|b| b.entry.operation = op);
            assert_eq!(
                error.to_string(),
                format!("Invalid operation {}", op.name())
            );
        }
        for perm in [AclPermissionType::Unknown, AclPermissionType::Any] {
            let error = refused(|b| b.entry.permission = perm);
            assert_eq!(
                error.to_string(),
                format!("Invalid permissionType {}", perm.name())
            );
        }
    }

    #[test]
    fn names_and_principals_are_checked_as_kafka_checks_them() {
        let cluster =
            refused(|b| b.pattern = ResourcePattern::literal(ResourceType::Cluster, "my-cluster"));
        assert_eq!(
            cluster.to_string(),
            "The only valid name for the CLUSTER resource is kafka-cluster"
        );
        // The broker's cluster check comes before its empty-name check.
        let empty_cluster =
            refused(|b| b.pattern = ResourcePattern::literal(ResourceType::Cluster, ""));
        assert_eq!(empty_cluster, AclBindingError::ClusterName);
        let empty = refused(|b| b.pattern.name.clear());
        assert_eq!(empty.to_string(), "Invalid empty resource name");
        let principal = refused(|b| b.entry.principal = "alice".into());
        assert_eq!(
            principal.to_string(),
            "Could not parse principal from `alice` (no colon is present separating the \
             principal type from the principal name)"
        );
        let refusal = principal.refusal();
        assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
        assert_eq!(refusal.code.wire(), 42);
        assert_eq!(refusal.message, principal.to_string());
        // What Kafka does not check, neither does Rill.
        for change in [
            (|b: &mut AclBinding| b.entry.principal = ":alice".into()) as fn(&mut AclBinding),
            |b| b.entry.host = "not an address".into(),
            |b| b.pattern = ResourcePattern::prefixed(ResourceType::Topic, "*"),
        ] {
            let mut binding = good();
            change(&mut binding);
            assert_eq!(binding.validate(), Ok(()), "{binding}");
        }
    }

    #[test]
    fn a_pattern_covers_names_as_kafka_matches_them() {
        let literal = ResourcePattern::literal(ResourceType::Topic, "foo");
        assert!(literal.covers("foo"));
        assert!(!literal.covers("foobar"));
        assert!(!literal.covers("fo"));
        let wildcard = ResourcePattern::literal(ResourceType::Topic, "*");
        assert!(wildcard.covers("anything") && wildcard.covers("*"));
        let prefixed = ResourcePattern::prefixed(ResourceType::Topic, "foo");
        assert!(prefixed.covers("foo") && prefixed.covers("foobar"));
        assert!(!prefixed.covers("fo") && !prefixed.covers("xfoo"));
        let star_prefix = ResourcePattern::prefixed(ResourceType::Topic, "*");
        assert!(star_prefix.covers("*x") && !star_prefix.covers("x"));
    }

    #[test]
    fn bindings_print_as_kafka_prints_them() {
        assert_eq!(
            good().to_string(),
            "(pattern=ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL), \
             entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"
        );
    }
}
