//! StandardAuthorizer's rules, one at a time, through [`Authorizer`]: each test stores a few
//! ACLs and checks the requests on either side of the rule.

use super::*;
use crate::security::KafkaPrincipal;
use AclOperation as Op;
use AclPermissionType::{Allow, Deny};
use PatternType::{Literal, Prefixed};
use ResourceType::{Group, Topic};

const CLIENT: &str = "10.0.0.1";

fn acl(
    rt: ResourceType,
    name: &str,
    pt: PatternType,
    principal: &str,
    host: &str,
    op: AclOperation,
    permission: AclPermissionType,
) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(rt, name, pt),
        AccessControlEntry::new(principal, host, op, permission),
    )
}

/// An ACL on a topic for `principal` from any host.
fn topic(
    name: &str,
    pt: PatternType,
    principal: &str,
    op: AclOperation,
    p: AclPermissionType,
) -> AclBinding {
    acl(Topic, name, pt, principal, "*", op, p)
}

fn id(n: u8) -> AclId {
    [n; 16]
}

/// An authorizer holding `acls` (ids 1, 2, ...) with default settings.
fn with(acls: &[AclBinding]) -> Authorizer {
    let mut authorizer = Authorizer::new(AuthorizerSettings::default());
    for (n, binding) in acls.iter().enumerate() {
        authorizer.add(id(n as u8 + 1), binding.clone()).unwrap();
    }
    authorizer
}

fn check(
    a: &Authorizer,
    who: &str,
    host: &str,
    op: AclOperation,
    rt: ResourceType,
    name: &str,
) -> Decision {
    let principal = KafkaPrincipal::parse(who).unwrap();
    let session = Session {
        principal: &principal,
        host,
    };
    a.authorize(
        &session,
        &Action {
            operation: op,
            resource_type: rt,
            resource_name: name,
        },
    )
}

/// Alice reading topic `name` from the usual client address.
fn alice_reads(a: &Authorizer, name: &str) -> Decision {
    check(a, "User:alice", CLIENT, Op::Read, Topic, name)
}

#[test]
fn super_users_are_allowed_whatever_the_acls_say() {
    let mut a = with(&[topic("t", Literal, "User:admin", Op::All, Deny)]);
    assert_eq!(
        check(&a, "User:admin", CLIENT, Op::Read, Topic, "t"),
        Decision::DenyAcl
    );
    a.set_settings(AuthorizerSettings {
        super_users: AuthorizerSettings::parse_super_users(" User:admin ;; User:ops").unwrap(),
        allow_everyone_if_no_acl_found: false,
    });
    assert_eq!(
        check(&a, "User:admin", CLIENT, Op::Read, Topic, "t"),
        Decision::SuperUser
    );
    assert_eq!(
        check(&a, "User:ops", CLIENT, Op::Alter, Group, "g"),
        Decision::SuperUser
    );
    // Compared as `Type:name` text, exactly.
    assert_eq!(
        check(&a, "User:Admin", CLIENT, Op::Read, Topic, "t"),
        Decision::NoMatchingAcl
    );
    assert_eq!(
        check(&a, "Group:admin", CLIENT, Op::Read, Topic, "t"),
        Decision::NoMatchingAcl
    );
    assert_eq!(a.len(), 1, "settings change no ACL");
}

#[test]
fn super_users_parse_as_kafka_reads_them() {
    let users = AuthorizerSettings::parse_super_users("User:a;User:b:c ; ;Group:g").unwrap();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["Group:g", "User:a", "User:b:c"]
    );
    assert!(AuthorizerSettings::parse_super_users("")
        .unwrap()
        .is_empty());
    assert_eq!(
        AuthorizerSettings::parse_super_users("User:a;bob").unwrap_err(),
        "expected a string in format principalType:principalName but got bob"
    );
}

/// Literal same name, literal `*`, and prefixes (the whole name included) cover a resource;
/// a literal name that is only a prefix, a longer prefix, another type, do not.
#[test]
fn acls_cover_by_literal_name_wildcard_and_prefix() {
    let allow = |name: &str, pt| topic(name, pt, "User:alice", Op::Read, Allow);
    for covering in [
        allow("orders", Literal),
        allow("*", Literal),
        allow("ord", Prefixed),
        allow("orders", Prefixed),
        allow("o", Prefixed),
    ] {
        let a = with(std::slice::from_ref(&covering));
        assert_eq!(alice_reads(&a, "orders"), Decision::AllowAcl, "{covering}");
    }
    for not_covering in [
        allow("ord", Literal),
        allow("orders-eu", Prefixed),
        allow("orders-eu", Literal),
        allow("rders", Prefixed),
        allow("*", Prefixed),
        acl(Group, "orders", Literal, "User:alice", "*", Op::Read, Allow),
    ] {
        let a = with(std::slice::from_ref(&not_covering));
        assert_eq!(
            alice_reads(&a, "orders"),
            Decision::NoAclOnResource {
                allow_everyone: false
            },
            "{not_covering}"
        );
    }
    // A PREFIXED `*` covers names that start with `*`.
    let a = with(&[allow("*", Prefixed)]);
    assert_eq!(alice_reads(&a, "*weird"), Decision::AllowAcl);
    // Every covering prefix is read, not only the longest: a DENY on a shorter one counts.
    let deny = |name: &str| topic(name, Prefixed, "User:alice", Op::Read, Deny);
    let a = with(&[allow("orders", Prefixed), allow("ord", Prefixed), deny("o")]);
    assert_eq!(alice_reads(&a, "orders"), Decision::DenyAcl);
    assert_eq!(alice_reads(&a, "ox"), Decision::DenyAcl);
}

#[test]
fn deny_beats_allow_wherever_each_comes_from() {
    let allow = topic("orders", Literal, "User:alice", Op::Read, Allow);
    for deny in [
        topic("orders", Literal, "User:alice", Op::Read, Deny),
        topic("*", Literal, "User:alice", Op::Read, Deny),
        topic("ord", Prefixed, "User:*", Op::Read, Deny),
        topic("orders", Prefixed, "User:alice", Op::All, Deny),
    ] {
        let a = with(&[allow.clone(), deny.clone()]);
        assert_eq!(alice_reads(&a, "orders"), Decision::DenyAcl, "{deny}");
        // Where the DENY does not cover the resource, it decides nothing there.
        let elsewhere = if deny.pattern.covers("other") {
            Decision::DenyAcl
        } else {
            Decision::NoAclOnResource {
                allow_everyone: false,
            }
        };
        assert_eq!(alice_reads(&a, "other"), elsewhere, "{deny}");
    }
    let a = with(&[allow, topic("orders", Literal, "User:bob", Op::Read, Deny)]);
    assert_eq!(
        alice_reads(&a, "orders"),
        Decision::AllowAcl,
        "bob's DENY is bob's"
    );
}

#[test]
fn principals_match_exactly_or_by_the_user_wildcard() {
    let a = with(&[topic("t", Literal, "User:bob", Op::Read, Allow)]);
    assert_eq!(alice_reads(&a, "t"), Decision::NoMatchingAcl);
    assert_eq!(
        check(&a, "User:bob", CLIENT, Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
    let a = with(&[topic("t", Literal, "User:*", Op::Read, Allow)]);
    assert_eq!(alice_reads(&a, "t"), Decision::AllowAcl);
    assert_eq!(
        check(&a, "Group:devs", CLIENT, Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
    let a = with(&[topic("t", Literal, "Group:devs", Op::Read, Allow)]);
    assert_eq!(
        check(&a, "Group:devs", CLIENT, Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
    assert_eq!(
        check(&a, "User:devs", CLIENT, Op::Read, Topic, "t"),
        Decision::NoMatchingAcl
    );
    let a = with(&[topic("t", Literal, "Group:*", Op::Read, Allow)]);
    assert_eq!(
        check(&a, "Group:devs", CLIENT, Op::Read, Topic, "t"),
        Decision::NoMatchingAcl
    );
    let a = with(&[topic("t", Literal, "User:CN=alice,O=a:b", Op::Read, Allow)]);
    assert_eq!(
        check(&a, "User:CN=alice,O=a:b", CLIENT, Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
}

#[test]
fn hosts_match_exactly_or_by_wildcard() {
    let from = |host: &str| acl(Topic, "t", Literal, "User:alice", host, Op::Read, Allow);
    let a = with(&[from("10.0.0.2")]);
    assert_eq!(alice_reads(&a, "t"), Decision::NoMatchingAcl);
    assert_eq!(
        check(&a, "User:alice", "10.0.0.2", Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
    let a = with(&[from("*")]);
    assert_eq!(alice_reads(&a, "t"), Decision::AllowAcl);
    // IPv6 peers are compared as Java prints them.
    let loopback = client_host_text(core::net::IpAddr::V6(core::net::Ipv6Addr::LOCALHOST));
    let a = with(&[from("0:0:0:0:0:0:0:1")]);
    assert_eq!(
        check(&a, "User:alice", &loopback, Op::Read, Topic, "t"),
        Decision::AllowAcl
    );
    let a = with(&[from("::1")]);
    assert_eq!(
        check(&a, "User:alice", &loopback, Op::Read, Topic, "t"),
        Decision::NoMatchingAcl
    );
}

#[test]
fn allow_implies_describe_and_describe_configs_but_deny_implies_nothing() {
    let a = |acls: &[AclBinding], op| {
        check(&with(acls), "User:alice", CLIENT, op, Topic, "t").is_allowed()
    };
    let alice = |op, p| topic("t", Literal, "User:alice", op, p);
    for implying in [Op::Read, Op::Write, Op::Delete, Op::Alter, Op::Describe] {
        assert!(
            a(&[alice(implying, Allow)], Op::Describe),
            "ALLOW {implying}"
        );
    }
    for not_implying in [
        Op::Create,
        Op::AlterConfigs,
        Op::DescribeConfigs,
        Op::ClusterAction,
    ] {
        assert!(
            !a(&[alice(not_implying, Allow)], Op::Describe),
            "ALLOW {not_implying}"
        );
    }
    assert!(a(&[alice(Op::AlterConfigs, Allow)], Op::DescribeConfigs));
    assert!(!a(&[alice(Op::DescribeConfigs, Allow)], Op::AlterConfigs));
    assert!(!a(&[alice(Op::Describe, Allow)], Op::Read));
    // A DENY of READ does not deny DESCRIBE, which the ALLOW of READ still implies...
    assert!(a(
        &[alice(Op::Read, Allow), alice(Op::Read, Deny)],
        Op::Describe
    ));
    assert!(!a(
        &[alice(Op::Read, Allow), alice(Op::Read, Deny)],
        Op::Read
    ));
    // ...and a DENY of DESCRIBE does not deny READ.
    assert!(a(
        &[alice(Op::Read, Allow), alice(Op::Describe, Deny)],
        Op::Read
    ));
    assert!(!a(
        &[alice(Op::Read, Allow), alice(Op::Describe, Deny)],
        Op::Describe
    ));
}

#[test]
fn all_allows_and_denies_every_operation() {
    let alice = |op, p| topic("t", Literal, "User:alice", op, p);
    let everything = with(&[alice(Op::All, Allow)]);
    let nothing = with(&[
        alice(Op::All, Deny),
        alice(Op::Read, Allow),
        alice(Op::Write, Allow),
    ]);
    for op in AclOperation::ALL
        .iter()
        .copied()
        .filter(|op| *op != Op::Any && *op != Op::Unknown)
    {
        assert_eq!(
            check(&everything, "User:alice", CLIENT, op, Topic, "t"),
            Decision::AllowAcl,
            "{op}"
        );
        assert_eq!(
            check(&nothing, "User:alice", CLIENT, op, Topic, "t"),
            Decision::DenyAcl,
            "{op}"
        );
    }
}

/// "No ACL found" counts every ACL covering the resource, whoever and whatever it is for: an
/// ACL for someone else leaves the resource protected, and only a resource no ACL covers
/// gets `allow.everyone.if.no.acl.found`.
#[test]
fn the_default_applies_only_where_no_acl_covers_the_resource() {
    let mut a = with(&[
        topic("guarded", Literal, "User:bob", Op::Write, Allow),
        topic("team-", Prefixed, "User:bob", Op::Read, Deny),
        acl(Group, "open", Literal, "User:bob", "*", Op::Read, Allow),
    ]);
    let open = AuthorizerSettings {
        super_users: Default::default(),
        allow_everyone_if_no_acl_found: true,
    };
    a.set_settings(open);
    assert_eq!(alice_reads(&a, "guarded"), Decision::NoMatchingAcl);
    assert_eq!(alice_reads(&a, "team-x"), Decision::NoMatchingAcl);
    let unguarded = alice_reads(&a, "open");
    assert_eq!(
        unguarded,
        Decision::NoAclOnResource {
            allow_everyone: true
        }
    );
    assert!(
        unguarded.is_allowed(),
        "a GROUP's ACL does not cover a topic of the same name"
    );
    a.set_settings(AuthorizerSettings::default());
    assert!(!alice_reads(&a, "open").is_allowed());
}

#[test]
fn the_store_keeps_each_acl_once_by_id() {
    let read = topic("t", Literal, "User:alice", Op::Read, Allow);
    let write = topic("t", Literal, "User:alice", Op::Write, Allow);
    let mut a = with(std::slice::from_ref(&read));
    assert_eq!(
        a.add(id(1), write.clone()),
        Err(AclStoreError::DuplicateId(id(1)))
    );
    assert_eq!(
        a.add(id(2), read.clone()),
        Err(AclStoreError::DuplicateBinding { existing: id(1) })
    );
    let mut invalid = write.clone();
    invalid.entry.principal = "alice".into();
    assert!(matches!(
        a.add(id(2), invalid),
        Err(AclStoreError::Invalid(AclBindingError::Principal(_)))
    ));
    assert_eq!(a.len(), 1, "refused changes change nothing");
    assert_eq!(a.id_of(&read), Some(id(1)));
    assert_eq!(a.id_of(&write), None);

    a.add(id(2), write.clone()).unwrap();
    assert!(check(&a, "User:alice", CLIENT, Op::Write, Topic, "t").is_allowed());
    assert_eq!(a.remove(id(2)), Ok(write.clone()));
    assert_eq!(a.remove(id(2)), Err(AclStoreError::UnknownId(id(2))));
    assert_eq!(
        check(&a, "User:alice", CLIENT, Op::Write, Topic, "t"),
        Decision::NoMatchingAcl
    );
    assert_eq!(a.remove(id(1)), Ok(read.clone()));
    assert!(a.is_empty());
    assert_eq!(
        alice_reads(&a, "t"),
        Decision::NoAclOnResource {
            allow_everyone: false
        }
    );
    // A removed binding can come back under a new id.
    a.add(id(9), read.clone()).unwrap();
    assert_eq!(a.get(id(9)), Some(&read));
}

#[test]
fn filters_select_stored_acls_in_id_order() {
    let mut a = Authorizer::default();
    let acls = [
        (
            id(3),
            topic("payments.", Prefixed, "User:alice", Op::Read, Allow),
        ),
        (
            id(1),
            topic("payments.eu", Literal, "User:bob", Op::Write, Allow),
        ),
        (id(2), topic("*", Literal, "User:alice", Op::Describe, Deny)),
        (
            id(4),
            topic("orders", Literal, "User:alice", Op::Read, Allow),
        ),
    ];
    for (i, binding) in &acls {
        a.add(*i, binding.clone()).unwrap();
    }
    let matching =
        |filter: &AclBindingFilter| a.matching(filter).map(|(i, _)| i[0]).collect::<Vec<_>>();
    assert_eq!(matching(&AclBindingFilter::ANY), [1, 2, 3, 4]);
    let mut by_match = AclBindingFilter::ANY;
    by_match.pattern = ResourcePatternFilter::new(Topic, Some("payments.eu"), PatternType::Match);
    assert_eq!(matching(&by_match), [1, 2, 3]);
    by_match.entry.principal = Some("User:alice".into());
    assert_eq!(matching(&by_match), [2, 3]);
    assert_eq!(matching(&AclBindingFilter::exactly(&acls[3].1)), [4]);
}

fn by_type(a: &Authorizer, who: &str, host: &str, op: AclOperation, rt: ResourceType) -> bool {
    let principal = KafkaPrincipal::parse(who).unwrap();
    a.authorize_by_resource_type(
        &Session {
            principal: &principal,
            host,
        },
        op,
        rt,
    )
}

#[test]
fn by_resource_type_allows_if_some_resource_of_the_type_is_allowed() {
    let alice_writes =
        |acls: &[AclBinding]| by_type(&with(acls), "User:alice", CLIENT, Op::Write, Topic);
    let alice = |name: &str, pt, op, p| topic(name, pt, "User:alice", op, p);
    assert!(!alice_writes(&[]));
    assert!(alice_writes(&[alice("t", Literal, Op::Write, Allow)]));
    assert!(alice_writes(&[alice("t-", Prefixed, Op::All, Allow)]));
    assert!(alice_writes(&[topic(
        "t",
        Literal,
        "User:*",
        Op::Write,
        Allow
    )]));
    // Exactly the operation or ALL: READ implies DESCRIBE elsewhere, not here.
    assert!(!alice_writes(&[alice("t", Literal, Op::Read, Allow)]));
    let a = with(&[alice("t", Literal, Op::Read, Allow)]);
    assert!(!by_type(&a, "User:alice", CLIENT, Op::Describe, Topic));
    assert!(by_type(&a, "User:alice", CLIENT, Op::Read, Topic));
    // Host, principal and type must apply.
    assert!(!alice_writes(&[acl(
        Topic,
        "t",
        Literal,
        "User:alice",
        "10.9.9.9",
        Op::Write,
        Allow
    )]));
    assert!(!alice_writes(&[alice("t", Literal, Op::Write, Allow)].map(
        |mut b| {
            b.entry.principal = "User:bob".into();
            b
        }
    )));
    assert!(!alice_writes(&[acl(
        Group,
        "t",
        Literal,
        "User:alice",
        "*",
        Op::Write,
        Allow
    )]));
}

#[test]
fn by_resource_type_counts_only_allows_no_deny_dominates() {
    let alice_writes =
        |acls: &[AclBinding]| by_type(&with(acls), "User:alice", CLIENT, Op::Write, Topic);
    let alice = |name: &str, pt, p| topic(name, pt, "User:alice", Op::Write, p);
    // A literal DENY dominates the same literal ALLOW; a PREFIXED DENY dominates every ALLOW
    // whose name starts with it (its own name included).
    assert!(!alice_writes(&[
        alice("foo", Literal, Allow),
        alice("foo", Literal, Deny)
    ]));
    assert!(!alice_writes(&[
        alice("foo", Literal, Allow),
        alice("fo", Prefixed, Deny)
    ]));
    assert!(!alice_writes(&[
        alice("foo", Prefixed, Allow),
        alice("foo", Prefixed, Deny)
    ]));
    assert!(!alice_writes(&[
        alice("foo", Prefixed, Allow),
        alice("f", Prefixed, Deny)
    ]));
    // A literal DENY does not dominate a PREFIXED ALLOW (foo-x is still allowed).
    assert!(alice_writes(&[
        alice("foo", Prefixed, Allow),
        alice("foo", Literal, Deny)
    ]));
    // A longer PREFIXED DENY does not dominate.
    assert!(alice_writes(&[
        alice("foo", Prefixed, Allow),
        alice("foox", Prefixed, Deny)
    ]));
    // One undominated ALLOW is enough.
    assert!(alice_writes(&[
        alice("foo", Literal, Allow),
        alice("fo", Prefixed, Deny),
        alice("bar", Literal, Allow),
    ]));
    // The wildcards: a DENY of `*` settles it, whatever else; an ALLOW of `*` wins over
    // every other DENY.
    assert!(!alice_writes(&[
        alice("*", Literal, Allow),
        alice("*", Literal, Deny)
    ]));
    assert!(!alice_writes(&[
        alice("bar", Literal, Allow),
        alice("*", Literal, Deny)
    ]));
    assert!(alice_writes(&[
        alice("*", Literal, Allow),
        alice("b", Prefixed, Deny)
    ]));
    // A DENY on a resource it never names does not stop a name the ALLOW covers.
    assert!(alice_writes(&[
        alice("t", Literal, Allow),
        alice("hardcode", Literal, Deny)
    ]));
}

#[test]
fn by_resource_type_first_checks_a_resource_named_hardcode() {
    let mut a = with(&[]);
    let admin = AuthorizerSettings {
        super_users: ["User:admin".to_string()].into(),
        allow_everyone_if_no_acl_found: false,
    };
    a.set_settings(admin);
    assert!(by_type(&a, "User:admin", CLIENT, Op::Write, Topic));
    assert!(!by_type(&a, "User:alice", CLIENT, Op::Write, Topic));
    a.set_settings(AuthorizerSettings {
        super_users: Default::default(),
        allow_everyone_if_no_acl_found: true,
    });
    assert!(
        by_type(&a, "User:alice", CLIENT, Op::Write, Topic),
        "no ACL covers hardcode"
    );
    // An ACL covering `hardcode` (for someone else) takes the default away...
    a.add(id(1), topic("hard", Prefixed, "User:bob", Op::Write, Allow))
        .unwrap();
    assert!(!by_type(&a, "User:alice", CLIENT, Op::Write, Topic));
    // ...and one that allows `hardcode` by implication allows the type, though step 2
    // would not count a READ for a DESCRIBE.
    a.add(
        id(2),
        topic("hard", Prefixed, "User:alice", Op::Read, Allow),
    )
    .unwrap();
    assert!(by_type(&a, "User:alice", CLIENT, Op::Describe, Topic));
}

#[test]
#[should_panic(expected = "specific operation")]
fn by_resource_type_refuses_a_filter_operation() {
    by_type(&with(&[]), "User:alice", CLIENT, Op::Any, Topic);
}

#[test]
#[should_panic(expected = "specific resource type")]
fn by_resource_type_refuses_a_filter_resource_type() {
    by_type(
        &with(&[]),
        "User:alice",
        CLIENT,
        Op::Write,
        ResourceType::Any,
    );
}
