//! Topic configs (`retention.ms`, `segment.bytes`, ...) resolved against the broker defaults
//! into the settings a partition log runs with.

use std::collections::BTreeMap;

use crate::storage::log::{FlushPolicy, LogConfig, TimestampType, SEGMENT_BYTES_MAX};

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
                config.segment_bytes = int(14, SEGMENT_BYTES_MAX as i64)?.max(1024) as u64
            }
            "segment.ms" => config.segment_ms = int(1, i64::MAX)?,
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
            // Accepted and reported, not acted on (yet): compaction, min ISR (one node),
            // compression (batches are stored as produced).
            "cleanup.policy"
            | "min.insync.replicas"
            | "compression.type"
            | "segment.index.bytes" => {}
            other => return Err(format!("unknown topic config '{other}'")),
        }
    }
    Ok(config)
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
