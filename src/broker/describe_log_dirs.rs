//! DescribeLogDirs (35): the partitions this broker holds in its log directory and their
//! sizes (kafka-log-dirs, the admin clients' describeLogDirs, the reassignment tools). A Rill
//! broker has one log directory (`log.dirs`); it answers from the replicas open here. The
//! directory's total and usable bytes (v4) are not measured: -1, Kafka's "unknown".

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{self as kafka, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{LogDirsRequest, NodeMsg};
use crate::security::acl::AclOperation;
use crate::types::{ErrorCode, TopicPartition};

/// Kafka's `DescribeLogDirsResponse.UNKNOWN_VOLUME_BYTES`.
const UNKNOWN_VOLUME_BYTES: i64 = -1;

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_log_dirs(
        &self,
        request: kafka::DescribeLogDirsRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<DescribeLogDirsResponse, GatewayError> {
        // Kafka's check: DESCRIBE on the cluster, else no log dir is described (v3+ say
        // why).
        if !self
            .access(frame, "DescribeLogDirs")
            .allows_cluster(AclOperation::Describe)
        {
            let response = DescribeLogDirsResponse::default();
            return Ok(match version >= 3 {
                true => response.with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.wire()),
                false => response,
            });
        }
        let partitions = request.topics.map(|topics| {
            (topics.iter())
                .flat_map(|t| {
                    (t.partitions.iter()).map(|&partition| TopicPartition {
                        topic: t.topic.0.to_string(),
                        partition,
                    })
                })
                .collect()
        });
        let held = ask(&self.node, LogDirsRequest { partitions }).await?;
        let mut by_topic: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
        for p in held {
            let partition = DescribeLogDirsPartition::default()
                .with_partition_index(p.tp.partition)
                .with_partition_size(i64::try_from(p.size_bytes).unwrap_or(i64::MAX))
                .with_offset_lag(p.offset_lag)
                .with_is_future_key(false);
            by_topic.entry(p.tp.topic).or_default().push(partition);
        }
        let topics = (by_topic.into_iter())
            .map(|(name, partitions)| {
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(partitions)
            })
            .collect();
        let mut result = DescribeLogDirsResult::default()
            .with_error_code(ErrorCode::NONE.wire())
            .with_log_dir(StrBytes::from_string(self.settings.log_dir.clone()))
            .with_topics(topics);
        if version >= 4 {
            result = result
                .with_total_bytes(UNKNOWN_VOLUME_BYTES)
                .with_usable_bytes(UNKNOWN_VOLUME_BYTES);
        }
        Ok(DescribeLogDirsResponse::default().with_results(vec![result]))
    }
}
