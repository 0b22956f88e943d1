//! The transaction coordinator's client APIs: InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn and EndTxn, each decoded into one
//! [`TxnRequest`] for the node's transaction coordinator (`TXN`), whose [`TxnReply`] is built
//! into the response of the request's version. An InitProducerId without a transactional id
//! (an idempotent producer) is not a transaction: it stays with the partitions actor
//! (`partitions.rs`).
//!
//! What the gateway decides itself, as Kafka's `KafkaApis` does before its coordinator:
//! * an empty transactional id is INVALID_REQUEST (Kafka's `TransactionCoordinator` answers it
//!   before it looks at any state, so it is the same answer whichever broker is asked);
//! * InitProducerId v3+ (KIP-360) names the producer id and epoch it has: both -1 is none, one
//!   of them -1 is INVALID_REQUEST;
//! * AddPartitionsToTxn refuses partitions per partition before asking: an internal topic is
//!   TOPIC_AUTHORIZATION_FAILED (Kafka authorizes no client to add one), a partition this
//!   broker's metadata does not know is UNKNOWN_TOPIC_OR_PARTITION, and when any partition is
//!   refused every other one is OPERATION_NOT_ATTEMPTED and nothing is asked;
//! * AddOffsetsToTxn names the group's `__consumer_offsets` partition (creating that topic if
//!   it does not exist yet, as FindCoordinator does);
//! * PRODUCER_FENCED reaches only the versions that know it (KIP-588, [`answered_code`]).
//!
//! Only AddPartitionsToTxn v0–3 is served: v4+ is KIP-890's batched form, which brokers send
//! each other to verify a transaction.
//!
//! KIP-664's admin reads go to this node's coordinator too: ListTransactions (v0–1; v1's
//! duration filter) lists the ids of the `__transaction_state` partitions this broker leads
//! (Kafka's admin client asks every broker and merges), DescribeTransactions (v0) describes
//! each id from its partition's shard here (the client asks the id's coordinator, found with
//! FindCoordinator; any other broker answers NOT_COORDINATOR). States are Kafka's names.
//!
//! Requests go to the coordinator with `submit` and are answered through `Pending::Later`, as
//! the group APIs are: the coordinator answers once its `__transaction_state` append is
//! replicated, and the connection's reader keeps reading meanwhile. An ask that fails (the
//! coordinator is not running here) answers COORDINATOR_NOT_AVAILABLE, which every client
//! retries after finding the coordinator again.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{describe_transactions_response, list_transactions_response};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListTransactionsRequest, ListTransactionsResponse, TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::service::{KafkaRequest, Pending};
use super::{codec, BrokerService};
use crate::actor::client::{ActorClient, AskError};
use crate::messages::call::submit;
use crate::messages::txn::{
    AddPartitionsArgs, DescribeTxnArgs, EndTxnArgs, InitTxnArgs, ListTxnArgs, ListTxnResult,
    TxnDescription, TxnReply, TxnRequest,
};
use crate::messages::{InternalTopic, NodeMsg, TopicMeta, OFFSETS_TOPIC};
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::types::placement::coordinator_partition;
use crate::types::{ErrorCode, ProducerId};

/// Kafka's `RecordBatch.NO_PRODUCER_EPOCH`: InitProducerId v3+ naming no producer (with
/// [`ProducerId::NONE`]).
const NO_PRODUCER_EPOCH: i16 = -1;

/// The partitions of an AddPartitionsToTxn by topic, each with its answer.
type PartitionCodes = BTreeMap<String, BTreeMap<i32, ErrorCode>>;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Answers one transaction API request (the caller checked that `key` is one and that its
    /// version is served).
    pub(super) async fn txn_api(&self, key: ApiKey, request: &KafkaRequest) -> Pending {
        let gate = &self.large_decodes;
        match key {
            ApiKey::InitProducerId => match decode(request, key, gate).await {
                Ok(body) => self.init_producer_id_any(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::AddPartitionsToTxn => match decode(request, key, gate).await {
                Ok(body) => self.add_partitions_to_txn(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::AddOffsetsToTxn => match decode(request, key, gate).await {
                Ok(body) => self.add_offsets_to_txn(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::EndTxn => match decode(request, key, gate).await {
                Ok(body) => self.end_txn(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::ListTransactions => match decode(request, key, gate).await {
                Ok(body) => self.list_transactions(request, body).await,
                Err(closed) => closed,
            },
            ApiKey::DescribeTransactions => match decode(request, key, gate).await {
                Ok(body) => self.describe_transactions(request, body).await,
                Err(closed) => closed,
            },
            other => Pending::Close(format!("{other:?} is not a transaction API served here")),
        }
    }

    /// InitProducerId: with a transactional id, the transaction coordinator's; without one,
    /// the partitions actor's (an idempotent producer's id).
    async fn init_producer_id_any(
        &self,
        request: &KafkaRequest,
        body: InitProducerIdRequest,
    ) -> Pending {
        let key = ApiKey::InitProducerId;
        let version = request.prefix.api_version;
        let transactional_id = body.transactional_id.as_ref().map(|t| t.0.to_string());
        // Kafka's checks: WRITE on the transactional id; without one, IDEMPOTENT_WRITE on the
        // cluster or WRITE on some topic.
        let access = self.access(request, "InitProducerId");
        let refused = match &transactional_id {
            Some(id) if !access.allows(AclOperation::Write, ResourceType::TransactionalId, id) => {
                Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            }
            None if !access.sees(
                AclOperation::IdempotentWrite,
                ResourceType::Cluster,
                CLUSTER_NAME,
            ) && !access.allows_some(AclOperation::Write, ResourceType::Topic) =>
            {
                Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED)
            }
            _ => None,
        };
        if let Some(code) = refused {
            return codec::respond(request, key, &init_response(Err(code), version));
        }
        let Some(transactional_id) = transactional_id else {
            return match self.init_producer_id(body).await {
                Ok(response) => codec::respond(request, key, &response),
                Err(e) => Pending::Close(e.to_string()),
            };
        };
        if transactional_id.is_empty() {
            let refused = init_response(Err(ErrorCode::INVALID_REQUEST), version);
            return codec::respond(request, key, &refused);
        }
        let expected = match expected_producer(&body, version) {
            Ok(expected) => expected,
            Err(code) => return codec::respond(request, key, &init_response(Err(code), version)),
        };
        let call = TxnRequest::InitProducerId(InitTxnArgs {
            transactional_id,
            timeout_ms: body.transaction_timeout_ms,
            expected,
        });
        self.ask_txn(request, key, call, move |reply| {
            let result = match reply {
                TxnReply::InitProducerId(result) => result,
                other => {
                    tracing::error!(?other, "InitProducerId: a reply of another request");
                    Err(ErrorCode::UNKNOWN_SERVER_ERROR)
                }
            };
            init_response(result, version)
        })
        .await
    }

    async fn add_partitions_to_txn(
        &self,
        request: &KafkaRequest,
        body: AddPartitionsToTxnRequest,
    ) -> Pending {
        let key = ApiKey::AddPartitionsToTxn;
        let version = request.prefix.api_version;
        let mut partitions: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for topic in &body.v3_and_below_topics {
            let listed = partitions.entry(topic.name.0.to_string()).or_default();
            listed.extend(topic.partitions.iter().copied());
        }
        let transactional_id = body.v3_and_below_transactional_id.0.to_string();
        // Kafka's checks: WRITE on the transactional id (else every partition is refused),
        // then WRITE on each topic.
        let access = self.access(request, "AddPartitionsToTxn");
        if !access.allows(
            AclOperation::Write,
            ResourceType::TransactionalId,
            &transactional_id,
        ) {
            let codes = all_partitions(
                &partitions,
                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            );
            return codec::respond(request, key, &add_partitions_response(&codes));
        }
        let topics = match self.list_topics().await {
            Ok(topics) => topics,
            Err(e) => {
                tracing::warn!(error = %e, "AddPartitionsToTxn: no topics to check against");
                let codes = all_partitions(&partitions, ErrorCode::COORDINATOR_NOT_AVAILABLE);
                return codec::respond(request, key, &add_partitions_response(&codes));
            }
        };
        let writable = |topic: &str| access.allows(AclOperation::Write, ResourceType::Topic, topic);
        if let Some(refused) = refusals(&partitions, &topics, writable) {
            return codec::respond(request, key, &add_partitions_response(&refused));
        }
        if transactional_id.is_empty() {
            let codes = all_partitions(&partitions, ErrorCode::INVALID_REQUEST);
            return codec::respond(request, key, &add_partitions_response(&codes));
        }
        let call = TxnRequest::AddPartitions(AddPartitionsArgs {
            transactional_id,
            producer_id: ProducerId(body.v3_and_below_producer_id.0),
            producer_epoch: body.v3_and_below_producer_epoch,
            partitions: partitions.clone(),
        });
        self.ask_txn(request, key, call, move |reply| {
            let code = answered_code(key, version, reply.error_code());
            add_partitions_response(&all_partitions(&partitions, code))
        })
        .await
    }

    async fn add_offsets_to_txn(
        &self,
        request: &KafkaRequest,
        body: AddOffsetsToTxnRequest,
    ) -> Pending {
        let key = ApiKey::AddOffsetsToTxn;
        let version = request.prefix.api_version;
        let transactional_id = body.transactional_id.0.to_string();
        // Kafka's checks: WRITE on the transactional id, then READ on the group.
        let access = self.access(request, "AddOffsetsToTxn");
        let refused = if !access.allows(
            AclOperation::Write,
            ResourceType::TransactionalId,
            &transactional_id,
        ) {
            Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        } else if !access.allows(AclOperation::Read, ResourceType::Group, &body.group_id) {
            Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
        } else if transactional_id.is_empty() {
            Some(ErrorCode::INVALID_REQUEST)
        } else {
            None
        };
        if let Some(code) = refused {
            return codec::respond(request, key, &add_offsets_response(code));
        }
        let offsets = match self.internal_topic(InternalTopic::ConsumerOffsets).await {
            Ok(meta) => meta,
            Err(reason) => {
                tracing::debug!(%reason, "AddOffsetsToTxn: no offsets topic");
                let refused = add_offsets_response(ErrorCode::COORDINATOR_NOT_AVAILABLE);
                return codec::respond(request, key, &refused);
            }
        };
        // The group coordinator's placement (`group::placement::offsets_partition`).
        let group = body.group_id.0.to_string();
        let partition = coordinator_partition(&group, offsets.partitions);
        let call = TxnRequest::AddPartitions(AddPartitionsArgs {
            transactional_id,
            producer_id: ProducerId(body.producer_id.0),
            producer_epoch: body.producer_epoch,
            partitions: BTreeMap::from([(OFFSETS_TOPIC.to_string(), BTreeSet::from([partition]))]),
        });
        self.ask_txn(request, key, call, move |reply| {
            add_offsets_response(answered_code(key, version, reply.error_code()))
        })
        .await
    }

    async fn end_txn(&self, request: &KafkaRequest, body: EndTxnRequest) -> Pending {
        let key = ApiKey::EndTxn;
        let version = request.prefix.api_version;
        let transactional_id = body.transactional_id.0.to_string();
        // Kafka's check: WRITE on the transactional id.
        let access = self.access(request, "EndTxn");
        if !access.allows(
            AclOperation::Write,
            ResourceType::TransactionalId,
            &transactional_id,
        ) {
            let refused = end_txn_response(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
            return codec::respond(request, key, &refused);
        }
        if transactional_id.is_empty() {
            return codec::respond(request, key, &end_txn_response(ErrorCode::INVALID_REQUEST));
        }
        let call = TxnRequest::EndTxn(EndTxnArgs {
            transactional_id,
            producer_id: ProducerId(body.producer_id.0),
            producer_epoch: body.producer_epoch,
            commit: body.committed,
        });
        self.ask_txn(request, key, call, move |reply| {
            end_txn_response(answered_code(key, version, reply.error_code()))
        })
        .await
    }

    /// ListTransactions: the ids this node's coordinator holds, filtered by state names,
    /// producer ids and (v1) how long their transaction has run (the crate reads v0's duration
    /// filter as -1: none).
    async fn list_transactions(
        &self,
        request: &KafkaRequest,
        body: ListTransactionsRequest,
    ) -> Pending {
        let key = ApiKey::ListTransactions;
        let call = TxnRequest::List(ListTxnArgs {
            states: (body.state_filters.iter()).map(|s| s.to_string()).collect(),
            producer_ids: (body.producer_id_filters.iter())
                .map(|p| ProducerId(p.0))
                .collect(),
            duration_filter_ms: body.duration_filter,
        });
        // Kafka's check: only the ids the principal may DESCRIBE are listed.
        let access = self.access(request, "ListTransactions");
        self.ask_txn(request, key, call, move |reply| {
            let result = match reply {
                TxnReply::Listed(mut result) => {
                    (result.transactions).retain(|t| {
                        access.sees(
                            AclOperation::Describe,
                            ResourceType::TransactionalId,
                            &t.transactional_id,
                        )
                    });
                    result
                }
                other => {
                    tracing::error!(?other, "ListTransactions: a reply of another request");
                    ListTxnResult::refused(ErrorCode::UNKNOWN_SERVER_ERROR)
                }
            };
            listed_response(&result)
        })
        .await
    }

    /// DescribeTransactions: each id as its shard here has it, in the request's order.
    async fn describe_transactions(
        &self,
        request: &KafkaRequest,
        body: DescribeTransactionsRequest,
    ) -> Pending {
        let key = ApiKey::DescribeTransactions;
        let ids: Vec<String> = (body.transactional_ids.iter())
            .map(|id| id.0.to_string())
            .collect();
        // Kafka's checks: DESCRIBE on each id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, not
        // asked), and a description lists only the partitions of topics the principal may
        // DESCRIBE.
        let access = self.access(request, "DescribeTransactions");
        let allowed: Vec<bool> = (ids.iter())
            .map(|id| access.allows(AclOperation::Describe, ResourceType::TransactionalId, id))
            .collect();
        let asked = (ids.iter().zip(&allowed))
            .filter(|(_, ok)| **ok)
            .map(|(id, _)| id.clone());
        let call = TxnRequest::Describe(DescribeTxnArgs {
            transactional_ids: asked.collect(),
        });
        self.ask_txn(request, key, call, move |reply| {
            let described: Vec<TxnDescription> = match reply {
                TxnReply::Described(described) => {
                    let mut described = described.into_iter();
                    let code = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
                    (ids.iter().zip(allowed))
                        .map(|(id, ok)| match ok {
                            true => described.next().unwrap_or_else(|| {
                                TxnDescription::refused(id, ErrorCode::UNKNOWN_SERVER_ERROR)
                            }),
                            false => TxnDescription::refused(id, code),
                        })
                        .map(|mut d| {
                            (d.partitions).retain(|topic, _| {
                                access.sees(AclOperation::Describe, ResourceType::Topic, topic)
                            });
                            d
                        })
                        .collect()
                }
                other => {
                    tracing::error!(?other, "DescribeTransactions: a reply of another request");
                    let code = ErrorCode::UNKNOWN_SERVER_ERROR;
                    (ids.iter())
                        .map(|id| TxnDescription::refused(id, code))
                        .collect()
                }
            };
            described_response(&described)
        })
        .await
    }

    /// Puts `call` in the coordinator's mailbox now (so it is taken in request order) and
    /// answers once it replies, with the response `build` makes of the reply. A failed ask is
    /// answered as the coordinator's COORDINATOR_NOT_AVAILABLE.
    async fn ask_txn<Resp, F>(
        &self,
        request: &KafkaRequest,
        key: ApiKey,
        call: TxnRequest,
        build: F,
    ) -> Pending
    where
        Resp: Encodable,
        F: FnOnce(TxnReply) -> Resp + Send + 'static,
    {
        let unavailable = TxnReply::refused(&call, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        let reply = match submit(&self.node, call).await {
            Ok(reply) => reply,
            Err(e) => {
                not_asked(key, &e);
                return codec::respond(request, key, &build(unavailable));
            }
        };
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            let reply = reply.await.unwrap_or_else(|e| {
                not_asked(key, &e);
                unavailable
            });
            codec::encode(prefix, key, &build(reply)).map(|bytes| Some(bytes.into()))
        }))
    }
}

/// Logs why the coordinator was not asked: a reply of the wrong kind is a bug, a missing
/// coordinator is not.
fn not_asked(key: ApiKey, error: &AskError) {
    match error {
        AskError::WrongReply(_) => tracing::error!(%error, "{key:?}: a wrong reply from TXN"),
        _ => tracing::debug!(%error, "{key:?}: the transaction coordinator did not answer"),
    }
}

/// Decodes the body; a request that cannot be decoded closes the connection. The decode's turn
/// (a large request) is released at once: nothing here merges the entries.
async fn decode<R: Decodable>(
    request: &KafkaRequest,
    key: ApiKey,
    gate: &tokio::sync::Semaphore,
) -> Result<R, Pending> {
    match codec::decode::<R>(request, key, gate).await {
        Ok((body, _turn)) => Ok(body),
        Err(e) => Err(Pending::Close(e)),
    }
}

/// The first version of each transaction API whose clients know PRODUCER_FENCED (KIP-588; the
/// request specs' "adds the support for new error code PRODUCER_FENCED").
fn first_version_knowing_producer_fenced(key: ApiKey) -> i16 {
    match key {
        ApiKey::InitProducerId => 4,
        ApiKey::AddPartitionsToTxn | ApiKey::AddOffsetsToTxn | ApiKey::EndTxn => 2,
        ApiKey::TxnOffsetCommit => 3,
        _ => 0,
    }
}

/// The code a client of `key` at `version` is answered for the coordinator's `code`: an older
/// client gets PRODUCER_FENCED as INVALID_PRODUCER_EPOCH, which it handles the same way (Kafka's
/// `KafkaApis` maps it so for each of the four APIs).
pub(super) fn answered_code(key: ApiKey, version: i16, code: ErrorCode) -> ErrorCode {
    if code == ErrorCode::PRODUCER_FENCED && version < first_version_knowing_producer_fenced(key) {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        code
    }
}

/// The producer id and epoch an InitProducerId v3+ says it has (KIP-360), as Kafka's
/// `KafkaApis` reads them: both -1 is none, one of them -1 is INVALID_REQUEST. Below v3 the
/// request has neither.
fn expected_producer(
    body: &InitProducerIdRequest,
    version: i16,
) -> Result<Option<(ProducerId, i16)>, ErrorCode> {
    if version < 3 {
        return Ok(None);
    }
    match (body.producer_id.0, body.producer_epoch) {
        (-1, NO_PRODUCER_EPOCH) => Ok(None),
        (-1, _) | (_, NO_PRODUCER_EPOCH) => Err(ErrorCode::INVALID_REQUEST),
        (id, epoch) => Ok(Some((ProducerId(id), epoch))),
    }
}

/// The partitions refused before the coordinator is asked, with every other partition
/// OPERATION_NOT_ATTEMPTED; `None` when none is refused. Kafka's `handleAddPartitionsToTxn`:
/// an internal topic, or one the principal may not WRITE (`writable`), fails authorization,
/// then a partition its metadata does not know is UNKNOWN_TOPIC_OR_PARTITION.
fn refusals(
    partitions: &BTreeMap<String, BTreeSet<i32>>,
    topics: &BTreeMap<String, TopicMeta>,
    writable: impl Fn(&str) -> bool,
) -> Option<PartitionCodes> {
    let mut any_refused = false;
    let codes: PartitionCodes = partitions
        .iter()
        .map(|(topic, listed)| {
            let meta = topics.get(topic);
            let authorized = !is_internal(topic) && writable(topic);
            let codes = listed.iter().map(|&partition| {
                let code = if !authorized {
                    ErrorCode::TOPIC_AUTHORIZATION_FAILED
                } else if !meta.is_some_and(|m| (0..m.partitions).contains(&partition)) {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    ErrorCode::OPERATION_NOT_ATTEMPTED
                };
                any_refused |= code != ErrorCode::OPERATION_NOT_ATTEMPTED;
                (partition, code)
            });
            (topic.clone(), codes.collect())
        })
        .collect();
    any_refused.then_some(codes)
}

/// Kafka's `Topic.isInternal`: the coordinators' own topics, which no client may write.
fn is_internal(topic: &str) -> bool {
    InternalTopic::named(topic).is_some()
}

/// Every listed partition with the same `code`.
fn all_partitions(partitions: &BTreeMap<String, BTreeSet<i32>>, code: ErrorCode) -> PartitionCodes {
    let with_code = |listed: &BTreeSet<i32>| -> BTreeMap<i32, ErrorCode> {
        listed.iter().map(|&p| (p, code)).collect()
    };
    (partitions.iter())
        .map(|(topic, listed)| (topic.clone(), with_code(listed)))
        .collect()
}

/// InitProducerId's response (the same shape at v0–4); a refusal names no producer (-1, -1).
pub(super) fn init_response(
    result: Result<(ProducerId, i16), ErrorCode>,
    version: i16,
) -> InitProducerIdResponse {
    let (code, producer_id, epoch) = match result {
        Ok((id, epoch)) => (ErrorCode::NONE, id.0, epoch),
        Err(code) => (code, ProducerId::NONE.0, NO_PRODUCER_EPOCH),
    };
    InitProducerIdResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(answered_code(ApiKey::InitProducerId, version, code).wire())
        .with_producer_id(kafka_protocol::messages::ProducerId(producer_id))
        .with_producer_epoch(epoch)
}

/// AddPartitionsToTxn's v0–3 response: each topic's partitions with their codes.
pub(super) fn add_partitions_response(codes: &PartitionCodes) -> AddPartitionsToTxnResponse {
    let results = codes
        .iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .iter()
                .map(|(&partition, code)| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(partition)
                        .with_partition_error_code(code.wire())
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default()
        .with_throttle_time_ms(0)
        .with_results_by_topic_v3_and_below(results)
}

pub(super) fn add_offsets_response(code: ErrorCode) -> AddOffsetsToTxnResponse {
    AddOffsetsToTxnResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(code.wire())
}

pub(super) fn end_txn_response(code: ErrorCode) -> EndTxnResponse {
    EndTxnResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(code.wire())
}

/// ListTransactions' response (the same shape at v0–1).
pub(super) fn listed_response(result: &ListTxnResult) -> ListTransactionsResponse {
    let states = (result.transactions.iter())
        .map(|t| {
            list_transactions_response::TransactionState::default()
                .with_transactional_id(TransactionalId(super::groups::text(&t.transactional_id)))
                .with_producer_id(kafka_protocol::messages::ProducerId(t.producer_id.0))
                .with_transaction_state(super::groups::text(&t.state))
        })
        .collect();
    let unknown = (result.unknown_states.iter())
        .map(|s| super::groups::text(s))
        .collect();
    ListTransactionsResponse::default()
        .with_throttle_time_ms(0)
        .with_error_code(result.error_code.wire())
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}

/// DescribeTransactions' v0 response: one entry per id, its partitions by topic.
pub(super) fn described_response(described: &[TxnDescription]) -> DescribeTransactionsResponse {
    let states = (described.iter())
        .map(|d| {
            let topics = (d.partitions.iter())
                .map(|(topic, partitions)| {
                    describe_transactions_response::TopicData::default()
                        .with_topic(TopicName(super::groups::text(topic)))
                        .with_partitions(partitions.iter().copied().collect())
                })
                .collect();
            describe_transactions_response::TransactionState::default()
                .with_error_code(d.error_code.wire())
                .with_transactional_id(TransactionalId(super::groups::text(&d.transactional_id)))
                .with_transaction_state(super::groups::text(&d.state))
                .with_transaction_timeout_ms(d.timeout_ms)
                .with_transaction_start_time_ms(d.start_ms)
                .with_producer_id(kafka_protocol::messages::ProducerId(d.producer_id.0))
                .with_producer_epoch(d.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default()
        .with_throttle_time_ms(0)
        .with_transaction_states(states)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::messages::txn::ListedTxn;
    use crate::messages::txn::TXN_STATE_TOPIC;
    use crate::protocol::versions::supported;

    /// The versions advertised for `key`.
    fn served(key: ApiKey) -> std::ops::RangeInclusive<i16> {
        let row = supported(key as i16).unwrap_or_else(|| panic!("{key:?} is not advertised"));
        row.min..=row.max
    }

    /// Encodes at `version` and decodes back; a field the version lacks fails the encode.
    fn round_trip<R: Encodable + Decodable>(response: &R, version: i16) -> R {
        let mut buf = BytesMut::new();
        (response.encode(&mut buf, version)).unwrap_or_else(|e| panic!("v{version}: {e}"));
        let mut bytes = buf.freeze();
        let decoded = R::decode(&mut bytes, version).unwrap();
        assert!(bytes.is_empty(), "v{version}: trailing bytes");
        decoded
    }

    fn meta(partitions: i32) -> TopicMeta {
        TopicMeta {
            id: [1; 16],
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
            assignment: Vec::new(),
        }
    }

    fn listed(entries: &[(&str, &[i32])]) -> BTreeMap<String, BTreeSet<i32>> {
        (entries.iter())
            .map(|(topic, partitions)| (topic.to_string(), partitions.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn producer_fenced_is_invalid_producer_epoch_for_clients_that_predate_it() {
        let fenced = ErrorCode::PRODUCER_FENCED;
        let old = ErrorCode::INVALID_PRODUCER_EPOCH;
        for (key, first) in [
            (ApiKey::InitProducerId, 4),
            (ApiKey::AddPartitionsToTxn, 2),
            (ApiKey::AddOffsetsToTxn, 2),
            (ApiKey::EndTxn, 2),
        ] {
            for version in 0..first {
                assert_eq!(
                    answered_code(key, version, fenced),
                    old,
                    "{key:?} v{version}"
                );
            }
            for version in first..=5 {
                assert_eq!(
                    answered_code(key, version, fenced),
                    fenced,
                    "{key:?} v{version}"
                );
            }
            // Every other code goes through as it is.
            for code in [ErrorCode::NONE, ErrorCode::CONCURRENT_TRANSACTIONS, old] {
                assert_eq!(answered_code(key, 0, code), code, "{key:?}");
            }
        }
    }

    #[test]
    fn init_producer_id_v3_names_the_producer_it_has() {
        let body = |id: i64, epoch: i16| {
            InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("t"))))
                .with_producer_id(kafka_protocol::messages::ProducerId(id))
                .with_producer_epoch(epoch)
        };
        assert_eq!(expected_producer(&body(-1, -1), 3), Ok(None));
        assert_eq!(
            expected_producer(&body(5, 2), 4),
            Ok(Some((ProducerId(5), 2)))
        );
        // Half a producer is malformed (KafkaApis answers INVALID_REQUEST).
        let invalid = Err(ErrorCode::INVALID_REQUEST);
        assert_eq!(expected_producer(&body(-1, 2), 3), invalid);
        assert_eq!(expected_producer(&body(5, -1), 3), invalid);
        // Below v3 there is no such field, whatever the struct holds.
        assert_eq!(expected_producer(&body(5, 2), 2), Ok(None));
    }

    #[test]
    fn unknown_and_internal_partitions_are_refused_and_the_rest_not_attempted() {
        let topics = BTreeMap::from([("a".to_string(), meta(2)), ("b".to_string(), meta(1))]);
        let known = listed(&[("a", &[0, 1]), ("b", &[0])]);
        assert_eq!(refusals(&known, &topics, |_| true), None);

        let some_unknown = listed(&[("a", &[0, 2]), ("b", &[0]), ("nope", &[0])]);
        let expected: PartitionCodes = BTreeMap::from([
            (
                "a".to_string(),
                BTreeMap::from([
                    (0, ErrorCode::OPERATION_NOT_ATTEMPTED),
                    (2, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                ]),
            ),
            (
                "b".to_string(),
                BTreeMap::from([(0, ErrorCode::OPERATION_NOT_ATTEMPTED)]),
            ),
            (
                "nope".to_string(),
                BTreeMap::from([(0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)]),
            ),
        ]);
        assert_eq!(refusals(&some_unknown, &topics, |_| true), Some(expected));

        // The coordinators' topics are never the client's to add, existing or not.
        let mut with_internal = topics.clone();
        with_internal.insert(OFFSETS_TOPIC.to_string(), meta(50));
        let internal = listed(&[("a", &[0]), (OFFSETS_TOPIC, &[0]), (TXN_STATE_TOPIC, &[0])]);
        let refused = refusals(&internal, &with_internal, |_| true).expect("refused");
        assert_eq!(refused["a"][&0], ErrorCode::OPERATION_NOT_ATTEMPTED);
        assert_eq!(
            refused[OFFSETS_TOPIC][&0],
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        );
        assert_eq!(
            refused[TXN_STATE_TOPIC][&0],
            ErrorCode::TOPIC_AUTHORIZATION_FAILED
        );

        // A topic the principal may not write is refused, existing or not, before its
        // partitions are looked up.
        let asked = listed(&[("a", &[0, 7]), ("b", &[0]), ("nope", &[0])]);
        let refused = refusals(&asked, &topics, |t| t == "b").expect("refused");
        assert_eq!(refused["a"][&0], ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        assert_eq!(refused["a"][&7], ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        assert_eq!(refused["b"][&0], ErrorCode::OPERATION_NOT_ATTEMPTED);
        assert_eq!(refused["nope"][&0], ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    }

    #[test]
    fn init_producer_id_answers_encode_at_every_version() {
        for version in served(ApiKey::InitProducerId) {
            let ok = round_trip(&init_response(Ok((ProducerId(9), 3)), version), version);
            let granted = (ErrorCode::NONE.wire(), 9, 3);
            assert_eq!(
                (ok.error_code, ok.producer_id.0, ok.producer_epoch),
                granted
            );
            assert_eq!(ok.throttle_time_ms, 0);
            let fenced = init_response(Err(ErrorCode::PRODUCER_FENCED), version);
            let fenced = round_trip(&fenced, version);
            let code = if version >= 4 {
                ErrorCode::PRODUCER_FENCED
            } else {
                ErrorCode::INVALID_PRODUCER_EPOCH
            };
            assert_eq!(fenced.error_code, code.wire(), "v{version}");
            assert_eq!((fenced.producer_id.0, fenced.producer_epoch), (-1, -1));
        }
    }

    #[test]
    fn add_partitions_answers_encode_at_every_version() {
        let partitions = listed(&[("a", &[0, 1]), ("b", &[3])]);
        let codes = all_partitions(&partitions, ErrorCode::CONCURRENT_TRANSACTIONS);
        for version in served(ApiKey::AddPartitionsToTxn) {
            let back = round_trip(&add_partitions_response(&codes), version);
            let rows: Vec<(String, i32, i16)> = (back.results_by_topic_v3_and_below.iter())
                .flat_map(|t| {
                    let name = t.name.0.to_string();
                    (t.results_by_partition.iter())
                        .map(move |p| (name.clone(), p.partition_index, p.partition_error_code))
                })
                .collect();
            let code = ErrorCode::CONCURRENT_TRANSACTIONS.wire();
            let row = |topic: &str, partition: i32| (topic.to_string(), partition, code);
            let expected = vec![row("a", 0), row("a", 1), row("b", 3)];
            assert_eq!(rows, expected, "v{version}");
            assert!(back.results_by_transaction.is_empty());
        }
        // v4+ is not served, so it is never built.
        assert_eq!(*served(ApiKey::AddPartitionsToTxn).end(), 3);
    }

    #[test]
    fn list_transactions_answers_encode_at_every_version() {
        let result = ListTxnResult {
            error_code: ErrorCode::NONE,
            unknown_states: vec!["Nope".to_string()],
            transactions: vec![
                ListedTxn {
                    transactional_id: "a".to_string(),
                    producer_id: ProducerId(7),
                    state: "Ongoing".to_string(),
                },
                ListedTxn {
                    transactional_id: "b".to_string(),
                    producer_id: ProducerId(8),
                    state: "Empty".to_string(),
                },
            ],
        };
        let served = served(ApiKey::ListTransactions);
        assert_eq!(served, 0..=1);
        for version in served {
            let back = round_trip(&listed_response(&result), version);
            assert_eq!(back.error_code, 0);
            assert_eq!(back.throttle_time_ms, 0);
            let unknown: Vec<String> = back
                .unknown_state_filters
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(unknown, ["Nope"]);
            let rows: Vec<(String, i64, String)> = (back.transaction_states.iter())
                .map(|t| {
                    let id = t.transactional_id.0.to_string();
                    (id, t.producer_id.0, t.transaction_state.to_string())
                })
                .collect();
            let row = |id: &str, pid: i64, state: &str| (id.to_string(), pid, state.to_string());
            assert_eq!(
                rows,
                [row("a", 7, "Ongoing"), row("b", 8, "Empty")],
                "v{version}"
            );
        }
        let loading = ListTxnResult {
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            unknown_states: Vec::new(),
            transactions: Vec::new(),
        };
        let back = round_trip(&listed_response(&loading), 1);
        assert_eq!(
            back.error_code,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.wire()
        );
        assert!(back.transaction_states.is_empty());
    }

    #[test]
    fn describe_transactions_answers_encode_at_every_version() {
        let ongoing = TxnDescription {
            transactional_id: "t".to_string(),
            error_code: ErrorCode::NONE,
            state: "Ongoing".to_string(),
            producer_id: ProducerId(1000),
            producer_epoch: 3,
            timeout_ms: 60_000,
            start_ms: 1_700_000_000_000,
            partitions: listed(&[("a", &[0, 2]), ("b", &[1])]),
        };
        let unknown = TxnDescription::refused("u", ErrorCode::TRANSACTIONAL_ID_NOT_FOUND);
        let served = served(ApiKey::DescribeTransactions);
        assert_eq!(served, 0..=0);
        for version in served {
            let described = [ongoing.clone(), unknown.clone()];
            let back = round_trip(&described_response(&described), version);
            assert_eq!(back.transaction_states.len(), 2);
            let t = &back.transaction_states[0];
            assert_eq!(t.error_code, 0);
            assert_eq!(t.transactional_id.0.as_str(), "t");
            assert_eq!(t.transaction_state.as_str(), "Ongoing");
            assert_eq!((t.producer_id.0, t.producer_epoch), (1000, 3));
            assert_eq!(t.transaction_timeout_ms, 60_000);
            assert_eq!(t.transaction_start_time_ms, 1_700_000_000_000);
            let topics: Vec<(String, Vec<i32>)> = (t.topics.iter())
                .map(|d| (d.topic.0.to_string(), d.partitions.clone()))
                .collect();
            let expected = vec![("a".to_string(), vec![0, 2]), ("b".to_string(), vec![1])];
            assert_eq!(topics, expected);
            let u = &back.transaction_states[1];
            assert_eq!(u.error_code, 105);
            assert_eq!(u.transactional_id.0.as_str(), "u");
            assert!(u.topics.is_empty());
        }
    }

    #[test]
    fn add_offsets_and_end_txn_answers_encode_at_every_version() {
        let code = ErrorCode::INVALID_TXN_STATE;
        for version in served(ApiKey::AddOffsetsToTxn) {
            let back = round_trip(&add_offsets_response(code), version);
            assert_eq!((back.error_code, back.throttle_time_ms), (code.wire(), 0));
        }
        for version in served(ApiKey::EndTxn) {
            let back = round_trip(&end_txn_response(code), version);
            assert_eq!((back.error_code, back.throttle_time_ms), (code.wire(), 0));
        }
    }
}
