//! Two `rill server` processes on one `log.dirs`: the second refuses to start, naming the
//! directory and the running server's pid, and touches none of its files (it used to run crash
//! recovery on the live segment and cut acknowledged records). The lock goes with the process:
//! after SIGTERM or `kill -9` of the holder, a new server starts on the directory.
#![cfg(not(madsim))]

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{create_topic, fetch_all, free_port, produce, server_exit, RillServer};

/// Every file under `dir` (recursively) and its bytes, but the servers' own stderr log.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().unwrap() != "server.log" {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_second_server_on_a_locked_directory_refuses_and_changes_nothing() {
    let mut a = RillServer::start(&[]);
    let dir = a.data_dir.path().to_str().unwrap().to_string();
    let mut s = a.connect();
    create_topic(&mut s, "locked", 1);
    for i in 0..5 {
        assert_eq!(produce(&mut s, "locked", format!("a{i}").as_bytes()), i);
    }
    let before = snapshot(a.data_dir.path());
    assert!(
        before.keys().any(|f| f.starts_with("locked-0")),
        "{before:?}"
    );

    let b_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let started = Instant::now();
    let (code, stderr) = server_exit(
        &[
            "--listeners",
            &format!("PLAINTEXT://{b_addr}"),
            "--log-dirs",
            &dir,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused quickly"
    );
    assert!(
        stderr.contains(&format!(
            "log directory {dir} is in use by another process (pid {})",
            a.pid()
        )),
        "{stderr}"
    );
    assert!(
        TcpStream::connect(b_addr).is_err(),
        "the refused server never listened"
    );
    assert_eq!(
        snapshot(a.data_dir.path()),
        before,
        "the refused server changed nothing in the directory"
    );

    // A is undisturbed and keeps serving.
    assert_eq!(produce(&mut s, "locked", b"a5"), 5);
    let (hw, bytes) = fetch_all(&mut s, "locked");
    assert_eq!(hw, 6);

    // Once A has stopped, the directory is free (the lock file stays, the lock does not).
    assert_eq!(a.terminate(), Some(0), "{}", a.log());
    let b = RillServer::start_exact(
        a.data_dir.clone(),
        b_addr,
        &[
            "--listeners",
            &format!("PLAINTEXT://{b_addr}"),
            "--log-dirs",
            &dir,
        ],
    );
    let mut s = b.connect();
    assert_eq!(
        fetch_all(&mut s, "locked"),
        (hw, bytes),
        "all of A's records are there"
    );
    assert_eq!(
        std::fs::read_to_string(a.data_dir.path().join(".lock")).unwrap(),
        format!("{}\n", b.pid()),
        "the lock file names its holder"
    );

    // kill -9 leaves no stale lock: the OS releases it with the process.
    let c = b.restart(&[]);
    let mut s = c.connect();
    assert_eq!(fetch_all(&mut s, "locked").0, hw);
}
