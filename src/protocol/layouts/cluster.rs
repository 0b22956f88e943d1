//! The cluster's own APIs: DescribeQuorum (the controller quorum, KRaft's metadata log),
//! DescribeCluster (its brokers), ElectLeaders (partition leaderships) and the partition
//! reassignments (AlterPartitionReassignments, ListPartitionReassignments), and the brokers'
//! log directories (DescribeLogDirs).

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL};

// DescribeQuorum (55)

const DESCRIBE_QUORUM_PARTITION: Struct = fields(&[f("partition_index", ALL, Int32)]);
const DESCRIBE_QUORUM_TOPIC: Struct = fields(&[
    f("topic_name", ALL, String),
    f("partitions", ALL, Structs(&DESCRIBE_QUORUM_PARTITION)),
]);
pub const DESCRIBE_QUORUM: Request = Request {
    key: ApiKey::DescribeQuorum,
    versions: range(0, 2),
    flexible: ALL,
    body: fields(&[f("topics", ALL, Structs(&DESCRIBE_QUORUM_TOPIC))]),
};

// DescribeCluster (60)

pub const DESCRIBE_CLUSTER: Request = Request {
    key: ApiKey::DescribeCluster,
    versions: range(0, 2),
    flexible: ALL,
    body: fields(&[
        f("include_cluster_authorized_operations", ALL, Bool),
        f("endpoint_type", range(1, 2), Int8),
        f("include_fenced_brokers", range(2, 2), Bool),
    ]),
};

// ElectLeaders (43)

const ELECT_LEADERS_TOPIC: Struct =
    fields(&[f("topic", ALL, String), f("partitions", ALL, Array(&Int32))]);
pub const ELECT_LEADERS: Request = Request {
    key: ApiKey::ElectLeaders,
    versions: range(0, 2),
    flexible: since(2),
    body: fields(&[
        f("election_type", since(1), Int8),
        f("topic_partitions", ALL, Structs(&ELECT_LEADERS_TOPIC)),
        f("timeout_ms", ALL, Int32),
    ]),
};

// AlterPartitionReassignments (45)

const REASSIGNABLE_PARTITION: Struct = fields(&[
    f("partition_index", ALL, Int32),
    f("replicas", ALL, Array(&Int32)),
]);
const REASSIGNABLE_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&REASSIGNABLE_PARTITION)),
]);
pub const ALTER_PARTITION_REASSIGNMENTS: Request = Request {
    key: ApiKey::AlterPartitionReassignments,
    versions: range(0, 1),
    flexible: ALL,
    body: fields(&[
        f("timeout_ms", ALL, Int32),
        f("allow_replication_factor_change", since(1), Bool),
        f("topics", ALL, Structs(&REASSIGNABLE_TOPIC)),
    ]),
};

// ListPartitionReassignments (46)

const LIST_REASSIGNMENTS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partition_indexes", ALL, Array(&Int32)),
]);
pub const LIST_PARTITION_REASSIGNMENTS: Request = Request {
    key: ApiKey::ListPartitionReassignments,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[
        f("timeout_ms", ALL, Int32),
        f("topics", ALL, Structs(&LIST_REASSIGNMENTS_TOPIC)),
    ]),
};

// DescribeLogDirs (35)

const DESCRIBABLE_LOG_DIR_TOPIC: Struct =
    fields(&[f("topic", ALL, String), f("partitions", ALL, Array(&Int32))]);
pub const DESCRIBE_LOG_DIRS: Request = Request {
    key: ApiKey::DescribeLogDirs,
    versions: range(1, 4),
    flexible: since(2),
    body: fields(&[f("topics", ALL, Structs(&DESCRIBABLE_LOG_DIR_TOPIC))]),
};
