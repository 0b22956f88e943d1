//! The group coordinator on one stepped node (TOPICS + PARTITIONS + GROUPS, with the one-voter
//! QUORUM and the broker LIFECYCLE, over a `MemStorage`,
//! `actor::stepper::Cluster`): a commit is answered only once its record is durable, a crash
//! before that sync loses it, and a restart replays the acknowledged one.

use std::collections::BTreeMap;
use std::sync::Arc;

use rill::actor::stepper::{Cluster, RequestError, StepActor};
use rill::actor::{Addr, NodeId};
use rill::config::ServerConfig;
use rill::controller::actor::TopicsActor;
use rill::controller::admin::{AdminSettings, InternalTopicSpec};
use rill::controller::lifecycle::BrokerLifecycle;
use rill::controller::quorum::QuorumActor;
use rill::group::actor::GroupsActor;
use rill::group::settings::GroupSettings;
use rill::messages::lifecycle::{LifecycleReply, LifecycleRequest, StartLifecycleRequest};
use rill::messages::{
    CommittedOffset, EnsureInternalRequest, GroupsReply, GroupsRequest, InternalTopic, NodeMsg,
    OffsetCommitArgs, OffsetFetchArgs, TopicsReply, TopicsRequest, GROUPS, LIFECYCLE, PARTITIONS,
    QUORUM, TOPICS,
};
use rill::partition::actor::Partitions;
use rill::storage::log::LogConfig;
use rill::storage::Storage;
use rill::types::{ErrorCode, LeaderEpoch, Offset, TopicPartition};

const NODE: NodeId = NodeId(1);
const GROUPS_AT: Addr = Addr {
    node: NODE,
    actor: GROUPS,
};
const TOPICS_AT: Addr = Addr {
    node: NODE,
    actor: TOPICS,
};
/// Long enough for any step of these runs (a sync takes the disk delay).
const WITHIN_MS: u64 = 60_000;

fn settings() -> AdminSettings {
    AdminSettings {
        node_id: NodeId(1),
        log: LogConfig::default(),
        num_partitions: 1,
        default_replication_factor: 1,
        offsets_topic: InternalTopicSpec {
            partitions: 3,
            replication_factor: 1,
            configs: BTreeMap::from([("retention.ms".to_owned(), "-1".to_owned())]),
        },
        txn_state_topic: InternalTopicSpec {
            partitions: 1,
            replication_factor: 1,
            configs: BTreeMap::new(),
        },
    }
}

fn cluster(seed: u64) -> Cluster<NodeMsg> {
    let mut cluster = Cluster::new(seed);
    cluster.add_node(NODE, |mem| {
        let storage: Arc<dyn Storage> = Arc::new(mem.clone());
        let topics = TopicsActor::new(settings());
        let server = ServerConfig::default();
        vec![
            (TOPICS, StepActor::new(topics)),
            (
                QUORUM,
                StepActor::new(QuorumActor::new(server.quorum_settings(), storage.clone())),
            ),
            (
                LIFECYCLE,
                StepActor::new(BrokerLifecycle::new(server.lifecycle_settings())),
            ),
            (PARTITIONS, StepActor::new(Partitions::new(storage))),
            (
                GROUPS,
                StepActor::new(GroupsActor::new(GroupSettings::default())),
            ),
        ]
    });
    cluster
}

/// What the server does at start: register the broker with the one-voter quorum, wait until
/// it is unfenced, and open every log the metadata places here.
fn open_all(cluster: &mut Cluster<NodeMsg>) {
    let start = LifecycleRequest::Start(StartLifecycleRequest {
        listeners: Vec::new(),
        rack: None,
        clean_shutdown: false,
    });
    let lifecycle = Addr {
        node: NODE,
        actor: LIFECYCLE,
    };
    cluster
        .ask(lifecycle, NodeMsg::Lifecycle(start), WITHIN_MS)
        .expect("the lifecycle starts");
    let mut unfenced = false;
    for _ in 0..500 {
        let status = NodeMsg::Lifecycle(LifecycleRequest::Status);
        if let Ok(NodeMsg::LifecycleReply(LifecycleReply::Status(s))) =
            cluster.ask(lifecycle, status, WITHIN_MS)
        {
            if !s.fenced {
                unfenced = true;
                break;
            }
        }
        cluster.run_for(10);
    }
    assert!(unfenced, "the broker was never unfenced");
    let opened = cluster.ask(
        TOPICS_AT,
        NodeMsg::Topics(TopicsRequest::OpenAll),
        WITHIN_MS,
    );
    assert!(
        matches!(opened, Ok(NodeMsg::TopicsReply(TopicsReply::Opened(_)))),
        "{opened:?}"
    );
}

fn tp() -> TopicPartition {
    TopicPartition {
        topic: "t".to_owned(),
        partition: 0,
    }
}

fn commit(offset: i64) -> NodeMsg {
    NodeMsg::Groups(GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: "g".to_owned(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            tp(),
            CommittedOffset {
                offset: Offset(offset),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    }))
}

fn committed_code(answer: Result<NodeMsg, RequestError>) -> ErrorCode {
    match answer {
        Ok(NodeMsg::GroupsReply(GroupsReply::Committed(results))) => results[0].1,
        other => panic!("expected a commit answer, got {other:?}"),
    }
}

/// `g`'s committed offset of `t-0` once its coordinator answers (retrying while it loads).
fn fetched(cluster: &mut Cluster<NodeMsg>) -> i64 {
    for _ in 0..100 {
        let request = NodeMsg::Groups(GroupsRequest::OffsetFetch(OffsetFetchArgs {
            groups: vec![("g".to_owned(), Some(vec![tp()]))],
            require_stable: false,
            members: Default::default(),
        }));
        match cluster.ask(GROUPS_AT, request, WITHIN_MS) {
            Ok(NodeMsg::GroupsReply(GroupsReply::Fetched(groups))) => {
                let group = &groups[0];
                if group.error_code == ErrorCode::NONE {
                    return group.partitions[0].1.offset.0;
                }
                assert!(
                    [
                        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                        ErrorCode::NOT_COORDINATOR,
                        ErrorCode::COORDINATOR_NOT_AVAILABLE
                    ]
                    .contains(&group.error_code),
                    "{group:?}"
                );
                cluster.run_for(10);
            }
            other => panic!("expected an OffsetFetch answer, got {other:?}"),
        }
    }
    panic!("the coordinator never answered OffsetFetch");
}

/// Commits `offset`, retrying while the coordinator is not ready; the final code.
fn commit_until_served(cluster: &mut Cluster<NodeMsg>, offset: i64) -> ErrorCode {
    for _ in 0..100 {
        let code = committed_code(cluster.ask(GROUPS_AT, commit(offset), WITHIN_MS));
        if code == ErrorCode::NONE {
            return code;
        }
        cluster.run_for(10);
    }
    panic!("the commit was never served");
}

/// The whole story for one seed; returns the run's trace hash.
fn story(seed: u64) -> u64 {
    let mut cluster = cluster(seed);
    open_all(&mut cluster);
    let ensure = NodeMsg::Topics(TopicsRequest::EnsureInternal(EnsureInternalRequest {
        topic: InternalTopic::ConsumerOffsets,
    }));
    let created = cluster.ask(TOPICS_AT, ensure, WITHIN_MS);
    assert!(
        matches!(created, Ok(NodeMsg::TopicsReply(TopicsReply::Created(ref c))) if c[0].is_ok()),
        "{created:?}"
    );
    assert_eq!(commit_until_served(&mut cluster, 42), ErrorCode::NONE);
    assert_eq!(fetched(&mut cluster), 42);

    // A commit whose sync never completes before the crash: not answered, and lost.
    cluster.set_disk_delay_ms(5_000);
    let lost = cluster.request(GROUPS_AT, commit(99));
    cluster.run_for(100);
    assert!(
        cluster.take_answer(lost).is_none(),
        "answered before its sync"
    );
    cluster.crash(NODE);
    assert!(matches!(
        cluster.take_answer(lost),
        Some(Err(RequestError::ActorGone(_)))
    ));
    cluster.set_disk_delay_ms(1);
    cluster.restart(NODE);
    open_all(&mut cluster);
    assert_eq!(
        fetched(&mut cluster),
        42,
        "the acknowledged commit is replayed, the lost one is not"
    );

    // After the restart, commits are served and survive another restart.
    assert_eq!(commit_until_served(&mut cluster, 43), ErrorCode::NONE);
    cluster.crash(NODE);
    cluster.restart(NODE);
    open_all(&mut cluster);
    assert_eq!(fetched(&mut cluster), 43);
    cluster.trace_hash()
}

#[test]
fn commits_are_answered_once_durable_and_replayed_after_a_restart() {
    for seed in 1..=20 {
        assert_eq!(story(seed), story(seed), "seed {seed} does not replay");
    }
}
