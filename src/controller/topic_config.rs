//! Topic configs (`retention.ms`, `segment.bytes`, ...) resolved against the broker defaults
//! into the settings a partition log runs with. It sits with the topic registry because a
//! topic's configs are metadata: the topics actor resolves them when it creates a topic,
//! opens its logs or alters its configs.

use std::collections::BTreeMap;

use crate::storage::log::{
    FlushPolicy, LogConfig, TimestampType, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, SEGMENT_MS_MIN,
};

/// The broker default of the one list-valued topic key.
pub const CLEANUP_POLICY_DEFAULT: &str = "delete";

/// The topic keys whose value is a comma-separated list (IncrementalAlterConfigs APPEND and
/// SUBTRACT apply to them), each with the value it has when a topic does not override it.
pub const LIST_KEYS: &[(&str, &str)] = &[("cleanup.policy", CLEANUP_POLICY_DEFAULT)];

/// The default of a list-valued topic key; `None` for a key that holds no list.
pub fn list_default(key: &str) -> Option<&'static str> {
    LIST_KEYS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
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
        let int = |min: i64, max: i64| -> Result<i64, String> {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{key}: '{value}' is not a whole number"))?;
            if n < min || n > max {
                return Err(format!("{key}: {n} is out of range {min}..={max}"));
            }
            Ok(n)
        };
        match key.as_str() {
            "retention.ms" => config.retention_ms = Some(int(-1, i64::MAX)?).filter(|ms| *ms >= 0),
            "retention.bytes" => {
                config.retention_bytes = Some(int(-1, i64::MAX)?)
                    .filter(|b| *b >= 0)
                    .map(|b| b as u64)
            }
            "segment.bytes" => {
                config.segment_bytes =
                    int(SEGMENT_BYTES_MIN as i64, SEGMENT_BYTES_MAX as i64)? as u64
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
            "cleanup.policy" => cleanup_policy(value)?,
            "min.insync.replicas" => config.min_insync_replicas = int(1, i32::MAX as i64)? as u32,
            "compression.type" => compression_type(value)?,
            // Kafka's index files are preallocated to this size; Rill's grow as written, so
            // the value only has to be valid (Kafka: at least 4).
            "segment.index.bytes" => {
                int(4, i32::MAX as i64)?;
            }
            other => return Err(format!("unknown topic config '{other}'")),
        }
    }
    Ok(config)
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

/// `cleanup.policy`: a list of `delete` and `compact`. Only `delete` is honoured: a topic
/// asking for compaction would have its data deleted by time retention instead (a changelog
/// topic would lose every key after a week), so `compact` is refused until compaction exists.
fn cleanup_policy(value: &str) -> Result<(), String> {
    for policy in value.split(',').map(str::trim) {
        match policy {
            "delete" => {}
            "compact" => {
                return Err(format!(
                    "cleanup.policy: '{value}' is not supported: Rill has no log compaction yet, \
                     and time/size retention would delete the data a compacted topic keeps"
                ))
            }
            other => {
                return Err(format!(
                    "cleanup.policy: '{other}' is not a cleanup policy (delete or compact)"
                ))
            }
        }
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
        assert!(refuse("cleanup.policy", "compact").contains("no log compaction"));
        assert!(refuse("cleanup.policy", "delete,compact").contains("no log compaction"));
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
