//! Authentication: SaslHandshake (17) and SaslAuthenticate (36), the only requests a SASL
//! listener answers (besides ApiVersions) before the client has authenticated.

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, ALL, NONE};

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
