//! The actor layer is deterministic under the simulator: two madsim nodes whose `PingPong`
//! actors talk through the real transport (madsim TCP) while the link is clogged and one node is
//! killed and restarted give the same trace hash for the same seed, and another for another seed.
#![cfg(madsim)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::{Handle, Runtime};
use rill::actor::testkit::{PingMsg, PingPong, TraceSink, PING_PONG};
use rill::actor::NodeId;
use rill::host::{Node, NodeActor, NodeConfig};

const PEER_PORT: u16 = 7000;

fn ip(node: NodeId) -> IpAddr {
    format!("10.0.0.{node}").parse().unwrap()
}

fn spawn_node(
    handle: &Handle,
    node_id: NodeId,
    peer: NodeId,
    trace: TraceSink,
) -> madsim::runtime::NodeHandle {
    handle
        .create_node()
        .name(format!("n{node_id}"))
        .ip(ip(node_id))
        .init(move || {
            let trace = trace.clone();
            async move {
                let config = NodeConfig {
                    node_id,
                    listen: SocketAddr::new(ip(node_id), PEER_PORT),
                    peers: BTreeMap::from([(peer, SocketAddr::new(ip(peer), PEER_PORT))]),
                };
                let actor = NodeActor::new(PingPong::new(vec![peer], trace));
                let _node = Node::start(config, vec![(PING_PONG, actor)])
                    .await
                    .expect("node starts");
                std::future::pending::<()>().await;
            }
        })
        .build()
}

/// Runs the scenario for one seed on a fresh thread (std's HashMap seeds and madsim's
/// thread-local state must not leak between runs) and returns (trace hash, events).
fn run(seed: u64) -> (u64, u64) {
    std::thread::spawn(move || {
        let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.block_on(async {
            let handle = Handle::current();
            let trace = TraceSink::default();
            let n1 = spawn_node(&handle, NodeId(1), NodeId(2), trace.clone());
            let n2 = spawn_node(&handle, NodeId(2), NodeId(1), trace.clone());
            let net = NetSim::current();
            madsim::time::sleep(Duration::from_secs(2)).await;
            net.clog_link(n1.id(), n2.id());
            madsim::time::sleep(Duration::from_secs(1)).await;
            net.unclog_link(n1.id(), n2.id());
            madsim::time::sleep(Duration::from_secs(1)).await;
            handle.kill(n2.id());
            madsim::time::sleep(Duration::from_millis(500)).await;
            handle.restart(n2.id());
            madsim::time::sleep(Duration::from_secs(2)).await;
            let trace = trace.lock().unwrap();
            (trace.hash, trace.events)
        })
    })
    .join()
    .expect("simulation thread")
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let (hash_a, events_a) = run(7);
    let (hash_b, events_b) = run(7);
    let (hash_c, _) = run(8);
    // ~6.5 s of pings every 5..40 ms in both directions, with pongs: hundreds of events.
    assert!(events_a > 300, "the actors did work: {events_a} events");
    assert_eq!(
        (hash_a, events_a),
        (hash_b, events_b),
        "same seed, same trace"
    );
    assert_ne!(hash_a, hash_c, "another seed, another trace");
}
