//! Issue 11, item 2: a full disk is a first-class fault on the real process. A `rill server`
//! whose log directory is a small tmpfs is filled with acks=all produce until it refuses with
//! KAFKA_STORAGE_ERROR (at once, as an error code, never a timeout), logs one line saying so,
//! keeps answering fetches, deletes a topic although the registry's own write needs space,
//! takes produce again once that freed space (no restart), and after a `kill -9` and restart
//! still holds every acknowledged record, in order.
//!
//! Mounting needs root (CI runs as root): without it the test fails, it does not skip.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{call, create_topic, fetch_from, produce_values, topic_name, RillServer};
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse};
use rill::types::ErrorCode;

const DISK_MIB: u32 = 24;
/// One record's value: "record NNNNNNNN" padded to 1 KiB, so every value is unique.
const RECORD_BYTES: usize = 1024;
const RECORDS_PER_BATCH: usize = 8;
/// A produce refused for want of space answers well within this (a hang would run to the
/// request's 30 s timeout).
const PROMPT: Duration = Duration::from_secs(2);
const FULL_LINE: &str = "disk full: the partition's log cannot be written";
const BACK_LINE: &str = "disk space is back";

/// A tmpfs of `DISK_MIB` mounted on a fresh directory; unmounted when dropped, also when the
/// test fails (declare it before the server, so the server is killed first).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let size = format!("size={DISK_MIB}m");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("the mount command runs");
        assert!(
            out.status.success(),
            "tests/disk_full.rs needs to mount a {DISK_MIB} MiB tmpfs, which needs root (CI runs \
             as root); `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            // Still busy (a process being torn down): detach it now, freed when unused.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// The server on the tmpfs; its stderr goes to `logs` (not on the tmpfs, which fills).
fn start(disk: &Tmpfs, logs: &Arc<tempfile::TempDir>, addr: SocketAddr) -> RillServer {
    let listeners = format!("PLAINTEXT://{addr}");
    let args = [
        "--listeners",
        &listeners,
        "--log-dirs",
        disk.path().to_str().unwrap(),
        "--override",
        "log.segment.bytes=1048576",
    ];
    RillServer::start_exact(logs.clone(), addr, &args)
}

fn value(n: usize) -> Vec<u8> {
    let mut value = format!("record {n:08}").into_bytes();
    value.resize(RECORD_BYTES, b'.');
    value
}

/// Produces the next batch (values `next..next + RECORDS_PER_BATCH`) and checks the answer
/// came promptly; returns (error code, base offset).
fn produce_batch(stream: &mut TcpStream, topic: &str, next: usize) -> (i16, i64) {
    let values: Vec<Vec<u8>> = (next..next + RECORDS_PER_BATCH).map(value).collect();
    let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let started = Instant::now();
    let answer = produce_values(stream, topic, &values, 30_000);
    let took = started.elapsed();
    assert!(took < PROMPT, "a produce took {took:?} (answer {answer:?})");
    answer
}

/// Every record of partition 0 of `topic`: (offset, value), from the start to the high
/// watermark.
fn read_all(stream: &mut TcpStream, topic: &str) -> Vec<(i64, Vec<u8>)> {
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let (error_code, high_watermark, mut bytes) = fetch_from(stream, topic, offset);
        assert_eq!(error_code, 0, "fetch of {topic} at {offset}");
        if offset >= high_watermark {
            return records;
        }
        // Whole batches only: a fetch may end in a cut-short one (batchLength at byte 8).
        let mut whole = 0;
        while bytes.len() >= whole + 12 {
            let length = i32::from_be_bytes(bytes[whole + 8..whole + 12].try_into().unwrap());
            let end = whole + 12 + usize::try_from(length).unwrap();
            if end > bytes.len() {
                break;
            }
            whole = end;
        }
        let mut bytes = bytes.split_to(whole);
        for set in kafka_protocol::records::RecordBatchDecoder::decode_all(&mut bytes).unwrap() {
            for record in set.records {
                records.push((record.offset, record.value.unwrap().to_vec()));
                offset = record.offset + 1;
            }
        }
    }
}

fn delete_topic(stream: &mut TcpStream, topic: &str) -> i16 {
    let deleted: DeleteTopicsResponse = call(
        stream,
        ApiKey::DeleteTopics,
        4,
        &DeleteTopicsRequest::default()
            .with_topic_names(vec![topic_name(topic)])
            .with_timeout_ms(30_000),
    );
    deleted.responses[0].error_code
}

#[test]
fn a_full_disk_refuses_at_once_logs_once_and_recovers_without_a_restart() {
    let storage_error = ErrorCode::KAFKA_STORAGE_ERROR.wire();
    let disk = Tmpfs::mount();
    let logs = Arc::new(tempfile::tempdir().unwrap());
    let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port())
        .parse()
        .unwrap();
    let server = start(&disk, &logs, addr);
    let mut s = server.connect();
    create_topic(&mut s, "ballast", 1);
    create_topic(&mut s, "filled", 1);

    // Half the disk goes to a topic that is deleted later to free space.
    let ballast_batches = (DISK_MIB as usize / 2) * 1024 / RECORDS_PER_BATCH;
    for batch in 0..ballast_batches {
        let (code, _) = produce_batch(&mut s, "ballast", batch * RECORDS_PER_BATCH);
        assert_eq!(code, 0, "ballast batch {batch}");
    }

    // Fill the rest: every batch is acknowledged until one is refused, promptly, with
    // KAFKA_STORAGE_ERROR.
    let mut acked: Vec<(i64, usize)> = Vec::new(); // (base offset, first value)
    let mut next = 0;
    let first_error = loop {
        assert!(
            next < DISK_MIB as usize * 1024,
            "more records than fit were acknowledged"
        );
        let (code, base_offset) = produce_batch(&mut s, "filled", next);
        if code != 0 {
            break code;
        }
        acked.push((base_offset, next));
        next += RECORDS_PER_BATCH;
    };
    assert_eq!(
        first_error, storage_error,
        "a full disk answers KAFKA_STORAGE_ERROR"
    );
    assert!(!acked.is_empty());
    // Every later produce is answered at once too (some may fit in the last page).
    for _ in 0..20 {
        next += RECORDS_PER_BATCH;
        let (code, base_offset) = produce_batch(&mut s, "filled", next);
        assert!(code == 0 || code == storage_error, "code {code}");
        if code == 0 {
            acked.push((base_offset, next));
        }
    }

    // Reads go on while the disk is full.
    let (code, _, records) = fetch_from(&mut s, "ballast", 0);
    assert_eq!(code, 0, "a fetch on a full disk");
    assert!(!records.is_empty());

    // One line said so, naming the partition and its directory.
    let log = server.log();
    let full_lines: Vec<&str> = log.lines().filter(|l| l.contains(FULL_LINE)).collect();
    assert_eq!(
        full_lines.len(),
        1,
        "one disk-full line, not one per request: {log}"
    );
    assert!(
        full_lines[0].contains("topic=filled") && full_lines[0].contains("filled-0"),
        "{}",
        full_lines[0]
    );

    // Deleting a topic works although the registry's own write needs space it does not have.
    assert_eq!(delete_topic(&mut s, "ballast"), 0, "{}", server.log());

    // Produce is taken again without a restart (the partition may sit out its offline retry
    // interval first).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut recovered_batches = 0;
    while recovered_batches < 50 {
        next += RECORDS_PER_BATCH;
        let (code, base_offset) = produce_batch(&mut s, "filled", next);
        if code == 0 {
            acked.push((base_offset, next));
            recovered_batches += 1;
        } else {
            assert_eq!(code, storage_error);
            assert!(
                recovered_batches == 0 && Instant::now() < deadline,
                "produce still refused after space was freed: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Once no write has failed for a while, one line says space is back.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log().contains(BACK_LINE) {
        assert!(
            Instant::now() < deadline,
            "no recovery line: {}",
            server.log()
        );
        next += RECORDS_PER_BATCH;
        let (code, base_offset) = produce_batch(&mut s, "filled", next);
        assert_eq!(code, 0);
        acked.push((base_offset, next));
        std::thread::sleep(Duration::from_millis(250));
    }

    // kill -9 and restart: every acknowledged record is there, at its offset, in order.
    drop(s);
    drop(server);
    let server = start(&disk, &logs, addr);
    let mut s = server.connect();
    let records = read_all(&mut s, "filled");
    for (at, (offset, _)) in records.iter().enumerate() {
        assert_eq!(*offset, at as i64, "offsets are dense from 0");
    }
    for (base_offset, first) in &acked {
        for i in 0..RECORDS_PER_BATCH {
            let offset = usize::try_from(*base_offset).unwrap() + i;
            let (_, stored) = records
                .get(offset)
                .unwrap_or_else(|| panic!("acknowledged offset {offset} is gone"));
            assert!(
                *stored == value(first + i),
                "offset {offset} holds another record"
            );
        }
    }
    assert!(
        acked.windows(2).all(|w| w[0].0 < w[1].0),
        "acknowledged in order"
    );
    assert!(
        server.log().matches(FULL_LINE).count() == 1,
        "the restart found no full disk"
    );
}
