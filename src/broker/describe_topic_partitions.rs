//! DescribeTopicPartitions (75, KIP-966): Metadata's paged successor for topics' partitions,
//! which Kafka 3.7+ admin clients' describeTopics and kafka-python's describe_topic_partitions
//! send. Answered from this node's metadata, as Metadata is (`super::metadata`), in Kafka's
//! order and pages (`DescribeTopicPartitionsRequestHandler`):
//! * the topics named (none named: every topic), sorted by name; a named topic that does not
//!   exist is UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an illegal name);
//! * from the cursor's topic and partition on, if one is given (it must name a topic the
//!   request names, or any topic when none is named: INVALID_REQUEST otherwise);
//! * at most `response_partition_limit` partitions (and at most [`PARTITIONS_PER_PAGE_MAX`],
//!   Kafka's `max.request.partition.size.limit`); the next cursor says where to go on.
//!
//! The eligible leader replicas are the controller's (KIP-966, `controller::metadata::eligible`);
//! the last known ELR is always empty (Rill keeps the last replica standing in the ISR
//! instead).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    self as kafka, BrokerId, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::authorize::TOPIC_OPERATIONS;
use super::metadata::partition_state;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::{NodeMsg, TopicMeta, OFFSETS_TOPIC};
use crate::security::acl::{AclOperation, ResourceType};
use crate::types::{topic_name, ErrorCode, TopicPartition};

/// Kafka's `max.request.partition.size.limit` default: the most partitions one page holds.
pub const PARTITIONS_PER_PAGE_MAX: i32 = 2000;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_topic_partitions(
        &self,
        request: kafka::DescribeTopicPartitionsRequest,
        frame: &KafkaRequest,
    ) -> Result<DescribeTopicPartitionsResponse, GatewayError> {
        let mut known = self.list_topics().await?;
        let named: BTreeSet<String> = (request.topics.iter())
            .map(|t| t.name.0.to_string())
            .collect();
        // Kafka's check: DESCRIBE on each topic — every topic lists only those; a named one
        // is refused with TOPIC_AUTHORIZATION_FAILED, existing or not.
        let access = self.access(frame, "DescribeTopicPartitions");
        let names: Vec<String> = match named.is_empty() {
            true => (known.keys())
                .filter(|name| access.sees(AclOperation::Describe, ResourceType::Topic, name))
                .cloned()
                .collect(),
            false => named.iter().cloned().collect(),
        };
        let refused: BTreeSet<String> = (names.iter())
            .filter(|name| !access.allows(AclOperation::Describe, ResourceType::Topic, name))
            .cloned()
            .collect();
        known.retain(|name, _| !refused.contains(name));
        let cursor = request
            .cursor
            .as_ref()
            .map(|c| (c.topic_name.0.to_string(), c.partition_index.max(0)));
        if let Some((topic, _)) = &cursor {
            if !names.contains(topic) {
                // Kafka's error response: every topic asked for, INVALID_REQUEST.
                let topics = (names.iter())
                    .map(|name| {
                        DescribeTopicPartitionsResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                            .with_error_code(ErrorCode::INVALID_REQUEST.wire())
                    })
                    .collect();
                return Ok(DescribeTopicPartitionsResponse::default().with_topics(topics));
            }
        }
        let asked: Vec<String> = (names.iter())
            .filter(|name| known.contains_key(*name))
            .cloned()
            .collect();
        let offline = match asked.is_empty() {
            true => BTreeSet::new(),
            false => self.offline_partitions(Some(asked)).await?,
        };
        let limit = request
            .response_partition_limit
            .clamp(1, PARTITIONS_PER_PAGE_MAX);
        // The request has no flag for them: Kafka fills `topic_authorized_operations` in for
        // every topic it answers, unknown ones included.
        let operations =
            |name: &str| access.operations(ResourceType::Topic, name, &TOPIC_OPERATIONS);
        let page = self.page(
            &names, &known, &refused, cursor, limit, &offline, operations,
        );
        Ok(DescribeTopicPartitionsResponse::default()
            .with_topics(page.topics)
            .with_next_cursor(page.next))
    }

    /// One page of the topics `names` (sorted), from `cursor`, at most `limit` partitions.
    fn page(
        &self,
        names: &[String],
        known: &BTreeMap<String, TopicMeta>,
        refused: &BTreeSet<String>,
        cursor: Option<(String, i32)>,
        limit: i32,
        offline: &BTreeSet<TopicPartition>,
        operations: impl Fn(&str) -> i32,
    ) -> Page {
        let node = BrokerId(self.settings.broker_id());
        let mut page = Page::default();
        let mut left = limit;
        let start = cursor.as_ref().map(|(topic, _)| topic.as_str());
        for name in names
            .iter()
            .filter(|n| start.is_none_or(|s| n.as_str() >= s))
        {
            let entry = DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                .with_topic_authorized_operations(operations(name));
            let Some(meta) = known.get(name) else {
                let code = match topic_name::is_legal(name) {
                    _ if refused.contains(name) => ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    true => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    false => ErrorCode::INVALID_TOPIC_EXCEPTION,
                };
                page.topics.push(entry.with_error_code(code.wire()));
                continue;
            };
            if left == 0 {
                page.next = Some(next_cursor(name, 0));
                break;
            }
            let first = match &cursor {
                Some((topic, partition)) if topic == name => *partition,
                _ => 0,
            };
            let mut partitions = Vec::new();
            for p in first..meta.partitions {
                if left == 0 {
                    page.next = Some(next_cursor(name, p));
                    break;
                }
                left -= 1;
                let (leader, epoch, replicas, isr) = partition_state(meta, p, node);
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: p,
                };
                let mut partition = DescribeTopicPartitionsResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(leader.unwrap_or(BrokerId(-1)))
                    .with_leader_epoch(epoch.0)
                    .with_replica_nodes(replicas)
                    .with_isr_nodes(isr)
                    .with_eligible_leader_replicas(Some(eligible_leaders(meta, p)))
                    .with_last_known_elr(Some(Vec::new()));
                partition = match leader {
                    None => partition.with_error_code(ErrorCode::LEADER_NOT_AVAILABLE.wire()),
                    Some(leader) if leader == node && offline.contains(&tp) => partition
                        .with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.wire())
                        .with_offline_replicas(vec![node]),
                    Some(_) => partition,
                };
                partitions.push(partition);
            }
            page.topics.push(
                entry
                    .with_topic_id(uuid::Uuid::from_bytes(meta.id))
                    .with_is_internal(name == OFFSETS_TOPIC)
                    .with_partitions(partitions),
            );
            if page.next.is_some() {
                break;
            }
        }
        page
    }
}

#[derive(Default)]
struct Page {
    topics: Vec<DescribeTopicPartitionsResponseTopic>,
    next: Option<Cursor>,
}

fn next_cursor(topic: &str, partition: i32) -> Cursor {
    Cursor::default()
        .with_topic_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partition_index(partition)
}

/// Partition `p`'s eligible leader replicas as the metadata has them (none before it says).
fn eligible_leaders(meta: &TopicMeta, p: i32) -> Vec<BrokerId> {
    (meta.assignment.get(p as usize))
        .map(|view| {
            view.elr
                .iter()
                .map(|n| super::describe_quorum::broker_id(*n))
                .collect()
        })
        .unwrap_or_default()
}
