//! What a scrape asks the node's actors: the quorum's state, the topics' metadata, the logs held
//! here, and the groups coordinated here with their committed offsets. Every part that cannot be
//! asked (a controller-only node has no topics actor; an actor busy past the timeout) is left
//! out, so a scrape always answers.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::actor::client::ActorClient;
use crate::messages::call::{ask, Call};
use crate::messages::lifecycle::{BrokerStatus, LifecycleStatusRequest};
use crate::messages::quorum::{DescribeLeaderRequest, DescribeRequest, QuorumReply, QuorumState};
use crate::messages::{
    DescribeGroupsArgs, ListGroupsArgs, ListTopicsRequest, LogDirPartition, LogDirsRequest,
    NodeMsg, OffsetFetchArgs, TopicMeta,
};
use crate::types::{ErrorCode, NodeId, TopicPartition};

/// How long a scrape waits for one actor's answer (Prometheus' default scrape timeout is 10 s;
/// the questions are asked at once, the groups' three one after another).
pub const ASK_TIMEOUT_MS: u64 = 2_000;

/// The node's state at one scrape.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub me: NodeId,
    /// This node's voter or observer of the metadata quorum.
    pub quorum: Option<QuorumState>,
    /// The broker's registration (a broker only).
    pub lifecycle: Option<BrokerStatus>,
    /// Every topic of the cluster, as the applied metadata has it (a broker only).
    pub topics: BTreeMap<String, TopicMeta>,
    /// The partition replicas open here.
    pub logs: Vec<LogDirPartition>,
    /// The groups coordinated here.
    pub groups: Vec<GroupSnapshot>,
}

impl Snapshot {
    /// Nothing known yet of node `me`.
    pub fn empty(me: NodeId) -> Self {
        Self {
            me,
            quorum: None,
            lifecycle: None,
            topics: BTreeMap::new(),
            logs: Vec::new(),
            groups: Vec::new(),
        }
    }
}

/// One group as its coordinator (this node) has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub group: String,
    /// Kafka's state name (Stable, Empty, …).
    pub state: String,
    pub members: usize,
    /// Each committed offset.
    pub committed: BTreeMap<TopicPartition, i64>,
}

/// Asks the actors of `node` (this node, `me`).
pub async fn snapshot<C: ActorClient<NodeMsg>>(node: &C, me: NodeId) -> Snapshot {
    // Asked at once: one wedged actor costs the scrape one timeout, not one per question.
    let (quorum, lifecycle, topics, logs, groups) = futures_util::future::join5(
        timed(node, DescribeRequest),
        timed(node, LifecycleStatusRequest),
        timed(node, ListTopicsRequest),
        timed(node, LogDirsRequest { partitions: None }),
        groups(node),
    )
    .await;
    let mut snapshot = Snapshot::empty(me);
    if let Some(QuorumReply::Described(state)) = quorum {
        snapshot.quorum = Some(state);
    }
    snapshot.lifecycle = lifecycle;
    snapshot.topics = topics.unwrap_or_default();
    snapshot.logs = logs.unwrap_or_default();
    snapshot.groups = groups;
    snapshot
}

/// The quorum as its leader describes it (its followers' and observers' progress); `None`
/// without a leader or an answer.
pub async fn leader_view<C: ActorClient<NodeMsg>>(node: &C) -> Option<QuorumState> {
    match timed(node, DescribeLeaderRequest).await {
        Some(QuorumReply::Described(state)) => Some(state),
        _ => None,
    }
}

/// The origins of the cluster's console pages: every admin address a node registered (empty
/// when the quorum does not answer).
pub async fn admin_origins<C: ActorClient<NodeMsg>>(node: &C) -> Vec<String> {
    match timed(node, DescribeRequest).await {
        Some(QuorumReply::Described(state)) => super::console::admin_origins(&state.brokers),
        _ => Vec::new(),
    }
}

/// The groups coordinated here, described, with their committed offsets.
async fn groups<C: ActorClient<NodeMsg>>(node: &C) -> Vec<GroupSnapshot> {
    let listed = ListGroupsArgs {
        states: Vec::new(),
        types: Vec::new(),
    };
    let Some(listed) = timed(node, listed).await else {
        return Vec::new();
    };
    let names: Vec<String> = listed.groups.into_iter().map(|g| g.group).collect();
    if names.is_empty() {
        return Vec::new();
    }
    let described = DescribeGroupsArgs {
        groups: names.clone(),
        include_authorized_operations: false,
    };
    let described = timed(node, described).await.unwrap_or_default();
    let fetch = OffsetFetchArgs {
        groups: names.iter().map(|g| (g.clone(), None)).collect(),
        require_stable: false,
        members: BTreeMap::new(),
    };
    let offsets = timed(node, fetch).await.unwrap_or_default();
    let mut groups: BTreeMap<String, GroupSnapshot> = (names.into_iter())
        .map(|group| {
            let snapshot = GroupSnapshot {
                group: group.clone(),
                ..GroupSnapshot::default()
            };
            (group, snapshot)
        })
        .collect();
    for description in described {
        if let Some(group) = groups.get_mut(&description.group) {
            group.state = description.state;
            group.members = description.members.len();
        }
    }
    for fetched in offsets
        .into_iter()
        .filter(|g| g.error_code == ErrorCode::NONE)
    {
        if let Some(group) = groups.get_mut(&fetched.group) {
            group.committed = (fetched.partitions.into_iter())
                .filter(|(_, offset, code)| *code == ErrorCode::NONE && offset.offset.0 >= 0)
                .map(|(tp, offset, _)| (tp, offset.offset.0))
                .collect();
        }
    }
    groups.into_values().collect()
}

/// Asks `request`, giving up (`None`) on an error or after [`ASK_TIMEOUT_MS`].
async fn timed<C: ActorClient<NodeMsg>, R: Call>(node: &C, request: R) -> Option<R::Reply> {
    let asked = ask(node, request);
    match tokio::time::timeout(Duration::from_millis(ASK_TIMEOUT_MS), asked).await {
        Ok(Ok(reply)) => Some(reply),
        Ok(Err(error)) => {
            tracing::debug!(%error, "admin: an actor did not answer");
            None
        }
        Err(_) => {
            tracing::debug!("admin: an actor did not answer in time");
            None
        }
    }
}
