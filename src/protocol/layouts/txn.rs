//! Transactions: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit, the admin
//! reads DescribeTransactions, ListTransactions and DescribeProducers, and WriteTxnMarkers (an
//! admin's abort of a hanging transaction). InitProducerId, which idempotent producers send
//! too, is in `records`.

use kafka_protocol::messages::ApiKey;

use crate::protocol::layout::Ty::*;
use crate::protocol::layout::{f, fields, range, since, Request, Struct, ALL};

// AddPartitionsToTxn (24)

const ADD_PARTITIONS_TO_TXN_TOPIC: Struct =
    fields(&[f("name", ALL, String), f("partitions", ALL, Array(&Int32))]);
/// v0-3 only: v4+ (KIP-890) is the batched form brokers send each other, not served.
pub const ADD_PARTITIONS_TO_TXN: Request = Request {
    key: ApiKey::AddPartitionsToTxn,
    versions: range(0, 3),
    flexible: since(3),
    body: fields(&[
        f("v3_and_below_transactional_id", range(0, 3), String),
        f("v3_and_below_producer_id", range(0, 3), Int64),
        f("v3_and_below_producer_epoch", range(0, 3), Int16),
        f(
            "v3_and_below_topics",
            range(0, 3),
            Structs(&ADD_PARTITIONS_TO_TXN_TOPIC),
        ),
    ]),
};

// AddOffsetsToTxn (25)

pub const ADD_OFFSETS_TO_TXN: Request = Request {
    key: ApiKey::AddOffsetsToTxn,
    versions: range(0, 3),
    flexible: since(3),
    body: fields(&[
        f("transactional_id", ALL, String),
        f("producer_id", ALL, Int64),
        f("producer_epoch", ALL, Int16),
        f("group_id", ALL, String),
    ]),
};

// EndTxn (26)

pub const END_TXN: Request = Request {
    key: ApiKey::EndTxn,
    versions: range(0, 3),
    flexible: since(3),
    body: fields(&[
        f("transactional_id", ALL, String),
        f("producer_id", ALL, Int64),
        f("producer_epoch", ALL, Int16),
        f("committed", ALL, Bool),
    ]),
};

// TxnOffsetCommit (28)

const TXN_OFFSET_COMMIT_PARTITION: Struct = fields(&[
    f("partition_index", ALL, Int32),
    f("committed_offset", ALL, Int64),
    f("committed_leader_epoch", since(2), Int32),
    f("committed_metadata", ALL, String),
]);
const TXN_OFFSET_COMMIT_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partitions", ALL, Structs(&TXN_OFFSET_COMMIT_PARTITION)),
]);
/// v0-3: v4-5 add KIP-890's TRANSACTION_ABORTABLE and the coordinator's verification.
pub const TXN_OFFSET_COMMIT: Request = Request {
    key: ApiKey::TxnOffsetCommit,
    versions: range(0, 3),
    flexible: since(3),
    body: fields(&[
        f("transactional_id", ALL, String),
        f("group_id", ALL, String),
        f("producer_id", ALL, Int64),
        f("producer_epoch", ALL, Int16),
        f("generation_id", since(3), Int32),
        f("member_id", since(3), String),
        f("group_instance_id", since(3), String),
        f("topics", ALL, Structs(&TXN_OFFSET_COMMIT_TOPIC)),
    ]),
};

// DescribeTransactions (65)

/// Flexible from v0 (KIP-664).
pub const DESCRIBE_TRANSACTIONS: Request = Request {
    key: ApiKey::DescribeTransactions,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[f("transactional_ids", ALL, Array(&String))]),
};

// ListTransactions (66)

/// v0-1, flexible from v0 (KIP-664); v1 adds the duration filter (KIP-994). v2 (a regular
/// expression over the ids, KIP-1152) is not served.
pub const LIST_TRANSACTIONS: Request = Request {
    key: ApiKey::ListTransactions,
    versions: range(0, 1),
    flexible: ALL,
    body: fields(&[
        f("state_filters", ALL, Array(&String)),
        f("producer_id_filters", ALL, Array(&Int64)),
        f("duration_filter", since(1), Int64),
    ]),
};

// WriteTxnMarkers (27)

const WRITE_TXN_MARKERS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partition_indexes", ALL, Array(&Int32)),
]);
const WRITE_TXN_MARKERS_MARKER: Struct = fields(&[
    f("producer_id", ALL, Int64),
    f("producer_epoch", ALL, Int16),
    f("transaction_result", ALL, Bool),
    f("topics", ALL, Structs(&WRITE_TXN_MARKERS_TOPIC)),
    f("coordinator_epoch", ALL, Int32),
]);
/// v1 only, flexible: Kafka 4.0 removed v0, and the protocol crate decodes v1 alone.
pub const WRITE_TXN_MARKERS: Request = Request {
    key: ApiKey::WriteTxnMarkers,
    versions: range(1, 1),
    flexible: since(1),
    body: fields(&[f("markers", ALL, Structs(&WRITE_TXN_MARKERS_MARKER))]),
};

// DescribeProducers (61)

const DESCRIBE_PRODUCERS_TOPIC: Struct = fields(&[
    f("name", ALL, String),
    f("partition_indexes", ALL, Array(&Int32)),
]);
/// v0, flexible from v0 (KIP-664).
pub const DESCRIBE_PRODUCERS: Request = Request {
    key: ApiKey::DescribeProducers,
    versions: range(0, 0),
    flexible: ALL,
    body: fields(&[f("topics", ALL, Structs(&DESCRIBE_PRODUCERS_TOPIC))]),
};
