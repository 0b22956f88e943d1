//! ACLs against real `rill server` processes over real TCP (issue 16, KIP-140): without an
//! authorizer the ACL APIs answer SECURITY_DISABLED; with Kafka's StandardAuthorizer named,
//! `rill acls` and raw CreateAcls / DescribeAcls / DeleteAcls manage them, only a principal
//! allowed on the CLUSTER may (a super user here), invalid bindings get INVALID_REQUEST in
//! Kafka's words, the ACLs are in the metadata log (they survive a `kill -9`), and a node
//! describes what another one created.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // a test waits on the real clock

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey, CreateAclsRequest,
    CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse, DescribeAclsRequest,
    DescribeAclsResponse, DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use common::{call, free_port, start_quorum, RillServer};

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const INVALID_REQUEST: i16 = 42;
const SECURITY_DISABLED: i16 = 54;

/// Kafka's codes of the four ACL enums the tests use.
const TOPIC: i8 = 2;
const CLUSTER: i8 = 4;
const ANY: i8 = 1;
const LITERAL: i8 = 3;
const READ: i8 = 3;
const WRITE: i8 = 4;
const ALTER: i8 = 7;
const ALLOW: i8 = 3;

const AUTHORIZER: &str =
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer";
const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Runs `rill acls --bootstrap-server ADDR ARGS`: (exit code, stdout, stderr).
fn acls(addr: SocketAddr, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("acls")
        .args(["--bootstrap-server", &addr.to_string()])
        .args(args)
        .output()
        .expect("rill acls runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn creation(rt: i8, name: &str, principal: &str, operation: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(rt)
        .with_resource_name(text(name))
        .with_resource_pattern_type(LITERAL)
        .with_principal(text(principal))
        .with_host(text("*"))
        .with_operation(operation)
        .with_permission_type(ALLOW)
}

/// CreateAcls v3: each result's (code, message).
fn create(stream: &mut TcpStream, creations: Vec<AclCreation>) -> Vec<(i16, Option<String>)> {
    let request = CreateAclsRequest::default().with_creations(creations);
    let response: CreateAclsResponse = call(stream, ApiKey::CreateAcls, 3, &request);
    (response.results.iter())
        .map(|r| {
            (
                r.error_code,
                r.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

/// DescribeAcls v3 of every ACL: (code, [(type, name, principal, operation)]).
fn describe_all(stream: &mut TcpStream) -> (i16, Vec<(i8, String, String, i8)>) {
    let request = DescribeAclsRequest::default()
        .with_resource_type_filter(ANY)
        .with_resource_name_filter(None)
        .with_pattern_type_filter(ANY)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY);
    let response: DescribeAclsResponse = call(stream, ApiKey::DescribeAcls, 3, &request);
    let mut acls = Vec::new();
    for resource in &response.resources {
        for acl in &resource.acls {
            acls.push((
                resource.resource_type,
                resource.resource_name.to_string(),
                acl.principal.to_string(),
                acl.operation,
            ));
        }
    }
    acls.sort();
    (response.error_code, acls)
}

fn delete_filter(principal: Option<&str>) -> DeleteAclsFilter {
    DeleteAclsFilter::default()
        .with_resource_type_filter(ANY)
        .with_resource_name_filter(None)
        .with_pattern_type_filter(ANY)
        .with_principal_filter(principal.map(text))
        .with_host_filter(None)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

/// A server with a PLAINTEXT listener (anonymous) and a SASL_PLAINTEXT one with PLAIN users
/// admin and alice; `extra` are more `--override`s.
struct AclServer {
    server: RillServer,
    sasl: SocketAddr,
    args: Vec<String>,
}

fn start(extra: &[&str]) -> AclServer {
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let plain: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let sasl: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut args = vec![
        "--override".to_string(),
        format!("listeners=PLAINTEXT://{plain},SASL_PLAINTEXT://{sasl}"),
        "--log-dirs".to_string(),
        data_dir.path().display().to_string(),
        "--override".to_string(),
        "sasl.enabled.mechanisms=PLAIN".to_string(),
        "--override".to_string(),
        "rill.sasl.plain.over.plaintext.enable=true".to_string(),
        "--override".to_string(),
        format!(
            "listener.name.sasl_plaintext.plain.sasl.jaas.config={PLAIN_MODULE} required \
             user_admin=\"admin-secret\" user_alice=\"alice-secret\";"
        ),
    ];
    for e in extra {
        args.extend(["--override".to_string(), e.to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = RillServer::start_exact(data_dir, plain, &refs);
    AclServer { server, sasl, args }
}

impl AclServer {
    /// `kill -9`, then the same server on the same data directory.
    fn restart(mut self) -> Self {
        self.server.kill();
        let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let server = RillServer::start_exact(self.server.data_dir.clone(), self.server.addr, &refs);
        AclServer { server, ..self }
    }

    /// A connection on the SASL listener, logged in with PLAIN.
    fn login(&self, user: &str, password: &str) -> TcpStream {
        let mut stream = TcpStream::connect(self.sasl).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let handshake: SaslHandshakeResponse = call(
            &mut stream,
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(text("PLAIN")),
        );
        assert_eq!(handshake.error_code, 0);
        let token = format!("\0{user}\0{password}").into_bytes();
        let answer: SaslAuthenticateResponse = call(
            &mut stream,
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(token.into()),
        );
        assert_eq!(answer.error_code, 0, "{user} logs in");
        stream
    }

    /// A `--command-config` file logging in as `user` over the SASL listener.
    fn command_config(&self, user: &str, password: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
             sasl.jaas.config={PLAIN_MODULE} required username=\"{user}\" password=\"{password}\";"
        )
        .unwrap();
        file
    }
}

#[test]
fn without_an_authorizer_the_acl_apis_answer_security_disabled() {
    let server = RillServer::start(&[]);
    let mut stream = server.connect();
    let results = create(
        &mut stream,
        vec![creation(TOPIC, "orders", "User:alice", READ)],
    );
    assert_eq!(
        results,
        [(
            SECURITY_DISABLED,
            Some("No Authorizer is configured.".to_string())
        )]
    );
    assert_eq!(describe_all(&mut stream).0, SECURITY_DISABLED);
    let request = DeleteAclsRequest::default().with_filters(vec![delete_filter(None)]);
    let response: DeleteAclsResponse = call(&mut stream, ApiKey::DeleteAcls, 3, &request);
    assert_eq!(response.filter_results[0].error_code, SECURITY_DISABLED);
    // And the tool says so.
    let (code, _, stderr) = acls(server.addr, &["--list"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("No Authorizer is configured."), "{stderr}");
    // The SCRAM APIs are not checked without an authorizer.
    let describe: DescribeUserScramCredentialsResponse = call(
        &mut stream,
        ApiKey::DescribeUserScramCredentials,
        0,
        &DescribeUserScramCredentialsRequest::default(),
    );
    assert_eq!(describe.error_code, 0);
}

#[test]
fn a_super_user_manages_acls_others_are_refused_and_the_acls_survive_a_restart() {
    let s = start(&[AUTHORIZER, "super.users=User:admin"]);
    let mut admin = s.login("admin", "admin-secret");
    // Raw CreateAcls: a good binding, two Kafka refuses (in its words), the good one again.
    let mut no_colon = creation(TOPIC, "orders", "alice", READ);
    no_colon.principal = text("alice");
    let results = create(
        &mut admin,
        vec![
            creation(TOPIC, "payments", "User:alice", READ),
            no_colon,
            creation(CLUSTER, "my-cluster", "User:alice", ALTER),
            creation(TOPIC, "payments", "User:alice", READ),
        ],
    );
    assert_eq!(
        results,
        [
            (0, None),
            (
                INVALID_REQUEST,
                Some(
                    "Could not parse principal from `alice` (no colon is present separating the \
                     principal type from the principal name)"
                        .to_string()
                )
            ),
            (
                INVALID_REQUEST,
                Some("The only valid name for the CLUSTER resource is kafka-cluster".to_string())
            ),
            (0, None),
        ]
    );
    // `rill acls --add` as the admin, over SASL with --command-config.
    let admin_config = s.command_config("admin", "admin-secret");
    let admin_path = admin_config.path().to_str().unwrap();
    let (code, stdout, stderr) = acls(
        s.sasl,
        &[
            "--command-config",
            admin_path,
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Read",
            "--operation",
            "Write",
            "--topic",
            "orders",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let orders = "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)";
    let read = "\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)";
    let write = "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)";
    assert!(
        stdout.starts_with(&format!(
            "Adding ACLs for resource `{orders}`: \n {read}\n{write} \n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Current ACLs for resource `{orders}`: \n {read}\n{write} \n"
        )),
        "{stdout}"
    );
    // Listed, by resource, as kafka-acls prints them.
    let (code, stdout, stderr) = acls(s.sasl, &["--command-config", admin_path, "--list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(orders) && stdout.contains("name=payments"),
        "{stdout}"
    );
    let (_, listed) = describe_all(&mut admin);
    assert_eq!(
        listed,
        [
            (TOPIC, "orders".into(), "User:alice".into(), READ),
            (TOPIC, "orders".into(), "User:alice".into(), WRITE),
            (TOPIC, "payments".into(), "User:alice".into(), READ),
        ]
    );

    // alice is no super user and has no ACL on the CLUSTER: every admin API refuses her.
    let mut alice = s.login("alice", "alice-secret");
    let refused = create(&mut alice, vec![creation(TOPIC, "x", "User:alice", READ)]);
    assert_eq!(refused[0].0, CLUSTER_AUTHORIZATION_FAILED);
    assert_eq!(describe_all(&mut alice).0, CLUSTER_AUTHORIZATION_FAILED);
    let request = DeleteAclsRequest::default().with_filters(vec![delete_filter(None)]);
    let response: DeleteAclsResponse = call(&mut alice, ApiKey::DeleteAcls, 3, &request);
    assert_eq!(
        response.filter_results[0].error_code,
        CLUSTER_AUTHORIZATION_FAILED
    );
    let describe: DescribeUserScramCredentialsResponse = call(
        &mut alice,
        ApiKey::DescribeUserScramCredentials,
        0,
        &DescribeUserScramCredentialsRequest::default(),
    );
    assert_eq!(describe.error_code, CLUSTER_AUTHORIZATION_FAILED);
    let upsertion =
        kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
            .with_name(text("mallory"))
            .with_mechanism(2)
            .with_iterations(4096)
            .with_salt(bytes::Bytes::from_static(b"salt"))
            .with_salted_password(bytes::Bytes::from(vec![1u8; 64]));
    let alter: AlterUserScramCredentialsResponse = call(
        &mut alice,
        ApiKey::AlterUserScramCredentials,
        0,
        &AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsertion]),
    );
    assert_eq!(alter.results[0].error_code, CLUSTER_AUTHORIZATION_FAILED);
    // So is the anonymous PLAINTEXT listener (User:ANONYMOUS), and the tool says so.
    let mut anonymous = s.server.connect();
    assert_eq!(describe_all(&mut anonymous).0, CLUSTER_AUTHORIZATION_FAILED);
    let (code, _, stderr) = acls(s.server.addr, &["--list"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("CLUSTER_AUTHORIZATION_FAILED")
            || stderr.contains("Cluster authorization failed"),
        "{stderr}"
    );
    // An ACL allowing alice ALTER and DESCRIBE on the cluster lets her in.
    let (code, _, stderr) = acls(
        s.sasl,
        &[
            "--command-config",
            admin_path,
            "--add",
            "--allow-principal",
            "User:alice",
            "--operation",
            "Alter",
            "--cluster",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(describe_all(&mut alice).0, 0, "ALTER implies DESCRIBE");

    // DeleteAcls by filter returns the ACLs it matched.
    let request = DeleteAclsRequest::default().with_filters(vec![
        DeleteAclsFilter::default()
            .with_resource_type_filter(TOPIC)
            .with_resource_name_filter(Some(text("orders")))
            .with_pattern_type_filter(LITERAL)
            .with_principal_filter(Some(text("User:alice")))
            .with_host_filter(None)
            .with_operation(ANY)
            .with_permission_type(ANY),
        delete_filter(Some("User:nobody")),
    ]);
    let response: DeleteAclsResponse = call(&mut admin, ApiKey::DeleteAcls, 3, &request);
    let results = &response.filter_results;
    assert_eq!((results[0].error_code, results[1].error_code), (0, 0));
    let mut matched: Vec<i8> = results[0]
        .matching_acls
        .iter()
        .map(|m| m.operation)
        .collect();
    matched.sort();
    assert_eq!(matched, [READ, WRITE]);
    assert!(results[1].matching_acls.is_empty());
    // `rill acls --remove` without --force and no answer removes nothing; with it, removes.
    let remove = [
        "--command-config",
        admin_path,
        "--remove",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--topic",
        "payments",
    ];
    let (code, _, _) = acls(s.sasl, &remove);
    assert_eq!(code, Some(0));
    assert_eq!(
        describe_all(&mut admin).1.len(),
        2,
        "payments READ and the cluster ALTER"
    );
    let mut forced = remove.to_vec();
    forced.push("--force");
    let (code, _, stderr) = acls(s.sasl, &forced);
    assert_eq!(code, Some(0), "{stderr}");
    let (_, left) = describe_all(&mut admin);
    assert_eq!(
        left,
        [(CLUSTER, "kafka-cluster".into(), "User:alice".into(), ALTER)]
    );

    // The ACLs are in the metadata log: a `kill -9` and a restart keep them.
    drop((admin, alice, anonymous));
    let s = s.restart();
    let mut admin = s.login("admin", "admin-secret");
    assert_eq!(describe_all(&mut admin), (0, left));
}

/// Three combined nodes on 127.0.0.1 (as `tests/kafka_scram.rs` starts them): an ACL created
/// through one node is described by the others once they applied it, and deleted through
/// another.
#[test]
fn an_acl_created_through_one_node_is_described_by_the_others() {
    let servers = start_quorum(
        3,
        &[
            "--override",
            AUTHORIZER,
            "--override",
            "super.users=User:ANONYMOUS",
        ],
    );
    let (code, stdout, stderr) = acls(
        servers[0].addr,
        &[
            "--add",
            "--allow-principal",
            "User:bob",
            "--group",
            "g1",
            "--operation",
            "Read",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for server in &servers {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, listed) = describe_all(&mut server.connect());
            if listed.len() == 1 {
                assert_eq!(listed[0].1, "g1");
                break;
            }
            assert!(Instant::now() < deadline, "{}: {listed:?}", server.addr);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (code, _, stderr) = acls(servers[2].addr, &["--remove", "--force", "--group", "g1"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(describe_all(&mut servers[2].connect()).1.is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !describe_all(&mut servers[0].connect()).1.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the deletion did not reach node 1"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
