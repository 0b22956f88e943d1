//! Which ACLs a DescribeAcls or DeleteAcls names (Kafka's `AclBindingFilter`,
//! `ResourcePatternFilter`, `AccessControlEntryFilter`).
//!
//! A filter's field either names one value, or leaves it open: a missing name, principal or
//! host (`null` on the wire) and the filter values ANY (every value) and MATCH (every pattern
//! covering the name). Text fields compare exactly: a filter for principal `User:*` selects
//! the ACLs written for `User:*`, not every ACL — filters select ACLs as written, they do not
//! authorize.

use serde::{Deserialize, Serialize};

use super::binding::{AccessControlEntry, AclBinding, ResourcePattern};
use super::codes::{AclOperation, AclPermissionType, PatternType, ResourceType};
use crate::types::{ErrorCode, Refusal};

/// Which resource patterns a filter selects (Kafka's `ResourcePatternFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourcePatternFilter {
    /// ANY: every type; any other value: that type only.
    pub resource_type: ResourceType,
    /// `None`: every name. With ANY or a specific pattern type the name compares exactly
    /// (so `*` selects only the wildcard ACLs); with MATCH, every pattern covering it.
    pub name: Option<String>,
    /// ANY, MATCH, or the one pattern type selected.
    pub pattern_type: PatternType,
}

impl ResourcePatternFilter {
    /// Every pattern (`ResourcePatternFilter.ANY`).
    pub const ANY: Self = Self {
        resource_type: ResourceType::Any,
        name: None,
        pattern_type: PatternType::Any,
    };

    pub fn new(resource_type: ResourceType, name: Option<&str>, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            name: name.map(str::to_string),
            pattern_type,
        }
    }

    /// Kafka's `ResourcePatternFilter.matches`.
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        // MATCH: the patterns that would cover a resource of this name.
        pattern.covers(name)
    }

    /// Kafka's `isUnknown`: a type this version does not know in it.
    pub fn is_unknown(&self) -> bool {
        self.resource_type == ResourceType::Unknown || self.pattern_type == PatternType::Unknown
    }

    /// Kafka's `findIndefiniteField`: the first field that could select more than one
    /// pattern, in Kafka's words; `None` when the filter names exactly one pattern.
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        let open = [
            (
                self.resource_type == ResourceType::Any,
                "Resource type is ANY.",
            ),
            (
                self.resource_type == ResourceType::Unknown,
                "Resource type is UNKNOWN.",
            ),
            (self.name.is_none(), "Resource name is NULL."),
            (
                self.pattern_type == PatternType::Match,
                "Resource pattern type is MATCH.",
            ),
            (
                self.pattern_type == PatternType::Unknown,
                "Resource pattern type is UNKNOWN.",
            ),
        ];
        open.into_iter().find(|(is, _)| *is).map(|(_, why)| why)
    }

    /// Kafka's `matchesAtMostOne`. Note that pattern type ANY with a name still counts as
    /// one (Kafka's rule), though it selects that name's LITERAL and PREFIXED patterns both.
    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }
}

/// Which access control entries a filter selects (Kafka's `AccessControlEntryFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessControlEntryFilter {
    /// `None`: every principal; otherwise the principal text exactly.
    pub principal: Option<String>,
    /// `None`: every host; otherwise the host text exactly.
    pub host: Option<String>,
    /// ANY, or the one operation.
    pub operation: AclOperation,
    /// ANY, or the one permission.
    pub permission: AclPermissionType,
}

impl AccessControlEntryFilter {
    /// Every entry (`AccessControlEntryFilter.ANY`).
    pub const ANY: Self = Self {
        principal: None,
        host: None,
        operation: AclOperation::Any,
        permission: AclPermissionType::Any,
    };

    /// Kafka's `AccessControlEntryFilter.matches`.
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission == AclPermissionType::Any || self.permission == entry.permission)
    }

    /// Kafka's `isUnknown`: an operation or permission this version does not know.
    pub fn is_unknown(&self) -> bool {
        self.operation == AclOperation::Unknown || self.permission == AclPermissionType::Unknown
    }

    /// Kafka's `findIndefiniteField`, in Kafka's words.
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        let open = [
            (self.principal.is_none(), "Principal is NULL"),
            (self.host.is_none(), "Host is NULL"),
            (self.operation == AclOperation::Any, "Operation is ANY"),
            (
                self.operation == AclOperation::Unknown,
                "Operation is UNKNOWN",
            ),
            (
                self.permission == AclPermissionType::Any,
                "Permission type is ANY",
            ),
            (
                self.permission == AclPermissionType::Unknown,
                "Permission type is UNKNOWN",
            ),
        ];
        open.into_iter().find(|(is, _)| *is).map(|(_, why)| why)
    }

    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }
}

/// Which ACLs a DescribeAcls or DeleteAcls names (Kafka's `AclBindingFilter`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: AccessControlEntryFilter,
}

impl AclBindingFilter {
    /// Every ACL (`AclBindingFilter.ANY`).
    pub const ANY: Self = Self {
        pattern: ResourcePatternFilter::ANY,
        entry: AccessControlEntryFilter::ANY,
    };

    /// Exactly `binding` (Kafka's `toFilter`).
    pub fn exactly(binding: &AclBinding) -> Self {
        Self {
            pattern: ResourcePatternFilter::new(
                binding.pattern.resource_type,
                Some(&binding.pattern.name),
                binding.pattern.pattern_type,
            ),
            entry: AccessControlEntryFilter {
                principal: Some(binding.entry.principal.clone()),
                host: Some(binding.entry.host.clone()),
                operation: binding.entry.operation,
                permission: binding.entry.permission,
            },
        }
    }

    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }

    pub fn is_unknown(&self) -> bool {
        self.pattern.is_unknown() || self.entry.is_unknown()
    }

    /// The pattern's indefinite field, else the entry's.
    pub fn find_indefinite_field(&self) -> Option<&'static str> {
        self.pattern
            .find_indefinite_field()
            .or_else(|| self.entry.find_indefinite_field())
    }

    /// Whether the filter can select at most one ACL: no open field anywhere.
    pub fn matches_at_most_one(&self) -> bool {
        self.find_indefinite_field().is_none()
    }

    /// DeleteAcls' check of each filter (`AclControlManager.validateFilter`): one with a
    /// value this version does not know is refused, not read as selecting nothing, so a
    /// newer client's delete is not answered "deleted nothing".
    pub fn validate_for_delete(&self) -> Result<(), Refusal> {
        if self.pattern.is_unknown() {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                "Unknown patternFilter.",
            ));
        }
        if self.entry.is_unknown() {
            return Err(Refusal::new(
                ErrorCode::INVALID_REQUEST,
                "Unknown entryFilter.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(rt: ResourceType, name: &str, pt: PatternType, principal: &str) -> AclBinding {
        AclBinding::new(
            ResourcePattern::new(rt, name, pt),
            AccessControlEntry::new(principal, "*", AclOperation::Read, AclPermissionType::Allow),
        )
    }

    fn pattern_filter(rt: ResourceType, name: Option<&str>, pt: PatternType) -> AclBindingFilter {
        AclBindingFilter {
            pattern: ResourcePatternFilter::new(rt, name, pt),
            entry: AccessControlEntryFilter::ANY,
        }
    }

    /// The names a filter selects among one topic's patterns.
    fn selected(filter: &AclBindingFilter) -> Vec<String> {
        let all = [
            binding(
                ResourceType::Topic,
                "payments.received",
                PatternType::Literal,
                "User:a",
            ),
            binding(ResourceType::Topic, "*", PatternType::Literal, "User:a"),
            binding(
                ResourceType::Topic,
                "payments.",
                PatternType::Prefixed,
                "User:a",
            ),
            binding(
                ResourceType::Topic,
                "payments.received",
                PatternType::Prefixed,
                "User:a",
            ),
            binding(
                ResourceType::Topic,
                "payments.receivedX",
                PatternType::Prefixed,
                "User:a",
            ),
            binding(ResourceType::Topic, "other", PatternType::Literal, "User:a"),
            binding(
                ResourceType::Group,
                "payments.received",
                PatternType::Literal,
                "User:a",
            ),
        ];
        all.iter()
            .filter(|b| filter.matches(b))
            .map(|b| {
                format!(
                    "{}:{}:{}",
                    b.pattern.resource_type, b.pattern.pattern_type, b.pattern.name
                )
            })
            .collect()
    }

    #[test]
    fn any_selects_everything() {
        assert_eq!(selected(&AclBindingFilter::ANY).len(), 7);
        assert!(!AclBindingFilter::ANY.matches_at_most_one());
        assert_eq!(
            AclBindingFilter::ANY.find_indefinite_field(),
            Some("Resource type is ANY.")
        );
    }

    /// PatternType's own example: MATCH selects the literal name, the wildcard and the
    /// covering prefixes, of the same type only.
    #[test]
    fn match_selects_every_pattern_covering_the_name() {
        let filter = pattern_filter(
            ResourceType::Topic,
            Some("payments.received"),
            PatternType::Match,
        );
        assert_eq!(
            selected(&filter),
            [
                "TOPIC:LITERAL:payments.received",
                "TOPIC:LITERAL:*",
                "TOPIC:PREFIXED:payments.",
                "TOPIC:PREFIXED:payments.received",
            ]
        );
        assert_eq!(
            filter.find_indefinite_field(),
            Some("Resource pattern type is MATCH.")
        );
    }

    #[test]
    fn any_pattern_type_and_specific_types_compare_the_name_exactly() {
        let any = pattern_filter(
            ResourceType::Any,
            Some("payments.received"),
            PatternType::Any,
        );
        assert_eq!(
            selected(&any),
            [
                "TOPIC:LITERAL:payments.received",
                "TOPIC:PREFIXED:payments.received",
                "GROUP:LITERAL:payments.received",
            ]
        );
        let wildcard = pattern_filter(ResourceType::Topic, Some("*"), PatternType::Literal);
        assert_eq!(selected(&wildcard), ["TOPIC:LITERAL:*"]);
        let prefixed = pattern_filter(ResourceType::Topic, None, PatternType::Prefixed);
        assert_eq!(selected(&prefixed).len(), 3);
        assert_eq!(
            prefixed.find_indefinite_field(),
            Some("Resource name is NULL.")
        );
        // A filter type this version does not know selects nothing, and is unknown.
        let unknown = pattern_filter(ResourceType::Unknown, None, PatternType::Any);
        assert!(selected(&unknown).is_empty());
        assert!(unknown.is_unknown());
    }

    #[test]
    fn entry_fields_compare_exactly_and_open_fields_select_all() {
        let alice = binding(ResourceType::Topic, "t", PatternType::Literal, "User:alice");
        let everyone = binding(ResourceType::Topic, "t", PatternType::Literal, "User:*");
        let mut filter = AclBindingFilter::ANY;
        filter.entry.principal = Some("User:*".into());
        assert!(filter.matches(&everyone) && !filter.matches(&alice));
        filter.entry.principal = Some("User:alice".into());
        filter.entry.host = Some("10.0.0.1".into());
        assert!(!filter.matches(&alice), "the ACL's host is *, not 10.0.0.1");
        filter.entry.host = Some("*".into());
        assert!(filter.matches(&alice));
        filter.entry.operation = AclOperation::Write;
        assert!(!filter.matches(&alice));
        filter.entry.operation = AclOperation::Read;
        filter.entry.permission = AclPermissionType::Deny;
        assert!(!filter.matches(&alice));
        filter.entry.permission = AclPermissionType::Allow;
        assert!(filter.matches(&alice));
    }

    #[test]
    fn an_exact_filter_selects_its_binding_and_at_most_one() {
        let alice = binding(
            ResourceType::Topic,
            "t",
            PatternType::Prefixed,
            "User:alice",
        );
        let filter = AclBindingFilter::exactly(&alice);
        assert!(filter.matches_at_most_one());
        assert_eq!(filter.find_indefinite_field(), None);
        assert!(filter.matches(&alice));
        let mut other = alice.clone();
        other.pattern.pattern_type = PatternType::Literal;
        assert!(!filter.matches(&other));
        let mut open_host = filter.clone();
        open_host.entry.host = None;
        assert_eq!(open_host.find_indefinite_field(), Some("Host is NULL"));
    }

    #[test]
    fn deletes_refuse_unknown_filters_in_kafkas_words() {
        assert_eq!(AclBindingFilter::ANY.validate_for_delete(), Ok(()));
        let mut filter = AclBindingFilter::ANY;
        filter.pattern.pattern_type = PatternType::Unknown;
        let refusal = filter.validate_for_delete().unwrap_err();
        assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
        assert_eq!(refusal.message, "Unknown patternFilter.");
        let mut filter = AclBindingFilter::ANY;
        filter.entry.operation = AclOperation::Unknown;
        assert_eq!(
            filter.validate_for_delete().unwrap_err().message,
            "Unknown entryFilter."
        );
        assert!(filter.is_unknown());
    }
}
