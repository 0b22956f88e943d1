//! Retention (by time, by size, by log start offset) and DeleteRecords.
//!
//! Only whole segments are deleted, oldest first. Nothing is written here: the segments leave
//! the log at once (reads never see them again) and the new log start and the file removals go
//! into the next flush job, the checkpoint first ([`super::durability`]), so a crash never
//! brings back offsets a durable log start excludes, nor leaves a log start pointing into
//! removed data. Until that job completed, [`Log::durable_log_start`] lags behind.

use super::{Log, LogError};

/// What retention needs to know about one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentStat {
    pub next_offset: i64,
    pub size_bytes: u64,
    pub largest_timestamp_ms: i64,
}

/// Retention rules, as in Kafka's `deleteOldSegments`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<u64>,
    pub now_ms: i64,
    pub log_start_offset: i64,
    /// Only segments ending at or below this may go (the high watermark).
    pub upper_bound_offset: i64,
}

/// How many of the oldest segments (`stats`, oldest first, last = active) to delete: the
/// longest prefix breaching any rule. Empty segments and segments reaching past the upper
/// bound are never deleted.
pub(crate) fn deletable_prefix(stats: &[SegmentStat], rules: &Rules) -> usize {
    // Below the log start: every segment but the active one that ends at or before it.
    let by_start = prefix_len(stats, rules, |i, s| {
        i + 1 < stats.len() && s.next_offset <= rules.log_start_offset
    });
    let by_time = rules.retention_ms.map_or(0, |retention_ms| {
        prefix_len(stats, rules, |_, s| {
            rules.now_ms.saturating_sub(s.largest_timestamp_ms) > retention_ms
        })
    });
    let total_bytes: u64 = stats.iter().map(|s| s.size_bytes).sum();
    let by_size = match rules.retention_bytes {
        Some(max) if total_bytes > max => {
            let mut excess = total_bytes - max;
            prefix_len(stats, rules, |_, s| {
                let breach = s.size_bytes <= excess;
                if breach {
                    excess -= s.size_bytes;
                }
                breach
            })
        }
        _ => 0,
    };
    by_start.max(by_time).max(by_size)
}

/// Length of the prefix of eligible segments for which `breach` holds.
fn prefix_len(
    stats: &[SegmentStat],
    rules: &Rules,
    mut breach: impl FnMut(usize, &SegmentStat) -> bool,
) -> usize {
    let eligible = |s: &SegmentStat| s.size_bytes > 0 && s.next_offset <= rules.upper_bound_offset;
    stats
        .iter()
        .enumerate()
        .take_while(|(i, s)| eligible(s) && breach(*i, s))
        .count()
}

impl Log {
    /// Applies `retention_ms` / `retention_bytes` / the log start offset; returns how many
    /// segments were deleted. If every segment goes, the active one is rolled first, so a new
    /// empty segment continues at the log end offset.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        self.enforce_retention_below(now_ms, i64::MAX)
    }

    /// [`Log::enforce_retention`] that never deletes offsets at or above
    /// `upper_bound_offset` (pass the high watermark: Kafka keeps unreplicated data).
    pub fn enforce_retention_below(
        &mut self,
        now_ms: i64,
        upper_bound_offset: i64,
    ) -> Result<usize, LogError> {
        self.check_usable()?;
        if self.swap_in_flight {
            return Ok(0); // the next check, after the swap, deletes them
        }
        let stats: Vec<SegmentStat> = self
            .segments
            .values()
            .map(|s| SegmentStat {
                next_offset: s.next_offset,
                size_bytes: s.size_bytes,
                largest_timestamp_ms: s.largest_timestamp_ms(),
            })
            .collect();
        let rules = Rules {
            retention_ms: self.config.retention_ms,
            retention_bytes: self.config.retention_bytes,
            now_ms,
            log_start_offset: self.log_start_offset,
            upper_bound_offset,
        };
        let count = deletable_prefix(&stats, &rules);
        if count == 0 {
            return Ok(0);
        }
        let result = self.delete_oldest(count, now_ms);
        self.poison_on_failure(result).map(|()| count)
    }

    fn delete_oldest(&mut self, count: usize, now_ms: i64) -> Result<(), LogError> {
        if count >= self.segments.len() {
            self.roll_now(now_ms)?;
        }
        let keep_base = *self
            .segments
            .keys()
            .nth(count)
            .expect("the active segment is kept");
        if keep_base > self.log_start_offset {
            self.move_log_start(keep_base);
        }
        for _ in 0..count {
            let (_, segment) = self.segments.pop_first().expect("counted above");
            self.durability.remove_segment(segment.paths());
        }
        self.durability.removed_below(keep_base);
        Ok(())
    }

    /// Kafka's DeleteRecords: moves the log start offset up to `offset` and drops the segments
    /// entirely below it; both become durable with the next flush job (the caller answers once
    /// [`Log::durable_log_start`] reached it). Returns the new log start offset. `offset` above the
    /// log end is `OffsetOutOfRange`; at or below the current start it is a no-op.
    pub fn delete_records_before(&mut self, offset: i64, now_ms: i64) -> Result<i64, LogError> {
        self.check_usable()?;
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        if offset > self.log_end_offset() {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            });
        }
        self.move_log_start(offset);
        let below = self
            .segments
            .values()
            .take_while(|s| s.next_offset <= offset)
            .count();
        let count = below.min(self.segments.len() - 1);
        // While a clean's swap runs the segments stay; retention removes them after it
        // (they are below the log start, which reads already honour).
        if count > 0 && !self.swap_in_flight {
            let result = self.delete_oldest(count, now_ms);
            self.poison_on_failure(result)?;
        }
        Ok(self.log_start_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(next_offset: i64, size_bytes: u64, largest_timestamp_ms: i64) -> SegmentStat {
        SegmentStat {
            next_offset,
            size_bytes,
            largest_timestamp_ms,
        }
    }

    fn rules() -> Rules {
        Rules {
            retention_ms: None,
            retention_bytes: None,
            now_ms: 1_000,
            log_start_offset: 0,
            upper_bound_offset: i64::MAX,
        }
    }

    #[test]
    fn nothing_configured_deletes_nothing() {
        let stats = [stat(10, 100, 0), stat(20, 100, 0)];
        assert_eq!(deletable_prefix(&stats, &rules()), 0);
    }

    #[test]
    fn time_retention_deletes_the_expired_prefix_including_a_full_active_segment() {
        let stats = [
            stat(10, 100, 100),
            stat(20, 100, 700),
            stat(30, 100, 200),
            stat(40, 100, 950),
        ];
        let r = Rules {
            retention_ms: Some(400),
            ..rules()
        };
        // Stops at the first unexpired segment even if a later one is older (Kafka does too).
        assert_eq!(deletable_prefix(&stats, &r), 1);
        let all_old = [stat(10, 100, 100), stat(20, 100, 100)];
        assert_eq!(deletable_prefix(&all_old, &r), 2);
        let empty_active = [stat(10, 100, 100), stat(10, 0, 0)];
        assert_eq!(
            deletable_prefix(&empty_active, &r),
            1,
            "an empty active segment stays"
        );
    }

    /// Kafka's rule is strictly older than `retention.ms`: a segment exactly that old stays.
    #[test]
    fn a_segment_exactly_retention_ms_old_stays() {
        let r = Rules {
            retention_ms: Some(400),
            ..rules()
        };
        let at_limit = [stat(10, 100, 600), stat(20, 100, 1_000)];
        assert_eq!(deletable_prefix(&at_limit, &r), 0);
        let past_it = [stat(10, 100, 599), stat(20, 100, 1_000)];
        assert_eq!(deletable_prefix(&past_it, &r), 1);
    }

    #[test]
    fn size_retention_deletes_while_the_rest_still_exceeds_the_limit() {
        let stats = [stat(10, 100, 0), stat(20, 100, 0), stat(30, 100, 0)];
        let r = |max| Rules {
            retention_bytes: Some(max),
            ..rules()
        };
        // Under the limit (no excess to compute) and exactly at it: nothing goes.
        assert_eq!(deletable_prefix(&stats, &r(400)), 0);
        assert_eq!(deletable_prefix(&stats, &r(300)), 0);
        assert_eq!(
            deletable_prefix(&stats, &r(250)),
            0,
            "50 bytes over: the oldest 100 stay"
        );
        assert_eq!(deletable_prefix(&stats, &r(200)), 1);
        assert_eq!(deletable_prefix(&stats, &r(150)), 1);
        assert_eq!(deletable_prefix(&stats, &r(0)), 3);
    }

    #[test]
    fn log_start_and_upper_bound() {
        let stats = [stat(10, 100, 0), stat(20, 100, 0), stat(30, 100, 0)];
        let r = Rules {
            log_start_offset: 25,
            ..rules()
        };
        assert_eq!(deletable_prefix(&stats, &r), 2);
        let r = Rules {
            log_start_offset: 30,
            ..rules()
        };
        assert_eq!(
            deletable_prefix(&stats, &r),
            2,
            "never the active segment by log start"
        );
        let r = Rules {
            retention_bytes: Some(0),
            upper_bound_offset: 15,
            ..rules()
        };
        assert_eq!(
            deletable_prefix(&stats, &r),
            1,
            "nothing at or above the high watermark"
        );
    }
}
