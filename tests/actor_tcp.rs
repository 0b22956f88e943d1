//! The actor layer on real tokio and real TCP over 127.0.0.1: the same `PingPong` actors that the
//! simulator's determinism test runs exchange messages through the real transport, and a peer
//! that is stopped and started again on the same address is reconnected to. Actor-to-actor
//! calls get their reply from a live peer and fail, without hanging, towards a dead or unknown
//! one.
#![cfg(not(madsim))]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rill::actor::testkit::{PingMsg, PingPong, PingStats, TraceSink, PING_PONG};
use rill::actor::{
    Actor, ActorId, Addr, CallFailure, CallId, Ctx, Input, NoTimer, NodeId, Origin, RequestId,
};
use rill::host::{Node, NodeActor, NodeConfig};

async fn start(
    node_id: NodeId,
    listen: SocketAddr,
    peers: BTreeMap<NodeId, SocketAddr>,
    trace: TraceSink,
) -> Node<PingMsg> {
    let peer_ids = peers.keys().copied().collect();
    let actor = NodeActor::new(PingPong::new(peer_ids, trace));
    Node::start(
        NodeConfig {
            node_id,
            listen,
            peers,
        },
        vec![(PING_PONG, actor)],
    )
    .await
    .expect("node starts")
}

/// Node 1, configured with no peer, and node 2, configured with node 1 (both on a free port).
async fn start_pair(trace: &TraceSink) -> (Node<PingMsg>, Node<PingMsg>) {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let n1 = start(NodeId(1), any_port, BTreeMap::new(), trace.clone()).await;
    let peers = BTreeMap::from([(NodeId(1), n1.listen_addr())]);
    let n2 = start(NodeId(2), any_port, peers, trace.clone()).await;
    (n1, n2)
}

async fn stats(node: &Node<PingMsg>) -> PingStats {
    match node
        .handle()
        .request(PING_PONG, PingMsg::Stats)
        .await
        .expect("actor answers")
    {
        PingMsg::StatsReply(stats) => stats,
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Polls until `node` has received at least `pongs` pongs, or fails after 10 s.
async fn wait_for_pongs(node: &Node<PingMsg>, pongs: u64) -> PingStats {
    for _ in 0..1000 {
        let now = stats(node).await;
        if now.pongs_received >= pongs {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("node never reached {pongs} pongs: {:?}", stats(node).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_over_real_tcp_survives_a_peer_restart() {
    let trace = TraceSink::default();
    // Bind both listeners first (port 0), then tell each node where the other is.
    let (n1, n2) = start_pair(&trace).await;
    n1.handle().add_peer(NodeId(2), n2.listen_addr());
    // PingPong only pings the peers it was built with; node 1 was built with none, so node 1
    // answering node 2's pings proves the inbound path, and node 2's pongs prove the round trip.
    let before = wait_for_pongs(&n2, 20).await;
    assert!(stats(&n1).await.pings_received >= 20);
    assert!(before.pings_sent >= before.pongs_received);

    // Stop node 2 and start it again on the same address: node 2's outbound link is new, but
    // node 1 answers over its own link to node 2, which must reconnect.
    let n2_addr = n2.listen_addr();
    n2.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n2 = start(
        NodeId(2),
        n2_addr,
        BTreeMap::from([(NodeId(1), n1.listen_addr())]),
        trace.clone(),
    )
    .await;
    let after = wait_for_pongs(&n2, 20).await;
    assert!(
        after.pongs_received >= 20,
        "restarted node got pongs back: {after:?}"
    );
    assert!(Arc::strong_count(&trace) >= 2);
    assert!(
        trace.lock().unwrap().events > 80,
        "actors recorded their work"
    );
    n1.shutdown();
    n2.shutdown();
}

const ASKER: ActorId = ActorId(5);

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum CallMsg {
    /// From the test: call `to` and answer with how that call ended.
    Ask {
        to: Addr,
        timeout_ms: u64,
    },
    /// Actor to actor: answered with `Echoed(n * 10 + callee's node)`.
    Echo(u64),
    Echoed(u64),
    Answer(Result<u64, CallFailure>),
}

/// Turns a host request into a call and the call's end into the host reply.
#[derive(Default)]
struct Asker {
    waiting: BTreeMap<CallId, RequestId>,
}

impl Actor<CallMsg> for Asker {
    type Timer = NoTimer;

    fn handle(&mut self, ctx: &mut Ctx<'_, CallMsg, NoTimer>, input: Input<CallMsg, NoTimer>) {
        let answer = match input {
            Input::Start => return,
            Input::Request {
                id,
                from: Origin::Host,
                msg: CallMsg::Ask { to, timeout_ms },
            } => {
                let call = ctx.call(to, CallMsg::Echo(ctx.me.node.0), timeout_ms);
                self.waiting.insert(call, id);
                return;
            }
            Input::Request {
                id,
                from: Origin::Actor(_),
                msg: CallMsg::Echo(n),
            } => return ctx.reply(id, CallMsg::Echoed(n * 10 + ctx.me.node.0)),
            Input::Reply {
                call,
                msg: CallMsg::Echoed(n),
            } => (call, Ok(n)),
            Input::CallFailed { call, why } => (call, Err(why)),
            other => panic!("unexpected {other:?}"),
        };
        let (call, result) = answer;
        let id = self.waiting.remove(&call).expect("every call ends once");
        ctx.reply(id, CallMsg::Answer(result));
    }
}

async fn start_asker(
    node_id: NodeId,
    listen: SocketAddr,
    peers: BTreeMap<NodeId, SocketAddr>,
) -> Node<CallMsg> {
    let config = NodeConfig {
        node_id,
        listen,
        peers,
    };
    Node::start(config, vec![(ASKER, NodeActor::new(Asker::default()))])
        .await
        .expect("node starts")
}

/// Node `from` calls `to`; fails the test if the answer takes more than 10 s (a hang).
async fn ask(from: &Node<CallMsg>, to: Addr, timeout_ms: u64) -> Result<u64, CallFailure> {
    let handle = from.handle();
    let request = handle.request(ASKER, CallMsg::Ask { to, timeout_ms });
    match tokio::time::timeout(Duration::from_secs(10), request).await {
        Ok(Ok(CallMsg::Answer(result))) => result,
        other => panic!("no answer to a call to {to:?}: {other:?}"),
    }
}

fn asker(node: u64) -> Addr {
    Addr {
        node: NodeId(node),
        actor: ASKER,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_get_their_reply_from_a_live_peer_and_fail_towards_a_dead_or_unknown_one() {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // A port nobody listens on: node 3 is configured but dead.
    let dead = std::net::TcpListener::bind(any_port).unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let n2 = start_asker(NodeId(2), any_port, BTreeMap::new()).await;
    let n1 = start_asker(
        NodeId(1),
        any_port,
        BTreeMap::from([(NodeId(2), n2.listen_addr()), (NodeId(3), dead_addr)]),
    )
    .await;
    n2.handle().add_peer(NodeId(1), n1.listen_addr());

    // A live peer answers over TCP (its reply travels back on its own link to node 1).
    assert_eq!(ask(&n1, asker(2), 5_000).await, Ok(12));
    // A call to itself: the same inputs for the actor, routed inside its cell.
    assert_eq!(ask(&n1, asker(1), 5_000).await, Ok(11));
    // Cannot be sent at all: failed at once, whatever the timeout.
    assert_eq!(
        ask(&n1, asker(9), 60_000).await,
        Err(CallFailure::Unreachable),
        "unknown peer"
    );
    let nobody = Addr {
        node: NodeId(1),
        actor: ActorId(99),
    };
    assert_eq!(
        ask(&n1, nobody, 60_000).await,
        Err(CallFailure::Unreachable),
        "no such local actor"
    );
    // Sent but never answered: a dead peer, an actor the peer does not have.
    assert_eq!(
        ask(&n1, asker(3), 200).await,
        Err(CallFailure::TimedOut),
        "dead peer"
    );
    let missing_on_peer = Addr {
        node: NodeId(2),
        actor: ActorId(99),
    };
    assert_eq!(
        ask(&n1, missing_on_peer, 200).await,
        Err(CallFailure::TimedOut)
    );
    // The peer stops: calls to it time out instead of hanging.
    n2.shutdown();
    assert_eq!(
        ask(&n1, asker(2), 300).await,
        Err(CallFailure::TimedOut),
        "stopped peer"
    );
    n1.shutdown();
}

/// A node answers a peer it was not configured with (as voters answer a broker-only node): the
/// peer's link opens with a hello naming it and where it listens, and the node links back. A
/// connection that speaks for another node than its hello named, or before any hello, is
/// closed and its message dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_is_answered_from_its_hello_and_cannot_speak_for_another_node() {
    use rill::actor::cell::Kind;
    use rill::host::transport::{encode_frame, Envelope, Frame, Hello};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let trace = TraceSink::default();
    // Node 1 knows nobody; node 2 knows node 1 and pings it.
    let (n1, n2) = start_pair(&trace).await;
    let answered = wait_for_pongs(&n2, 10).await;
    assert!(answered.pongs_received >= 10, "{answered:?}");

    let ping = |from: u64| {
        Frame::Message(Envelope {
            from: Addr {
                node: NodeId(from),
                actor: PING_PONG,
            },
            to: Addr {
                node: NodeId(1),
                actor: PING_PONG,
            },
            kind: Kind::Msg,
            msg: PingMsg::Ping {
                seq: 1,
                payload: Vec::new(),
            },
        })
    };
    let hello = |node: u64| {
        Frame::<PingMsg>::Hello(Hello {
            node: NodeId(node),
            listen: "127.0.0.1:1".parse().unwrap(),
        })
    };
    // Is the connection closed by node 1 after these frames?
    let addr = n1.listen_addr();
    let closed_after = move |frames: Vec<Frame<PingMsg>>| async move {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        for frame in frames {
            conn.write_all(&encode_frame(&frame).unwrap())
                .await
                .unwrap();
        }
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), conn.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    };
    assert!(
        closed_after(vec![ping(2)]).await,
        "a message before any hello"
    );
    assert!(
        closed_after(vec![hello(7), ping(2)]).await,
        "a message from another node than the hello named"
    );
    assert!(
        closed_after(vec![hello(7), hello(8)]).await,
        "a second hello as another node"
    );
    // A connection that is what it said stays open.
    assert!(!closed_after(vec![hello(7), ping(7)]).await);
    n1.shutdown();
    n2.shutdown();
}
