//! The gateway's view of the settings: [`ServerConfig::gateway_settings`] gives the broker
//! ([`crate::broker`]) the values it answers with, and describes this broker's own settings
//! for DescribeConfigs (BROKER resources) here, where the whole config is known.
//!
//! A broker setting is STATIC_BROKER_CONFIG when it differs from the built-in default
//! (`ServerConfig::default()`), DEFAULT_CONFIG otherwise; all are read-only.

use crate::broker::configs::{broker_log_value, broker_synonyms, config_type, ConfigEntry};
use crate::broker::settings::{BrokerAddress, GatewaySettings};
use crate::controller::admin::{AdminSettings, InternalTopicSpec};
use crate::controller::lifecycle::LifecycleSettings;
use crate::controller::metadata::TopicDefaults;
use crate::controller::quorum::{QuorumSettings, METADATA_DIR};
use crate::controller::raft::core::RaftConfig;
use crate::group::settings::GroupSettings;
use crate::txn::settings::TxnSettings;
use std::path::PathBuf;

/// How many metadata entries a voter applies between two snapshots of its image.
const SNAPSHOT_EVERY_ENTRIES: u64 = 1000;
use crate::types::NodeId;

use super::quorum::ProcessRoles;
use super::{Listener, ServerConfig};

impl ServerConfig {
    /// What the gateway reads of this config, as plain values, with the cluster id the
    /// controller quorum named.
    pub fn gateway_settings(&self, cluster_id: String) -> GatewaySettings {
        let voters = self.controller.voter_ids(self.node_id).into_iter();
        let listen = self.controller_listen();
        GatewaySettings {
            node_id: NodeId(self.node_id),
            cluster_id,
            voters: voters
                .map(|id| {
                    let addr = self.controller.voters.get(&id).copied().unwrap_or(listen);
                    let host = addr.ip().to_string();
                    (
                        NodeId(id),
                        BrokerAddress {
                            host,
                            port: addr.port(),
                        },
                    )
                })
                .collect(),
            advertised: self.advertised().first().map(|l| BrokerAddress {
                host: l.host.clone(),
                port: l.port,
            }),
            advertised_by_listener: (self.advertised().iter())
                .map(|l| {
                    let address = BrokerAddress {
                        host: l.host.clone(),
                        port: l.port,
                    };
                    (l.name.clone(), address)
                })
                .collect(),
            num_partitions: self.num_partitions,
            default_replication_factor: self.default_replication_factor,
            auto_create_topics: self.auto_create_topics,
            fetch_max_bytes: self.fetch_max_bytes,
            log: self.log.clone(),
            log_builtin: ServerConfig::default().log,
            broker_configs: describe_broker(self),
            // Kafka names a log directory by its absolute path; a relative one is taken from
            // the working directory the server started in.
            log_dir: std::path::absolute(&self.log_dir)
                .unwrap_or_else(|_| self.log_dir.clone())
                .display()
                .to_string(),
            authorizer: (self.authorizer_enabled).then(|| self.authorizer.clone()),
            quota_window: crate::types::rate_bucket::QuotaWindow::seconds(
                self.quota_window_num,
                self.quota_window_size_s,
            ),
        }
    }
}

impl ServerConfig {
    /// What topic administration (the topics actor) reads of this config.
    pub fn admin_settings(&self) -> AdminSettings {
        AdminSettings {
            node_id: NodeId(self.node_id),
            log: self.log.clone(),
            num_partitions: self.num_partitions,
            default_replication_factor: self.default_replication_factor,
            offsets_topic: self.offsets_topic_spec(),
            txn_state_topic: self.txn_state_topic_spec(),
        }
    }

    /// `__consumer_offsets` as `offsets.topic.*` describes it, compacted as in Kafka
    /// (`GroupCoordinator.groupMetadataTopicConfigs`): each key (a group, a group's commit of
    /// a partition, a KIP-848 member's state) keeps its latest record, and a tombstone goes
    /// `delete.retention.ms` after its first clean. Compact-only, so no time or size
    /// retention ever deletes the commits of a group idle for a week.
    fn offsets_topic_spec(&self) -> InternalTopicSpec {
        let topic = &self.offsets_topic;
        let (partitions, rf) = (topic.partitions, topic.replication_factor);
        compacted_spec(partitions, rf, topic.segment_bytes)
    }

    /// `__transaction_state` as `transaction.state.log.*` describes it, compacted as in Kafka
    /// (`TransactionLog`'s topic configs): each transactional id keeps its latest state, and
    /// the tombstone of an expired id goes `delete.retention.ms` after its first clean.
    /// `min.insync.replicas` is `transaction.state.log.min.isr` (capped at the replication
    /// factor the topic gets when it is created). Kafka also sets
    /// `compression.type=uncompressed`; Rill accepts only `producer` (it never recompresses,
    /// see `topic_config::compression_type`), which stores the coordinator's own uncompressed
    /// batches as they are: the same bytes.
    fn txn_state_topic_spec(&self) -> InternalTopicSpec {
        let topic = &self.txn_state_topic;
        let (partitions, rf) = (topic.partitions, topic.replication_factor);
        let mut spec = compacted_spec(partitions, rf, topic.segment_bytes);
        let min_isr = topic.min_isr.to_string();
        spec.configs
            .insert("min.insync.replicas".to_owned(), min_isr);
        spec
    }

    /// What this node's voter of the controller quorum reads of this config.
    pub fn quorum_settings(&self) -> QuorumSettings {
        let election_timeout_ms = self.controller.election_timeout_ms;
        QuorumSettings {
            node_id: NodeId(self.node_id),
            voters: self
                .controller
                .voter_ids(self.node_id)
                .into_iter()
                .map(NodeId)
                .collect(),
            raft: RaftConfig {
                election_timeout_ms,
                // A leader is heard ten times an election timeout (Kafka's fetches are as often).
                heartbeat_interval_ms: (election_timeout_ms / 10).max(1),
                max_entries_per_append: self.controller.append_max_entries.max(1),
            },
            snapshot_every_entries: SNAPSHOT_EVERY_ENTRIES,
            dir: PathBuf::from(METADATA_DIR),
            broker_session_timeout_ms: self.controller.broker_session_timeout_ms,
            feeds_topics: self.controller.roles != ProcessRoles::Controller,
            leader_balance_interval_ms: (self.controller.auto_leader_rebalance)
                .then_some(self.controller.leader_imbalance_check_interval_s * 1_000),
            topic_defaults: TopicDefaults {
                min_insync_replicas: self.log.min_insync_replicas,
                unclean_leader_election: self.log.unclean_leader_election,
            },
        }
    }

    /// What this node's broker lifecycle (its registration and heartbeats) reads of this config.
    pub fn lifecycle_settings(&self) -> LifecycleSettings {
        LifecycleSettings {
            node_id: NodeId(self.node_id),
            heartbeat_interval_ms: self.controller.broker_heartbeat_interval_ms,
        }
    }

    /// What the group coordinator reads of this config.
    pub fn group_settings(&self) -> GroupSettings {
        self.groups.clone()
    }

    /// What the transaction coordinator reads of this config.
    pub fn txn_settings(&self) -> TxnSettings {
        self.txn.clone()
    }
}

fn listeners(listeners: &[Listener]) -> String {
    listeners
        .iter()
        .map(|l| format!("{}://{}:{}", l.name, l.host, l.port))
        .collect::<Vec<_>>()
        .join(",")
}

/// This broker's settings (name, value, type, doc), in a fixed order.
fn broker_settings(config: &ServerConfig) -> Vec<(&'static str, Option<String>, i8, &'static str)> {
    use config_type::*;
    let log_key = |name: &str| {
        Some(broker_log_value(&config.log, name).expect("a broker key of the topic table"))
    };
    vec![
        (
            "broker.id",
            Some(config.node_id.to_string()),
            INT,
            "This node's id.",
        ),
        (
            "node.id",
            Some(config.node_id.to_string()),
            INT,
            "This node's id.",
        ),
        (
            "listeners",
            Some(listeners(&config.listeners)),
            STRING,
            "Where clients connect.",
        ),
        (
            "advertised.listeners",
            config.advertised_listeners.as_deref().map(listeners),
            STRING,
            "What Metadata tells clients; the listeners when unset.",
        ),
        (
            "inter.broker.listener.name",
            config.inter_broker_listener().map(|l| l.name),
            STRING,
            "The listener brokers reach each other on (Rill's brokers replicate over the \
             inter-node listener; kept for Kafka's configurations).",
        ),
        (
            "process.roles",
            Some(config.controller.roles.text().to_owned()),
            LIST,
            "The roles of this node: broker and controller, or controller only.",
        ),
        (
            "controller.quorum.voters",
            Some(
                config
                    .controller
                    .voters
                    .iter()
                    .map(|(id, addr)| format!("{id}@{addr}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            LIST,
            "The controller quorum's voters (id@host:port); empty: this node alone.",
        ),
        (
            "controller.listener.names",
            Some(config.controller.listener_names.join(",")),
            LIST,
            "The listeners the voters reach each other on (Rill's inter-node protocol).",
        ),
        (
            "controller.quorum.election.timeout.ms",
            Some(config.controller.election_timeout_ms.to_string()),
            INT,
            "How long a voter waits to hear from a leader before it runs for election.",
        ),
        (
            "broker.session.timeout.ms",
            Some(config.controller.broker_session_timeout_ms.to_string()),
            INT,
            "How long the controller waits for a broker's heartbeat before it fences the broker.",
        ),
        (
            "broker.heartbeat.interval.ms",
            Some(config.controller.broker_heartbeat_interval_ms.to_string()),
            INT,
            "How often a broker sends the controller a heartbeat.",
        ),
        (
            "auto.leader.rebalance.enable",
            Some(config.controller.auto_leader_rebalance.to_string()),
            BOOLEAN,
            "Whether the controller moves partition leaderships back to their preferred replicas.",
        ),
        (
            "leader.imbalance.check.interval.seconds",
            Some(
                config
                    .controller
                    .leader_imbalance_check_interval_s
                    .to_string(),
            ),
            LONG,
            "How often the controller looks for leaderships to move back to preferred replicas.",
        ),
        (
            "log.dirs",
            Some(config.log_dir.display().to_string()),
            STRING,
            "Where partition logs live.",
        ),
        (
            "num.partitions",
            Some(config.num_partitions.to_string()),
            INT,
            "Partitions of an auto-created topic.",
        ),
        (
            "default.replication.factor",
            Some(config.default_replication_factor.to_string()),
            INT,
            "Replication factor of an auto-created topic.",
        ),
        (
            "auto.create.topics.enable",
            Some(config.auto_create_topics.to_string()),
            BOOLEAN,
            "Whether Metadata for an unknown topic creates it.",
        ),
        (
            "log.retention.ms",
            log_key("log.retention.ms"),
            LONG,
            "Default retention.ms.",
        ),
        (
            "min.insync.replicas",
            log_key("min.insync.replicas"),
            INT,
            "Default min.insync.replicas (the controller's for elections and eligible replicas).",
        ),
        (
            "unclean.leader.election.enable",
            log_key("unclean.leader.election.enable"),
            BOOLEAN,
            "Default unclean.leader.election.enable (read by the controller).",
        ),
        (
            "log.retention.bytes",
            log_key("log.retention.bytes"),
            LONG,
            "Default retention.bytes.",
        ),
        (
            "log.segment.bytes",
            log_key("log.segment.bytes"),
            INT,
            "Default segment.bytes.",
        ),
        (
            "log.roll.ms",
            log_key("log.roll.ms"),
            LONG,
            "Default segment.ms.",
        ),
        (
            "log.index.interval.bytes",
            log_key("log.index.interval.bytes"),
            INT,
            "Default index.interval.bytes.",
        ),
        (
            "log.flush.interval.ms",
            log_key("log.flush.interval.ms"),
            LONG,
            "Default flush.ms.",
        ),
        (
            "log.flush.interval.messages",
            log_key("log.flush.interval.messages"),
            LONG,
            "Default flush.messages.",
        ),
        (
            "message.max.bytes",
            log_key("message.max.bytes"),
            INT,
            "Default max.message.bytes.",
        ),
        (
            "socket.request.max.bytes",
            Some(config.socket_request_max_bytes.to_string()),
            INT,
            "Largest request frame accepted.",
        ),
        (
            "fetch.max.bytes",
            Some(config.fetch_max_bytes.to_string()),
            INT,
            "Most record bytes one Fetch response carries.",
        ),
        (
            "max.connections",
            config.max_connections.map(|n| n.to_string()),
            INT,
            "Client connections open at once (default: half the descriptor limit).",
        ),
        (
            "max.connections.per.ip",
            Some(config.max_connections_per_ip.to_string()),
            INT,
            "Connections one client address may hold open.",
        ),
        (
            "max.connections.per.ip.overrides",
            Some(
                config
                    .max_connections_per_ip_overrides
                    .iter()
                    .map(|(address, count)| format!("{address}:{count}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            STRING,
            "Per-address exceptions to max.connections.per.ip (address:count,...).",
        ),
        (
            "connections.max.idle.ms",
            Some(config.connections_max_idle_ms.to_string()),
            LONG,
            "Idle connections are closed after this long.",
        ),
        (
            "replica.lag.time.max.ms",
            Some(config.replica_lag_time_max_ms.to_string()),
            LONG,
            "A follower not caught up with its leader for this long leaves the ISR.",
        ),
        (
            "replication.quota.window.num",
            Some(config.replication_quota_window_num.to_string()),
            INT,
            "Samples the replication throttles' quota measures over (their memory of debt).",
        ),
        (
            "replication.quota.window.size.seconds",
            Some(config.replication_quota_window_size_s.to_string()),
            INT,
            "Seconds of one replication quota sample (the burst a throttle allows).",
        ),
        (
            crate::config::SSL_RELOAD_INTERVAL_KEY,
            Some(config.ssl_reload_interval_ms.to_string()),
            LONG,
            "How often (ms) TLS listeners' keystore and truststore files are read again; 0: at start only.",
        ),
        (
            "quota.window.num",
            Some(config.quota_window_num.to_string()),
            INT,
            "Samples the client quotas measure over (their memory of debt).",
        ),
        (
            "quota.window.size.seconds",
            Some(config.quota_window_size_s.to_string()),
            INT,
            "Seconds of one client quota sample (the burst a quota allows).",
        ),
        (
            "queued.max.request.bytes",
            Some(
                config
                    .queued_request_bytes()
                    .map_or(-1, |b| b as i64)
                    .to_string(),
            ),
            LONG,
            "Bytes of large request frames read and not yet handled, across connections.",
        ),
        (
            "authorizer.class.name",
            Some(match config.authorizer_enabled {
                true => crate::config::STANDARD_AUTHORIZER.to_owned(),
                false => String::new(),
            }),
            STRING,
            "The authorizer that checks every request against the ACLs (Kafka's \
             StandardAuthorizer); empty: none, nothing is checked.",
        ),
        (
            "super.users",
            Some(
                (config.authorizer.super_users.iter())
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            STRING,
            "Principals allowed everything, whatever the ACLs say (User:name, ';'-separated).",
        ),
        (
            "allow.everyone.if.no.acl.found",
            Some(config.authorizer.allow_everyone_if_no_acl_found.to_string()),
            BOOLEAN,
            "Whether a resource no ACL covers is allowed to everyone (false: to super users only).",
        ),
    ]
}

/// This broker's settings, read-only (they come from the config file and flags).
fn describe_broker(config: &ServerConfig) -> Vec<ConfigEntry> {
    let builtin = broker_settings(&ServerConfig::default());
    broker_settings(config)
        .into_iter()
        .zip(builtin)
        .map(|((name, value, config_type, doc), (_, default, _, _))| {
            let synonyms = broker_synonyms(name, value.clone(), default);
            ConfigEntry {
                name: name.to_string(),
                value,
                source: synonyms[0].source,
                read_only: true,
                config_type,
                doc,
                synonyms,
            }
        })
        .collect()
}

/// An internal topic of `partitions` × `replication_factor`, compacted with
/// `segment_bytes` segments, storing its coordinator's batches as written.
fn compacted_spec(
    partitions: u32,
    replication_factor: u16,
    segment_bytes: u64,
) -> InternalTopicSpec {
    let configs = [
        ("cleanup.policy", "compact".to_owned()),
        ("segment.bytes", segment_bytes.to_string()),
        ("compression.type", "producer".to_owned()),
    ];
    InternalTopicSpec {
        partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
        replication_factor: i16::try_from(replication_factor).unwrap_or(i16::MAX),
        configs: (configs.into_iter())
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::configs::source;

    fn find<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
        entries.iter().find(|e| e.name == name).expect(name)
    }

    #[test]
    fn broker_settings_are_read_only_and_name_their_source() {
        let overrides = [
            "num.partitions=4".to_string(),
            "min.insync.replicas=2".to_string(),
        ];
        let config = ServerConfig::load(None, &overrides).unwrap();
        let entries = config.gateway_settings("c".into()).broker_configs;
        let min_isr = find(&entries, "min.insync.replicas");
        assert_eq!(
            (min_isr.value.as_deref(), min_isr.source),
            (Some("2"), source::STATIC_BROKER_CONFIG)
        );
        let unclean = find(&entries, "unclean.leader.election.enable");
        assert_eq!(
            (unclean.value.as_deref(), unclean.source),
            (Some("false"), source::DEFAULT_CONFIG)
        );
        let partitions = find(&entries, "num.partitions");
        assert_eq!(
            (partitions.value.as_deref(), partitions.source),
            (Some("4"), source::STATIC_BROKER_CONFIG)
        );
        let segment = find(&entries, "log.segment.bytes");
        assert_eq!(segment.source, source::DEFAULT_CONFIG);
        assert!(entries.iter().all(|e| e.read_only));
        let advertised = find(&entries, "advertised.listeners");
        assert_eq!(advertised.value, None);
        for key in ["log.retention.ms", "message.max.bytes", "log.roll.ms"] {
            find(&entries, key);
        }
        // The authorizer's keys, off by default.
        let authorizer = find(&entries, "authorizer.class.name");
        assert_eq!(
            (authorizer.value.as_deref(), authorizer.source),
            (Some(""), source::DEFAULT_CONFIG)
        );
        let overrides = [
            format!(
                "authorizer.class.name={}",
                crate::config::STANDARD_AUTHORIZER
            ),
            "super.users=User:admin; User:ops".to_string(),
        ];
        let config = ServerConfig::load(None, &overrides).unwrap();
        let entries = config.gateway_settings("c".into()).broker_configs;
        let authorizer = find(&entries, "authorizer.class.name");
        assert_eq!(
            (authorizer.value.as_deref(), authorizer.source),
            (
                Some(crate::config::STANDARD_AUTHORIZER),
                source::STATIC_BROKER_CONFIG
            )
        );
        let super_users = find(&entries, "super.users");
        assert_eq!(super_users.value.as_deref(), Some("User:admin;User:ops"));
        let allow = find(&entries, "allow.everyone.if.no.acl.found");
        assert_eq!(allow.value.as_deref(), Some("false"));
    }

    #[test]
    fn the_gateway_gets_the_settings_it_answers_with() {
        let config = ServerConfig::load(
            None,
            &[
                "node.id=7".to_string(),
                "auto.create.topics.enable=false".to_string(),
                "log.segment.bytes=1048576".to_string(),
            ],
        )
        .unwrap();
        let settings = config.gateway_settings("c".into());
        assert_eq!(
            (
                settings.node_id,
                settings.auto_create_topics,
                settings.log.segment_bytes
            ),
            (NodeId(7), false, 1 << 20)
        );
        assert_eq!(settings.log_builtin, ServerConfig::default().log);
        assert_eq!(
            settings.advertised,
            Some(BrokerAddress {
                host: "127.0.0.1".into(),
                port: 9092
            })
        );
        assert_eq!(
            find(&settings.broker_configs, "node.id").value.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn the_offsets_topic_spec_is_offsets_topic_star_compacted() {
        let config = ServerConfig::load(
            None,
            &[
                "offsets.topic.num.partitions=4".to_string(),
                "offsets.topic.segment.bytes=2097152".to_string(),
            ],
        )
        .unwrap();
        let spec = config.admin_settings().offsets_topic;
        assert_eq!((spec.partitions, spec.replication_factor), (4, 3));
        // The overrides are ones a topic accepts, and they make it compacted, not deleted.
        let log = crate::controller::topic_config::resolve(&config.log, &spec.configs)
            .expect("valid topic configs");
        assert_eq!(log.segment_bytes, 2 << 20);
        assert!(log.compaction.compact, "{log:?}");
        assert_eq!(
            (log.retention_ms, log.retention_bytes),
            (None, None),
            "compact only"
        );
    }

    #[test]
    fn the_transaction_state_topic_spec_is_transaction_state_log_star_compacted() {
        let config = ServerConfig::load(
            None,
            &[
                "transaction.state.log.num.partitions=4".to_string(),
                "transaction.state.log.segment.bytes=2097152".to_string(),
                "transaction.state.log.min.isr=3".to_string(),
            ],
        )
        .unwrap();
        let settings = config.admin_settings();
        let spec = settings.txn_state_topic;
        assert_eq!((spec.partitions, spec.replication_factor), (4, 3));
        assert_eq!(
            spec.configs.get("min.insync.replicas").map(String::as_str),
            Some("3")
        );
        assert_eq!(
            settings.offsets_topic,
            ServerConfig::default().admin_settings().offsets_topic,
            "the offsets topic is not touched"
        );
        // The overrides are ones a topic accepts, and they make it compacted, not deleted.
        let log = crate::controller::topic_config::resolve(&config.log, &spec.configs)
            .expect("valid topic configs");
        assert_eq!(log.segment_bytes, 2 << 20);
        assert_eq!(log.min_insync_replicas, 3);
        assert!(log.compaction.compact, "{log:?}");
        assert_eq!(
            (log.retention_ms, log.retention_bytes),
            (None, None),
            "compact only"
        );
        // Kafka's defaults: 50 partitions, 3 replicas (capped at creation), min ISR 2.
        let kafka = ServerConfig::default().admin_settings().txn_state_topic;
        assert_eq!((kafka.partitions, kafka.replication_factor), (50, 3));
        assert_eq!(
            kafka.configs.get("min.insync.replicas").map(String::as_str),
            Some("2")
        );
        assert_eq!(
            kafka.configs.get("segment.bytes").map(String::as_str),
            Some("104857600")
        );
        crate::controller::topic_config::resolve(&ServerConfig::default().log, &kafka.configs)
            .expect("the default spec is valid");
    }
}
