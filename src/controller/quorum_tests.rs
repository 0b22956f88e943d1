//! The quorum actor on the multi-node stepper: three voters elect a leader, agree on one
//! cluster id, apply proposals in the same order, survive the leader's crash, and catch a
//! returning voter up (through a snapshot when its log was compacted away).

use std::path::PathBuf;
use std::sync::Arc;

use super::lifecycle::{BrokerLifecycle, LifecycleSettings};
use super::metadata::{records, Listener, MetadataRecord};
use super::quorum::{QuorumActor, QuorumSettings, METADATA_DIR};
use super::raft::core::RaftConfig;
use super::raft::log_file::ENTRY_BYTES_MAX;
use crate::actor::stepper::{Cluster, StepActor};
use crate::actor::Addr;
use crate::messages::lifecycle::{
    BrokerStatus, LifecycleReply, LifecycleRequest, StartLifecycleRequest,
};
use crate::messages::quorum::{LeaderRequest, QuorumReply, QuorumRequest, QuorumState};
use crate::messages::{NodeMsg, LIFECYCLE, QUORUM};
use crate::types::{BrokerEpoch, ErrorCode, NodeId};

const VOTERS: [NodeId; 3] = [NodeId(1), NodeId(2), NodeId(3)];

fn cluster(seed: u64, snapshot_every_entries: u64) -> Cluster<NodeMsg> {
    build(seed, snapshot_every_entries, false)
}

/// Three voters; with `brokers`, each node also runs a broker that registers and heartbeats.
fn build(seed: u64, snapshot_every_entries: u64, brokers: bool) -> Cluster<NodeMsg> {
    let mut cluster = Cluster::new(seed);
    for id in VOTERS {
        let settings = unfed_voter(id, snapshot_every_entries);
        let lifecycle = LifecycleSettings {
            node_id: id,
            heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
        };
        cluster.add_node(id, move |storage| {
            let actor = QuorumActor::new(settings.clone(), Arc::new(storage.clone()));
            let mut actors = vec![(QUORUM, StepActor::new(actor))];
            if brokers {
                let broker = BrokerLifecycle::new(lifecycle.clone());
                actors.push((LIFECYCLE, StepActor::new(broker)));
            }
            actors
        });
    }
    cluster
}

const SESSION_TIMEOUT_MS: u64 = 3_000;
const HEARTBEAT_INTERVAL_MS: u64 = 500;

/// Three combined nodes: each a voter and a broker that registers and heartbeats.
fn cluster_with_brokers(seed: u64) -> Cluster<NodeMsg> {
    build(seed, 0, true)
}

/// Tells `id`'s broker to register (as the server does once its listeners are bound).
fn start_broker(cluster: &mut Cluster<NodeMsg>, id: NodeId) {
    let start = StartLifecycleRequest {
        listeners: vec![Listener {
            name: "PLAINTEXT".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 9092 + id.0 as u16,
        }],
        rack: None,
        clean_shutdown: false,
    };
    let to = Addr {
        node: id,
        actor: LIFECYCLE,
    };
    let asked = cluster.ask(to, NodeMsg::Lifecycle(LifecycleRequest::Start(start)), 100);
    assert!(matches!(asked, Ok(NodeMsg::LifecycleReply(_))), "{asked:?}");
}

/// Three combined nodes whose brokers all started (registered and heartbeating), and the
/// leader they agree on.
fn brokers_started(seed: u64) -> (Cluster<NodeMsg>, NodeId) {
    let mut cluster = cluster_with_brokers(seed);
    cluster.run_for(3_000);
    for id in VOTERS {
        start_broker(&mut cluster, id);
    }
    cluster.run_for(2_000);
    let (leader, _) = agreed_leader(&mut cluster, &VOTERS);
    (cluster, leader)
}

/// The fenced brokers of a [`brokers_seen`] answer.
fn fenced_of(seen: &[(NodeId, BrokerEpoch, bool)]) -> Vec<NodeId> {
    seen.iter().filter(|b| b.2).map(|b| b.0).collect()
}

fn registered(state: &QuorumState) -> Vec<NodeId> {
    state.brokers.iter().map(|b| b.node_id).collect()
}

/// (broker, epoch, fenced) as `id`'s voter applied them.
fn brokers_seen(cluster: &mut Cluster<NodeMsg>, id: NodeId) -> Vec<(NodeId, BrokerEpoch, bool)> {
    let state = describe(cluster, id);
    state
        .brokers
        .iter()
        .map(|b| (b.node_id, b.epoch, b.fenced))
        .collect()
}

fn at(id: NodeId) -> Addr {
    Addr {
        node: id,
        actor: QUORUM,
    }
}

fn describe(cluster: &mut Cluster<NodeMsg>, id: NodeId) -> QuorumState {
    match cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::Describe), 100) {
        Ok(NodeMsg::QuorumReply(QuorumReply::Described(state))) => state,
        other => panic!("n{id} did not describe the quorum: {other:?}"),
    }
}

/// The leader every running voter names, checking they agree.
fn agreed_leader(cluster: &mut Cluster<NodeMsg>, up: &[NodeId]) -> (NodeId, u64) {
    let states: Vec<QuorumState> = up.iter().map(|&id| describe(cluster, id)).collect();
    let leader = states[0].leader.expect("a leader is known");
    for state in &states {
        assert_eq!(
            (state.leader, state.term),
            (Some(leader), states[0].term),
            "{states:?}"
        );
    }
    (leader, states[0].term)
}

fn register(node: u64) -> Vec<u8> {
    records::encode(&[MetadataRecord::RegisterBroker {
        node_id: NodeId(node),
        incarnation_id: [node as u8; 16],
        listeners: vec![Listener {
            name: "PLAINTEXT".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 9092 + node as u16,
        }],
        rack: None,
    }])
}

fn propose(cluster: &mut Cluster<NodeMsg>, to: NodeId, entry: Vec<u8>) -> QuorumReply {
    let request = NodeMsg::Quorum(QuorumRequest::Propose { entry });
    match cluster.ask(at(to), request, 3_000) {
        Ok(NodeMsg::QuorumReply(reply)) => reply,
        other => panic!("no answer to a proposal: {other:?}"),
    }
}

#[test]
fn three_voters_elect_one_leader_name_the_cluster_once_and_apply_proposals_alike() {
    let mut cluster = cluster(3, 0);
    cluster.run_for(5_000);
    let (leader, term) = agreed_leader(&mut cluster, &VOTERS);
    assert!(term >= 1);
    let follower = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    assert_eq!(
        propose(&mut cluster, follower, register(7)),
        QuorumReply::NotLeader {
            leader: Some(leader)
        }
    );
    let QuorumReply::Committed { index } = propose(&mut cluster, leader, register(7)) else {
        panic!("the leader commits");
    };
    assert!(matches!(
        propose(&mut cluster, leader, b"not records".to_vec()),
        QuorumReply::Failed(_)
    ));
    cluster.run_for(1_000);
    let states: Vec<QuorumState> = VOTERS
        .iter()
        .map(|&id| describe(&mut cluster, id))
        .collect();
    let cluster_id = states[0].cluster_id.expect("named at the first commit");
    for state in &states {
        assert_eq!(state.cluster_id, Some(cluster_id));
        assert_eq!(state.applied_index, states[0].applied_index);
        assert!(state.applied_index >= index);
        assert_eq!(registered(state), vec![NodeId(7)]);
    }
    let leader_state = states.iter().find(|s| s.node_id == leader).unwrap();
    assert_eq!(leader_state.followers.len(), 2);
}

#[test]
fn a_new_leader_takes_over_after_a_crash_and_a_returning_voter_catches_up_from_a_snapshot() {
    let mut cluster = cluster(5, 4);
    cluster.run_for(5_000);
    let (old, old_term) = agreed_leader(&mut cluster, &VOTERS);
    let cluster_id = describe(&mut cluster, old).cluster_id;
    assert!(cluster_id.is_some());
    cluster.crash(old);
    cluster.run_for(5_000);
    let up: Vec<NodeId> = VOTERS.into_iter().filter(|&id| id != old).collect();
    let (leader, term) = agreed_leader(&mut cluster, &up);
    assert_ne!(leader, old);
    assert!(term > old_term);
    // Enough entries that the log is compacted past what the crashed voter holds.
    for node in 10..30 {
        let reply = propose(&mut cluster, leader, register(node));
        assert!(matches!(reply, QuorumReply::Committed { .. }), "{reply:?}");
    }
    cluster.restart(old);
    cluster.run_for(5_000);
    let states: Vec<QuorumState> = VOTERS
        .iter()
        .map(|&id| describe(&mut cluster, id))
        .collect();
    for state in &states {
        assert_eq!(state.cluster_id, cluster_id, "the cluster keeps its id");
        assert_eq!(state.applied_index, states[0].applied_index, "{states:?}");
        assert_eq!(registered(state).len(), 20);
    }
}

/// A voter whose disk fails stops (answers Failed), the others go on without it, and once
/// the disk works again it reopens its files by itself and catches up: no restart needed.
#[test]
fn a_voter_whose_disk_failed_reopens_by_itself_and_catches_up() {
    let mut cluster = cluster(7, 0);
    cluster.run_for(5_000);
    let (old, old_term) = agreed_leader(&mut cluster, &VOTERS);
    cluster
        .storage(old)
        .fail_writes(Some(std::io::ErrorKind::Other));
    let refused = propose(&mut cluster, old, register(7));
    assert!(matches!(refused, QuorumReply::Failed(_)), "{refused:?}");
    let asked = cluster.ask(at(old), NodeMsg::Quorum(QuorumRequest::Describe), 100);
    assert!(
        matches!(asked, Ok(NodeMsg::QuorumReply(QuorumReply::Failed(_)))),
        "a stopped voter says so: {asked:?}"
    );
    cluster.run_for(5_000);
    let up: Vec<NodeId> = VOTERS.into_iter().filter(|&id| id != old).collect();
    let (leader, term) = agreed_leader(&mut cluster, &up);
    assert!(leader != old && term > old_term);
    for node in 10..15 {
        let reply = propose(&mut cluster, leader, register(node));
        assert!(matches!(reply, QuorumReply::Committed { .. }), "{reply:?}");
    }
    // Still failing: it keeps trying (each reopen fails) and stays out.
    assert!(matches!(
        cluster.ask(at(old), NodeMsg::Quorum(QuorumRequest::Describe), 100),
        Ok(NodeMsg::QuorumReply(QuorumReply::Failed(_)))
    ));
    cluster.storage(old).fail_writes(None);
    // The next reopen is at most the backoff's ceiling away.
    cluster.run_for(35_000);
    let states: Vec<QuorumState> = VOTERS
        .iter()
        .map(|&id| describe(&mut cluster, id))
        .collect();
    for state in &states {
        assert_eq!(state.leader, Some(leader), "{states:?}");
        assert_eq!(state.applied_index, states[0].applied_index, "{states:?}");
        assert_eq!(registered(state).len(), 5, "{states:?}");
    }
}

/// Every broker registers through its own voter (forwarded to the leader) and is unfenced once
/// it applied its registration; a broker that stops heartbeating is fenced after the session
/// timeout (on every voter); back, it registers with a new incarnation, a later epoch, and is
/// unfenced again.
#[test]
fn brokers_register_through_any_voter_and_a_silent_one_is_fenced_until_it_returns() {
    let (mut cluster, leader) = brokers_started(11);
    let seen = brokers_seen(&mut cluster, leader);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|&(_, _, fenced)| !fenced), "{seen:?}");
    // A follower's broker: silent from its crash on.
    let gone = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let old_epoch = seen.iter().find(|b| b.0 == gone).unwrap().1;
    cluster.crash(gone);
    // Not before the session is over...
    cluster.run_for(SESSION_TIMEOUT_MS - 2 * HEARTBEAT_INTERVAL_MS);
    assert!(
        !brokers_seen(&mut cluster, leader).iter().any(|b| b.2),
        "fenced too early"
    );
    // ...and soon after.
    cluster.run_for(3 * HEARTBEAT_INTERVAL_MS);
    for id in VOTERS.into_iter().filter(|&id| id != gone) {
        let seen = brokers_seen(&mut cluster, id);
        let fenced = fenced_of(&seen);
        assert_eq!(fenced, vec![gone], "n{id}: {seen:?}");
    }
    cluster.restart(gone);
    cluster.run_for(2_000);
    start_broker(&mut cluster, gone);
    cluster.run_for(2_000);
    let seen = brokers_seen(&mut cluster, leader);
    let back = seen.iter().find(|b| b.0 == gone).unwrap();
    assert!(
        back.1 > old_epoch,
        "a new incarnation, a later epoch: {seen:?}"
    );
    assert!(seen.iter().all(|&(_, _, fenced)| !fenced), "{seen:?}");
}

/// The leader's crash does not fence the brokers: the new leader gives each a whole session
/// from its election, and their heartbeats (now forwarded to it) keep them unfenced.
#[test]
fn a_new_leader_fences_no_broker_that_keeps_heartbeating() {
    let (mut cluster, old) = brokers_started(12);
    cluster.crash(old);
    let up: Vec<NodeId> = VOTERS.into_iter().filter(|&id| id != old).collect();
    // Sampled every 50 ms on both survivors: a new leader that fenced the live brokers when it
    // took over would be caught even though their next heartbeats unfence them.
    let samples = 3 * SESSION_TIMEOUT_MS / 50;
    for _ in 0..samples {
        cluster.run_for(50);
        for &id in &up {
            let seen = brokers_seen(&mut cluster, id);
            let live_fenced: Vec<NodeId> = (seen.iter())
                .filter(|b| b.2 && b.0 != old)
                .map(|b| b.0)
                .collect();
            assert!(
                live_fenced.is_empty(),
                "n{id} at {}ms: {seen:?}",
                cluster.now_ms()
            );
        }
    }
    let (leader, _) = agreed_leader(&mut cluster, &up);
    let seen = brokers_seen(&mut cluster, leader);
    let fenced = fenced_of(&seen);
    // Only the crashed node's broker (it was on the old leader's node) is fenced.
    assert_eq!(fenced, vec![old], "{seen:?}");
}

/// A stopping broker asks for a controlled shutdown: the leader fences it at once (not a
/// session later), and it heartbeats no more, so it stays fenced until it registers again.
#[test]
fn a_controlled_shutdown_fences_the_broker_at_once_and_it_stays_fenced() {
    let (mut cluster, leader) = brokers_started(13);
    let leaving = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let to = Addr {
        node: leaving,
        actor: LIFECYCLE,
    };
    let asked = cluster.ask(to, NodeMsg::Lifecycle(LifecycleRequest::Shutdown), 1_000);
    let Ok(NodeMsg::LifecycleReply(LifecycleReply::Status(status))) = asked else {
        panic!("no answer to the shutdown: {asked:?}");
    };
    assert!(status.fenced, "{status:?}");
    // Fenced on the leader already, well within one heartbeat interval of the ask.
    let seen = brokers_seen(&mut cluster, leader);
    let fenced = fenced_of(&seen);
    assert_eq!(fenced, vec![leaving], "{seen:?}");
    // No heartbeat unfences it later.
    cluster.run_for(3 * SESSION_TIMEOUT_MS);
    for id in VOTERS {
        let seen = brokers_seen(&mut cluster, id);
        let fenced = fenced_of(&seen);
        assert_eq!(fenced, vec![leaving], "n{id}: {seen:?}");
    }
}

/// Another process's registration of `node` (incarnation `incarnation`), asked of `leader`:
/// the broker epoch it got.
fn register_other(
    cluster: &mut Cluster<NodeMsg>,
    leader: NodeId,
    node: NodeId,
    incarnation: u8,
) -> BrokerEpoch {
    let register = LeaderRequest::RegisterBroker {
        node_id: node,
        incarnation_id: [incarnation; 16],
        listeners: vec![],
        rack: None,
        clean_shutdown: true,
        displaced: false,
    };
    let asked = cluster.ask(at(leader), register.to_own_voter(), 1_000);
    let Ok(NodeMsg::QuorumReply(QuorumReply::Registered { broker_epoch })) = asked else {
        panic!("another process's registration: {asked:?}");
    };
    broker_epoch
}

fn lifecycle_status(cluster: &mut Cluster<NodeMsg>, node: NodeId) -> BrokerStatus {
    let to = Addr {
        node,
        actor: LIFECYCLE,
    };
    match cluster.ask(to, NodeMsg::Lifecycle(LifecycleRequest::Status), 100) {
        Ok(NodeMsg::LifecycleReply(LifecycleReply::Status(status))) => status,
        other => panic!("no status: {other:?}"),
    }
}

/// The entry of `node` in what `leader` has seen: (epoch, fenced).
fn registration_of(
    cluster: &mut Cluster<NodeMsg>,
    leader: NodeId,
    node: NodeId,
) -> (BrokerEpoch, bool) {
    let seen = brokers_seen(cluster, leader);
    let entry = seen.iter().find(|b| b.0 == node).unwrap();
    (entry.1, entry.2)
}

/// Two live processes with one node id: the later registration takes it, and the displaced
/// broker, registering again, is refused while the other is heard from (Kafka's
/// DUPLICATE_BROKER_REGISTRATION), even before the other is unfenced, so the two never
/// displace each other in turn; once the other falls silent for a session, it is taken.
#[test]
fn a_displaced_broker_does_not_take_its_node_id_back_from_a_live_process() {
    let (mut cluster, leader) = brokers_started(14);
    let twin = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let other = register_other(&mut cluster, leader, twin, 0xee);
    // The other process heartbeats for three sessions, never caught up (so never unfenced:
    // the heartbeat comes as forwarded, with the applied index it says, 0).
    let heartbeat = LeaderRequest::BrokerHeartbeat {
        node_id: twin,
        broker_epoch: other,
        applied_index: 0,
    };
    for _ in 0..(3 * SESSION_TIMEOUT_MS / HEARTBEAT_INTERVAL_MS) {
        let ask = NodeMsg::Quorum(QuorumRequest::ToLeader {
            request: heartbeat.clone(),
            forwarded: true,
        });
        let beat = cluster.ask(at(leader), ask, 1_000);
        assert!(
            matches!(
                beat,
                Ok(NodeMsg::QuorumReply(QuorumReply::Heartbeat {
                    fenced: true
                }))
            ),
            "{beat:?}"
        );
        cluster.run_for(HEARTBEAT_INTERVAL_MS);
    }
    assert_eq!(registration_of(&mut cluster, leader, twin), (other, true));
    let status = lifecycle_status(&mut cluster, twin);
    assert_eq!(
        status.broker_epoch, None,
        "the displaced broker waits: {status:?}"
    );
    // The other falls silent: a session later the displaced broker has its node id back.
    cluster.run_for(SESSION_TIMEOUT_MS + 4 * HEARTBEAT_INTERVAL_MS);
    let (epoch, fenced) = registration_of(&mut cluster, leader, twin);
    assert!(epoch > other && !fenced, "{epoch:?} {fenced}");
    assert_eq!(
        lifecycle_status(&mut cluster, twin).broker_epoch,
        Some(epoch)
    );
}

/// A registration that displaced a live broker but whose process is never heard from again
/// (seed 1051: a dead process's registration, delivered late) gives way a session after it
/// was made: the displaced broker registers again and is unfenced with a later epoch.
#[test]
fn a_displaced_broker_registers_again_over_a_registration_that_is_not_alive() {
    let (mut cluster, leader) = brokers_started(15);
    let twin = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let stale = register_other(&mut cluster, leader, twin, 0xee);
    cluster.run_for(SESSION_TIMEOUT_MS / 2);
    assert_eq!(registration_of(&mut cluster, leader, twin).0, stale);
    assert_eq!(lifecycle_status(&mut cluster, twin).broker_epoch, None);
    cluster.run_for(SESSION_TIMEOUT_MS / 2 + 4 * HEARTBEAT_INTERVAL_MS);
    let seen = brokers_seen(&mut cluster, leader);
    let back = seen.iter().find(|b| b.0 == twin).unwrap();
    assert!(back.1 > stale, "registered again: {seen:?}");
    assert!(seen.iter().all(|&(_, _, fenced)| !fenced), "{seen:?}");
    assert_eq!(
        lifecycle_status(&mut cluster, twin).broker_epoch,
        Some(back.1)
    );
}

/// Asks `id`'s voter for a producer-id block for its own broker (as the partitions actor does).
fn allocate(at_least: i64, id: NodeId) -> (Addr, NodeMsg) {
    let request = LeaderRequest::AllocateProducerIds {
        node_id: id,
        broker_epoch: BrokerEpoch(0),
        at_least,
    };
    let msg = NodeMsg::Quorum(QuorumRequest::ToLeader {
        request,
        forwarded: false,
    });
    (at(id), msg)
}

/// Producer-id blocks asked by every broker at once (through the leader and through
/// followers), and again after the leader crashed, never overlap; a block honours its
/// `at_least`; a node whose broker is not registered gets none.
#[test]
fn producer_id_blocks_never_overlap_across_brokers_and_leaders() {
    use crate::limits::PRODUCER_ID_BLOCK_SIZE;
    let (mut cluster, leader) = brokers_started(21);
    let mut granted: Vec<(i64, i32)> = Vec::new();
    let mut ask_all = |cluster: &mut Cluster<NodeMsg>, up: &[NodeId], at_least: i64| {
        let tickets: Vec<_> = (up.iter())
            .flat_map(|&id| [allocate(at_least, id), allocate(0, id)])
            .map(|(to, msg)| cluster.request(to, msg))
            .collect();
        cluster.run_for(2_000);
        for ticket in tickets {
            match cluster.take_answer(ticket) {
                Some(Ok(NodeMsg::QuorumReply(QuorumReply::ProducerIds { first_id, count }))) => {
                    granted.push((first_id, count))
                }
                // A block whose record lost the race is refused, never granted twice.
                Some(Ok(NodeMsg::QuorumReply(QuorumReply::Failed(_)))) => {}
                other => panic!("no block: {other:?}"),
            }
        }
    };
    ask_all(&mut cluster, &VOTERS, 0);
    cluster.crash(leader);
    cluster.run_for(3_000);
    let up: Vec<NodeId> = VOTERS.into_iter().filter(|&id| id != leader).collect();
    ask_all(&mut cluster, &up, 50 * PRODUCER_ID_BLOCK_SIZE);
    assert!(granted.len() >= 6, "{granted:?}");
    assert!(
        granted
            .iter()
            .any(|&(first, _)| first >= 50 * PRODUCER_ID_BLOCK_SIZE),
        "at_least honoured: {granted:?}"
    );
    granted.sort();
    for pair in granted.windows(2) {
        let ((a, a_count), (b, _)) = (pair[0], pair[1]);
        assert!(a + i64::from(a_count) <= b, "blocks overlap: {granted:?}");
        assert_eq!(i64::from(a_count), PRODUCER_ID_BLOCK_SIZE);
    }
    // A voter whose image has no registration for its node refuses at once.
    let mut lonely = cluster_with_brokers(22);
    lonely.run_for(3_000);
    let (to, msg) = allocate(0, NodeId(1));
    let answer = lonely.ask(to, msg, 1_000);
    assert!(
        matches!(
            answer,
            Ok(NodeMsg::QuorumReply(QuorumReply::StaleBrokerEpoch))
        ),
        "{answer:?}"
    );
}

/// `id`'s applied partitions of the only topic: (leader, isr) per partition.
fn leaders_seen(cluster: &mut Cluster<NodeMsg>, id: NodeId) -> Vec<(Option<u64>, Vec<u64>)> {
    let asked = cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::DescribeTopics), 100);
    let Ok(NodeMsg::QuorumReply(QuorumReply::Topics(topics))) = asked else {
        panic!("n{id} did not describe its topics: {asked:?}");
    };
    let [topic] = &topics[..] else {
        panic!("one topic: {topics:?}");
    };
    (topic.partitions.iter())
        .map(|p| {
            let isr = p.isr.iter().map(|n| n.0).collect();
            (p.leader.map(|l| l.0), isr)
        })
        .collect()
}

/// A broker that stops (a controlled shutdown) hands its leaderships to in-sync replicas on
/// live brokers in the same entry as its fence, and leaves every ISR it is not the last of; a
/// partition whose only in-sync replica it is goes offline. When it registers again and is
/// unfenced, the offline partition elects it again, on every voter alike.
#[test]
fn fencing_moves_partition_leaders_and_unfencing_brings_offline_partitions_back() {
    let (mut cluster, leader) = brokers_started(31);
    let leaving = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let other = VOTERS
        .into_iter()
        .find(|&id| id != leader && id != leaving)
        .unwrap();
    let n = |id: NodeId| id.0;
    let partition = |index: i32, replicas: Vec<NodeId>| MetadataRecord::CreatePartition {
        topic_id: [7; 16],
        partition: index,
        isr: replicas.clone(),
        leader: Some(replicas[0]),
        replicas,
        leader_epoch: crate::types::LeaderEpoch(0),
        partition_epoch: 0,
    };
    let topic = records::encode(&[
        MetadataRecord::CreateTopic {
            name: "moves".into(),
            topic_id: [7; 16],
            configs: Default::default(),
        },
        partition(0, vec![leaving, leader, other]),
        partition(1, vec![leaving]),
        partition(2, vec![leader, leaving]),
    ]);
    assert!(matches!(
        propose(&mut cluster, leader, topic),
        QuorumReply::Committed { .. }
    ));
    let to = Addr {
        node: leaving,
        actor: LIFECYCLE,
    };
    let asked = cluster.ask(to, NodeMsg::Lifecycle(LifecycleRequest::Shutdown), 1_000);
    assert!(matches!(asked, Ok(NodeMsg::LifecycleReply(_))), "{asked:?}");
    cluster.run_for(500);
    let moved = vec![
        (Some(n(leader)), vec![n(leader), n(other)]),
        (None, vec![n(leaving)]),
        (Some(n(leader)), vec![n(leader)]),
    ];
    for id in VOTERS {
        assert_eq!(leaders_seen(&mut cluster, id), moved, "n{id}");
    }
    // The process comes back: it registers anew, is unfenced, and the offline partition elects
    // it; the others keep their leaders (it is no in-sync replica of them until it caught up).
    cluster.crash(leaving);
    cluster.restart(leaving);
    cluster.run_for(3_000);
    start_broker(&mut cluster, leaving);
    cluster.run_for(3_000);
    let back = vec![
        (Some(n(leader)), vec![n(leader), n(other)]),
        (Some(n(leaving)), vec![n(leaving)]),
        (Some(n(leader)), vec![n(leader)]),
    ];
    for id in VOTERS {
        assert_eq!(leaders_seen(&mut cluster, id), back, "n{id}");
    }
}

fn to_leader(request: LeaderRequest) -> NodeMsg {
    NodeMsg::Quorum(QuorumRequest::ToLeader {
        request,
        forwarded: false,
    })
}

fn create(name: &str, partitions: i32, replication_factor: i16) -> LeaderRequest {
    LeaderRequest::CreateTopics {
        topics: vec![crate::messages::quorum::TopicSpec {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Default::default(),
            assignment: None,
        }],
        validate_only: false,
    }
}

/// The outcome codes of a topic administration's answer.
fn topic_codes(answer: Option<Result<NodeMsg, crate::actor::stepper::RequestError>>) -> Vec<i16> {
    match answer {
        Some(Ok(NodeMsg::QuorumReply(QuorumReply::TopicsChanged { outcomes, .. }))) => (outcomes
            .iter())
        .map(|o| o.as_ref().map_or_else(|r| r.code.wire(), |_| 0))
        .collect(),
        other => panic!("no topic administration answer: {other:?}"),
    }
}

/// Topic administration goes to the quorum's leader from any voter: a topic created through a
/// follower is placed on all three brokers and applied alike everywhere; two creations of one
/// name at once (through two voters) make one topic and one TOPIC_ALREADY_EXISTS (the leader
/// decides on its proposals in flight too); a deletion removes it everywhere.
#[test]
fn topics_are_created_through_any_voter_and_two_creations_of_one_name_make_one_topic() {
    let (mut cluster, leader) = brokers_started(41);
    let follower = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let answer = cluster.ask(at(follower), to_leader(create("spread", 6, 2)), 3_000);
    assert_eq!(topic_codes(Some(answer)), [0]);
    cluster.run_for(500);
    let mut seen = Vec::new();
    for id in VOTERS {
        let asked = cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::DescribeTopics), 100);
        let Ok(NodeMsg::QuorumReply(QuorumReply::Topics(topics))) = asked else {
            panic!("{asked:?}");
        };
        seen.push(topics);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "applied alike: {seen:?}"
    );
    let leaders: std::collections::BTreeSet<u64> = (seen[0][0].partitions.iter())
        .filter_map(|p| p.leader.map(|l| l.0))
        .collect();
    assert_eq!(leaders.len(), 3, "leaders on every broker: {seen:?}");

    let tickets: Vec<_> = (VOTERS.into_iter())
        .map(|id| cluster.request(at(id), to_leader(create("race", 1, 1))))
        .collect();
    cluster.run_for(2_000);
    let mut codes: Vec<i16> = (tickets.into_iter())
        .flat_map(|t| topic_codes(cluster.take_answer(t)))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [0, 36, 36],
        "one creation, TOPIC_ALREADY_EXISTS twice"
    );

    let delete = LeaderRequest::DeleteTopics {
        topics: vec![crate::messages::TopicRef::Name("spread".into())],
    };
    let answer = cluster.ask(at(follower), to_leader(delete), 3_000);
    assert_eq!(topic_codes(Some(answer)), [0]);
    cluster.run_for(500);
    for id in VOTERS {
        let asked = cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::DescribeTopics), 100);
        let Ok(NodeMsg::QuorumReply(QuorumReply::Topics(topics))) = asked else {
            panic!("{asked:?}");
        };
        let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["race"], "n{id}");
    }
}

/// A forwarded administration is answered only once the asking voter applied its entry (its
/// broker's topics actor reads the change before the answer); one too large for an entry is
/// refused at once with POLICY_VIOLATION, never asked again.
#[test]
fn a_forwarded_topic_change_is_answered_once_applied_here_and_a_too_large_one_is_refused() {
    let (mut cluster, leader) = brokers_started(43);
    let follower = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let answer = cluster.ask(at(follower), to_leader(create("held", 2, 1)), 3_000);
    let Ok(NodeMsg::QuorumReply(QuorumReply::TopicsChanged { index, outcomes })) = answer else {
        panic!("{answer:?}");
    };
    assert!(index > 0 && outcomes[0].is_ok(), "{outcomes:?}");
    let described = cluster.ask(at(follower), NodeMsg::Quorum(QuorumRequest::Describe), 100);
    let Ok(NodeMsg::QuorumReply(QuorumReply::Described(state))) = described else {
        panic!("{described:?}");
    };
    assert!(
        state.applied_index >= index,
        "{} < {index}",
        state.applied_index
    );

    let mut huge = create("huge", 1, 1);
    if let LeaderRequest::CreateTopics { topics, .. } = &mut huge {
        let value = "x".repeat(ENTRY_BYTES_MAX + 1);
        topics[0].configs.insert("cleanup.policy".into(), value);
    }
    let answer = cluster.ask(at(follower), to_leader(huge), 3_000);
    assert_eq!(
        topic_codes(Some(answer)),
        [ErrorCode::POLICY_VIOLATION.wire()]
    );
}

/// `id`'s partition leader asks, through its own voter, for partition 0's ISR to be `isr`
/// (each member with the broker epoch named), from leader epoch 0 and `partition_epoch`.
fn alter_isr(
    cluster: &mut Cluster<NodeMsg>,
    id: NodeId,
    partition_epoch: i32,
    isr: &[(NodeId, Option<BrokerEpoch>)],
) -> QuorumReply {
    let change = crate::messages::quorum::IsrChange {
        topic_id: [7; 16],
        partition: 0,
        leader_epoch: crate::types::LeaderEpoch(0),
        partition_epoch,
        new_isr: isr.to_vec(),
        resign: false,
    };
    let request = LeaderRequest::AlterPartition {
        node_id: id,
        broker_epoch: BrokerEpoch(0),
        changes: vec![change],
    };
    match cluster.ask(at(id), to_leader(request), 1_000) {
        Ok(NodeMsg::QuorumReply(reply)) => reply,
        other => panic!("no answer to the ISR change: {other:?}"),
    }
}

/// The result of an [`alter_isr`] answer's one change.
fn isr_result(reply: QuorumReply) -> Result<crate::messages::quorum::IsrState, ErrorCode> {
    match reply {
        QuorumReply::PartitionsAltered(outcomes) => outcomes[0].result.clone(),
        other => panic!("not an AlterPartition answer: {other:?}"),
    }
}

/// A partition leader's ISR change goes through its own voter (a follower of the quorum) to
/// the controller, is committed and applied alike on every voter, and the answer is the new
/// state; a change from the old state is then refused INVALID_UPDATE_VERSION; a member that
/// registered again since (a restart: a new broker epoch) is not added through its earlier
/// incarnation's epoch (KIP-903), only through its new one.
#[test]
fn a_leaders_isr_change_is_committed_once_and_an_earlier_incarnation_is_not_added() {
    let (mut cluster, controller) = brokers_started(51);
    let (leader, member) = {
        let mut others = VOTERS.into_iter().filter(|&id| id != controller);
        (others.next().unwrap(), others.next().unwrap())
    };
    let topic = records::encode(&[
        MetadataRecord::CreateTopic {
            name: "isr".into(),
            topic_id: [7; 16],
            configs: Default::default(),
        },
        MetadataRecord::CreatePartition {
            topic_id: [7; 16],
            partition: 0,
            replicas: vec![leader, member, controller],
            isr: vec![leader, member, controller],
            leader: Some(leader),
            leader_epoch: crate::types::LeaderEpoch(0),
            partition_epoch: 0,
        },
    ]);
    assert!(matches!(
        propose(&mut cluster, controller, topic),
        QuorumReply::Committed { .. }
    ));
    cluster.run_for(200);
    let epoch_of = |cluster: &mut Cluster<NodeMsg>, id: NodeId| {
        let seen = brokers_seen(cluster, controller);
        seen.iter().find(|b| b.0 == id).unwrap().1
    };
    let member_epoch = epoch_of(&mut cluster, member);

    // Shrink to the leader and `member`.
    let shrunk = isr_result(alter_isr(
        &mut cluster,
        leader,
        0,
        &[(leader, None), (member, Some(member_epoch))],
    ))
    .expect("committed");
    assert_eq!(
        (shrunk.partition_epoch, shrunk.isr.clone()),
        (1, vec![leader, member])
    );
    assert_eq!(
        shrunk.leader_epoch,
        crate::types::LeaderEpoch(0),
        "no leader epoch bump"
    );
    cluster.run_for(200);
    for id in VOTERS {
        assert_eq!(
            leaders_seen(&mut cluster, id),
            vec![(Some(leader.0), vec![leader.0, member.0])],
            "n{id}"
        );
    }
    let stale = alter_isr(&mut cluster, leader, 0, &[(leader, None)]);
    assert_eq!(isr_result(stale), Err(ErrorCode::INVALID_UPDATE_VERSION));

    // The controller's broker process restarts: a new registration, a new broker epoch.
    let old_epoch = epoch_of(&mut cluster, controller);
    cluster.crash(controller);
    cluster.restart(controller);
    cluster.run_for(3_000);
    start_broker(&mut cluster, controller);
    cluster.run_for(3_000);
    let new_epoch = epoch_of(&mut cluster, controller);
    assert!(new_epoch > old_epoch, "{old_epoch} → {new_epoch}");
    let grow = |epoch| {
        [
            (leader, None),
            (member, Some(member_epoch)),
            (controller, Some(epoch)),
        ]
    };
    let refused = alter_isr(&mut cluster, leader, 1, &grow(old_epoch));
    assert_eq!(isr_result(refused), Err(ErrorCode::INELIGIBLE_REPLICA));
    let grown = isr_result(alter_isr(&mut cluster, leader, 1, &grow(new_epoch))).expect("added");
    assert_eq!(grown.isr, vec![leader, member, controller]);
    assert_eq!(grown.partition_epoch, 2);
}

/// AlterUserScramCredentials through a follower: answered once the follower applied the
/// entry (its broker's next describe or login sees the credential), with each user's result;
/// the leader decides a deletion on what it holds, and a request that changes nothing
/// answers at once with index 0.
#[test]
fn scram_credentials_change_through_any_voter_and_answer_once_applied_there() {
    use crate::messages::scram::{ScramDeletion, ScramMechanism, ScramUpsertion};
    let (mut cluster, leader) = brokers_started(47);
    let follower = VOTERS.into_iter().find(|&id| id != leader).unwrap();
    let m = ScramMechanism::Sha256;
    let upsert = LeaderRequest::AlterScramCredentials {
        deletions: Vec::new(),
        upsertions: vec![ScramUpsertion {
            name: "alice".into(),
            mechanism: m.kafka_type(),
            iterations: 4096,
            salt: b"salt".to_vec(),
            salted_password: m.salted_password(b"alice-secret", b"salt", 4096),
        }],
    };
    let answer = cluster.ask(at(follower), to_leader(upsert), 3_000);
    let Ok(NodeMsg::QuorumReply(QuorumReply::ScramCredentialsAltered { index, results })) = answer
    else {
        panic!("{answer:?}");
    };
    assert!(index > 0, "written");
    assert_eq!(results, vec![("alice".to_string(), Ok(()))]);
    assert!(describe(&mut cluster, follower).applied_index >= index);
    let delete = |name: &str| LeaderRequest::AlterScramCredentials {
        deletions: vec![ScramDeletion {
            name: name.into(),
            mechanism: m.kafka_type(),
        }],
        upsertions: Vec::new(),
    };
    let answer = cluster.ask(at(follower), to_leader(delete("bob")), 3_000);
    let Ok(NodeMsg::QuorumReply(QuorumReply::ScramCredentialsAltered { index, results })) = answer
    else {
        panic!("{answer:?}");
    };
    assert_eq!(index, 0, "nothing to write");
    let code = results[0].1.as_ref().map_err(|r| r.code);
    assert_eq!(code, Err(ErrorCode::RESOURCE_NOT_FOUND));
    let answer = cluster.ask(at(leader), to_leader(delete("alice")), 3_000);
    assert!(
        matches!(&answer, Ok(NodeMsg::QuorumReply(QuorumReply::ScramCredentialsAltered { index, results }))
            if *index > 0 && results[0].1.is_ok()),
        "{answer:?}"
    );
}

/// Review finding (issue 16): a voter that reopens its files starts again from its last
/// snapshot, and without a leader to tell it what is committed it stays there. The ACLs it
/// publishes to its broker's gateway must not go back to that older image: an ACL deleted
/// since its snapshot must not come back into force while it catches up.
#[test]
fn a_reopened_voter_never_publishes_acls_older_than_it_had() {
    use crate::messages::acls::PublishedAcls;
    use crate::security::acl::{
        AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
        PatternType, ResourcePattern, ResourceType,
    };
    const SNAPSHOT_EVERY: u64 = 50;
    let views: Vec<PublishedAcls> = VOTERS.iter().map(|_| PublishedAcls::default()).collect();
    let mut cluster = Cluster::new(29);
    for (id, view) in VOTERS.into_iter().zip(&views) {
        let settings = unfed_voter(id, SNAPSHOT_EVERY);
        let view = view.clone();
        cluster.add_node(id, move |storage| {
            let actor = QuorumActor::new(settings.clone(), Arc::new(storage.clone()))
                .publishing_acls(view.clone());
            vec![(QUORUM, StepActor::new(actor))]
        });
    }
    cluster.run_for(5_000);
    let (leader, _) = agreed_leader(&mut cluster, &VOTERS);
    let victim = VOTERS.into_iter().position(|id| id != leader).unwrap();
    let grant = AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, "t", PatternType::Literal),
        AccessControlEntry::new(
            "User:eve",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        ),
    );
    let create = LeaderRequest::CreateAcls {
        bindings: vec![grant.clone()],
    };
    let answer = cluster.ask(at(leader), to_leader(create), 3_000);
    assert!(
        matches!(
            answer,
            Ok(NodeMsg::QuorumReply(QuorumReply::AclsCreated { .. }))
        ),
        "{answer:?}"
    );
    // Enough entries after it that every voter's snapshot holds the grant...
    for node in 100..100 + SNAPSHOT_EVERY + 10 {
        let reply = propose(&mut cluster, leader, register(node));
        assert!(matches!(reply, QuorumReply::Committed { .. }), "{reply:?}");
    }
    // ... and its deletion after that snapshot, too few entries later to be in the next.
    let delete = LeaderRequest::DeleteAcls {
        filters: vec![AclBindingFilter::exactly(&grant)],
    };
    let answer = cluster.ask(at(leader), to_leader(delete), 3_000);
    assert!(
        matches!(
            answer,
            Ok(NodeMsg::QuorumReply(QuorumReply::AclsDeleted { .. }))
        ),
        "{answer:?}"
    );
    cluster.run_for(2_000);
    assert!(
        views[victim].load().is_empty(),
        "the deletion is applied there"
    );
    // Its disk fails at the next entry it is sent; then, cut off, it reopens its files once
    // the disk is back, from its snapshot, with nobody to catch up from.
    let id = VOTERS[victim];
    cluster
        .storage(id)
        .fail_writes(Some(std::io::ErrorKind::Other));
    let reply = propose(&mut cluster, leader, register(99));
    assert!(matches!(reply, QuorumReply::Committed { .. }), "{reply:?}");
    cluster.run_for(200);
    let asked = cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::Describe), 100);
    assert!(
        matches!(asked, Ok(NodeMsg::QuorumReply(QuorumReply::Failed(_)))),
        "its write failed: {asked:?}"
    );
    cluster.isolate(id);
    cluster.storage(id).fail_writes(None);
    cluster.run_for(35_000);
    // It did reopen (else this test would prove nothing): no longer failed.
    let asked = cluster.ask(at(id), NodeMsg::Quorum(QuorumRequest::Describe), 100);
    assert!(
        !matches!(asked, Ok(NodeMsg::QuorumReply(QuorumReply::Failed(_)))),
        "still failed: {asked:?}"
    );
    assert!(
        views[victim].load().is_empty(),
        "the deleted grant is back in force: {:?}",
        views[victim].load()
    );
    cluster.heal();
    cluster.run_for(10_000);
    assert!(views[victim].load().is_empty());
    assert_eq!(
        describe(&mut cluster, id).applied_index,
        describe(&mut cluster, leader).applied_index
    );
}

/// AlterClientQuotas through a follower: answered once the follower applied the entry and
/// published the quotas to its gateway (so the broker asked holds its next request to them),
/// and published by every voter; a second identical request writes nothing (index 0).
#[test]
fn client_quotas_are_published_before_the_answer_and_everywhere() {
    use crate::messages::quotas::{
        PublishedQuotas, QuotaAlteration, CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE,
    };
    let views: Vec<PublishedQuotas> = VOTERS.iter().map(|_| PublishedQuotas::default()).collect();
    let mut cluster = Cluster::new(31);
    for (id, view) in VOTERS.into_iter().zip(&views) {
        let settings = unfed_voter(id, 1_000);
        let view = view.clone();
        cluster.add_node(id, move |storage| {
            let actor = QuorumActor::new(settings.clone(), Arc::new(storage.clone()))
                .publishing_quotas(view.clone());
            vec![(QUORUM, StepActor::new(actor))]
        });
    }
    cluster.run_for(5_000);
    let (leader, _) = agreed_leader(&mut cluster, &VOTERS);
    let follower = VOTERS.into_iter().position(|id| id != leader).unwrap();
    let alter = LeaderRequest::AlterClientQuotas {
        entries: vec![QuotaAlteration {
            entity: vec![("client-id".into(), Some("app".into()))],
            ops: vec![
                (PRODUCER_BYTE_RATE.into(), Some(1024.0)),
                (CONSUMER_BYTE_RATE.into(), Some(2048.0)),
            ],
        }],
        validate_only: false,
    };
    let answer = cluster.ask(at(VOTERS[follower]), to_leader(alter.clone()), 3_000);
    let Ok(NodeMsg::QuorumReply(QuorumReply::ClientQuotasAltered { index, results })) = answer
    else {
        panic!("{answer:?}");
    };
    assert!(index > 0, "written");
    assert_eq!(results, vec![Ok(())]);
    let resolved = views[follower]
        .load()
        .resolve(PRODUCER_BYTE_RATE, "anyone", "app");
    assert_eq!(
        resolved.map(|r| r.limit),
        Some(1024.0),
        "published before the answer"
    );
    cluster.run_for(1_000);
    for view in &views {
        let quotas = view.load();
        assert_eq!(
            quotas
                .resolve(CONSUMER_BYTE_RATE, "u", "app")
                .map(|r| r.limit),
            Some(2048.0)
        );
    }
    let again = cluster.ask(at(leader), to_leader(alter), 3_000);
    assert!(
        matches!(&again, Ok(NodeMsg::QuorumReply(QuorumReply::ClientQuotasAltered { index: 0, results }))
            if results == &vec![Ok(())]),
        "{again:?}"
    );
}

/// The settings of voter `id` of [`VOTERS`] that feeds no topics actor (the clusters of
/// [`build`], and the tests of what a voter publishes to its gateway), snapshotting every
/// `snapshot_every_entries`.
fn unfed_voter(id: NodeId, snapshot_every_entries: u64) -> QuorumSettings {
    QuorumSettings {
        node_id: id,
        voters: VOTERS.to_vec(),
        raft: RaftConfig::default(),
        snapshot_every_entries,
        dir: PathBuf::from(METADATA_DIR),
        broker_session_timeout_ms: SESSION_TIMEOUT_MS,
        feeds_topics: false,
        leader_balance_interval_ms: None,
        topic_defaults: Default::default(),
    }
}
