//! The topics actor's requests and replies ([`super::TOPICS`]), and the topic metadata they
//! carry.
//!
//! Every request that changes topics is one whole Kafka admin request (or an auto-creation, or
//! the start-up opening of every log): the topics actor runs it from validation to the last
//! partition log before it starts the next, so two of them never interleave.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::acls::SharedAcls;
use super::quorum::{PartitionView, TopicView};
use super::scram::{
    DescribeScramRequest, ScramCredential, ScramCredentialRequest, ScramDescriptions,
    SharedScramCredentials,
};
use crate::types::{NodeId, TopicPartition};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub id: [u8; 16],
    pub partitions: i32,
    pub replication_factor: i16,
    /// Topic-level config overrides (`retention.ms`, `segment.bytes`, ...), as given.
    pub configs: BTreeMap<String, String>,
    /// Each partition's replicas, ISR and leader, partition 0 first (the metadata log's).
    pub assignment: Vec<PartitionView>,
}

impl TopicMeta {
    /// The topic as the applied metadata has it.
    pub fn from_view(view: &TopicView) -> Self {
        Self {
            id: view.id,
            partitions: view.partitions.len() as i32,
            replication_factor: (view.partitions.first()).map_or(0, |p| p.replicas.len() as i16),
            configs: view.configs.clone(),
            assignment: view.partitions.clone(),
        }
    }

    /// The partitions whose replicas include `node`, in order.
    pub fn replicas_on(&self, node: NodeId) -> Vec<i32> {
        (self.assignment.iter().enumerate())
            .filter(|(_, p)| p.replicas.contains(&node))
            .map(|(i, _)| i as i32)
            .collect()
    }
}

/// What the node's voter applied of the metadata log's topics (sent to [`super::TOPICS`]
/// after every applied entry that changed a topic, and once it opened): the topics actor's
/// view of the cluster's topics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedTopics {
    /// The last entry applied.
    pub index: u64,
    /// Brokers that may hold new replicas now (registered and unfenced).
    pub live_brokers: u32,
    pub topics: BTreeMap<String, TopicMeta>,
    /// The ids of deleted topics the metadata keeps: a partition directory naming one is a
    /// stray (its broker was down through the deletion) and is removed.
    pub deleted_topic_ids: BTreeSet<[u8; 16]>,
    /// Every registered broker's epoch and whether it is fenced (a follower names its own
    /// epoch in its fetches; a leader adds to the ISR only a replica fetching in its
    /// registration's epoch, KIP-903).
    pub brokers: BTreeMap<NodeId, super::BrokerStatus>,
    /// The dynamic broker configs by broker (`None`: the cluster-wide default `""`).
    pub broker_configs: DynamicBrokerConfigs,
    /// Every user's SCRAM credentials, shared with the image that applied them (what a login
    /// checks, [`super::scram::ScramCredentialRequest`]).
    pub scram_credentials: SharedScramCredentials,
    /// Every ACL, shared with the image that applied them (what the gateway checks and
    /// DescribeAcls lists, [`super::acls::AclsRequest`]).
    pub acls: SharedAcls,
}

impl AppliedTopics {
    /// Every partition's leader, epoch and ISR, for the partitions actor
    /// ([`super::PartitionsRequest::Leaders`]).
    pub fn leaders(&self) -> BTreeMap<TopicPartition, super::PartitionLeader> {
        let mut leaders = BTreeMap::new();
        for (name, meta) in &self.topics {
            for (partition, view) in meta.assignment.iter().enumerate() {
                let tp = TopicPartition {
                    topic: name.clone(),
                    partition: partition as i32,
                };
                let leader = super::PartitionLeader {
                    topic_id: meta.id,
                    leader: view.leader,
                    epoch: view.leader_epoch,
                    partition_epoch: view.partition_epoch,
                    isr: view.isr.clone(),
                    replicas: view.replicas.clone(),
                };
                leaders.insert(tp, leader);
            }
        }
        leaders
    }
}

/// The refusal a topic outcome carries; it lives with the error codes.
pub use crate::types::Refusal;

/// Requests to [`super::TOPICS`], each with its own type (see `PartitionsRequest`).
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsRequest {
    List,
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    CreatePartitions(CreatePartitionsRequest),
    AlterConfigs(AlterConfigsRequest),
    AutoCreate(AutoCreateRequest),
    /// Start-up: open (recover) the log of every registered partition.
    OpenAll,
    /// Create an internal topic with its own settings if it does not exist yet; an existing
    /// one is success. Answered with [`TopicsReply::Created`] (one entry).
    EnsureInternal(EnsureInternalRequest),
    /// From the node's voter (a message, not answered): the topics as applied now.
    MetadataApplied(Box<AppliedTopics>),
    /// The dynamic broker configs as applied here (DescribeConfigs of a BROKER resource).
    BrokerConfigs,
    /// A user's SCRAM credential for a mechanism, as applied here (a SCRAM login's lookup).
    ScramCredential(ScramCredentialRequest),
    /// Users' SCRAM mechanisms and iterations, as applied here (DescribeUserScramCredentials).
    DescribeScram(DescribeScramRequest),
    /// Every ACL as applied here (DescribeAcls, and the checks of the admin APIs).
    Acls,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct EnsureInternalRequest {
    pub topic: InternalTopic,
}

/// The topics the node creates for itself. Variant order is the node's wire (postcard):
/// append, never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InternalTopic {
    /// `__consumer_offsets` ([`super::OFFSETS_TOPIC`]).
    ConsumerOffsets,
    /// `__consumer_offsets` of a single-node release's data directory, imported at its first
    /// start: every partition is assigned to this broker, where its logs are.
    ConsumerOffsetsImported,
    /// `__transaction_state` ([`super::txn::TXN_STATE_TOPIC`]), the transaction coordinator's
    /// log, created as `transaction.state.log.*` describe it.
    TransactionState,
}

impl InternalTopic {
    /// The topic's name.
    pub fn name(self) -> &'static str {
        match self {
            InternalTopic::ConsumerOffsets | InternalTopic::ConsumerOffsetsImported => {
                super::OFFSETS_TOPIC
            }
            InternalTopic::TransactionState => super::txn::TXN_STATE_TOPIC,
        }
    }

    /// The internal topic named `name`, created as the broker creates it (not the imported
    /// kind): clients may not create, grow or delete it, and a Metadata auto-creation of it
    /// gets its own settings.
    pub fn named(name: &str) -> Option<Self> {
        [
            InternalTopic::ConsumerOffsets,
            InternalTopic::TransactionState,
        ]
        .into_iter()
        .find(|topic| topic.name() == name)
    }
}

/// [`TopicsRequest::List`], as a typed call: every topic with its metadata.
#[derive(Debug)]
pub struct ListTopicsRequest;

/// [`TopicsRequest::BrokerConfigs`], as a typed call.
#[derive(Debug)]
pub struct BrokerConfigsRequest;

/// The dynamic broker configs by broker (`None`: the cluster-wide default `""`).
pub type DynamicBrokerConfigs = BTreeMap<Option<NodeId>, BTreeMap<String, String>>;

/// CreateTopics: the topics in request order (a count or factor of -1 is the broker default);
/// the reply has one [`TopicChange`] per topic, in the same order.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateTopicsRequest {
    pub topics: Vec<NewTopic>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
    /// A manual assignment (CreateTopics `assignments`): each partition index with its
    /// broker ids, preferred leader first; empty to let the controller place the replicas.
    /// Kafka then wants -1 for the partition count and the replication factor.
    pub assignments: Vec<(i32, Vec<i32>)>,
}

/// DeleteTopics: the topics in request order, by name or (v6) by id.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteTopicsRequest {
    pub topics: Vec<TopicRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TopicRef {
    Name(String),
    Id([u8; 16]),
}

/// One topic of a DeleteTopics reply: its name (`None`: an id no topic has) and the topic as
/// deleted, or why not.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDeletion {
    pub name: Option<String>,
    pub outcome: TopicChange,
}

/// CreatePartitions: each topic's new total and its explicit assignments (broker ids per new
/// partition), in request order; the reply has one outcome per topic.
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatePartitionsRequest {
    pub topics: Vec<Growth>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Growth {
    pub name: String,
    pub count: i32,
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// Incremental/AlterConfigs of topic resources, in request order: the new overrides are worked
/// out from the topic's overrides as they are when the request runs.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlterConfigsRequest {
    pub topics: Vec<(String, ConfigChange)>,
    pub validate_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigChange {
    /// IncrementalAlterConfigs: (key, `AlterConfigOp.OpType`, value) per config.
    Incremental(Vec<(String, i8, Option<String>)>),
    /// The legacy AlterConfigs: every override replaced; a null value means "not set".
    Replace(Vec<(String, Option<String>)>),
}

/// Metadata (or Produce) named a topic that does not exist: create it with the broker defaults.
#[derive(Debug, Serialize, Deserialize)]
pub struct AutoCreateRequest {
    pub name: String,
}

/// [`TopicsRequest::OpenAll`], as a typed call.
#[derive(Debug)]
pub struct OpenAllRequest;

/// What [`TopicsRequest::OpenAll`] found.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAllReport {
    pub topics: usize,
    pub partitions: i64,
    /// Topics with a partition whose log cannot open yet (it answers KAFKA_STORAGE_ERROR and
    /// is retried when used).
    pub topics_with_offline_partitions: usize,
}

/// Replies from [`super::TOPICS`].
#[derive(Debug, Serialize, Deserialize)]
pub enum TopicsReply {
    List(BTreeMap<String, TopicMeta>),
    Created(Vec<TopicChange>),
    Deleted(Vec<TopicDeletion>),
    PartitionsCreated(Vec<Result<(), Refusal>>),
    ConfigsAltered(Vec<Result<(), Refusal>>),
    AutoCreated(Option<TopicMeta>),
    Opened(OpenAllReport),
    /// The request could not be carried out (a partition request failed or got no answer in
    /// a way no Kafka error code describes): the gateway closes the connection with this reason.
    Failed(String),
    /// Not a topics request.
    Refused(Refusal),
    /// The dynamic broker configs as applied here ([`TopicsRequest::BrokerConfigs`]).
    BrokerConfigs(DynamicBrokerConfigs),
    /// [`TopicsRequest::ScramCredential`]'s credential, if the user has one.
    ScramCredential(Option<ScramCredential>),
    /// [`TopicsRequest::DescribeScram`]'s users.
    ScramDescribed(ScramDescriptions),
    /// [`TopicsRequest::Acls`]' ACLs.
    Acls(SharedAcls),
}

/// The answer to a request that changes one topic (create, delete, grow, alter): the topic as
/// changed, or why not.
pub type TopicChange = Result<TopicMeta, Refusal>;

/// The reply to DeleteTopics: every topic's outcome, or why the request failed as a whole.
pub type Deletions = Result<Vec<TopicDeletion>, String>;

/// The reply to Incremental/AlterConfigs: every topic's outcome, or why the request failed.
pub type ConfigAlterations = Result<Vec<Result<(), Refusal>>, String>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants' wire numbers stay (a new one is appended), and each names its topic.
    #[test]
    fn internal_topics_keep_their_wire_numbers_and_names() {
        let wire = |topic: InternalTopic| postcard::to_stdvec(&topic).unwrap();
        assert_eq!(wire(InternalTopic::ConsumerOffsets), [0]);
        assert_eq!(wire(InternalTopic::ConsumerOffsetsImported), [1]);
        assert_eq!(wire(InternalTopic::TransactionState), [2]);
        assert_eq!(
            InternalTopic::named("__consumer_offsets"),
            Some(InternalTopic::ConsumerOffsets)
        );
        assert_eq!(
            InternalTopic::named("__transaction_state"),
            Some(InternalTopic::TransactionState)
        );
        assert_eq!(InternalTopic::named("__transaction_states"), None);
        assert_eq!(InternalTopic::named("orders"), None);
        assert_eq!(
            InternalTopic::ConsumerOffsetsImported.name(),
            "__consumer_offsets"
        );
    }
}
