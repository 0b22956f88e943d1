//! What `rill server` says when it starts, read from a real process's standard error: enough to
//! tell from the log alone which node runs, on which directory and ports, with which settings
//! and what it recovered; and no colour codes when standard error is a file.
#![cfg(not(madsim))]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{create_topic, free_port, RillServer};

/// Plain `info` logs, whatever the test runner's environment says; an empty NO_COLOR counts as
/// unset, so only "stderr is not a terminal" keeps colour codes out.
const ENV: &[(&str, &str)] = &[("RUST_LOG", "info"), ("NO_COLOR", "")];

/// The server's log after `from`, once it has logged that it is serving (the port accepts
/// connections an instant before the last start-up lines are written).
fn start_up_log(server: &RillServer, from: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log()[from..].to_string();
        if log.contains(" serving ") {
            return log;
        }
        assert!(Instant::now() < deadline, "no 'serving' line: {log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn start_up_logs_node_directory_listeners_config_flush_and_recovery_without_colour() {
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let dir = data_dir.path().to_str().unwrap().to_string();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listeners = format!("PLAINTEXT://{addr}");
    let flags = ["--listeners", &listeners, "--log-dirs", &dir];

    // First run on defaults: two topics, 3 + 1 partitions, for the second run to recover.
    let mut first = RillServer::start_exact_env(data_dir.clone(), addr, &flags, ENV);
    let log = start_up_log(&first, 0);
    assert!(
        log.contains(&format!(
            "config=defaults + overrides listeners={listeners}, log.dirs={dir}"
        )),
        "{log}"
    );
    assert!(log.contains("node_id=1"), "{log}");
    assert!(log.contains("topics=0 partitions=0"), "{log}");
    assert!(log.contains("flush=always"), "{log}");
    let mut s = first.connect();
    create_topic(&mut s, "three", 3);
    create_topic(&mut s, "one", 1);
    assert_eq!(first.terminate(), Some(0), "{}", first.log());
    let first_len = first.log().len();

    // Second run from a config file.
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("rill.toml");
    // The same node.id: the metadata log placed the topics' replicas on broker 1 (another id
    // would be another broker, which holds none of them).
    std::fs::write(&config, "node.id = 1\nlog.flush.interval.ms = 250\n").unwrap();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(&flags);
    let second = RillServer::start_exact_env(data_dir.clone(), addr, &args, ENV);
    let log = start_up_log(&second, first_len);
    for fact in [
        "node_id=1".to_string(),
        format!("log_dir={dir}"),
        format!("listener=PLAINTEXT security_protocol=PLAINTEXT addr={addr}"),
        format!("config={} (TOML)", config.display()),
        "flush=every 250 ms".to_string(),
        "topics=2 partitions=4".to_string(),
    ] {
        assert!(log.contains(&fact), "start-up log lacks '{fact}':\n{log}");
    }
    let whole = second.log();
    assert!(!whole.contains("\x1b["), "colour codes in a file:\n{whole}");
}
