//! Topic rules: legal names, the topic config keys, the unknown-topic refusal.
//!
//! The controller checks every administration with them (`metadata::topic_admin`); a broker
//! checks config keys before it asks. Name rules are Kafka's.

use std::collections::BTreeMap;

use crate::messages::Refusal;
use crate::types::topic_name::{self, shown};
use crate::types::ErrorCode;

/// Kafka's name rule ([`topic_name::validate_name`]) as the broker answers it:
/// INVALID_TOPIC_EXCEPTION with the reason; and the metadata log's name, which Kafka's
/// controller refuses as INVALID_REQUEST.
pub(super) fn check_name(name: &str) -> Result<(), Refusal> {
    topic_name::validate_name(name)
        .map_err(|illegal| Refusal::new(ErrorCode::INVALID_TOPIC_EXCEPTION, illegal.message))?;
    if name == topic_name::CLUSTER_METADATA_TOPIC {
        return Err(Refusal::new(
            ErrorCode::INVALID_REQUEST,
            format!("Creation of internal topic {name} is prohibited."),
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_name_is_refused_as_kafka_does() {
        let refusal = check_name("has space").unwrap_err();
        assert_eq!(refusal.code, ErrorCode::INVALID_TOPIC_EXCEPTION);
        assert!(
            refusal.message.contains("'has space' is illegal"),
            "{}",
            refusal.message
        );
        // Kafka's controller: the metadata log's name is reserved.
        let refusal = check_name("__cluster_metadata").unwrap_err();
        assert_eq!(refusal.code, ErrorCode::INVALID_REQUEST);
        assert!(
            refusal.message.contains("prohibited"),
            "{}",
            refusal.message
        );
        assert!(check_name("__cluster_metadata_x").is_ok());
    }
}
