//! Fetch v4–12 (topics by name; no fetch sessions: session id 0 means every request is full,
//! which KIP-227 allows) and ListOffsets v1–7.

use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::quota::QuotaKind;
use super::service::{KafkaRequest, Pending};
use super::{fetch_encode, per_partition, BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::{ask, submit};
use crate::messages::{self, NodeMsg};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::{ErrorCode, LeaderEpoch, Offset};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn fetch(&self, request: &KafkaRequest, body: FetchRequest) -> Pending {
        let listed = body.topics.iter().flat_map(|topic| {
            topic.partitions.iter().map(|p| {
                let asked = (
                    p.fetch_offset,
                    p.partition_max_bytes,
                    p.current_leader_epoch,
                );
                (topic.topic.0.as_str(), p.partition, asked)
            })
        });
        let merged = match per_partition::merge(listed) {
            Ok(merged) => merged,
            Err(e) => return Pending::Close(format!("Fetch: {e}")),
        };
        // Kafka's check: READ on each topic (refused whether or not it exists).
        let access = self.access(request, "Fetch");
        let (merged, unauthorized): (Vec<_>, Vec<_>) = (merged.into_iter())
            .partition(|(tp, _)| access.allows(AclOperation::Read, ResourceType::Topic, &tp.topic));
        let unauthorized: Vec<_> = (unauthorized.into_iter())
            .map(|(tp, _)| {
                messages::FetchPartitionResult::refused(tp, ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        let prefix = request.prefix;
        // `consumer_byte_rate`: a consumer in debt gets no records (Kafka's throttled fetch:
        // no partitions, error NONE) and waits muted; otherwise it gets at most what its quota
        // allows now (plus the one batch a fetch always returns).
        let quota = self.throttle(request, QuotaKind::Fetch);
        if let Some(wait_ms) = quota.as_ref().map(|q| q.wait()).filter(|&ms| ms > 0) {
            let response = FetchResponse::default().with_throttle_time_ms(wait_ms);
            return match fetch_encode::encode(prefix, response, fetch_encode::SPLICE_MIN_BYTES) {
                Ok(answer) => Pending::Ready(Some(answer)),
                Err(e) => Pending::Close(e),
            };
        }
        let mut max_bytes = capped_max_bytes(body.max_bytes, self.settings.fetch_max_bytes);
        if let Some(quota) = &quota {
            max_bytes = max_bytes.min(i32::try_from(quota.budget()).unwrap_or(i32::MAX));
        }
        if merged.is_empty() && !unauthorized.is_empty() {
            // Nothing to wait for: answered at once, as Kafka does.
            let response = fetch_response(unauthorized, prefix.api_version);
            return match fetch_encode::encode(prefix, response, fetch_encode::SPLICE_MIN_BYTES) {
                Ok(answer) => Pending::Ready(Some(answer)),
                Err(e) => Pending::Close(e),
            };
        }
        let partitions = merged
            .into_iter()
            .map(
                |(tp, (fetch_offset, partition_max_bytes, epoch))| messages::FetchPartition {
                    tp,
                    fetch_offset: Offset(fetch_offset),
                    partition_max_bytes,
                    current_leader_epoch: LeaderEpoch(epoch),
                },
            )
            .collect();
        let ask = messages::FetchRequest {
            max_wait_ms: body.max_wait_ms,
            min_bytes: body.min_bytes.min(max_bytes),
            max_bytes,
            isolation_level: body.isolation_level,
            partitions,
        };
        let reply = match submit(&self.node, ask).await {
            Ok(reply) => reply,
            Err(e) => return Pending::Close(e.to_string()),
        };
        Pending::Later(Box::pin(async move {
            let mut results = reply.await.map_err(|e| e.to_string())?;
            for result in &results {
                if !result.records.is_empty() {
                    crate::metrics::fetched(&result.tp.topic, result.records.len() as u64);
                }
            }
            results.extend(unauthorized);
            let response = fetch_response(results, prefix.api_version);
            let Some(quota) = quota else {
                return fetch_encode::encode(prefix, response, fetch_encode::SPLICE_MIN_BYTES)
                    .map(Some);
            };
            // The answer's bytes count; one over the quota is encoded again with its throttle
            // (the records are shared, not copied).
            let answer =
                fetch_encode::encode(prefix, response.clone(), fetch_encode::SPLICE_MIN_BYTES)?;
            match quota.record(answer.len() as u64) {
                0 => Ok(Some(answer)),
                throttle_ms => fetch_encode::encode(
                    prefix,
                    response.with_throttle_time_ms(throttle_ms),
                    fetch_encode::SPLICE_MIN_BYTES,
                )
                .map(Some),
            }
        }))
    }

    pub(super) async fn list_offsets(
        &self,
        body: ListOffsetsRequest,
        version: i16,
        request: &KafkaRequest,
    ) -> Result<ListOffsetsResponse, GatewayError> {
        // Kafka answers a partition listed more than once with INVALID_REQUEST without looking
        // it up; here it is answered once, so a million listings cost what one does.
        let listed = body.topics.iter().flat_map(|topic| {
            let name = topic.name.0.as_str();
            (topic.partitions.iter()).map(move |p| {
                let epoch = p.current_leader_epoch;
                (name, p.partition_index, (p.timestamp, epoch, 1u32))
            })
        });
        let merged = per_partition::merge_with(listed, |kept, _| kept.2 = kept.2.saturating_add(1))
            .map_err(|e| format!("ListOffsets: {e}"))?;
        // Kafka's check: DESCRIBE on each topic; a refused partition is not looked up.
        let access = self.access(request, "ListOffsets");
        let allowed: Vec<bool> = (merged.iter())
            .map(|(tp, _)| access.allows(AclOperation::Describe, ResourceType::Topic, &tp.topic))
            .collect();
        let once = || {
            (merged.iter().zip(&allowed))
                .filter(|((_, (_, _, listings)), allowed)| *listings == 1 && **allowed)
                .map(|(listed, _)| listed)
        };
        let list = messages::ListOffsetsRequest {
            isolation_level: body.isolation_level,
            partitions: once()
                .map(|(tp, (timestamp, _, _))| (tp.clone(), *timestamp))
                .collect(),
            // v4+ (0 decoded as -1 before): -1 names none (KIP-320).
            current_leader_epochs: once()
                .filter(|(_, (_, epoch, _))| version >= 4 && *epoch >= 0)
                .map(|(tp, (_, epoch, _))| (tp.clone(), LeaderEpoch(*epoch)))
                .collect(),
        };
        let results = ask(&self.node, list).await?;
        let mut looked_up = results.into_iter();
        let mut partitions = Vec::new();
        for ((tp, (_, _, listings)), allowed) in merged.into_iter().zip(allowed) {
            let result = if !allowed {
                messages::ListOffsetsResult::not_found(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            } else if listings == 1 {
                match looked_up.next() {
                    Some((_, result)) => result,
                    None => return Err(GatewayError::Close("list offsets reply is short".into())),
                }
            } else {
                messages::ListOffsetsResult::not_found(ErrorCode::INVALID_REQUEST)
            };
            let code = list_offsets_code(result.error_code, version);
            let mut partition = ListOffsetsPartitionResponse::default()
                .with_partition_index(tp.partition)
                .with_error_code(code.wire())
                .with_timestamp(result.timestamp)
                .with_offset(result.offset.into());
            if version >= 4 && result.error_code == ErrorCode::NONE {
                partition = partition.with_leader_epoch(result.leader_epoch.into());
            }
            partitions.push((tp, partition));
        }
        let topics = per_partition::group_by_topic(partitions)
            .into_iter()
            .map(|(name, partitions)| {
                ListOffsetsTopicResponse::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
            .collect();
        Ok(ListOffsetsResponse::default().with_topics(topics))
    }
}

/// A ListOffsets answer's code for `version`: OFFSET_NOT_AVAILABLE came with v5 (Kafka's
/// `ReplicaManager.fetchOffset` answers older versions LEADER_NOT_AVAILABLE, which they know
/// to retry).
fn list_offsets_code(code: ErrorCode, version: i16) -> ErrorCode {
    match code {
        ErrorCode::OFFSET_NOT_AVAILABLE if version < 5 => ErrorCode::LEADER_NOT_AVAILABLE,
        code => code,
    }
}

/// The request's `max_bytes` bounded by the broker's `fetch.max.bytes` (Kafka caps it the
/// same way; the first batch may still exceed it so a consumer always progresses).
fn capped_max_bytes(requested: i32, fetch_max_bytes: usize) -> i32 {
    (requested.max(0) as usize).min(fetch_max_bytes) as i32
}

fn fetch_response(results: Vec<messages::FetchPartitionResult>, version: i16) -> FetchResponse {
    let partitions = results.into_iter().map(|result| {
        let mut partition = PartitionData::default()
            .with_partition_index(result.tp.partition)
            .with_error_code(result.error_code.wire())
            .with_high_watermark(result.high_watermark.into())
            .with_last_stable_offset(result.last_stable_offset.into())
            // From a Vec without copying; large record sets are written from it as they are
            // (`fetch_encode`), smaller ones copied once into the response frame.
            .with_records(Some(bytes::Bytes::from(result.records)))
            .with_aborted_transactions(result.aborted.map(|aborted| {
                (aborted.into_iter())
                    .map(|txn| {
                        AbortedTransaction::default()
                            .with_producer_id(txn.producer_id.0.into())
                            .with_first_offset(txn.first_offset.into())
                    })
                    .collect()
            }));
        if version >= 5 {
            partition = partition.with_log_start_offset(result.log_start_offset.into());
        }
        (result.tp, partition)
    });
    let topics = per_partition::group_by_topic(partitions)
        .into_iter()
        .map(|(name, partitions)| {
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_string(name)))
                .with_partitions(partitions)
        })
        .collect();
    FetchResponse::default().with_responses(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_max_bytes_caps_the_request() {
        assert_eq!(capped_max_bytes(i32::MAX, 57_671_680), 57_671_680);
        assert_eq!(capped_max_bytes(1000, 57_671_680), 1000);
        assert_eq!(capped_max_bytes(-5, 57_671_680), 0);
        assert_eq!(capped_max_bytes(i32::MAX, i32::MAX as usize), i32::MAX);
    }

    #[test]
    fn offset_not_available_reaches_only_the_versions_that_know_it() {
        let lagging = ErrorCode::OFFSET_NOT_AVAILABLE;
        assert_eq!(
            list_offsets_code(lagging, 4),
            ErrorCode::LEADER_NOT_AVAILABLE
        );
        assert_eq!(list_offsets_code(lagging, 5), lagging);
        let other = ErrorCode::NOT_LEADER_OR_FOLLOWER;
        assert_eq!(list_offsets_code(other, 1), other);
    }
}
