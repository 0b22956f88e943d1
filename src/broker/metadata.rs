//! Metadata: brokers, topics and partition leaders, for the whole cluster, from the metadata
//! log as this node applied it: the live brokers, each partition's replicas, ISR and leader
//! (none: LEADER_NOT_AVAILABLE, leader -1). A partition this node leads whose log is offline
//! (cannot be opened) carries KAFKA_STORAGE_ERROR and lists this node as an offline replica.
//!
//! Each partition's leader epoch (v7+) is the metadata's, the one its leader's log stamps and
//! checks Fetch's `current_leader_epoch` against (`partition::leaders`).

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::SemaphorePermit;

use super::authorize::TOPIC_OPERATIONS;
use super::describe_quorum::broker_id;
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::{AutoCreateRequest, NodeMsg, TopicMeta, OFFSETS_TOPIC};
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::types::topic_name;
use crate::types::TopicPartition;
use crate::types::{ErrorCode, LeaderEpoch};

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn metadata(
        &self,
        request: MetadataRequest,
        version: i16,
        turn: Option<SemaphorePermit<'_>>,
        frame: &KafkaRequest,
    ) -> Result<MetadataResponse, GatewayError> {
        let listener = frame.context.listener.as_str();
        let access = self.access(frame, "Metadata");
        let by_id = asked_ids(&request);
        let wanted: Option<Vec<String>> = request.topics.map(|topics| {
            distinct_names(
                topics
                    .iter()
                    .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str())),
            )
        });
        // The names are merged: what is left costs no more than the distinct topics, so the
        // turn goes back before the registry is asked (and topics are auto-created).
        drop(turn);
        let known = self.list_topics().await?;
        let (wanted, unknown_ids) = add_named_by_id(wanted, &by_id, &known);
        // In v0 the list is not nullable: empty means "all topics" (null from v1).
        let wanted = wanted.filter(|names| version > 0 || !names.is_empty());
        // v0-v3 always allow auto-creation; later versions say per request.
        let may_create =
            self.settings.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
        // Kafka's checks: DESCRIBE on each topic — all topics lists only those, a list names
        // the others with TOPIC_AUTHORIZATION_FAILED (existing or not); auto-creating one
        // needs CREATE on the cluster or the topic, else it is refused the same way.
        let describable =
            |name: &str| access.sees(AclOperation::Describe, ResourceType::Topic, name);
        let may_create_any = access.sees(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME);
        let mut refused: Vec<&String> = Vec::new();
        // Each topic with what the registry knows of it.
        let listed: Vec<(String, Option<TopicMeta>)> = match &wanted {
            None => known
                .iter()
                .filter(|(name, _)| describable(name))
                .map(|(name, meta)| (name.clone(), Some(meta.clone())))
                .collect(),
            Some(names) => {
                let mut listed = Vec::with_capacity(names.len());
                for name in names {
                    // Named: a refusal is logged (Kafka leaves only all-topics' unlogged).
                    if !access.allows(AclOperation::Describe, ResourceType::Topic, name) {
                        refused.push(name);
                        continue;
                    }
                    let meta = match known.get(name) {
                        Some(meta) => Some(meta.clone()),
                        None if may_create
                            && topic_name::is_legal(name)
                            && !may_create_any
                            && !access.allows(AclOperation::Create, ResourceType::Topic, name) =>
                        {
                            refused.push(name);
                            continue;
                        }
                        // Created by the topics actor after any administration queued before;
                        // a topic it cannot create (or an actor that does not answer) is
                        // reported unknown.
                        None if may_create && topic_name::is_legal(name) => {
                            let create = AutoCreateRequest { name: name.clone() };
                            ask(&self.node, create).await.ok().flatten()
                        }
                        None => None,
                    };
                    listed.push((name.clone(), meta));
                }
                listed
            }
        };
        // The registry says a partition exists; only the partitions actor knows whether its log
        // is open. Asked once, for the registered topics listed (or all of them).
        let offline = if listed.iter().any(|(_, meta)| meta.is_some()) {
            let asked = wanted.as_ref().map(|_| {
                listed
                    .iter()
                    .filter(|(_, meta)| meta.is_some())
                    .map(|(name, _)| name.clone())
                    .collect()
            });
            self.offline_partitions(asked).await?
        } else {
            BTreeSet::new()
        };
        let cluster = self.cluster_brokers(listener).await;
        // The refused topics asked by id (a lookup per refused name, not a scan per id: a
        // request may list many ids).
        let asked_ids: BTreeSet<&[u8; 16]> = match refused.is_empty() {
            true => BTreeSet::new(),
            false => by_id.iter().collect(),
        };
        let ids_of: BTreeMap<&String, [u8; 16]> = (refused.iter())
            .filter_map(|name| Some((*name, known.get(*name)?.id)))
            .filter(|(_, id)| asked_ids.contains(id))
            .collect();
        // `*_authorized_operations` only when asked (v8+; the cluster's v8-10), as Kafka: a
        // listed topic's (those the principal may describe), the cluster's.
        let topic_operations = version >= 8 && request.include_topic_authorized_operations;
        let topics = listed
            .iter()
            .map(|(name, meta)| {
                let entry = self.topic_entry(name, meta.as_ref(), &offline, version);
                match topic_operations {
                    true => entry.with_topic_authorized_operations(access.operations(
                        ResourceType::Topic,
                        name,
                        &TOPIC_OPERATIONS,
                    )),
                    false => entry,
                }
            })
            .chain(refused.into_iter().map(|name| {
                let entry = MetadataResponseTopic::default()
                    .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.wire());
                match ids_of.get(name) {
                    // Asked by id: the name is not told (Kafka's answer).
                    Some(id) => entry
                        .with_name(None)
                        .with_topic_id(uuid::Uuid::from_bytes(*id)),
                    None => entry.with_name(Some(TopicName(StrBytes::from_string(name.clone())))),
                }
            }))
            .chain(unknown_ids.into_iter().map(|id| {
                MetadataResponseTopic::default()
                    .with_name(None)
                    .with_topic_id(uuid::Uuid::from_bytes(id))
                    .with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.wire())
            }))
            .collect();
        let node_id = BrokerId(self.settings.broker_id());
        let brokers = (cluster.by_id.iter())
            .map(|(id, (host, port))| {
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(*id))
                    .with_host(StrBytes::from_string(host.clone()))
                    .with_port(i32::from(*port))
            })
            .collect();
        // kafka-protocol refuses to encode a non-default field the version lacks, so set each
        // field only from the version that has it.
        let mut response = MetadataResponse::default()
            .with_brokers(brokers)
            .with_topics(topics);
        if version >= 1 {
            // KRaft's rule (KIP-590): clients never reach the controllers, so the "controller"
            // is a live broker, which forwards what it is sent. Kafka draws a random one; this
            // broker is live for sure (it answers), while the quorum's leader may have just
            // died: an admin client sent there would wait out its timeout.
            response = response.with_controller_id(node_id);
        }
        if version >= 2 {
            let cluster_id = StrBytes::from_string(self.settings.cluster_id.clone());
            response = response.with_cluster_id(Some(cluster_id));
        }
        if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
            response = response.with_cluster_authorized_operations(access.cluster_operations());
        }
        Ok(response)
    }

    fn topic_entry(
        &self,
        name: &str,
        meta: Option<&TopicMeta>,
        offline: &BTreeSet<TopicPartition>,
        version: i16,
    ) -> MetadataResponseTopic {
        let entry = MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))));
        let Some(meta) = meta else {
            let code = if topic_name::is_legal(name) {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                ErrorCode::INVALID_TOPIC_EXCEPTION
            };
            return entry.with_error_code(code.wire());
        };
        let node = BrokerId(self.settings.broker_id());
        let partitions = (0..meta.partitions)
            .map(|p| {
                let (leader, epoch, replicas, isr) = partition_state(meta, p, node);
                let mut entry = MetadataResponsePartition::default()
                    .with_partition_index(p)
                    .with_leader_id(leader.unwrap_or(BrokerId(-1)))
                    .with_replica_nodes(replicas)
                    .with_isr_nodes(isr);
                // v7+ (the crate refuses the field before): clients send it back in Fetch and
                // refresh their metadata on FENCED_LEADER_EPOCH (KIP-320).
                if version >= 7 {
                    entry = entry.with_leader_epoch(epoch.0);
                }
                let tp = TopicPartition {
                    topic: name.to_string(),
                    partition: p,
                };
                match leader {
                    None => entry.with_error_code(ErrorCode::LEADER_NOT_AVAILABLE.wire()),
                    Some(leader) if leader == node && offline.contains(&tp) => {
                        offline_entry(entry, node, version)
                    }
                    Some(_) => entry,
                }
            })
            .collect();
        let mut entry = entry.with_partitions(partitions);
        // v0 has no such field (the crate refuses to encode it there).
        if version >= 1 && name == OFFSETS_TOPIC {
            entry = entry.with_is_internal(true);
        }
        if version >= 10 {
            entry.with_topic_id(uuid::Uuid::from_bytes(meta.id))
        } else {
            entry
        }
    }
}

/// A partition's leader (`None`: offline), leader epoch, replicas and ISR as the wire names
/// them. A topic of a test with no assignment: `node` holds it alone.
pub(super) fn partition_state(
    meta: &TopicMeta,
    partition: i32,
    node: BrokerId,
) -> (Option<BrokerId>, LeaderEpoch, Vec<BrokerId>, Vec<BrokerId>) {
    let ids = |nodes: &[crate::types::NodeId]| -> Vec<BrokerId> {
        nodes.iter().map(|n| broker_id(*n)).collect()
    };
    match meta.assignment.get(partition as usize) {
        Some(view) => (
            view.leader.map(broker_id),
            view.leader_epoch,
            ids(&view.replicas),
            ids(&view.isr),
        ),
        None => (Some(node), LeaderEpoch::INITIAL, vec![node], vec![node]),
    }
}

/// A partition whose log is offline, reported as Kafka reports one whose leader's log dir is
/// offline: KAFKA_STORAGE_ERROR, and this node in `offline_replicas` (v5+). The leader stays
/// this node so that clients keep sending to it: their next produce or fetch is what retries
/// opening the log, and the error they get (56) is retriable and refreshes their metadata.
fn offline_entry(
    entry: MetadataResponsePartition,
    node: BrokerId,
    version: i16,
) -> MetadataResponsePartition {
    let entry = entry.with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.wire());
    // kafka-protocol refuses to encode a non-default field the version lacks.
    if version >= 5 {
        entry.with_offline_replicas(vec![node])
    } else {
        entry
    }
}

/// The topics a v10+ request names by id alone (KIP-516: librdkafka's KIP-848 consumer
/// resolves the topic ids of its assignment this way), each once.
fn asked_ids(request: &MetadataRequest) -> Vec<[u8; 16]> {
    let mut seen = BTreeSet::new();
    (request.topics.iter().flatten())
        .filter(|t| t.name.is_none() && !t.topic_id.is_nil())
        .map(|t| *t.topic_id.as_bytes())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// `wanted` with the names of the topics asked for by id added, and the ids no topic has.
fn add_named_by_id(
    wanted: Option<Vec<String>>,
    ids: &[[u8; 16]],
    known: &BTreeMap<String, TopicMeta>,
) -> (Option<Vec<String>>, Vec<[u8; 16]>) {
    let Some(mut names) = wanted else {
        return (None, Vec::new());
    };
    let names_of: BTreeMap<[u8; 16], &String> =
        known.iter().map(|(name, meta)| (meta.id, name)).collect();
    let mut listed: BTreeSet<String> = names.iter().cloned().collect();
    let mut unknown = Vec::new();
    for id in ids {
        match names_of.get(id) {
            Some(&name) if listed.insert(name.clone()) => names.push(name.clone()),
            Some(_) => {}
            None => unknown.push(*id),
        }
    }
    (Some(names), unknown)
}

/// Each name once, in the order first listed: Kafka reads the topics as a set, and a request
/// naming one topic a million times (found by probing) must cost what naming it once does.
fn distinct_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names
        .filter(|name| seen.insert(*name))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_listed_once_in_first_seen_order() {
        let names = ["b", "a", "b", "c", "a"];
        assert_eq!(distinct_names(names.into_iter()), ["b", "a", "c"]);
    }
}
