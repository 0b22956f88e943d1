//! Kafka's four ACL enums, with the `int8` codes they carry on the wire (CreateAcls,
//! DescribeAcls, DeleteAcls, the metadata log's `AccessControlEntryRecord`) and the names
//! people write them by.
//!
//! Each enum follows Kafka's Java enum of the same name (`org.apache.kafka.common.resource.
//! ResourceType`, `...resource.PatternType`, `...common.acl.AclOperation`,
//! `...acl.AclPermissionType`): the same values, codes and names. As in Kafka, a code or a
//! name this version does not know reads as `Unknown` instead of failing, so a newer client's
//! value is carried and refused where it is used, not where it is parsed.
//!
//! Two spellings of a name exist, because Kafka has two:
//! * [`name`](AclOperation::name) / [`from_name`](AclOperation::from_name): the Java enum
//!   name (`IDEMPOTENT_WRITE`), what `toString` prints (kafka-acls' listings, error messages)
//!   and what `fromString` parses, case-insensitively (`idempotent_write` too).
//! * [`pascal_name`](AclOperation::pascal_name) / [`from_pascal_name`](AclOperation::from_pascal_name):
//!   `SecurityUtils`' spelling (`IdempotentWrite`), what kafka-acls' `--operation` takes and
//!   what the audit log prints; parsed as written or all upper case (`IDEMPOTENTWRITE`), and
//!   nothing else — `SecurityUtils.operation("IDEMPOTENT_WRITE")` is UNKNOWN in Kafka too.

use serde::{Deserialize, Serialize};

/// Defines one of the enums from one table, so a code, a name and a variant cannot drift
/// apart: `Variant = code, "KAFKA_NAME", "PascalName";`. The first row must be `Unknown`.
macro_rules! kafka_enum {
    (
        $(#[$meta:meta])*
        $enum:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $name:literal, $pascal:literal; )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// Serialized as its Kafka code (an `i8`), so the bytes are Kafka's number and a code
        /// read back that this version does not know is `Unknown`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(from = "i8", into = "i8")]
        pub enum $enum {
            $( $(#[$vmeta])* $variant, )*
        }

        impl $enum {
            /// Every value, in code order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)*];

            /// Kafka's `code()`: the `int8` on the wire.
            pub const fn code(self) -> i8 {
                match self {
                    $($enum::$variant => $code,)*
                }
            }

            /// Kafka's `fromCode`: a code this version does not know is `Unknown`.
            pub const fn from_code(code: i8) -> Self {
                match code {
                    $($code => $enum::$variant,)*
                    _ => $enum::Unknown,
                }
            }

            /// Kafka's enum name (`toString`), e.g. `TRANSACTIONAL_ID`.
            pub const fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }

            /// `SecurityUtils`' spelling (kafka-acls' `--operation`), e.g. `TransactionalId`.
            pub const fn pascal_name(self) -> &'static str {
                match self {
                    $($enum::$variant => $pascal,)*
                }
            }

            /// Kafka's `fromString`: the enum name in any case (`Locale.ROOT` upper-casing,
            /// which is Unicode's, as Rust's `to_uppercase`); anything else is `Unknown`.
            pub fn from_name(text: &str) -> Self {
                let upper = text.to_uppercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.name() == upper)
                    .unwrap_or($enum::Unknown)
            }

            /// `SecurityUtils`' lookup: the Pascal-case name as written, or its upper case
            /// (`IdempotentWrite`, `IDEMPOTENTWRITE`); anything else is `Unknown`.
            pub fn from_pascal_name(text: &str) -> Self {
                let upper = text.to_uppercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| {
                        value.pascal_name() == text || value.pascal_name().to_uppercase() == upper
                    })
                    .unwrap_or($enum::Unknown)
            }
        }

        impl From<i8> for $enum {
            fn from(code: i8) -> Self {
                Self::from_code(code)
            }
        }

        impl From<$enum> for i8 {
            fn from(value: $enum) -> i8 {
                value.code()
            }
        }

        /// Kafka's `toString`: the enum name.
        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kafka_enum! {
    /// What an ACL is about (Kafka's `ResourceType`).
    ResourceType {
        /// A code this version does not know.
        Unknown = 0, "UNKNOWN", "Unknown";
        /// In a filter: any type. Never in a binding.
        Any = 1, "ANY", "Any";
        Topic = 2, "TOPIC", "Topic";
        /// A consumer group.
        Group = 3, "GROUP", "Group";
        /// The cluster as a whole; its one name is `kafka-cluster`.
        Cluster = 4, "CLUSTER", "Cluster";
        TransactionalId = 5, "TRANSACTIONAL_ID", "TransactionalId";
        DelegationToken = 6, "DELEGATION_TOKEN", "DelegationToken";
        /// A user principal as a resource (who may create or describe tokens for whom).
        User = 7, "USER", "User";
    }
}

kafka_enum! {
    /// How an ACL's resource name is read (Kafka's `PatternType`, KIP-290).
    ///
    /// Kafka's `PatternType.fromString` is case-sensitive, unlike the other three; kafka-acls'
    /// `--resource-pattern-type` converter is not, and neither is [`PatternType::from_name`].
    /// Kafka has no Pascal-case spelling for it; [`PatternType::pascal_name`] is the same
    /// rule applied for uniformity.
    PatternType {
        /// A code this version does not know.
        Unknown = 0, "UNKNOWN", "Unknown";
        /// In a filter: any pattern type, the name compared exactly. Never in a binding.
        Any = 1, "ANY", "Any";
        /// In a filter: every pattern that covers the name (the same literal name, the
        /// literal wildcard `*`, and the prefixes it starts with). Never in a binding.
        Match = 2, "MATCH", "Match";
        /// The full name of one resource, or `*` for every resource of the type.
        Literal = 3, "LITERAL", "Literal";
        /// Every resource whose name starts with this one.
        Prefixed = 4, "PREFIXED", "Prefixed";
    }
}

kafka_enum! {
    /// What an ACL allows or denies (Kafka's `AclOperation`).
    AclOperation {
        /// A code this version does not know.
        Unknown = 0, "UNKNOWN", "Unknown";
        /// In a filter: any operation. Never in a binding.
        Any = 1, "ANY", "Any";
        /// Every operation: an ALLOW of ALL allows everything, a DENY of ALL denies everything.
        All = 2, "ALL", "All";
        Read = 3, "READ", "Read";
        Write = 4, "WRITE", "Write";
        Create = 5, "CREATE", "Create";
        Delete = 6, "DELETE", "Delete";
        Alter = 7, "ALTER", "Alter";
        Describe = 8, "DESCRIBE", "Describe";
        ClusterAction = 9, "CLUSTER_ACTION", "ClusterAction";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS", "DescribeConfigs";
        AlterConfigs = 11, "ALTER_CONFIGS", "AlterConfigs";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE", "IdempotentWrite";
        CreateTokens = 13, "CREATE_TOKENS", "CreateTokens";
        DescribeTokens = 14, "DESCRIBE_TOKENS", "DescribeTokens";
        /// KIP-939: a transactional id's two-phase commit.
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT", "TwoPhaseCommit";
    }
}

kafka_enum! {
    /// Whether an ACL allows or denies (Kafka's `AclPermissionType`).
    AclPermissionType {
        /// A code this version does not know.
        Unknown = 0, "UNKNOWN", "Unknown";
        /// In a filter: either. Never in a binding.
        Any = 1, "ANY", "Any";
        Deny = 2, "DENY", "Deny";
        Allow = 3, "ALLOW", "Allow";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `SecurityUtils.toPascalCase`, written out again so the table can't drift from it.
    fn to_pascal_case(name: &str) -> String {
        let mut out = String::new();
        let mut capitalize_next = true;
        for c in name.chars() {
            if c == '_' {
                capitalize_next = true;
            } else if capitalize_next {
                out.extend(c.to_uppercase());
                capitalize_next = false;
            } else {
                out.extend(c.to_lowercase());
            }
        }
        out
    }

    /// The codes as Kafka's enums declare them (clients/.../ResourceType.java and friends).
    #[test]
    fn codes_are_kafkas() {
        assert_eq!(
            ResourceType::ALL
                .iter()
                .map(|v| (v.code(), v.name()))
                .collect::<Vec<_>>(),
            [
                (0, "UNKNOWN"),
                (1, "ANY"),
                (2, "TOPIC"),
                (3, "GROUP"),
                (4, "CLUSTER"),
                (5, "TRANSACTIONAL_ID"),
                (6, "DELEGATION_TOKEN"),
                (7, "USER"),
            ]
        );
        assert_eq!(
            PatternType::ALL
                .iter()
                .map(|v| (v.code(), v.name()))
                .collect::<Vec<_>>(),
            [
                (0, "UNKNOWN"),
                (1, "ANY"),
                (2, "MATCH"),
                (3, "LITERAL"),
                (4, "PREFIXED"),
            ]
        );
        assert_eq!(
            AclOperation::ALL
                .iter()
                .map(|v| (v.code(), v.name()))
                .collect::<Vec<_>>(),
            [
                (0, "UNKNOWN"),
                (1, "ANY"),
                (2, "ALL"),
                (3, "READ"),
                (4, "WRITE"),
                (5, "CREATE"),
                (6, "DELETE"),
                (7, "ALTER"),
                (8, "DESCRIBE"),
                (9, "CLUSTER_ACTION"),
                (10, "DESCRIBE_CONFIGS"),
                (11, "ALTER_CONFIGS"),
                (12, "IDEMPOTENT_WRITE"),
                (13, "CREATE_TOKENS"),
                (14, "DESCRIBE_TOKENS"),
                (15, "TWO_PHASE_COMMIT"),
            ]
        );
        assert_eq!(
            AclPermissionType::ALL
                .iter()
                .map(|v| (v.code(), v.name()))
                .collect::<Vec<_>>(),
            [(0, "UNKNOWN"), (1, "ANY"), (2, "DENY"), (3, "ALLOW")]
        );
    }

    #[test]
    fn every_code_round_trips_and_others_read_as_unknown() {
        for code in i8::MIN..=i8::MAX {
            let known = |c: i8, back: i8, unknown: bool| {
                assert!(
                    back == c || (unknown && back == 0),
                    "code {c} read back as {back}"
                );
            };
            let rt = ResourceType::from_code(code);
            known(code, rt.code(), rt == ResourceType::Unknown);
            let pt = PatternType::from_code(code);
            known(code, pt.code(), pt == PatternType::Unknown);
            let op = AclOperation::from_code(code);
            known(code, op.code(), op == AclOperation::Unknown);
            let perm = AclPermissionType::from_code(code);
            known(code, perm.code(), perm == AclPermissionType::Unknown);
        }
        assert_eq!(ResourceType::from_code(8), ResourceType::Unknown);
        assert_eq!(AclOperation::from_code(16), AclOperation::Unknown);
        assert_eq!(AclOperation::from_code(-1), AclOperation::Unknown);
        assert_eq!(PatternType::from_code(5), PatternType::Unknown);
        assert_eq!(AclPermissionType::from_code(4), AclPermissionType::Unknown);
    }

    #[test]
    fn names_parse_in_any_case_and_unknown_text_is_unknown() {
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_name(op.name()), *op);
            assert_eq!(AclOperation::from_name(&op.name().to_lowercase()), *op);
            assert_eq!(op.to_string(), op.name());
        }
        for rt in ResourceType::ALL {
            assert_eq!(ResourceType::from_name(&rt.name().to_lowercase()), *rt);
        }
        for pt in PatternType::ALL {
            assert_eq!(PatternType::from_name(&pt.name().to_lowercase()), *pt);
        }
        for perm in AclPermissionType::ALL {
            assert_eq!(
                AclPermissionType::from_name(&perm.name().to_lowercase()),
                *perm
            );
        }
        assert_eq!(
            AclOperation::from_name("Idempotent_Write"),
            AclOperation::IdempotentWrite
        );
        assert_eq!(
            AclOperation::from_name("IdempotentWrite"),
            AclOperation::Unknown
        );
        assert_eq!(AclOperation::from_name("READ "), AclOperation::Unknown);
        assert_eq!(AclOperation::from_name(""), AclOperation::Unknown);
        // Java's Locale.ROOT upper-casing maps the dotless ı to I, and so does Rust's.
        assert_eq!(AclOperation::from_name("wrıte"), AclOperation::Write);
    }

    #[test]
    fn pascal_names_are_security_utils_and_parse_as_it_does() {
        for op in AclOperation::ALL {
            assert_eq!(op.pascal_name(), to_pascal_case(op.name()));
            assert_eq!(AclOperation::from_pascal_name(op.pascal_name()), *op);
            let upper = op.pascal_name().to_uppercase();
            assert_eq!(AclOperation::from_pascal_name(&upper), *op);
        }
        for rt in ResourceType::ALL {
            assert_eq!(rt.pascal_name(), to_pascal_case(rt.name()));
        }
        for pt in PatternType::ALL {
            assert_eq!(pt.pascal_name(), to_pascal_case(pt.name()));
        }
        for perm in AclPermissionType::ALL {
            assert_eq!(perm.pascal_name(), to_pascal_case(perm.name()));
        }
        assert_eq!(
            AclOperation::from_pascal_name("idempotentwrite"),
            AclOperation::IdempotentWrite
        );
        assert_eq!(
            AclOperation::from_pascal_name("IDEMPOTENT_WRITE"),
            AclOperation::Unknown
        );
        assert_eq!(
            ResourceType::from_pascal_name("TransactionalId"),
            ResourceType::TransactionalId
        );
    }

    /// On the node's own wire (postcard) an enum is its Kafka code, one byte.
    #[test]
    fn serde_writes_the_kafka_code() {
        let bytes = postcard::to_allocvec(&AclOperation::TwoPhaseCommit).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&15i8).unwrap());
        let unknown: AclOperation =
            postcard::from_bytes(&postcard::to_allocvec(&99i8).unwrap()).unwrap();
        assert_eq!(unknown, AclOperation::Unknown);
        let rt: ResourceType = postcard::from_bytes(&postcard::to_allocvec(&5i8).unwrap()).unwrap();
        assert_eq!(rt, ResourceType::TransactionalId);
    }
}
