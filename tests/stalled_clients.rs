//! Clients that stop reading their answers, against a real `rill server` (issue 9, from a
//! review of the connection code). A client that does not read holds its own answers, and only
//! for so long: it must not hold memory other clients need (the `queued.max.request.bytes`
//! pool), nor its connection for ever.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{create_topic, produce, RillServer};

/// A bystander's round trip must complete within this while the stalled clients sit there.
const BYSTANDER_BOUND: Duration = Duration::from_secs(2);

/// Record bytes put in the topic the stalled clients fetch: far more than the socket buffers
/// of both ends hold, so the broker's write of the answer blocks.
const BIG_TOPIC_MB: usize = 24;

fn fill_big_topic(server: &RillServer) {
    let mut admin = server.connect();
    create_topic(&mut admin, "big", 1);
    create_topic(&mut admin, "bystander", 1);
    let value = vec![b'v'; 1_000_000];
    for _ in 0..BIG_TOPIC_MB {
        produce(&mut admin, "big", &value);
    }
}

/// A Fetch v4 of `big`-0 from offset 0 for up to 55 MiB, as raw bytes.
fn big_fetch_frame() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1i16.to_be_bytes()); // Fetch
    body.extend_from_slice(&4i16.to_be_bytes());
    body.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    body.extend_from_slice(&(-1i16).to_be_bytes()); // no client id
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
    body.extend_from_slice(&0i32.to_be_bytes()); // max wait
    body.extend_from_slice(&1i32.to_be_bytes()); // min bytes
    body.extend_from_slice(&(55i32 << 20).to_be_bytes()); // max bytes
    body.push(0); // isolation level
    body.extend_from_slice(&1i32.to_be_bytes()); // one topic
    body.extend_from_slice(&3i16.to_be_bytes());
    body.extend_from_slice(b"big");
    body.extend_from_slice(&1i32.to_be_bytes()); // one partition
    body.extend_from_slice(&0i32.to_be_bytes());
    body.extend_from_slice(&0i64.to_be_bytes()); // offset 0
    body.extend_from_slice(&(55i32 << 20).to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// A bystander's produce of `value` (which may be large) and fetch, on a fresh connection.
fn bystander_round_trip(server: &RillServer, value: &[u8]) {
    common::bystander_round_trip_within(server, "bystander", value, BYSTANDER_BOUND);
}

#[test]
fn a_client_that_does_not_read_holds_no_request_memory() {
    // Frames up to 8 MiB; 16 MiB of pool for frames over 64 KiB, across connections.
    let args = [
        "--override",
        "socket.request.max.bytes=8388608",
        "--override",
        "queued.max.request.bytes=16777216",
    ];
    let server = RillServer::start(&args);
    fill_big_topic(&server);
    // Three clients each ask for the big topic, never read the answer, and then send an 8 MiB
    // frame for another Fetch (its body junk). The broker used to read that frame with pool
    // memory and then wait, holding it, for the first answer to be read: two of them held the
    // whole pool and every other client's large request waited 30 s and was cut off.
    let frame = big_fetch_frame();
    let mut junk = (8i32 << 20).to_be_bytes().to_vec();
    junk.extend_from_slice(&1i16.to_be_bytes());
    junk.extend_from_slice(&4i16.to_be_bytes());
    junk.resize(4 + (8 << 20), 0);
    let stalled: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(&frame).unwrap();
            s.set_write_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let _ = s.write_all(&junk); // not read by the broker: fine
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A bystander's 200 KiB produce needs pool memory.
    bystander_round_trip(&server, &vec![b'b'; 200 * 1024]);
    bystander_round_trip(&server, b"small");
    drop(stalled);
    let server = server.restart(&args);
    bystander_round_trip(&server, &vec![b'b'; 200 * 1024]);
}

#[test]
fn a_client_that_stops_reading_is_closed_after_connections_max_idle_ms() {
    let args = ["--override", "connections.max.idle.ms=3000"];
    let server = RillServer::start(&args);
    fill_big_topic(&server);
    let mut stalled = server.connect();
    stalled.write_all(&big_fetch_frame()).unwrap();
    // Not read for longer than connections.max.idle.ms: the broker's write makes no progress.
    std::thread::sleep(Duration::from_millis(5_000));
    bystander_round_trip(&server, b"meanwhile");
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut received = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    let closed = loop {
        match stalled.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => received += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false, // timed out: still open
        }
    };
    assert!(
        closed,
        "the connection is closed (received {received} bytes)"
    );
    assert!(
        received < BIG_TOPIC_MB * 1_000_000,
        "closed before the answer was written ({received} bytes received)"
    );
    let server = server.restart(&args);
    bystander_round_trip(&server, b"after restart");
}
