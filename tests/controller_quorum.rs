//! The controller quorum across real processes (issue 13): three combined `rill server` nodes on
//! 127.0.0.1 elect one leader and agree on one cluster id; the leader's `kill -9` elects
//! another in a later epoch; the killed node comes back and catches up. A single node names
//! its cluster once and keeps the name across restarts. Bad quorum settings stop start-up.
//! Producer ids, taken from the quorum in blocks, are unique across brokers and restarts.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // a test waits on the real clock

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, InitProducerIdRequest, InitProducerIdResponse, MetadataRequest,
    MetadataResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use common::{call, free_port, server_exit, RillServer};

/// How long a cluster may take to elect a leader (election timeouts of 500 ms, debug builds).
const ELECTION_WAIT: Duration = Duration::from_secs(20);

/// The leader's view of the quorum, as DescribeQuorum v2 gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Quorum {
    leader: i32,
    epoch: i32,
    high_watermark: i64,
    /// (voter, log end offset), by voter.
    voters: Vec<(i32, i64)>,
}

fn describe_quorum(server: &RillServer) -> Result<Quorum, i16> {
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let response: DescribeQuorumResponse =
        call(&mut server.connect(), ApiKey::DescribeQuorum, 2, &request);
    if response.error_code != 0 {
        return Err(response.error_code);
    }
    let partition = &response.topics[0].partitions[0];
    if partition.error_code != 0 {
        return Err(partition.error_code);
    }
    Ok(Quorum {
        leader: partition.leader_id.0,
        epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        voters: partition
            .current_voters
            .iter()
            .map(|v| (v.replica_id.0, v.log_end_offset))
            .collect(),
    })
}

/// Asks `server` until `accept` takes its answer (or panics after `within`).
fn describe_until(
    server: &RillServer,
    within: Duration,
    accept: impl Fn(&Quorum) -> bool,
) -> Quorum {
    let deadline = Instant::now() + within;
    loop {
        let answer = describe_quorum(server);
        if let Ok(quorum) = &answer {
            if accept(quorum) {
                return quorum.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the quorum did not settle: last answer {answer:?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cluster_id(server: &RillServer) -> String {
    let request = MetadataRequest::default().with_topics(Some(Vec::new()));
    let response: MetadataResponse = call(&mut server.connect(), ApiKey::Metadata, 12, &request);
    response.cluster_id.expect("a cluster id").to_string()
}

/// Three combined nodes: each a Kafka listener and a controller listener on 127.0.0.1.
struct Cluster {
    /// Per node (index = id - 1): its data directory, Kafka address and server arguments.
    nodes: Vec<(Arc<tempfile::TempDir>, SocketAddr, Vec<String>)>,
    /// Per node: its controller listener's port.
    controllers: Vec<u16>,
}

impl Cluster {
    fn new(size: u32) -> Self {
        let controllers: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let voters: Vec<String> = controllers
            .iter()
            .enumerate()
            .map(|(i, port)| format!("{}@127.0.0.1:{port}", i + 1))
            .collect();
        let nodes = (0..size as usize)
            .map(|i| {
                let dir = Arc::new(tempfile::tempdir().unwrap());
                let kafka: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
                let args = vec![
                    "--node-id".to_owned(),
                    (i + 1).to_string(),
                    "--listeners".to_owned(),
                    format!(
                        "PLAINTEXT://{kafka},CONTROLLER://127.0.0.1:{}",
                        controllers[i]
                    ),
                    "--log-dirs".to_owned(),
                    dir.path().display().to_string(),
                    "--override".to_owned(),
                    format!("controller.quorum.voters={}", voters.join(",")),
                    "--override".to_owned(),
                    "controller.quorum.election.timeout.ms=500".to_owned(),
                ];
                (dir, kafka, args)
            })
            .collect();
        Self { nodes, controllers }
    }

    /// Makes node `id` controller-only (`process.roles=controller`): its controller listener
    /// alone, which is also where readiness is checked.
    fn controller_only(&mut self, id: usize) {
        let port = self.controllers[id - 1];
        let (_, addr, args) = &mut self.nodes[id - 1];
        let at = args.iter().position(|a| a == "--listeners").unwrap() + 1;
        args[at] = format!("CONTROLLER://127.0.0.1:{port}");
        args.extend([
            "--override".to_owned(),
            "process.roles=controller".to_owned(),
        ]);
        *addr = format!("127.0.0.1:{port}").parse().unwrap();
    }

    /// Sets `key=value` on every node.
    fn set(&mut self, setting: &str) {
        for (_, _, args) in &mut self.nodes {
            args.extend(["--override".to_owned(), setting.to_owned()]);
        }
    }

    /// Starts node `id` (1-based) without waiting for it to serve.
    fn spawn(&self, id: usize) -> RillServer {
        let (dir, addr, args) = &self.nodes[id - 1];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        RillServer::spawn_exact_env(dir.clone(), *addr, &args, &[])
    }

    /// Starts every node, then waits for each to serve (none serves before a majority is up).
    fn start_all(&self) -> Vec<RillServer> {
        let mut servers: Vec<RillServer> =
            (1..=self.nodes.len()).map(|id| self.spawn(id)).collect();
        for server in &mut servers {
            server.wait_serving(ELECTION_WAIT);
        }
        servers
    }
}

#[test]
fn three_nodes_elect_one_leader_fail_over_and_catch_up() {
    let cluster = Cluster::new(3);
    let mut servers = cluster.start_all();

    // Every node answers with the leader's view (a follower forwards), so all agree.
    let first = describe_until(&servers[0], ELECTION_WAIT, |q| q.voters.len() == 3);
    assert!((1..=3).contains(&first.leader), "{first:?}");
    assert_eq!(
        first.voters.iter().map(|v| v.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // The leader's no-op and the cluster id are committed.
    assert!(first.high_watermark >= 2, "{first:?}");
    for server in &servers[1..] {
        let seen = describe_until(server, ELECTION_WAIT, |q| q.epoch >= first.epoch);
        assert_eq!((seen.leader, seen.epoch), (first.leader, first.epoch));
    }
    let id = cluster_id(&servers[0]);
    assert_eq!(id.len(), 22, "Kafka's text form of 16 bytes: {id}");
    for server in &servers[1..] {
        assert_eq!(cluster_id(server), id, "one cluster");
    }

    // The tool prints the leader's replication table.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["metadata-quorum", "--bootstrap-server"])
        .arg(servers[2].addr.to_string())
        .args(["describe", "--replication"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    let leader_row = table.lines().nth(1).unwrap_or_default();
    assert!(
        leader_row.starts_with(&first.leader.to_string()) && leader_row.ends_with("Leader"),
        "{table}"
    );
    assert_eq!(table.lines().filter(|l| l.ends_with("Follower")).count(), 2);

    // kill -9 the leader: the other two elect one of themselves in a later epoch, with
    // everything committed before still committed.
    let old_leader = first.leader as usize;
    servers[old_leader - 1].kill();
    let survivor = &servers[old_leader % 3];
    let second = describe_until(survivor, ELECTION_WAIT, |q| {
        q.leader != first.leader && q.epoch > first.epoch
    });
    assert!(second.high_watermark >= first.high_watermark, "{second:?}");
    assert_eq!(cluster_id(survivor), id);

    // The old leader comes back on its files, follows, and catches up with the leader's log.
    let mut back = cluster.spawn(old_leader);
    back.wait_serving(ELECTION_WAIT);
    describe_until(&back, ELECTION_WAIT, |q| {
        let leader_end = q.voters.iter().find(|v| v.0 == q.leader).map(|v| v.1);
        q.epoch >= second.epoch && q.voters.iter().all(|v| Some(v.1) == leader_end)
    });
    assert_eq!(cluster_id(&back), id, "the same cluster after the restart");
    servers[old_leader - 1] = back;
}

#[test]
fn a_single_node_names_its_cluster_once_and_keeps_the_name() {
    let server = RillServer::start(&[]);
    let quorum = describe_quorum(&server).expect("a quorum of one has a leader");
    assert_eq!((quorum.leader, quorum.voters.len()), (1, 1), "{quorum:?}");
    let id = cluster_id(&server);
    assert_eq!(id.len(), 22, "{id}");

    let server = server.restart(&[]);
    assert_eq!(cluster_id(&server), id, "the name survives kill -9");
    let again = describe_quorum(&server).unwrap();
    assert!(
        again.epoch > quorum.epoch,
        "a new term after the restart: {again:?}"
    );

    let other = RillServer::start(&[]);
    assert_ne!(cluster_id(&other), id, "another node, another cluster");
}

#[test]
fn quorum_settings_a_node_cannot_serve_stop_start_up() {
    let refused = |extra: &[&str], expected: &str| {
        let dir = tempfile::tempdir().unwrap();
        let listeners = format!("PLAINTEXT://127.0.0.1:{}", free_port());
        let mut args = vec![
            "--listeners",
            &listeners,
            "--log-dirs",
            dir.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, stderr) = server_exit(&args, Duration::from_secs(10));
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    };
    refused(&["--override", "process.roles=broker"], "process.roles");
    refused(
        &[
            "--node-id",
            "4",
            "--override",
            "controller.quorum.voters=1@127.0.0.1:9093",
        ],
        "node.id 4 is not one of the voters",
    );
    refused(
        &["--override", "controller.quorum.voters=1@db.example:9093"],
        "not an IP address",
    );
}

/// (broker id, port, fenced) as DescribeCluster lists them; v2 with fenced brokers included.
fn cluster_brokers(server: &RillServer, include_fenced: bool) -> Vec<(i32, i32, bool)> {
    let request = DescribeClusterRequest::default()
        .with_endpoint_type(1)
        .with_include_fenced_brokers(include_fenced);
    let response: DescribeClusterResponse =
        call(&mut server.connect(), ApiKey::DescribeCluster, 2, &request);
    assert_eq!(response.error_code, 0, "{response:?}");
    let mut brokers: Vec<(i32, i32, bool)> = (response.brokers.iter())
        .map(|b| (b.broker_id.0, b.port, b.is_fenced))
        .collect();
    brokers.sort();
    brokers
}

fn brokers_until(
    server: &RillServer,
    within: Duration,
    accept: impl Fn(&[(i32, i32, bool)]) -> bool,
) -> Vec<(i32, i32, bool)> {
    let deadline = Instant::now() + within;
    loop {
        let brokers = cluster_brokers(server, true);
        if accept(&brokers) {
            return brokers;
        }
        assert!(
            Instant::now() < deadline,
            "the brokers did not settle: last answer {brokers:?}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every node registers with the quorum's leader and is listed (by DescribeCluster, on any
/// node) with the port clients reach it on; a node killed with -9 is fenced once its session
/// is over (and hidden from a DescribeCluster that does not ask for fenced brokers); back, it
/// registers again and is unfenced.
#[test]
fn brokers_register_and_one_that_stops_heartbeating_is_fenced_until_it_returns() {
    let mut cluster = Cluster::new(3);
    cluster.set("broker.session.timeout.ms=2000");
    cluster.set("broker.heartbeat.interval.ms=200");
    let mut servers = cluster.start_all();
    let ports: Vec<i32> = servers.iter().map(|s| i32::from(s.addr.port())).collect();
    let all_live = |b: &[(i32, i32, bool)]| b.len() == 3 && b.iter().all(|x| !x.2);
    for server in &servers {
        let brokers = brokers_until(server, ELECTION_WAIT, all_live);
        let expected: Vec<(i32, i32, bool)> = (1..=3)
            .map(|id| (id, ports[id as usize - 1], false))
            .collect();
        assert_eq!(brokers, expected);
    }

    servers[2].kill();
    let fenced = brokers_until(&servers[0], ELECTION_WAIT, |b| {
        b.iter().any(|x| x.0 == 3 && x.2)
    });
    assert!(
        fenced.iter().filter(|x| x.0 != 3).all(|x| !x.2),
        "{fenced:?}"
    );
    // Node 2 applies the fence a moment later (if not already).
    brokers_until(&servers[1], ELECTION_WAIT, |b| {
        b.iter().any(|x| x.0 == 3 && x.2)
    });
    let shown: Vec<i32> = (cluster_brokers(&servers[1], false).iter())
        .map(|b| b.0)
        .collect();
    assert_eq!(shown, [1, 2], "a fenced broker is not shown to clients");

    let mut back = cluster.spawn(3);
    back.wait_serving(ELECTION_WAIT);
    brokers_until(&servers[0], ELECTION_WAIT, all_live);
    brokers_until(&back, ELECTION_WAIT, all_live);
}

/// SIGTERM makes a controlled shutdown: the leader fences the stopping broker at once, so the
/// others stop listing it long before its session (9 s by default) would have run out.
#[test]
fn a_stopped_broker_is_fenced_at_once_not_a_session_later() {
    let cluster = Cluster::new(3);
    let mut servers = cluster.start_all();
    let all_live = |b: &[(i32, i32, bool)]| b.len() == 3 && b.iter().all(|x| !x.2);
    brokers_until(&servers[0], ELECTION_WAIT, all_live);
    assert_eq!(servers[2].terminate(), Some(0), "a clean stop");
    let stopped = Instant::now();
    let shown = |server: &RillServer| -> Vec<i32> {
        cluster_brokers(server, false).iter().map(|b| b.0).collect()
    };
    let deadline = stopped + Duration::from_secs(3);
    while shown(&servers[0]) != [1, 2] || shown(&servers[1]) != [1, 2] {
        assert!(
            Instant::now() < deadline,
            "still listed {:?} after the stop\n{}",
            shown(&servers[0]),
            servers[2].log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        servers[2].log().contains("controlled shutdown done"),
        "{}",
        servers[2].log()
    );
}

/// A fresh producer id from `server` (InitProducerId v4, no transactional id), asked until the
/// broker has its block from the quorum (COORDINATOR_LOAD_IN_PROGRESS until then).
fn producer_id(server: &RillServer) -> i64 {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let deadline = Instant::now() + ELECTION_WAIT;
    loop {
        let r: InitProducerIdResponse =
            call(&mut server.connect(), ApiKey::InitProducerId, 4, &request);
        if r.error_code == 0 {
            assert_eq!(r.producer_epoch, 0);
            return r.producer_id.0;
        }
        assert_eq!(r.error_code, 14, "COORDINATOR_LOAD_IN_PROGRESS, retried");
        assert!(
            Instant::now() < deadline,
            "no producer id from {}",
            server.addr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Producer ids come from the quorum in blocks: the three brokers hand out ids from three
/// different blocks, and a broker killed with -9 and restarted never hands out one of them
/// again (its old block is skipped: the next one starts after every block committed).
#[test]
fn producer_ids_are_unique_across_brokers_and_restarts() {
    let cluster = Cluster::new(3);
    let mut servers = cluster.start_all();
    let mut given = std::collections::BTreeSet::new();
    for server in &servers {
        for _ in 0..3 {
            let id = producer_id(server);
            assert!(given.insert(id), "{id} given twice: {given:?}");
        }
    }
    let blocks: std::collections::BTreeSet<i64> = given.iter().map(|id| id / 1000).collect();
    assert_eq!(blocks.len(), 3, "one block per broker: {given:?}");
    servers[1].kill();
    let mut back = cluster.spawn(2);
    back.wait_serving(ELECTION_WAIT);
    let after = producer_id(&back);
    assert!(
        after > *given.iter().max().unwrap(),
        "{after} after a restart, given before: {given:?}"
    );
    servers[1] = back;
}

/// A controller-only node (`process.roles=controller`) votes but is no broker: with two combined
/// nodes it makes a quorum of three, DescribeQuorum lists it as a voter and DescribeCluster never
/// as a broker, it takes no Kafka connection, and it keeps the quorum alive (two of three) when
/// a broker is killed: the leader still fences the dead broker.
#[test]
fn a_controller_only_node_votes_and_is_no_broker() {
    let mut cluster = Cluster::new(3);
    cluster.set("broker.session.timeout.ms=2000");
    cluster.set("broker.heartbeat.interval.ms=200");
    cluster.controller_only(3);
    let mut servers = cluster.start_all();
    let quorum = describe_until(&servers[0], ELECTION_WAIT, |q| q.voters.len() == 3);
    assert_eq!(
        quorum.voters.iter().map(|v| v.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let live = |b: &[(i32, i32, bool)]| b.len() == 2 && b.iter().all(|x| !x.2);
    let brokers = brokers_until(&servers[1], ELECTION_WAIT, live);
    assert_eq!(brokers.iter().map(|b| b.0).collect::<Vec<_>>(), [1, 2]);
    assert!(
        servers[2].log().contains("serving as a controller only"),
        "{}",
        servers[2].log()
    );
    // Its only port speaks the inter-node protocol: a Kafka request gets no Kafka answer.
    let mut stream = servers[2].connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = MetadataRequest::default().with_topics(Some(Vec::new()));
    let header = kafka_protocol::messages::RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(12)
        .with_correlation_id(1);
    let mut frame = bytes::BytesMut::new();
    kafka_protocol::protocol::Encodable::encode(&header, &mut frame, 2).unwrap();
    kafka_protocol::protocol::Encodable::encode(&request, &mut frame, 12).unwrap();
    use std::io::{Read, Write};
    let _ = stream.write_all(&(frame.len() as u32).to_be_bytes());
    let _ = stream.write_all(&frame);
    let mut answer = [0u8; 4];
    assert!(
        stream.read_exact(&mut answer).is_err(),
        "a controller-only node answered a Kafka request"
    );
    // Broker 1 dies: node 2 and the controller still make a majority, whose leader fences it.
    servers[0].kill();
    let fenced = brokers_until(&servers[1], ELECTION_WAIT, |b| {
        b.iter().any(|x| x.0 == 1 && x.2)
    });
    assert!(fenced.iter().any(|x| x.0 == 2 && !x.2), "{fenced:?}");
}

/// Settings a controller-only node cannot run with stop start-up with the key named.
#[test]
fn a_controller_only_node_with_a_client_listener_or_no_voters_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let log_dirs = dir.path().display().to_string();
    for (args, key) in [
        (
            vec![
                "--listeners",
                "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "--override",
                "controller.quorum.voters=1@127.0.0.1:9193",
            ],
            "listeners",
        ),
        (
            vec!["--listeners", "CONTROLLER://127.0.0.1:0"],
            "controller.quorum.voters",
        ),
    ] {
        let mut all = vec!["--node-id", "1", "--log-dirs", &log_dirs];
        all.extend(&args);
        all.extend(["--override", "process.roles=controller"]);
        let (code, said) = server_exit(&all, Duration::from_secs(20));
        assert_ne!(code, Some(0), "{said}");
        assert!(code.is_some(), "it did not stop: {said}");
        assert!(said.contains(key), "{key} not named: {said}");
    }
}
