//! What the node's parts say to each other: the gateway to the actors, and the actors to one
//! another, on this node or (through the host's transport) another.
//!
//! All of a node's actors share one wire enum, [`NodeMsg`], so one transport carries them all;
//! each role has its own request and reply enums ([`partitions`], [`topics`], [`groups`],
//! [`quorum`]; the replication throttles a broker applies, [`throttles`]; SCRAM credentials,
//! [`scram`]; ACLs, [`acls`]), with
//! one type per request, which names its reply type and its actor ([`call::Call`]). Requests carry
//! record bytes exactly as the client sent them (RecordBatch v2); replies carry stored bytes
//! exactly as they will go to the consumer. Error codes are Kafka's.
//!
//! This module sits below every role: a role imports it, never another role's folder, so the
//! roles stay independent (the layering in `lib.rs`). It names only the actor contract, the
//! storage types a request carries and the shared vocabulary (`types`). The postcard encoding
//! of these types is the node's wire format: variant and field order are part of it.

use serde::{Deserialize, Serialize};

use crate::actor::ActorId;

pub mod acls;
pub mod call;
pub mod groups;
pub mod lifecycle;
pub mod partitions;
pub mod quorum;
pub mod quotas;
pub mod scram;
pub mod throttles;
pub mod topics;
pub mod txn;

pub use groups::*;
pub use partitions::*;
pub use topics::*;

/// The actor that keeps topic metadata (names, ids, partition counts, configs) on this node.
pub const TOPICS: ActorId = ActorId(1);
/// The actor that hosts every partition replica of this node (logs, producer state, waiting fetches).
pub const PARTITIONS: ActorId = ActorId(2);
/// The group coordinator: consumer groups and their committed offsets, one shard per
/// `__consumer_offsets` partition this node leads.
pub const GROUPS: ActorId = ActorId(3);
/// The controller quorum's voter on this node: its Raft and the metadata image it applies.
pub const QUORUM: ActorId = ActorId(4);
/// This node's broker in the cluster (Kafka's `BrokerLifecycleManager`): it registers with the
/// controller quorum's leader and heartbeats.
pub const LIFECYCLE: ActorId = ActorId(5);
/// The transaction coordinator: transactional ids and their transactions, one shard per
/// `__transaction_state` partition this node leads.
pub const TXN: ActorId = ActorId(6);

/// One message between a node's actors (or between the gateway and them).
#[derive(Debug, Serialize, Deserialize)]
pub enum NodeMsg {
    Partitions(PartitionsRequest),
    PartitionsReply(PartitionsReply),
    Topics(TopicsRequest),
    TopicsReply(TopicsReply),
    Groups(GroupsRequest),
    GroupsReply(GroupsReply),
    /// Leadership news for the coordinator (sent by the partitions actor, never asked).
    GroupsEvent(GroupsEvent),
    /// Between the quorum's voters.
    Raft(quorum::RaftMsg),
    Quorum(quorum::QuorumRequest),
    QuorumReply(quorum::QuorumReply),
    Lifecycle(lifecycle::LifecycleRequest),
    LifecycleReply(lifecycle::LifecycleReply),
    Txn(txn::TxnRequest),
    TxnReply(txn::TxnReply),
    /// Leadership news and the cluster's partition leaders for the transaction coordinator
    /// (sent by the partitions and topics actors, never asked).
    TxnEvent(txn::TxnEvent),
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::{ErrorCode, LeaderEpoch, TopicPartition};

    fn bytes(msg: &NodeMsg) -> Vec<u8> {
        postcard::to_stdvec(msg).unwrap()
    }

    /// Nodes of different versions talk over the transport in postcard, which encodes a
    /// variant by its index and a struct by its field order: moving or reordering these types
    /// changes the wire. The expected bytes are written out by hand from that rule.
    #[test]
    fn the_wire_bytes_follow_variant_and_field_order() {
        let tp = TopicPartition {
            topic: "t".into(),
            partition: 3,
        };
        // Partitions = 0, Delete = 2; "t" = length 1 + byte; partition 3 zigzags to 6.
        let delete = NodeMsg::Partitions(PartitionsRequest::Delete(DeletePartitionRequest {
            tp: tp.clone(),
        }));
        assert_eq!(bytes(&delete), [0, 2, 1, b't', 6]);
        // PartitionsReply = 1, Offline = 6, one entry.
        let offline = NodeMsg::PartitionsReply(PartitionsReply::Offline(vec![tp]));
        assert_eq!(bytes(&offline), [1, 6, 1, 1, b't', 6]);
        // Topics = 2, AutoCreate = 5.
        let auto_create = NodeMsg::Topics(TopicsRequest::AutoCreate(AutoCreateRequest {
            name: "t".into(),
        }));
        assert_eq!(bytes(&auto_create), [2, 5, 1, b't']);
        // TopicsReply = 3, Refused = 8; error code 17 zigzags to 34.
        let refused = NodeMsg::TopicsReply(TopicsReply::Refused(Refusal {
            code: ErrorCode::INVALID_TOPIC_EXCEPTION,
            message: "x".into(),
        }));
        assert_eq!(bytes(&refused), [3, 8, 34, 1, b'x']);
        // TopicsReply = 3, AutoCreated = 5, Some = 1; the id is 16 bytes with no length; 2
        // partitions zigzag to 4, replication factor 1 to 2, then an empty config map and an
        // empty assignment.
        let topic = NodeMsg::TopicsReply(TopicsReply::AutoCreated(Some(TopicMeta {
            id: [7; 16],
            partitions: 2,
            replication_factor: 1,
            configs: BTreeMap::new(),
            assignment: Vec::new(),
        })));
        let mut expected = vec![3, 5, 1];
        expected.extend([7; 16]);
        expected.extend([4, 2, 0, 0]);
        assert_eq!(bytes(&topic), expected);
        // Raft = 7, Append = 2: term 3, prev index 1, prev term 2, one entry (term 3, Noop =
        // 0), leader commit 1. (u64s are varints, not zigzagged.)
        let append = NodeMsg::Raft(quorum::RaftMsg::Append {
            term: 3,
            prev_index: 1,
            prev_term: 2,
            entries: vec![quorum::Entry {
                term: 3,
                payload: quorum::Payload::Noop,
            }],
            leader_commit: 1,
        });
        assert_eq!(bytes(&append), [7, 2, 3, 1, 2, 1, 3, 0, 1]);
        // Quorum = 8, Propose = 1, the entry's bytes with their length.
        let propose = NodeMsg::Quorum(quorum::QuorumRequest::Propose { entry: vec![9] });
        assert_eq!(bytes(&propose), [8, 1, 1, 9]);
        // Groups = 4, Heartbeat = 2: "g", generation 1 zigzags to 2, "m", no instance id.
        let heartbeat = NodeMsg::Groups(GroupsRequest::Heartbeat(HeartbeatArgs {
            group: "g".into(),
            generation: 1,
            member_id: "m".into(),
            instance_id: None,
        }));
        assert_eq!(bytes(&heartbeat), [4, 2, 1, b'g', 2, 1, b'm', 0]);
        // GroupsReply = 5, Heartbeat = 2; REBALANCE_IN_PROGRESS 27 zigzags to 54.
        let rebalancing =
            NodeMsg::GroupsReply(GroupsReply::Heartbeat(ErrorCode::REBALANCE_IN_PROGRESS));
        assert_eq!(bytes(&rebalancing), [5, 2, 54]);
        // GroupsEvent = 6, Resigned = 1: partition 2 zigzags to 4, epoch 0, replica 5.
        let resigned = NodeMsg::GroupsEvent(GroupsEvent::Resigned {
            partition: 2,
            term: LeaderTerm {
                epoch: LeaderEpoch::INITIAL,
                replica: 5,
            },
        });
        assert_eq!(bytes(&resigned), [6, 1, 4, 0, 5]);
        // Partitions = 0, Append = 10 (after Offline = 9): the topic-partition, the term
        // (epoch 1 zigzags to 2, replica 300 is a two-byte varint), the records with their
        // length, timeout 1 zigzags to 2.
        let append = NodeMsg::Partitions(PartitionsRequest::Append(AppendRequest {
            tp: TopicPartition {
                topic: "t".into(),
                partition: 3,
            },
            term: LeaderTerm {
                epoch: LeaderEpoch(1),
                replica: 300,
            },
            records: vec![9],
            timeout_ms: 1,
        }));
        assert_eq!(bytes(&append), [0, 10, 1, b't', 6, 2, 0xac, 0x02, 1, 9, 2]);
        // Topics = 2, EnsureInternal = 7 (after OpenAll = 6), ConsumerOffsets = 0.
        let ensure = NodeMsg::Topics(TopicsRequest::EnsureInternal(EnsureInternalRequest {
            topic: InternalTopic::ConsumerOffsets,
        }));
        assert_eq!(bytes(&ensure), [2, 7, 0]);
    }
}
