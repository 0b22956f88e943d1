//! Whether a log is due for cleaning, and how far a clean may go (Kafka's
//! `LogCleanerManager.cleanableOffsets` and `grabFilthiestCompactedLog`).

use super::CleanConfig;

/// What planning needs to know about one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStat {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size_bytes: u64,
    /// Timestamp of the segment's first batch (-1 if unknown): the age of its oldest record,
    /// for `max.compaction.lag.ms`.
    pub first_timestamp_ms: i64,
    /// Largest batch timestamp in the segment (-1 if none), for `min.compaction.lag.ms`.
    pub max_timestamp_ms: i64,
}

/// The log's positions a clean must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanBounds {
    /// Records below were compacted by the previous clean (the cleaner checkpoint).
    pub first_dirty_offset: i64,
    /// Nothing at or above may be cleaned: the high watermark or last stable offset, and the
    /// recovery point (only synced segments are rewritten).
    pub upper_bound_offset: i64,
    pub now_ms: i64,
}

/// A clean to run: the first `segments` segments, ending at `cleanable_end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanPlan {
    pub segments: usize,
    /// The first uncleanable offset, on a segment boundary: the next clean's dirty start.
    pub cleanable_end: i64,
    pub dirty_bytes: u64,
    pub total_bytes: u64,
}

/// The clean `stats` (oldest first, the last one active) are due for, if any: the sealed
/// segments entirely below the first uncleanable offset, when their dirty part reaches
/// `min.cleanable.dirty.ratio` or holds a record older than `max.compaction.lag.ms`.
pub fn plan(stats: &[SegmentStat], bounds: &PlanBounds, config: &CleanConfig) -> Option<CleanPlan> {
    let (active, sealed) = stats.split_last()?;
    let too_young = |s: &SegmentStat| {
        config.min_compaction_lag_ms > 0
            && s.max_timestamp_ms > bounds.now_ms.saturating_sub(config.min_compaction_lag_ms)
    };
    let first_young = sealed
        .iter()
        .find(|s| too_young(s))
        .map_or(i64::MAX, |s| s.base_offset);
    let first_uncleanable = active
        .base_offset
        .min(bounds.upper_bound_offset)
        .min(first_young);
    let segments = sealed
        .iter()
        .take_while(|s| s.next_offset <= first_uncleanable)
        .count();
    let cleanable = &sealed[..segments];
    let last = cleanable.last()?;
    let dirty: Vec<&SegmentStat> = cleanable
        .iter()
        .filter(|s| s.next_offset > bounds.first_dirty_offset)
        .collect();
    let dirty_bytes: u64 = dirty.iter().map(|s| s.size_bytes).sum();
    let total_bytes: u64 = cleanable.iter().map(|s| s.size_bytes).sum();
    if dirty_bytes == 0 {
        return None;
    }
    let ratio = dirty_bytes as f64 / total_bytes as f64;
    let overdue = dirty.iter().any(|s| {
        s.first_timestamp_ms >= 0
            && bounds.now_ms.saturating_sub(s.first_timestamp_ms) > config.max_compaction_lag_ms
    });
    (ratio >= config.min_cleanable_dirty_ratio || overdue).then_some(CleanPlan {
        segments,
        cleanable_end: last.next_offset,
        dirty_bytes,
        total_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base_offset: i64, next_offset: i64, size_bytes: u64, ts: i64) -> SegmentStat {
        SegmentStat {
            base_offset,
            next_offset,
            size_bytes,
            first_timestamp_ms: ts,
            max_timestamp_ms: ts,
        }
    }

    fn bounds(first_dirty_offset: i64) -> PlanBounds {
        PlanBounds {
            first_dirty_offset,
            upper_bound_offset: i64::MAX,
            now_ms: 10_000,
        }
    }

    #[test]
    fn never_the_active_segment_nor_past_the_upper_bound() {
        let stats = [seg(0, 10, 100, 0), seg(10, 20, 100, 0), seg(20, 25, 50, 0)];
        let p = plan(&stats, &bounds(0), &CleanConfig::default()).expect("all dirty");
        assert_eq!((p.segments, p.cleanable_end), (2, 20));
        let hw = PlanBounds {
            upper_bound_offset: 15,
            ..bounds(0)
        };
        let p = plan(&stats, &hw, &CleanConfig::default()).expect("first segment");
        assert_eq!((p.segments, p.cleanable_end), (1, 10));
        assert_eq!(plan(&stats[2..], &bounds(0), &CleanConfig::default()), None);
    }

    #[test]
    fn dirty_ratio_and_max_lag_decide() {
        let stats = [seg(0, 10, 300, 0), seg(10, 20, 100, 0), seg(20, 20, 0, 0)];
        let config = CleanConfig::default();
        assert_eq!(plan(&stats, &bounds(10), &config), None, "25% < 50%");
        assert_eq!(plan(&stats, &bounds(20), &config), None, "nothing dirty");
        let low = CleanConfig {
            min_cleanable_dirty_ratio: 0.2,
            ..config
        };
        assert_eq!(
            plan(&stats, &bounds(10), &low).map(|p| p.dirty_bytes),
            Some(100)
        );
        let lag = CleanConfig {
            max_compaction_lag_ms: 5_000,
            ..config
        };
        assert!(plan(&stats, &bounds(10), &lag).is_some(), "overdue by lag");
    }

    #[test]
    fn min_lag_stops_at_the_first_young_segment() {
        let stats = [
            seg(0, 10, 100, 1_000),
            seg(10, 20, 100, 9_500),
            seg(20, 20, 0, 0),
        ];
        let config = CleanConfig {
            min_compaction_lag_ms: 1_000,
            ..CleanConfig::default()
        };
        let p = plan(&stats, &bounds(0), &config).expect("the old segment");
        assert_eq!(p.cleanable_end, 10);
    }

    /// Kafka applies `min.compaction.lag.ms` only when above 0: at 0 no segment is too young,
    /// even one whose records are stamped after the broker's clock.
    #[test]
    fn a_zero_min_lag_holds_back_no_segment_even_one_stamped_in_the_future() {
        let now = bounds(0).now_ms;
        let stats = [
            seg(0, 10, 100, now + 1),
            seg(10, 20, 100, now + 5_000),
            seg(20, 20, 0, 0),
        ];
        let config = CleanConfig {
            min_compaction_lag_ms: 0,
            ..CleanConfig::default()
        };
        let p = plan(&stats, &bounds(0), &config).expect("both sealed segments");
        assert_eq!((p.segments, p.cleanable_end), (2, 20));
    }
}
