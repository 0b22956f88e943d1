//! The transaction coordinator's requests and answers (issue 15): what the gateway will ask a
//! transactional id's coordinator (Kafka's InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn). Not yet in [`super::NodeMsg`]: the coordinator
//! actor that serves them comes with the next step, and with it their wire variants.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::types::{ErrorCode, ProducerId};

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
