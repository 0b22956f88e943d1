//! SASL on a real `rill server` over real TCP (issue 16): what a SASL listener answers before
//! authentication, SCRAM and PLAIN logins, failures that tell an attacker nothing, and the
//! start-up checks of the security settings. Real clients over TLS are in
//! `tests/clients/test_security.py`.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{call, free_port, server_exit, RillServer};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka's codes.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// A server with a PLAINTEXT listener (the test's admin door) and a SASL_PLAINTEXT one.
struct SaslServer {
    server: RillServer,
    sasl: SocketAddr,
}

fn start(extra: &[&str]) -> SaslServer {
    let data_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let plain: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let sasl: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listeners = format!("listeners=PLAINTEXT://{plain},SASL_PLAINTEXT://{sasl}");
    let dir = data_dir.path().to_str().unwrap().to_string();
    let mut args = vec!["--override", &listeners, "--log-dirs", &dir];
    args.extend_from_slice(extra);
    let server = RillServer::start_exact(data_dir.clone(), plain, &args);
    SaslServer { server, sasl }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Whether the server closed the connection (a read sees the end, not an answer).
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0) | Err(_))
}

fn handshake(stream: &mut TcpStream, mechanism: &'static str) -> SaslHandshakeResponse {
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    call(stream, ApiKey::SaslHandshake, 1, &request)
}

fn authenticate(stream: &mut TcpStream, token: Vec<u8>) -> SaslAuthenticateResponse {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
    call(stream, ApiKey::SaslAuthenticate, 2, &request)
}

fn send_metadata(stream: &mut TcpStream) {
    use std::io::Write;
    // A Metadata v12 request for all topics, framed by hand: the connection must close
    // without answering, so `call` (which waits for an answer) cannot send it.
    let mut body = bytes::BytesMut::new();
    use kafka_protocol::messages::RequestHeader;
    use kafka_protocol::protocol::Encodable;
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(12)
        .with_correlation_id(7);
    header
        .encode(&mut body, ApiKey::Metadata.request_header_version(12))
        .unwrap();
    MetadataRequest::default().encode(&mut body, 12).unwrap();
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).unwrap();
}

#[test]
fn before_authentication_a_sasl_listener_answers_only_api_versions_and_sasl() {
    let s = start(&[]);
    // ApiVersions is answered, and lists the SASL requests.
    let mut stream = connect(s.sasl);
    let versions: ApiVersionsResponse = call(
        &mut stream,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    );
    assert_eq!(versions.error_code, 0);
    let listed = |key: ApiKey| versions.api_keys.iter().any(|k| k.api_key == key as i16);
    assert!(listed(ApiKey::SaslHandshake) && listed(ApiKey::SaslAuthenticate));
    // Anything else closes the connection unanswered.
    send_metadata(&mut stream);
    assert!(
        closed(&mut stream),
        "Metadata before authentication closes the connection"
    );

    // A mechanism the listener does not offer: UNSUPPORTED_SASL_MECHANISM with the ones it
    // does (the default, SCRAM), then the connection closes.
    let mut stream = connect(s.sasl);
    let answer = handshake(&mut stream, "GSSAPI");
    assert_eq!(answer.error_code, UNSUPPORTED_SASL_MECHANISM);
    let offered: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(offered, ["SCRAM-SHA-512", "SCRAM-SHA-256"]);
    assert!(closed(&mut stream));

    // A token before the handshake: ILLEGAL_SASL_STATE, closed.
    let mut stream = connect(s.sasl);
    let answer = authenticate(&mut stream, b"n,,n=alice,r=abc".to_vec());
    assert_eq!(answer.error_code, ILLEGAL_SASL_STATE);
    assert!(closed(&mut stream));

    // On the PLAINTEXT listener SaslHandshake is ILLEGAL_SASL_STATE and the connection stays.
    let mut stream = s.server.connect();
    assert_eq!(
        handshake(&mut stream, "SCRAM-SHA-512").error_code,
        ILLEGAL_SASL_STATE
    );
    let metadata: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default(),
    );
    assert_eq!(metadata.brokers.len(), 1);
}

#[test]
fn a_malformed_scram_message_fails_like_a_wrong_password_and_closes() {
    let s = start(&[]);
    let mut stream = connect(s.sasl);
    assert_eq!(handshake(&mut stream, "SCRAM-SHA-256").error_code, 0);
    let answer = authenticate(&mut stream, b"not scram at all".to_vec());
    assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED);
    assert_eq!(
        answer.error_message.as_deref(),
        Some(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism SCRAM-SHA-256"
        )
    );
    assert!(closed(&mut stream));
}

#[test]
fn plain_logins_check_the_listeners_jaas_users() {
    let jaas = "listener.name.sasl_plaintext.plain.sasl.jaas.config=\
        org.apache.kafka.common.security.plain.PlainLoginModule required \
        user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
    let s = start(&[
        "--override",
        "sasl.enabled.mechanisms=PLAIN",
        "--override",
        jaas,
        "--override",
        "rill.sasl.plain.over.plaintext.enable=true",
    ]);
    let login = |user: &str, password: &str| {
        let mut stream = connect(s.sasl);
        assert_eq!(handshake(&mut stream, "PLAIN").error_code, 0);
        let answer = authenticate(&mut stream, format!("\0{user}\0{password}").into_bytes());
        (stream, answer)
    };
    let (mut stream, answer) = login("alice", "alice-secret");
    assert_eq!(answer.error_code, 0, "{:?}", answer.error_message);
    // Authenticated: Metadata now works, and names the brokers by their SASL_PLAINTEXT
    // endpoint, the listener this connection came in on.
    let metadata: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default(),
    );
    assert!(
        !s.server.log().contains("alice-secret"),
        "the JAAS config's passwords are not logged"
    );
    let ports: Vec<i32> = metadata.brokers.iter().map(|b| b.port).collect();
    assert_eq!(ports, [i32::from(s.sasl.port())]);
    // A second handshake on an authenticated connection: ILLEGAL_SASL_STATE, still open.
    assert_eq!(
        handshake(&mut stream, "PLAIN").error_code,
        ILLEGAL_SASL_STATE
    );

    // A wrong password and an unknown user get the same code and words, then the connection
    // closes.
    for (user, password) in [("alice", "wrong"), ("mallory", "alice-secret")] {
        let (mut stream, answer) = login(user, password);
        assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED, "{user}");
        assert_eq!(
            answer.error_message.as_deref(),
            Some("Authentication failed: Invalid username or password")
        );
        assert!(closed(&mut stream), "{user}");
    }
    // Not PLAIN's three parts: Kafka's generic text (its PlainSaslServer's parse error is
    // never passed on), then the connection closes.
    let mut stream = connect(s.sasl);
    assert_eq!(handshake(&mut stream, "PLAIN").error_code, 0);
    let answer = authenticate(&mut stream, b"alice alice-secret".to_vec());
    assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED);
    assert_eq!(
        answer.error_message.as_deref(),
        Some(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism PLAIN"
        )
    );
    assert!(closed(&mut stream));
}

#[test]
fn insecure_or_incomplete_security_settings_stop_the_start_with_the_key_named() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    let run = |overrides: &[String]| {
        let mut args = vec!["--log-dirs", dir];
        for o in overrides {
            args.extend(["--override", o.as_str()]);
        }
        server_exit(&args, Duration::from_secs(10))
    };
    // PLAIN over SASL_PLAINTEXT without Rill's switch.
    let (code, log) = run(&[
        format!("listeners=SASL_PLAINTEXT://127.0.0.1:{port}"),
        "sasl.enabled.mechanisms=PLAIN".into(),
        "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_a=\"b\";".into(),
    ]);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("rill.sasl.plain.over.plaintext.enable"),
        "{log}"
    );
    assert!(
        !log.contains("\"b\""),
        "a password must not be echoed: {log}"
    );
    // An SSL listener without a keystore.
    let (code, log) = run(&[format!("listeners=SSL://127.0.0.1:{port}")]);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("ssl.keystore.location") && log.contains("no keystore"),
        "{log}"
    );
    // A mechanism Rill does not serve.
    let (code, log) = run(&[
        format!("listeners=SASL_PLAINTEXT://127.0.0.1:{port}"),
        "sasl.enabled.mechanisms=GSSAPI".into(),
    ]);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("sasl.enabled.mechanisms") && log.contains("GSSAPI"),
        "{log}"
    );
}

/// `rill configs --alter --entity-type users` through the PLAINTEXT listener.
fn add_scram_user(admin: SocketAddr, user: &str, config: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["configs", "--bootstrap-server", &admin.to_string()])
        .args(["--alter", "--entity-type", "users", "--entity-name", user])
        .args(["--add-config", config])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A SCRAM login: the handshake, both rounds; the connection and the final answer.
fn scram_login(
    addr: SocketAddr,
    mechanism: rill::security::ScramMechanism,
    user: &str,
    password: &str,
) -> (TcpStream, Result<(), SaslAuthenticateResponse>) {
    let mut stream = connect(addr);
    assert_eq!(handshake(&mut stream, mechanism.name()).error_code, 0);
    let (mut client, first) =
        rill::security::ScramClient::new(mechanism, user, password, "test-client-nonce");
    let server_first = authenticate(&mut stream, first);
    assert_eq!(server_first.error_code, 0, "the first round never fails");
    let last = client
        .server_first(&server_first.auth_bytes)
        .expect("a server-first message");
    let answer = authenticate(&mut stream, last);
    if answer.error_code != 0 {
        return (stream, Err(answer));
    }
    client
        .server_final(&answer.auth_bytes)
        .expect("the broker proves it knows the credential");
    (stream, Ok(()))
}

#[test]
fn scram_logins_use_the_credentials_in_the_metadata_log() {
    use rill::security::ScramMechanism::{Sha256, Sha512};
    let s = start(&[]);
    add_scram_user(
        s.server.addr,
        "alice",
        "SCRAM-SHA-512=[iterations=8192,password=alice-secret]",
    );
    // Applied at the broker before the tool's answer: a login right after works.
    let (mut stream, answer) = scram_login(s.sasl, Sha512, "alice", "alice-secret");
    assert!(answer.is_ok(), "{answer:?}");
    let metadata: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default(),
    );
    assert_eq!(metadata.brokers[0].port, i32::from(s.sasl.port()));

    // A wrong password, an unknown user, and a mechanism alice has no credential for: the same
    // code and words at the final round, then the connection closes.
    let words = |m: &str| {
        format!(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism {m}"
        )
    };
    for (mechanism, user, password) in [
        (Sha512, "alice", "wrong"),
        (Sha512, "mallory", "alice-secret"),
        (Sha256, "alice", "alice-secret"),
    ] {
        let (mut stream, answer) = scram_login(s.sasl, mechanism, user, password);
        let answer = answer.expect_err(user);
        assert_eq!(answer.error_code, SASL_AUTHENTICATION_FAILED);
        assert_eq!(
            answer.error_message.as_deref(),
            Some(words(mechanism.name()).as_str())
        );
        assert!(closed(&mut stream), "{user}");
    }

    // Deleted: the next login fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["configs", "--bootstrap-server", &s.server.addr.to_string()])
        .args([
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
        ])
        .args(["--delete-config", "SCRAM-SHA-512"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, answer) = scram_login(s.sasl, Sha512, "alice", "alice-secret");
    assert!(answer.is_err());
}

#[test]
fn before_authentication_frames_are_bounded_by_sasl_server_max_receive_size() {
    use std::io::Write;
    let s = start(&["--override", "sasl.server.max.receive.size=1000"]);
    // A frame declaring 2000 bytes closes the connection before anything else is read.
    let mut stream = connect(s.sasl);
    stream.write_all(&2000i32.to_be_bytes()).unwrap();
    stream.write_all(&[0u8; 64]).unwrap();
    assert!(closed(&mut stream));
    // The same size on the PLAINTEXT listener is only a frame still arriving.
    let mut plain = s.server.connect();
    plain.write_all(&2000i32.to_be_bytes()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = plain.read(&mut byte);
    assert!(
        matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "{read:?}"
    );
    // Under the bound, a SASL request is answered.
    let mut stream = connect(s.sasl);
    assert_eq!(handshake(&mut stream, "SCRAM-SHA-512").error_code, 0);
}
