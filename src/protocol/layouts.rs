//! The layout of every request Rill decodes (see [`crate::protocol::layout`] for the notation).
//!
//! One constant per request, written from Kafka's message specifications; versions are the
//! spec's. Adding an API to [`crate::protocol::versions::SUPPORTED`] needs its layout here: a
//! request without one is refused before decoding, and `tests/request_bounds.rs` fails.

use kafka_protocol::messages::ApiKey;

use super::layout::Ty::*;
use super::layout::{f, fields, range, since, Request, Struct, ALL};

/// The layouts, one per API key.
pub const REQUESTS: &[&Request] = &[&CREATE_TOPICS];

/// The layout for `key`, when Rill has one.
pub fn request(key: ApiKey) -> Option<&'static Request> {
    REQUESTS.iter().copied().find(|r| r.key == key)
}

// CreateTopics (19)

const CREATABLE_REPLICA_ASSIGNMENT: Struct = fields(&[
    f("partition_index", ALL, Int32),
    f("broker_ids", ALL, Array(&Int32)),
]);
const CREATABLE_TOPIC_CONFIG: Struct = fields(&[f("name", ALL, String), f("value", ALL, String)]);
const CREATABLE_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("num_partitions", ALL, Int32),
    f("replication_factor", ALL, Int16),
    f("assignments", ALL, Structs(&CREATABLE_REPLICA_ASSIGNMENT)),
    f("configs", ALL, Structs(&CREATABLE_TOPIC_CONFIG)),
]);
pub const CREATE_TOPICS: Request = Request {
    key: ApiKey::CreateTopics,
    versions: range(2, 7),
    flexible: since(5),
    body: fields(&[
        f("topics", ALL, Structs(&CREATABLE_TOPIC)),
        f("timeout_ms", ALL, Int32),
        f("validate_only", since(1), Bool),
    ]),
};
