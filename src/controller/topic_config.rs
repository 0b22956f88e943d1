//! Topic configs (`retention.ms`, `segment.bytes`, ...) resolved against the broker defaults
//! into the settings a partition log runs with. It sits with the topic registry because a
//! topic's configs are metadata: the topics actor resolves them when it creates a topic,
//! opens its logs or alters its configs.

use std::collections::BTreeMap;

use super::config_values::{boolean, gzip_level, long_at_least, ratio, throttled_replicas, whole};
use crate::storage::log::{
    FlushPolicy, LogConfig, TimestampType, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_MS_MIN,
};

/// The broker default of `cleanup.policy`.
pub const CLEANUP_POLICY_DEFAULT: &str = "delete";

/// Kafka's `log.cleaner.delete.retention.ms` default: tombstones live one day.
pub const DELETE_RETENTION_MS_DEFAULT: i64 = 24 * 60 * 60 * 1000;

/// The topic keys whose value is a comma-separated list (IncrementalAlterConfigs APPEND and
/// SUBTRACT apply to them), each with the value it has when a topic does not override it.
pub const LIST_KEYS: &[(&str, &str)] = &[
    ("cleanup.policy", CLEANUP_POLICY_DEFAULT),
    ("leader.replication.throttled.replicas", ""),
    ("follower.replication.throttled.replicas", ""),
];

/// The default of a list-valued topic key; `None` for a key that holds no list.
pub fn list_default(key: &str) -> Option<&'static str> {
    LIST_KEYS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The smallest `segment.bytes` a topic may have: [`SEGMENT_BYTES_MIN`] (Kafka 4.0's floor),
/// or the broker's own `log.segment.bytes` when its operator chose smaller (tests and the
/// simulator roll segments of a few KiB, and `__consumer_offsets` follows them there).
pub fn segment_bytes_min(defaults: &LogConfig) -> u64 {
    SEGMENT_BYTES_MIN.min(defaults.segment_bytes)
}

/// Applies `configs` (topic overrides, as given by the client) on top of `defaults`.
/// An error names the key and the problem (answered as INVALID_CONFIG).
pub fn resolve(
    defaults: &LogConfig,
    configs: &BTreeMap<String, String>,
) -> Result<LogConfig, String> {
    let mut config = defaults.clone();
    if let FlushPolicy::IntervalMs(ms) = config.flush {
        config.flush = FlushPolicy::IntervalMs(ms.max(1));
    }
    for (key, value) in configs {
        let int = |min: i64, max: i64| whole(key, value, min, max);
        match key.as_str() {
            "retention.ms" => config.retention_ms = Some(int(-1, i64::MAX)?).filter(|ms| *ms >= 0),
            "retention.bytes" => {
                config.retention_bytes = Some(int(-1, i64::MAX)?)
                    .filter(|b| *b >= 0)
                    .map(|b| b as u64)
            }
            "segment.bytes" => {
                let min = segment_bytes_min(defaults);
                config.segment_bytes = int(min as i64, SEGMENT_BYTES_MAX as i64)? as u64
            }
            // At least a minute (KIP-1030's minimum; Kafka 3.x allowed 1 ms): every roll opens
            // new files, and a 1 ms roll time turns each batch into a segment.
            "segment.ms" => config.segment_ms = int(SEGMENT_MS_MIN, i64::MAX)?,
            "index.interval.bytes" => config.index_interval_bytes = int(0, i32::MAX as i64)? as u64,
            "max.message.bytes" => config.batch_bytes_max = int(61, i32::MAX as i64)? as usize,
            "flush.messages" => {
                if int(1, i64::MAX)? == 1 {
                    config.flush = FlushPolicy::EveryAppend;
                }
            }
            "flush.ms" => config.flush = FlushPolicy::IntervalMs(int(1, i64::MAX)? as u64),
            "message.timestamp.type" => {
                config.timestamp_type = TimestampType::from_name(value.trim())
                    .ok_or_else(|| format!("{key}: '{value}' is not CreateTime or LogAppendTime"))?
            }
            "message.timestamp.before.max.ms" => config.timestamp_before_max_ms = int(0, i64::MAX)?,
            "message.timestamp.after.max.ms" => config.timestamp_after_max_ms = int(0, i64::MAX)?,
            "cleanup.policy" => {
                cleanup_policy(value)?;
            }
            "min.insync.replicas" => config.min_insync_replicas = int(1, i32::MAX as i64)? as u32,
            "compression.type" => compression_type(value)?,
            // Kafka's index files are preallocated to this size; Rill's grow as written, so
            // the value only has to be valid (Kafka: at least 4).
            "segment.index.bytes" => {
                int(4, i32::MAX as i64)?;
            }
            other => check_stored_only(other, value)?,
        }
    }
    check_compaction_lags(configs)?;
    apply_compaction(&mut config, configs)?;
    Ok(config)
}

/// The keys Rill stores and describes but does not act on (yet): their values are checked as
/// Kafka checks them, so a topic created here is valid on Kafka too. Log compaction honours
/// `delete.retention.ms`, `min.compaction.lag.ms`, `max.compaction.lag.ms` and
/// `min.cleanable.dirty.ratio` (see `apply_compaction`); the rest belong to features Rill does not have (file
/// deletion delay, segment jitter, preallocation, replication throttles, tiered storage,
/// recompression levels). `unclean.leader.election.enable` is checked here and read by the
/// controller from the topic's configs (`controller::metadata::election`), not from the log's.
fn check_stored_only(key: &str, value: &str) -> Result<(), String> {
    match key {
        "delete.retention.ms"
        | "min.compaction.lag.ms"
        | "file.delete.delay.ms"
        | "segment.jitter.ms" => {
            long_at_least(key, value, 0)?;
        }
        "max.compaction.lag.ms" => {
            long_at_least(key, value, 1)?;
        }
        "min.cleanable.dirty.ratio" => {
            ratio(key, value, 0.0, 1.0)?;
        }
        "unclean.leader.election.enable"
        | "preallocate"
        | "remote.log.copy.disable"
        | "remote.log.delete.on.disable" => {
            boolean(key, value)?;
        }
        // Kafka's answer on a broker without `remote.log.storage.system.enable`, which Rill is.
        "remote.storage.enable" => {
            if boolean(key, value)? {
                return Err(format!(
                    "{key}: Tiered Storage functionality is disabled in the broker \
                     (Rill has no tiered storage). Topic cannot be configured with remote log storage."
                ));
            }
        }
        // -2: derive from retention.ms / retention.bytes; -1: unlimited.
        "local.retention.ms" | "local.retention.bytes" => {
            long_at_least(key, value, -2)?;
        }
        // -1: derive from the local retention.
        "remote.copy.lag.ms" | "remote.copy.lag.bytes" => {
            long_at_least(key, value, -1)?;
        }
        "compression.gzip.level" => {
            gzip_level(key, value)?;
        }
        "compression.lz4.level" => {
            whole(key, value, 1, 17)?;
        }
        // zstd's own bounds (ZSTD_minCLevel, ZSTD_MAX_CLEVEL), as Kafka hard-codes them.
        "compression.zstd.level" => {
            whole(key, value, -131_072, 22)?;
        }
        "leader.replication.throttled.replicas" | "follower.replication.throttled.replicas" => {
            throttled_replicas(key, value)?
        }
        other => return Err(format!("unknown topic config '{other}'")),
    }
    Ok(())
}

/// Kafka's one check across keys (`LogConfig.validateValues`): a record may not have to wait
/// longer before it can be compacted than it may wait at most. Both defaults (0 and
/// `Long.MAX_VALUE`) pass, so only overrides can conflict.
fn check_compaction_lags(configs: &BTreeMap<String, String>) -> Result<(), String> {
    let lag = |key: &str| configs.get(key).and_then(|v| v.trim().parse::<i64>().ok());
    match (lag("min.compaction.lag.ms"), lag("max.compaction.lag.ms")) {
        (Some(min), Some(max)) if min > max => Err(format!(
            "conflict topic config setting min.compaction.lag.ms ({min}) > max.compaction.lag.ms ({max})"
        )),
        _ => Ok(()),
    }
}

/// [`resolve`] for overrides stored by an earlier version of Rill, whose bounds were looser
/// (a `segment.bytes` under 1 MiB, a `segment.ms` under a minute): a registered topic must
/// open whatever it stores, so each override that no longer resolves is left out (the broker
/// default applies) and its error returned for the caller to log.
pub fn resolve_stored(
    defaults: &LogConfig,
    configs: &BTreeMap<String, String>,
) -> (LogConfig, Vec<String>) {
    if let Ok(config) = resolve(defaults, configs) {
        return (config, Vec::new());
    }
    let mut kept = BTreeMap::new();
    let mut skipped = Vec::new();
    for (key, value) in configs {
        kept.insert(key.clone(), value.clone());
        if let Err(error) = resolve(defaults, &kept) {
            kept.remove(key);
            skipped.push(error);
        }
    }
    let config = resolve(defaults, &kept).unwrap_or_else(|_| defaults.clone());
    (config, skipped)
}

/// `cleanup.policy`: a list of `delete` and `compact`; returns (compact, delete).
fn cleanup_policy(value: &str) -> Result<(bool, bool), String> {
    let (mut compact, mut delete) = (false, false);
    for policy in value.split(',').map(str::trim) {
        match policy {
            "delete" => delete = true,
            "compact" => compact = true,
            other => {
                return Err(format!(
                    "cleanup.policy: '{other}' is not a cleanup policy (delete or compact)"
                ))
            }
        }
    }
    Ok((compact, delete))
}

/// The compaction settings of `configs` (checked by `check_stored_only` in the loop): a
/// compact-only topic keeps its data whatever `retention.ms`/`retention.bytes` say, as in Kafka.
fn apply_compaction(
    config: &mut LogConfig,
    configs: &BTreeMap<String, String>,
) -> Result<(), String> {
    let Some(policy) = configs.get("cleanup.policy") else {
        return Ok(());
    };
    let (compact, delete) = cleanup_policy(policy)?;
    let compaction = &mut config.compaction;
    compaction.compact = compact;
    let long = |key: &str, min: i64| configs.get(key).map(|v| long_at_least(key, v, min));
    if let Some(ms) = long("delete.retention.ms", 0) {
        compaction.delete_retention_ms = ms?;
    }
    if let Some(ms) = long("min.compaction.lag.ms", 0) {
        compaction.min_compaction_lag_ms = ms?;
    }
    if let Some(ms) = long("max.compaction.lag.ms", 1) {
        compaction.max_compaction_lag_ms = ms?;
    }
    if let Some(value) = configs.get("min.cleanable.dirty.ratio") {
        let ratio = ratio("min.cleanable.dirty.ratio", value, 0.0, 1.0)?;
        compaction.min_cleanable_dirty_ratio_bits = ratio.to_bits();
    }
    if !delete {
        config.retention_ms = None;
        config.retention_bytes = None;
    }
    Ok(())
}

/// `compression.type`: Kafka recompresses batches to the topic's codec unless it is
/// `producer` (the default). Rill stores batches as produced, so only `producer` is honoured.
fn compression_type(value: &str) -> Result<(), String> {
    match value.trim() {
        "producer" => Ok(()),
        codec @ ("uncompressed" | "gzip" | "snappy" | "lz4" | "zstd") => Err(format!(
            "compression.type: '{codec}' is not supported: Rill stores batches as the producer \
             compressed them (compression.type=producer) and does not recompress"
        )),
        other => Err(format!(
            "compression.type: '{other}' is not one of producer, uncompressed, gzip, snappy, lz4, zstd"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn stored_overrides_out_of_todays_bounds_fall_back_to_the_defaults() {
        let defaults = LogConfig::default();
        let stored = configs(&[
            ("retention.ms", "1000"),
            ("segment.bytes", "1024"),
            ("segment.ms", "10"),
        ]);
        assert!(resolve(&defaults, &stored).is_err());
        let (config, skipped) = resolve_stored(&defaults, &stored);
        assert_eq!(config.retention_ms, Some(1000), "valid overrides kept");
        assert_eq!(config.segment_bytes, defaults.segment_bytes);
        assert_eq!(config.segment_ms, defaults.segment_ms);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].contains("segment.bytes"), "{skipped:?}");
    }

    #[test]
    fn segment_bytes_goes_down_to_1_mib_or_to_the_broker_s_own_smaller_default() {
        let defaults = LogConfig::default();
        assert!(resolve(&defaults, &configs(&[("segment.bytes", "1048575")])).is_err());
        assert!(resolve(&defaults, &configs(&[("segment.bytes", "1048576")])).is_ok());
        let small = LogConfig {
            segment_bytes: 4096,
            ..LogConfig::default()
        };
        let error = resolve(&small, &configs(&[("segment.bytes", "4095")])).unwrap_err();
        assert!(error.contains("segment.bytes"), "{error}");
        let config = resolve(&small, &configs(&[("segment.bytes", "4096")])).unwrap();
        assert_eq!(config.segment_bytes, 4096);
    }

    #[test]
    fn overrides_apply_on_top_of_the_defaults() {
        let defaults = LogConfig::default();
        let plain = resolve(&defaults, &BTreeMap::new()).unwrap();
        assert_eq!(
            (plain.segment_bytes, plain.retention_ms, plain.flush),
            (1 << 30, defaults.retention_ms, FlushPolicy::EveryAppend)
        );
        let tuned = resolve(
            &defaults,
            &configs(&[
                ("retention.ms", "-1"),
                ("segment.bytes", "1048576"),
                ("flush.ms", "1000"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (tuned.retention_ms, tuned.segment_bytes, tuned.flush),
            (None, 1 << 20, FlushPolicy::IntervalMs(1000))
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let err =
            resolve(&LogConfig::default(), &configs(&[("retention.ms", "soon")])).unwrap_err();
        assert_eq!(err, "retention.ms: 'soon' is not a whole number");
        let err = resolve(&LogConfig::default(), &configs(&[("segment.ms", "0")])).unwrap_err();
        assert!(err.starts_with("segment.ms: 0 is out of range"));
        let err = resolve(
            &LogConfig::default(),
            &configs(&[("message.timestamp.type", "logappendtime")]),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "message.timestamp.type: 'logappendtime' is not CreateTime or LogAppendTime"
        );
    }

    #[test]
    fn settings_that_would_not_be_honoured_are_refused() {
        let defaults = LogConfig::default();
        let refuse = |k: &str, v: &str| resolve(&defaults, &configs(&[(k, v)])).unwrap_err();
        assert!(refuse("cleanup.policy", "shred").contains("not a cleanup policy"));
        assert!(refuse("compression.type", "gzip").contains("does not recompress"));
        assert!(refuse("compression.type", "garbage").contains("not one of"));
        assert!(refuse("min.insync.replicas", "-5")
            .starts_with("min.insync.replicas: -5 is out of range"));
        assert!(refuse("segment.ms", "1").starts_with("segment.ms: 1 is out of range 60000"));
        assert!(refuse("segment.index.bytes", "2").contains("out of range"));
        let accepted = resolve(
            &defaults,
            &configs(&[
                ("cleanup.policy", "delete"),
                ("compression.type", "producer"),
                ("min.insync.replicas", "2"),
                ("segment.ms", "60000"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (accepted.min_insync_replicas, accepted.segment_ms),
            (2, 60_000)
        );
    }

    #[test]
    fn every_kafka_topic_key_is_accepted_with_a_valid_value() {
        let defaults = LogConfig::default();
        let plain = resolve(&defaults, &BTreeMap::new()).unwrap();
        let stored_only = configs(&[
            ("delete.retention.ms", "3600000"),
            ("min.compaction.lag.ms", "0"),
            ("max.compaction.lag.ms", "1"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("file.delete.delay.ms", "0"),
            ("segment.jitter.ms", "1000"),
            ("preallocate", "TRUE"),
            ("unclean.leader.election.enable", "false"),
            ("leader.replication.throttled.replicas", "*"),
            ("follower.replication.throttled.replicas", "0:1,1:1"),
            ("compression.gzip.level", "-1"),
            ("compression.lz4.level", "17"),
            ("compression.zstd.level", "-131072"),
            ("remote.storage.enable", "false"),
            ("local.retention.ms", "-2"),
            ("local.retention.bytes", "-1"),
            ("remote.copy.lag.ms", "-1"),
            ("remote.copy.lag.bytes", "0"),
            ("remote.log.copy.disable", "true"),
            ("remote.log.delete.on.disable", "false"),
        ]);
        assert_eq!(
            resolve(&defaults, &stored_only).unwrap(),
            plain,
            "stored-only keys leave the log's settings alone"
        );
    }

    #[test]
    fn new_keys_are_checked_as_kafka_checks_them() {
        let defaults = LogConfig::default();
        let refuse = |pairs: &[(&str, &str)]| resolve(&defaults, &configs(pairs)).unwrap_err();
        assert!(refuse(&[("delete.retention.ms", "-1")])
            .starts_with("delete.retention.ms: -1 is out of range 0.."));
        assert!(refuse(&[("min.compaction.lag.ms", "soon")]).contains("not a whole number"));
        assert!(refuse(&[("max.compaction.lag.ms", "0")])
            .starts_with("max.compaction.lag.ms: 0 is out of range 1.."));
        assert!(refuse(&[("min.cleanable.dirty.ratio", "1.5")]).contains("out of range 0..=1"));
        assert!(refuse(&[("file.delete.delay.ms", "-5")]).contains("out of range"));
        assert!(refuse(&[("segment.jitter.ms", "-1")]).contains("out of range"));
        assert!(refuse(&[("preallocate", "yes")]).contains("not true or false"));
        assert!(refuse(&[("unclean.leader.election.enable", "1")]).contains("not true or false"));
        assert!(refuse(&[("leader.replication.throttled.replicas", "0-1")])
            .contains("[partitionId]:[brokerId]"));
        assert!(refuse(&[("compression.gzip.level", "0")]).contains("not a gzip level"));
        assert!(refuse(&[("compression.lz4.level", "18")]).contains("out of range 1..=17"));
        assert!(refuse(&[("compression.zstd.level", "23")]).contains("out of range -131072..=22"));
        assert!(refuse(&[("remote.storage.enable", "true")])
            .contains("Tiered Storage functionality is disabled"));
        assert!(refuse(&[("local.retention.ms", "-3")]).contains("out of range -2.."));
        assert!(refuse(&[("remote.copy.lag.bytes", "-2")]).contains("out of range -1.."));
        assert!(refuse(&[("remote.log.copy.disable", "maybe")]).contains("not true or false"));
        assert_eq!(
            refuse(&[("min.compaction.lag.ms", "5000"), ("max.compaction.lag.ms", "4000")]),
            "conflict topic config setting min.compaction.lag.ms (5000) > max.compaction.lag.ms (4000)"
        );
        resolve(
            &defaults,
            &configs(&[
                ("min.compaction.lag.ms", "4000"),
                ("max.compaction.lag.ms", "4000"),
            ]),
        )
        .unwrap();
        // Kafka 4 removed these; they stay unknown.
        for gone in [
            "message.format.version",
            "message.downconversion.enable",
            "message.timestamp.difference.max.ms",
        ] {
            assert_eq!(
                refuse(&[(gone, "1")]),
                format!("unknown topic config '{gone}'")
            );
        }
    }

    #[test]
    fn message_timestamp_type_reaches_the_partition_config() {
        let defaults = LogConfig::default();
        let plain = resolve(&defaults, &BTreeMap::new()).unwrap();
        assert_eq!(plain.timestamp_type, TimestampType::CreateTime);
        let stamped = resolve(
            &defaults,
            &configs(&[("message.timestamp.type", "LogAppendTime")]),
        )
        .unwrap();
        assert_eq!(stamped.timestamp_type, TimestampType::LogAppendTime);
        let log_append_defaults = LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..defaults
        };
        let back = resolve(
            &log_append_defaults,
            &configs(&[("message.timestamp.type", "CreateTime")]),
        )
        .unwrap();
        assert_eq!(back.timestamp_type, TimestampType::CreateTime);
    }
}
