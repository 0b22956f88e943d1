//! The layout of every request Rill decodes (see [`crate::protocol::layout`] for the notation).
//!
//! One constant per request, written from Kafka's message specifications; versions are the
//! spec's, and each field is listed in the order the `kafka-protocol` crate's generated decoder
//! reads it. Adding an API to [`crate::protocol::versions::SUPPORTED`] needs its layout in
//! [`REQUESTS`]: a request without one is refused before decoding, and
//! `tests/request_bounds.rs` fails.
//!
//! One file per API family: `records` (produce, fetch, offsets, producer ids), `topics`
//! (metadata and topic admin), `configs`, `groups` (consumer groups and their offsets),
//! `cluster` (the controller quorum), `txn` (the transaction coordinator's client APIs) and
//! `security` (authentication); the users' SCRAM credentials are in `configs`, as
//! kafka-configs manages them.

use kafka_protocol::messages::ApiKey;

use super::layout::Request;

mod cluster;
mod configs;
mod groups;
mod records;
mod security;
mod topics;
mod txn;

pub use cluster::{
    ALTER_PARTITION_REASSIGNMENTS, DESCRIBE_CLUSTER, DESCRIBE_LOG_DIRS, DESCRIBE_QUORUM,
    ELECT_LEADERS, LIST_PARTITION_REASSIGNMENTS,
};
pub use configs::{
    ALTER_CLIENT_QUOTAS, ALTER_CONFIGS, ALTER_USER_SCRAM_CREDENTIALS, DESCRIBE_CLIENT_QUOTAS,
    DESCRIBE_CONFIGS, DESCRIBE_USER_SCRAM_CREDENTIALS, INCREMENTAL_ALTER_CONFIGS,
};
pub use groups::{
    CONSUMER_GROUP_DESCRIBE, CONSUMER_GROUP_HEARTBEAT, DELETE_GROUPS, DESCRIBE_GROUPS,
    FIND_COORDINATOR, HEARTBEAT, JOIN_GROUP, LEAVE_GROUP, LIST_GROUPS, OFFSET_COMMIT,
    OFFSET_DELETE, OFFSET_FETCH, SYNC_GROUP,
};
pub use records::{
    DELETE_RECORDS, FETCH, INIT_PRODUCER_ID, LIST_OFFSETS, OFFSET_FOR_LEADER_EPOCH, PRODUCE,
};
pub use security::{CREATE_ACLS, DELETE_ACLS, DESCRIBE_ACLS, SASL_AUTHENTICATE, SASL_HANDSHAKE};
pub use topics::{
    CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, DESCRIBE_TOPIC_PARTITIONS, METADATA,
};
pub use txn::{
    ADD_OFFSETS_TO_TXN, ADD_PARTITIONS_TO_TXN, DESCRIBE_PRODUCERS, DESCRIBE_TRANSACTIONS, END_TXN,
    LIST_TRANSACTIONS, TXN_OFFSET_COMMIT, WRITE_TXN_MARKERS,
};

/// The consumer-group layouts (issue 12), the tail of [`REQUESTS`].
pub const GROUP_REQUESTS: &[&Request] = &GROUPS;

/// The layouts, one per API key. Consumer groups: decodable here, served only once advertised
/// (`versions::SUPPORTED`).
pub const REQUESTS: &[&Request] = &ALL;

const CORE: [&Request; 37] = [
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
    &DESCRIBE_QUORUM,
    &DESCRIBE_CLUSTER,
    &OFFSET_FOR_LEADER_EPOCH,
    &ELECT_LEADERS,
    &ALTER_PARTITION_REASSIGNMENTS,
    &LIST_PARTITION_REASSIGNMENTS,
    &DESCRIBE_LOG_DIRS,
    &DESCRIBE_TOPIC_PARTITIONS,
    &ADD_PARTITIONS_TO_TXN,
    &ADD_OFFSETS_TO_TXN,
    &END_TXN,
    &TXN_OFFSET_COMMIT,
    &DESCRIBE_TRANSACTIONS,
    &LIST_TRANSACTIONS,
    &DESCRIBE_PRODUCERS,
    &WRITE_TXN_MARKERS,
    &SASL_HANDSHAKE,
    &SASL_AUTHENTICATE,
    &DESCRIBE_USER_SCRAM_CREDENTIALS,
    &ALTER_USER_SCRAM_CREDENTIALS,
    &DESCRIBE_CLIENT_QUOTAS,
    &ALTER_CLIENT_QUOTAS,
    &DESCRIBE_ACLS,
    &CREATE_ACLS,
    &DELETE_ACLS,
];

const GROUPS: [&Request; 13] = [
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
    &OFFSET_DELETE,
    &CONSUMER_GROUP_HEARTBEAT,
    &CONSUMER_GROUP_DESCRIBE,
];

const ALL: [&Request; CORE.len() + GROUPS.len()] = crate::protocol::concat(CORE, GROUPS);

/// The layout for `key`, when Rill has one.
pub fn request(key: ApiKey) -> Option<&'static Request> {
    REQUESTS.iter().copied().find(|r| r.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::request_versions;

    #[test]
    fn one_layout_per_key() {
        let keys: Vec<ApiKey> = REQUESTS.iter().map(|r| r.key).collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(key), "two layouts for {key:?}");
        }
    }

    /// Against the request type's own range: `ApiKey::valid_versions()` is the response's,
    /// wider for OffsetCommit and OffsetFetch (10) than what their requests decode (9).
    #[test]
    fn versions_lie_within_the_crates() {
        for r in REQUESTS {
            let valid = request_versions(r.key)
                .unwrap_or_else(|| panic!("{:?} has a layout but no request type", r.key));
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

    /// Every group layout covers every version its request type decodes, so no later change
    /// that advertises a group API has to touch a layout.
    #[test]
    fn group_layouts_cover_the_crates_whole_range() {
        assert_eq!(GROUP_REQUESTS.len(), 13);
        for key in GROUP_REQUESTS.iter().map(|r| r.key) {
            let layout = request(key).unwrap_or_else(|| panic!("{key:?} has no layout"));
            let valid = request_versions(key).unwrap();
            assert_eq!(
                (layout.versions.min, layout.versions.max),
                (valid.min, valid.max),
                "{key:?}"
            );
        }
    }

    #[test]
    fn request_finds_every_layout() {
        for r in REQUESTS {
            assert_eq!(request(r.key).map(|l| l.versions), Some(r.versions));
        }
        assert!(request(ApiKey::ExpireDelegationToken).is_none());
    }
}
