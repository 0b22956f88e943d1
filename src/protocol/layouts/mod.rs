//! The layout of every request Rill decodes (see [`crate::protocol::layout`] for the notation).
//!
//! One constant per request, written from Kafka's message specifications; versions are the
//! spec's, and each field is listed in the order the `kafka-protocol` crate's generated decoder
//! reads it. Adding an API to [`crate::protocol::versions::SUPPORTED`] needs its layout in
//! [`REQUESTS`]: a request without one is refused before decoding, and
//! `tests/request_bounds.rs` fails.
//!
//! One file per API family: `records` (produce, fetch, offsets, producer ids), `topics`
//! (metadata and topic admin), `configs` and `groups` (consumer groups and their offsets).

use kafka_protocol::messages::ApiKey;

use super::layout::Request;

mod configs;
mod groups;
mod records;
mod topics;

pub use configs::{ALTER_CONFIGS, DESCRIBE_CONFIGS, INCREMENTAL_ALTER_CONFIGS};
pub use groups::{
    DELETE_GROUPS, DESCRIBE_GROUPS, FIND_COORDINATOR, HEARTBEAT, JOIN_GROUP, LEAVE_GROUP,
    LIST_GROUPS, OFFSET_COMMIT, OFFSET_FETCH, SYNC_GROUP,
};
pub use records::{DELETE_RECORDS, FETCH, INIT_PRODUCER_ID, LIST_OFFSETS, PRODUCE};
pub use topics::{CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, METADATA};

/// The layouts, one per API key.
pub const REQUESTS: &[&Request] = &[
    &PRODUCE,
    &FETCH,
    &LIST_OFFSETS,
    &METADATA,
    &CREATE_TOPICS,
    &DELETE_TOPICS,
    &DELETE_RECORDS,
    &INIT_PRODUCER_ID,
    &DESCRIBE_CONFIGS,
    &ALTER_CONFIGS,
    &CREATE_PARTITIONS,
    &INCREMENTAL_ALTER_CONFIGS,
];

/// The consumer-group requests' layouts, written ahead of the group coordinator: Rill does not
/// serve these APIs yet, so [`request`] does not look here. They are checked by the same test
/// as [`REQUESTS`]; a layout moves there when its API is served.
pub const GROUP_REQUESTS: &[&Request] = &[
    &OFFSET_COMMIT,
    &OFFSET_FETCH,
    &FIND_COORDINATOR,
    &JOIN_GROUP,
    &HEARTBEAT,
    &LEAVE_GROUP,
    &SYNC_GROUP,
    &DESCRIBE_GROUPS,
    &LIST_GROUPS,
    &DELETE_GROUPS,
];

/// The layout for `key`, when Rill has one.
pub fn request(key: ApiKey) -> Option<&'static Request> {
    REQUESTS.iter().copied().find(|r| r.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = &'static Request> {
        REQUESTS.iter().chain(GROUP_REQUESTS).copied()
    }

    #[test]
    fn one_layout_per_key() {
        let keys: Vec<ApiKey> = all().map(|r| r.key).collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(key), "two layouts for {key:?}");
        }
    }

    #[test]
    fn versions_lie_within_the_crates() {
        for r in all() {
            let valid = r.key.valid_versions();
            assert!(
                r.versions.min <= r.versions.max
                    && valid.min <= r.versions.min
                    && r.versions.max <= valid.max,
                "{:?}: layout versions {:?} outside the crate's {}-{}",
                r.key,
                r.versions,
                valid.min,
                valid.max,
            );
        }
    }

    #[test]
    fn request_looks_only_in_requests() {
        for r in REQUESTS {
            assert_eq!(request(r.key).map(|l| l.versions), Some(r.versions));
        }
        for r in GROUP_REQUESTS {
            assert!(request(r.key).is_none(), "{:?}", r.key);
        }
    }
}
