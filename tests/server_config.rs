//! `rill server --config FILE` through the real binary: Kafka's `server.properties` syntax, and
//! start-up refusals of settings Rill cannot honour.
#![cfg(not(madsim))]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use common::{call, free_port, server_exit, RillServer};

#[test]
fn a_server_properties_file_is_read_as_java_properties() {
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let config_dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // The shapes Kafka's own server.properties uses: comments, `key=value`, a continued line,
    // plus the other separators java.util.Properties allows.
    let file = config_dir.path().join("server.properties");
    let text = format!(
        "# Rill, configured like a Kafka broker\n\
         ! also a comment\n\
         node.id=7\n\
         listeners=PLAINTEXT://\\\n    {addr}\n\
         log.dirs: {data}\n\
         num.partitions 3\n\
         auto.create.topics.enable = true\n",
        data = data_dir.path().display()
    );
    std::fs::write(&file, text).unwrap();

    // Waits until the listener the file names accepts connections.
    let server = RillServer::start_exact(data_dir, addr, &["--config", file.to_str().unwrap()]);
    let mut stream = server.connect();
    let topic = TopicName(StrBytes::from_static_str("from-properties"));
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic))
        ]))
        .with_allow_auto_topic_creation(true);
    let response: MetadataResponse = call(&mut stream, ApiKey::Metadata, 12, &request);
    assert_eq!(response.brokers.len(), 1);
    assert_eq!(response.brokers[0].node_id.0, 7, "node.id from the file");
    assert_eq!(response.brokers[0].port, addr.port() as i32);
    assert_eq!(response.topics[0].error_code, 0);
    assert_eq!(
        response.topics[0].partitions.len(),
        3,
        "num.partitions from the file"
    );
}

#[test]
fn a_bad_properties_value_stops_start_up_naming_the_file_and_key() {
    let config_dir = tempfile::tempdir().unwrap();
    let file = config_dir.path().join("server.properties");
    std::fs::write(&file, "log.dirs=/tmp/unused\nnum.partitions=three\n").unwrap();
    let path = file.to_str().unwrap();
    let (code, stderr) = server_exit(&["--config", path], Duration::from_secs(10));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "invalid configuration ({path}): config key 'num.partitions': 'three' is not a whole number"
        )),
        "{stderr}"
    );
}

#[test]
fn incomplete_tls_or_sasl_settings_are_refused_before_anything_starts() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let data = data.to_str().unwrap();
    let port = free_port();
    // A TLS listener without a keystore, a SASL listener with a mechanism Rill does not serve,
    // an advertised listener that is not one of the listeners: each names its key.
    for (args, key, words) in [
        (
            vec!["--listeners".to_string(), format!("SSL://127.0.0.1:{port}")],
            "ssl.keystore.location",
            "has no keystore",
        ),
        (
            vec![
                "--listeners".to_string(),
                format!("SASL_PLAINTEXT://127.0.0.1:{port}"),
                "--override".to_string(),
                "sasl.enabled.mechanisms=GSSAPI".to_string(),
            ],
            "sasl.enabled.mechanisms",
            "GSSAPI is not served",
        ),
        (
            vec![
                "--override".to_string(),
                format!("advertised.listeners=SASL_SSL://127.0.0.1:{port}"),
            ],
            "advertised.listeners",
            "is not one of the listeners",
        ),
    ] {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--log-dirs", data]);
        let (code, stderr) = server_exit(&all, Duration::from_secs(10));
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("config key '{key}'")), "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
    }
    // An unmapped custom listener name is refused too, naming the map.
    let (code, stderr) = server_exit(
        &[
            "--listeners",
            &format!("INTERNAL://127.0.0.1:{port}"),
            "--log-dirs",
            data,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("listener.security.protocol.map"),
        "{stderr}"
    );
    assert!(
        !std::path::Path::new(data).exists(),
        "a refused configuration touches no data directory"
    );
}

#[test]
fn a_custom_listener_name_mapped_to_plaintext_serves() {
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listeners = format!("INTERNAL://{addr}");
    let server = RillServer::start_exact(
        data_dir.clone(),
        addr,
        &[
            "--listeners",
            &listeners,
            "--override",
            "listener.security.protocol.map=INTERNAL:PLAINTEXT",
            "--log-dirs",
            data_dir.path().to_str().unwrap(),
        ],
    );
    let mut stream = server.connect();
    let response: MetadataResponse = call(
        &mut stream,
        ApiKey::Metadata,
        12,
        &MetadataRequest::default(),
    );
    assert_eq!(response.brokers[0].port, addr.port() as i32);
}

/// The group coordinator's settings under Kafka's names and defaults, read from either file
/// syntax or the command line, each checked with an error naming the key.
#[test]
fn group_and_offsets_settings_take_kafkas_names_and_defaults() {
    use rill::config::{FileFormat, ServerConfig};
    use rill::group::settings::GroupSettings;

    let defaults = ServerConfig::load(None, &[]).unwrap();
    assert_eq!(defaults.group_settings(), GroupSettings::default());
    let topic = &defaults.offsets_topic;
    assert_eq!(
        (
            topic.partitions,
            topic.replication_factor,
            topic.segment_bytes
        ),
        (50, 3, 104_857_600)
    );
    let groups = defaults.group_settings();
    assert_eq!(groups.offsets_retention_ms, 10_080 * 60_000);
    assert_eq!(groups.max_size, i32::MAX, "group.max.size is unbounded");

    let file = "offsets.topic.num.partitions=4\n\
                offsets.topic.replication.factor=1\n\
                offsets.topic.segment.bytes=1048576\n\
                offsets.retention.minutes=2\n\
                offsets.retention.check.interval.ms=1000\n\
                offsets.commit.timeout.ms=700\n\
                offset.metadata.max.bytes=10\n\
                group.min.session.timeout.ms=1000\n\
                group.max.session.timeout.ms=20000\n\
                group.initial.rebalance.delay.ms=0\n";
    let config = ServerConfig::load(
        Some((FileFormat::Properties, file)),
        &["group.max.size=5".into()],
    )
    .unwrap();
    let topic = &config.offsets_topic;
    assert_eq!(
        (
            topic.partitions,
            topic.replication_factor,
            topic.segment_bytes
        ),
        (4, 1, 1_048_576)
    );
    assert_eq!(
        config.group_settings(),
        GroupSettings {
            min_session_timeout_ms: 1_000,
            max_session_timeout_ms: 20_000,
            initial_rebalance_delay_ms: 0,
            max_size: 5,
            offset_metadata_max_bytes: 10,
            offsets_retention_ms: 120_000,
            offsets_retention_check_interval_ms: 1_000,
            offsets_commit_timeout_ms: 700,
            ..GroupSettings::default()
        }
    );

    for (setting, message) in [
        (
            "offsets.topic.num.partitions=0",
            "config key 'offsets.topic.num.partitions': 0 is out of range",
        ),
        (
            "offsets.topic.replication.factor=0",
            "config key 'offsets.topic.replication.factor': 0 is out of range",
        ),
        (
            "offsets.topic.segment.bytes=1024",
            "config key 'offsets.topic.segment.bytes': 1024 is below 1048576, the smallest segment.bytes",
        ),
        (
            "offsets.retention.minutes=0",
            "config key 'offsets.retention.minutes': 0 is out of range",
        ),
        (
            "offsets.retention.check.interval.ms=0",
            "config key 'offsets.retention.check.interval.ms': 0 is out of range",
        ),
        (
            "offsets.commit.timeout.ms=-5",
            "config key 'offsets.commit.timeout.ms': -5 is out of range",
        ),
        (
            "offset.metadata.max.bytes=lots",
            "config key 'offset.metadata.max.bytes': 'lots' is not a whole number",
        ),
        (
            "group.initial.rebalance.delay.ms=-1",
            "config key 'group.initial.rebalance.delay.ms': -1 is out of range",
        ),
        (
            "group.max.size=0",
            "config key 'group.max.size': 0 is out of range",
        ),
        (
            "group.max.session.timeout.ms=3000000000",
            "config key 'group.max.session.timeout.ms': 3000000000 is out of range",
        ),
        (
            "group.max.session.timeout.ms=5000",
            "config key 'group.min.session.timeout.ms': 6000 is larger than \
             group.max.session.timeout.ms (5000)",
        ),
    ] {
        let error = ServerConfig::load(None, &[setting.into()]).unwrap_err();
        assert!(error.to_string().contains(message), "{setting}: {error}");
    }
    // Below 1 MiB only where the operator's log.segment.bytes is as small (tests, simulator).
    let small = ServerConfig::load(
        None,
        &[
            "log.segment.bytes=2048".into(),
            "offsets.topic.segment.bytes=2048".into(),
        ],
    )
    .unwrap();
    assert_eq!(small.offsets_topic.segment_bytes, 2048);
}

#[test]
fn a_bad_group_setting_stops_start_up_naming_the_key() {
    let (code, stderr) = server_exit(
        &["--override", "group.min.session.timeout.ms=soon"],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("config key 'group.min.session.timeout.ms': 'soon' is not a whole number"),
        "{stderr}"
    );
}

/// The authorizer's settings under Kafka's names and defaults: `authorizer.class.name` takes
/// Kafka's StandardAuthorizer or nothing, `super.users` principals split at `;`,
/// `allow.everyone.if.no.acl.found` false unless set; a gateway sees them only when on.
#[test]
fn authorizer_settings_take_kafkas_names_and_refuse_other_authorizers() {
    use rill::config::ServerConfig;

    let defaults = ServerConfig::load(None, &[]).unwrap();
    assert!(!defaults.authorizer_enabled);
    assert!(defaults.gateway_settings("c".into()).authorizer.is_none());
    let on = ServerConfig::load(
        None,
        &[
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                .to_string(),
            "super.users=User:admin; User:ops".to_string(),
            "allow.everyone.if.no.acl.found=true".to_string(),
        ],
    )
    .unwrap();
    let settings = on.gateway_settings("c".into()).authorizer.unwrap();
    let supers: Vec<&str> = settings.super_users.iter().map(String::as_str).collect();
    assert_eq!(supers, ["User:admin", "User:ops"]);
    assert!(settings.allow_everyone_if_no_acl_found);
    let off = ServerConfig::load(None, &["authorizer.class.name=".to_string()]).unwrap();
    assert!(!off.authorizer_enabled);
    let bad = ServerConfig::load(None, &["super.users=admin".to_string()]).unwrap_err();
    assert!(bad.to_string().contains("super.users"), "{bad}");
    // Another authorizer (ZooKeeper's AclAuthorizer, a custom class) stops the start, naming
    // the key.
    let (code, stderr) = server_exit(
        &[
            "--override",
            "authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("config key 'authorizer.class.name'")
            && stderr.contains("kafka.security.authorizer.AclAuthorizer"),
        "{stderr}"
    );
}
