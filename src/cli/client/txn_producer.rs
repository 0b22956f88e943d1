//! A transactional producer's session with its coordinator (the Java client's
//! `TransactionManager`, reduced to what `rill perf produce --transactional-id` needs):
//! FindCoordinator (key type 1) and InitProducerId give the producer id and epoch, each
//! partition joins the open transaction by AddPartitionsToTxn before its first batch, every
//! batch carries the next sequence of its partition, and EndTxn commits or aborts.
//!
//! Retriable answers (a coordinator loading or moving, CONCURRENT_TRANSACTIONS while the
//! previous transaction's markers are written) are asked again after a pause, finding the
//! coordinator again, for at most the client's request timeout. Any other error is the
//! caller's: a fenced producer (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) cannot go on.
#![allow(clippy::disallowed_methods)] // host-side client: sleeps between retries

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProducerId, TopicName, TransactionalId,
};

use super::cluster::Client;
use super::error::{ClientError, ClientResult};
use super::group::str_bytes;
use super::records::BatchProducer;
use super::transactions::{find_transaction_coordinator, retrying};
use crate::types::ErrorCode;

/// One transactional producer's identity and its open transaction.
#[derive(Debug)]
pub struct TxnSession {
    transactional_id: String,
    timeout_ms: i32,
    producer_id: i64,
    epoch: i16,
    /// The next sequence per (topic, partition).
    sequences: BTreeMap<(String, i32), i32>,
    /// Partitions of the open transaction.
    added: BTreeSet<(String, i32)>,
}

impl TxnSession {
    /// The producer id and epoch of `transactional_id` (`initTransactions()`): a previous
    /// producer of the id is fenced and its open transaction aborted by the coordinator.
    pub async fn init(
        client: &Client,
        transactional_id: &str,
        timeout_ms: i32,
    ) -> ClientResult<Self> {
        if transactional_id.is_empty() {
            return Err(ClientError::Invalid(
                "the transactional id must not be empty".into(),
            ));
        }
        // The broker list the coordinator's node id is resolved against.
        client.metadata(Some(&[]), false).await?;
        let (producer_id, epoch) = retrying(client, || async {
            let coordinator = find_transaction_coordinator(client, transactional_id).await?;
            let connection = client.broker(coordinator).await?;
            let version = connection.version(ApiKey::InitProducerId)?;
            let request = InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(str_bytes(transactional_id))))
                .with_transaction_timeout_ms(timeout_ms)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            let response: InitProducerIdResponse = connection
                .call(ApiKey::InitProducerId, version, &request)
                .await?;
            answered(response.error_code, "InitProducerId")?;
            Ok((response.producer_id.0, response.producer_epoch))
        })
        .await?;
        Ok(Self {
            transactional_id: transactional_id.to_owned(),
            timeout_ms,
            producer_id,
            epoch,
            sequences: BTreeMap::new(),
            added: BTreeSet::new(),
        })
    }

    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    pub fn epoch(&self) -> i16 {
        self.epoch
    }

    /// `transaction.timeout.ms` as given to the coordinator.
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    /// Whether `topic`'s `partition` is in the open transaction already.
    pub fn has_partition(&self, topic: &str, partition: i32) -> bool {
        self.added.contains(&(topic.to_owned(), partition))
    }

    /// Adds `topic`'s `partition` to the open transaction (opening one), unless it is in it.
    pub async fn add_partition(
        &mut self,
        client: &Client,
        topic: &str,
        partition: i32,
    ) -> ClientResult<()> {
        if self.has_partition(topic, partition) {
            return Ok(());
        }
        let (id, producer_id, epoch) = (&self.transactional_id, self.producer_id, self.epoch);
        retrying(client, || async {
            let coordinator = find_transaction_coordinator(client, id).await?;
            let connection = client.broker(coordinator).await?;
            let version = connection.version(ApiKey::AddPartitionsToTxn)?;
            let request = AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(TransactionalId(str_bytes(id)))
                .with_v3_and_below_producer_id(ProducerId(producer_id))
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(str_bytes(topic)))
                    .with_partitions(vec![partition])]);
            let response: AddPartitionsToTxnResponse = connection
                .call(ApiKey::AddPartitionsToTxn, version, &request)
                .await?;
            let codes = (response.results_by_topic_v3_and_below.iter())
                .flat_map(|t| t.results_by_partition.iter())
                .map(|p| p.partition_error_code);
            for code in codes {
                answered(code, "AddPartitionsToTxn")?;
            }
            Ok(())
        })
        .await?;
        self.added.insert((topic.to_owned(), partition));
        Ok(())
    }

    /// The identity of the next batch of `record_count` records to `topic`'s `partition`
    /// (which must be in the transaction): its sequence moves past them (wrapping at
    /// `i32::MAX`, as Kafka's sequences do).
    pub fn next_batch(&mut self, topic: &str, partition: i32, record_count: i32) -> BatchProducer {
        let next = self
            .sequences
            .entry((topic.to_owned(), partition))
            .or_default();
        let base_sequence = *next;
        *next = next
            .checked_add(record_count)
            .unwrap_or_else(|| record_count - (i32::MAX - *next) - 1);
        BatchProducer {
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            base_sequence,
            transactional: true,
        }
    }

    /// Commits (`commit`) or aborts the open transaction: every batch of it must have been
    /// acknowledged. With no partition added there is nothing to end (as the Java client).
    pub async fn end(&mut self, client: &Client, commit: bool) -> ClientResult<()> {
        if self.added.is_empty() {
            return Ok(());
        }
        let (id, producer_id, epoch) = (&self.transactional_id, self.producer_id, self.epoch);
        retrying(client, || async {
            let coordinator = find_transaction_coordinator(client, id).await?;
            let connection = client.broker(coordinator).await?;
            let version = connection.version(ApiKey::EndTxn)?;
            let request = EndTxnRequest::default()
                .with_transactional_id(TransactionalId(str_bytes(id)))
                .with_producer_id(ProducerId(producer_id))
                .with_producer_epoch(epoch)
                .with_committed(commit);
            let response: EndTxnResponse =
                connection.call(ApiKey::EndTxn, version, &request).await?;
            answered(response.error_code, "EndTxn")
        })
        .await?;
        self.added.clear();
        Ok(())
    }
}

/// `code` as the client's error; NOT_COORDINATOR and CONCURRENT_TRANSACTIONS are retriable in
/// Kafka's error table, so [`retrying`] asks again (and finds the coordinator again).
fn answered(code: i16, request: &str) -> ClientResult<()> {
    let context = format!("{request} refused");
    match ClientError::from_code(ErrorCode::from_wire(code), Some(&context)) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> TxnSession {
        TxnSession {
            transactional_id: "t".into(),
            timeout_ms: 60_000,
            producer_id: 7,
            epoch: 2,
            sequences: BTreeMap::new(),
            added: BTreeSet::new(),
        }
    }

    #[test]
    fn sequences_run_per_partition_and_wrap_at_the_top() {
        let mut s = session();
        assert_eq!(s.next_batch("a", 0, 3).base_sequence, 0);
        assert_eq!(s.next_batch("a", 0, 2).base_sequence, 3);
        assert_eq!(s.next_batch("a", 1, 1).base_sequence, 0);
        assert_eq!(s.next_batch("b", 0, 1).base_sequence, 0);
        let batch = s.next_batch("a", 0, 1);
        assert_eq!(
            (batch.producer_id, batch.producer_epoch, batch.base_sequence),
            (7, 2, 5)
        );
        assert!(batch.transactional);
        s.sequences.insert(("a".into(), 0), i32::MAX - 1);
        assert_eq!(s.next_batch("a", 0, 4).base_sequence, i32::MAX - 1);
        assert_eq!(
            s.next_batch("a", 0, 1).base_sequence,
            2,
            "MAX-1, MAX, 0, 1 were taken"
        );
    }
}
