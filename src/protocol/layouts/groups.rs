//! Consumer groups and their offsets: OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup,
//! Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete,
//! and the KIP-848 ConsumerGroupHeartbeat and ConsumerGroupDescribe.
//!
//! Each covers every version the crate's request type decodes, so advertising a group API
//! needs no layout change; the gateway refuses an API before decoding until it is advertised.

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL, NONE};

// OffsetCommit (8)

const OFFSET_COMMIT_REQUEST_PARTITION: Struct = fields(&[
    f("partition_index", ALL, Int32),
    f("committed_offset", ALL, Int64),
    f("committed_leader_epoch", since(6), Int32),
    f("committed_metadata", ALL, String),
]);
const OFFSET_COMMIT_REQUEST_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&OFFSET_COMMIT_REQUEST_PARTITION)),
]);
pub const OFFSET_COMMIT: Request = Request {
    key: ApiKey::OffsetCommit,
    // The crate decodes OffsetCommit from version 2; v9 only renames the generation to the
    // member epoch (KIP-848).
    versions: range(2, 9),
    flexible: since(8),
    body: fields(&[
        f("group_id", ALL, String),
        f("generation_id_or_member_epoch", ALL, Int32),
        f("member_id", ALL, String),
        f("group_instance_id", since(7), String),
        f("retention_time_ms", range(2, 4), Int64),
        f("topics", ALL, Structs(&OFFSET_COMMIT_REQUEST_TOPIC)),
    ]),
};

// OffsetFetch (9)

/// A topic of the request's own topic list (versions 0–7).
const OFFSET_FETCH_REQUEST_TOPIC: Struct = fields(&[
    f("name", range(0, 7), String),
    f("partition_indexes", range(0, 7), Array(&Int32)),
]);
/// A topic of a group's topic list (versions 8+).
const OFFSET_FETCH_REQUEST_TOPICS: Struct = fields(&[
    f("name", since(8), String),
    f("partition_indexes", since(8), Array(&Int32)),
]);
const OFFSET_FETCH_REQUEST_GROUP: Struct = fields(&[
    f("group_id", since(8), String),
    f("member_id", since(9), String),
    f("member_epoch", since(9), Int32),
    f("topics", since(8), Structs(&OFFSET_FETCH_REQUEST_TOPICS)),
]);
pub const OFFSET_FETCH: Request = Request {
    key: ApiKey::OffsetFetch,
    // The crate decodes OffsetFetch from version 1.
    versions: range(1, 9),
    flexible: since(6),
    body: fields(&[
        f("group_id", range(0, 7), String),
        f("topics", range(0, 7), Structs(&OFFSET_FETCH_REQUEST_TOPIC)),
        f("groups", since(8), Structs(&OFFSET_FETCH_REQUEST_GROUP)),
        f("require_stable", since(7), Bool),
    ]),
};

// FindCoordinator (10)

pub const FIND_COORDINATOR: Request = Request {
    key: ApiKey::FindCoordinator,
    // v5 and v6 change only the answers (error codes, share-group key types).
    versions: range(0, 6),
    flexible: since(3),
    body: fields(&[
        f("key", range(0, 3), String),
        f("key_type", since(1), Int8),
        f("coordinator_keys", since(4), Array(&String)),
    ]),
};

// JoinGroup (11)

const JOIN_GROUP_REQUEST_PROTOCOL: Struct =
    fields(&[f("name", ALL, String), f("metadata", ALL, Bytes)]);
pub const JOIN_GROUP: Request = Request {
    key: ApiKey::JoinGroup,
    versions: range(0, 9),
    flexible: since(6),
    body: fields(&[
        f("group_id", ALL, String),
        f("session_timeout_ms", ALL, Int32),
        f("rebalance_timeout_ms", since(1), Int32),
        f("member_id", ALL, String),
        f("group_instance_id", since(5), String),
        f("protocol_type", ALL, String),
        f("protocols", ALL, Structs(&JOIN_GROUP_REQUEST_PROTOCOL)),
        f("reason", since(8), String),
    ]),
};

// Heartbeat (12)

pub const HEARTBEAT: Request = Request {
    key: ApiKey::Heartbeat,
    versions: range(0, 4),
    flexible: since(4),
    body: fields(&[
        f("group_id", ALL, String),
        f("generation_id", ALL, Int32),
        f("member_id", ALL, String),
        f("group_instance_id", since(3), String),
    ]),
};

// LeaveGroup (13)

const MEMBER_IDENTITY: Struct = fields(&[
    f("member_id", since(3), String),
    f("group_instance_id", since(3), String),
    f("reason", since(5), String),
]);
pub const LEAVE_GROUP: Request = Request {
    key: ApiKey::LeaveGroup,
    versions: range(0, 5),
    flexible: since(4),
    body: fields(&[
        f("group_id", ALL, String),
        f("member_id", range(0, 2), String),
        f("members", since(3), Structs(&MEMBER_IDENTITY)),
    ]),
};

// SyncGroup (14)

const SYNC_GROUP_REQUEST_ASSIGNMENT: Struct =
    fields(&[f("member_id", ALL, String), f("assignment", ALL, Bytes)]);
pub const SYNC_GROUP: Request = Request {
    key: ApiKey::SyncGroup,
    versions: range(0, 5),
    flexible: since(4),
    body: fields(&[
        f("group_id", ALL, String),
        f("generation_id", ALL, Int32),
        f("member_id", ALL, String),
        f("group_instance_id", since(3), String),
        f("protocol_type", since(5), String),
        f("protocol_name", since(5), String),
        f("assignments", ALL, Structs(&SYNC_GROUP_REQUEST_ASSIGNMENT)),
    ]),
};

// DescribeGroups (15)

pub const DESCRIBE_GROUPS: Request = Request {
    key: ApiKey::DescribeGroups,
    // v6 changes only the answer (GROUP_ID_NOT_FOUND and an error message).
    versions: range(0, 6),
    flexible: since(5),
    body: fields(&[
        f("groups", ALL, Array(&String)),
        f("include_authorized_operations", since(3), Bool),
    ]),
};

// ListGroups (16)

pub const LIST_GROUPS: Request = Request {
    key: ApiKey::ListGroups,
    versions: range(0, 5),
    flexible: since(3),
    body: fields(&[
        f("states_filter", since(4), Array(&String)),
        f("types_filter", since(5), Array(&String)),
    ]),
};

// DeleteGroups (42)

pub const DELETE_GROUPS: Request = Request {
    key: ApiKey::DeleteGroups,
    versions: range(0, 2),
    flexible: since(2),
    body: fields(&[f("groups_names", ALL, Array(&String))]),
};

// OffsetDelete (47)

const OFFSET_DELETE_REQUEST_PARTITION: Struct = fields(&[f("partition_index", ALL, Int32)]);
const OFFSET_DELETE_REQUEST_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&OFFSET_DELETE_REQUEST_PARTITION)),
]);
pub const OFFSET_DELETE: Request = Request {
    key: ApiKey::OffsetDelete,
    versions: range(0, 0),
    flexible: NONE,
    body: fields(&[
        f("group_id", ALL, String),
        f("topics", ALL, Structs(&OFFSET_DELETE_REQUEST_TOPIC)),
    ]),
};

// ConsumerGroupHeartbeat (68)

const CONSUMER_GROUP_HEARTBEAT_TOPIC_PARTITIONS: Struct = fields(&[
    f("topic_id", ALL, Uuid),
    f("partitions", ALL, Array(&Int32)),
]);
pub const CONSUMER_GROUP_HEARTBEAT: Request = Request {
    key: ApiKey::ConsumerGroupHeartbeat,
    versions: range(0, 1),
    flexible: ALL,
    body: fields(&[
        f("group_id", ALL, String),
        f("member_id", ALL, String),
        f("member_epoch", ALL, Int32),
        f("instance_id", ALL, String),
        f("rack_id", ALL, String),
        f("rebalance_timeout_ms", ALL, Int32),
        f("subscribed_topic_names", ALL, Array(&String)),
        f("subscribed_topic_regex", since(1), String),
        f("server_assignor", ALL, String),
        f(
            "topic_partitions",
            ALL,
            Structs(&CONSUMER_GROUP_HEARTBEAT_TOPIC_PARTITIONS),
        ),
    ]),
};

// ConsumerGroupDescribe (69)

pub const CONSUMER_GROUP_DESCRIBE: Request = Request {
    key: ApiKey::ConsumerGroupDescribe,
    versions: range(0, 1),
    flexible: ALL,
    body: fields(&[
        f("group_ids", ALL, Array(&String)),
        f("include_authorized_operations", ALL, Bool),
    ]),
};
