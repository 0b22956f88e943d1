//! The records of the metadata log (Kafka's KRaft metadata records, `common/metadata/*.json`),
//! and the bytes one Raft entry carries.
//!
//! An entry's [`crate::controller::raft::msg::Payload::Command`] is [`encode`]d: a format-version
//! byte ([`RECORDS_FORMAT_VERSION`]), then the postcard encoding of the entry's records. The
//! records of one entry are applied together at the entry's index, as Kafka applies an atomic
//! batch (a topic and its partitions; a fence and the leader moves it causes), so a leader
//! that fails between two of them can't leave half a change in the log.
//!
//! Decoding takes bytes that every voter has agreed on but that a bug or a newer node may have
//! written: it never panics, and it allocates only as postcard does from a bounded slice
//! (strings and arrays are checked against the bytes left; a sequence reserves at most 1 MiB
//! from its declared count before its elements run out of bytes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::messages::quotas::{QuotaEntity, QuotaValue};
use crate::security::acl::{AclBinding, AclId};
use crate::security::scram::{ScramCredential, ScramMechanism};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId};

/// Kafka's topic id (a `Uuid`): it names a topic for the topic's whole life, so a topic
/// deleted and created again under the same name is a different topic.
pub type TopicId = [u8; 16];

/// The first byte of every encoded entry. Bump it when a record's layout changes (postcard
/// has no field tags); a node refuses a version it does not know rather than misreading it.
pub const RECORDS_FORMAT_VERSION: u8 = 1;

/// One change to the cluster's metadata. Field order is the postcard layout: append new
/// variants at the end, never reorder (or bump [`RECORDS_FORMAT_VERSION`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// The cluster's id, proposed by the first leader of the quorum in its first command
    /// (Kafka writes it at `kafka-storage format` time instead). Only the first one applied
    /// counts; a later one is skipped.
    InitCluster { cluster_id: [u8; 16] },
    /// Kafka's `RegisterBrokerRecord`. The broker's epoch is the index of the entry holding
    /// this record. A registration with a new `incarnation_id` (the broker process restarted)
    /// replaces the old one; the broker starts fenced either way.
    RegisterBroker {
        node_id: NodeId,
        /// Chosen at random by the broker process when it starts (Kafka's `incarnationId`).
        incarnation_id: [u8; 16],
        listeners: Vec<Listener>,
        rack: Option<String>,
    },
    /// Kafka's `FenceBrokerRecord` (and `BrokerRegistrationChangeRecord` with `fenced = 1`):
    /// the broker stops being a leader candidate. Skipped when `broker_epoch` is not the
    /// registration's (a fence meant for an earlier incarnation).
    FenceBroker {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// Kafka's `UnfenceBrokerRecord`: the broker caught up with the metadata log and may lead.
    /// Skipped when `broker_epoch` is stale.
    UnfenceBroker {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// Kafka's `UnregisterBrokerRecord`: the registration is removed. Skipped when
    /// `broker_epoch` is stale.
    UnregisterBroker {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// Kafka's `TopicRecord`, with the topic's config overrides (Kafka's `ConfigRecord`s) in
    /// the same record. Its partitions follow as [`MetadataRecord::CreatePartition`]s in the
    /// same entry.
    CreateTopic {
        name: String,
        topic_id: TopicId,
        configs: BTreeMap<String, String>,
    },
    /// Kafka's `PartitionRecord`: partition `partition` of the topic, which must be the next
    /// one (partitions are numbered from 0 without gaps).
    CreatePartition {
        topic_id: TopicId,
        partition: i32,
        /// The assignment, preferred leader first.
        replicas: Vec<NodeId>,
        isr: Vec<NodeId>,
        /// `None`: no leader (the partition is offline).
        leader: Option<NodeId>,
        leader_epoch: LeaderEpoch,
        partition_epoch: i32,
    },
    /// Kafka's `PartitionChangeRecord`: `None` fields are left as they are. As in Kafka, a
    /// record that carries a leader (`Some`, even `Some(None)`) bumps the leader epoch, and
    /// every change record bumps the partition epoch.
    ChangePartition {
        topic_id: TopicId,
        partition: i32,
        /// `Some(None)`: the partition loses its leader.
        leader: Option<Option<NodeId>>,
        isr: Option<Vec<NodeId>>,
    },
    /// Kafka's `RemoveTopicRecord`: the topic and all its partitions go.
    DeleteTopic { topic_id: TopicId },
    /// Kafka's `ConfigRecord` for a topic: sets one override, or removes it (`None`).
    SetTopicConfig {
        topic_id: TopicId,
        key: String,
        value: Option<String>,
    },
    /// Kafka's `ProducerIdsRecord`: the block `first_id..first_id + count` goes to the broker,
    /// which hands its ids to InitProducerId. `first_id` must be at least the image's next
    /// block start (it may skip ids, never reuse one), so blocks never overlap and only grow.
    AllocateProducerIds {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
        first_id: i64,
        count: i32,
    },
    /// Kafka's `PartitionChangeRecord` with its `replicas`, `addingReplicas` and
    /// `removingReplicas` fields: a reassignment's step ([`super::reassign`]). The assignment
    /// becomes `replicas`, with `adding` and `removing` naming the reassignment under way (both
    /// empty: none, or it just completed). `leader` and `isr` as in
    /// [`MetadataRecord::ChangePartition`]; the partition epoch is bumped.
    ReassignPartition {
        topic_id: TopicId,
        partition: i32,
        replicas: Vec<NodeId>,
        adding: Vec<NodeId>,
        removing: Vec<NodeId>,
        leader: Option<Option<NodeId>>,
        isr: Option<Vec<NodeId>>,
    },
    /// Kafka's `PartitionChangeRecord.eligibleLeaderReplicas` (KIP-966): the partition's
    /// eligible leader replicas become `elr` ([`super::eligible`]). It follows the change of
    /// the ISR it comes from in the same entry; it moves neither epoch (no leader acts on it).
    SetEligibleLeaders {
        topic_id: TopicId,
        partition: i32,
        elr: Vec<NodeId>,
    },
    /// Kafka's `ConfigRecord` for a BROKER resource: sets one dynamic config of `broker`
    /// (`None`: the cluster-wide default, the resource named `""`), or removes it (`None`).
    /// Only the keys [`super::broker_config::DYNAMIC_BROKER_KEYS`] names apply.
    SetBrokerConfig {
        broker: Option<NodeId>,
        key: String,
        value: Option<String>,
    },
    /// Kafka's `UserScramCredentialRecord` (`credential` set) and
    /// `RemoveUserScramCredentialRecord` (`None`): `user`'s credential for `mechanism`
    /// ([`super::scram`]). The mechanism's postcard form is its variant's position in
    /// [`ScramMechanism`] (SHA-256 0, SHA-512 1), part of this layout.
    SetScramCredential {
        user: String,
        mechanism: ScramMechanism,
        credential: Option<ScramCredential>,
    },
    /// Kafka's `AccessControlEntryRecord`: the ACL `binding` is stored under `id` (Kafka's
    /// `Uuid`, drawn by the controller from its seeded random numbers, as topic ids are;
    /// [`super::acls`]). The binding's enums are their Kafka codes (`i8`), part of this
    /// layout.
    CreateAcl { id: AclId, binding: AclBinding },
    /// Kafka's `RemoveAccessControlEntryRecord`: the ACL stored under `id` goes.
    RemoveAcl { id: AclId },
    /// Kafka's `ClientQuotaRecord`: sets `entity`'s quota `key` (`None`: removes it; the
    /// entity goes with its last key) ([`super::client_quotas`]).
    SetClientQuota {
        entity: QuotaEntity,
        key: String,
        value: Option<QuotaValue>,
    },
}

/// A broker's listener: the registration request carries it as the log does.
pub use crate::messages::quorum::Listener;

/// Why an entry's bytes are not records.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty: no format version")]
    Empty,
    #[error("format version {0} is not known (this node reads {RECORDS_FORMAT_VERSION})")]
    UnknownVersion(u8),
    #[error("not a list of metadata records: {0}")]
    Malformed(String),
    #[error("{0} bytes after the last record")]
    TrailingBytes(usize),
}

/// The bytes of one Raft entry holding `records` (applied together, in order).
pub fn encode(records: &[MetadataRecord]) -> Vec<u8> {
    let out = vec![RECORDS_FORMAT_VERSION];
    postcard::to_extend(records, out).expect("metadata records always encode")
}

/// The records of one Raft entry's bytes.
pub fn decode(bytes: &[u8]) -> Result<Vec<MetadataRecord>, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != RECORDS_FORMAT_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let (records, rest) = postcard::take_from_bytes::<Vec<MetadataRecord>>(body)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(records)
}
