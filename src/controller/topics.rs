//! Topic metadata as a pure state machine: names, ids, partition counts, configs.
//!
//! This is the seed of the controller's metadata (KRaft's role); today one node keeps it and
//! persists it with [`super::actor::TopicsActor`]. Name rules are Kafka's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{BROKER_PARTITIONS_MAX, TOPIC_PARTITIONS_MAX};
use crate::messages::{Refusal, TopicMeta};
use crate::types::topic_name::{self, shown};
use crate::types::ErrorCode;

/// Kafka's name rule ([`topic_name::validate_name`]) as the broker answers it:
/// INVALID_TOPIC_EXCEPTION with the reason.
pub(super) fn check_name(name: &str) -> Result<(), Refusal> {
    topic_name::validate_name(name)
        .map_err(|illegal| Refusal::new(ErrorCode::INVALID_TOPIC_EXCEPTION, illegal.message))
}

/// Metrics names replace '.' with '_', so Kafka refuses two topics that differ only there.
pub(super) fn collision_key(name: &str) -> String {
    name.replace('.', "_")
}

/// Every topic config Kafka 4.x accepts (`LogConfig`'s keys), in DescribeConfigs' order;
/// values are checked by `topic_config::resolve`. Kafka 4 dropped `message.format.version`,
/// `message.downconversion.enable` and `message.timestamp.difference.max.ms`, so they are
/// unknown here too.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "retention.ms",
    "retention.bytes",
    "segment.bytes",
    "segment.ms",
    "segment.index.bytes",
    "index.interval.bytes",
    "max.message.bytes",
    "flush.ms",
    "flush.messages",
    "cleanup.policy",
    "message.timestamp.type",
    "message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms",
    "min.insync.replicas",
    "compression.type",
    // Stored and described; honoured by log compaction (issue 12, E2).
    "delete.retention.ms",
    "min.compaction.lag.ms",
    "max.compaction.lag.ms",
    "min.cleanable.dirty.ratio",
    // Stored and described only: features Rill does not have.
    "file.delete.delay.ms",
    "segment.jitter.ms",
    "preallocate",
    "unclean.leader.election.enable",
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "remote.storage.enable",
    "local.retention.ms",
    "local.retention.bytes",
    "remote.copy.lag.ms",
    "remote.copy.lag.bytes",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
];

/// Every key must be one this broker knows (values are checked by `topic_config::resolve`).
pub(super) fn check_config_keys(configs: &BTreeMap<String, String>) -> Result<(), Refusal> {
    match configs
        .keys()
        .find(|k| !TOPIC_CONFIG_KEYS.contains(&k.as_str()))
    {
        Some(key) => Err(Refusal::new(
            ErrorCode::INVALID_CONFIG,
            format!("unknown topic config '{key}'"),
        )),
        None => Ok(()),
    }
}

pub(super) fn unknown_topic(name: &str) -> Refusal {
    Refusal::new(
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        format!("topic '{}' does not exist", shown(name)),
    )
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRegistry {
    pub topics: BTreeMap<String, TopicMeta>,
}

impl TopicRegistry {
    /// Checks a creation without applying it.
    pub fn check_create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &BTreeMap<String, String>,
        brokers: i16,
    ) -> Result<(), Refusal> {
        check_name(name)?;
        if self.topics.contains_key(name) {
            return Err(Refusal::new(
                ErrorCode::TOPIC_ALREADY_EXISTS,
                format!("topic '{name}' already exists"),
            ));
        }
        if let Some(other) = self
            .topics
            .keys()
            .find(|t| collision_key(t) == collision_key(name))
        {
            return Err(Refusal::new(ErrorCode::INVALID_TOPIC_EXCEPTION, format!("topic '{name}' collides with existing topic '{other}' ('.' and '_' are treated alike)")));
        }
        if partitions < 1 {
            return Err(Refusal::new(
                ErrorCode::INVALID_PARTITIONS,
                format!("number of partitions must be at least 1, got {partitions}"),
            ));
        }
        if partitions > TOPIC_PARTITIONS_MAX {
            return Err(Refusal::new(
                ErrorCode::INVALID_PARTITIONS,
                format!("topic '{name}': {partitions} partitions is more than the {TOPIC_PARTITIONS_MAX} allowed"),
            ));
        }
        self.check_broker_partitions(i64::from(partitions))?;
        if replication_factor < 1 || replication_factor > brokers {
            return Err(Refusal::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!("replication factor {replication_factor} is not between 1 and the {brokers} available broker(s)"),
            ));
        }
        check_config_keys(configs)
    }

    /// Partitions of every topic together.
    pub fn partition_count(&self) -> i64 {
        self.topics.values().map(|m| i64::from(m.partitions)).sum()
    }

    /// The broker-wide bound ([`BROKER_PARTITIONS_MAX`]): POLICY_VIOLATION, as Kafka answers a
    /// request its policy refuses for its size.
    fn check_broker_partitions(&self, added: i64) -> Result<(), Refusal> {
        let total = self.partition_count();
        if total + added > BROKER_PARTITIONS_MAX {
            return Err(Refusal::new(
                ErrorCode::POLICY_VIOLATION,
                format!(
                    "this broker hosts {total} partitions; {added} more would pass its limit of {BROKER_PARTITIONS_MAX}"
                ),
            ));
        }
        Ok(())
    }

    pub fn create(&mut self, name: &str, meta: TopicMeta) {
        self.topics.insert(name.to_string(), meta);
    }

    pub fn delete(&mut self, name: &str) -> Result<TopicMeta, Refusal> {
        self.topics.remove(name).ok_or_else(|| unknown_topic(name))
    }

    /// Checks a replacement of `name`'s config overrides: the topic exists and every key is
    /// one this broker knows (values are checked by the broker with `topic_config::resolve`).
    pub fn check_alter_configs(
        &self,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), Refusal> {
        if !self.topics.contains_key(name) {
            return Err(unknown_topic(name));
        }
        check_config_keys(configs)
    }

    /// Replaces `name`'s overrides, returning the previous ones (for a rollback), or `None`
    /// when the topic does not exist.
    pub fn alter_configs(
        &mut self,
        name: &str,
        configs: BTreeMap<String, String>,
    ) -> Option<BTreeMap<String, String>> {
        let meta = self.topics.get_mut(name)?;
        Some(std::mem::replace(&mut meta.configs, configs))
    }

    pub fn check_add_partitions(&self, name: &str, new_total: i32) -> Result<(), Refusal> {
        let meta = self.topics.get(name).ok_or_else(|| unknown_topic(name))?;
        if new_total <= meta.partitions {
            return Err(Refusal::new(
                ErrorCode::INVALID_PARTITIONS,
                format!(
                    "topic '{name}' has {} partitions; the new count {new_total} must be larger",
                    meta.partitions
                ),
            ));
        }
        self.check_broker_partitions(i64::from(new_total) - i64::from(meta.partitions))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(partitions: i32) -> TopicMeta {
        TopicMeta {
            id: [1; 16],
            partitions,
            replication_factor: 1,
            configs: BTreeMap::new(),
        }
    }

    #[test]
    fn a_bad_name_is_refused_as_kafka_does() {
        let refusal = check_name("has space").unwrap_err();
        assert_eq!(refusal.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
        assert!(
            refusal.message.contains("'has space' is illegal"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn create_checks_existence_collisions_counts_and_configs() {
        let mut reg = TopicRegistry::default();
        let none = BTreeMap::new();
        reg.check_create("a.b", 3, 1, &none, 1).unwrap();
        reg.create("a.b", meta(3));
        assert_eq!(
            reg.check_create("a.b", 3, 1, &none, 1).unwrap_err().code,
            ErrorCode::TOPIC_ALREADY_EXISTS
        );
        assert_eq!(
            reg.check_create("a_b", 3, 1, &none, 1).unwrap_err().code,
            ErrorCode::INVALID_TOPIC_EXCEPTION
        );
        assert_eq!(
            reg.check_create("c", 0, 1, &none, 1).unwrap_err().code,
            ErrorCode::INVALID_PARTITIONS
        );
        assert_eq!(
            reg.check_create("c", 1, 2, &none, 1).unwrap_err().code,
            ErrorCode::INVALID_REPLICATION_FACTOR
        );
        let compaction = BTreeMap::from([
            ("delete.retention.ms".to_string(), "900".to_string()),
            ("min.cleanable.dirty.ratio".to_string(), "0.1".to_string()),
        ]);
        reg.check_create("c", 1, 1, &compaction, 1).unwrap();
        let bad_config = BTreeMap::from([("retention.msx".to_string(), "1".to_string())]);
        assert_eq!(
            reg.check_create("c", 1, 1, &bad_config, 1)
                .unwrap_err()
                .code,
            ErrorCode::INVALID_CONFIG
        );
        assert_eq!(
            reg.check_add_partitions("a.b", 3).unwrap_err().code,
            ErrorCode::INVALID_PARTITIONS
        );
        reg.check_add_partitions("a.b", 4).unwrap();
        assert_eq!(
            reg.delete("nope").unwrap_err().code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
        assert_eq!(reg.delete("a.b").unwrap().partitions, 3);
    }

    #[test]
    fn alter_configs_replaces_the_whole_override_map() {
        let mut reg = TopicRegistry::default();
        let mut before = meta(1);
        before.configs = BTreeMap::from([("segment.ms".to_string(), "1000".to_string())]);
        reg.create("t", before);
        let new = BTreeMap::from([("retention.ms".to_string(), "5".to_string())]);
        reg.check_alter_configs("t", &new).unwrap();
        assert_eq!(
            reg.check_alter_configs("nope", &new).unwrap_err().code,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
        let unknown = BTreeMap::from([("retention.msx".to_string(), "5".to_string())]);
        assert_eq!(
            reg.check_alter_configs("t", &unknown).unwrap_err().code,
            ErrorCode::INVALID_CONFIG
        );
        let previous = reg.alter_configs("t", new.clone()).unwrap();
        assert_eq!(previous.keys().collect::<Vec<_>>(), ["segment.ms"]);
        assert_eq!(reg.topics["t"].configs, new);
        assert_eq!(reg.alter_configs("nope", BTreeMap::new()), None);
    }

    fn meta_rf(partitions: i32, replication_factor: i16) -> TopicMeta {
        TopicMeta {
            replication_factor,
            ..meta(partitions)
        }
    }

    #[test]
    fn growth_without_assignments_is_bounded_only_by_the_limit() {
        check_growth("t", &meta_rf(1, 1), 5, None, 1).unwrap();
        let err = check_growth("t", &meta_rf(1, 1), TOPIC_PARTITIONS_MAX + 1, None, 1).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_PARTITIONS);
    }

    #[test]
    fn assignments_must_cover_each_new_partition_with_this_node() {
        let m = meta_rf(2, 1);
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
