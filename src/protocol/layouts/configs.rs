//! Configs: DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, and the users' SCRAM
//! credentials and client quotas kafka-configs manages (Describe/AlterUserScramCredentials,
//! Describe/AlterClientQuotas).

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL};

// DescribeConfigs (32)

const DESCRIBE_CONFIGS_RESOURCE: Struct = fields(&[
    f("resource_type", ALL, Int8),
    f("resource_name", ALL, String),
    f("configuration_keys", ALL, Array(&String)),
]);
pub const DESCRIBE_CONFIGS: Request = Request {
    key: ApiKey::DescribeConfigs,
    versions: range(1, 4),
    flexible: since(4),
    body: fields(&[
        f("resources", ALL, Structs(&DESCRIBE_CONFIGS_RESOURCE)),
        f("include_synonyms", ALL, Bool),
        f("include_documentation", since(3), Bool),
    ]),
};

// AlterConfigs (33)

const ALTERABLE_CONFIG: Struct = fields(&[f("name", ALL, String), f("value", ALL, String)]);
const ALTER_CONFIGS_RESOURCE: Struct = fields(&[
    f("resource_type", ALL, Int8),
    f("resource_name", ALL, String),
    f("configs", ALL, Structs(&ALTERABLE_CONFIG)),
]);
pub const ALTER_CONFIGS: Request = Request {
    key: ApiKey::AlterConfigs,
    versions: range(0, 2),
    flexible: since(2),
    body: fields(&[
        f("resources", ALL, Structs(&ALTER_CONFIGS_RESOURCE)),
        f("validate_only", ALL, Bool),
    ]),
};

// IncrementalAlterConfigs (44)
//
// Kafka names these structs AlterConfigsResource and AlterableConfig too; the INCREMENTAL_
// prefix tells them from AlterConfigs' (an AlterableConfig here also carries its operation).

const INCREMENTAL_ALTERABLE_CONFIG: Struct = fields(&[
    f("name", ALL, String),
    f("config_operation", ALL, Int8),
    f("value", ALL, String),
]);
const INCREMENTAL_ALTER_CONFIGS_RESOURCE: Struct = fields(&[
    f("resource_type", ALL, Int8),
    f("resource_name", ALL, String),
    f("configs", ALL, Structs(&INCREMENTAL_ALTERABLE_CONFIG)),
]);
pub const INCREMENTAL_ALTER_CONFIGS: Request = Request {
    key: ApiKey::IncrementalAlterConfigs,
    versions: range(0, 1),
    flexible: since(1),
    body: fields(&[
        f(
            "resources",
            ALL,
            Structs(&INCREMENTAL_ALTER_CONFIGS_RESOURCE),
        ),
        f("validate_only", ALL, Bool),
    ]),
};

// DescribeUserScramCredentials (50)

const USER_NAME: Struct = fields(&[f("name", ALL, String)]);
pub const DESCRIBE_USER_SCRAM_CREDENTIALS: Request = Request {
    key: ApiKey::DescribeUserScramCredentials,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[f("users", ALL, Structs(&USER_NAME))]),
};

// AlterUserScramCredentials (51)

const SCRAM_CREDENTIAL_DELETION: Struct =
    fields(&[f("name", ALL, String), f("mechanism", ALL, Int8)]);
const SCRAM_CREDENTIAL_UPSERTION: Struct = fields(&[
    f("name", ALL, String),
    f("mechanism", ALL, Int8),
    f("iterations", ALL, Int32),
    f("salt", ALL, Bytes),
    f("salted_password", ALL, Bytes),
]);
pub const ALTER_USER_SCRAM_CREDENTIALS: Request = Request {
    key: ApiKey::AlterUserScramCredentials,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[
        f("deletions", ALL, Structs(&SCRAM_CREDENTIAL_DELETION)),
        f("upsertions", ALL, Structs(&SCRAM_CREDENTIAL_UPSERTION)),
    ]),
};

// DescribeClientQuotas (48), KIP-546: v1 is flexible.

const CLIENT_QUOTA_COMPONENT: Struct = fields(&[
    f("entity_type", ALL, String),
    f("match_type", ALL, Int8),
    f("match", ALL, String),
]);
pub const DESCRIBE_CLIENT_QUOTAS: Request = Request {
    key: ApiKey::DescribeClientQuotas,
    versions: range(0, 1),
    flexible: since(1),
    body: fields(&[
        f("components", ALL, Structs(&CLIENT_QUOTA_COMPONENT)),
        f("strict", ALL, Bool),
    ]),
};

// AlterClientQuotas (49), KIP-546: v1 is flexible.

const CLIENT_QUOTA_ENTITY: Struct =
    fields(&[f("entity_type", ALL, String), f("entity_name", ALL, String)]);
const CLIENT_QUOTA_OP: Struct = fields(&[
    f("key", ALL, String),
    f("value", ALL, Float64),
    f("remove", ALL, Bool),
]);
const CLIENT_QUOTA_ENTRY: Struct = fields(&[
    f("entity", ALL, Structs(&CLIENT_QUOTA_ENTITY)),
    f("ops", ALL, Structs(&CLIENT_QUOTA_OP)),
]);
pub const ALTER_CLIENT_QUOTAS: Request = Request {
    key: ApiKey::AlterClientQuotas,
    versions: range(0, 1),
    flexible: since(1),
    body: fields(&[
        f("entries", ALL, Structs(&CLIENT_QUOTA_ENTRY)),
        f("validate_only", ALL, Bool),
    ]),
};
