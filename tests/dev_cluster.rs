//! `rill dev-cluster` as a user runs it: one command starts three real `rill server` processes
//! that form one cluster (one cluster id, three registered brokers), prints the bootstrap
//! string and each node's log, and SIGTERM stops every node cleanly.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // a test waits on the real clock

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
};

use common::call;

/// `n` consecutive free ports on 127.0.0.1, below Linux's ephemeral range.
fn free_block(n: u16) -> u16 {
    let start = 20_000 + (std::process::id() % 500) as u16 * 23;
    (0..500u16)
        .map(|i| 20_000 + (start - 20_000 + i * 24) % 11_900)
        .find(|&base| (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("a free block of ports")
}

/// The whole HTTP/1.1 answer to `GET path` at 127.0.0.1:`port` (the connection is closed after).
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = connect(port);
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn connect(port: u16) -> TcpStream {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

fn live_brokers(port: u16) -> Vec<(i32, i32)> {
    let request = DescribeClusterRequest::default().with_endpoint_type(1);
    let response: DescribeClusterResponse =
        call(&mut connect(port), ApiKey::DescribeCluster, 1, &request);
    let mut brokers: Vec<(i32, i32)> = (response.brokers.iter())
        .map(|b| (b.broker_id.0, b.port))
        .collect();
    brokers.sort();
    brokers
}

#[test]
fn dev_cluster_starts_three_nodes_of_one_cluster_and_stops_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_block(9);
    let mut cluster = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["dev-cluster", "--nodes", "3", "--dir"])
        .arg(dir.path())
        .args(["--base-port", &base.to_string()])
        .args(["--controller-base-port", &(base + 3).to_string()])
        .args(["--admin-base-port", &(base + 6).to_string()])
        .args(["--override", "controller.quorum.election.timeout.ms=500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(cluster.stdout.take().unwrap()).lines();
    let bootstrap = loop {
        let line = lines
            .next()
            .expect("dev-cluster prints the bootstrap")
            .unwrap();
        if let Some(servers) = line.strip_prefix("bootstrap servers: ") {
            break servers.to_owned();
        }
    };
    let ports: Vec<u16> = (base..base + 3).collect();
    let expected: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    assert_eq!(bootstrap, expected.join(","));
    let node_lines: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    for (i, line) in node_lines.iter().enumerate() {
        let log = dir
            .path()
            .join(format!("node-{}", i + 1))
            .join("server.log");
        assert!(line.starts_with(&format!("node {}: pid ", i + 1)), "{line}");
        assert!(line.ends_with(&log.display().to_string()), "{line}");
    }

    // One cluster: the same id everywhere, and every node registered and unfenced.
    let ids: Vec<String> = (ports.iter())
        .map(|&port| {
            let request = MetadataRequest::default().with_topics(Some(Vec::new()));
            let response: MetadataResponse =
                call(&mut connect(port), ApiKey::Metadata, 12, &request);
            response.cluster_id.unwrap().to_string()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let expected: Vec<(i32, i32)> = (1..=3)
        .map(|i| (i, i32::from(ports[i as usize - 1])))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while live_brokers(ports[2]) != expected {
        assert!(Instant::now() < deadline, "{:?}", live_brokers(ports[2]));
        std::thread::sleep(Duration::from_millis(100));
    }
    // Each node's admin endpoint, on the ports printed: live, and one quorum leader among them
    // (asked again if a leader change fell between two nodes' answers).
    for (i, line) in node_lines.iter().enumerate() {
        let admin = base + 6 + i as u16;
        assert!(
            line.contains(&format!("admin http://127.0.0.1:{admin}/metrics")),
            "{line}"
        );
        assert!(http_get(admin, "/healthz").starts_with("HTTP/1.1 200"));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let active = (0..3u16)
            .filter(|i| {
                http_get(base + 6 + i, "/metrics")
                    .contains("kafka_controller_kafkacontroller_activecontrollercount 1")
            })
            .count();
        if active == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{active} active controllers");
        std::thread::sleep(Duration::from_millis(200));
    }

    // SIGTERM stops every node cleanly, and the command with them.
    unsafe {
        libc::kill(cluster.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = cluster.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "dev-cluster did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    for id in 1..=3 {
        assert!(
            rest.iter()
                .any(|l| l.starts_with(&format!("node {id} stopped"))),
            "{rest:?}"
        );
        let log =
            std::fs::read_to_string(dir.path().join(format!("node-{id}/server.log"))).unwrap();
        assert!(
            log.contains("partition logs flushed and closed"),
            "node {id} stopped cleanly:\n{log}"
        );
    }
    for port in ports {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still served"
        );
    }
}
