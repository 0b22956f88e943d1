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

/// Requests to [`super::TOPICS`], each with its own type (see `PartitionsRequest`).
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsRequest {
    List,
    Create(CreateTopicRequest),
    Delete(DeleteTopicRequest),
    AddPartitions(AddPartitionsRequest),
    AlterConfigs(AlterConfigsRequest),
}

/// [`TopicsRequest::List`], as a typed call: every topic with its metadata.
#[derive(Debug)]
pub struct ListTopicsRequest;

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateTopicRequest {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
    pub validate_only: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteTopicRequest {
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AddPartitionsRequest {
    pub name: String,
    pub total: i32,
    pub validate_only: bool,
}

/// Replace a topic's config overrides (Incremental/AlterConfigs). `configs` is the complete
/// new override map, already checked by the broker; the reply is the topic as changed.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlterConfigsRequest {
    pub name: String,
    pub configs: BTreeMap<String, String>,
    pub validate_only: bool,
}

/// Replies from [`super::TOPICS`].
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsReply {
    List(BTreeMap<String, TopicMeta>),
    /// The topic as created, deleted or changed.
    Topic(TopicMeta),
    Refused(Refusal),
}

/// The answer to a request that changes one topic (create, delete, grow, alter): the topic as
/// changed, or why not. [`TopicsReply::Topic`] or [`TopicsReply::Refused`] as one type.
pub type TopicChange = Result<TopicMeta, Refusal>;
