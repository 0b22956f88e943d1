//! How a committed record changes the [`MetadataImage`] (Kafka's `MetadataDelta.replay`).
//!
//! Applying is deterministic: it reads only the image, the record and the entry's index, so
//! every node that applies the same log holds the same image. The controller checks a change
//! before proposing it, but two proposals can race (a broker fenced while a topic is placed on
//! it) and a node may run a newer or buggier controller than its peers; so a record that does
//! not fit the image (a partition of an unknown topic, a taken name, a stale broker epoch) is
//! skipped — it changes nothing — and the skip is reported to the caller to log. Every node
//! skips the same records, so the images stay equal.
//!
//! Epochs move as Kafka moves them:
//! * a broker's epoch is the index of the entry that registered it; a new incarnation gets
//!   the new entry's index, and fence, unfence, unregister and producer-id records must carry
//!   the current one;
//! * a partition's leader epoch goes up by one with every change record that sets the leader
//!   (even to no leader), and its partition epoch with every change record.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;

use super::image::{
    check_partition, BrokerRegistration, MetadataImage, PartitionImage, TopicImage,
};
use super::records::{Listener, MetadataRecord, TopicId};
use crate::controller::topics::check_name;
use crate::faults::{canary, Canary};
use crate::limits::{
    ACLS_MAX, CLIENT_QUOTA_ENTITIES_MAX, CLIENT_QUOTA_NAME_BYTES_MAX, SCRAM_USERS_MAX,
    TOPIC_PARTITIONS_MAX,
};
use crate::messages::quotas::{check_entity, check_value, QuotaEntity, QuotaValue, QUOTA_KEYS};
use crate::messages::scram::{ScramCredential, ScramMechanism};
use crate::security::acl::{AclBinding, AclId};
use crate::types::{BrokerEpoch, LeaderEpoch, NodeId};

/// Why a record changed nothing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Skip {
    #[error("entry {index} is not after the applied index {applied}")]
    AlreadyApplied { index: u64, applied: u64 },
    #[error("the cluster id is already set")]
    ClusterIdAlreadySet,
    #[error("broker {0} is not registered")]
    UnknownBroker(NodeId),
    #[error("broker {node}: epoch {epoch} is not the registration's epoch {current}")]
    StaleBrokerEpoch {
        node: NodeId,
        epoch: BrokerEpoch,
        current: BrokerEpoch,
    },
    #[error("broker {0} is already registered with this incarnation")]
    SameIncarnation(NodeId),
    #[error("broker {0} registered twice in one entry")]
    RegisteredTwiceInOneEntry(NodeId),
    #[error("{0}")]
    IllegalTopicName(String),
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("topic '{name}' collides with topic '{other}' ('.' and '_' are alike)")]
    TopicCollides { name: String, other: String },
    #[error("topic id {} is taken or reserved", hex(.0))]
    TopicIdTaken(TopicId),
    #[error("no topic has id {}", hex(.0))]
    UnknownTopic(TopicId),
    #[error("partition {got} created where partition {expected} comes next")]
    PartitionOutOfOrder { expected: i32, got: i32 },
    #[error("partition {0} is past the {TOPIC_PARTITIONS_MAX} a topic may have")]
    TooManyPartitions(i32),
    #[error("topic {} has no partition {partition}", hex(.topic))]
    UnknownPartition { topic: TopicId, partition: i32 },
    #[error("partition {partition}: {why}")]
    BadPartition { partition: i32, why: &'static str },
    #[error("partition {0}: an epoch would pass i32::MAX")]
    EpochExhausted(i32),
    #[error("a block of {0} producer ids")]
    BadProducerIdCount(i32),
    #[error("'{0}' is not a dynamic broker config")]
    UnknownBrokerConfig(String),
    #[error("producer ids from {got}, but the ids below {expected} are handed out")]
    ProducerIdsOutOfOrder { expected: i64, got: i64 },
    #[error("producer ids would pass i64::MAX")]
    ProducerIdsExhausted,
    #[error("SCRAM user '{user}': {why}")]
    BadScramCredential { user: String, why: &'static str },
    #[error("SCRAM user '{0}' would be past the {SCRAM_USERS_MAX} users kept")]
    TooManyScramUsers(String),
    #[error("SCRAM user '{user}' has no {mechanism} credential to remove")]
    UnknownScramCredential {
        user: String,
        mechanism: &'static str,
    },
    #[error("ACL {}: {why}", hex(.id))]
    BadAcl { id: AclId, why: String },
    #[error("ACL {} would be past the {ACLS_MAX} ACLs kept", hex(.0))]
    TooManyAcls(AclId),
    #[error("no ACL has id {}", hex(.0))]
    UnknownAcl(AclId),
    #[error("client quota entity {entity}: {why}")]
    BadClientQuota { entity: String, why: String },
    #[error("client quota entity {0} would be past the {CLIENT_QUOTA_ENTITIES_MAX} kept")]
    TooManyQuotaEntities(String),
    #[error("client quota entity {entity} has no {key} to remove")]
    UnknownClientQuota { entity: String, key: String },
}

/// A [`MetadataRecord::ReassignPartition`]'s new assignment.
struct Assignment<'a> {
    replicas: &'a [NodeId],
    adding: &'a [NodeId],
    removing: &'a [NodeId],
}

/// A skipped record of an entry: its position in the entry, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub position: usize,
    pub skip: Skip,
}

/// A topic id as Kafka's tools print a `Uuid`'s bytes in a log line: hex.
fn hex(id: &TopicId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl MetadataImage {
    /// Applies the committed entry at `index` (its records, in order; none for a Raft no-op
    /// or an entry that did not decode, which only move the applied index). An entry at or
    /// before [`MetadataImage::applied_index`] is already in the image (a snapshot holds it)
    /// and is skipped whole.
    pub fn apply_entry(&mut self, index: u64, records: &[MetadataRecord]) -> Vec<Skipped> {
        if index <= self.applied_index {
            let applied = self.applied_index;
            let skip = Skip::AlreadyApplied { index, applied };
            return vec![Skipped { position: 0, skip }];
        }
        self.applied_index = index;
        (records.iter().enumerate())
            .filter_map(|(position, record)| {
                let skip = self.apply_record(index, record).err()?;
                Some(Skipped { position, skip })
            })
            .collect()
    }

    /// Applies one record of the entry at `index`. The records of one entry share its index,
    /// so an index equal to the applied one is the same entry's next record; one below it is
    /// skipped. Callers that apply whole entries use [`MetadataImage::apply_entry`], which also
    /// refuses an entry already in the image.
    pub fn apply(&mut self, index: u64, record: &MetadataRecord) -> Result<(), Skip> {
        if index < self.applied_index {
            let applied = self.applied_index;
            return Err(Skip::AlreadyApplied { index, applied });
        }
        self.applied_index = index;
        self.apply_record(index, record)
    }

    fn apply_record(&mut self, index: u64, record: &MetadataRecord) -> Result<(), Skip> {
        use MetadataRecord as R;
        match record {
            R::InitCluster { cluster_id } => self.init_cluster(*cluster_id),
            R::RegisterBroker {
                node_id,
                incarnation_id,
                listeners,
                rack,
            } => self.register(index, *node_id, *incarnation_id, listeners, rack),
            R::FenceBroker {
                node_id,
                broker_epoch,
            } => self.set_fenced(*node_id, *broker_epoch, true),
            R::UnfenceBroker {
                node_id,
                broker_epoch,
            } => self.set_fenced(*node_id, *broker_epoch, false),
            R::UnregisterBroker {
                node_id,
                broker_epoch,
            } => self.unregister(*node_id, *broker_epoch),
            R::CreateTopic {
                name,
                topic_id,
                configs,
            } => self.create_topic(name, *topic_id, configs),
            R::CreatePartition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => {
                let created = PartitionImage {
                    replicas: replicas.clone(),
                    isr: isr.clone(),
                    leader: *leader,
                    leader_epoch: *leader_epoch,
                    partition_epoch: *partition_epoch,
                    adding: Vec::new(),
                    removing: Vec::new(),
                    elr: Vec::new(),
                };
                self.create_partition(*topic_id, *partition, created)
            }
            R::ChangePartition {
                topic_id,
                partition,
                leader,
                isr,
            } => self.change_partition(*topic_id, *partition, *leader, isr.as_deref(), None),
            R::ReassignPartition {
                topic_id,
                partition,
                replicas,
                adding,
                removing,
                leader,
                isr,
            } => {
                let assignment = Assignment {
                    replicas,
                    adding,
                    removing,
                };
                let isr = isr.as_deref();
                self.change_partition(*topic_id, *partition, *leader, isr, Some(assignment))
            }
            R::SetEligibleLeaders {
                topic_id,
                partition,
                elr,
            } => self.set_eligible_leaders(*topic_id, *partition, elr),
            R::DeleteTopic { topic_id } => self.delete_topic(topic_id),
            R::SetTopicConfig {
                topic_id,
                key,
                value,
            } => self.set_topic_config(topic_id, key, value.as_deref()),
            R::AllocateProducerIds {
                node_id,
                broker_epoch,
                first_id,
                count,
            } => self.allocate_producer_ids(*node_id, *broker_epoch, *first_id, *count),
            R::SetBrokerConfig { broker, key, value } => {
                self.set_broker_config(*broker, key, value.as_deref())
            }
            R::SetScramCredential {
                user,
                mechanism,
                credential,
            } => self.set_scram_credential(user, *mechanism, credential.as_ref()),
            R::CreateAcl { id, binding } => self.create_acl(*id, binding),
            R::RemoveAcl { id } => self.remove_acl(*id),
            R::SetClientQuota { entity, key, value } => self.set_client_quota(entity, key, *value),
        }
    }

    /// Kafka's `AclControlManager.replay` of an `AccessControlEntryRecord`: stores the ACL.
    /// One the image could not keep ([`super::acls::check_acl`]: what CreateAcls refuses, or
    /// past Rill's length bounds), an id in use, a binding already stored (Kafka's image
    /// holds each ACL once) or a new ACL past [`ACLS_MAX`] is skipped.
    fn create_acl(&mut self, id: AclId, binding: &AclBinding) -> Result<(), Skip> {
        let bad = |why: String| Skip::BadAcl { id, why };
        super::acls::check_acl(binding).map_err(|refusal| bad(refusal.message))?;
        if self.acls.len() >= ACLS_MAX {
            return Err(Skip::TooManyAcls(id));
        }
        if self.acls.get(id).is_some() || self.acls.id_of(binding).is_some() {
            return Err(bad("the id or the binding is already stored".into()));
        }
        (Arc::make_mut(&mut self.acls).add(id, binding.clone())).map_err(|e| bad(e.to_string()))
    }

    /// Kafka's replay of a `RemoveAccessControlEntryRecord`: an unknown id is skipped (Kafka
    /// throws there).
    fn remove_acl(&mut self, id: AclId) -> Result<(), Skip> {
        if self.acls.get(id).is_none() {
            return Err(Skip::UnknownAcl(id));
        }
        Arc::make_mut(&mut self.acls)
            .remove(id)
            .map(drop)
            .map_err(|_| Skip::UnknownAcl(id))
    }

    /// Kafka's `ClientQuotaControlManager.replay`: sets or removes `entity`'s `key`. An
    /// entity or value the image could not keep ([`check_entity`], [`check_value`]), a new
    /// entity past [`CLIENT_QUOTA_ENTITIES_MAX`] or the removal of a key the entity lacks is
    /// skipped.
    fn set_client_quota(
        &mut self,
        entity: &QuotaEntity,
        key: &str,
        value: Option<QuotaValue>,
    ) -> Result<(), Skip> {
        let bad = |why: String| Skip::BadClientQuota {
            entity: entity.to_string(),
            why,
        };
        check_entity(entity, CLIENT_QUOTA_NAME_BYTES_MAX).map_err(bad)?;
        if !QUOTA_KEYS.contains(&key) {
            return Err(bad(format!("key {key}")));
        }
        match value {
            Some(value) => {
                check_value(key, value.get()).map_err(bad)?;
                let known = self.client_quotas.contains(entity);
                if !known && self.client_quotas.len() >= CLIENT_QUOTA_ENTITIES_MAX {
                    return Err(Skip::TooManyQuotaEntities(entity.to_string()));
                }
            }
            None if self.client_quotas.get(entity, key).is_none() => {
                return Err(Skip::UnknownClientQuota {
                    entity: entity.to_string(),
                    key: key.to_string(),
                });
            }
            None => {}
        }
        Arc::make_mut(&mut self.client_quotas).set(entity, key, value);
        Ok(())
    }

    /// Kafka's `ScramControlManager.replay`: sets `user`'s credential for `mechanism`, or
    /// removes it (a user left with none is gone). A credential the image could not keep (see
    /// [`super::scram::check_credential`]), a new user past [`SCRAM_USERS_MAX`] or the removal
    /// of a credential the user lacks (Kafka throws there) is skipped.
    fn set_scram_credential(
        &mut self,
        user: &str,
        mechanism: ScramMechanism,
        credential: Option<&ScramCredential>,
    ) -> Result<(), Skip> {
        let Some(credential) = credential else {
            if !(self.scram.get(user)).is_some_and(|c| c.contains_key(&mechanism)) {
                return Err(Skip::UnknownScramCredential {
                    user: user.to_string(),
                    mechanism: mechanism.name(),
                });
            }
            let users = Arc::make_mut(&mut self.scram);
            let credentials = users.get_mut(user).expect("checked above");
            credentials.remove(&mechanism);
            if credentials.is_empty() {
                users.remove(user);
            }
            return Ok(());
        };
        super::scram::check_credential(user, mechanism, credential).map_err(|why| {
            Skip::BadScramCredential {
                user: user.to_string(),
                why,
            }
        })?;
        if !self.scram.contains_key(user) && self.scram.len() >= SCRAM_USERS_MAX {
            return Err(Skip::TooManyScramUsers(user.to_string()));
        }
        (Arc::make_mut(&mut self.scram).entry(user.to_string()))
            .or_default()
            .insert(mechanism, credential.clone());
        Ok(())
    }

    fn set_broker_config(
        &mut self,
        broker: Option<NodeId>,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), Skip> {
        if !super::broker_config::DYNAMIC_BROKER_KEYS.contains(&key) {
            return Err(Skip::UnknownBrokerConfig(key.to_string()));
        }
        let configs = self.broker_configs.entry(broker).or_default();
        match value {
            Some(value) => configs.insert(key.to_string(), value.to_string()),
            None => configs.remove(key),
        };
        // An entity without configs is not kept, so that images compare by what they say.
        if configs.is_empty() {
            self.broker_configs.remove(&broker);
        }
        Ok(())
    }

    fn init_cluster(&mut self, cluster_id: [u8; 16]) -> Result<(), Skip> {
        if self.cluster_id.is_some() {
            return Err(Skip::ClusterIdAlreadySet);
        }
        self.cluster_id = Some(cluster_id);
        Ok(())
    }

    fn register(
        &mut self,
        index: u64,
        node: NodeId,
        incarnation_id: [u8; 16],
        listeners: &[Listener],
        rack: &Option<String>,
    ) -> Result<(), Skip> {
        if let Some(old) = self.brokers.get(&node) {
            if old.incarnation_id == incarnation_id {
                return Err(Skip::SameIncarnation(node));
            }
            if old.epoch.0 >= index {
                return Err(Skip::RegisteredTwiceInOneEntry(node));
            }
        }
        let registration = BrokerRegistration {
            epoch: BrokerEpoch(index),
            incarnation_id,
            listeners: listeners.to_vec(),
            rack: rack.clone(),
            fenced: true,
        };
        self.brokers.insert(node, registration);
        Ok(())
    }

    /// The registration of `node`, if `epoch` is its current one.
    fn registration_at(
        &mut self,
        node: NodeId,
        epoch: BrokerEpoch,
    ) -> Result<&mut BrokerRegistration, Skip> {
        let broker = self
            .brokers
            .get_mut(&node)
            .ok_or(Skip::UnknownBroker(node))?;
        if broker.epoch != epoch {
            let current = broker.epoch;
            return Err(Skip::StaleBrokerEpoch {
                node,
                epoch,
                current,
            });
        }
        Ok(broker)
    }

    fn set_fenced(&mut self, node: NodeId, epoch: BrokerEpoch, fenced: bool) -> Result<(), Skip> {
        self.registration_at(node, epoch)?.fenced = fenced;
        Ok(())
    }

    fn unregister(&mut self, node: NodeId, epoch: BrokerEpoch) -> Result<(), Skip> {
        self.registration_at(node, epoch)?;
        self.brokers.remove(&node);
        Ok(())
    }

    fn create_topic(
        &mut self,
        name: &str,
        id: TopicId,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), Skip> {
        check_name(name).map_err(|r| Skip::IllegalTopicName(r.message))?;
        if self.topic_ids.contains_key(name) {
            return Err(Skip::TopicExists(name.to_string()));
        }
        if let Some(other) = self.colliding_topic(name) {
            let (name, other) = (name.to_string(), other.to_string());
            return Err(Skip::TopicCollides { name, other });
        }
        // Kafka's zero Uuid means "no topic id".
        if id == [0; 16] || self.topics.contains_key(&id) || self.was_deleted(&id) {
            return Err(Skip::TopicIdTaken(id));
        }
        let topic = TopicImage {
            name: name.to_string(),
            id,
            configs: configs.clone(),
            partitions: Default::default(),
        };
        self.topics.insert(id, topic);
        self.topic_ids.insert(name.to_string(), id);
        Ok(())
    }

    fn topic_mut(&mut self, id: &TopicId) -> Result<&mut TopicImage, Skip> {
        self.topics.get_mut(id).ok_or(Skip::UnknownTopic(*id))
    }

    fn create_partition(
        &mut self,
        topic_id: TopicId,
        partition: i32,
        created: PartitionImage,
    ) -> Result<(), Skip> {
        let topic = self.topic_mut(&topic_id)?;
        let expected = topic.partitions.len() as i32;
        if partition != expected {
            return Err(Skip::PartitionOutOfOrder {
                expected,
                got: partition,
            });
        }
        if partition >= TOPIC_PARTITIONS_MAX {
            return Err(Skip::TooManyPartitions(partition));
        }
        check_partition(&created).map_err(|why| Skip::BadPartition { partition, why })?;
        topic.partitions.insert(partition, created);
        Ok(())
    }

    fn change_partition(
        &mut self,
        topic: TopicId,
        partition: i32,
        leader: Option<Option<NodeId>>,
        isr: Option<&[NodeId]>,
        assignment: Option<Assignment<'_>>,
    ) -> Result<(), Skip> {
        let current = (self.topic_mut(&topic)?.partitions.get_mut(&partition))
            .ok_or(Skip::UnknownPartition { topic, partition })?;
        let mut changed = current.clone();
        if let Some(leader) = leader {
            changed.leader = leader;
            if !canary(Canary::LeaderEpochKept) {
                changed.leader_epoch = (changed.leader_epoch.0.checked_add(1))
                    .map(LeaderEpoch)
                    .ok_or(Skip::EpochExhausted(partition))?;
            }
        }
        if let Some(isr) = isr {
            changed.isr = isr.to_vec();
        }
        if let Some(assignment) = assignment {
            changed.replicas = assignment.replicas.to_vec();
            changed.adding = assignment.adding.to_vec();
            changed.removing = assignment.removing.to_vec();
        }
        // A replica that joins the ISR, or leaves the assignment, is no longer an eligible
        // leader replica; the entry's `SetEligibleLeaders` says who joins.
        let (isr, replicas) = (&changed.isr, &changed.replicas);
        changed
            .elr
            .retain(|r| !isr.contains(r) && replicas.contains(r));
        changed.partition_epoch =
            (changed.partition_epoch.checked_add(1)).ok_or(Skip::EpochExhausted(partition))?;
        check_partition(&changed).map_err(|why| Skip::BadPartition { partition, why })?;
        *current = changed;
        Ok(())
    }

    fn set_eligible_leaders(
        &mut self,
        topic: TopicId,
        partition: i32,
        elr: &[NodeId],
    ) -> Result<(), Skip> {
        let current = (self.topic_mut(&topic)?.partitions.get_mut(&partition))
            .ok_or(Skip::UnknownPartition { topic, partition })?;
        let mut changed = current.clone();
        changed.elr = elr.to_vec();
        check_partition(&changed).map_err(|why| Skip::BadPartition { partition, why })?;
        *current = changed;
        Ok(())
    }

    fn delete_topic(&mut self, id: &TopicId) -> Result<(), Skip> {
        let topic = self.topics.remove(id).ok_or(Skip::UnknownTopic(*id))?;
        self.topic_ids.remove(&topic.name);
        self.remember_deleted(*id);
        Ok(())
    }

    fn set_topic_config(
        &mut self,
        id: &TopicId,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), Skip> {
        let configs = &mut self.topic_mut(id)?.configs;
        match value {
            Some(value) => configs.insert(key.to_string(), value.to_string()),
            None => configs.remove(key),
        };
        Ok(())
    }

    fn allocate_producer_ids(
        &mut self,
        node: NodeId,
        epoch: BrokerEpoch,
        first_id: i64,
        count: i32,
    ) -> Result<(), Skip> {
        self.registration_at(node, epoch)?;
        if count < 1 {
            return Err(Skip::BadProducerIdCount(count));
        }
        // A block may start past the next id (the leader skips the ids a single-node broker
        // handed out from its own file before upgrading), never before it.
        let expected = self.next_producer_id;
        if first_id < expected {
            return Err(Skip::ProducerIdsOutOfOrder {
                expected,
                got: first_id,
            });
        }
        self.next_producer_id =
            (first_id.checked_add(i64::from(count))).ok_or(Skip::ProducerIdsExhausted)?;
        Ok(())
    }
}
