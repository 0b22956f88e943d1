//! The topics actor's requests and replies ([`super::TOPICS`]), and the topic metadata they
//! carry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub id: [u8; 16],
    pub partitions: i32,
    pub replication_factor: i16,
    /// Topic-level config overrides (`retention.ms`, `segment.bytes`, ...), as given.
    pub configs: BTreeMap<String, String>,
}

/// The refusal a [`TopicsReply::Refused`] carries; it lives with the error codes.
pub use crate::types::Refusal;

/// Requests to [`super::TOPICS`].
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsRequest {
    List,
    Create {
        name: String,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    },
    Delete {
        name: String,
    },
    AddPartitions {
        name: String,
        total: i32,
        validate_only: bool,
    },
    /// Replace a topic's config overrides (Incremental/AlterConfigs). `configs` is the complete
    /// new override map, already checked by the broker; the reply is the topic as changed.
    AlterConfigs {
        name: String,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    },
}

/// Replies from [`super::TOPICS`].
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsReply {
    List(BTreeMap<String, TopicMeta>),
    /// The topic as created, deleted or changed.
    Topic(TopicMeta),
    Refused(Refusal),
}
