//! DescribeConfigs: the effective config of a topic (its overrides on top of the broker
//! defaults) and of this broker (its own settings, read-only).
//!
//! The tables here are pure, so the reporting rules (which source a value comes from, which
//! synonyms stand behind it) are unit-tested without a server. Config sources are Kafka's:
//! an override on the topic is DYNAMIC_TOPIC_CONFIG; otherwise the broker's value is
//! STATIC_BROKER_CONFIG when the server's config set it to something other than the built-in
//! default, and DEFAULT_CONFIG when it is the built-in default. (Rill does not remember which
//! keys a config file named, so a file that sets a key to its default reports DEFAULT_CONFIG.)

use crate::types::topic_name::shown;
use crate::types::ErrorCode;
use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;

use super::authorize::{Access, TOPIC_NOT_AUTHORIZED};
use super::service::KafkaRequest;
use super::{BrokerService, GatewayError};
use crate::actor::client::ActorClient;
use crate::controller::metadata::broker_config::THROTTLE_KEYS;
use crate::controller::metadata::eligible::MIN_ISR_KEY;
use crate::controller::topic_config::{self, DELETE_RETENTION_MS_DEFAULT};
use crate::messages::call::ask;
use crate::messages::{BrokerConfigsRequest, DynamicBrokerConfigs, NodeMsg, TopicMeta};
use crate::security::acl::{AclOperation, ResourceType};
use crate::storage::log::{FlushPolicy, LogConfig};
use crate::types::NodeId;

/// Kafka's resource types (`ConfigResource.Type`).
pub mod resource_type {
    pub const TOPIC: i8 = 2;
    pub const BROKER: i8 = 4;
}

/// Kafka's `ConfigSource` ids.
pub mod source {
    pub const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    pub const DYNAMIC_BROKER_CONFIG: i8 = 2;
    pub const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
    pub const STATIC_BROKER_CONFIG: i8 = 4;
    pub const DEFAULT_CONFIG: i8 = 5;
}

/// Kafka's `ConfigType` ids (DescribeConfigs v3+).
pub mod config_type {
    pub const BOOLEAN: i8 = 1;
    pub const STRING: i8 = 2;
    pub const INT: i8 = 3;
    pub const LONG: i8 = 5;
    pub const DOUBLE: i8 = 6;
    pub const LIST: i8 = 7;
}

/// One topic config key: its broker-level synonym (Kafka's `ServerTopicConfigSynonyms`; `None`
/// for the keys Kafka has no broker setting for), type, doc, and how to read the broker's value
/// for it (Kafka's default where Rill has no such broker setting).
struct TopicKey {
    name: &'static str,
    broker_key: Option<&'static str>,
    config_type: i8,
    doc: &'static str,
    broker_value: fn(&LogConfig) -> String,
}

/// Every topic config key the broker knows (`controller::topics::TOPIC_CONFIG_KEYS`), in that order.
const TOPIC_KEYS: &[TopicKey] = &[
    TopicKey {
        name: "retention.ms",
        broker_key: Some("log.retention.ms"),
        config_type: config_type::LONG,
        doc: "How long a closed segment is kept before it is deleted; -1 keeps it forever.",
        broker_value: |l| l.retention_ms.unwrap_or(-1).to_string(),
    },
    TopicKey {
        name: "retention.bytes",
        broker_key: Some("log.retention.bytes"),
        config_type: config_type::LONG,
        doc: "Largest size a partition log may grow to before old segments are deleted; -1 = no limit.",
        broker_value: |l| l.retention_bytes.map_or(-1, |b| b as i64).to_string(),
    },
    TopicKey {
        name: "segment.bytes",
        broker_key: Some("log.segment.bytes"),
        config_type: config_type::INT,
        doc: "Size at which a segment is closed and a new one started.",
        broker_value: |l| l.segment_bytes.to_string(),
    },
    TopicKey {
        name: "segment.ms",
        broker_key: Some("log.roll.ms"),
        config_type: config_type::LONG,
        doc: "Age at which a segment is closed even if it is not full.",
        broker_value: |l| l.segment_ms.to_string(),
    },
    TopicKey {
        name: "segment.index.bytes",
        broker_key: Some("log.index.size.max.bytes"),
        config_type: config_type::INT,
        doc: "Stored and described only: Rill sizes its offset index itself.",
        broker_value: |_| "10485760".into(),
    },
    TopicKey {
        name: "index.interval.bytes",
        broker_key: Some("log.index.interval.bytes"),
        config_type: config_type::INT,
        doc: "Bytes of log between two offset index entries.",
        broker_value: |l| l.index_interval_bytes.to_string(),
    },
    TopicKey {
        name: "max.message.bytes",
        broker_key: Some("message.max.bytes"),
        config_type: config_type::INT,
        doc: "Largest record batch accepted.",
        broker_value: |l| l.batch_bytes_max.to_string(),
    },
    TopicKey {
        name: "flush.ms",
        broker_key: Some("log.flush.interval.ms"),
        config_type: config_type::LONG,
        doc: "Interval between fsyncs of the log.",
        broker_value: |l| match l.flush {
            FlushPolicy::IntervalMs(ms) => ms.to_string(),
            FlushPolicy::EveryAppend | FlushPolicy::Os => i64::MAX.to_string(),
        },
    },
    TopicKey {
        name: "flush.messages",
        broker_key: Some("log.flush.interval.messages"),
        config_type: config_type::LONG,
        doc: "1 = fsync every append before acknowledging it; larger = leave it to flush.ms or the OS.",
        broker_value: |l| match l.flush {
            FlushPolicy::EveryAppend => "1".into(),
            FlushPolicy::IntervalMs(_) | FlushPolicy::Os => i64::MAX.to_string(),
        },
    },
    TopicKey {
        name: "cleanup.policy",
        broker_key: Some("log.cleanup.policy"),
        config_type: config_type::LIST,
        doc: "delete only: compact is refused until Rill has log compaction (retention would otherwise delete what compaction keeps).",
        broker_value: |_| CLEANUP_POLICY_DEFAULT.into(),
    },
    TopicKey {
        name: "message.timestamp.type",
        broker_key: Some("log.message.timestamp.type"),
        config_type: config_type::STRING,
        doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the broker's append time.",
        broker_value: |l| l.timestamp_type.name().into(),
    },
    TopicKey {
        name: "message.timestamp.before.max.ms",
        broker_key: Some("log.message.timestamp.before.max.ms"),
        config_type: config_type::LONG,
        doc: "CreateTime records older than this, by the broker's clock, are refused (INVALID_TIMESTAMP).",
        broker_value: |l| l.timestamp_before_max_ms.to_string(),
    },
    TopicKey {
        name: "message.timestamp.after.max.ms",
        broker_key: Some("log.message.timestamp.after.max.ms"),
        config_type: config_type::LONG,
        doc: "CreateTime records further in the future than this, by the broker's clock, are refused (INVALID_TIMESTAMP).",
        broker_value: |l| l.timestamp_after_max_ms.to_string(),
    },
    TopicKey {
        name: "min.insync.replicas",
        broker_key: Some("min.insync.replicas"),
        config_type: config_type::INT,
        doc: "In-sync replicas an acks=all produce needs (counted at most the replication factor, as Kafka); with fewer, acks=all is refused with NOT_ENOUGH_REPLICAS and the high watermark stays.",
        broker_value: |l| l.min_insync_replicas.to_string(),
    },
    TopicKey {
        name: "compression.type",
        broker_key: Some("compression.type"),
        config_type: config_type::STRING,
        doc: "producer only: batches are stored as the producer compressed them; recompression to a topic codec is refused.",
        broker_value: |_| "producer".into(),
    },
    TopicKey {
        name: "delete.retention.ms",
        broker_key: Some("log.cleaner.delete.retention.ms"),
        config_type: config_type::LONG,
        doc: "How long tombstones of a compacted topic are kept. Stored and described only until Rill has log compaction.",
        broker_value: |_| DELETE_RETENTION_MS_DEFAULT.to_string(),
    },
    TopicKey {
        name: "min.compaction.lag.ms",
        broker_key: Some("log.cleaner.min.compaction.lag.ms"),
        config_type: config_type::LONG,
        doc: "Shortest time a record stays uncompacted. Stored and described only until Rill has log compaction.",
        broker_value: |_| "0".into(),
    },
    TopicKey {
        name: "max.compaction.lag.ms",
        broker_key: Some("log.cleaner.max.compaction.lag.ms"),
        config_type: config_type::LONG,
        doc: "Longest time a record stays ineligible for compaction. Stored and described only until Rill has log compaction.",
        broker_value: |_| i64::MAX.to_string(),
    },
    TopicKey {
        name: "min.cleanable.dirty.ratio",
        broker_key: Some("log.cleaner.min.cleanable.ratio"),
        config_type: config_type::DOUBLE,
        doc: "Share of uncompacted log (0 to 1) that makes a log worth cleaning. Stored and described only until Rill has log compaction.",
        broker_value: |_| "0.5".into(),
    },
    TopicKey {
        name: "file.delete.delay.ms",
        broker_key: Some("log.segment.delete.delay.ms"),
        config_type: config_type::LONG,
        doc: "Stored and described only: Rill unlinks a removed segment's files right after the log-start checkpoint, with no delay.",
        broker_value: |_| "60000".into(),
    },
    TopicKey {
        name: "segment.jitter.ms",
        broker_key: Some("log.roll.jitter.ms"),
        config_type: config_type::LONG,
        doc: "Stored and described only: Rill rolls segments at segment.ms without random jitter.",
        broker_value: |_| "0".into(),
    },
    TopicKey {
        name: "preallocate",
        broker_key: Some("log.preallocate"),
        config_type: config_type::BOOLEAN,
        doc: "Stored and described only: Rill grows segment files as written.",
        broker_value: |_| "false".into(),
    },
    TopicKey {
        name: "unclean.leader.election.enable",
        broker_key: Some("unclean.leader.election.enable"),
        config_type: config_type::BOOLEAN,
        doc: "Whether a partition whose in-sync and eligible replicas are all gone may elect another replica, losing what only they held (the broker's unclean.leader.election.enable without it).",
        broker_value: |l| l.unclean_leader_election.to_string(),
    },
    TopicKey {
        name: "leader.replication.throttled.replicas",
        broker_key: None,
        config_type: config_type::LIST,
        doc: "Stored and described only: Rill does not throttle replication yet.",
        broker_value: |_| String::new(),
    },
    TopicKey {
        name: "follower.replication.throttled.replicas",
        broker_key: None,
        config_type: config_type::LIST,
        doc: "Stored and described only: Rill does not throttle replication yet.",
        broker_value: |_| String::new(),
    },
    TopicKey {
        name: "compression.gzip.level",
        broker_key: Some("compression.gzip.level"),
        config_type: config_type::INT,
        doc: "Stored and described only: Rill does not recompress (compression.type is producer).",
        broker_value: |_| "-1".into(),
    },
    TopicKey {
        name: "compression.lz4.level",
        broker_key: Some("compression.lz4.level"),
        config_type: config_type::INT,
        doc: "Stored and described only: Rill does not recompress (compression.type is producer).",
        broker_value: |_| "9".into(),
    },
    TopicKey {
        name: "compression.zstd.level",
        broker_key: Some("compression.zstd.level"),
        config_type: config_type::INT,
        doc: "Stored and described only: Rill does not recompress (compression.type is producer).",
        broker_value: |_| "3".into(),
    },
    TopicKey {
        name: "remote.storage.enable",
        broker_key: None,
        config_type: config_type::BOOLEAN,
        doc: "false only: Rill has no tiered storage, so true is refused as on a Kafka broker without it.",
        broker_value: |_| "false".into(),
    },
    TopicKey {
        name: "local.retention.ms",
        broker_key: Some("log.local.retention.ms"),
        config_type: config_type::LONG,
        doc: "Stored and described only (tiered storage; Rill has none): -2 means retention.ms.",
        broker_value: |_| "-2".into(),
    },
    TopicKey {
        name: "local.retention.bytes",
        broker_key: Some("log.local.retention.bytes"),
        config_type: config_type::LONG,
        doc: "Stored and described only (tiered storage; Rill has none): -2 means retention.bytes.",
        broker_value: |_| "-2".into(),
    },
    TopicKey {
        name: "remote.copy.lag.ms",
        broker_key: None,
        config_type: config_type::LONG,
        doc: "Stored and described only (tiered storage; Rill has none).",
        broker_value: |_| "0".into(),
    },
    TopicKey {
        name: "remote.copy.lag.bytes",
        broker_key: None,
        config_type: config_type::LONG,
        doc: "Stored and described only (tiered storage; Rill has none).",
        broker_value: |_| "0".into(),
    },
    TopicKey {
        name: "remote.log.copy.disable",
        broker_key: None,
        config_type: config_type::BOOLEAN,
        doc: "Stored and described only (tiered storage; Rill has none).",
        broker_value: |_| "false".into(),
    },
    TopicKey {
        name: "remote.log.delete.on.disable",
        broker_key: None,
        config_type: config_type::BOOLEAN,
        doc: "Stored and described only (tiered storage; Rill has none).",
        broker_value: |_| "false".into(),
    },
];

pub use crate::controller::topic_config::CLEANUP_POLICY_DEFAULT;

/// Whether a topic key holds a comma-separated list (IncrementalAlterConfigs APPEND/SUBTRACT).
pub fn is_list_key(key: &str) -> bool {
    topic_config::list_default(key).is_some()
}

/// The value a topic key has when the topic does not override it.
pub fn topic_default(log: &LogConfig, key: &str) -> Option<String> {
    broker_value_where(log, |k| k.name == key)
}

/// The broker's value of a topic key's broker-level synonym (`log.retention.ms`, ...), as
/// DescribeConfigs shows it; `None` for a name that is no such synonym.
pub fn broker_log_value(log: &LogConfig, broker_key: &str) -> Option<String> {
    broker_value_where(log, |k| k.broker_key == Some(broker_key))
}

/// The broker-level value of the first topic key `pick` accepts.
fn broker_value_where(log: &LogConfig, pick: impl Fn(&TopicKey) -> bool) -> Option<String> {
    TOPIC_KEYS
        .iter()
        .find(|k| pick(k))
        .map(|k| (k.broker_value)(log))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
}

/// One described config, before it is put in the version's wire shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub config_type: i8,
    pub doc: &'static str,
    /// In Kafka's order of precedence, the entry's own source first.
    pub synonyms: Vec<Synonym>,
}

/// Synonyms of a broker-level value: the configured one (when it is not the default), then
/// the default. Returns them with the source of the first.
pub fn broker_synonyms(key: &str, value: Option<String>, default: Option<String>) -> Vec<Synonym> {
    let mut synonyms = Vec::new();
    if value != default {
        synonyms.push(Synonym {
            name: key.to_string(),
            value,
            source: source::STATIC_BROKER_CONFIG,
        });
    }
    synonyms.push(Synonym {
        name: key.to_string(),
        value: default,
        source: source::DEFAULT_CONFIG,
    });
    synonyms
}

/// Every topic config with its effective value: the topic's override, else the broker's
/// (`log`, reported as set when it differs from the built-in `builtin`). A key without a
/// broker setting has no broker synonyms: unless overridden it is Kafka's default
/// (DEFAULT_CONFIG) with no synonyms, as Kafka describes it.
pub fn describe_topic(
    log: &LogConfig,
    builtin: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<ConfigEntry> {
    TOPIC_KEYS
        .iter()
        .map(|key| {
            let mut synonyms = key.broker_key.map_or_else(Vec::new, |broker_key| {
                broker_synonyms(
                    broker_key,
                    Some((key.broker_value)(log)),
                    Some((key.broker_value)(builtin)),
                )
            });
            if let Some(value) = overrides.get(key.name) {
                synonyms.insert(
                    0,
                    Synonym {
                        name: key.name.to_string(),
                        value: Some(value.clone()),
                        source: source::DYNAMIC_TOPIC_CONFIG,
                    },
                );
            }
            let (value, origin) = synonyms.first().map_or_else(
                || (Some((key.broker_value)(log)), source::DEFAULT_CONFIG),
                |first| (first.value.clone(), first.source),
            );
            ConfigEntry {
                name: key.name.to_string(),
                value,
                source: origin,
                read_only: false,
                config_type: key.config_type,
                doc: key.doc,
                synonyms,
            }
        })
        .collect()
}

/// The broker keys whose cluster-wide dynamic value is every broker's default (the
/// controller keeps it in the metadata log: `controller::metadata::broker_config`).
pub const CLUSTER_DEFAULT_KEYS: &[&str] = &[MIN_ISR_KEY];

/// `entries` (a topic's, or a broker's static ones) with the cluster-wide dynamic defaults of
/// [`CLUSTER_DEFAULT_KEYS`] in `cluster`: a synonym of source DYNAMIC_DEFAULT_BROKER_CONFIG
/// after a topic's own value and before the static ones, and the value when the topic sets
/// none. A broker's entry of such a key is not read-only (it is set with the resource "").
pub fn with_cluster_defaults(
    entries: &mut [ConfigEntry],
    cluster: Option<&BTreeMap<String, String>>,
) {
    for entry in entries.iter_mut() {
        let broker_key = (TOPIC_KEYS.iter())
            .find(|key| key.name == entry.name)
            .and_then(|key| key.broker_key)
            .unwrap_or(entry.name.as_str());
        let Some(&key) = CLUSTER_DEFAULT_KEYS.iter().find(|k| **k == broker_key) else {
            continue;
        };
        entry.read_only = false;
        let Some(value) = cluster.and_then(|configs| configs.get(key)) else {
            continue;
        };
        let at = (entry.synonyms.iter())
            .take_while(|s| s.source == source::DYNAMIC_TOPIC_CONFIG)
            .count();
        entry.synonyms.insert(
            at,
            Synonym {
                name: key.to_string(),
                value: Some(value.clone()),
                source: source::DYNAMIC_DEFAULT_BROKER_CONFIG,
            },
        );
        entry.value = entry.synonyms[0].value.clone();
        entry.source = entry.synonyms[0].source;
    }
}

/// Kafka's rule: no keys (null or empty) = all of them.
pub fn filter_keys(entries: Vec<ConfigEntry>, keys: Option<&[StrBytes]>) -> Vec<ConfigEntry> {
    match keys {
        Some(keys) if !keys.is_empty() => entries
            .into_iter()
            .filter(|e| keys.iter().any(|k| k.as_str() == e.name))
            .collect(),
        _ => entries,
    }
}

fn text(s: String) -> StrBytes {
    StrBytes::from_string(s)
}

/// The wire shape of one entry; fields only from the versions that have them.
fn to_wire(
    entry: ConfigEntry,
    version: i16,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResourceResult {
    let mut result = DescribeConfigsResourceResult::default()
        .with_name(text(entry.name))
        .with_value(entry.value.map(text))
        .with_read_only(entry.read_only)
        .with_config_source(entry.source)
        .with_is_sensitive(false);
    if include_synonyms {
        result = result.with_synonyms(
            entry
                .synonyms
                .into_iter()
                .map(|s| {
                    DescribeConfigsSynonym::default()
                        .with_name(text(s.name))
                        .with_value(s.value.map(text))
                        .with_source(s.source)
                })
                .collect(),
        );
    }
    if version >= 3 {
        result = result.with_config_type(entry.config_type);
        if include_documentation {
            result = result.with_documentation(Some(StrBytes::from_static_str(entry.doc)));
        }
    }
    result
}

/// The dynamic broker configs (the replication throttle rates) as described for `broker`: its
/// own value (DYNAMIC_BROKER_CONFIG), else the cluster default (DYNAMIC_DEFAULT_BROKER_CONFIG),
/// else Kafka's default, unlimited (`Long.MAX_VALUE`, DEFAULT_CONFIG). For the cluster default
/// itself (`None`, the resource `""`) only the keys set there, as Kafka describes that entity.
/// Alterable, unlike the static settings.
pub fn describe_dynamic(
    dynamic: &DynamicBrokerConfigs,
    broker: Option<NodeId>,
) -> Vec<ConfigEntry> {
    let unlimited = i64::MAX.to_string();
    let defaults = dynamic.get(&None);
    THROTTLE_KEYS
        .iter()
        .filter(|&&key| broker.is_some() || defaults.is_some_and(|d| d.contains_key(key)))
        .map(|&key| {
            let value_of = |entity: Option<NodeId>| {
                (dynamic.get(&entity))
                    .and_then(|configs| configs.get(key))
                    .cloned()
            };
            let mut synonyms = Vec::new();
            let mut push = |value: Option<String>, source: i8| {
                if let Some(value) = value {
                    synonyms.push(Synonym {
                        name: key.to_string(),
                        value: Some(value),
                        source,
                    });
                }
            };
            if broker.is_some() {
                push(value_of(broker), source::DYNAMIC_BROKER_CONFIG);
            }
            push(value_of(None), source::DYNAMIC_DEFAULT_BROKER_CONFIG);
            push(Some(unlimited.clone()), source::DEFAULT_CONFIG);
            ConfigEntry {
                name: key.to_string(),
                value: synonyms[0].value.clone(),
                source: synonyms[0].source,
                read_only: false,
                config_type: config_type::LONG,
                doc: DYNAMIC_BROKER_DOC,
                synonyms,
            }
        })
        .collect()
}

/// The doc of the dynamic broker keys.
const DYNAMIC_BROKER_DOC: &str = "Bytes per second of replication traffic for the partitions \
    the topics' *.replication.throttled.replicas name on this broker (KIP-73); set with \
    IncrementalAlterConfigs (rill reassign-partitions --throttle). \
    replica.alter.log.dirs.io.max.bytes.per.second is kept but does nothing: one log dir per broker.";

/// Kafka's checks of a config resource (`ConfigHelper`, `ConfigAdminManager`): `operation`
/// (DESCRIBE_CONFIGS or ALTER_CONFIGS) on the topic, or on the CLUSTER for a broker; the
/// refusal when the principal may not (other resource types are not checked here).
pub(super) fn config_refusal(
    access: &Access,
    operation: AclOperation,
    kind: i8,
    name: &str,
) -> Option<(ErrorCode, String)> {
    match kind {
        resource_type::TOPIC if !access.allows(operation, ResourceType::Topic, name) => Some((
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            TOPIC_NOT_AUTHORIZED.to_string(),
        )),
        resource_type::BROKER if !access.allows_cluster(operation) => Some((
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            super::acls::CLUSTER_NOT_AUTHORIZED.to_string(),
        )),
        _ => None,
    }
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    pub(super) async fn describe_configs(
        &self,
        request: DescribeConfigsRequest,
        version: i16,
        frame: &KafkaRequest,
    ) -> Result<DescribeConfigsResponse, GatewayError> {
        let access = self.access(frame, "DescribeConfigs");
        let include_documentation = version >= 3 && request.include_documentation;
        let mut known: Option<BTreeMap<String, TopicMeta>> = None;
        let mut dynamic: Option<DynamicBrokerConfigs> = None;
        let mut results = Vec::new();
        for resource in request.resources {
            let name = resource.resource_name.to_string();
            let refused = config_refusal(
                &access,
                AclOperation::DescribeConfigs,
                resource.resource_type,
                &name,
            );
            let entries = match (refused, resource.resource_type) {
                (Some(refused), _) => Err(refused),
                (None, resource_type::TOPIC) => {
                    if known.is_none() {
                        known = Some(self.list_topics().await?);
                    }
                    if dynamic.is_none() {
                        dynamic = ask(&self.node, BrokerConfigsRequest).await.ok();
                    }
                    match known.as_ref().and_then(|k| k.get(&name)) {
                        Some(meta) => {
                            let mut entries = describe_topic(
                                &self.settings.log,
                                &self.settings.log_builtin,
                                &meta.configs,
                            );
                            let cluster = dynamic.as_ref().and_then(|d| d.get(&None));
                            with_cluster_defaults(&mut entries, cluster);
                            Ok(entries)
                        }
                        None => Err((
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                            format!("topic '{}' does not exist", shown(&name)),
                        )),
                    }
                }
                (None, resource_type::BROKER) => {
                    let id = self.settings.node_id.to_string();
                    // "" is the cluster-wide default; its static part is this broker's config.
                    if name.is_empty() || name == id {
                        if dynamic.is_none() {
                            dynamic = ask(&self.node, BrokerConfigsRequest).await.ok();
                        }
                        let broker = (!name.is_empty()).then_some(self.settings.node_id);
                        match &dynamic {
                            Some(known) => {
                                let mut entries = self.settings.broker_configs.clone();
                                with_cluster_defaults(&mut entries, known.get(&None));
                                entries.extend(describe_dynamic(known, broker));
                                Ok(entries)
                            }
                            None => Err((
                                ErrorCode::UNKNOWN_SERVER_ERROR,
                                "the broker's dynamic configs could not be read; retry".into(),
                            )),
                        }
                    } else {
                        Err((
                            ErrorCode::INVALID_REQUEST,
                            format!("unexpected broker id {name}: this is broker {id}"),
                        ))
                    }
                }
                (None, other) => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported (topics: 2, brokers: 4)"),
                )),
            };
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            results.push(match entries {
                Ok(entries) => result.with_configs(
                    filter_keys(entries, resource.configuration_keys.as_deref())
                        .into_iter()
                        .map(|e| {
                            to_wire(e, version, request.include_synonyms, include_documentation)
                        })
                        .collect(),
                ),
                Err((error_code, message)) => result
                    .with_error_code(error_code.wire())
                    .with_error_message(Some(text(message))),
            });
        }
        Ok(DescribeConfigsResponse::default().with_results(results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::topics::TOPIC_CONFIG_KEYS;

    fn find<'a>(entries: &'a [ConfigEntry], name: &str) -> &'a ConfigEntry {
        entries.iter().find(|e| e.name == name).expect(name)
    }

    #[test]
    fn every_known_topic_key_is_described_in_registry_order() {
        let entries = describe_topic(
            &LogConfig::default(),
            &LogConfig::default(),
            &BTreeMap::new(),
        );
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, TOPIC_CONFIG_KEYS);
        assert!(entries.iter().all(|e| !e.read_only));
    }

    #[test]
    fn sources_follow_kafka_meanings() {
        let builtin = LogConfig::default();
        let mut log = builtin.clone();
        log.segment_bytes = 1 << 20; // set by the server's config: STATIC_BROKER_CONFIG
        let overrides = BTreeMap::from([("retention.ms".to_string(), "60000".to_string())]);
        let entries = describe_topic(&log, &builtin, &overrides);

        let retention = find(&entries, "retention.ms");
        assert_eq!(
            (retention.value.as_deref(), retention.source),
            (Some("60000"), source::DYNAMIC_TOPIC_CONFIG)
        );
        assert_eq!(
            retention.synonyms[1],
            Synonym {
                name: "log.retention.ms".into(),
                value: Some("604800000".into()),
                source: source::DEFAULT_CONFIG
            }
        );

        let segment = find(&entries, "segment.bytes");
        assert_eq!(
            (segment.value.as_deref(), segment.source),
            (Some("1048576"), source::STATIC_BROKER_CONFIG)
        );
        assert_eq!(segment.synonyms.len(), 2);
        assert_eq!(segment.synonyms[1].value.as_deref(), Some("1073741824"));

        let flush = find(&entries, "flush.messages");
        assert_eq!(
            (flush.value.as_deref(), flush.source, flush.synonyms.len()),
            (Some("1"), source::DEFAULT_CONFIG, 1)
        );
    }

    /// The cluster-wide min.insync.replicas of the metadata log is a topic's value unless it
    /// sets its own, and shows as DYNAMIC_DEFAULT_BROKER_CONFIG ahead of the static value.
    #[test]
    fn the_cluster_wide_min_insync_replicas_is_described_as_the_dynamic_default() {
        let log = LogConfig::default();
        let cluster = BTreeMap::from([(MIN_ISR_KEY.to_string(), "2".to_string())]);
        let mut plain = describe_topic(&log, &log, &BTreeMap::new());
        with_cluster_defaults(&mut plain, Some(&cluster));
        let min_isr = find(&plain, MIN_ISR_KEY);
        assert_eq!(
            (min_isr.value.as_deref(), min_isr.source),
            (Some("2"), source::DYNAMIC_DEFAULT_BROKER_CONFIG)
        );
        assert_eq!(
            min_isr.synonyms.last().unwrap().source,
            source::DEFAULT_CONFIG
        );
        let own = BTreeMap::from([(MIN_ISR_KEY.to_string(), "3".to_string())]);
        let mut set = describe_topic(&log, &log, &own);
        with_cluster_defaults(&mut set, Some(&cluster));
        let min_isr = find(&set, MIN_ISR_KEY);
        assert_eq!(
            (min_isr.value.as_deref(), min_isr.source),
            (Some("3"), source::DYNAMIC_TOPIC_CONFIG)
        );
        let sources: Vec<i8> = min_isr.synonyms.iter().map(|s| s.source).collect();
        assert_eq!(
            sources,
            vec![
                source::DYNAMIC_TOPIC_CONFIG,
                source::DYNAMIC_DEFAULT_BROKER_CONFIG,
                source::DEFAULT_CONFIG
            ]
        );
        let retention = find(&set, "retention.ms");
        assert_eq!(
            retention.source,
            source::DEFAULT_CONFIG,
            "other keys untouched"
        );
    }

    #[test]
    fn every_described_default_is_a_value_resolve_accepts() {
        let log = LogConfig::default();
        let plain = topic_config::resolve(&log, &BTreeMap::new()).unwrap();
        for key in TOPIC_KEYS {
            let default = (key.broker_value)(&log);
            let one = BTreeMap::from([(key.name.to_string(), default.clone())]);
            let resolved = topic_config::resolve(&log, &one)
                .unwrap_or_else(|e| panic!("{}={default:?}: {e}", key.name));
            // A stored-only key never changes what the log runs with.
            if key.doc.contains("Stored and described only") {
                assert_eq!(resolved, plain, "{}", key.name);
            }
        }
    }

    #[test]
    fn compaction_keys_report_kafkas_defaults_and_cleaner_synonyms() {
        let log = LogConfig::default();
        let entries = describe_topic(&log, &log, &BTreeMap::new());
        let shown = |name: &str| {
            let e = find(&entries, name);
            let synonyms: Vec<(&str, Option<&str>, i8)> = e
                .synonyms
                .iter()
                .map(|s| (s.name.as_str(), s.value.as_deref(), s.source))
                .collect();
            (e.value.as_deref(), e.source, e.config_type, synonyms)
        };
        assert_eq!(
            shown("delete.retention.ms"),
            (
                Some("86400000"),
                source::DEFAULT_CONFIG,
                config_type::LONG,
                vec![(
                    "log.cleaner.delete.retention.ms",
                    Some("86400000"),
                    source::DEFAULT_CONFIG
                )]
            )
        );
        assert_eq!(
            shown("min.cleanable.dirty.ratio"),
            (
                Some("0.5"),
                source::DEFAULT_CONFIG,
                config_type::DOUBLE,
                vec![(
                    "log.cleaner.min.cleanable.ratio",
                    Some("0.5"),
                    source::DEFAULT_CONFIG
                )]
            )
        );
        assert_eq!(
            shown("max.compaction.lag.ms").0,
            Some("9223372036854775807")
        );
        assert_eq!(shown("min.compaction.lag.ms").0, Some("0"));
        assert_eq!(
            shown("file.delete.delay.ms").3[0].0,
            "log.segment.delete.delay.ms"
        );
        assert_eq!(shown("segment.jitter.ms").3[0].0, "log.roll.jitter.ms");
        assert_eq!(shown("preallocate").3[0].0, "log.preallocate");
    }

    #[test]
    fn a_key_without_a_broker_setting_has_no_broker_synonyms() {
        let log = LogConfig::default();
        let entries = describe_topic(&log, &log, &BTreeMap::new());
        let remote = find(&entries, "remote.storage.enable");
        assert_eq!(
            (remote.value.as_deref(), remote.source, remote.config_type),
            (Some("false"), source::DEFAULT_CONFIG, config_type::BOOLEAN)
        );
        assert!(remote.synonyms.is_empty());
        let throttled = find(&entries, "leader.replication.throttled.replicas");
        assert_eq!(
            (throttled.value.as_deref(), throttled.config_type),
            (Some(""), config_type::LIST)
        );

        let overrides = BTreeMap::from([(
            "follower.replication.throttled.replicas".to_string(),
            "0:1".to_string(),
        )]);
        let entries = describe_topic(&log, &log, &overrides);
        let follower = find(&entries, "follower.replication.throttled.replicas");
        assert_eq!(
            (follower.value.as_deref(), follower.source),
            (Some("0:1"), source::DYNAMIC_TOPIC_CONFIG)
        );
        assert_eq!(
            follower.synonyms,
            [Synonym {
                name: "follower.replication.throttled.replicas".into(),
                value: Some("0:1".into()),
                source: source::DYNAMIC_TOPIC_CONFIG
            }]
        );
    }

    #[test]
    fn an_empty_key_filter_means_all_keys() {
        let entries = describe_topic(
            &LogConfig::default(),
            &LogConfig::default(),
            &BTreeMap::new(),
        );
        let all = entries.len();
        assert_eq!(filter_keys(entries.clone(), None).len(), all);
        assert_eq!(filter_keys(entries.clone(), Some(&[])).len(), all);
        let keys = [
            StrBytes::from_static_str("segment.ms"),
            StrBytes::from_static_str("nope"),
        ];
        let some = filter_keys(entries, Some(&keys));
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].name, "segment.ms");
    }

    #[test]
    fn list_keys_and_defaults() {
        assert!(is_list_key("cleanup.policy"));
        assert!(!is_list_key("retention.ms"));
        assert_eq!(
            topic_default(&LogConfig::default(), "cleanup.policy").as_deref(),
            Some("delete")
        );
        assert_eq!(topic_default(&LogConfig::default(), "bogus"), None);
        // The topics actor's list keys (it applies APPEND/SUBTRACT) are this table's LIST
        // keys, with the defaults DescribeConfigs reports.
        for key in TOPIC_KEYS {
            let list = topic_config::list_default(key.name);
            assert_eq!(
                list.is_some(),
                key.config_type == config_type::LIST,
                "{}",
                key.name
            );
            if let Some(default) = list {
                assert_eq!((key.broker_value)(&LogConfig::default()), default);
            }
        }
    }

    #[test]
    fn message_timestamp_type_reports_the_override_and_the_broker_default() {
        let log = LogConfig::default();
        let overrides = BTreeMap::from([(
            "message.timestamp.type".to_string(),
            "LogAppendTime".to_string(),
        )]);
        let entries = describe_topic(&log, &log, &overrides);
        let kind = find(&entries, "message.timestamp.type");
        assert_eq!(
            (kind.value.as_deref(), kind.source),
            (Some("LogAppendTime"), source::DYNAMIC_TOPIC_CONFIG)
        );
        assert_eq!(
            kind.synonyms[1],
            Synonym {
                name: "log.message.timestamp.type".into(),
                value: Some("CreateTime".into()),
                source: source::DEFAULT_CONFIG
            }
        );
        let stamped_broker = LogConfig {
            timestamp_type: crate::storage::log::TimestampType::LogAppendTime,
            ..LogConfig::default()
        };
        assert_eq!(
            topic_default(&stamped_broker, "message.timestamp.type").as_deref(),
            Some("LogAppendTime")
        );
    }

    #[test]
    fn dynamic_broker_configs_are_described_with_kafkas_sources() {
        use crate::messages::throttles::{FOLLOWER_RATE_KEY, LEADER_RATE_KEY, LOG_DIRS_RATE_KEY};
        let set = |pairs: &[(&str, &str)]| {
            (pairs.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let dynamic = BTreeMap::from([
            (Some(NodeId(2)), set(&[(LEADER_RATE_KEY, "9")])),
            (
                None,
                set(&[(LEADER_RATE_KEY, "5"), (FOLLOWER_RATE_KEY, "7")]),
            ),
        ]);
        let of = |entries: &[ConfigEntry], key: &str| {
            let e = find(entries, key);
            assert!(!e.read_only, "{key} is alterable");
            (e.value.clone().unwrap(), e.source)
        };
        let two = describe_dynamic(&dynamic, Some(NodeId(2)));
        assert_eq!(
            of(&two, LEADER_RATE_KEY),
            ("9".into(), source::DYNAMIC_BROKER_CONFIG)
        );
        let leader = find(&two, LEADER_RATE_KEY);
        let sources: Vec<i8> = leader.synonyms.iter().map(|s| s.source).collect();
        assert_eq!(sources, [2, 3, 5], "own, then the default, then Kafka's");
        assert_eq!(
            of(&two, FOLLOWER_RATE_KEY),
            ("7".into(), source::DYNAMIC_DEFAULT_BROKER_CONFIG)
        );
        let unlimited = i64::MAX.to_string();
        assert_eq!(
            of(&two, LOG_DIRS_RATE_KEY),
            (unlimited, source::DEFAULT_CONFIG)
        );
        // The default entity shows only what is set there.
        let default = describe_dynamic(&dynamic, None);
        let names: Vec<&str> = default.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [LEADER_RATE_KEY, FOLLOWER_RATE_KEY]);
        assert_eq!(
            of(&default, LEADER_RATE_KEY),
            ("5".into(), source::DYNAMIC_DEFAULT_BROKER_CONFIG)
        );
    }
}
