//! Transactions as an admin sees them (KIP-664, Kafka's `Admin.listTransactions` and
//! `describeTransactions`): ListTransactions of every broker (each lists the transactional ids
//! of the `__transaction_state` partitions it leads), and FindCoordinator (key type 1) then
//! DescribeTransactions on the id's coordinator.
#![allow(clippy::disallowed_methods)] // host-side client: sleeps between retries

use super::group::str_bytes;
use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, ListTransactionsRequest, ListTransactionsResponse, TransactionalId,
};

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::limits::RETRY_BACKOFF_MS;
use crate::types::ErrorCode;

/// The pause before asking again after CONCURRENT_TRANSACTIONS (the Java producer's 20 ms
/// for AddPartitionsToTxn, shorter: a transaction's markers take milliseconds).
const CONCURRENT_BACKOFF_MS: u64 = 10;

/// FindCoordinator's key type of a transactional id.
const KEY_TYPE_TRANSACTION: i8 = 1;

/// ListTransactions' filters (empty lists filter nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    /// Kafka's state names (Ongoing, PrepareCommit, ...).
    pub states: Vec<String>,
    pub producer_ids: Vec<i64>,
    /// Only transactions running longer than this many milliseconds (ListTransactions v1,
    /// KIP-994).
    pub duration_ms: Option<i64>,
}

/// One transaction of ListTransactions, with the broker that listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTransaction {
    pub transactional_id: String,
    /// The node id of its coordinator (the broker that listed it).
    pub coordinator: i32,
    pub producer_id: i64,
    pub state: String,
}

/// A transactional id as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    pub coordinator: i32,
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: String,
    pub timeout_ms: i32,
    /// When the open transaction started; `None` when none is open (the broker's -1).
    pub start_ms: Option<i64>,
    /// `(topic, partition)`, sorted.
    pub partitions: Vec<(String, i32)>,
}

/// Runs `attempt` again after [`RETRY_BACKOFF_MS`] while it fails with a retriable error
/// (a coordinator loading or moving, the state topic being created), or after
/// [`CONCURRENT_BACKOFF_MS`] while the coordinator is still writing the id's previous step
/// (CONCURRENT_TRANSACTIONS: the markers of the transaction just ended; every client retries
/// it, though Kafka's error table does not call it retriable), for at most the client's
/// request timeout.
pub(super) async fn retrying<T, F, Fut>(client: &Client, mut attempt: F) -> ClientResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ClientResult<T>>,
{
    let timeout = Duration::from_millis(client.config().request_timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let outcome = attempt().await;
        let pause_ms = match &outcome {
            Err(e) if e.code() == Some(ErrorCode::CONCURRENT_TRANSACTIONS) => CONCURRENT_BACKOFF_MS,
            Err(e) if e.is_retriable() => RETRY_BACKOFF_MS,
            _ => return outcome,
        };
        if tokio::time::Instant::now() >= deadline {
            return outcome;
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
    }
}

/// Every transaction of every broker of the cluster that `filter` keeps, by coordinator, then
/// by transactional id.
pub async fn list_transactions(
    client: &Client,
    filter: &TransactionFilter,
) -> ClientResult<Vec<ListedTransaction>> {
    let metadata = client.metadata(Some(&[]), false).await?;
    let mut listed = Vec::new();
    for &node_id in metadata.brokers.keys() {
        let mut from_broker =
            retrying(client, || list_transactions_of(client, node_id, filter)).await?;
        from_broker.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        listed.extend(from_broker);
    }
    Ok(listed)
}

/// ListTransactions of broker `node_id`.
async fn list_transactions_of(
    client: &Client,
    node_id: i32,
    filter: &TransactionFilter,
) -> ClientResult<Vec<ListedTransaction>> {
    let connection = client.broker(node_id).await?;
    let version = connection.version(ApiKey::ListTransactions)?;
    let mut request = ListTransactionsRequest::default()
        .with_state_filters(filter.states.iter().map(|s| str_bytes(s)).collect())
        .with_producer_id_filters(
            (filter.producer_ids.iter())
                .map(|&p| kafka_protocol::messages::ProducerId(p))
                .collect(),
        );
    if let Some(duration_ms) = filter.duration_ms {
        if version < 1 {
            return Err(ClientError::Invalid(format!(
                "broker {node_id} ({}) has no duration filter (ListTransactions v1)",
                connection.addr()
            )));
        }
        request = request.with_duration_filter(duration_ms);
    }
    let response: ListTransactionsResponse = connection
        .call(ApiKey::ListTransactions, version, &request)
        .await?;
    let context = format!("listing the transactions of broker {node_id}");
    if let Some(e) =
        ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
    {
        return Err(e);
    }
    Ok((response.transaction_states.into_iter())
        .map(|t| ListedTransaction {
            transactional_id: t.transactional_id.0.to_string(),
            coordinator: node_id,
            producer_id: t.producer_id.0,
            state: t.transaction_state.to_string(),
        })
        .collect())
}

/// `transactional_id` as its coordinator describes it (found again while it moves or loads).
/// An id the coordinator does not know is TRANSACTIONAL_ID_NOT_FOUND.
pub async fn describe_transaction(
    client: &Client,
    transactional_id: &str,
) -> ClientResult<TransactionDescription> {
    if transactional_id.is_empty() {
        return Err(ClientError::Invalid(
            "the transactional id must not be empty".into(),
        ));
    }
    // The broker list the coordinator's node id is resolved against.
    client.metadata(Some(&[]), false).await?;
    retrying(client, || describe_at_coordinator(client, transactional_id)).await
}

async fn describe_at_coordinator(
    client: &Client,
    transactional_id: &str,
) -> ClientResult<TransactionDescription> {
    let coordinator = find_transaction_coordinator(client, transactional_id).await?;
    let connection = client.broker(coordinator).await?;
    let version = connection.version(ApiKey::DescribeTransactions)?;
    let request = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(str_bytes(transactional_id))]);
    let response: DescribeTransactionsResponse = connection
        .call(ApiKey::DescribeTransactions, version, &request)
        .await?;
    let state = (response.transaction_states.into_iter())
        .find(|t| t.transactional_id.0.as_str() == transactional_id)
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "the DescribeTransactions answer has no entry for '{transactional_id}'"
            ))
        })?;
    if let Some(e) = ClientError::from_code(ErrorCode::from_wire(state.error_code), None) {
        return Err(e);
    }
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for topic in state.topics {
        let partitions = by_topic.entry(topic.topic.0.to_string()).or_default();
        partitions.extend(topic.partitions);
    }
    let mut partitions: Vec<(String, i32)> = (by_topic.into_iter())
        .flat_map(|(topic, ids)| ids.into_iter().map(move |p| (topic.clone(), p)))
        .collect();
    partitions.sort();
    partitions.dedup();
    // Kafka's admin client: a negative start time is no open transaction.
    let start_ms = Some(state.transaction_start_time_ms).filter(|&ms| ms >= 0);
    Ok(TransactionDescription {
        coordinator,
        transactional_id: transactional_id.to_string(),
        producer_id: state.producer_id.0,
        producer_epoch: state.producer_epoch,
        state: state.transaction_state.to_string(),
        timeout_ms: state.transaction_timeout_ms,
        start_ms,
        partitions,
    })
}

/// The node id of `transactional_id`'s coordinator (FindCoordinator, key type 1).
pub(super) async fn find_transaction_coordinator(
    client: &Client,
    transactional_id: &str,
) -> ClientResult<i32> {
    let connection = client.live_bootstrap().await?;
    let version = connection.version(ApiKey::FindCoordinator)?;
    if version < 1 {
        return Err(ClientError::Invalid(format!(
            "the broker at {} cannot find transaction coordinators (FindCoordinator v0)",
            connection.addr()
        )));
    }
    let request = FindCoordinatorRequest::default()
        .with_key(str_bytes(transactional_id))
        .with_key_type(KEY_TYPE_TRANSACTION);
    let response: FindCoordinatorResponse = connection
        .call(ApiKey::FindCoordinator, version, &request)
        .await?;
    let message = response.error_message.as_ref().map(|m| m.to_string());
    let context = message.unwrap_or_else(|| {
        format!("finding the coordinator of transactional id '{transactional_id}'")
    });
    if let Some(e) =
        ClientError::from_code(ErrorCode::from_wire(response.error_code), Some(&context))
    {
        return Err(e);
    }
    Ok(response.node_id.0)
}
