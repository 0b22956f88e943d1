//! Calls under a faulty network: each ends exactly once, and a run replays from its seed.

use crate::actor::stepper::*;
use crate::actor::testkit::{AskMsg, AskStats, Asker, ASKER};
use crate::actor::{ActorId, Addr, NodeId};

/// Longest a call waits; longer than a round trip at the largest delay, so most calls under
/// the faulty network get a reply and some (lost, or late after a reorder) time out.
const CALL_TIMEOUT_MS: u64 = 80;
const DELAY_MS_MAX: u64 = 50;

fn asker(node: NodeId) -> Addr {
    Addr { node, actor: ASKER }
}

/// Node `node` runs an [`Asker`] calling: the asker on `peer`, an actor `peer` does not have
/// (times out: dropped on arrival), one its own node does not have and a node that does not
/// exist (both unreachable at once).
fn add_asker_node(cluster: &mut Cluster<AskMsg>, node: NodeId, peer: NodeId) {
    let missing = ActorId(77);
    let targets = vec![
        asker(peer),
        Addr {
            node: peer,
            actor: missing,
        },
        Addr {
            node,
            actor: missing,
        },
        asker(NodeId(9)),
    ];
    cluster.add_node(node, move |_| {
        let asker = Asker::new(targets.clone(), CALL_TIMEOUT_MS);
        vec![(ASKER, StepActor::new(asker))]
    });
}

fn stats(cluster: &mut Cluster<AskMsg>, node: NodeId) -> AskStats {
    match cluster.ask(asker(node), AskMsg::Stats, 0) {
        Ok(AskMsg::StatsReply(stats)) => stats,
        other => panic!("stats of node {node}: {other:?}"),
    }
}

struct Run {
    hash: u64,
    events: u64,
    stats: [AskStats; 2],
    /// Replies node 1 got while cut off from node 2.
    replies_while_cut: u64,
}

/// Two askers under drop 0.2, duplicate 0.1, delay 0..50 ms, a partition and a heal, then
/// quiesced until nothing is left to happen.
fn faulty_run(seed: u64) -> Run {
    let mut cluster = Cluster::new(seed);
    add_asker_node(&mut cluster, NodeId(1), NodeId(2));
    add_asker_node(&mut cluster, NodeId(2), NodeId(1));
    cluster.set_faults(NetFaults {
        drop: 0.2,
        duplicate: 0.1,
        delay_ms: 0..DELAY_MS_MAX,
    });
    cluster.run_for(2_000);
    cluster.partition(NodeId(1), NodeId(2));
    // Whatever was in flight when the cut came has arrived, late, or timed out by now.
    cluster.run_for(CALL_TIMEOUT_MS + DELAY_MS_MAX);
    let before = stats(&mut cluster, NodeId(1)).replies;
    cluster.run_for(1_000);
    let replies_while_cut = stats(&mut cluster, NodeId(1)).replies - before;
    cluster.heal();
    cluster.run_for(1_000);
    for node in [1, 2] {
        assert_eq!(
            cluster.ask(asker(NodeId(node)), AskMsg::Quiesce, 0),
            Ok(AskMsg::Quiet)
        );
    }
    // Every call still pending times out by then; duplicates in flight arrive and are dropped.
    cluster.run_for(CALL_TIMEOUT_MS + 2 * DELAY_MS_MAX);
    assert!(cluster.is_idle(), "nothing may be left to happen");
    let stats = [
        stats(&mut cluster, NodeId(1)),
        stats(&mut cluster, NodeId(2)),
    ];
    assert_eq!(cluster.pending_requests(), 0);
    Run {
        hash: cluster.trace_hash(),
        events: cluster.trace_events(),
        stats,
        replies_while_cut,
    }
}

#[test]
fn every_call_ends_exactly_once_under_loss_duplication_reordering_and_a_partition() {
    let run = faulty_run(1);
    assert_eq!(run.replies_while_cut, 0, "a reply crossed the partition");
    for stats in run.stats {
        assert_eq!(stats.violations, 0, "{stats:?}");
        assert_eq!(stats.pending, 0, "{stats:?}");
        assert_eq!(
            stats.calls,
            stats.replies + stats.timed_out + stats.unreachable,
            "{stats:?}"
        );
        // Half the calls go to missing places: the unknown node and the local missing actor
        // are unreachable at once, the remote missing actor times out.
        assert_eq!(stats.unreachable * 2, stats.calls, "{stats:?}");
        assert!(
            stats.replies > 0 && stats.timed_out > stats.calls / 4,
            "{stats:?}"
        );
    }
    // Duplicated asks arrive and are answered twice; the second answer never reaches the
    // caller's actor (no violation above).
    assert!(
        run.stats.iter().all(|stats| stats.duplicate_asks > 0),
        "{run:?}"
    );
}

#[test]
fn a_seed_replays_exactly_and_another_seed_does_not() {
    let first = faulty_run(7);
    let again = faulty_run(7);
    assert_eq!((first.hash, first.events), (again.hash, again.events));
    assert_eq!(first.stats, again.stats);
    let other = faulty_run(8);
    assert_ne!(first.hash, other.hash);
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hash {:x}, {:?}", self.hash, self.stats)
    }
}

#[test]
fn host_requests_fail_for_missing_places_and_succeed_on_a_perfect_network() {
    let mut cluster = Cluster::new(3);
    add_asker_node(&mut cluster, NodeId(1), NodeId(2));
    add_asker_node(&mut cluster, NodeId(2), NodeId(1));
    let missing = Addr {
        node: NodeId(1),
        actor: ActorId(77),
    };
    assert_eq!(
        cluster.ask(missing, AskMsg::Stats, 10),
        Err(RequestError::NoSuchActor(missing))
    );
    assert_eq!(
        cluster.ask(asker(NodeId(5)), AskMsg::Stats, 10),
        Err(RequestError::NoSuchNode(NodeId(5)))
    );
    cluster.run_for(1_000);
    // No faults: every call to the live peer is answered in time.
    let stats = stats(&mut cluster, NodeId(1));
    assert!(stats.replies > 10, "{stats:?}");
    // A quarter of the calls go to the live peer, half to places that do not exist.
    assert_eq!(stats.replies * 4, stats.calls, "{stats:?}");
    assert_eq!(stats.unreachable * 2, stats.calls, "{stats:?}");
    cluster.crash(NodeId(2));
    assert_eq!(
        cluster.ask(asker(NodeId(2)), AskMsg::Stats, 10),
        Err(RequestError::NodeDown(NodeId(2)))
    );
}
