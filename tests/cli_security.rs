//! Rill's own tools against secured listeners (issue 16), as users run them: real `rill`
//! processes with Kafka's client properties (`--command-config`, `--producer.config`,
//! `--consumer.config`, `--admin.config`, `--producer-property`) against a real `rill server`
//! with PLAINTEXT, SASL_PLAINTEXT (SCRAM and PLAIN), SSL (client certificates required) and
//! SASL_SSL (PLAIN) listeners. A refused login or certificate fails the tool (exit 1) with the
//! broker's words or the certificate's problem, and never prints the password.
//!
//! The certificates are made at test time with the `openssl` CLI (EC P-256, X.509 v3 with the
//! extensions webpki insists on); it must be installed.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // tests read the clock and spawn threads

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{free_port, RillServer};

/// Longest any one tool run may take before the test calls it hung.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// The test CA, the broker's certificate and a client's, and an unrelated CA, made by
/// `openssl` in a temporary directory.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn make() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"
set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
  key "$1.key"
  openssl req -new -x509 -sha256 -days 3650 -key "$1.key" -out "$1.pem" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() {
  key "$1-key.pem"
  openssl req -new -sha256 -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
  printf '[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$3" >"$1.ext"
  openssl x509 -req -sha256 -days 3650 -in "$1.csr" -CA ca.pem -CAkey ca.key \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$1.ext" -extensions leaf -out "$1.pem"
}
ca ca "Rill CLI Test CA"
ca other-ca "Rill CLI Test Other CA"
leaf server localhost "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1"
leaf client-alice alice "extendedKeyUsage=clientAuth"
cat server-key.pem server.pem >server-keystore.pem
cat client-alice-key.pem client-alice.pem >client-alice-keystore.pem
"#;
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .output()
            .expect("the openssl CLI makes the test certificates (install openssl)");
        assert!(
            out.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }
}

/// A broker with every kind of client listener, and the test's certificates.
struct SecureServer {
    server: RillServer,
    certs: Certs,
    sasl_plaintext: SocketAddr,
    ssl: SocketAddr,
    sasl_ssl: SocketAddr,
    /// Where the test writes its client properties files.
    files: tempfile::TempDir,
}

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

impl SecureServer {
    /// PLAINTEXT; SASL_PLAINTEXT with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN (user admin,
    /// allowed over plain text by Rill's switch); SSL requiring a client certificate signed
    /// by the test CA; SASL_SSL with PLAIN (user admin).
    fn start() -> Self {
        let certs = Certs::make();
        let data_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let (plain, sasl_plaintext, ssl, sasl_ssl) = (addr(), addr(), addr(), addr());
        let users = format!("{PLAIN_MODULE} required user_admin=\"admin-secret\";");
        let overrides = [
            format!(
                "listeners=PLAINTEXT://{plain},SASL_PLAINTEXT://{sasl_plaintext},\
                 SSL://{ssl},SASL_SSL://{sasl_ssl}"
            ),
            "ssl.keystore.type=PEM".into(),
            format!(
                "ssl.keystore.location={}",
                certs.path("server-keystore.pem")
            ),
            "ssl.truststore.type=PEM".into(),
            format!("ssl.truststore.location={}", certs.path("ca.pem")),
            "listener.name.ssl.ssl.client.auth=required".into(),
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=\
             SCRAM-SHA-512,SCRAM-SHA-256,PLAIN"
                .into(),
            "rill.sasl.plain.over.plaintext.enable=true".into(),
            format!("listener.name.sasl_plaintext.plain.sasl.jaas.config={users}"),
            "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN".into(),
            format!("listener.name.sasl_ssl.plain.sasl.jaas.config={users}"),
        ];
        let dir = data_dir.path().to_str().unwrap().to_string();
        let mut args = vec!["--log-dirs", dir.as_str()];
        for o in &overrides {
            args.extend(["--override", o.as_str()]);
        }
        let server = RillServer::start_exact(data_dir.clone(), plain, &args);
        SecureServer {
            server,
            certs,
            sasl_plaintext,
            ssl,
            sasl_ssl,
            files: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes a client properties file; its path.
    fn properties(&self, name: &str, lines: &[String]) -> String {
        let path = self.files.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path.to_str().unwrap().to_string()
    }

    /// The properties of a PLAIN login as `user` with `password` over `protocol`, trusting
    /// the test CA.
    fn plain_login(&self, name: &str, protocol: &str, user: &str, password: &str) -> String {
        self.properties(
            name,
            &[
                format!("security.protocol={protocol}"),
                "ssl.truststore.type=PEM".into(),
                format!("ssl.truststore.location={}", self.certs.path("ca.pem")),
                "sasl.mechanism=PLAIN".into(),
                jaas(PLAIN_MODULE, user, password),
            ],
        )
    }
}

fn jaas(module: &str, user: &str, password: &str) -> String {
    format!("sasl.jaas.config={module} required username=\"{user}\" password=\"{password}\";")
}

/// Runs `rill args` with `stdin`; the process is killed after [`TOOL_TIMEOUT`].
fn rill(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TOOL_TIMEOUT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("rill {args:?} did not finish within {TOOL_TIMEOUT:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success; stdout.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Asserts exit code 1; stderr.
fn fails(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}

fn bootstrap(addr: SocketAddr) -> String {
    addr.to_string()
}

#[test]
fn admin_tools_log_in_with_plain_over_sasl_plaintext() {
    let s = SecureServer::start();
    let login = s.plain_login(
        "admin.properties",
        "SASL_PLAINTEXT",
        "admin",
        "admin-secret",
    );
    let b = bootstrap(s.sasl_plaintext);
    let created = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--create",
            "--topic",
            "secured",
            "--partitions",
            "2",
        ],
        "",
    ));
    assert!(created.contains("Created topic secured."), "{created}");
    let listed = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--list",
        ],
        "",
    ));
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["secured"]);
    let described = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--describe",
            "--topic",
            "secured",
        ],
        "",
    ));
    assert!(described.contains("PartitionCount: 2"), "{described}");
    // The other admin tools take the same file (consumer-groups: see the round trip).
    ok(rill(
        &[
            "transactions",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "list",
        ],
        "",
    ));
    let quorum = ok(rill(
        &[
            "metadata-quorum",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "describe",
            "--status",
        ],
        "",
    ));
    assert!(quorum.contains("LeaderId"), "{quorum}");
    ok(rill(
        &[
            "leader-election",
            "--bootstrap-server",
            &b,
            "--admin.config",
            &login,
            "--election-type",
            "preferred",
            "--all-topic-partitions",
        ],
        "",
    ));
    let listed = ok(rill(
        &[
            "reassign-partitions",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--list",
        ],
        "",
    ));
    assert!(!listed.is_empty());
    // Without the file, the SASL listener closes the connection after ApiVersions.
    fails(rill(&["topics", "--bootstrap-server", &b, "--list"], ""));
    // The security keys as --producer-property flags, as kafka-console-producer takes them.
    let jaas_flag = jaas(PLAIN_MODULE, "admin", "admin-secret");
    ok(rill(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "secured",
            "--producer-property",
            "security.protocol=SASL_PLAINTEXT",
            "--producer-property",
            "sasl.mechanism=PLAIN",
            "--producer-property",
            &jaas_flag,
        ],
        "by-flags\n",
    ));
}

#[test]
fn a_refused_login_fails_the_tool_with_the_brokers_words_and_no_password() {
    let s = SecureServer::start();
    let b = bootstrap(s.sasl_plaintext);
    let list = |file: &str, server: &str| {
        fails(rill(
            &[
                "topics",
                "--bootstrap-server",
                server,
                "--command-config",
                file,
                "--list",
            ],
            "",
        ))
    };
    // PLAIN, a wrong password: PLAIN's text.
    let wrong = s.plain_login(
        "wrong.properties",
        "SASL_PLAINTEXT",
        "admin",
        "not-the-password",
    );
    let error = list(&wrong, &b);
    assert!(
        error.contains(
            "SASL authentication failed: Authentication failed: Invalid username or password"
        ),
        "{error}"
    );
    assert!(!error.contains("not-the-password"), "{error}");
    // SCRAM-SHA-512: the whole exchange runs (the broker answers an unknown user with a
    // decoy salt), and the broker refuses the proof with SCRAM's text.
    for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
        let scram = s.properties(
            &format!("{mechanism}.properties"),
            &[
                "security.protocol=SASL_PLAINTEXT".into(),
                format!("sasl.mechanism={mechanism}"),
                jaas(SCRAM_MODULE, "alice", "alice-secret"),
            ],
        );
        let error = list(&scram, &b);
        assert!(
            error.contains(&format!(
                "SASL authentication failed: Authentication failed during authentication due \
                 to invalid credentials with SASL mechanism {mechanism}"
            )),
            "{error}"
        );
        assert!(!error.contains("alice-secret"), "{error}");
    }
    // A mechanism the listener does not offer: the ones it does.
    let scram_on_plain_only = s.properties(
        "scram-ssl.properties",
        &[
            "security.protocol=SASL_SSL".into(),
            format!("ssl.truststore.location={}", s.certs.path("ca.pem")),
            "sasl.mechanism=SCRAM-SHA-256".into(),
            jaas(SCRAM_MODULE, "admin", "admin-secret"),
        ],
    );
    let error = list(&scram_on_plain_only, &bootstrap(s.sasl_ssl));
    assert!(
        error.contains("does not offer sasl.mechanism=SCRAM-SHA-256 (it offers PLAIN)"),
        "{error}"
    );
    // No mechanism (Kafka's default is GSSAPI): refused before connecting, naming the key.
    let no_mechanism = s.properties(
        "gssapi.properties",
        &[
            "security.protocol=SASL_PLAINTEXT".into(),
            jaas(PLAIN_MODULE, "admin", "admin-secret"),
        ],
    );
    let error = list(&no_mechanism, &b);
    assert!(
        error.contains("line 1: sasl.mechanism:") || error.contains("sasl.mechanism:"),
        "{error}"
    );
    assert!(
        error.contains("GSSAPI") && !error.contains("admin-secret"),
        "{error}"
    );
    // A JKS truststore: PEM only.
    let jks = s.properties(
        "jks.properties",
        &[
            "security.protocol=SSL".into(),
            "ssl.truststore.type=JKS".into(),
            "ssl.truststore.location=/etc/kafka/truststore.jks".into(),
        ],
    );
    let error = list(&jks, &bootstrap(s.ssl));
    assert!(
        error.contains("line 2: ssl.truststore.type: 'JKS' is not supported")
            && error.contains("PEM only"),
        "{error}"
    );
}

#[test]
fn topics_over_ssl_with_a_client_certificate() {
    let s = SecureServer::start();
    let b = bootstrap(s.ssl);
    let truststore = format!("ssl.truststore.location={}", s.certs.path("ca.pem"));
    // The client's key and chain in one PEM file.
    let from_file = s.properties(
        "ssl.properties",
        &[
            "security.protocol=SSL".into(),
            "ssl.truststore.type=PEM".into(),
            truststore.clone(),
            "ssl.keystore.type=PEM".into(),
            format!(
                "ssl.keystore.location={}",
                s.certs.path("client-alice-keystore.pem")
            ),
        ],
    );
    let created = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &from_file,
            "--create",
            "--topic",
            "tls-topic",
        ],
        "",
    ));
    assert!(created.contains("Created topic tls-topic."), "{created}");
    // The PEM texts in the file itself (Kafka's ssl.keystore.certificate.chain,
    // ssl.keystore.key and ssl.truststore.certificates, lines continued with a backslash).
    let inline = |name: &str| s.certs.text(name).trim_end().replace('\n', "\\n\\\n    ");
    let in_properties = s.properties(
        "ssl-inline.properties",
        &[
            "security.protocol=SSL".into(),
            format!("ssl.truststore.certificates={}", inline("ca.pem")),
            format!(
                "ssl.keystore.certificate.chain={}",
                inline("client-alice.pem")
            ),
            format!("ssl.keystore.key={}", inline("client-alice-key.pem")),
        ],
    );
    let listed = ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &in_properties,
            "--list",
        ],
        "",
    ));
    assert_eq!(listed.trim(), "tls-topic");
    // Without a client certificate the listener refuses the session.
    let no_certificate = s.properties(
        "no-cert.properties",
        &["security.protocol=SSL".into(), truststore],
    );
    let error = fails(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &no_certificate,
            "--list",
        ],
        "",
    ));
    assert!(
        error.contains("the broker refused the client certificate"),
        "{error}"
    );
}

#[test]
fn a_truststore_without_the_brokers_ca_or_a_wrong_host_fails_the_handshake_by_name() {
    let s = SecureServer::start();
    let login = |name: &str, ca: &str, extra: &[&str]| {
        let mut lines = vec![
            "security.protocol=SASL_SSL".to_string(),
            format!("ssl.truststore.location={}", s.certs.path(ca)),
            "sasl.mechanism=PLAIN".into(),
            jaas(PLAIN_MODULE, "admin", "admin-secret"),
        ];
        lines.extend(extra.iter().map(|l| l.to_string()));
        s.properties(name, &lines)
    };
    let list = |file: &str, server: &str| {
        rill(
            &[
                "topics",
                "--bootstrap-server",
                server,
                "--command-config",
                file,
                "--list",
            ],
            "",
        )
    };
    let b = bootstrap(s.sasl_ssl);
    let error = fails(list(&login("other-ca.properties", "other-ca.pem", &[]), &b));
    assert!(
        error.contains(&format!("TLS handshake with {b} failed"))
            && error.contains("not signed by a CA of the truststore")
            && error.contains("UnknownIssuer"),
        "{error}"
    );
    // The certificate names IP 127.0.0.1 only: `localhost` is not a name it holds.
    let by_name = format!("localhost:{}", s.sasl_ssl.port());
    let trusted = login("ca.properties", "ca.pem", &[]);
    let error = fails(list(&trusted, &by_name));
    assert!(
        error.contains("does not name the host") && error.contains("localhost"),
        "{error}"
    );
    // ssl.endpoint.identification.algorithm= (empty) skips the name check, not the chain's.
    let no_host_check = login(
        "no-host-check.properties",
        "ca.pem",
        &["ssl.endpoint.identification.algorithm="],
    );
    ok(list(&no_host_check, &by_name));
    let error = fails(list(
        &login(
            "no-host-check-other-ca.properties",
            "other-ca.pem",
            &["ssl.endpoint.identification.algorithm="],
        ),
        &by_name,
    ));
    assert!(error.contains("UnknownIssuer"), "{error}");
    // A TLS client at a plain listener, and a plain client at a TLS one: say so.
    let error = fails(list(&trusted, &bootstrap(s.server.addr)));
    assert!(error.contains("check security.protocol"), "{error}");
    let error = fails(rill(&["topics", "--bootstrap-server", &b, "--list"], ""));
    assert!(error.contains("the broker answered in TLS"), "{error}");
}

#[test]
fn console_and_perf_round_trips_over_sasl_ssl_with_plain() {
    let s = SecureServer::start();
    let b = bootstrap(s.sasl_ssl);
    let login = s.plain_login("client.properties", "SASL_SSL", "admin", "admin-secret");
    // Producer settings may share the file with the security keys.
    let producer = s.properties(
        "producer.properties",
        &[
            std::fs::read_to_string(&login).unwrap(),
            "acks=all".into(),
            "linger.ms=1".into(),
        ],
    );
    ok(rill(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--create",
            "--topic",
            "round-trip",
        ],
        "",
    ));
    ok(rill(
        &[
            "console-producer",
            "--bootstrap-server",
            &b,
            "--topic",
            "round-trip",
            "--producer.config",
            &producer,
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        "k1:first\nk2:second\n",
    ));
    let consumed = ok(rill(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "round-trip",
            "--consumer.config",
            &login,
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "20000",
            "--property",
            "print.key=true",
        ],
        "",
    ));
    assert_eq!(
        consumed.lines().collect::<Vec<_>>(),
        ["k1\tfirst", "k2\tsecond"]
    );
    // As a group member (FindCoordinator, JoinGroup and the coordinator's connection all go
    // through the SASL_SSL listener), with group.id from the file.
    let group = s.properties(
        "group.properties",
        &[
            std::fs::read_to_string(&login).unwrap(),
            "group.id=secured-group".into(),
        ],
    );
    let consumed = ok(rill(
        &[
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "round-trip",
            "--consumer.config",
            &group,
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "20000",
        ],
        "",
    ));
    assert_eq!(consumed.lines().collect::<Vec<_>>(), ["first", "second"]);
    let described = ok(rill(
        &[
            "consumer-groups",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--describe",
            "--group",
            "secured-group",
        ],
        "",
    ));
    assert!(described.contains("round-trip"), "{described}");
    let listed = ok(rill(
        &[
            "consumer-groups",
            "--bootstrap-server",
            &b,
            "--command-config",
            &login,
            "--list",
        ],
        "",
    ));
    assert_eq!(listed.trim(), "secured-group");
    // kafka-producer-perf-test's and kafka-consumer-perf-test's flags.
    let produced = ok(rill(
        &[
            "perf",
            "produce",
            "--bootstrap-server",
            &b,
            "--topic",
            "perf-secured",
            "--num-records",
            "500",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer.config",
            &login,
        ],
        "",
    ));
    assert!(produced.contains("500 records sent"), "{produced}");
    let consumed = ok(rill(
        &[
            "perf",
            "consume",
            "--bootstrap-server",
            &b,
            "--topic",
            "perf-secured",
            "--messages",
            "500",
            "--consumer.config",
            &login,
        ],
        "",
    ));
    assert!(!consumed.is_empty());
    let error = text(
        &rill(
            &[
                "perf",
                "produce",
                "--bootstrap-server",
                &b,
                "--topic",
                "perf-secured",
                "--num-records",
                "1",
                "--record-size",
                "1",
                "--throughput",
                "-1",
                "--consumer.config",
                &login,
            ],
            "",
        )
        .stderr,
    );
    assert!(
        error.contains("--consumer.config does not go with perf produce"),
        "{error}"
    );
}

/// SCRAM users live in the metadata log: `rill configs` makes one through the PLAINTEXT
/// listener, then the tools log in as it with both mechanisms, over SASL_PLAINTEXT.
#[test]
fn admin_tools_log_in_with_scram_users_made_by_rill_configs() {
    let s = SecureServer::start();
    let admin = bootstrap(s.server.addr);
    ok(rill(
        &[
            "configs",
            "--bootstrap-server",
            &admin,
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--add-config",
            "SCRAM-SHA-512=[password=alice-secret],SCRAM-SHA-256=[iterations=8192,password=alice-secret]",
        ],
        "",
    ));
    let b = bootstrap(s.sasl_plaintext);
    for mechanism in ["SCRAM-SHA-512", "SCRAM-SHA-256"] {
        let login = s.properties(
            &format!("{mechanism}.properties"),
            &[
                "security.protocol=SASL_PLAINTEXT".into(),
                format!("sasl.mechanism={mechanism}"),
                jaas(SCRAM_MODULE, "alice", "alice-secret"),
            ],
        );
        let topic = format!("scram-{}", mechanism.to_ascii_lowercase());
        let created = ok(rill(
            &[
                "topics",
                "--bootstrap-server",
                &b,
                "--command-config",
                &login,
                "--create",
                "--topic",
                &topic,
            ],
            "",
        ));
        assert!(
            created.contains(&format!("Created topic {topic}.")),
            "{created}"
        );
        // The credential is described through the secured listener too.
        let described = ok(rill(
            &[
                "configs",
                "--bootstrap-server",
                &b,
                "--command-config",
                &login,
                "--describe",
                "--entity-type",
                "users",
            ],
            "",
        ));
        assert!(
            described.contains("SCRAM-SHA-256=iterations=8192")
                && described.contains("SCRAM-SHA-512=iterations=4096"),
            "{described}"
        );
    }
}
