//! What the group coordinator reads of the broker config, as plain values (built by
//! `ServerConfig::group_settings`; the role never sees the config itself).

/// The coordinator's settings, under Kafka's names; [`Default`] is Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSettings {
    /// `group.min.session.timeout.ms`: a JoinGroup asking for less gets INVALID_SESSION_TIMEOUT.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: a JoinGroup asking for more gets INVALID_SESSION_TIMEOUT.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long an Empty group waits for more members
    /// before its first rebalance completes (extended while members arrive).
    pub initial_rebalance_delay_ms: i32,
    /// `group.max.size`: members a classic group may hold (GROUP_MAX_SIZE_REACHED past it).
    pub max_size: i32,
    /// `offset.metadata.max.bytes`: a committed offset's metadata string may be this long;
    /// longer gets OFFSET_METADATA_TOO_LARGE for that partition.
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes`, in milliseconds: how long an offset outlives its group's
    /// last member (or, for a simple group, its commit).
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms`: how often expired offsets are looked for.
    pub offsets_retention_check_interval_ms: u64,
    /// `offsets.commit.timeout.ms`: how long a commit waits for its write to be acknowledged.
    pub offsets_commit_timeout_ms: i32,
    /// `group.consumer.*`: the KIP-848 consumer groups' settings.
    pub consumer: super::consumer::ConsumerSettings,
}

/// Kafka's `offsets.retention.minutes` default: 7 days.
pub const OFFSETS_RETENTION_MINUTES_DEFAULT: i64 = 10_080;

impl Default for GroupSettings {
    fn default() -> Self {
        Self {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX,
            offset_metadata_max_bytes: 4_096,
            offsets_retention_ms: OFFSETS_RETENTION_MINUTES_DEFAULT * 60_000,
            offsets_retention_check_interval_ms: 600_000,
            offsets_commit_timeout_ms: 5_000,
            consumer: super::consumer::ConsumerSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_kafkas() {
        let s = GroupSettings::default();
        assert_eq!(
            (s.min_session_timeout_ms, s.max_session_timeout_ms),
            (6_000, 1_800_000)
        );
        assert_eq!(s.initial_rebalance_delay_ms, 3_000);
        assert_eq!(s.max_size, i32::MAX);
        assert_eq!(s.offset_metadata_max_bytes, 4_096);
        assert_eq!(s.offsets_retention_ms, 7 * 24 * 3_600_000);
        assert_eq!(s.offsets_retention_check_interval_ms, 600_000);
        assert_eq!(s.offsets_commit_timeout_ms, 5_000);
    }
}
