//! Produce v3–9: hands the record batches to the PARTITIONS actor in request order and answers
//! when it does (after the append for acks=1, after the covering fsync for acks=all under the
//! durable flush policy). acks=0 gets no answer at all; if any partition fails, the connection
//! is closed instead, as Kafka does, so the producer notices (it would otherwise never learn).
//!
//! A partition listed more than once is produced once, with its last batch (Kafka's produce
//! map; see [`super::per_partition`]).

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::authorize::{TOPIC_NOT_AUTHORIZED, TXN_ID_NOT_AUTHORIZED};
use super::quota::QuotaKind;
use super::{codec, per_partition, BrokerService, GatewayError};

use super::service::{KafkaRequest, Pending};
use crate::actor::client::ActorClient;
use crate::messages::call::submit;
use crate::messages::RecordsChecked;
use crate::messages::{self, NodeMsg, OFFSETS_TOPIC};
use crate::security::acl::{AclOperation, ResourceType};
use crate::storage::records::{self, WalkBudget};
use crate::types::{ErrorCode, Offset, TopicPartition};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn produce(&self, request: &KafkaRequest, body: ProduceRequest) -> Pending {
        let version = request.prefix.api_version;
        // `producer_byte_rate`: the whole request counts, acks=0 too (Kafka's
        // `request.sizeInBytes`); the connection is muted at once, the answer says how long.
        let throttle_ms = (self.throttle(request, QuotaKind::Produce))
            .map_or(0, |quota| quota.record(request.frame.len() as u64));
        let acks = body.acks;
        let timeout_ms = body.timeout_ms;
        let transactional_id = (body.transactional_id.as_ref()).map(|id| id.0.to_string());
        let listed = body.topic_data.iter().flat_map(|topic| {
            topic
                .partition_data
                .iter()
                .map(|p| (topic.name.0.as_str(), p.index, p.records.clone()))
        });
        let partitions: Vec<(TopicPartition, Option<Bytes>)> = match per_partition::merge(listed) {
            Ok(merged) => merged,
            Err(e) => return Pending::Close(format!("Produce: {e}")),
        };
        drop(body);
        if !matches!(acks, -1..=1) {
            // Kafka answers every partition with INVALID_REQUIRED_ACKS.
            let message = format!("acks={acks} is not -1, 0 or 1");
            let results = partitions
                .into_iter()
                .map(|(tp, _)| (tp, refused(ErrorCode::INVALID_REQUIRED_ACKS, &message)))
                .collect();
            return codec::respond(
                request,
                ApiKey::Produce,
                &produce_response(results, version, throttle_ms),
            );
        }
        // Kafka's checks: WRITE on the transactional id, if any (else every partition is
        // refused), and WRITE on each topic (a topic refused whether or not it exists).
        let access = self.access(request, "Produce");
        let id_refused = (transactional_id.as_deref()).is_some_and(|id| {
            !access.allows(AclOperation::Write, ResourceType::TransactionalId, id)
        });
        let (partitions, unauthorized): (Vec<_>, Vec<_>) =
            partitions.into_iter().partition(|(tp, _)| {
                !id_refused && access.allows(AclOperation::Write, ResourceType::Topic, &tp.topic)
            });
        let unauthorized = unauthorized.into_iter().map(|(tp, _)| match id_refused {
            true => (
                tp,
                refused(
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                    TXN_ID_NOT_AUTHORIZED,
                ),
            ),
            false => (
                tp,
                refused(ErrorCode::TOPIC_AUTHORIZATION_FAILED, TOPIC_NOT_AUTHORIZED),
            ),
        });
        // Only the group coordinator writes the internal topic (Kafka's "Cannot append to
        // internal topic"); the other partitions of the request are produced as usual.
        let (partitions, internal): (Vec<_>, Vec<_>) = partitions
            .into_iter()
            .partition(|(tp, _)| tp.topic != OFFSETS_TOPIC);
        let internal: Vec<_> = internal
            .into_iter()
            .map(|(tp, _)| {
                let message = format!("cannot append to internal topic {}", tp.topic);
                (tp, refused(ErrorCode::INVALID_TOPIC_EXCEPTION, &message))
            })
            .chain(unauthorized)
            .collect();
        if partitions.is_empty() && !internal.is_empty() {
            if acks == 0 {
                let (tp, result) = &internal[0];
                return Pending::Close(format!(
                    "acks=0 produce to {}-{} refused with error {}",
                    tp.topic, tp.partition, result.error_code
                ));
            }
            return codec::respond(
                request,
                ApiKey::Produce,
                &produce_response(internal, version, throttle_ms),
            );
        }
        let (partitions, checked) = match self.walk(partitions).await {
            Ok(walked) => walked,
            Err(e) => return Pending::Close(e.to_string()),
        };
        // What each partition brings, counted once its append is acknowledged (Kafka's
        // BytesIn/MessagesIn count appends, not attempts).
        let sizes: BTreeMap<TopicPartition, (u64, u64)> = (partitions.iter())
            .map(|(tp, records)| (tp.clone(), (records.len() as u64, records_in(records))))
            .collect();
        let ask = messages::ProduceRequest {
            acks,
            timeout_ms,
            partitions,
            checked,
            transactional_id,
        };
        // Submitted before this returns, so the partitions actor takes this connection's
        // produce requests in the order they came; only the reply is awaited later.
        let reply = match submit(&self.node, ask).await {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(e.to_string()),
        };
        let prefix = request.prefix;
        Pending::Later(Box::pin(async move {
            let mut results = reply.await.map_err(|e| e.to_string())?;
            for (tp, result) in &results {
                match (sizes.get(tp), result.error_code) {
                    (Some(&(bytes, records)), ErrorCode::NONE) => {
                        crate::metrics::produced(&tp.topic, bytes, records)
                    }
                    _ => crate::metrics::count(crate::metrics::FAILED_PRODUCE, 1),
                }
            }
            results.extend(internal);
            if acks == 0 {
                // No answer is owed. An error closes the connection: the producer then
                // refreshes its metadata and learns what went wrong (Kafka's behaviour).
                return match results
                    .iter()
                    .find(|(_, r)| r.error_code != ErrorCode::NONE)
                {
                    None => Ok(None),
                    Some((tp, r)) => Err(format!(
                        "acks=0 produce to {}-{} failed with error {}",
                        tp.topic, tp.partition, r.error_code
                    )),
                };
            }
            let response = produce_response(results, version, throttle_ms);
            codec::encode(prefix, ApiKey::Produce, &response).map(|bytes| Some(bytes.into()))
        }))
    }
}

/// The records in a partition's batches (their offset counts); the walk already checked them.
fn records_in(mut batches: &[u8]) -> u64 {
    let mut records = 0;
    while let Ok(header) = crate::storage::batch::BatchHeader::parse(batches) {
        records += header.offset_count().max(0) as u64;
        let Some(rest) = batches.get(header.total_bytes()..) else {
            break;
        };
        batches = rest;
    }
    records
}

/// A partition refused before it reaches the partitions actor.
fn refused(error_code: ErrorCode, message: &str) -> messages::ProducePartitionResult {
    messages::ProducePartitionResult {
        error_code,
        error_message: Some(message.to_string()),
        record_errors: Vec::new(),
        base_offset: Offset::UNKNOWN,
        log_append_time_ms: -1,
        log_start_offset: Offset::UNKNOWN,
    }
}

/// One partition's records as the append takes them, and the broker's walk of them.
type Walked = (Vec<(TopicPartition, Vec<u8>)>, Vec<Option<RecordsChecked>>);

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// Walks every record of the request here, not on the partitions actor: decompression costs
    /// this client's time only. First on this runtime worker within [`WalkBudget::inline`]
    /// (ordinary requests end there); a request that needs more is walked again, whole, on a
    /// blocking thread behind the `record_walks` gate
    /// ([`crate::limits::RECORD_WALKS_AT_ONCE`]), under the request's whole budget. Issue 9:
    /// header bombs walked on the runtime took both workers of a two-core machine for seconds
    /// and every bystander waited.
    async fn walk(
        &self,
        partitions: Vec<(TopicPartition, Option<Bytes>)>,
    ) -> Result<Walked, GatewayError> {
        let mut partitions: Vec<(TopicPartition, Vec<u8>)> = partitions
            .into_iter()
            .map(|(tp, records)| (tp, records.map(|b| b.to_vec()).unwrap_or_default()))
            .collect();
        let mut inline = WalkBudget::inline();
        let checked = walk_all(&mut partitions, &mut inline);
        if !inline.ran_out {
            return Ok((partitions, checked));
        }
        let _turn = self
            .record_walks
            .acquire()
            .await
            .expect("the gate is never closed");
        tokio::task::spawn_blocking(move || {
            let checked = walk_all(&mut partitions, &mut WalkBudget::request());
            (partitions, checked)
        })
        .await
        .map_err(|e| GatewayError::Close(format!("Produce: the record walk failed: {e}")))
    }
}

/// Walks every partition's records in order; `budget` covers them all.
fn walk_all(
    partitions: &mut [(TopicPartition, Vec<u8>)],
    budget: &mut WalkBudget,
) -> Vec<Option<RecordsChecked>> {
    partitions
        .iter_mut()
        .map(|(_, records)| records::check_produced(records, budget))
        .collect()
}

fn produce_response(
    results: Vec<(TopicPartition, messages::ProducePartitionResult)>,
    version: i16,
    throttle_time_ms: i32,
) -> ProduceResponse {
    let partitions = results.into_iter().map(|(tp, result)| {
        let mut partition = PartitionProduceResponse::default()
            .with_index(tp.partition)
            .with_error_code(result.error_code.wire())
            .with_base_offset(result.base_offset.into())
            .with_log_append_time_ms(result.log_append_time_ms);
        if version >= 5 {
            partition = partition.with_log_start_offset(result.log_start_offset.into());
        }
        if version >= 8 {
            let record_errors = result
                .record_errors
                .into_iter()
                .map(|e| {
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(e.batch_index)
                        .with_batch_index_error_message(e.message.map(StrBytes::from_string))
                })
                .collect();
            partition = partition
                .with_record_errors(record_errors)
                .with_error_message(result.error_message.map(StrBytes::from_string));
        }
        (tp, partition)
    });
    let topics = per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_string(name)))
                .with_partition_responses(partitions)
        })
        .collect();
    ProduceResponse::default()
        .with_responses(topics)
        .with_throttle_time_ms(throttle_time_ms)
}
