//! CreatePartitions: grows a topic (the registry first, then the new partition logs).
//!
//! Order matters for a crash in between: the registry is persisted before the logs are opened,
//! and start-up opens the logs of every registered partition, so a grown topic never lacks logs
//! after a restart.

use crate::types::topic_name::shown;
use crate::types::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::limits::{PARTITIONS_PER_REQUEST_MAX, TOPIC_PARTITIONS_MAX};
use crate::messages::call::ask;
use crate::messages::{AddPartitionsRequest, NodeMsg, Refusal, TopicMeta};

/// Checks what the registry cannot: the count bound and explicit replica assignments (one
/// list per new partition, each naming only this node, as many as the replication factor).
pub fn check_growth(
    name: &str,
    meta: &TopicMeta,
    count: i32,
    assignments: Option<&[Vec<i32>]>,
    node_id: i32,
) -> Result<(), Refusal> {
    if count > TOPIC_PARTITIONS_MAX {
        return Err(Refusal::new(
            ErrorCode::INVALID_PARTITIONS,
            format!("topic '{name}': {count} partitions is more than the {TOPIC_PARTITIONS_MAX} allowed"),
        ));
    }
    // Not a growth: the registry answers INVALID_PARTITIONS, whatever the assignments say.
    let (Some(assignments), true) = (assignments, count > meta.partitions) else {
        return Ok(());
    };
    let added = count - meta.partitions;
    if assignments.len() as i64 != i64::from(added) {
        return Err(Refusal::new(
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            format!(
                "topic '{name}': {} replica assignments for {added} new partitions",
                assignments.len()
            ),
        ));
    }
    for replicas in assignments {
        if replicas.len() != meta.replication_factor as usize {
            return Err(Refusal::new(
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "topic '{name}': assignment {replicas:?} does not have {} replica(s)",
                    meta.replication_factor
                ),
            ));
        }
        if let Some(broker) = replicas.iter().find(|b| **b != node_id) {
            return Err(Refusal::new(
                ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                format!("topic '{name}': unknown broker {broker} in assignment (this node is {node_id})"),
            ));
        }
    }
    Ok(())
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn create_partitions(
        &self,
        request: CreatePartitionsRequest,
    ) -> Result<CreatePartitionsResponse, GatewayError> {
        let known = self.list_topics().await?;
        // Kafka refuses every copy of a topic named twice in one request.
        let mut seen = BTreeSet::new();
        let twice: BTreeSet<String> = request
            .topics
            .iter()
            .map(|t| t.name.0.to_string())
            .filter(|n| !seen.insert(n.clone()))
            .collect();
        let mut results = Vec::new();
        // Kafka's per-request bound on partitions created, all topics together.
        let added: i64 = request
            .topics
            .iter()
            .map(|t| {
                let before = known.get(t.name.0.as_str()).map_or(0, |m| m.partitions);
                i64::from(t.count.saturating_sub(before).max(0))
            })
            .sum();
        if added > PARTITIONS_PER_REQUEST_MAX {
            let message = format!("Excessively large number of partitions per request: {added} requested, limit {PARTITIONS_PER_REQUEST_MAX}.");
            for topic in request.topics {
                results.push(
                    CreatePartitionsTopicResult::default()
                        .with_name(topic.name)
                        .with_error_code(ErrorCode::POLICY_VIOLATION.wire())
                        .with_error_message(Some(StrBytes::from_string(message.clone()))),
                );
            }
            return Ok(CreatePartitionsResponse::default().with_results(results));
        }
        for topic in request.topics {
            let name = topic.name.0.to_string();
            let assignments: Option<Vec<Vec<i32>>> = topic.assignments.map(|a| {
                a.into_iter()
                    .map(|r| r.broker_ids.into_iter().map(|b| b.0).collect())
                    .collect()
            });
            let outcome = if twice.contains(&name) {
                Err(Refusal::new(
                    ErrorCode::INVALID_REQUEST,
                    format!(
                        "topic '{}' appears more than once in the request",
                        shown(&name)
                    ),
                ))
            } else {
                self.grow(
                    &known,
                    &name,
                    topic.count,
                    assignments.as_deref(),
                    request.validate_only,
                )
                .await?
            };
            let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
            if let Err(refusal) = outcome {
                result = result
                    .with_error_code(refusal.code.wire())
                    .with_error_message(Some(StrBytes::from_string(refusal.message)));
            }
            results.push(result);
        }
        Ok(CreatePartitionsResponse::default().with_results(results))
    }

    async fn grow(
        &self,
        known: &BTreeMap<String, TopicMeta>,
        name: &str,
        count: i32,
        assignments: Option<&[Vec<i32>]>,
        validate_only: bool,
    ) -> Result<Result<(), Refusal>, GatewayError> {
        let Some(meta) = known.get(name) else {
            return Ok(Err(Refusal::new(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!("topic '{}' does not exist", shown(&name)),
            )));
        };
        if let Err(refusal) =
            check_growth(name, meta, count, assignments, self.settings.broker_id())
        {
            return Ok(Err(refusal));
        }
        let grow = AddPartitionsRequest {
            name: name.to_string(),
            total: count,
            validate_only,
        };
        match ask(&self.node, grow).await? {
            Ok(meta) if !validate_only => {
                // The registry has the new count; a log that cannot open yet stays offline
                // (KAFKA_STORAGE_ERROR, retried when used and at each retention tick) rather
                // than unknown, and the client learns why.
                match self.ensure_partitions(name, &meta).await {
                    Ok(()) => Ok(Ok(())),
                    Err(error) => Ok(Err(Refusal::new(
                        ErrorCode::KAFKA_STORAGE_ERROR,
                        format!("partitions added, but not every log could be opened yet: {error}"),
                    ))),
                }
            }
            Ok(_) => Ok(Ok(())),
            Err(refusal) => Ok(Err(refusal)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(partitions: i32, replication_factor: i16) -> TopicMeta {
        TopicMeta {
            id: [0; 16],
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn growth_without_assignments_is_bounded_only_by_the_limit() {
        check_growth("t", &meta(1, 1), 5, None, 1).unwrap();
        let err = check_growth("t", &meta(1, 1), TOPIC_PARTITIONS_MAX + 1, None, 1).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARTITIONS);
    }

    #[test]
    fn assignments_must_cover_each_new_partition_with_this_node() {
        let m = meta(2, 1);
        check_growth("t", &m, 4, Some(&[vec![1], vec![1]]), 1).unwrap();
        let code = |a: &[Vec<i32>]| check_growth("t", &m, 4, Some(a), 1).unwrap_err().code;
        assert_eq!(code(&[vec![1]]), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
        assert_eq!(
            code(&[vec![1], vec![2]]),
            ErrorCode::INVALID_REPLICA_ASSIGNMENT
        );
        assert_eq!(
            code(&[vec![1], vec![1, 1]]),
            ErrorCode::INVALID_REPLICA_ASSIGNMENT
        );
    }
}
