//! Authentication: SaslHandshake (17) and SaslAuthenticate (36), the only requests a SASL
//! listener answers (besides ApiVersions) before the client has authenticated; and
//! authorization's admin APIs, DescribeAcls, CreateAcls and DeleteAcls.

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL, NONE};

// SaslHandshake (17): v0 (raw SASL tokens after it) was removed by Kafka 4.0 (KIP-896); the
// layout covers both versions the crate decodes.

pub const SASL_HANDSHAKE: Request = Request {
    key: ApiKey::SaslHandshake,
    versions: range(0, 1),
    flexible: NONE,
    body: fields(&[f("mechanism", ALL, String)]),
};

// SaslAuthenticate (36)

pub const SASL_AUTHENTICATE: Request = Request {
    key: ApiKey::SaslAuthenticate,
    versions: range(0, 2),
    flexible: since(2),
    body: fields(&[f("auth_bytes", ALL, Bytes)]),
};

// ACLs (KIP-140): DescribeAcls (29), CreateAcls (30), DeleteAcls (31). v0 (no pattern types)
// was removed by Kafka 4.0 (KIP-896) and the crate decodes v1-3; v2 is flexible. A filter's
// name, principal and host are nullable strings (a null selects any).

const ACL_FILTER: Struct = fields(&[
    f("resource_type_filter", ALL, Int8),
    f("resource_name_filter", ALL, String),
    f("pattern_type_filter", ALL, Int8),
    f("principal_filter", ALL, String),
    f("host_filter", ALL, String),
    f("operation", ALL, Int8),
    f("permission_type", ALL, Int8),
]);

pub const DESCRIBE_ACLS: Request = Request {
    key: ApiKey::DescribeAcls,
    versions: range(1, 3),
    flexible: since(2),
    body: ACL_FILTER,
};

const ACL_CREATION: Struct = fields(&[
    f("resource_type", ALL, Int8),
    f("resource_name", ALL, String),
    f("resource_pattern_type", ALL, Int8),
    f("principal", ALL, String),
    f("host", ALL, String),
    f("operation", ALL, Int8),
    f("permission_type", ALL, Int8),
]);

pub const CREATE_ACLS: Request = Request {
    key: ApiKey::CreateAcls,
    versions: range(1, 3),
    flexible: since(2),
    body: fields(&[f("creations", ALL, Structs(&ACL_CREATION))]),
};

pub const DELETE_ACLS: Request = Request {
    key: ApiKey::DeleteAcls,
    versions: range(1, 3),
    flexible: since(2),
    body: fields(&[f("filters", ALL, Structs(&ACL_FILTER))]),
};
