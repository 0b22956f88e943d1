//! StandardAuthorizer's rules for one ACL whose resource pattern covers the request: does it
//! apply to this principal, from this host, for this operation (Kafka's
//! `StandardAuthorizerData.findResult`); and the decision the applying ACLs make together.

use super::binding::{WILDCARD_HOST, WILDCARD_PRINCIPAL};
use super::codes::{AclOperation, AclPermissionType, ResourceType};
use crate::security::KafkaPrincipal;

/// What a request is checked for: who asks, and from where. Kafka's
/// `AuthorizableRequestContext`, reduced to what the decision reads.
#[derive(Clone, Copy, Debug)]
pub struct Session<'a> {
    pub principal: &'a KafkaPrincipal,
    /// The client's address as Java's `InetAddress.getHostAddress` prints it
    /// ([`super::host::client_host_text`]): ACL hosts are compared to it as text.
    pub host: &'a str,
}

/// What the request wants to do: one operation on one resource, named literally (Kafka's
/// `Action` with a LITERAL pattern; StandardAuthorizer refuses any other).
#[derive(Clone, Copy, Debug)]
pub struct Action<'a> {
    pub operation: AclOperation,
    pub resource_type: ResourceType,
    pub resource_name: &'a str,
}

/// The outcome of one check, with the rule that decided it (what Kafka's audit log prints as
/// `based on rule ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The principal is in `super.users`: allowed, whatever the ACLs say (`SuperUser`).
    SuperUser,
    /// An ALLOW ACL applies and no DENY ACL does (`MatchingAcl`, ALLOWED).
    AllowAcl,
    /// A DENY ACL applies: denied, however many ALLOW ACLs do too (`MatchingAcl`, DENIED).
    DenyAcl,
    /// ACLs cover the resource, but none applies to this principal, host and operation:
    /// denied, whatever `allow.everyone.if.no.acl.found` says (`DefaultDeny`).
    NoMatchingAcl,
    /// No ACL covers the resource at all, for anyone: `allow.everyone.if.no.acl.found`
    /// decides (`DefaultAllow` / `DefaultDeny`).
    NoAclOnResource { allow_everyone: bool },
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        match self {
            Decision::SuperUser | Decision::AllowAcl => true,
            Decision::DenyAcl | Decision::NoMatchingAcl => false,
            Decision::NoAclOnResource { allow_everyone } => allow_everyone,
        }
    }
}

/// The key an ACL written for exactly this principal is stored under: `Type:name`. `None`
/// when the type holds a colon: an ACL's type is everything before its first colon, so no
/// ACL's principal can parse back to such a principal (Kafka compares the parsed pair).
pub fn principal_key(principal: &KafkaPrincipal) -> Option<String> {
    (!principal.kind.contains(':')).then(|| principal.to_string())
}

/// Whether an ACL's principal applies to `who`: its type (before the first colon) and name
/// are `who`'s, or it is `User:*`, which applies to every principal of every type (Kafka's
/// `matchingPrincipals`: the session's principal and `User:*`).
pub fn principal_applies(acl_principal: &str, who: &KafkaPrincipal) -> bool {
    match acl_principal.split_once(':') {
        Some((kind, name)) => {
            (kind == who.kind && name == who.name) || acl_principal == WILDCARD_PRINCIPAL
        }
        None => false,
    }
}

/// Whether an ACL's host applies to a client at `host`: the same text, or `*`.
pub fn host_applies(acl_host: &str, host: &str) -> bool {
    acl_host == WILDCARD_HOST || acl_host == host
}

/// Whether an ACL for `acl_operation` with `permission` speaks to a request for `requested`.
///
/// ALL speaks to every operation, allowed or denied. Otherwise an ALLOW of READ, WRITE,
/// DELETE or ALTER also allows DESCRIBE, and an ALLOW of ALTER_CONFIGS also allows
/// DESCRIBE_CONFIGS; a DENY speaks only to its own operation, so a DENY of READ leaves
/// DESCRIBE alone and a DENY of DESCRIBE leaves READ alone.
pub fn operation_applies(
    acl_operation: AclOperation,
    permission: AclPermissionType,
    requested: AclOperation,
) -> bool {
    use AclOperation::*;
    if acl_operation == All {
        return true;
    }
    if permission != AclPermissionType::Allow {
        return acl_operation == requested;
    }
    match requested {
        Describe => matches!(acl_operation, Describe | Read | Write | Delete | Alter),
        DescribeConfigs => matches!(acl_operation, DescribeConfigs | AlterConfigs),
        _ => acl_operation == requested,
    }
}

/// Folds the ACLs covering a resource into one decision: a DENY that applies wins at once;
/// else an ALLOW that applies allows; else, if any ACL covered the resource, deny; else the
/// default. (Kafka's `MatchingRuleBuilder`.)
#[derive(Debug)]
pub struct DecisionBuilder {
    covered: bool,
    allowed: bool,
    denied: bool,
}

impl DecisionBuilder {
    pub fn new() -> Self {
        Self {
            covered: false,
            allowed: false,
            denied: false,
        }
    }

    /// An ACL covers the resource, applying to the request or not.
    pub fn covered(&mut self) {
        self.covered = true;
    }

    /// An ACL covering the resource applies to the request with `permission`. Returns
    /// whether the decision is final (a DENY).
    pub fn applies(&mut self, permission: AclPermissionType) -> bool {
        assert!(self.covered, "an ACL applies only where one covers");
        match permission {
            AclPermissionType::Deny => self.denied = true,
            AclPermissionType::Allow => self.allowed = true,
            // A stored ACL is ALLOW or DENY (`AclBinding::validate`).
            other => unreachable!("a stored ACL with permission {other}"),
        }
        self.denied
    }

    pub fn build(self, allow_everyone_if_no_acl_found: bool) -> Decision {
        match (self.covered, self.denied, self.allowed) {
            (_, true, _) => Decision::DenyAcl,
            (_, false, true) => Decision::AllowAcl,
            (true, false, false) => Decision::NoMatchingAcl,
            (false, false, false) => Decision::NoAclOnResource {
                allow_everyone: allow_everyone_if_no_acl_found,
            },
        }
    }
}

impl Default for DecisionBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation::*;
    use AclPermissionType::{Allow, Deny};

    const SPECIFIC: [AclOperation; 14] = [
        All,
        Read,
        Write,
        Create,
        Delete,
        Alter,
        Describe,
        ClusterAction,
        DescribeConfigs,
        AlterConfigs,
        IdempotentWrite,
        CreateTokens,
        DescribeTokens,
        TwoPhaseCommit,
    ];

    /// The whole table of which ACL operation speaks to which request, against Kafka's rule
    /// written out pair by pair.
    #[test]
    fn implied_operations_are_kafkas_and_only_for_allow() {
        let implied_by_allow = [
            (Read, Describe),
            (Write, Describe),
            (Delete, Describe),
            (Alter, Describe),
            (AlterConfigs, DescribeConfigs),
        ];
        for acl in SPECIFIC {
            for requested in SPECIFIC {
                let same = acl == requested || acl == All;
                let implied = implied_by_allow.contains(&(acl, requested));
                assert_eq!(
                    operation_applies(acl, Allow, requested),
                    same || implied,
                    "ALLOW {acl} for {requested}"
                );
                assert_eq!(
                    operation_applies(acl, Deny, requested),
                    same,
                    "DENY {acl} for {requested}"
                );
            }
        }
        // Implication runs one way only.
        assert!(!operation_applies(Describe, Allow, Read));
        assert!(!operation_applies(DescribeConfigs, Allow, AlterConfigs));
        assert!(!operation_applies(Create, Allow, Describe));
    }

    #[test]
    fn principals_apply_by_type_and_name_or_the_user_wildcard() {
        let alice = KafkaPrincipal::user("alice");
        assert!(principal_applies("User:alice", &alice));
        assert!(principal_applies("User:*", &alice));
        assert!(!principal_applies("User:bob", &alice));
        assert!(!principal_applies("Group:alice", &alice));
        assert!(
            !principal_applies("User:Alice", &alice),
            "names are case-sensitive"
        );
        assert!(
            !principal_applies("Group:*", &alice),
            "only User:* is a wildcard"
        );
        let group = KafkaPrincipal::parse("Group:devs").unwrap();
        assert!(
            principal_applies("User:*", &group),
            "User:* applies to every type"
        );
        // The type ends at the first colon: a distinguished name keeps its colons.
        let dn = KafkaPrincipal::parse("User:CN=a:b").unwrap();
        assert!(principal_applies("User:CN=a:b", &dn));
        let odd = KafkaPrincipal {
            kind: "User:CN=a".into(),
            name: "b".into(),
        };
        assert!(!principal_applies("User:CN=a:b", &odd));
        assert_eq!(principal_key(&odd), None);
        assert_eq!(principal_key(&dn).as_deref(), Some("User:CN=a:b"));
    }

    #[test]
    fn hosts_apply_exactly_or_by_wildcard() {
        assert!(host_applies("*", "10.0.0.1"));
        assert!(host_applies("10.0.0.1", "10.0.0.1"));
        assert!(!host_applies("10.0.0.1", "10.0.0.2"));
        assert!(
            !host_applies("10.0.0.*", "10.0.0.2"),
            "no partial wildcards"
        );
    }

    #[test]
    fn deny_beats_allow_and_coverage_decides_the_default() {
        let decide = |steps: &[Option<AclPermissionType>], allow_everyone: bool| {
            let mut builder = DecisionBuilder::new();
            for step in steps {
                builder.covered();
                if let Some(permission) = step {
                    builder.applies(*permission);
                }
            }
            builder.build(allow_everyone)
        };
        assert_eq!(decide(&[Some(Allow), Some(Deny)], false), Decision::DenyAcl);
        assert_eq!(decide(&[Some(Deny), Some(Allow)], true), Decision::DenyAcl);
        assert_eq!(decide(&[None, Some(Allow)], false), Decision::AllowAcl);
        assert_eq!(decide(&[None], true), Decision::NoMatchingAcl);
        assert!(!Decision::NoMatchingAcl.is_allowed());
        assert_eq!(
            decide(&[], true),
            Decision::NoAclOnResource {
                allow_everyone: true
            }
        );
        assert!(decide(&[], true).is_allowed());
        assert!(!decide(&[], false).is_allowed());
    }
}
