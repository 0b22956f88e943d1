//! The indexed [`Authorizer`] against a boring model: a list of (id, binding) and Kafka's
//! rules read straight off `StandardAuthorizerData.findResult`/`MatchingRuleBuilder` and
//! `Authorizer.authorizeByResourceType`, each ACL looked at in turn. Random changes and
//! checks, over small alphabets so that names, prefixes, principals and hosts collide.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::security::KafkaPrincipal;

/// The model: every ACL in a list, in the order added.
#[derive(Default)]
struct Model {
    acls: Vec<(AclId, AclBinding)>,
}

impl Model {
    fn add(&mut self, id: AclId, binding: AclBinding) -> Result<(), AclStoreError> {
        binding.validate()?;
        if self.acls.iter().any(|(i, _)| *i == id) {
            return Err(AclStoreError::DuplicateId(id));
        }
        if let Some((existing, _)) = self.acls.iter().find(|(_, b)| *b == binding) {
            return Err(AclStoreError::DuplicateBinding {
                existing: *existing,
            });
        }
        self.acls.push((id, binding));
        Ok(())
    }

    fn remove(&mut self, id: AclId) -> Result<AclBinding, AclStoreError> {
        let at =
            (self.acls.iter().position(|(i, _)| *i == id)).ok_or(AclStoreError::UnknownId(id))?;
        Ok(self.acls.remove(at).1)
    }

    /// Kafka's `findResult` for one ACL whose pattern covers the resource: the permission if
    /// it applies.
    fn applies(b: &AclBinding, who: &KafkaPrincipal, host: &str, op: AclOperation) -> bool {
        let Some((kind, name)) = b.entry.principal.split_once(':') else {
            return false;
        };
        let principal = (kind == who.kind && name == who.name) || (kind == "User" && name == "*");
        let host = b.entry.host == "*" || b.entry.host == host;
        let acl_op = b.entry.operation;
        let operation = acl_op == AclOperation::All
            || acl_op == op
            || (b.entry.permission == AclPermissionType::Allow
                && ((op == AclOperation::Describe
                    && [
                        AclOperation::Read,
                        AclOperation::Write,
                        AclOperation::Delete,
                        AclOperation::Alter,
                    ]
                    .contains(&acl_op))
                    || (op == AclOperation::DescribeConfigs
                        && acl_op == AclOperation::AlterConfigs)));
        principal && host && operation
    }

    fn covers(b: &AclBinding, rt: ResourceType, name: &str) -> bool {
        b.pattern.resource_type == rt
            && match b.pattern.pattern_type {
                PatternType::Literal => b.pattern.name == name || b.pattern.name == "*",
                PatternType::Prefixed => name.starts_with(&b.pattern.name),
                _ => false,
            }
    }

    fn authorize(
        &self,
        settings: &AuthorizerSettings,
        who: &KafkaPrincipal,
        host: &str,
        op: AclOperation,
        rt: ResourceType,
        name: &str,
    ) -> Decision {
        if settings
            .super_users
            .contains(&format!("{}:{}", who.kind, who.name))
        {
            return Decision::SuperUser;
        }
        let covering: Vec<&AclBinding> = (self.acls.iter().map(|(_, b)| b))
            .filter(|b| Self::covers(b, rt, name))
            .collect();
        let applying: Vec<&AclBinding> = covering
            .iter()
            .copied()
            .filter(|b| Self::applies(b, who, host, op))
            .collect();
        if applying
            .iter()
            .any(|b| b.entry.permission == AclPermissionType::Deny)
        {
            Decision::DenyAcl
        } else if applying
            .iter()
            .any(|b| b.entry.permission == AclPermissionType::Allow)
        {
            Decision::AllowAcl
        } else if !covering.is_empty() {
            Decision::NoMatchingAcl
        } else {
            Decision::NoAclOnResource {
                allow_everyone: settings.allow_everyone_if_no_acl_found,
            }
        }
    }

    /// `Authorizer.authorizeByResourceType`, as Kafka writes it.
    fn by_resource_type(
        &self,
        settings: &AuthorizerSettings,
        who: &KafkaPrincipal,
        host: &str,
        op: AclOperation,
        rt: ResourceType,
    ) -> bool {
        if self
            .authorize(settings, who, host, op, rt, "hardcode")
            .is_allowed()
        {
            return true;
        }
        let mut deny = (BTreeSet::new(), BTreeSet::new());
        let mut allow = (BTreeSet::new(), BTreeSet::new());
        let mut wildcard_allow = false;
        for (_, b) in &self.acls {
            if b.pattern.resource_type != rt {
                continue;
            }
            if b.entry.host != host && b.entry.host != "*" {
                continue;
            }
            let (kind, name) = b.entry.principal.split_once(':').unwrap();
            if !((kind == who.kind && name == who.name) || b.entry.principal == "User:*") {
                continue;
            }
            if b.entry.operation != op && b.entry.operation != AclOperation::All {
                continue;
            }
            let literal = b.pattern.pattern_type == PatternType::Literal;
            let set = match (b.entry.permission, literal) {
                (AclPermissionType::Deny, true) if b.pattern.name == "*" => return false,
                (AclPermissionType::Deny, true) => &mut deny.0,
                (AclPermissionType::Deny, false) => &mut deny.1,
                (AclPermissionType::Allow, true) if b.pattern.name == "*" => {
                    wildcard_allow = true;
                    continue;
                }
                (AclPermissionType::Allow, true) => &mut allow.0,
                _ => &mut allow.1,
            };
            set.insert(b.pattern.name.clone());
        }
        if wildcard_allow {
            return true;
        }
        let dominated = |name: &String| {
            let mut prefix = String::new();
            name.chars().any(|c| {
                prefix.push(c);
                deny.1.contains(&prefix)
            })
        };
        let literal_ok = allow.0.iter().any(|n| !deny.0.contains(n) && !dominated(n));
        literal_ok || allow.1.iter().any(|n| !dominated(n))
    }
}

const NAMES: &[&str] = &["a", "ab", "abc", "b", "*", "a*", "é", "éa", "hard"];
const REQUEST_NAMES: &[&str] = &[
    "a", "ab", "abc", "abcd", "b", "*", "*x", "a*b", "éab", "c", "hardcode", "",
];
const PRINCIPALS: &[&str] = &[
    "User:alice",
    "User:bob",
    "User:*",
    "Group:alice",
    "User:ali:ce",
    ":alice",
];
const HOSTS: &[&str] = &["*", "10.0.0.1", "10.0.0.2"];

/// Mostly the operations the rules treat specially (implication, ALL), so that ACLs and
/// requests meet often; now and then any other.
fn specific_operation() -> impl Strategy<Value = AclOperation> {
    use AclOperation::*;
    prop_oneof![
        6 => prop::sample::select(vec![Read, Write, Delete, Alter, Describe, All, AlterConfigs, DescribeConfigs]),
        1 => (2i8..=15).prop_map(AclOperation::from_code),
    ]
}

/// Mostly alice and everyone, whom the requests are mostly about.
fn acl_principal() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        4 => prop::sample::select(&["User:alice", "User:*"][..]),
        1 => prop::sample::select(PRINCIPALS),
    ]
}

fn binding() -> impl Strategy<Value = AclBinding> {
    (
        prop::sample::select(vec![ResourceType::Topic, ResourceType::Group]),
        prop::sample::select(NAMES),
        prop::sample::select(vec![PatternType::Literal, PatternType::Prefixed]),
        acl_principal(),
        prop::sample::select(HOSTS),
        specific_operation(),
        prop::sample::select(vec![AclPermissionType::Allow, AclPermissionType::Deny]),
    )
        .prop_map(|(rt, name, pt, principal, host, op, permission)| {
            AclBinding::new(
                ResourcePattern::new(rt, name, pt),
                AccessControlEntry::new(principal, host, op, permission),
            )
        })
}

#[derive(Clone, Debug)]
enum Change {
    Add(u8, AclBinding),
    Remove(u8),
}

fn change() -> impl Strategy<Value = Change> {
    // Few ids, so that duplicates and removals of stored ids are common.
    prop_oneof![
        3 => (0u8..24, binding()).prop_map(|(id, b)| Change::Add(id, b)),
        1 => (0u8..24).prop_map(Change::Remove),
    ]
}

fn requester() -> impl Strategy<Value = KafkaPrincipal> {
    let others = prop::sample::select(vec![
        ("User", "bob"),
        ("User", "*"),
        ("Group", "alice"),
        ("User", "ali:ce"),
        ("User:ali", "ce"),
        ("", "alice"),
    ]);
    prop_oneof![3 => Just(("User", "alice")), 2 => others].prop_map(|(kind, name)| KafkaPrincipal {
        kind: kind.into(),
        name: name.into(),
    })
}

#[derive(Clone, Debug)]
struct Request {
    who: KafkaPrincipal,
    host: &'static str,
    op: AclOperation,
    rt: ResourceType,
    name: &'static str,
}

fn request() -> impl Strategy<Value = Request> {
    (
        requester(),
        prop::sample::select(&["10.0.0.1", "10.0.0.2", "*"][..]),
        (0i8..=15).prop_map(AclOperation::from_code),
        prop::sample::select(vec![
            ResourceType::Topic,
            ResourceType::Group,
            ResourceType::Cluster,
        ]),
        prop::sample::select(REQUEST_NAMES),
    )
        .prop_map(|(who, host, op, rt, name)| Request {
            who,
            host,
            op,
            rt,
            name,
        })
}

fn settings() -> impl Strategy<Value = AuthorizerSettings> {
    (
        prop::collection::btree_set(prop::sample::select(PRINCIPALS), 0..2),
        any::<bool>(),
    )
        .prop_map(|(users, allow)| AuthorizerSettings {
            super_users: users.into_iter().map(str::to_string).collect(),
            allow_everyone_if_no_acl_found: allow,
        })
}

fn acl_id(n: u8) -> AclId {
    let mut id = [0; 16];
    id[15] = n;
    id
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_indexed_authorizer_decides_as_the_linear_model(
        changes in prop::collection::vec(change(), 0..40),
        settings in settings(),
        requests in prop::collection::vec(request(), 1..40),
    ) {
        let mut authorizer = Authorizer::new(settings.clone());
        let mut model = Model::default();
        for change in changes {
            match change {
                Change::Add(n, b) => {
                    prop_assert_eq!(authorizer.add(acl_id(n), b.clone()), model.add(acl_id(n), b));
                }
                Change::Remove(n) => {
                    prop_assert_eq!(authorizer.remove(acl_id(n)), model.remove(acl_id(n)));
                }
            }
        }
        prop_assert_eq!(authorizer.len(), model.acls.len());
        for (id, binding) in &model.acls {
            prop_assert_eq!(authorizer.id_of(binding), Some(*id));
            prop_assert_eq!(authorizer.get(*id), Some(binding));
        }
        for r in &requests {
            let session = Session { principal: &r.who, host: r.host };
            let action = Action { operation: r.op, resource_type: r.rt, resource_name: r.name };
            let expected = model.authorize(&settings, &r.who, r.host, r.op, r.rt, r.name);
            prop_assert_eq!(authorizer.authorize(&session, &action), expected, "{:?}", r);
            if !matches!(r.op, AclOperation::Any | AclOperation::Unknown) {
                let expected = model.by_resource_type(&settings, &r.who, r.host, r.op, r.rt);
                prop_assert_eq!(
                    authorizer.authorize_by_resource_type(&session, r.op, r.rt),
                    expected,
                    "by type {:?}", r
                );
            }
        }
    }

    #[test]
    fn filters_select_what_the_model_selects_in_id_order(
        changes in prop::collection::vec(change(), 0..30),
        rt in prop::sample::select(vec![ResourceType::Any, ResourceType::Topic, ResourceType::Group]),
        name in prop::option::of(prop::sample::select(REQUEST_NAMES)),
        pt in prop::sample::select(vec![PatternType::Any, PatternType::Match, PatternType::Literal, PatternType::Prefixed]),
        principal in prop::option::of(prop::sample::select(PRINCIPALS)),
    ) {
        let mut authorizer = Authorizer::default();
        let mut model = Model::default();
        for change in changes {
            match change {
                Change::Add(n, b) => { let _ = authorizer.add(acl_id(n), b.clone()); let _ = model.add(acl_id(n), b); }
                Change::Remove(n) => { let _ = authorizer.remove(acl_id(n)); let _ = model.remove(acl_id(n)); }
            }
        }
        let mut filter = AclBindingFilter::ANY;
        filter.pattern = ResourcePatternFilter::new(rt, name, pt);
        filter.entry.principal = principal.map(str::to_string);
        let got: Vec<AclId> = authorizer.matching(&filter).map(|(id, _)| id).collect();
        let mut expected: Vec<AclId> = (model.acls.iter())
            .filter(|(_, b)| {
                let type_ok = rt == ResourceType::Any || rt == b.pattern.resource_type;
                let pattern_ok = match (pt, name) {
                    (PatternType::Any, None) | (PatternType::Match, None) => true,
                    (PatternType::Any, Some(n)) => b.pattern.name == n,
                    (PatternType::Match, Some(n)) => Model::covers(b, b.pattern.resource_type, n),
                    (specific, n) => b.pattern.pattern_type == specific && n.is_none_or(|n| b.pattern.name == n),
                };
                let principal_ok = principal.is_none_or(|p| b.entry.principal == p);
                type_ok && pattern_ok && principal_ok
            })
            .map(|(id, _)| *id)
            .collect();
        expected.sort();
        prop_assert_eq!(got, expected);
    }
}
