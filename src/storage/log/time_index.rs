//! The time index: which offset to start scanning from to find a timestamp.
//!
//! Entry (12 bytes): `timestamp i64` (the largest batch `maxTimestamp` seen so far in the
//! segment), `relative_offset u32` (base offset − segment base of the *first* batch that
//! reached that timestamp). Entries are added next to offset-index entries, only when the
//! timestamp grew, plus one final entry when a segment is rolled or closed, so the last entry
//! of a sealed segment is its largest timestamp. Every batch before an entry's offset has a
//! smaller `maxTimestamp` than the entry's, which is what makes the lookup below safe.

use super::index::Entry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp_ms: i64,
    pub relative_offset: u32,
}

impl Entry for TimeEntry {
    const BYTES: usize = 12;

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        Self {
            timestamp_ms: i64::from_be_bytes(ts),
            relative_offset: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// Relative offset to start scanning from for the first batch with `maxTimestamp >=
/// timestamp_ms`: the offset of the last entry whose timestamp is ≤ the target, or `None`
/// (scan from the segment start).
pub(crate) fn lookup_offset(entries: &[TimeEntry], timestamp_ms: i64) -> Option<u32> {
    let after = entries.partition_point(|e| e.timestamp_ms <= timestamp_ms);
    (after > 0).then(|| entries[after - 1].relative_offset)
}

/// Whether `entry` may be appended after `entries`: timestamps strictly grow (and start above
/// "no timestamp", -1).
pub(crate) fn should_append(entries: &[TimeEntry], timestamp_ms: i64) -> bool {
    timestamp_ms
        > entries
            .last()
            .map_or(crate::storage::batch::NO_TIMESTAMP, |e| e.timestamp_ms)
}

/// Sanity check of a loaded time index: timestamps strictly increase, offsets never decrease
/// and stay below `next_relative`.
pub(crate) fn check_time_entries(entries: &[TimeEntry], next_relative: u64) -> bool {
    let monotonic = entries.windows(2).all(|w| {
        w[0].timestamp_ms < w[1].timestamp_ms && w[0].relative_offset <= w[1].relative_offset
    });
    let inside = entries
        .last()
        .is_none_or(|e| (e.relative_offset as u64) < next_relative);
    monotonic && inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(timestamp_ms: i64, relative_offset: u32) -> TimeEntry {
        TimeEntry {
            timestamp_ms,
            relative_offset,
        }
    }

    #[test]
    fn lookup_edges() {
        assert_eq!(lookup_offset(&[], 5), None);
        let entries = [t(100, 0), t(200, 5), t(300, 9)];
        assert_eq!(lookup_offset(&entries, 50), None, "before the first entry");
        assert_eq!(lookup_offset(&entries, 100), Some(0), "exact hit");
        assert_eq!(lookup_offset(&entries, 250), Some(5), "between");
        assert_eq!(lookup_offset(&entries, 10_000), Some(9), "past the last");
    }

    #[test]
    fn append_rule_and_sanity() {
        assert!(!should_append(&[], -1));
        assert!(should_append(&[], 0));
        assert!(!should_append(&[t(10, 0)], 10));
        assert!(should_append(&[t(10, 0)], 11));
        assert!(check_time_entries(&[t(1, 0), t(2, 0), t(3, 4)], 5));
        assert!(!check_time_entries(&[t(2, 0), t(2, 1)], 5));
        assert!(!check_time_entries(&[t(1, 3), t(2, 1)], 5));
        assert!(!check_time_entries(&[t(1, 5)], 5));
        let mut out = Vec::new();
        t(-7, 3).encode(&mut out);
        assert_eq!(TimeEntry::decode(&out), t(-7, 3));
    }
}
