//! The actor layer on real tokio and real TCP over 127.0.0.1: the same `PingPong` actors that the
//! simulator's determinism test runs exchange messages through the real transport, and a peer
//! that is stopped and started again on the same address is reconnected to.
#![cfg(not(madsim))]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rill::actor::testkit::{PingMsg, PingPong, PingStats, TraceSink, PING_PONG};
use rill::actor::NodeId;
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
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // Bind both listeners first (port 0), then tell each node where the other is.
    let n1 = start(1, any_port, BTreeMap::new(), trace.clone()).await;
    let n2 = start(
        2,
        any_port,
        BTreeMap::from([(1, n1.listen_addr())]),
        trace.clone(),
    )
    .await;
    n1.handle().add_peer(2, n2.listen_addr());
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
        2,
        n2_addr,
        BTreeMap::from([(1, n1.listen_addr())]),
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
