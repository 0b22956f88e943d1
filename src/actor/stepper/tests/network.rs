//! The network model: order on a perfect network, reordering under delay, loss and
//! duplication, cuts that also lose what was in flight, and local messages left alone.

use serde::{Deserialize, Serialize};

use crate::actor::stepper::*;
use crate::actor::{Actor, ActorId, Addr, Ctx, Input, NoTimer, NodeId};

const SEQ: ActorId = ActorId(4);
/// A second actor on every node, for messages that stay on one node.
const SEQ_LOCAL: ActorId = ActorId(5);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum SeqMsg {
    /// Host request: send `N(0)..N(count)` to `to`, then answer `Done`.
    Emit {
        to: Addr,
        count: u64,
    },
    Done,
    N(u64),
    /// Host request: what arrived since the last `Seen`, in arrival order.
    Seen,
    SeenReply(Vec<u64>),
}

#[derive(Default)]
struct Seq {
    seen: Vec<u64>,
}

impl Actor<SeqMsg> for Seq {
    type Timer = NoTimer;

    fn handle(&mut self, ctx: &mut Ctx<'_, SeqMsg, NoTimer>, input: Input<SeqMsg, NoTimer>) {
        match input {
            Input::Start => {}
            Input::Request {
                id,
                msg: SeqMsg::Emit { to, count },
                ..
            } => {
                for n in 0..count {
                    ctx.send(to, SeqMsg::N(n));
                }
                ctx.reply(id, SeqMsg::Done);
            }
            Input::Request { id, .. } => {
                ctx.reply(id, SeqMsg::SeenReply(std::mem::take(&mut self.seen)))
            }
            Input::Msg {
                msg: SeqMsg::N(n), ..
            } => self.seen.push(n),
            other => panic!("seq got {other:?}"),
        }
    }
}

fn at(node: NodeId, actor: ActorId) -> Addr {
    Addr { node, actor }
}

/// Nodes 1..=3, each with `SEQ` and `SEQ_LOCAL`.
fn three_nodes(faults: NetFaults) -> Cluster<SeqMsg> {
    let mut cluster = Cluster::new(5);
    for node in 1..=3 {
        cluster.add_node(NodeId(node), |_| {
            vec![
                (SEQ, StepActor::new(Seq::default())),
                (SEQ_LOCAL, StepActor::new(Seq::default())),
            ]
        });
    }
    cluster.set_faults(faults);
    cluster
}

fn emit(cluster: &mut Cluster<SeqMsg>, from: NodeId, to: Addr, count: u64) {
    let msg = SeqMsg::Emit { to, count };
    assert_eq!(cluster.ask(at(from, SEQ), msg, 0), Ok(SeqMsg::Done));
}

fn seen(cluster: &mut Cluster<SeqMsg>, to: Addr) -> Vec<u64> {
    match cluster.ask(to, SeqMsg::Seen, 0) {
        Ok(SeqMsg::SeenReply(seen)) => seen,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_perfect_network_delivers_everything_at_once_in_send_order() {
    let mut cluster = three_nodes(NetFaults::NONE);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ), 100);
    assert_eq!(
        seen(&mut cluster, at(NodeId(2), SEQ)),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(cluster.now_ms(), 0);
}

#[test]
fn delays_reorder_without_losing_and_loss_and_duplication_apply_per_message() {
    let delay = NetFaults {
        delay_ms: 0..50,
        ..NetFaults::NONE
    };
    let mut cluster = three_nodes(delay);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ), 100);
    cluster.run_for(49);
    let arrived = seen(&mut cluster, at(NodeId(2), SEQ));
    let mut sorted = arrived.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(
        arrived, sorted,
        "a 0..50 ms delay must reorder 100 messages"
    );

    let twice = NetFaults {
        duplicate: 1.0,
        ..NetFaults::NONE
    };
    let mut cluster = three_nodes(twice);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ), 10);
    let expected: Vec<u64> = (0..10).flat_map(|n| [n, n]).collect();
    assert_eq!(seen(&mut cluster, at(NodeId(2), SEQ)), expected);

    let lossy = NetFaults {
        drop: 0.5,
        ..NetFaults::NONE
    };
    let mut cluster = three_nodes(lossy);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ), 200);
    let kept = seen(&mut cluster, at(NodeId(2), SEQ)).len();
    assert!((50..150).contains(&kept), "{kept} of 200 kept at drop 0.5");
}

#[test]
fn messages_between_actors_of_one_node_are_never_lost() {
    let all_lost = NetFaults {
        drop: 1.0,
        ..NetFaults::NONE
    };
    let mut cluster = three_nodes(all_lost);
    emit(&mut cluster, NodeId(1), at(NodeId(1), SEQ_LOCAL), 10);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ_LOCAL), 10);
    assert_eq!(
        seen(&mut cluster, at(NodeId(1), SEQ_LOCAL)),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        seen(&mut cluster, at(NodeId(2), SEQ_LOCAL)),
        Vec::<u64>::new()
    );
}

#[test]
fn a_cut_loses_what_was_in_flight_and_healing_does_not_bring_it_back() {
    // An empty range: exactly 10 ms.
    let slow = NetFaults {
        delay_ms: 10..10,
        ..NetFaults::NONE
    };
    let mut cluster = three_nodes(slow);
    emit(&mut cluster, NodeId(1), at(NodeId(2), SEQ), 5);
    emit(&mut cluster, NodeId(1), at(NodeId(3), SEQ), 5);
    cluster.run_for(5);
    cluster.isolate(NodeId(2));
    cluster.run_for(5);
    assert_eq!(seen(&mut cluster, at(NodeId(2), SEQ)), Vec::<u64>::new());
    assert_eq!(
        seen(&mut cluster, at(NodeId(3), SEQ)),
        (0..5).collect::<Vec<_>>()
    );
    cluster.heal();
    cluster.run_for(100);
    assert_eq!(seen(&mut cluster, at(NodeId(2), SEQ)), Vec::<u64>::new());
    emit(&mut cluster, NodeId(3), at(NodeId(2), SEQ), 3);
    cluster.run_for(10);
    assert_eq!(seen(&mut cluster, at(NodeId(2), SEQ)), vec![0, 1, 2]);
}
