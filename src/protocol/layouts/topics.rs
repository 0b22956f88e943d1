//! Metadata and topic administration: Metadata, CreateTopics, DeleteTopics, CreatePartitions,
//! and DescribeTopicPartitions (KIP-966's paged Metadata).

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL};

// Metadata (3)

const METADATA_REQUEST_TOPIC: Struct =
    fields(&[f("topic_id", since(10), Uuid), f("name", ALL, String)]);
pub const METADATA: Request = Request {
    key: ApiKey::Metadata,
    versions: range(0, 12),
    flexible: since(9),
    body: fields(&[
        f("topics", ALL, Structs(&METADATA_REQUEST_TOPIC)),
        f("allow_auto_topic_creation", since(4), Bool),
        f("include_cluster_authorized_operations", range(8, 10), Bool),
        f("include_topic_authorized_operations", since(8), Bool),
    ]),
};

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

// DeleteTopics (20)

const DELETE_TOPIC_STATE: Struct =
    fields(&[f("name", since(6), String), f("topic_id", since(6), Uuid)]);
pub const DELETE_TOPICS: Request = Request {
    key: ApiKey::DeleteTopics,
    versions: range(1, 6),
    flexible: since(4),
    body: fields(&[
        f("topics", since(6), Structs(&DELETE_TOPIC_STATE)),
        f("topic_names", range(0, 5), Array(&String)),
        f("timeout_ms", ALL, Int32),
    ]),
};

// CreatePartitions (37)

const CREATE_PARTITIONS_ASSIGNMENT: Struct = fields(&[f("broker_ids", ALL, Array(&Int32))]);
const CREATE_PARTITIONS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("count", ALL, Int32),
    f("assignments", ALL, Structs(&CREATE_PARTITIONS_ASSIGNMENT)),
]);
pub const CREATE_PARTITIONS: Request = Request {
    key: ApiKey::CreatePartitions,
    versions: range(0, 3),
    flexible: since(2),
    body: fields(&[
        f("topics", ALL, Structs(&CREATE_PARTITIONS_TOPIC)),
        f("timeout_ms", ALL, Int32),
        f("validate_only", ALL, Bool),
    ]),
};

// DescribeTopicPartitions (75)

const DESCRIBE_TOPIC_PARTITIONS_TOPIC: Struct = fields(&[f("name", ALL, String)]);
const DESCRIBE_TOPIC_PARTITIONS_CURSOR: Struct = fields(&[
    f("topic_name", ALL, String),
    f("partition_index", ALL, Int32),
]);
pub const DESCRIBE_TOPIC_PARTITIONS: Request = Request {
    key: ApiKey::DescribeTopicPartitions,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[
        f("topics", ALL, Structs(&DESCRIBE_TOPIC_PARTITIONS_TOPIC)),
        f("response_partition_limit", ALL, Int32),
        f(
            "cursor",
            ALL,
            NullableStruct(&DESCRIBE_TOPIC_PARTITIONS_CURSOR),
        ),
    ]),
};
