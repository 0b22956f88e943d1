//! `rill server` configuration: Kafka's property names, validated up front with clear errors.
//!
//! A config file is TOML, or Java properties when its name ends in `.properties` (Kafka's own
//! `server.properties`; parsed by [`properties`]). In TOML, Kafka's dotted names work both quoted
//! (`"log.retention.hours" = 24`) and as TOML's own dotted keys (`log.retention.hours = 24`,
//! which TOML stores as nested tables; we flatten them back). A properties value is text, typed
//! here exactly like a command-line value, so both syntaxes share every key and every check.
//! Command-line `--override key=value` pairs are applied after the file, so flags win. Unknown keys and bad values stop start-up with a message that names
//! the key and the problem: a typo in a durability setting must not be silently ignored.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::group::settings::GroupSettings;
use crate::partition::throttle;
use crate::storage::log::{
    FlushPolicy, LogConfig, LOG_SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX, SEGMENT_MS_MIN,
};
use crate::txn::settings::TxnSettings;

pub mod admin;
pub mod fuzz_support;
mod gateway;
pub mod listeners;
pub mod pem;
pub mod properties;
pub mod quorum;
pub mod security;

pub use listeners::{Listener, SecurityProtocol};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config file: {0}")]
    Syntax(String),
    #[error("unknown config key '{0}'")]
    UnknownKey(String),
    #[error("config key '{key}': {problem}")]
    BadValue { key: String, problem: String },
}

/// Kafka's default `fetch.max.bytes`: 55 MiB.
pub const FETCH_MAX_BYTES_DEFAULT: usize = 57_671_680;

/// Rill's key for re-reading TLS listeners' certificate files, and its default (a minute).
pub const SSL_RELOAD_INTERVAL_KEY: &str = "rill.ssl.reload.interval.ms";
pub const SSL_RELOAD_INTERVAL_MS_DEFAULT: u64 = 60_000;

/// Everything `rill server` needs to start. `Default` is the embedded zero-setup config.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// `node.id`
    pub node_id: u64,
    /// `listeners`: where clients connect.
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`: what Metadata tells clients; defaults to `listeners`.
    pub advertised_listeners: Option<Vec<Listener>>,
    /// `listener.security.protocol.map`: each listener name's security protocol.
    pub listener_security_protocol_map: listeners::ProtocolMap,
    /// `inter.broker.listener.name`: the listener brokers reach each other on (Kafka's; see
    /// [`ServerConfig::inter_broker_listener`]).
    pub inter_broker_listener_name: Option<String>,
    /// `security.inter.broker.protocol`: the same chosen by protocol (Kafka's default
    /// PLAINTEXT); not with `inter.broker.listener.name`.
    pub security_inter_broker_protocol: Option<listeners::SecurityProtocol>,
    /// `log.dirs` (one directory for now).
    pub log_dir: PathBuf,
    /// `num.partitions`: partitions of an auto-created topic or one created with -1.
    pub num_partitions: u32,
    /// `default.replication.factor`
    pub default_replication_factor: u16,
    /// `auto.create.topics.enable`
    pub auto_create_topics: bool,
    /// Defaults for every partition log: `log.retention.*`, `log.segment.bytes`, `log.roll.*`,
    /// `log.index.interval.bytes`, `log.flush.*`, `message.max.bytes`.
    pub log: LogConfig,
    /// `socket.request.max.bytes`: the largest request frame accepted.
    pub socket_request_max_bytes: usize,
    /// `fetch.max.bytes`: the most record bytes one Fetch response carries, whatever the
    /// request's `max_bytes` (Kafka's broker setting, default 55 MiB). Without it one small
    /// Fetch asking for 2^31-1 bytes made the broker build a response of every byte it had.
    pub fetch_max_bytes: usize,
    /// `max.connections`: client connections open at once, across listeners. `None` = derived
    /// from the descriptor limit at start ([`crate::limits::fd_share_connections`]); Kafka's
    /// default is unlimited, which lets idle connections take the descriptors logs need.
    pub max_connections: Option<u64>,
    /// `max.connections.per.ip`: connections one client address may hold open (Kafka's
    /// default: unlimited). 0 admits only the addresses listed in the overrides.
    pub max_connections_per_ip: u64,
    /// `max.connections.per.ip.overrides`: `address:count,...` (IP literals; Kafka also takes
    /// host names, resolved at start-up — Rill refuses them rather than guess).
    pub max_connections_per_ip_overrides: BTreeMap<IpAddr, u64>,
    /// `connections.max.idle.ms`: a connection with no request read and no answer owed for
    /// this long is closed (Kafka: 600000).
    pub connections_max_idle_ms: u64,
    /// `replica.lag.time.max.ms`: a follower not caught up with its leader for this long
    /// leaves the partition's ISR (Kafka: 30000).
    pub replica_lag_time_max_ms: u64,
    /// `replication.quota.window.num` and `replication.quota.window.size.seconds`: the
    /// replication throttles' quota window (Kafka: 11 samples of 1 s). The throttle rates
    /// themselves are dynamic broker configs (IncrementalAlterConfigs), as in Kafka.
    pub replication_quota_window_num: u32,
    pub replication_quota_window_size_s: u32,
    /// `quota.window.num` and `quota.window.size.seconds`: the client quotas' window (Kafka:
    /// 11 samples of 1 s): one window of burst, debt remembered over all of them. The quotas
    /// themselves are in the metadata log (AlterClientQuotas), as in Kafka.
    pub quota_window_num: u32,
    pub quota_window_size_s: u32,
    /// `rill.ssl.reload.interval.ms` (beyond Kafka): how often a TLS listener's keystore and
    /// truststore files are read again, a changed set serving new connections from then on; 0
    /// reads them at start only.
    pub ssl_reload_interval_ms: u64,
    /// `admin.listener` (beyond Kafka): the admin endpoint's address (metrics, health).
    pub admin_listener: admin::AdminListener,
    /// `log.format` (beyond Kafka): `text` or `json`.
    pub log_format: admin::LogFormat,
    /// `queued.max.request.bytes`: `Some(-1)` = unbounded (Kafka's default); `None` = not set,
    /// [`crate::limits::QUEUED_REQUEST_BYTES_DEFAULT`] (at least `socket.request.max.bytes`).
    pub queued_max_request_bytes: Option<i64>,
    /// `offsets.topic.*`: how `__consumer_offsets` is created.
    pub offsets_topic: OffsetsTopicConfig,
    /// `group.*`, `offsets.retention.*`, `offsets.commit.timeout.ms`,
    /// `offset.metadata.max.bytes`: the group coordinator's settings.
    pub groups: GroupSettings,
    /// `transaction.state.log.*`: how `__transaction_state` is created.
    pub txn_state_topic: TxnStateTopicConfig,
    /// `transaction.max.timeout.ms`, `transactional.id.expiration.ms` and the two cleanup
    /// intervals: the transaction coordinator's settings.
    pub txn: TxnSettings,
    /// `transaction.partition.verification.enable` (KIP-890 part 1): a transaction's first
    /// batch at a partition is appended only once its coordinator confirmed the partition is
    /// in the producer's open transaction.
    pub transaction_partition_verification: bool,
    /// `process.roles`, `controller.quorum.voters`, `controller.listener.names`,
    /// `controller.quorum.election.timeout.ms`: the controller quorum ([`quorum`]).
    pub controller: quorum::ControllerConfig,
    /// `ssl.*`, `sasl.*` and their `listener.name.*` forms: TLS and SASL of the client
    /// listeners ([`security`]).
    pub security: security::SecurityConfig,
    /// `authorizer.class.name`: whether ACLs are on (Kafka's
    /// `org.apache.kafka.metadata.authorizer.StandardAuthorizer`; empty, the default: off).
    /// With them on, every request is checked against the ACLs (`broker::authorize`; README,
    /// Security). Off, nothing is checked and the ACL APIs answer SECURITY_DISABLED, as
    /// Kafka's do without one.
    pub authorizer_enabled: bool,
    /// `super.users` and `allow.everyone.if.no.acl.found` (Kafka's defaults: none, false).
    pub authorizer: crate::security::acl::AuthorizerSettings,
}

/// Kafka's KRaft authorizer, the one `authorizer.class.name` may name.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/// How `__consumer_offsets` is created (the first time a client looks for a coordinator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetsTopicConfig {
    /// `offsets.topic.num.partitions` (Kafka: 50). Fixed once the topic exists: a group's
    /// coordinator is its id's hash modulo this count.
    pub partitions: u32,
    /// `offsets.topic.replication.factor` (Kafka: 3), capped at the brokers there are.
    pub replication_factor: u16,
    /// `offsets.topic.segment.bytes` (Kafka: 100 MiB), the topic's `segment.bytes`.
    pub segment_bytes: u64,
}

impl Default for OffsetsTopicConfig {
    fn default() -> Self {
        Self {
            partitions: 50,
            replication_factor: 3,
            segment_bytes: 104_857_600,
        }
    }
}

/// How `__transaction_state` is created (the first time a transactional id looks for its
/// coordinator), as Kafka's `transaction.state.log.*` describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnStateTopicConfig {
    /// `transaction.state.log.num.partitions` (Kafka: 50). Fixed once the topic exists: a
    /// transactional id's coordinator is its hash modulo this count.
    pub partitions: u32,
    /// `transaction.state.log.replication.factor` (Kafka: 3), capped at the brokers there are.
    pub replication_factor: u16,
    /// `transaction.state.log.min.isr` (Kafka: 2), the topic's `min.insync.replicas` (capped
    /// at the replication factor the topic gets).
    pub min_isr: u32,
    /// `transaction.state.log.segment.bytes` (Kafka: 100 MiB), the topic's `segment.bytes`.
    pub segment_bytes: u64,
}

impl Default for TxnStateTopicConfig {
    fn default() -> Self {
        Self {
            partitions: 50,
            replication_factor: 3,
            min_isr: 2,
            segment_bytes: 104_857_600,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9092,
            }],
            advertised_listeners: None,
            listener_security_protocol_map: listeners::default_protocol_map(),
            inter_broker_listener_name: None,
            security_inter_broker_protocol: None,
            log_dir: PathBuf::from("./rill-data"),
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics: true,
            log: LogConfig {
                batch_bytes_max: 1_048_588,
                ..LogConfig::default()
            },
            socket_request_max_bytes: 104_857_600,
            fetch_max_bytes: FETCH_MAX_BYTES_DEFAULT,
            max_connections: None,
            max_connections_per_ip: i32::MAX as u64,
            max_connections_per_ip_overrides: BTreeMap::new(),
            connections_max_idle_ms: 600_000,
            replica_lag_time_max_ms: crate::partition::isr::REPLICA_LAG_TIME_MAX_MS_DEFAULT,
            replication_quota_window_num: throttle::REPLICATION_QUOTA_WINDOW_NUM_DEFAULT,
            replication_quota_window_size_s:
                throttle::REPLICATION_QUOTA_WINDOW_SIZE_SECONDS_DEFAULT,
            quota_window_num: crate::types::rate_bucket::QUOTA_WINDOW_NUM_DEFAULT,
            quota_window_size_s: 1,
            ssl_reload_interval_ms: SSL_RELOAD_INTERVAL_MS_DEFAULT,
            admin_listener: admin::AdminListener::default(),
            log_format: admin::LogFormat::default(),
            queued_max_request_bytes: None,
            offsets_topic: OffsetsTopicConfig::default(),
            groups: GroupSettings::default(),
            txn_state_topic: TxnStateTopicConfig::default(),
            txn: TxnSettings::default(),
            transaction_partition_verification: true,
            controller: quorum::ControllerConfig::default(),
            security: security::SecurityConfig::default(),
            authorizer_enabled: false,
            authorizer: crate::security::acl::AuthorizerSettings::default(),
        }
    }
}

/// The syntax of a config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Toml,
    /// Java properties (`key=value`), Kafka's `server.properties`.
    Properties,
}

impl FileFormat {
    /// `*.properties` is Java properties, anything else TOML.
    pub fn of(path: &Path) -> Self {
        match path.extension() {
            Some(ext) if ext == "properties" => FileFormat::Properties,
            _ => FileFormat::Toml,
        }
    }
}

/// A config value before it is typed: from TOML, or text (a properties file, the command line).
#[derive(Clone, Debug)]
enum Raw {
    Toml(toml::Value),
    Text(String),
}

impl ServerConfig {
    /// Builds the config from an optional file (its format and text) and `key=value` overrides
    /// (applied last).
    pub fn load(
        file: Option<(FileFormat, &str)>,
        overrides: &[String],
    ) -> Result<Self, ConfigError> {
        let mut settings = BTreeMap::new();
        match file {
            Some((FileFormat::Toml, text)) => {
                let table: toml::Table = text
                    .parse()
                    .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
                flatten("", &table, &mut settings);
            }
            Some((FileFormat::Properties, text)) => {
                // Later lines win, as in java.util.Properties. Kafka trims values when it types
                // them; so do we (an override is trimmed the same way).
                for p in properties::parse(text).map_err(ConfigError::Syntax)? {
                    settings.insert(p.key, Raw::Text(p.value.trim().to_string()));
                }
            }
            None => {}
        }
        for pair in overrides {
            let (key, value) = pair.split_once('=').ok_or_else(|| ConfigError::BadValue {
                key: pair.clone(),
                problem: "an override must look like key=value".into(),
            })?;
            settings.insert(key.trim().to_string(), Raw::Text(value.trim().to_string()));
        }
        let mut config = Self::default();
        // Kafka's precedence among retention units: ms over minutes over hours. BTreeMap order
        // would apply them alphabetically, so apply the coarse ones first explicitly.
        let coarse_first = [
            "log.retention.hours",
            "log.retention.minutes",
            "log.roll.hours",
        ];
        for key in coarse_first {
            if let Some(raw) = settings.remove(key) {
                config.apply(key, raw)?;
            }
        }
        for (key, raw) in settings {
            config.apply(&key, raw)?;
        }
        config.validate()?;
        Ok(config)
    }

    fn apply(&mut self, key: &str, raw: Raw) -> Result<(), ConfigError> {
        let v = Value { key, raw };
        match key {
            "node.id" | "broker.id" => self.node_id = v.int(0, i32::MAX as i64)? as u64,
            "listeners" => self.listeners = v.listeners()?,
            "advertised.listeners" => self.advertised_listeners = Some(v.listeners()?),
            "listener.security.protocol.map" => {
                self.listener_security_protocol_map = v.protocol_map()?
            }
            "inter.broker.listener.name" => {
                let name = v.text()?.trim().to_ascii_uppercase();
                self.inter_broker_listener_name = (!name.is_empty()).then_some(name);
            }
            "security.inter.broker.protocol" => {
                let text = v.text()?;
                let protocol = (listeners::SecurityProtocol::ALL.into_iter())
                    .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
                    .ok_or_else(|| {
                        v.bad(format!(
                            "'{text}' is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, \
                             SASL_SSL)"
                        ))
                    })?;
                self.security_inter_broker_protocol = Some(protocol);
            }
            "process.roles" => {
                self.controller.roles = quorum::parse_roles(&v.text()?).map_err(|p| v.bad(p))?
            }
            "controller.quorum.voters" => {
                self.controller.voters = quorum::parse_voters(&v.text()?).map_err(|p| v.bad(p))?
            }
            "controller.listener.names" => {
                self.controller.listener_names = v
                    .text()?
                    .split(',')
                    .map(|n| n.trim().to_ascii_uppercase())
                    .filter(|n| !n.is_empty())
                    .collect()
            }
            "controller.quorum.election.timeout.ms" => {
                self.controller.election_timeout_ms = v.int(10, i32::MAX as i64)? as u64
            }
            "broker.session.timeout.ms" => {
                self.controller.broker_session_timeout_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "broker.heartbeat.interval.ms" => {
                self.controller.broker_heartbeat_interval_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "auto.leader.rebalance.enable" => self.controller.auto_leader_rebalance = v.bool()?,
            "leader.imbalance.check.interval.seconds" => {
                self.controller.leader_imbalance_check_interval_s =
                    v.int(1, i32::MAX as i64)? as u64
            }
            "log.dirs" | "log.dir" => self.log_dir = v.log_dir()?,
            "num.partitions" => {
                self.num_partitions = v.int(1, crate::limits::TOPIC_PARTITIONS_MAX as i64)? as u32
            }
            "default.replication.factor" => {
                self.default_replication_factor = v.int(1, i16::MAX as i64)? as u16
            }
            "auto.create.topics.enable" => self.auto_create_topics = v.bool()?,
            // Broker-level defaults of topic configs (a topic's own wins).
            "min.insync.replicas" => {
                self.log.min_insync_replicas = v.int(1, i32::MAX as i64)? as u32
            }
            "unclean.leader.election.enable" => self.log.unclean_leader_election = v.bool()?,
            "log.retention.hours" => self.log.retention_ms = v.retention(3_600_000)?,
            "log.retention.minutes" => self.log.retention_ms = v.retention(60_000)?,
            "log.retention.ms" => self.log.retention_ms = v.retention(1)?,
            "log.retention.bytes" => {
                let bytes = v.int(-1, i64::MAX)?;
                self.log.retention_bytes = (bytes >= 0).then_some(bytes as u64);
            }
            "log.segment.bytes" => {
                self.log.segment_bytes =
                    v.int(LOG_SEGMENT_BYTES_MIN as i64, SEGMENT_BYTES_MAX as i64)? as u64
            }
            "log.roll.hours" => self.log.segment_ms = v.int(1, i64::MAX / 3_600_000)? * 3_600_000,
            "log.roll.ms" => self.log.segment_ms = v.int(SEGMENT_MS_MIN, i64::MAX)?,
            "log.index.interval.bytes" => {
                self.log.index_interval_bytes = v.int(0, i32::MAX as i64)? as u64
            }
            "log.flush.interval.messages" => {
                // Kafka: 1 = flush every message. Rill syncs whole appends, so 1 is EveryAppend
                // and anything larger leaves flushing to the OS (or to log.flush.interval.ms).
                let n = v.int(1, i64::MAX)?;
                if n == 1 {
                    self.log.flush = FlushPolicy::EveryAppend;
                } else if self.log.flush == FlushPolicy::EveryAppend {
                    self.log.flush = FlushPolicy::Os;
                }
            }
            "log.flush.interval.ms" => {
                self.log.flush = FlushPolicy::IntervalMs(v.int(1, i64::MAX)? as u64)
            }
            "log.flush.policy" => self.log.flush = v.flush_policy()?,
            "fetch.max.bytes" => self.fetch_max_bytes = v.int(0, i32::MAX as i64)? as usize,
            "log.message.timestamp.before.max.ms" => {
                self.log.timestamp_before_max_ms = v.int(0, i64::MAX)?
            }
            "log.message.timestamp.after.max.ms" => {
                self.log.timestamp_after_max_ms = v.int(0, i64::MAX)?
            }
            "log.cleaner.enable" => self.log.compaction.cleaner_enable = v.bool()?,
            "log.cleaner.backoff.ms" => {
                self.log.compaction.cleaner_backoff_ms = v.int(0, i64::MAX)? as u64
            }
            "log.cleaner.io.max.bytes.per.second" => {
                self.log.compaction.cleaner_io_max_bytes_per_second = v.int(1, i64::MAX)? as u64
            }
            "log.cleaner.dedupe.buffer.size" => {
                self.log.compaction.cleaner_dedupe_buffer_bytes = v.int(1, i64::MAX)? as u64
            }
            // One cleaning runs per log at a time on the persist pool; the count is accepted.
            "log.cleaner.threads" => {
                v.int(0, i32::MAX as i64)?;
            }
            "message.max.bytes" => self.log.batch_bytes_max = v.int(61, i32::MAX as i64)? as usize,
            "socket.request.max.bytes" => {
                self.socket_request_max_bytes = v.int(1024, i32::MAX as i64)? as usize
            }
            "max.connections" => self.max_connections = Some(v.int(1, i32::MAX as i64)? as u64),
            "max.connections.per.ip" => {
                self.max_connections_per_ip = v.int(0, i32::MAX as i64)? as u64
            }
            "max.connections.per.ip.overrides" => {
                self.max_connections_per_ip_overrides = v.per_ip_overrides()?
            }
            "connections.max.idle.ms" => self.connections_max_idle_ms = v.int(1, i64::MAX)? as u64,
            "replica.lag.time.max.ms" => {
                self.replica_lag_time_max_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "replication.quota.window.num" => {
                self.replication_quota_window_num = v.int(1, i32::MAX as i64)? as u32
            }
            "replication.quota.window.size.seconds" => {
                self.replication_quota_window_size_s = v.int(1, i32::MAX as i64)? as u32
            }
            "quota.window.num" => self.quota_window_num = v.int(1, i32::MAX as i64)? as u32,
            SSL_RELOAD_INTERVAL_KEY => self.ssl_reload_interval_ms = v.int(0, i64::MAX)? as u64,
            "admin.listener" => {
                self.admin_listener =
                    admin::AdminListener::parse(&v.text()?).map_err(|p| v.bad(p))?
            }
            "log.format" => {
                self.log_format = admin::LogFormat::parse(&v.text()?).map_err(|p| v.bad(p))?
            }
            "quota.window.size.seconds" => {
                self.quota_window_size_s = v.int(1, i32::MAX as i64)? as u32
            }
            // Kafka documents them as dynamic only ("in the static configuration file it has no
            // effect"); Rill refuses a key it would ignore, and says where they are set.
            throttle::LEADER_RATE_KEY
            | throttle::FOLLOWER_RATE_KEY
            | throttle::LOG_DIRS_RATE_KEY => {
                return Err(ConfigError::BadValue {
                    key: key.into(),
                    problem: "is a dynamic broker config: set it with IncrementalAlterConfigs \
                              (rill reassign-partitions --throttle, or kafka-configs --alter \
                              --entity-type brokers); in a static file Kafka ignores it"
                        .into(),
                });
            }
            "queued.max.request.bytes" => {
                let bytes = v.int(-1, i64::MAX)?;
                if bytes == 0 {
                    return Err(ConfigError::BadValue {
                        key: key.into(),
                        problem: "must be -1 (unbounded) or a number of bytes".into(),
                    });
                }
                self.queued_max_request_bytes = Some(bytes);
            }
            "offsets.topic.num.partitions" => {
                self.offsets_topic.partitions =
                    v.int(1, crate::limits::TOPIC_PARTITIONS_MAX as i64)? as u32
            }
            "offsets.topic.replication.factor" => {
                self.offsets_topic.replication_factor = v.int(1, i16::MAX as i64)? as u16
            }
            // Kafka takes any positive size; the topic's segment.bytes floor applies
            // ([`Self::validate`]), so a value the topic would refuse stops start-up instead
            // of the first group.
            "offsets.topic.segment.bytes" => {
                self.offsets_topic.segment_bytes =
                    v.int(LOG_SEGMENT_BYTES_MIN as i64, SEGMENT_BYTES_MAX as i64)? as u64
            }
            "transaction.state.log.num.partitions" => {
                self.txn_state_topic.partitions =
                    v.int(1, crate::limits::TOPIC_PARTITIONS_MAX as i64)? as u32
            }
            "transaction.state.log.replication.factor" => {
                self.txn_state_topic.replication_factor = v.int(1, i16::MAX as i64)? as u16
            }
            "transaction.state.log.min.isr" => {
                self.txn_state_topic.min_isr = v.int(1, i32::MAX as i64)? as u32
            }
            // As offsets.topic.segment.bytes: the topic's floor is checked in [`Self::validate`].
            "transaction.state.log.segment.bytes" => {
                self.txn_state_topic.segment_bytes =
                    v.int(LOG_SEGMENT_BYTES_MIN as i64, SEGMENT_BYTES_MAX as i64)? as u64
            }
            "transaction.max.timeout.ms" => {
                self.txn.max_timeout_ms = v.int(1, i32::MAX as i64)? as i32
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.txn.abort_scan_interval_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "transaction.partition.verification.enable" => {
                self.transaction_partition_verification = v.bool()?
            }
            "transactional.id.expiration.ms" => {
                self.txn.id_expiration_ms = v.int(1, i32::MAX as i64)?
            }
            "transaction.remove.expired.transaction.cleanup.interval.ms" => {
                self.txn.id_expiration_scan_interval_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "offsets.retention.minutes" => {
                self.groups.offsets_retention_ms = v.int(1, i32::MAX as i64)? * 60_000
            }
            "offsets.retention.check.interval.ms" => {
                self.groups.offsets_retention_check_interval_ms = v.int(1, i64::MAX)? as u64
            }
            "offsets.commit.timeout.ms" => {
                self.groups.offsets_commit_timeout_ms = v.int(1, i32::MAX as i64)? as i32
            }
            "offset.metadata.max.bytes" => {
                self.groups.offset_metadata_max_bytes = v.int(0, i32::MAX as i64)? as usize
            }
            "group.min.session.timeout.ms" => {
                self.groups.min_session_timeout_ms = v.int(0, i32::MAX as i64)? as i32
            }
            "group.max.session.timeout.ms" => {
                self.groups.max_session_timeout_ms = v.int(0, i32::MAX as i64)? as i32
            }
            "group.initial.rebalance.delay.ms" => {
                self.groups.initial_rebalance_delay_ms = v.int(0, i32::MAX as i64)? as i32
            }
            "group.max.size" => self.groups.max_size = v.int(1, i32::MAX as i64)? as i32,
            "group.consumer.session.timeout.ms" => {
                self.groups.consumer.session_timeout_ms = v.int(1, i32::MAX as i64)? as u64
            }
            "group.consumer.heartbeat.interval.ms" => {
                self.groups.consumer.heartbeat_interval_ms = v.int(1, i32::MAX as i64)? as i32
            }
            "group.consumer.max.size" => {
                self.groups.consumer.max_size =
                    v.int(1, crate::limits::CONSUMER_GROUP_MEMBERS_MAX as i64)? as usize
            }
            "group.consumer.assignors" => {
                self.groups.consumer.assignors = crate::group::assign::ServerAssignor::parse_list(
                    &v.text()?,
                )
                .map_err(|problem| ConfigError::BadValue {
                    key: key.into(),
                    problem,
                })?
            }
            "authorizer.class.name" => {
                self.authorizer_enabled = match v.text()?.trim() {
                    "" => false,
                    STANDARD_AUTHORIZER => true,
                    other => {
                        return Err(ConfigError::BadValue {
                            key: key.into(),
                            problem: format!(
                                "'{other}' is not served: Rill's authorizer is Kafka's \
                                 {STANDARD_AUTHORIZER} (ACLs in the metadata log); leave it \
                                 empty for none"
                            ),
                        })
                    }
                }
            }
            "super.users" => {
                self.authorizer.super_users =
                    crate::security::acl::AuthorizerSettings::parse_super_users(&v.text()?)
                        .map_err(|problem| ConfigError::BadValue {
                            key: key.into(),
                            problem,
                        })?
            }
            "allow.everyone.if.no.acl.found" => {
                self.authorizer.allow_everyone_if_no_acl_found = v.bool()?
            }
            k if security::is_security_key(k) => {
                let text = v.text()?;
                (self.security.set(k, &text)).map_err(|(key, problem)| match problem.as_str() {
                    "unknown config key" => ConfigError::UnknownKey(key),
                    _ => ConfigError::BadValue { key, problem },
                })?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String| {
            Err(ConfigError::BadValue {
                key: key.into(),
                problem,
            })
        };
        if self.listeners.is_empty() {
            return bad("listeners", "at least one listener is needed".into());
        }
        let segment_min = crate::controller::topic_config::segment_bytes_min(&self.log);
        let internal_segments = [
            (
                "offsets.topic.segment.bytes",
                self.offsets_topic.segment_bytes,
            ),
            (
                "transaction.state.log.segment.bytes",
                self.txn_state_topic.segment_bytes,
            ),
        ];
        for (key, segment_bytes) in internal_segments {
            if segment_bytes < segment_min {
                return bad(
                    key,
                    format!(
                        "{segment_bytes} is below {segment_min}, the smallest segment.bytes a \
                         topic may have (1 MiB, or log.segment.bytes if smaller)"
                    ),
                );
            }
        }
        // Refuse unmapped names, and TLS/SASL on a controller listener, before anything binds.
        // A controller listener speaks Rill's inter-node protocol, plain (unmapped means
        // PLAINTEXT).
        let map = &self.listener_security_protocol_map;
        let clients = listeners::ListenerRole::Clients;
        if let Err(problem) = listeners::check_served(&self.client_listeners(), map, clients) {
            return bad("listeners", problem);
        }
        let controller: Vec<Listener> = self
            .listeners
            .iter()
            .filter(|l| self.controller.is_controller_listener(l))
            .filter(|l| map.contains_key(&l.name))
            .cloned()
            .collect();
        let role = listeners::ListenerRole::Controller;
        if let Err(problem) = listeners::check_served(&controller, map, role) {
            return bad("listeners", problem);
        }
        // A per-listener security key for no client listener (a typo): refused, since the
        // setting it meant would silently not apply.
        if let Some(key) = self.security.stray_listener_key(&self.client_listeners()) {
            return bad(&key, "no client listener has this name (listeners)".into());
        }
        // Each client listener's TLS and SASL settings, PEM files read: a mistake stops the
        // start here, naming its key, not at the first client's handshake.
        for listener in self.client_listeners() {
            if let Err((key, problem)) = self.listener_security(&listener) {
                return bad(&key, problem);
            }
        }
        if let Some(advertised) = &self.advertised_listeners {
            if self.controller.roles == quorum::ProcessRoles::Controller {
                return bad(
                    "advertised.listeners",
                    "a controller-only node (process.roles=controller) advertises nothing: \
                     Kafka clients never reach it"
                        .into(),
                );
            }
            if let Err(problem) = listeners::check_served(advertised, map, clients) {
                return bad("advertised.listeners", problem);
            }
            // Kafka's rule: each advertised listener is one of `listeners` (by name), so it
            // has that listener's security protocol and settings.
            let bound = |a: &&Listener| self.listeners.iter().any(|l| l.name == a.name);
            if let Some(stray) = advertised.iter().find(|a| !bound(a)) {
                return bad(
                    "advertised.listeners",
                    format!(
                        "listener '{stray}' is not one of the listeners: advertised.listeners \
                         names a subset of the names in listeners"
                    ),
                );
            }
        }
        // Kafka's rule: clients cannot connect to a wildcard, so advertised.listeners never
        // names one. (Listeners on one with advertised.listeners unset stay accepted as
        // before: an empty host means the same wildcard, and Kafka accepts that.)
        let wildcard = |l: &Listener| {
            (l.host.trim_start_matches('[').trim_end_matches(']'))
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified())
        };
        let advertised = self.advertised_listeners.iter().flatten();
        if let Some(l) = advertised.into_iter().find(|l| wildcard(l)) {
            return bad(
                "advertised.listeners",
                format!(
                    "'{}' advertises the nonroutable meta-address {}: clients cannot connect \
                     there; use a routable IP address",
                    l.name, l.host
                ),
            );
        }
        for l in &self.listeners {
            if l.socket_addr().is_none() {
                return bad(
                    "listeners",
                    format!(
                        "'{}:{}' is not an IP address and port to bind",
                        l.host, l.port
                    ),
                );
            }
        }
        let (heartbeat_ms, session_ms) = (
            self.controller.broker_heartbeat_interval_ms,
            self.controller.broker_session_timeout_ms,
        );
        if heartbeat_ms >= session_ms {
            return bad(
                "broker.heartbeat.interval.ms",
                format!(
                    "{heartbeat_ms} is not below broker.session.timeout.ms ({session_ms}): \
                     every broker would be fenced between two heartbeats"
                ),
            );
        }
        if self.controller.roles != quorum::ProcessRoles::Controller {
            if let Err((key, problem)) = self.check_inter_broker_listener() {
                return bad(key, problem);
            }
        }
        let controller_listen = match quorum::check(&self.controller, self.node_id, &self.listeners)
        {
            Ok(addr) => addr,
            Err((key, problem)) => return bad(key, problem),
        };
        // Every listener binds its own port (as Kafka requires), the voters' one included.
        let mut bound: Vec<std::net::SocketAddr> = self
            .listeners
            .iter()
            .filter_map(Listener::socket_addr)
            .collect();
        if !self
            .listeners
            .iter()
            .any(|l| self.controller.is_controller_listener(l))
        {
            bound.push(controller_listen);
        }
        for (i, a) in bound.iter().enumerate() {
            let clash = bound[i + 1..].iter().find(|b| {
                a.port() != 0
                    && a.port() == b.port()
                    && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
            });
            if let Some(b) = clash {
                return bad(
                    "listeners",
                    format!("{a} and {b} are one port: each listener (and this node's voter address) needs its own"),
                );
            }
        }
        if let Some(advertised) = &self.advertised_listeners {
            if let Some(l) = advertised
                .iter()
                .find(|l| self.controller.is_controller_listener(l))
            {
                return bad(
                    "advertised.listeners",
                    format!("{l} is a controller listener: clients are never sent there"),
                );
            }
        }
        if self.log.batch_bytes_max > self.socket_request_max_bytes {
            return bad(
                "message.max.bytes",
                format!(
                    "{} is larger than socket.request.max.bytes ({})",
                    self.log.batch_bytes_max, self.socket_request_max_bytes
                ),
            );
        }
        if let Some(bytes) = self.queued_max_request_bytes {
            if bytes != -1 && (bytes as u64) < self.socket_request_max_bytes as u64 {
                return bad(
                    "queued.max.request.bytes",
                    format!(
                        "{bytes} is smaller than socket.request.max.bytes ({}): a request of \
                         that size could never be read",
                        self.socket_request_max_bytes
                    ),
                );
            }
        }
        if let Err(e) = self.log.validate() {
            return bad("log.*", e.to_string());
        }
        let (min_session, max_session) = (
            self.groups.min_session_timeout_ms,
            self.groups.max_session_timeout_ms,
        );
        if min_session > max_session {
            return bad(
                "group.min.session.timeout.ms",
                format!(
                    "{min_session} is larger than group.max.session.timeout.ms ({max_session}): \
                     no session timeout could be accepted"
                ),
            );
        }
        Ok(())
    }

    /// The listener brokers reach each other on (Kafka's `inter.broker.listener.name`, else
    /// the first listener speaking `security.inter.broker.protocol`, PLAINTEXT by default).
    /// Validated at load for a node that runs a broker. Rill's brokers exchange nothing over
    /// Kafka's protocol yet (the inter-node listener carries the quorum and, later,
    /// replication); the setting is kept so Kafka configurations load and mean the same.
    pub fn inter_broker_listener(&self) -> Option<Listener> {
        let clients = self.client_listeners();
        match &self.inter_broker_listener_name {
            Some(name) => clients.into_iter().find(|l| &l.name == name),
            None => {
                let protocol =
                    (self.security_inter_broker_protocol).unwrap_or(SecurityProtocol::Plaintext);
                (clients.into_iter()).find(|l| self.security_protocol(l) == Some(protocol))
            }
        }
    }

    /// Kafka's rules for the inter-broker listener: named or chosen by protocol, not both; a
    /// named one is a (non-controller) listener of this node; a protocol is one a listener
    /// speaks.
    fn check_inter_broker_listener(&self) -> Result<(), (&'static str, String)> {
        const NAME: &str = "inter.broker.listener.name";
        match (
            &self.inter_broker_listener_name,
            self.security_inter_broker_protocol,
        ) {
            (Some(_), Some(_)) => Err((
                NAME,
                "set inter.broker.listener.name or security.inter.broker.protocol, not both"
                    .to_owned(),
            )),
            (Some(name), None) if self.inter_broker_listener().is_none() => {
                let controller = (self.listeners.iter())
                    .any(|l| &l.name == name && self.controller.is_controller_listener(l));
                Err((
                    NAME,
                    if controller {
                        format!("'{name}' is a controller listener (controller.listener.names): brokers reach each other on a broker listener")
                    } else {
                        format!("'{name}' is not one of the listeners")
                    },
                ))
            }
            (None, Some(protocol)) if self.inter_broker_listener().is_none() => Err((
                "security.inter.broker.protocol",
                format!(
                    "no listener speaks {} (listener.security.protocol.map)",
                    protocol.name()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The security protocol `listener.security.protocol.map` gives a listener (every listener
    /// of a validated config has one).
    pub fn security_protocol(&self, listener: &Listener) -> Option<SecurityProtocol> {
        self.listener_security_protocol_map
            .get(&listener.name)
            .copied()
    }

    /// What a client listener needs to serve its security protocol: TLS settings with the PEM
    /// files read, SASL mechanisms and PLAIN's users (checked by `validate`).
    pub fn listener_security(
        &self,
        listener: &Listener,
    ) -> Result<security::ListenerSecurity, security::KeyProblem> {
        let protocol = self.security_protocol(listener).ok_or_else(|| {
            let problem = format!("listener {} has no security protocol", listener.name);
            ("listener.security.protocol.map".to_string(), problem)
        })?;
        self.security.for_listener(listener, protocol)
    }

    /// `queued.max.request.bytes` in effect: `None` = unbounded.
    pub fn queued_request_bytes(&self) -> Option<usize> {
        match self.queued_max_request_bytes {
            Some(-1) => None,
            Some(bytes) => Some(usize::try_from(bytes).unwrap_or(usize::MAX)),
            None => {
                Some(crate::limits::QUEUED_REQUEST_BYTES_DEFAULT.max(self.socket_request_max_bytes))
            }
        }
    }

    /// The broker-wide flush policy in words, with what it means for `acks=all` (start-up log).
    pub fn flush_summary(&self) -> String {
        match self.log.flush {
            FlushPolicy::EveryAppend => {
                "always (log.flush.policy: acks=all is answered after the fsync)".into()
            }
            FlushPolicy::IntervalMs(ms) => format!(
                "every {ms} ms (log.flush.interval.ms: acks=all is answered before the fsync)"
            ),
            FlushPolicy::Os => {
                "os (log.flush.policy: the OS decides; acks=all is answered before any fsync)"
                    .into()
            }
        }
    }

    /// The listeners Metadata advertises: `advertised.listeners`, else the client listeners.
    pub fn advertised(&self) -> Vec<Listener> {
        match &self.advertised_listeners {
            Some(advertised) => advertised.clone(),
            None => self.client_listeners(),
        }
    }

    /// The listeners that serve Kafka clients (every one but the controller listener).
    pub fn client_listeners(&self) -> Vec<Listener> {
        self.listeners
            .iter()
            .filter(|l| !self.controller.is_controller_listener(l))
            .cloned()
            .collect()
    }

    /// Where this node listens for the other voters of the controller quorum (a validated
    /// config has one; port 0 when the node is a quorum of one without a controller listener).
    pub fn controller_listen(&self) -> std::net::SocketAddr {
        quorum::check(&self.controller, self.node_id, &self.listeners)
            .expect("validated by ServerConfig")
    }
}

/// `a = { b = { c = 1 } }` → `a.b.c = 1`.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, Raw>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            other => {
                out.insert(key, Raw::Toml(other.clone()));
            }
        }
    }
}

/// A value being typed, with its key for error messages.
struct Value<'a> {
    key: &'a str,
    raw: Raw,
}

impl Value<'_> {
    fn bad(&self, problem: impl Into<String>) -> ConfigError {
        ConfigError::BadValue {
            key: self.key.to_string(),
            problem: problem.into(),
        }
    }

    fn text(&self) -> Result<String, ConfigError> {
        match &self.raw {
            Raw::Text(s) | Raw::Toml(toml::Value::String(s)) => Ok(s.clone()),
            Raw::Toml(other) => Err(self.bad(format!("expected a string, found {other}"))),
        }
    }

    fn int(&self, min: i64, max: i64) -> Result<i64, ConfigError> {
        let n = match &self.raw {
            Raw::Toml(toml::Value::Integer(n)) => *n,
            Raw::Text(s) | Raw::Toml(toml::Value::String(s)) => s
                .parse()
                .map_err(|_| self.bad(format!("'{s}' is not a whole number")))?,
            Raw::Toml(other) => {
                return Err(self.bad(format!("expected a whole number, found {other}")))
            }
        };
        if n < min || n > max {
            return Err(self.bad(format!("{n} is out of range {min}..={max}")));
        }
        Ok(n)
    }

    fn bool(&self) -> Result<bool, ConfigError> {
        match &self.raw {
            Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
            Raw::Toml(other) if !other.is_str() => {
                Err(self.bad(format!("{other} is not true or false")))
            }
            // Kafka reads text booleans case-insensitively (`TRUE` in a properties file).
            _ => match self.text()?.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.bad(format!("'{}' is not true or false", self.text()?))),
            },
        }
    }

    /// `-1` keeps forever; otherwise `unit_ms` per unit.
    fn retention(&self, unit_ms: i64) -> Result<Option<i64>, ConfigError> {
        let n = self.int(-1, i64::MAX / unit_ms)?;
        Ok((n >= 0).then_some(n * unit_ms))
    }

    fn log_dir(&self) -> Result<PathBuf, ConfigError> {
        let text = self.text()?;
        let dirs: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        match dirs.as_slice() {
            [one] => Ok(PathBuf::from(one)),
            [] => Err(self.bad("no directory given")),
            _ => Err(self.bad("only one log directory is supported for now")),
        }
    }

    fn listeners(&self) -> Result<Vec<Listener>, ConfigError> {
        self.text()?
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                listeners::parse_listener(l)
                    .map_err(|problem| self.bad(format!("'{l}': {problem}")))
            })
            .collect()
    }

    fn protocol_map(&self) -> Result<listeners::ProtocolMap, ConfigError> {
        listeners::parse_protocol_map(&self.text()?).map_err(|problem| self.bad(problem))
    }

    /// `127.0.0.1:100,::1:50`: the count after the last `:` of each entry.
    fn per_ip_overrides(&self) -> Result<BTreeMap<IpAddr, u64>, ConfigError> {
        let mut overrides = BTreeMap::new();
        for entry in self
            .text()?
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (address, count) = entry
                .rsplit_once(':')
                .ok_or_else(|| self.bad(format!("'{entry}' is not address:count")))?;
            let address: IpAddr = address.trim().parse().map_err(|_| {
                self.bad(format!(
                    "'{address}' is not an IP address (host names are not resolved)"
                ))
            })?;
            let count: u64 = count
                .trim()
                .parse()
                .ok()
                .filter(|n| *n <= i32::MAX as u64)
                .ok_or_else(|| self.bad(format!("'{count}' is not a connection count")))?;
            overrides.insert(address, count);
        }
        Ok(overrides)
    }

    fn flush_policy(&self) -> Result<FlushPolicy, ConfigError> {
        match self.text()?.as_str() {
            "always" | "every-append" => Ok(FlushPolicy::EveryAppend),
            "os" | "never" => Ok(FlushPolicy::Os),
            other => Err(self.bad(format!(
                "'{other}' is not one of always, os (or set log.flush.interval.ms)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_need_their_own_ports_and_the_controller_one_is_never_advertised() {
        let load = |extra: &[&str]| {
            let overrides: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            ServerConfig::load(None, &overrides)
        };
        let key = |result: Result<ServerConfig, ConfigError>| match result {
            Err(ConfigError::BadValue { key, .. }) => key,
            other => panic!("not refused: {other:?}"),
        };
        let both = "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093";
        let config = load(&[both]).unwrap();
        assert_eq!(config.controller_listen().port(), 9093);
        assert_eq!(config.advertised().len(), 1, "only the client listener");
        assert_eq!(config.advertised()[0].name, "PLAINTEXT");
        let same = "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://0.0.0.0:9092";
        assert_eq!(key(load(&[same])), "listeners");
        // Without a controller listener the voter address is bound: not a client's port.
        let voter_on_client_port = [
            "listeners=PLAINTEXT://127.0.0.1:9092",
            "controller.quorum.voters=1@127.0.0.1:9092",
        ];
        assert_eq!(key(load(&voter_on_client_port)), "listeners");
        let advertised = [
            both,
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "advertised.listeners=PLAINTEXT://10.0.0.5:9092,CONTROLLER://10.0.0.5:9093",
        ];
        assert_eq!(key(load(&advertised)), "advertised.listeners");
        // advertised.listeners never names a wildcard (Kafka refuses it too); listeners may.
        load(&["listeners=PLAINTEXT://0.0.0.0:9092"]).unwrap();
        load(&["listeners=PLAINTEXT://:9092"]).unwrap();
        let everywhere = load(&[
            "listeners=PLAINTEXT://0.0.0.0:9092",
            "advertised.listeners=PLAINTEXT://127.0.0.1:9092",
        ])
        .unwrap();
        assert_eq!(everywhere.advertised()[0].host, "127.0.0.1");
        assert_eq!(
            key(load(&[
                "listeners=PLAINTEXT://127.0.0.1:9092",
                "advertised.listeners=PLAINTEXT://0.0.0.0:9092",
            ])),
            "advertised.listeners"
        );
        assert_eq!(
            key(load(&[
                "listeners=PLAINTEXT://127.0.0.1:9092",
                "advertised.listeners=PLAINTEXT://[::]:9092",
            ])),
            "advertised.listeners"
        );
        // IPv6 listeners bind too.
        let v6 = load(&["listeners=PLAINTEXT://[::1]:9092"]).unwrap();
        assert_eq!(
            v6.listeners[0].socket_addr(),
            Some("[::1]:9092".parse().unwrap())
        );
    }

    #[test]
    fn per_ip_connection_overrides_take_ip_addresses() {
        let config = ServerConfig::load(
            None,
            &[
                "max.connections.per.ip=5".into(),
                "max.connections.per.ip.overrides=127.0.0.3:100, ::1:0".into(),
            ],
        )
        .unwrap();
        assert_eq!(config.max_connections_per_ip, 5);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            config.max_connections_per_ip_overrides,
            BTreeMap::from([(ip("127.0.0.3"), 100), (ip("::1"), 0)])
        );
        for bad in ["localhost:5", "127.0.0.1", "127.0.0.1:-1"] {
            let error =
                ServerConfig::load(None, &[format!("max.connections.per.ip.overrides={bad}")])
                    .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("max.connections.per.ip.overrides"),
                "{error}"
            );
        }
    }

    #[test]
    fn no_file_no_flags_is_the_embedded_default() {
        let config = ServerConfig::load(None, &[]).unwrap();
        assert_eq!(config, ServerConfig::default());
        assert_eq!(
            config.listeners[0].socket_addr(),
            Some("127.0.0.1:9092".parse().unwrap())
        );
        assert_eq!(
            config.log.flush,
            FlushPolicy::EveryAppend,
            "durable by default"
        );
    }

    #[test]
    fn dotted_keys_work_quoted_and_nested_and_flags_override_the_file() {
        let file = r#"
            "node.id" = 3
            listeners = "PLAINTEXT://127.0.0.1:19092"
            log.dirs = "/tmp/rill-x"
            log.retention.hours = 24
            log.segment.bytes = 1048576
            auto.create.topics.enable = false
        "#;
        let config = ServerConfig::load(
            Some((FileFormat::Toml, file)),
            &["node.id=7".into(), "log.retention.ms=5000".into()],
        )
        .unwrap();
        assert_eq!(config.node_id, 7);
        assert_eq!(config.listeners[0].port, 19092);
        assert_eq!(config.log_dir, PathBuf::from("/tmp/rill-x"));
        assert_eq!(config.log.retention_ms, Some(5000), "ms wins over hours");
        assert_eq!(config.log.segment_bytes, 1 << 20);
        assert!(!config.auto_create_topics);
    }

    #[test]
    fn fetch_max_bytes_defaults_to_kafkas_55_mib_and_can_be_set() {
        assert_eq!(ServerConfig::default().fetch_max_bytes, 55 * 1024 * 1024);
        let config = ServerConfig::load(None, &["fetch.max.bytes=1024".into()]).unwrap();
        assert_eq!(config.fetch_max_bytes, 1024);
    }

    /// The broker-level defaults of two topic configs reach both the partitions (through the
    /// log config topics start from) and the controller's elections.
    #[test]
    fn min_insync_replicas_and_unclean_elections_are_broker_level_defaults_too() {
        let kafka = ServerConfig::default().quorum_settings().topic_defaults;
        assert_eq!(
            (kafka.min_insync_replicas, kafka.unclean_leader_election),
            (1, false)
        );
        let overrides = [
            "min.insync.replicas=2".to_string(),
            "unclean.leader.election.enable=true".to_string(),
        ];
        let config = ServerConfig::load(None, &overrides).unwrap();
        assert_eq!(config.log.min_insync_replicas, 2);
        let set = config.quorum_settings().topic_defaults;
        assert_eq!(
            (set.min_insync_replicas, set.unclean_leader_election),
            (2, true)
        );
        let error = ServerConfig::load(None, &["min.insync.replicas=0".into()]).unwrap_err();
        assert!(error.to_string().contains("min.insync.replicas"), "{error}");
    }

    #[test]
    fn a_consumer_group_s_members_are_bounded_by_default_and_at_most() {
        let max = crate::limits::CONSUMER_GROUP_MEMBERS_MAX;
        assert_eq!(ServerConfig::default().groups.consumer.max_size, max);
        let set = |n: usize| ServerConfig::load(None, &[format!("group.consumer.max.size={n}")]);
        assert_eq!(set(5).unwrap().groups.consumer.max_size, 5);
        assert_eq!(set(max).unwrap().groups.consumer.max_size, max);
        let error = set(max + 1).unwrap_err().to_string();
        assert!(error.contains("group.consumer.max.size"), "{error}");
    }

    /// `transaction.state.log.*` and the transaction coordinator's keys: Kafka's names and
    /// defaults, a set value taken, an out-of-range one refused naming the key.
    #[test]
    fn the_transaction_coordinator_s_keys_default_to_kafka_s_and_are_checked() {
        let defaults = ServerConfig::default();
        assert_eq!(
            defaults.txn_state_topic,
            TxnStateTopicConfig {
                partitions: 50,
                replication_factor: 3,
                min_isr: 2,
                segment_bytes: 104_857_600,
            }
        );
        assert_eq!(defaults.txn_settings(), TxnSettings::default());
        let kafka = TxnSettings::default();
        assert_eq!(
            (
                kafka.max_timeout_ms,
                kafka.abort_scan_interval_ms,
                kafka.id_expiration_ms,
                kafka.id_expiration_scan_interval_ms,
            ),
            (900_000, 10_000, 604_800_000, 3_600_000)
        );
        assert_eq!(ServerConfig::load(None, &[]).unwrap(), defaults);

        let file = "transaction.state.log.num.partitions=4\n\
                    transaction.state.log.replication.factor=1\n\
                    transaction.state.log.min.isr=1\n\
                    transaction.state.log.segment.bytes=2097152\n\
                    transaction.max.timeout.ms=60000\n\
                    transaction.abort.timed.out.transaction.cleanup.interval.ms=500\n\
                    transactional.id.expiration.ms=3600000\n\
                    transaction.remove.expired.transaction.cleanup.interval.ms=1000\n\
                    transaction.partition.verification.enable=false\n";
        let config = ServerConfig::load(Some((FileFormat::Properties, file)), &[]).unwrap();
        assert!(!config.transaction_partition_verification);
        assert!(ServerConfig::default().transaction_partition_verification);
        assert_eq!(
            config.txn_state_topic,
            TxnStateTopicConfig {
                partitions: 4,
                replication_factor: 1,
                min_isr: 1,
                segment_bytes: 2 << 20,
            }
        );
        assert_eq!(
            config.txn_settings(),
            TxnSettings {
                max_timeout_ms: 60_000,
                abort_scan_interval_ms: 500,
                id_expiration_ms: 3_600_000,
                id_expiration_scan_interval_ms: 1_000,
                ..TxnSettings::default()
            }
        );

        for (setting, message) in [
            (
                "transaction.state.log.num.partitions=0",
                "config key 'transaction.state.log.num.partitions': 0 is out of range",
            ),
            (
                "transaction.state.log.num.partitions=10001",
                "config key 'transaction.state.log.num.partitions': 10001 is out of range",
            ),
            (
                "transaction.state.log.replication.factor=0",
                "config key 'transaction.state.log.replication.factor': 0 is out of range",
            ),
            (
                "transaction.state.log.min.isr=0",
                "config key 'transaction.state.log.min.isr': 0 is out of range",
            ),
            (
                "transaction.state.log.segment.bytes=1024",
                "config key 'transaction.state.log.segment.bytes': 1024 is below 1048576, \
                 the smallest segment.bytes",
            ),
            (
                "transaction.state.log.segment.bytes=1",
                "config key 'transaction.state.log.segment.bytes': 1 is out of range",
            ),
            (
                "transaction.max.timeout.ms=0",
                "config key 'transaction.max.timeout.ms': 0 is out of range",
            ),
            (
                "transaction.max.timeout.ms=2147483648",
                "config key 'transaction.max.timeout.ms': 2147483648 is out of range",
            ),
            (
                "transaction.abort.timed.out.transaction.cleanup.interval.ms=0",
                "config key 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 0 \
                 is out of range",
            ),
            (
                "transactional.id.expiration.ms=0",
                "config key 'transactional.id.expiration.ms': 0 is out of range",
            ),
            (
                "transactional.id.expiration.ms=2147483648",
                "config key 'transactional.id.expiration.ms': 2147483648 is out of range",
            ),
            (
                "transaction.remove.expired.transaction.cleanup.interval.ms=-1",
                "config key 'transaction.remove.expired.transaction.cleanup.interval.ms': -1 \
                 is out of range",
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
                "transaction.state.log.segment.bytes=2048".into(),
            ],
        )
        .unwrap();
        assert_eq!(small.txn_state_topic.segment_bytes, 2048);
    }

    #[test]
    fn broker_sessions_default_to_kafka_s_and_a_heartbeat_must_come_within_one() {
        let config = ServerConfig::default();
        let (session, heartbeat) = (
            config.controller.broker_session_timeout_ms,
            config.controller.broker_heartbeat_interval_ms,
        );
        assert_eq!((session, heartbeat), (9_000, 2_000));
        let set = |s: &str, h: &str| {
            let overrides = [
                format!("broker.session.timeout.ms={s}"),
                format!("broker.heartbeat.interval.ms={h}"),
            ];
            ServerConfig::load(None, &overrides)
        };
        let short = set("3000", "500").unwrap();
        assert_eq!(short.quorum_settings().broker_session_timeout_ms, 3_000);
        assert_eq!(short.lifecycle_settings().heartbeat_interval_ms, 500);
        let error = set("1000", "1000").unwrap_err().to_string();
        assert!(error.contains("broker.heartbeat.interval.ms"), "{error}");
        assert!(set("0", "1").is_err());
    }

    #[test]
    fn retention_minus_one_keeps_forever() {
        let config = ServerConfig::load(None, &["log.retention.hours=-1".into()]).unwrap();
        assert_eq!(config.log.retention_ms, None);
    }

    #[test]
    fn errors_name_the_key_and_the_problem() {
        let err = |file: &str| {
            ServerConfig::load(Some((FileFormat::Toml, file)), &[])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("log.retention.hourz = 1"),
            "unknown config key 'log.retention.hourz'"
        );
        assert!(err("num.partitions = 0").contains("'num.partitions': 0 is out of range"));
        assert!(err("num.partitions = \"three\"").contains("'three' is not a whole number"));
        assert!(err("listeners = \"127.0.0.1:9092\"").contains("expected NAME://host:port"));
        assert!(err("listeners = \"PLAINTEXT://localhost:x\"").contains("'x' is not a port number"));
        assert!(err("listeners = \"PLAINTEXT://myhost:9092\"").contains("not an IP address"));
        assert!(err("auto.create.topics.enable = 1").contains("not true or false"));
        assert!(err("listeners = \"SSL://127.0.0.1:19097\"").starts_with(
            "config key 'ssl.keystore.location': listener SSL speaks TLS but has no keystore"
        ));
        assert!(err("advertised.listeners = \"SASL_SSL://10.0.0.1:9092\"")
            .starts_with("config key 'advertised.listeners': listener 'SASL_SSL://10.0.0.1:9092'"));
        assert!(err("listeners = \"INTERNAL://127.0.0.1:9092\"")
            .contains("add INTERNAL:PLAINTEXT to listener.security.protocol.map"));
        assert!(err("\"listener.security.protocol.map\" = \"INTERNAL:TLS\"")
            .starts_with("config key 'listener.security.protocol.map': 'TLS' is not"));
        assert!(
            err("message.max.bytes = 2000000\nsocket.request.max.bytes = 1048576")
                .contains("larger than socket.request.max.bytes")
        );
        assert!(err("\"fetch.max.bytes\" = -1").contains("'fetch.max.bytes': -1 is out of range"));
        assert!(err("node.id = [").starts_with("config file:"));
        let flag = ServerConfig::load(None, &["node.id".into()])
            .unwrap_err()
            .to_string();
        assert!(flag.contains("key=value"));
    }

    #[test]
    fn the_format_follows_the_file_name() {
        assert_eq!(
            FileFormat::of(Path::new("config/server.properties")),
            FileFormat::Properties
        );
        assert_eq!(FileFormat::of(Path::new("rill.toml")), FileFormat::Toml);
        assert_eq!(FileFormat::of(Path::new("properties")), FileFormat::Toml);
    }

    #[test]
    fn a_properties_file_sets_the_same_keys_as_toml() {
        let file = "# Kafka's server.properties style\n\
                    node.id=3\n\
                    listeners = PLAINTEXT://127.0.0.1:19092\n\
                    log.dirs: /tmp/rill-x\n\
                    log.retention.hours 24\n\
                    log.segment.bytes=1048576   \n\
                    auto.create.topics.enable=FALSE\n\
                    log.flush.policy=os\n\
                    num.partitions=2\n\
                    num.partitions=4\n";
        let props = ServerConfig::load(
            Some((FileFormat::Properties, file)),
            &["log.retention.ms=5000".into()],
        )
        .unwrap();
        let toml = ServerConfig::load(
            Some((
                FileFormat::Toml,
                r#"
                "node.id" = 3
                listeners = "PLAINTEXT://127.0.0.1:19092"
                log.dirs = "/tmp/rill-x"
                log.retention.hours = 24
                log.segment.bytes = 1048576
                auto.create.topics.enable = false
                log.flush.policy = "os"
                num.partitions = 4
                "#,
            )),
            &["log.retention.ms=5000".into()],
        )
        .unwrap();
        assert_eq!(props, toml);
        assert_eq!(props.node_id, 3);
        assert_eq!(props.num_partitions, 4, "the last line for a key wins");
        assert_eq!(props.log.segment_bytes, 1 << 20, "trailing blanks trimmed");
        assert_eq!(props.log.retention_ms, Some(5000), "overrides still win");
        assert!(!props.auto_create_topics);
        assert_eq!(props.log.flush, FlushPolicy::Os);
    }

    #[test]
    fn properties_errors_name_the_key_like_toml_ones() {
        let err = |file: &str| {
            ServerConfig::load(Some((FileFormat::Properties, file)), &[])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("log.retention.hourz=1"),
            "unknown config key 'log.retention.hourz'"
        );
        assert_eq!(
            err("num.partitions=three"),
            "config key 'num.partitions': 'three' is not a whole number"
        );
        assert!(err("num.partitions=0").contains("'num.partitions': 0 is out of range"));
        assert!(err("node.id").contains("'node.id': '' is not a whole number"));
        assert!(err("auto.create.topics.enable=yes").contains("'yes' is not true or false"));
        assert!(err("listeners=PLAINTEXT://localhost:x").contains("'x' is not a port number"));
        assert_eq!(
            err("node.id=\\u12"),
            "config file: line 1: malformed \\uXXXX escape '\\u12'"
        );
    }

    #[test]
    fn a_mapped_custom_listener_name_is_served_as_its_protocol() {
        let config = ServerConfig::load(
            Some((
                FileFormat::Properties,
                "listeners=INTERNAL://127.0.0.1:9093\n\
                 advertised.listeners=INTERNAL://10.0.0.5:9093\n\
                 listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SSL\n",
            )),
            &[],
        )
        .unwrap();
        assert_eq!(config.listeners[0].name, "INTERNAL");
        assert_eq!(
            config.security_protocol(&config.listeners[0]),
            Some(SecurityProtocol::Plaintext)
        );
        assert_eq!(config.advertised()[0].host, "10.0.0.5");
    }

    /// Kafka's inter-broker settings load and mean what they mean there: a listener named, or
    /// the first speaking a protocol (PLAINTEXT by default); not both, never a controller
    /// listener.
    #[test]
    fn the_inter_broker_listener_is_named_or_chosen_by_protocol() {
        let load = |extra: &[&str]| {
            let mut overrides = vec![
                "listeners=INTERNAL://127.0.0.1:9092,CLIENT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093".to_owned(),
                "listener.security.protocol.map=INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT".to_owned(),
            ];
            overrides.extend(extra.iter().map(|s| s.to_string()));
            ServerConfig::load(None, &overrides)
        };
        let name = |c: ServerConfig| c.inter_broker_listener().map(|l| l.name);
        assert_eq!(name(load(&[]).unwrap()).as_deref(), Some("INTERNAL"));
        let named = load(&["inter.broker.listener.name=client"]).unwrap();
        assert_eq!(name(named).as_deref(), Some("CLIENT"));
        let by_protocol = load(&["security.inter.broker.protocol=plaintext"]).unwrap();
        assert_eq!(name(by_protocol).as_deref(), Some("INTERNAL"));
        let refused = |extra: &[&str], key: &str, says: &str| match load(extra) {
            Err(ConfigError::BadValue { key: k, problem }) => {
                assert_eq!(k, key, "{extra:?}: {problem}");
                assert!(problem.contains(says), "{extra:?}: {problem}");
            }
            other => panic!("{extra:?} loaded: {other:?}"),
        };
        refused(
            &[
                "inter.broker.listener.name=CLIENT",
                "security.inter.broker.protocol=PLAINTEXT",
            ],
            "inter.broker.listener.name",
            "not both",
        );
        refused(
            &["inter.broker.listener.name=NOPE"],
            "inter.broker.listener.name",
            "not one of the listeners",
        );
        refused(
            &["inter.broker.listener.name=CONTROLLER"],
            "inter.broker.listener.name",
            "is a controller listener",
        );
        refused(
            &["security.inter.broker.protocol=SSL"],
            "security.inter.broker.protocol",
            "no listener speaks SSL",
        );
        refused(
            &["security.inter.broker.protocol=TLS"],
            "security.inter.broker.protocol",
            "not a security protocol",
        );
    }
}
