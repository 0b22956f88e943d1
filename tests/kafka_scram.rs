//! Users' SCRAM credentials against real `rill server` processes (issue 16, KIP-554):
//! `rill configs --entity-type users` sets and deletes them and prints them as kafka-configs
//! does; DescribeUserScramCredentials and AlterUserScramCredentials answer every error code
//! Kafka's controller does, with its words; the credentials are in the metadata log, so they
//! survive a `kill -9`, and a broker describes what another one altered.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // a test waits on the real clock

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use common::{call, start_quorum, RillServer};

const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const RESOURCE_NOT_FOUND: i16 = 91;
const DUPLICATE_RESOURCE: i16 = 92;
const UNACCEPTABLE_CREDENTIAL: i16 = 93;

/// Runs `rill configs --bootstrap-server ADDR ARGS`: (exit code, stdout, stderr).
fn configs(addr: SocketAddr, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("configs")
        .args(["--bootstrap-server", &addr.to_string()])
        .args(args)
        .output()
        .expect("rill configs runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rill configs --describe` of users (`user`: one), which must succeed: its stdout.
fn describe_cli(addr: SocketAddr, user: Option<&str>) -> String {
    let mut args = vec!["--describe", "--entity-type", "users"];
    if let Some(user) = user {
        args.extend(["--entity-name", user]);
    }
    let (code, stdout, stderr) = configs(addr, &args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    stdout
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// DescribeUserScramCredentials v0: (user, code, message, [(mechanism, iterations)]).
type Described = Vec<(String, i16, Option<String>, Vec<(i8, i32)>)>;

fn describe(stream: &mut TcpStream, users: Option<&[&str]>) -> Described {
    let users = users.map(|users| {
        (users.iter())
            .map(|u| UserName::default().with_name(text(u)))
            .collect()
    });
    let request = DescribeUserScramCredentialsRequest::default().with_users(users);
    let response: DescribeUserScramCredentialsResponse =
        call(stream, ApiKey::DescribeUserScramCredentials, 0, &request);
    assert_eq!(response.error_code, 0);
    let mut described: Described = (response.results.iter())
        .map(|r| {
            let infos = (r.credential_infos.iter())
                .map(|i| (i.mechanism, i.iterations))
                .collect();
            let message = r.error_message.as_ref().map(|m| m.to_string());
            (r.user.to_string(), r.error_code, message, infos)
        })
        .collect();
    described.sort();
    described
}

fn upsertion(name: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
    let length = if mechanism == 2 { 64 } else { 32 };
    ScramCredentialUpsertion::default()
        .with_name(text(name))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(Bytes::from_static(b"pepper"))
        .with_salted_password(Bytes::from(vec![7u8; length]))
}

fn deletion(name: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(text(name))
        .with_mechanism(mechanism)
}

/// AlterUserScramCredentials v0: (user, code, message), sorted by user.
fn alter(
    stream: &mut TcpStream,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16, Option<String>)> {
    let request = AlterUserScramCredentialsRequest::default()
        .with_deletions(deletions)
        .with_upsertions(upsertions);
    let response: AlterUserScramCredentialsResponse =
        call(stream, ApiKey::AlterUserScramCredentials, 0, &request);
    let mut results: Vec<_> = (response.results.iter())
        .map(|r| {
            let message = r.error_message.as_ref().map(|m| m.to_string());
            (r.user.to_string(), r.error_code, message)
        })
        .collect();
    results.sort();
    results
}

fn ok(user: &str) -> (String, i16, Option<String>) {
    (user.to_string(), 0, None)
}

fn refused(user: &str, code: i16, message: &str) -> (String, i16, Option<String>) {
    (user.to_string(), code, Some(message.to_string()))
}

#[test]
fn rill_configs_sets_describes_and_deletes_credentials_that_survive_a_restart() {
    let server = RillServer::start(&[]);
    let addr = server.addr;
    let alice = "SCRAM-SHA-256=[iterations=8192,password=alice-secret],\
                 SCRAM-SHA-512=[password=alice-secret]";
    let (code, stdout, stderr) = configs(
        addr,
        &[
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--add-config",
            alice,
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "Completed updating config for user alice.\n");
    let (code, _, stderr) = configs(
        addr,
        &[
            "--alter",
            "--user",
            "bob",
            "--add-config",
            "SCRAM-SHA-512=[password=b]",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let alice_line = "SCRAM credential configs for user-principal 'alice' are \
                      SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n";
    let bob_line = "SCRAM credential configs for user-principal 'bob' are \
                    SCRAM-SHA-512=iterations=4096\n";
    assert_eq!(describe_cli(addr, Some("alice")), alice_line);
    assert_eq!(describe_cli(addr, None), format!("{alice_line}{bob_line}"));
    // A user without credentials prints nothing, as kafka-configs.
    assert_eq!(describe_cli(addr, Some("nobody")), "");

    // The tool's own refusals, with Kafka's words, before any request.
    let (code, _, stderr) = configs(
        addr,
        &[
            "--alter",
            "--user",
            "carol",
            "--add-config",
            "SCRAM-SHA-256=[iterations=1024,password=x]",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Iterations 1024 is less than the minimum 4096 required for SCRAM-SHA-256"),
        "{stderr}"
    );
    // Too many iterations: refused by the tool before it salts (the controller's own refusal
    // is checked over the raw protocol below); then the broker's: deleting what is not there.
    let (code, _, stderr) = configs(
        addr,
        &[
            "--alter",
            "--user",
            "carol",
            "--add-config",
            "SCRAM-SHA-256=[iterations=20000,password=x]",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr
            .contains("Iterations 20000 is more than the maximum 16384 allowed for SCRAM-SHA-256"),
        "{stderr}"
    );
    let (code, _, stderr) = configs(
        addr,
        &[
            "--alter",
            "--user",
            "bob",
            "--delete-config",
            "SCRAM-SHA-256",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains("RESOURCE_NOT_FOUND"), "{stderr}");

    // kill -9: the credentials are in the metadata log.
    let server = server.restart(&[]);
    assert_eq!(
        describe_cli(server.addr, None),
        format!("{alice_line}{bob_line}")
    );
    let (code, stdout, stderr) = configs(
        server.addr,
        &[
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--delete-config",
            "SCRAM-SHA-256",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let alice_after = "SCRAM credential configs for user-principal 'alice' are \
                       SCRAM-SHA-512=iterations=4096\n";
    assert_eq!(describe_cli(server.addr, Some("alice")), alice_after);
    let server = server.restart(&[]);
    assert_eq!(
        describe_cli(server.addr, None),
        format!("{alice_after}{bob_line}")
    );
}

#[test]
fn every_refusal_has_kafkas_code_and_words() {
    let server = RillServer::start(&[]);
    let mut s = server.connect();
    assert_eq!(
        alter(&mut s, vec![], vec![upsertion("kept", 1, 4096)]),
        [ok("kept")]
    );
    let results = alter(
        &mut s,
        vec![
            deletion("absent", 1),
            deletion("kept", 2),
            deletion("odd", 7),
        ],
        vec![
            upsertion("", 1, 4096),
            upsertion("unknown", 3, 4096),
            upsertion("few", 1, 4095),
            upsertion("many", 2, 16385),
            upsertion("twice", 1, 4096),
            upsertion("twice", 2, 4096),
            upsertion("edges", 2, 16384),
        ],
    );
    let missing = "Attempt to delete a user credential that does not exist";
    assert_eq!(
        results,
        [
            refused("", UNACCEPTABLE_CREDENTIAL, "Username must not be empty"),
            refused("absent", RESOURCE_NOT_FOUND, missing),
            ok("edges"),
            refused("few", UNACCEPTABLE_CREDENTIAL, "Too few iterations"),
            refused("kept", RESOURCE_NOT_FOUND, missing),
            refused("many", UNACCEPTABLE_CREDENTIAL, "Too many iterations"),
            refused("odd", UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism"),
            refused(
                "twice",
                DUPLICATE_RESOURCE,
                "A user credential cannot be altered twice in the same request"
            ),
            refused(
                "unknown",
                UNSUPPORTED_SASL_MECHANISM,
                "Unknown SCRAM mechanism"
            ),
        ]
    );
    // A deletion and an upsertion of one user are a duplicate too, and change nothing.
    assert_eq!(
        alter(
            &mut s,
            vec![deletion("kept", 1)],
            vec![upsertion("kept", 2, 4096)]
        )[0]
        .1,
        DUPLICATE_RESOURCE
    );
    // Describe: only what was accepted; a user without credentials, a user named twice.
    let described = describe(&mut s, None);
    assert_eq!(
        described,
        [
            ("edges".to_string(), 0, None, vec![(2, 16384)]),
            ("kept".to_string(), 0, None, vec![(1, 4096)]),
        ]
    );
    assert_eq!(
        describe(&mut s, Some(&[])),
        described,
        "empty is every user"
    );
    assert_eq!(
        describe(&mut s, Some(&["kept", "nobody", "edges", "edges"])),
        [
            (
                "edges".to_string(),
                DUPLICATE_RESOURCE,
                Some(
                    "Cannot describe SCRAM credentials for the same user twice in a single \
                     request: edges"
                        .to_string()
                ),
                vec![]
            ),
            ("kept".to_string(), 0, None, vec![(1, 4096)]),
            (
                "nobody".to_string(),
                RESOURCE_NOT_FOUND,
                Some("Attempt to describe a user credential that does not exist: nobody".into()),
                vec![]
            ),
        ]
    );
}

/// Three combined nodes on 127.0.0.1 (as `tests/controller_quorum.rs` starts them): a
/// credential altered through one broker is described by the others once they applied it.
#[test]
fn a_credential_altered_through_one_broker_is_described_by_the_others() {
    let servers = start_quorum(3, &[]);
    let (code, stdout, stderr) = configs(
        servers[0].addr,
        &[
            "--alter",
            "--user",
            "alice",
            "--add-config",
            "SCRAM-SHA-512=[iterations=5000,password=p]",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let line = "SCRAM credential configs for user-principal 'alice' are \
                SCRAM-SHA-512=iterations=5000\n";
    // The broker that altered it answers at once; the others once they applied the entry.
    assert_eq!(describe_cli(servers[0].addr, None), line);
    for server in &servers[1..] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let described = describe_cli(server.addr, Some("alice"));
            if described == line {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {described:?}", server.addr);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // And a deletion through the last one reaches the first.
    let (code, _, stderr) = configs(
        servers[2].addr,
        &[
            "--alter",
            "--user",
            "alice",
            "--delete-config",
            "SCRAM-SHA-512",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(describe_cli(servers[2].addr, None), "");
    let deadline = Instant::now() + Duration::from_secs(10);
    while describe_cli(servers[0].addr, None) != "" {
        assert!(
            Instant::now() < deadline,
            "the deletion did not reach node 1"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
