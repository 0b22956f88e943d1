//! The transaction coordinator's requests and answers ([`super::TXN`], issue 15): what the
//! gateway asks a transactional id's coordinator (Kafka's InitProducerId with a transactional
//! id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn), what it asks any node's coordinator about
//! the ids it holds (ListTransactions, DescribeTransactions: KIP-664's admin APIs), and the
//! news it is sent: which `__transaction_state` partitions this node leads ([`TxnEvent`], from
//! the partitions actor, as [`super::GroupsEvent`] for the group coordinator) and who leads
//! every partition (from the topics actor: the markers go to the leaders).
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

/// A request for one transactional id, or (List, Describe) a read of the ids this node's
/// coordinator holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnRequest {
    InitProducerId(InitTxnArgs),
    /// AddPartitionsToTxn, and AddOffsetsToTxn (which adds the group's `__consumer_offsets`
    /// partition).
    AddPartitions(AddPartitionsArgs),
    EndTxn(EndTxnArgs),
    /// ListTransactions: the ids of every `__transaction_state` partition led here.
    List(ListTxnArgs),
    /// DescribeTransactions: each id from its partition's shard.
    Describe(DescribeTxnArgs),
    /// KIP-890 part 1: a partition leader asks, before it appends a producer's first
    /// transactional batch there, whether the partition is in that producer's open
    /// transaction (Kafka's AddPartitionsToTxn v4 `verify_only`). Asked of the leader's own
    /// coordinator, which answers from its shard or asks the id's coordinator node.
    Verify(VerifyArgs),
}

impl TxnRequest {
    /// The transactional id it is for; `None` for List and Describe, which the actor answers
    /// itself over its shards.
    pub fn transactional_id(&self) -> Option<&str> {
        match self {
            TxnRequest::InitProducerId(args) => Some(&args.transactional_id),
            TxnRequest::AddPartitions(args) => Some(&args.transactional_id),
            TxnRequest::EndTxn(args) => Some(&args.transactional_id),
            TxnRequest::Verify(args) => Some(&args.transactional_id),
            TxnRequest::List(_) | TxnRequest::Describe(_) => None,
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

/// A partition leader's [`TxnRequest::Verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyArgs {
    pub transactional_id: String,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub tp: TopicPartition,
    /// Sent on by the leader's coordinator to the id's: never sent on again.
    pub forwarded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndTxnArgs {
    pub transactional_id: String,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub commit: bool,
}

/// ListTransactions' filters (Kafka's `ListTransactionsRequest`); an empty list filters
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTxnArgs {
    /// Kafka's state names (`TxnState::name`): only ids in one of them. A name that is no
    /// state is answered back in [`ListTxnResult::unknown_states`] and matches nothing.
    pub states: Vec<String>,
    /// Only ids whose current producer id is one of these.
    pub producer_ids: Vec<ProducerId>,
    /// v1 (KIP-994): only transactions running longer than this many milliseconds (started
    /// before now minus it); negative: no filter.
    pub duration_filter_ms: i64,
}

/// ListTransactions' answer: COORDINATOR_LOAD_IN_PROGRESS with nothing listed while any
/// shard of the node loads (Kafka's `listTransactionStates`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTxnResult {
    pub error_code: ErrorCode,
    /// The state filters that name no state.
    pub unknown_states: Vec<String>,
    pub transactions: Vec<ListedTxn>,
}

impl ListTxnResult {
    /// Nothing listed, for `code`.
    pub fn refused(code: ErrorCode) -> Self {
        Self {
            error_code: code,
            unknown_states: Vec::new(),
            transactions: Vec::new(),
        }
    }
}

/// One id of ListTransactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedTxn {
    pub transactional_id: String,
    pub producer_id: ProducerId,
    /// Kafka's state name (`TxnState::name`).
    pub state: String,
}

/// DescribeTransactions: the ids to describe, answered in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeTxnArgs {
    pub transactional_ids: Vec<String>,
}

/// One id of DescribeTransactions (Kafka's `DescribeTransactionsResponse.TransactionState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnDescription {
    pub transactional_id: String,
    /// NOT_COORDINATOR (its partition is not led here), COORDINATOR_LOAD_IN_PROGRESS,
    /// TRANSACTIONAL_ID_NOT_FOUND, or NONE with the fields below.
    pub error_code: ErrorCode,
    /// Kafka's state name (`TxnState::name`).
    pub state: String,
    pub producer_id: ProducerId,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    /// When the open transaction's first partition was added (Kafka's
    /// `transaction_start_time_ms`), -1 when none.
    pub start_ms: i64,
    /// The partitions of the transaction, by topic.
    pub partitions: BTreeMap<String, BTreeSet<i32>>,
}

impl TxnDescription {
    /// `transactional_id` not described, for `code` (the other fields as Kafka leaves them:
    /// empty and zero).
    pub fn refused(transactional_id: &str, code: ErrorCode) -> Self {
        Self {
            transactional_id: transactional_id.to_owned(),
            error_code: code,
            state: String::new(),
            producer_id: ProducerId(0),
            producer_epoch: 0,
            timeout_ms: 0,
            start_ms: 0,
            partitions: BTreeMap::new(),
        }
    }
}

/// The answer to a [`TxnRequest`] (one error for every partition of an AddPartitions, as
/// Kafka's coordinator answers them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnReply {
    InitProducerId(Result<(ProducerId, i16), ErrorCode>),
    AddPartitions(ErrorCode),
    EndTxn(ErrorCode),
    Listed(ListTxnResult),
    /// One description per asked id, in the request's order.
    Described(Vec<TxnDescription>),
    /// A Verify's answer: NONE (in the open transaction), PRODUCER_FENCED,
    /// INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE (not in it: a late or stray write),
    /// CONCURRENT_TRANSACTIONS (it is ending), or a coordinator's retriable refusal.
    Verified(ErrorCode),
}

impl TxnReply {
    /// `request` refused with `code`.
    pub fn refused(request: &TxnRequest, code: ErrorCode) -> Self {
        match request {
            TxnRequest::InitProducerId(_) => TxnReply::InitProducerId(Err(code)),
            TxnRequest::AddPartitions(_) => TxnReply::AddPartitions(code),
            TxnRequest::EndTxn(_) => TxnReply::EndTxn(code),
            TxnRequest::Verify(_) => TxnReply::Verified(code),
            TxnRequest::List(_) => TxnReply::Listed(ListTxnResult::refused(code)),
            TxnRequest::Describe(args) => TxnReply::Described(
                (args.transactional_ids.iter())
                    .map(|id| TxnDescription::refused(id, code))
                    .collect(),
            ),
        }
    }

    /// The same kind of answer, refused with `code`.
    pub fn with_error(&self, code: ErrorCode) -> Self {
        match self {
            TxnReply::InitProducerId(_) => TxnReply::InitProducerId(Err(code)),
            TxnReply::AddPartitions(_) => TxnReply::AddPartitions(code),
            TxnReply::EndTxn(_) => TxnReply::EndTxn(code),
            TxnReply::Verified(_) => TxnReply::Verified(code),
            TxnReply::Listed(_) => TxnReply::Listed(ListTxnResult::refused(code)),
            TxnReply::Described(described) => TxnReply::Described(
                (described.iter())
                    .map(|d| TxnDescription::refused(&d.transactional_id, code))
                    .collect(),
            ),
        }
    }

    /// The error it answers (NONE for success); a Described answers per id, so NONE as a whole.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TxnReply::InitProducerId(Ok(_)) => ErrorCode::NONE,
            TxnReply::InitProducerId(Err(code))
            | TxnReply::AddPartitions(code)
            | TxnReply::EndTxn(code)
            | TxnReply::Verified(code) => *code,
            TxnReply::Listed(result) => result.error_code,
            TxnReply::Described(_) => ErrorCode::NONE,
        }
    }
}
