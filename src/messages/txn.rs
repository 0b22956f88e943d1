//! The transaction coordinator's requests and answers ([`super::TXN`], issue 15): what the
//! gateway asks a transactional id's coordinator (Kafka's InitProducerId with a transactional
//! id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn), and the news it is sent: which
//! `__transaction_state` partitions this node leads ([`TxnEvent`], from the partitions actor,
//! as [`super::GroupsEvent`] for the group coordinator) and who leads every partition (from the
//! topics actor: the markers go to the leaders).
//!
//! Like every type of this module's parent, variant and field order is the node's wire
//! (postcard): append, never reorder.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::groups::LeaderTerm;
use crate::types::{ErrorCode, NodeId, Offset, ProducerId, TopicPartition};

/// Kafka's internal topic holding the transaction coordinator's state.
pub const TXN_STATE_TOPIC: &str = "__transaction_state";

/// What the transaction coordinator is told, never asked.
#[derive(Debug, Serialize, Deserialize)]
pub enum TxnEvent {
    /// A `__transaction_state` partition became readable here under `term` (as
    /// [`super::GroupsEvent::Elected`]).
    Elected {
        partition: i32,
        term: LeaderTerm,
        log_end: Offset,
        high_watermark: Offset,
    },
    /// The partition's `term` ended.
    Resigned { partition: i32, term: LeaderTerm },
    /// Every partition of the cluster with its leader (`None`: offline), after a metadata
    /// change: where the markers go, and the internal topic's partition count.
    Leaders(BTreeMap<TopicPartition, Option<NodeId>>),
}

/// A request for one transactional id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnRequest {
    InitProducerId(InitTxnArgs),
    /// AddPartitionsToTxn, and AddOffsetsToTxn (which adds the group's `__consumer_offsets`
    /// partition).
    AddPartitions(AddPartitionsArgs),
    EndTxn(EndTxnArgs),
}

impl TxnRequest {
    /// The transactional id it is for.
    pub fn transactional_id(&self) -> &str {
        match self {
            TxnRequest::InitProducerId(args) => &args.transactional_id,
            TxnRequest::AddPartitions(args) => &args.transactional_id,
            TxnRequest::EndTxn(args) => &args.transactional_id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitTxnArgs {
    pub transactional_id: String,
    pub timeout_ms: i32,
    /// KIP-360 (InitProducerId v3+): the producer id and epoch the producer has, when it asks
    /// for a bump after an error.
    pub expected: Option<(ProducerId, i16)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPartitionsArgs {
    pub transactional_id: String,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub partitions: BTreeMap<String, BTreeSet<i32>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndTxnArgs {
    pub transactional_id: String,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub commit: bool,
}

/// The answer to a [`TxnRequest`] (one error for every partition of an AddPartitions, as
/// Kafka's coordinator answers them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnReply {
    InitProducerId(Result<(ProducerId, i16), ErrorCode>),
    AddPartitions(ErrorCode),
    EndTxn(ErrorCode),
}

impl TxnReply {
    /// `request` refused with `code`.
    pub fn refused(request: &TxnRequest, code: ErrorCode) -> Self {
        match request {
            TxnRequest::InitProducerId(_) => TxnReply::InitProducerId(Err(code)),
            TxnRequest::AddPartitions(_) => TxnReply::AddPartitions(code),
            TxnRequest::EndTxn(_) => TxnReply::EndTxn(code),
        }
    }

    /// The same kind of answer, refused with `code`.
    pub fn with_error(&self, code: ErrorCode) -> Self {
        match self {
            TxnReply::InitProducerId(_) => TxnReply::InitProducerId(Err(code)),
            TxnReply::AddPartitions(_) => TxnReply::AddPartitions(code),
            TxnReply::EndTxn(_) => TxnReply::EndTxn(code),
        }
    }

    /// The error it answers (NONE for success).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TxnReply::InitProducerId(Ok(_)) => ErrorCode::NONE,
            TxnReply::InitProducerId(Err(code))
            | TxnReply::AddPartitions(code)
            | TxnReply::EndTxn(code) => *code,
        }
    }
}
