//! Transactions: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn (InitProducerId, which
//! idempotent producers send too, is in `records`).

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
