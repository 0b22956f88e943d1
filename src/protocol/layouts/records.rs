//! Records and producers: Produce, Fetch, ListOffsets, DeleteRecords, InitProducerId,
//! OffsetForLeaderEpoch.

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, tagged, Request, Struct, ALL};

// Produce (0)

const PARTITION_PRODUCE_DATA: Struct =
    fields(&[f("index", ALL, Int32), f("records", ALL, Records)]);
const TOPIC_PRODUCE_DATA: Struct = fields(&[
    f("name", range(0, 12), String),
    f("topic_id", since(13), Uuid),
    f("partition_data", ALL, Structs(&PARTITION_PRODUCE_DATA)),
]);
pub const PRODUCE: Request = Request {
    key: ApiKey::Produce,
    versions: range(3, 9),
    flexible: since(9),
    body: fields(&[
        f("transactional_id", ALL, String),
        f("acks", ALL, Int16),
        f("timeout_ms", ALL, Int32),
        f("topic_data", ALL, Structs(&TOPIC_PRODUCE_DATA)),
    ]),
};

// Fetch (1)

const FETCH_PARTITION: Struct = Struct {
    fields: &[
        f("partition", ALL, Int32),
        f("current_leader_epoch", since(9), Int32),
        f("fetch_offset", ALL, Int64),
        f("last_fetched_epoch", since(12), Int32),
        f("log_start_offset", since(5), Int64),
        f("partition_max_bytes", ALL, Int32),
    ],
    tagged: &[
        tagged("replica_directory_id", 0, since(17), Uuid),
        tagged("high_watermark", 1, since(18), Int64),
    ],
};
const FETCH_TOPIC: Struct = fields(&[
    f("topic", range(0, 12), String),
    f("topic_id", since(13), Uuid),
    f("partitions", ALL, Structs(&FETCH_PARTITION)),
]);
const FORGOTTEN_TOPIC: Struct = fields(&[
    f("topic", range(7, 12), String),
    f("topic_id", since(13), Uuid),
    f("partitions", since(7), Array(&Int32)),
]);
const REPLICA_STATE: Struct = fields(&[
    f("replica_id", since(15), Int32),
    f("replica_epoch", since(15), Int64),
]);
pub const FETCH: Request = Request {
    key: ApiKey::Fetch,
    versions: range(4, 12),
    flexible: since(12),
    body: Struct {
        fields: &[
            f("replica_id", range(0, 14), Int32),
            f("max_wait_ms", ALL, Int32),
            f("min_bytes", ALL, Int32),
            f("max_bytes", ALL, Int32),
            f("isolation_level", ALL, Int8),
            f("session_id", since(7), Int32),
            f("session_epoch", since(7), Int32),
            f("topics", ALL, Structs(&FETCH_TOPIC)),
            f("forgotten_topics_data", since(7), Structs(&FORGOTTEN_TOPIC)),
            f("rack_id", since(11), String),
        ],
        tagged: &[
            tagged("cluster_id", 0, since(12), String),
            tagged("replica_state", 1, since(15), Struct(&REPLICA_STATE)),
        ],
    },
};

// ListOffsets (2)

const LIST_OFFSETS_PARTITION: Struct = fields(&[
    f("partition_index", ALL, Int32),
    f("current_leader_epoch", since(4), Int32),
    f("timestamp", ALL, Int64),
]);
const LIST_OFFSETS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&LIST_OFFSETS_PARTITION)),
]);
pub const LIST_OFFSETS: Request = Request {
    key: ApiKey::ListOffsets,
    versions: range(1, 7),
    flexible: since(6),
    body: fields(&[
        f("replica_id", ALL, Int32),
        f("isolation_level", since(2), Int8),
        f("topics", ALL, Structs(&LIST_OFFSETS_TOPIC)),
        f("timeout_ms", since(10), Int32),
    ]),
};

// DeleteRecords (21)

const DELETE_RECORDS_PARTITION: Struct =
    fields(&[f("partition_index", ALL, Int32), f("offset", ALL, Int64)]);
const DELETE_RECORDS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&DELETE_RECORDS_PARTITION)),
]);
pub const DELETE_RECORDS: Request = Request {
    key: ApiKey::DeleteRecords,
    versions: range(0, 2),
    flexible: since(2),
    body: fields(&[
        f("topics", ALL, Structs(&DELETE_RECORDS_TOPIC)),
        f("timeout_ms", ALL, Int32),
    ]),
};

// InitProducerId (22)

pub const INIT_PRODUCER_ID: Request = Request {
    key: ApiKey::InitProducerId,
    versions: range(0, 4),
    flexible: since(2),
    body: fields(&[
        f("transactional_id", ALL, String),
        f("transaction_timeout_ms", ALL, Int32),
        f("producer_id", since(3), Int64),
        f("producer_epoch", since(3), Int16),
    ]),
};

// OffsetForLeaderEpoch (23)

const OFFSET_FOR_LEADER_PARTITION: Struct = fields(&[
    f("partition", ALL, Int32),
    f("current_leader_epoch", ALL, Int32),
    f("leader_epoch", ALL, Int32),
]);
const OFFSET_FOR_LEADER_TOPIC: Struct = fields(&[
    f("topic", ALL, String),
    f("partitions", ALL, Structs(&OFFSET_FOR_LEADER_PARTITION)),
]);
/// v2-4 only: the versions the protocol crate decodes (v0-1 had no current leader epoch).
pub const OFFSET_FOR_LEADER_EPOCH: Request = Request {
    key: ApiKey::OffsetForLeaderEpoch,
    versions: range(2, 4),
    flexible: since(4),
    body: fields(&[
        f("replica_id", since(3), Int32),
        f("topics", ALL, Structs(&OFFSET_FOR_LEADER_TOPIC)),
    ]),
};
