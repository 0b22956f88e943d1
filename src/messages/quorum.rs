//! The controller quorum's messages: what its voters say to each other (Raft's, [`RaftMsg`]),
//! what the log holds ([`Entry`]), and what the node's other parts ask the quorum actor
//! ([`QuorumRequest`]). The metadata records an entry carries are the controller's own
//! encoding (`controller::metadata::records`): opaque bytes here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::topics::{ConfigChange, TopicRef};
use crate::types::{BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Refusal};

/// One entry of the replicated log. Its index is its position (1-based), not stored in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The term of the leader that appended it.
    pub term: u64,
    pub payload: Payload,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader, so that entries of earlier terms commit through it.
    Noop,
    /// A command for the state machine above the log (opaque here).
    Command(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// Where a snapshot of the state machine ends: every entry through `index` (of `term`) is in
/// it, and only committed entries ever are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: u64,
    pub term: u64,
}

/// The messages of the protocol. Every message carries the sender's term (for a granted
/// pre-vote: the term the pre-candidate would stand in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMsg {
    /// Asks for a vote in `term` (or, with `pre_vote`, whether one would be granted: the
    /// receiver changes nothing).
    RequestVote {
        term: u64,
        pre_vote: bool,
        last_log_index: u64,
        last_log_term: u64,
    },
    VoteReply {
        term: u64,
        pre_vote: bool,
        granted: bool,
    },
    /// Entries after `prev_index` (whose term must be `prev_term`), possibly none (a
    /// heartbeat), and the leader's commit index.
    Append {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    },
    /// The leader's snapshot, for a follower that needs entries the leader has compacted away
    /// (Raft's InstallSnapshot, KRaft's FetchSnapshot). `data` is the state machine's own
    /// encoding, opaque here. Answered by an [`RaftMsg::AppendReply`] through `last_index`.
    InstallSnapshot {
        term: u64,
        last_index: u64,
        last_term: u64,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// `success`: the follower's log matches the leader's through `match_index` (synced).
    /// Otherwise `next_hint` is where the leader should try next.
    AppendReply {
        term: u64,
        success: bool,
        match_index: u64,
        next_hint: u64,
    },
    /// From an observer (a broker-only node: it follows the log but holds no vote) to the
    /// voters, when it has not heard from a leader for half an election timeout: the leader starts
    /// sending it Appends after `last_index` (answered by [`RaftMsg::AppendReply`] like a
    /// voter's, counted in no majority); the other voters ignore it.
    ObserverFetch {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
}

impl RaftMsg {
    pub fn term(&self) -> u64 {
        match self {
            RaftMsg::RequestVote { term, .. }
            | RaftMsg::VoteReply { term, .. }
            | RaftMsg::Append { term, .. }
            | RaftMsg::InstallSnapshot { term, .. }
            | RaftMsg::AppendReply { term, .. }
            | RaftMsg::ObserverFetch { term, .. } => *term,
        }
    }
}

/// What the node's parts ask the quorum actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumRequest {
    /// The quorum as this voter sees it (KRaft's DescribeQuorum).
    Describe,
    /// Append one entry of metadata records (their encoding) if this voter leads; answered once
    /// it is committed and applied here, or refused.
    Propose { entry: Vec<u8> },
    /// The quorum as its leader sees it (the voters' progress is known there only): answered by
    /// a leader, forwarded by a follower to the leader it knows (which answers `Describe`),
    /// `NotLeader { leader: None }` when it knows none.
    DescribeLeader,
    /// A request only the leader handles (Kafka's controller APIs). A follower forwards it to
    /// the leader it knows with `forwarded` set; a forwarded request that reaches a voter that
    /// does not lead is answered [`QuorumReply::NotLeader`], never forwarded again.
    ToLeader {
        request: LeaderRequest,
        forwarded: bool,
    },
    /// The topics and partitions of the metadata this voter applied (where each partition's
    /// replicas are and who leads it), answered [`QuorumReply::Topics`].
    DescribeTopics,
}

/// What only the quorum's leader answers: a broker's membership (Kafka's BrokerRegistration and
/// BrokerHeartbeat, which go to the active controller).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaderRequest {
    /// Registers a broker process: answered [`QuorumReply::Registered`] once the registration
    /// is committed. The same incarnation registering again (a retry) gets the same epoch.
    RegisterBroker {
        node_id: NodeId,
        /// Drawn by the broker process when it starts (Kafka's `incarnationId`).
        incarnation_id: [u8; 16],
        listeners: Vec<Listener>,
        rack: Option<String>,
        /// The broker's data survived whole since it last ran: it stopped cleanly (every log
        /// synced and closed), or it registers again without having stopped. `false` after a
        /// crash or with a new disk: it may have lost what it had not synced, so it leaves the
        /// eligible leader replicas (KIP-966's unclean shutdown).
        clean_shutdown: bool,
        /// This process held the node id until another incarnation's registration displaced
        /// it ([`QuorumReply::Displaced`]). It gets the node id back only from a registration
        /// whose process has been silent for a session (Kafka's DUPLICATE_BROKER_REGISTRATION
        /// rule), so two live processes with one node id never displace each other in turn.
        displaced: bool,
    },
    /// Keeps a registration alive: answered [`QuorumReply::Heartbeat`], or
    /// [`QuorumReply::StaleBrokerEpoch`] when `broker_epoch` is not the registration's.
    BrokerHeartbeat {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
        /// How far the broker applied the metadata log (Kafka's `currentMetadataOffset`): a
        /// fenced broker is unfenced once it applied its own registration. The node's voter
        /// fills it in (it is this broker's copy of the metadata).
        applied_index: u64,
    },
    /// The broker is stopping (Kafka's controlled shutdown, a heartbeat with `wantShutDown`):
    /// the leader fences it at once instead of a session later, and answers
    /// [`QuorumReply::ShutdownReady`] once the fence is applied (or
    /// [`QuorumReply::StaleBrokerEpoch`]).
    ControlledShutdown {
        node_id: NodeId,
        broker_epoch: BrokerEpoch,
    },
    /// A block of producer ids for the broker's InitProducerId (Kafka's AllocateProducerIds):
    /// answered [`QuorumReply::ProducerIds`] once the block is committed, so no two brokers,
    /// and no restart of one, ever hand out the same id.
    AllocateProducerIds {
        node_id: NodeId,
        /// The broker's registration (the node's voter fills it in from its metadata; a
        /// broker not registered there yet is answered [`QuorumReply::StaleBrokerEpoch`]).
        broker_epoch: BrokerEpoch,
        /// The block starts here or later: the end of the block a single-node broker wrote to
        /// its own file before ids came from the quorum (so an upgraded node never reissues
        /// one of them).
        at_least: i64,
    },
    /// Kafka's CreateTopics, at the controller: each topic created (placed on the live
    /// brokers, or where its assignment says) or refused, in request order; answered
    /// [`QuorumReply::TopicsChanged`] once the creation is committed and applied.
    CreateTopics {
        topics: Vec<TopicSpec>,
        validate_only: bool,
    },
    /// Kafka's DeleteTopics, at the controller: by name or id, in request order.
    DeleteTopics { topics: Vec<TopicRef> },
    /// Kafka's CreatePartitions, at the controller: each topic grown to its new total.
    CreatePartitions {
        topics: Vec<TopicGrowth>,
        validate_only: bool,
    },
    /// Topic config changes, at the controller: each topic's overrides replaced by the given
    /// ones (the broker worked them out and checked their values).
    AlterTopicConfigs {
        topics: Vec<(String, BTreeMap<String, String>)>,
        validate_only: bool,
    },
    /// Kafka's AlterPartition (v3, KIP-903): a partition leader's ISR shrinks and expansions,
    /// answered [`QuorumReply::PartitionsAltered`] once the change is committed (a request
    /// refused as a whole, a stale `broker_epoch`, is answered
    /// [`QuorumReply::StaleBrokerEpoch`]).
    AlterPartition {
        node_id: NodeId,
        /// The leader's registration (the node's voter fills it in from its metadata, as for
        /// [`LeaderRequest::AllocateProducerIds`]).
        broker_epoch: BrokerEpoch,
        changes: Vec<IsrChange>,
    },
    /// Kafka's ElectLeaders (43) at the controller: `partitions` as (topic, partition), or
    /// every partition (`None`, where partitions that need no election are left out of the
    /// answer, as Kafka does). Answered [`QuorumReply::LeadersElected`] once the changes are
    /// committed.
    ElectLeaders {
        election_type: ElectionType,
        partitions: Option<Vec<(String, i32)>>,
    },
    /// Kafka's AlterPartitionReassignments (45) at the controller: each partition's new
    /// replicas, or a cancellation. Answered [`QuorumReply::Reassigned`] once the changes are
    /// committed (the reassignments then run: see `controller::metadata::reassign`).
    AlterReassignments {
        reassignments: Vec<Reassignment>,
        /// v1's `allowReplicationFactorChange` (KIP-860): false refuses a target of another
        /// size than the current assignment.
        allow_replication_factor_change: bool,
    },
    /// Kafka's ListPartitionReassignments (46) at the controller: the reassignments under
    /// way, of the partitions named (`None`: all). Answered [`QuorumReply::Reassignments`].
    ListReassignments {
        partitions: Option<Vec<(String, i32)>>,
    },
    /// Kafka's Incremental/AlterConfigs of BROKER resources (`""` or a broker id), at the
    /// controller: each resource's change planned against the metadata as it is then
    /// (`controller::metadata::broker_config`). Answered [`QuorumReply::BrokerConfigsAltered`]
    /// once committed.
    AlterBrokerConfigs {
        resources: Vec<(String, ConfigChange)>,
        validate_only: bool,
    },
    /// Kafka's AlterUserScramCredentials (51) at the controller (`ScramControlManager`): the
    /// changes checked against the metadata as it is then
    /// (`controller::metadata::scram`). Answered [`QuorumReply::ScramCredentialsAltered`]
    /// once committed.
    AlterScramCredentials {
        deletions: Vec<super::scram::ScramDeletion>,
        upsertions: Vec<super::scram::ScramUpsertion>,
    },
    /// Kafka's AlterClientQuotas (49) at the controller (`ClientQuotaControlManager`): each
    /// entry checked against the metadata as it is then
    /// (`controller::metadata::client_quotas`). Answered
    /// [`QuorumReply::ClientQuotasAltered`] once committed.
    AlterClientQuotas {
        entries: Vec<super::quotas::QuotaAlteration>,
        validate_only: bool,
    },
    /// Kafka's CreateAcls (30) at the controller (`AclControlManager.createAcls`): each
    /// binding checked against the metadata as it is then (`controller::metadata::acls`).
    /// Answered [`QuorumReply::AclsCreated`] once committed.
    CreateAcls {
        bindings: Vec<crate::security::acl::AclBinding>,
    },
    /// Kafka's DeleteAcls (31) at the controller (`AclControlManager.deleteAcls`). Answered
    /// [`QuorumReply::AclsDeleted`] once committed.
    DeleteAcls {
        filters: Vec<crate::security::acl::AclBindingFilter>,
    },
}

/// One partition's reassignment as asked (Kafka's `ReassignablePartition`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassignment {
    pub topic: String,
    pub partition: i32,
    /// The target assignment, preferred leader first; `None` cancels the reassignment under
    /// way.
    pub replicas: Option<Vec<NodeId>>,
}

/// One partition's reassignment: started (or done, or cancelled), or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassignOutcome {
    pub topic: String,
    pub partition: i32,
    pub result: Result<(), Refusal>,
}

/// A reassignment under way (Kafka's `OngoingPartitionReassignment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    /// The current assignment: the target, then the replicas leaving.
    pub replicas: Vec<NodeId>,
    pub adding: Vec<NodeId>,
    pub removing: Vec<NodeId>,
}

/// Asks the controller for reassignments ([`LeaderRequest::AlterReassignments`]) through this
/// node's voter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterReassignmentsArgs {
    pub reassignments: Vec<Reassignment>,
    pub allow_replication_factor_change: bool,
}

/// Asks the controller for the reassignments under way ([`LeaderRequest::ListReassignments`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReassignmentsArgs {
    pub partitions: Option<Vec<(String, i32)>>,
}

/// Asks the controller to alter dynamic broker configs
/// ([`LeaderRequest::AlterBrokerConfigs`]).
#[derive(Clone, Debug)]
pub struct AlterBrokerConfigsArgs {
    pub resources: Vec<(String, ConfigChange)>,
    pub validate_only: bool,
}

/// One partition's ISR as its leader wants it (Kafka's AlterPartition `PartitionData`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsrChange {
    pub topic_id: [u8; 16],
    pub partition: i32,
    /// The leadership the leader asks in: a change from an earlier one is fenced.
    pub leader_epoch: LeaderEpoch,
    /// The partition's state the change was worked out from (Kafka's `partitionEpoch`): a
    /// change from an older state is refused (INVALID_UPDATE_VERSION).
    pub partition_epoch: i32,
    /// The new ISR, the leader included, each member with the broker epoch its last fetch
    /// named (`None`: not known, not checked) — KIP-903's `NewIsrWithEpochs`: a broker that
    /// registered again since (a restart, perhaps with an empty disk) is not added through a
    /// fetch of its earlier incarnation.
    pub new_isr: Vec<(NodeId, Option<BrokerEpoch>)>,
    /// The leader gives this leadership up (`new_isr` is not read; beyond Kafka's
    /// AlterPartition, which has no such field): its log was cut back after a failed write,
    /// so its followers may hold records it no longer has, under this very leader epoch, and
    /// only a new epoch makes them truncate. The controller elects the first other ISR member
    /// that is unfenced (the ISR drops the resigning leader), or, with none, the same leader
    /// again; either way in a new leader epoch. Kafka moves leadership off a failed log
    /// directory likewise.
    pub resign: bool,
}

/// A partition as the controller has it after an [`IsrChange`] (Kafka's AlterPartition
/// response partition), or why the change was refused (Kafka's error codes:
/// FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA, INVALID_REQUEST,
/// UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsrOutcome {
    pub topic_id: [u8; 16],
    pub partition: i32,
    pub result: Result<IsrState, crate::types::ErrorCode>,
}

/// A partition's leadership and ISR at a partition epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsrState {
    pub leader: Option<NodeId>,
    pub leader_epoch: LeaderEpoch,
    pub partition_epoch: i32,
    pub isr: Vec<NodeId>,
}

impl LeaderRequest {
    /// The broker and its epoch in a request whose epoch the node's voter fills in from its
    /// metadata (the partitions actor does not know its registration).
    pub fn registration_to_fill(&mut self) -> Option<(NodeId, &mut BrokerEpoch)> {
        match self {
            LeaderRequest::AllocateProducerIds {
                node_id,
                broker_epoch,
                ..
            }
            | LeaderRequest::AlterPartition {
                node_id,
                broker_epoch,
                ..
            } => Some((*node_id, broker_epoch)),
            _ => None,
        }
    }

    /// The message a part of a node sends its own voter, which fills in what it knows of the
    /// node and forwards the request to the leader (or handles it, leading).
    pub fn to_own_voter(self) -> super::NodeMsg {
        super::NodeMsg::Quorum(QuorumRequest::ToLeader {
            request: self,
            forwarded: false,
        })
    }
}

/// A topic to create, as the broker resolved it (broker defaults filled in, configs checked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
    /// Kafka's manual assignment: the replicas of each partition, preferred leader first (the
    /// count and the replication factor follow from it).
    pub assignment: Option<Vec<Vec<NodeId>>>,
}

/// A topic to grow to `count` partitions, optionally with the new partitions' replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicGrowth {
    pub name: String,
    pub count: i32,
    pub assignment: Option<Vec<Vec<NodeId>>>,
}

/// One of a broker's listeners (Kafka's `BrokerEndpoint`): where clients reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// The registered listener that names a broker's admin endpoint (`admin.listener`), after its
/// Kafka listeners: the web console of any node reads every node's state there. Never shown to
/// Kafka clients (they see the listener they connected through).
pub const ADMIN_LISTENER: &str = "RILL_ADMIN";

/// Asks this node's voter for the quorum as it sees it ([`QuorumRequest::Describe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescribeRequest;

/// Asks this node's voter for the quorum as its leader sees it
/// ([`QuorumRequest::DescribeLeader`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescribeLeaderRequest;

/// The quorum actor's answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumReply {
    Described(QuorumState),
    /// The proposed entry is committed at `index` and applied here.
    Committed {
        index: u64,
    },
    /// This voter does not lead (any more): ask `leader`, if known.
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The voter cannot serve: its files did not load, or a write failed.
    Failed(String),
    /// The broker's registration is committed, with this epoch.
    Registered {
        broker_epoch: BrokerEpoch,
    },
    /// A heartbeat's answer: whether the broker is fenced (Kafka's `isFenced`).
    Heartbeat {
        fenced: bool,
    },
    /// The heartbeat's epoch is not the broker's registration (an earlier incarnation's, or
    /// the registration is gone): the broker registers again.
    StaleBrokerEpoch,
    /// The stopping broker is fenced (Kafka's `shouldShutDown`): it may exit.
    ShutdownReady,
    /// A later registration of this node id (another process, with another incarnation) took
    /// this broker's place. It registers again as displaced: refused while the process holding
    /// that registration is heard from ([`QuorumReply::DuplicateRegistration`]), so two live
    /// processes never displace each other in turn, while a registration from a process that
    /// is gone (a dead process's, delivered late) gives way a session after it was made.
    Displaced,
    /// A displaced broker's registration refused because the process holding the node id's
    /// registration was heard from within the session (Kafka's DUPLICATE_BROKER_REGISTRATION):
    /// it tries again, and gets in once that process has been silent for a session.
    DuplicateRegistration,
    /// The producer ids `first_id..first_id + count` are the broker's (committed).
    ProducerIds {
        first_id: i64,
        count: i32,
    },
    /// The applied metadata's topics, by name.
    Topics(Vec<TopicView>),
    /// An AlterPartition's outcome per change, in request order.
    PartitionsAltered(Vec<IsrOutcome>),
    /// An ElectLeaders' outcome per partition.
    LeadersElected(Vec<ElectionOutcome>),
    /// An AlterPartitionReassignments' outcome per partition, in request order.
    Reassigned(Vec<ReassignOutcome>),
    /// The reassignments under way, by topic then partition.
    Reassignments(Vec<OngoingReassignment>),
    /// A topic administration's outcome per topic, in request order: the topic as it is after
    /// the change (as it was, for a deletion), or why not. `index` is the entry that made
    /// the change (0: nothing changed); the asking node's voter answers only once it applied
    /// it too, so the node's topics actor has the change when it reads the answer.
    TopicsChanged {
        index: u64,
        outcomes: Vec<Result<TopicView, Refusal>>,
    },
    /// An Incremental/AlterConfigs of broker resources: each resource's outcome, in request
    /// order.
    BrokerConfigsAltered(Vec<Result<(), Refusal>>),
    /// An AlterUserScramCredentials' outcome per user named, in the order the users first
    /// appear (deletions before upsertions). `index` as in [`QuorumReply::TopicsChanged`]: the
    /// asking node answers once it applied the entry, so its next describe or login sees it.
    ScramCredentialsAltered {
        index: u64,
        results: Vec<(String, Result<(), Refusal>)>,
    },
    /// An AlterClientQuotas' outcome per entry, in request order. `index` as in
    /// [`QuorumReply::TopicsChanged`]: the asking node answers once it applied (and published)
    /// the entry, so its next describe and request see it.
    ClientQuotasAltered {
        index: u64,
        results: super::quotas::QuotaAlterations,
    },
    /// A CreateAcls' outcome per binding, in request order. `index` as in
    /// [`QuorumReply::TopicsChanged`].
    AclsCreated {
        index: u64,
        results: super::acls::AclCreations,
    },
    /// A DeleteAcls' outcome per filter (the ACLs it matched), in request order. `index` as
    /// in [`QuorumReply::TopicsChanged`].
    AclsDeleted {
        index: u64,
        results: super::acls::AclDeletions,
    },
}

/// One voter's view of the quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumState {
    pub node_id: NodeId,
    pub leader: Option<NodeId>,
    pub term: u64,
    /// Kafka's high watermark of the metadata log: the commit index.
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_index: u64,
    /// Generated at the quorum's first commit (hex of 16 bytes), once applied here.
    pub cluster_id: Option<[u8; 16]>,
    /// A leader's view of its followers: (voter, highest index known replicated there).
    pub followers: Vec<(NodeId, u64)>,
    /// A leader's view of the observers following the log (broker-only nodes), likewise.
    pub observers: Vec<(NodeId, u64)>,
    /// The brokers registered in the metadata this voter applied, by id.
    pub brokers: Vec<RegisteredBroker>,
}

/// A broker as the applied metadata has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredBroker {
    pub node_id: NodeId,
    pub epoch: BrokerEpoch,
    /// A fenced broker leads nothing and is not shown to clients.
    pub fenced: bool,
    pub listeners: Vec<Listener>,
    pub rack: Option<String>,
}

/// A topic as the applied metadata has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicView {
    pub name: String,
    pub id: [u8; 16],
    /// The topic's config overrides, as given.
    pub configs: BTreeMap<String, String>,
    /// Partition 0, 1, … in order.
    pub partitions: Vec<PartitionView>,
}

/// A partition's assignment and leadership as the applied metadata has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionView {
    /// The assignment, preferred leader first.
    pub replicas: Vec<NodeId>,
    pub isr: Vec<NodeId>,
    /// `None`: offline.
    pub leader: Option<NodeId>,
    pub leader_epoch: LeaderEpoch,
    /// Bumped by every change of the partition (Kafka's `partitionEpoch`).
    pub partition_epoch: i32,
    /// An ongoing reassignment's replicas joining and leaving (both empty: none).
    pub adding: Vec<NodeId>,
    pub removing: Vec<NodeId>,
    /// The eligible leader replicas (KIP-966; the controller's `metadata::eligible`).
    pub elr: Vec<NodeId>,
}

/// Kafka's election types (ElectLeaders' `ElectionType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElectionType {
    /// The first assigned replica leads, if it is in the ISR and unfenced (0).
    Preferred,
    /// A partition without a leader elects one, outside the ISR if none in it is live (1).
    Unclean,
}

/// One partition's election: done, or why not (Kafka's `PartitionResult`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionOutcome {
    pub topic: String,
    pub partition: i32,
    pub result: Result<(), ErrorCode>,
}

/// Asks the controller for leader elections ([`LeaderRequest::ElectLeaders`]) through this
/// node's voter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectLeadersArgs {
    pub election_type: ElectionType,
    pub partitions: Option<Vec<(String, i32)>>,
}
