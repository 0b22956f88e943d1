//! Per-log tunables, named and defaulted like Kafka's topic configs.

use super::clean::CleanConfig;
use super::LogError;
use crate::storage::batch::HEADER_BYTES;

/// When appended bytes are fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FlushPolicy {
    /// Durable default: the caller acknowledges an append only after a sync covering it
    /// completed ([`super::Log::flush_due`] is true whenever anything is unsynced).
    EveryAppend,
    /// Sync when the oldest unsynced append is this old (Kafka's `flush.ms`).
    IntervalMs(u64),
    /// Never sync on the append path; leave it to the OS (Kafka's default). Rolled segments
    /// and `close` are still synced.
    Os,
}

/// Which time a batch's timestamps record (Kafka's `message.timestamp.type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TimestampType {
    /// Batches keep the timestamps their producer set (Kafka's default).
    #[default]
    CreateTime,
    /// The leader stamps every batch it appends with its own time (`now_ms`): consumers and
    /// time-based lookups see when the broker took the records, not when they were made.
    LogAppendTime,
}

impl TimestampType {
    /// The config value naming it (`CreateTime` / `LogAppendTime`).
    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }

    /// Parses a config value; Kafka's names, exactly.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "CreateTime" => Some(TimestampType::CreateTime),
            "LogAppendTime" => Some(TimestampType::LogAppendTime),
            _ => None,
        }
    }
}

/// Configuration of one partition log. `Default` matches Kafka's defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogConfig {
    /// Roll to a new segment before the active one would grow past this (`segment.bytes`).
    /// At most `i32::MAX`, because index entries store positions as u32.
    pub segment_bytes: u64,
    /// Roll when the active segment's first batch timestamp is this much older than the
    /// incoming batch (`segment.ms`).
    pub segment_ms: i64,
    /// Delete segments whose largest timestamp is older than this (`retention.ms`); `None`
    /// keeps them forever.
    pub retention_ms: Option<i64>,
    /// Delete oldest segments while the log is larger than this (`retention.bytes`).
    pub retention_bytes: Option<u64>,
    /// Bytes between two offset-index entries (`index.interval.bytes`): a read scans at most
    /// about this many bytes of headers after the index lookup.
    pub index_interval_bytes: u64,
    /// Largest single batch accepted (`max.message.bytes`).
    pub batch_bytes_max: usize,
    pub flush: FlushPolicy,
    /// Whether [`super::Log::append`] stamps batches with the append time
    /// (`message.timestamp.type`).
    pub timestamp_type: TimestampType,
    /// In-sync replicas an `acks=all` append needs (`min.insync.replicas`). The log itself
    /// ignores it; the partition refuses `acks=all` with NOT_ENOUGH_REPLICAS while fewer
    /// replicas are in sync, and its high watermark stays.
    pub min_insync_replicas: u32,
    /// The broker-level `unclean.leader.election.enable`: whether a partition with no in-sync
    /// or eligible replica left may elect another. The log ignores it, and a topic's own value
    /// never lands here: the controller reads that from the topic's configs, this one as its
    /// default ([`crate::controller::metadata::TopicDefaults`]).
    pub unclean_leader_election: bool,
    /// CreateTime records stamped more than this before the broker's clock are refused with
    /// INVALID_TIMESTAMP (`message.timestamp.before.max.ms`; Kafka's default: unbounded).
    pub timestamp_before_max_ms: i64,
    /// CreateTime records stamped more than this after the broker's clock are refused
    /// (`message.timestamp.after.max.ms`; Kafka 4.0's default: one hour, KIP-1030). Bounds how
    /// far a producer can push `segment.ms` rolls and time retention.
    pub timestamp_after_max_ms: i64,
    /// Log compaction: the topic's `cleanup.policy` and clean settings, and the broker's
    /// cleaner (`log.cleaner.*`). Last in the struct: postcard appends it to older encodings.
    pub compaction: Compaction,
}

/// The settings of log compaction for one log (Kafka's names; defaults are Kafka's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compaction {
    /// `cleanup.policy` contains `compact`: the cleaner keeps each key's latest record.
    pub compact: bool,
    /// `delete.retention.ms`: how long a tombstone outlives the records it removed.
    pub delete_retention_ms: i64,
    /// `min.cleanable.dirty.ratio`, as the bits of its `f64` (so the config stays `Eq`).
    pub min_cleanable_dirty_ratio_bits: u64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: i64,
    /// `log.cleaner.enable`: whether this broker cleans compacted logs at all.
    pub cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: how often a compacted log is checked for a clean.
    pub cleaner_backoff_ms: u64,
    /// `log.cleaner.io.max.bytes.per.second`: with the backoff, bounds the bytes one clean
    /// pins and reads (a clean cannot sleep inside the persist job that runs it).
    pub cleaner_io_max_bytes_per_second: u64,
    /// `log.cleaner.dedupe.buffer.size`: bounds the key map; a clean whose map would pass it
    /// cleans a prefix of the dirty segments, as Kafka does.
    pub cleaner_dedupe_buffer_bytes: u64,
}

impl Default for Compaction {
    fn default() -> Self {
        let clean = CleanConfig::default();
        Self {
            compact: false,
            delete_retention_ms: clean.delete_retention_ms,
            min_cleanable_dirty_ratio_bits: clean.min_cleanable_dirty_ratio.to_bits(),
            min_compaction_lag_ms: clean.min_compaction_lag_ms,
            max_compaction_lag_ms: clean.max_compaction_lag_ms,
            cleaner_enable: true,
            cleaner_backoff_ms: 15_000,
            // Kafka's default is Double.MAX_VALUE (unthrottled).
            cleaner_io_max_bytes_per_second: u64::MAX,
            cleaner_dedupe_buffer_bytes: 128 << 20,
        }
    }
}

impl Compaction {
    /// The topic settings a clean honours.
    pub fn clean_config(&self) -> CleanConfig {
        CleanConfig {
            delete_retention_ms: self.delete_retention_ms,
            min_cleanable_dirty_ratio: f64::from_bits(self.min_cleanable_dirty_ratio_bits),
            min_compaction_lag_ms: self.min_compaction_lag_ms,
            max_compaction_lag_ms: self.max_compaction_lag_ms,
        }
    }

    /// Whether the cleaner runs on this log.
    pub fn cleans(&self) -> bool {
        self.compact && self.cleaner_enable
    }

    /// Most bytes one clean may pin: `log.cleaner.io.max.bytes.per.second` × the backoff.
    pub fn job_bytes_max(&self) -> u64 {
        self.cleaner_io_max_bytes_per_second
            .saturating_mul(self.cleaner_backoff_ms)
            / 1000
    }
}

/// Kafka 4.0's `log.message.timestamp.after.max.ms` default: one hour.
pub const TIMESTAMP_AFTER_MAX_MS_DEFAULT: i64 = 60 * 60 * 1000;

/// Seven days, Kafka's `log.retention.hours` and `log.roll.hours` default.
pub const SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Largest segment: positions in the offset index are u32 and Kafka caps at `i32::MAX`.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// Smallest `segment.bytes` a client may set on a topic: 1 MiB, Kafka 4.0's minimum (KIP-1030;
/// Kafka 3.x allowed 14 bytes). Every roll syncs the finished segment and opens new files, so
/// a client-chosen 1 KiB segment made a roll (several fsyncs) of nearly every produce. The
/// operator's broker default `log.segment.bytes` may go down to [`LOG_SEGMENT_BYTES_MIN`].
pub const SEGMENT_BYTES_MIN: u64 = 1 << 20;
/// Smallest broker default `log.segment.bytes` (server config, set by the operator, not by
/// clients). Below Kafka 4.0's 1 MiB so tests and the simulator can roll segments often.
pub const LOG_SEGMENT_BYTES_MIN: u64 = 1024;
/// Shortest roll time (`segment.ms`, `log.roll.ms`): one minute, KIP-1030's floor (Kafka 3.x
/// allowed 1 ms). Every roll opens new files; a 1 ms roll time made a segment of every batch.
pub const SEGMENT_MS_MIN: i64 = 60_000;

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1 << 30,
            segment_ms: SEVEN_DAYS_MS,
            retention_ms: Some(SEVEN_DAYS_MS),
            retention_bytes: None,
            index_interval_bytes: 4096,
            batch_bytes_max: 1 << 20,
            flush: FlushPolicy::EveryAppend,
            timestamp_type: TimestampType::CreateTime,
            min_insync_replicas: 1,
            unclean_leader_election: false,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: TIMESTAMP_AFTER_MAX_MS_DEFAULT,
            compaction: Compaction::default(),
        }
    }
}

impl LogConfig {
    /// Rejects values the log cannot honour, with the reason.
    pub fn validate(&self) -> Result<(), LogError> {
        let bad = |reason| Err(LogError::InvalidConfig { reason });
        if self.segment_bytes < HEADER_BYTES as u64 || self.segment_bytes > SEGMENT_BYTES_MAX {
            return bad("segment_bytes must be between 61 and i32::MAX");
        }
        if self.segment_ms <= 0 {
            return bad("segment_ms must be positive");
        }
        if self.retention_ms.is_some_and(|ms| ms < 0) {
            return bad("retention_ms must not be negative (use None to keep forever)");
        }
        if self.batch_bytes_max < HEADER_BYTES || self.batch_bytes_max > i32::MAX as usize {
            return bad("batch_bytes_max must be between 61 and i32::MAX");
        }
        if self.index_interval_bytes > i32::MAX as u64 {
            return bad("index_interval_bytes must be at most i32::MAX");
        }
        Ok(())
    }
}
