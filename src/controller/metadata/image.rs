//! The applied metadata (Kafka's `MetadataImage`): what every controller and broker knows
//! after applying the committed log up to [`MetadataImage::applied_index`].
//!
//! Everything is in ordered maps, so iterating the image (a snapshot, an election over its
//! partitions, a Metadata answer) gives the same order on every node. The fields are private:
//! only [`super::apply`] changes them, one record at a time, and only in ways that keep the
//! invariants [`MetadataImage::check`] states.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::records::{Listener, TopicId};
use crate::controller::topics::{check_name, collision_key};
use crate::limits::{
    ACLS_MAX, CLIENT_QUOTA_ENTITIES_MAX, CLIENT_QUOTA_NAME_BYTES_MAX, DELETED_TOPIC_IDS_KEPT,
    SCRAM_USERS_MAX, TOPIC_PARTITIONS_MAX,
};
use crate::messages::acls::SharedAcls;
use crate::messages::quotas::SharedClientQuotas;
use crate::messages::scram::{ScramCredential, ScramMechanism, SharedScramCredentials};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId};

/// The applied state. `PartialEq` compares everything, the name index included, so two
/// images are equal exactly when every query answers the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// The index of the last Raft entry applied (0 before the first).
    pub(super) applied_index: u64,
    /// Set by the first `InitCluster` applied.
    pub(super) cluster_id: Option<[u8; 16]>,
    pub(super) brokers: BTreeMap<NodeId, BrokerRegistration>,
    pub(super) topics: BTreeMap<TopicId, TopicImage>,
    /// Derived from `topics` (rebuilt after a snapshot load, so not in the snapshot).
    #[serde(skip)]
    pub(super) topic_ids: BTreeMap<String, TopicId>,
    /// The first producer id of the next block (Kafka's `nextProducerId`); ids below it are
    /// handed out.
    pub(super) next_producer_id: i64,
    /// The ids of deleted topics, keyed in deletion order (numbered from 0 by the first
    /// deletion this image applied or loaded), at most [`DELETED_TOPIC_IDS_KEPT`] (finding one
    /// scans them: a creation is rare next to this): no topic takes one again, and a broker removes a
    /// partition directory that names one (it was down while the topic was deleted: Kafka
    /// 3.7's stray logs). Unlike "not in the image", "deleted" never depends on how far the
    /// broker's view has caught up. In the snapshot after the image (format 2).
    #[serde(skip)]
    pub(super) deleted_topics: BTreeMap<u64, TopicId>,
    /// Dynamic broker configs (Kafka's `ConfigRecord`s of BROKER resources): by broker, `None`
    /// for the cluster-wide default (the resource named `""`). Only the keys
    /// [`super::broker_config`] admits. In the snapshot after the ELR (format 5).
    #[serde(skip)]
    pub(super) broker_configs: BTreeMap<Option<NodeId>, BTreeMap<String, String>>,
    /// Every user's SCRAM credentials (Kafka's `ScramImage`), shared with the topics actor's
    /// view (a change copies the map once, [`std::sync::Arc::make_mut`]). At most
    /// [`SCRAM_USERS_MAX`] users, each with at least one credential ([`super::scram`]). In
    /// the snapshot after the broker configs (format 6).
    #[serde(skip)]
    pub(super) scram: SharedScramCredentials,
    /// Every ACL by id (Kafka's `AclsImage`), shared with the topics actor's view as the
    /// SCRAM credentials are. Its settings are the default: a node checks them under its own
    /// (`Authorizer::authorize_as`). At most [`ACLS_MAX`], each one
    /// [`super::acls::check_acl`] admits. In the snapshot after the SCRAM credentials
    /// (format 7).
    #[serde(skip)]
    pub(super) acls: SharedAcls,
    /// Every client quota (Kafka's `ClientQuotasImage`), shared with the gateway as the ACLs
    /// are. At most [`CLIENT_QUOTA_ENTITIES_MAX`] entities, each with at least one key
    /// ([`crate::messages::quotas::ClientQuotas::check`]). In the snapshot after the ACLs
    /// (format 8).
    #[serde(skip)]
    pub(super) client_quotas: SharedClientQuotas,
}

/// A registered broker (Kafka's `BrokerRegistration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    pub epoch: BrokerEpoch,
    pub incarnation_id: [u8; 16],
    pub listeners: Vec<Listener>,
    pub rack: Option<String>,
    /// A fenced broker is no leader candidate; every registration starts fenced.
    pub fenced: bool,
}

/// A topic and its partitions (Kafka's `TopicImage`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub id: TopicId,
    pub configs: BTreeMap<String, String>,
    /// Keyed 0, 1, … without gaps.
    pub partitions: BTreeMap<i32, PartitionImage>,
}

/// A partition's assignment and leadership (Kafka's `PartitionRegistration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    /// The assignment, preferred leader first: the order elections try replicas in.
    pub replicas: Vec<NodeId>,
    /// The in-sync replicas, a subset of `replicas`: empty only while the partition has no
    /// leader and waits for one of its eligible leader replicas ([`super::eligible`]).
    pub isr: Vec<NodeId>,
    /// A member of the ISR, or `None` (offline).
    pub leader: Option<NodeId>,
    /// Bumped by every change that sets the leader.
    pub leader_epoch: LeaderEpoch,
    /// Bumped by every change (Kafka's `partitionEpoch`, which AlterPartition must match).
    pub partition_epoch: i32,
    /// An ongoing reassignment's new replicas (Kafka's `addingReplicas`): in `replicas`, and
    /// the reassignment completes once every one is in the ISR ([`super::reassign`]). Empty
    /// with no reassignment. Not in the image's postcard layout: a snapshot carries the
    /// ongoing reassignments after the image (format 3), so older snapshots still load.
    #[serde(skip)]
    pub adding: Vec<NodeId>,
    /// An ongoing reassignment's leaving replicas (Kafka's `removingReplicas`): in
    /// `replicas` until the reassignment completes.
    #[serde(skip)]
    pub removing: Vec<NodeId>,
    /// Kafka's eligible leader replicas (KIP-966, [`super::eligible`]): replicas outside the
    /// ISR that hold everything below the high watermark, so may lead when no ISR member
    /// can. Assigned replicas, none in the ISR, in assignment order. In a snapshot after the
    /// reassignments (format 4).
    #[serde(skip)]
    pub elr: Vec<NodeId>,
}

impl PartitionImage {
    /// Whether a reassignment is under way.
    pub fn reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }
}

impl MetadataImage {
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// The dynamic configs of `broker` (`None`: the cluster-wide default), if it has any.
    pub fn broker_configs(&self, broker: Option<NodeId>) -> Option<&BTreeMap<String, String>> {
        self.broker_configs.get(&broker)
    }

    /// The cluster-wide `min.insync.replicas` in the metadata log (see
    /// [`super::broker_config::seed_min_isr`]); `None` before the first controller wrote it.
    pub fn cluster_min_isr(&self) -> Option<u32> {
        super::broker_config::cluster_min_isr(&self.broker_configs)
    }

    /// Every entity's dynamic broker configs (`None`: the cluster-wide default).
    pub fn all_broker_configs(&self) -> &BTreeMap<Option<NodeId>, BTreeMap<String, String>> {
        &self.broker_configs
    }

    /// Every user's SCRAM credentials (shared: cloning the `Arc` copies nothing).
    pub fn scram_credentials(&self) -> &SharedScramCredentials {
        &self.scram
    }

    /// `user`'s credential for `mechanism`, if it has one.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<&ScramCredential> {
        self.scram.get(user)?.get(&mechanism)
    }

    /// Every ACL (shared: cloning the `Arc` copies nothing).
    pub fn acls(&self) -> &SharedAcls {
        &self.acls
    }

    /// Every client quota (shared: cloning the `Arc` copies nothing).
    pub fn client_quotas(&self) -> &SharedClientQuotas {
        &self.client_quotas
    }

    pub fn cluster_id(&self) -> Option<[u8; 16]> {
        self.cluster_id
    }

    pub fn broker(&self, node: NodeId) -> Option<&BrokerRegistration> {
        self.brokers.get(&node)
    }

    /// Every registered broker, fenced or not, by id.
    pub fn brokers(&self) -> impl Iterator<Item = (NodeId, &BrokerRegistration)> {
        self.brokers.iter().map(|(id, b)| (*id, b))
    }

    /// Registered and unfenced: may lead partitions and receive new replicas.
    pub fn is_unfenced(&self, node: NodeId) -> bool {
        self.brokers.get(&node).is_some_and(|b| !b.fenced)
    }

    /// The unfenced brokers, by id: the candidates of [`super::placement`].
    pub fn live_brokers(&self) -> Vec<NodeId> {
        (self.brokers.iter())
            .filter(|(_, b)| !b.fenced)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn topic(&self, id: &TopicId) -> Option<&TopicImage> {
        self.topics.get(id)
    }

    pub fn topic_by_name(&self, name: &str) -> Option<&TopicImage> {
        self.topic_ids.get(name).and_then(|id| self.topics.get(id))
    }

    /// Every topic, by id.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values()
    }

    pub fn partition(&self, topic: &TopicId, partition: i32) -> Option<&PartitionImage> {
        self.topics.get(topic)?.partitions.get(&partition)
    }

    /// The ids of deleted topics the image keeps, oldest first.
    pub fn deleted_topic_ids(&self) -> impl Iterator<Item = &TopicId> {
        self.deleted_topics.values()
    }

    pub fn was_deleted(&self, id: &TopicId) -> bool {
        self.deleted_topics.values().any(|d| d == id)
    }

    /// Keeps `id` as deleted, forgetting the oldest beyond [`DELETED_TOPIC_IDS_KEPT`].
    pub(super) fn remember_deleted(&mut self, id: TopicId) {
        let next = self
            .deleted_topics
            .last_key_value()
            .map_or(0, |(n, _)| n + 1);
        self.deleted_topics.insert(next, id);
        while self.deleted_topics.len() > DELETED_TOPIC_IDS_KEPT {
            self.deleted_topics.pop_first();
        }
    }

    /// The first id of the next producer-id block.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }

    /// The existing topic whose name collides with `name` ('.' and '_' alike), if any.
    pub(super) fn colliding_topic(&self, name: &str) -> Option<&str> {
        let key = collision_key(name);
        (self.topic_ids.keys())
            .find(|t| collision_key(t) == key)
            .map(String::as_str)
    }

    /// Rebuilds the name index from the topics (after a snapshot load).
    pub(super) fn index_names(&mut self) {
        self.topic_ids = (self.topics.values())
            .map(|t| (t.name.clone(), t.id))
            .collect();
    }

    /// Every invariant `apply` keeps, checked over the whole image: what a snapshot load
    /// refuses when it fails, and what the tests assert after every entry.
    pub fn check(&self) -> Result<(), String> {
        for (node, broker) in &self.brokers {
            if broker.epoch.0 > self.applied_index {
                return Err(format!(
                    "broker {node}: epoch {} is past the applied index {}",
                    broker.epoch, self.applied_index
                ));
            }
        }
        if self.next_producer_id < 0 {
            return Err(format!("next producer id {}", self.next_producer_id));
        }
        if self.topic_ids.len() != self.topics.len() {
            return Err("two topics share a name".into());
        }
        if self.deleted_topics.len() > DELETED_TOPIC_IDS_KEPT {
            return Err(format!(
                "{} deleted topic ids kept",
                self.deleted_topics.len()
            ));
        }
        let deleted: BTreeSet<&TopicId> = self.deleted_topics.values().collect();
        if deleted.len() != self.deleted_topics.len() {
            return Err("a topic id was deleted twice".into());
        }
        self.check_scram()?;
        self.check_acls()?;
        (self.client_quotas)
            .check(CLIENT_QUOTA_ENTITIES_MAX, CLIENT_QUOTA_NAME_BYTES_MAX)
            .map_err(|e| format!("client quotas: {e}"))?;
        let mut collision_keys = BTreeSet::new();
        for (id, topic) in &self.topics {
            if deleted.contains(id) {
                return Err(format!("topic '{}' has a deleted topic's id", topic.name));
            }
            self.check_topic(id, topic)?;
            if !collision_keys.insert(collision_key(&topic.name)) {
                return Err(format!("topic '{}' collides with another", topic.name));
            }
        }
        Ok(())
    }

    /// The SCRAM credentials' invariants: at most [`SCRAM_USERS_MAX`] users, each with at
    /// least one credential, every credential one [`super::scram::check_credential`] admits.
    fn check_scram(&self) -> Result<(), String> {
        if self.scram.len() > SCRAM_USERS_MAX {
            return Err(format!("{} SCRAM users", self.scram.len()));
        }
        for (user, credentials) in self.scram.iter() {
            if credentials.is_empty() {
                return Err(format!("SCRAM user '{user}' without a credential"));
            }
            for (mechanism, credential) in credentials {
                super::scram::check_credential(user, *mechanism, credential)
                    .map_err(|why| format!("SCRAM user '{user}', {}: {why}", mechanism.name()))?;
            }
        }
        Ok(())
    }

    /// The ACLs' invariants: at most [`ACLS_MAX`], each one [`super::acls::check_acl`]
    /// admits (the authorizer itself keeps ids and bindings unique).
    fn check_acls(&self) -> Result<(), String> {
        if self.acls.len() > ACLS_MAX {
            return Err(format!("{} ACLs", self.acls.len()));
        }
        for (_, binding) in self.acls.iter() {
            super::acls::check_acl(binding).map_err(|r| format!("ACL {binding}: {}", r.message))?;
        }
        Ok(())
    }

    fn check_topic(&self, id: &TopicId, topic: &TopicImage) -> Result<(), String> {
        let name = &topic.name;
        if topic.id != *id || self.topic_ids.get(name) != Some(id) {
            return Err(format!("topic '{name}' is filed under another id or name"));
        }
        check_name(name).map_err(|r| r.message)?;
        if topic.partitions.len() > TOPIC_PARTITIONS_MAX as usize {
            return Err(format!("topic '{name}' has too many partitions"));
        }
        for (expected, (index, partition)) in (0..).zip(&topic.partitions) {
            if *index != expected {
                return Err(format!("topic '{name}': partition {index} after a gap"));
            }
            check_partition(partition).map_err(|e| format!("{name}-{index}: {e}"))?;
        }
        Ok(())
    }
}

/// A partition's own invariants (Kafka's `PartitionRegistration` checks, ELR aside).
pub(super) fn check_partition(p: &PartitionImage) -> Result<(), &'static str> {
    if p.replicas.is_empty() {
        return Err("no replicas");
    }
    if p.replicas.len() > i16::MAX as usize {
        return Err("more replicas than a replication factor can count");
    }
    let replicas: BTreeSet<NodeId> = p.replicas.iter().copied().collect();
    if replicas.len() != p.replicas.len() {
        return Err("a replica appears twice");
    }
    if p.isr.is_empty() && (p.elr.is_empty() || p.leader.is_some()) {
        return Err("empty ISR with a leader or without eligible leader replicas");
    }
    let isr: BTreeSet<NodeId> = p.isr.iter().copied().collect();
    if isr.len() != p.isr.len() || !isr.is_subset(&replicas) {
        return Err("the ISR is not a set of replicas");
    }
    let elr: BTreeSet<NodeId> = p.elr.iter().copied().collect();
    if elr.len() != p.elr.len() || !elr.is_subset(&replicas) || !elr.is_disjoint(&isr) {
        return Err("the eligible leader replicas are not a set of replicas outside the ISR");
    }
    if p.leader.is_some_and(|l| !isr.contains(&l)) {
        return Err("the leader is not in the ISR");
    }
    if p.leader_epoch.0 < 0 || p.partition_epoch < 0 {
        return Err("negative epoch");
    }
    let adding: BTreeSet<NodeId> = p.adding.iter().copied().collect();
    let removing: BTreeSet<NodeId> = p.removing.iter().copied().collect();
    let sets = adding.len() == p.adding.len() && removing.len() == p.removing.len();
    if !sets || !adding.is_subset(&replicas) || !removing.is_subset(&replicas) {
        return Err("adding or removing replicas that are not a set of replicas");
    }
    if !adding.is_disjoint(&removing) {
        return Err("a replica both added and removed");
    }
    if removing.len() >= replicas.len() {
        return Err("a reassignment that removes every replica");
    }
    Ok(())
}
