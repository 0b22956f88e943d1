//! The leader-epoch cache against a boring model: the leader epoch of every offset of the log.
//!
//! Random appends (each batch assigns its epoch at its base offset, as the log will), new
//! leaders (an epoch assigned at the log end with no record yet), truncations from the end and
//! from the start, and reloads from the checkpoint bytes (with the truncation to the log end a
//! reopen does) run on both. After every operation the cache must answer `end_offset_for` for
//! every epoch exactly as a scan of the model does, and keep its invariants. Separately, parsing
//! arbitrary bytes never panics, and whatever parses writes back to bytes that parse the same.

use proptest::prelude::*;
use rill::storage::log::epoch_cache::{EpochEndOffset, LeaderEpochCache, UNDEFINED_EPOCH};

/// The log as a list: `records[i]` is the epoch of offset `log_start + i`. `marker` is an epoch
/// assigned at the log end that has no record yet (a new leader's), newer than every record's.
#[derive(Debug, Default)]
struct Model {
    log_start: i64,
    records: Vec<i32>,
    marker: Option<i32>,
}

impl Model {
    fn log_end(&self) -> i64 {
        self.log_start + self.records.len() as i64
    }

    fn latest_epoch(&self) -> Option<i32> {
        self.marker.or(self.records.last().copied())
    }

    /// The answer by scanning: the largest epoch ≤ `requested` that holds a record (or is the
    /// latest), ending at the first offset of a larger epoch.
    fn end_offset_for(&self, requested: i32) -> EpochEndOffset {
        let Some(latest) = self.latest_epoch() else {
            return EpochEndOffset::UNDEFINED;
        };
        if requested == UNDEFINED_EPOCH || requested > latest {
            return EpochEndOffset::UNDEFINED;
        }
        if requested == latest {
            return EpochEndOffset {
                epoch: requested,
                end_offset: self.log_end(),
            };
        }
        // The marker is newer than `requested` here, and starts at the log end.
        let end_offset = self
            .records
            .iter()
            .position(|&e| e > requested)
            .map_or(self.log_end(), |i| self.log_start + i as i64);
        let floor = self
            .records
            .iter()
            .copied()
            .filter(|&e| e <= requested)
            .max();
        EpochEndOffset {
            epoch: floor.unwrap_or(requested),
            end_offset,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// A batch of `records` records in the latest epoch plus `bump`.
    Append { bump: i32, records: usize },
    /// A new leader: the latest epoch plus `bump` (≥ 1), assigned at the log end.
    NewLeader { bump: i32 },
    /// Truncate to this fraction of the way from the log start to the end.
    TruncateFromEnd { frac: f64 },
    /// Delete records below this fraction of the way from the log start to the end.
    TruncateFromStart { frac: f64 },
    /// Write the checkpoint and read it back; then, as a reopen does, truncate to the log end.
    Reload { reopen: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3i32, 1..5usize).prop_map(|(bump, records)| Op::Append { bump, records }),
        2 => (1..3i32).prop_map(|bump| Op::NewLeader { bump }),
        1 => (0.0..=1.0f64).prop_map(|frac| Op::TruncateFromEnd { frac }),
        1 => (0.0..=1.0f64).prop_map(|frac| Op::TruncateFromStart { frac }),
        1 => any::<bool>().prop_map(|reopen| Op::Reload { reopen }),
    ]
}

fn offset_at(model: &Model, frac: f64) -> i64 {
    model.log_start + (frac * model.records.len() as f64).floor() as i64
}

fn apply(op: &Op, model: &mut Model, cache: &mut LeaderEpochCache) {
    let next_epoch = |bump: i32| model.latest_epoch().map_or(bump, |e| e + bump);
    match *op {
        Op::Append { bump, records } => {
            let epoch = next_epoch(bump);
            cache.assign(epoch, model.log_end());
            model.records.extend(std::iter::repeat_n(epoch, records));
            model.marker = None;
        }
        Op::NewLeader { bump } => {
            let epoch = next_epoch(bump);
            assert!(
                cache.assign(epoch, model.log_end()),
                "a new epoch is always recorded"
            );
            model.marker = Some(epoch);
        }
        Op::TruncateFromEnd { frac } => {
            let to = offset_at(model, frac);
            cache.truncate_from_end(to);
            model.records.truncate((to - model.log_start) as usize);
            // An epoch starting at the log end starts at or after any truncation point.
            model.marker = None;
        }
        Op::TruncateFromStart { frac } => {
            let to = offset_at(model, frac);
            cache.truncate_from_start(to);
            let gone: Vec<i32> = model
                .records
                .drain(..(to - model.log_start) as usize)
                .collect();
            model.log_start = to;
            // The log's epoch outlives its records: an emptied log continues in the last one.
            if model.records.is_empty() && model.marker.is_none() {
                model.marker = gone.last().copied();
            }
        }
        Op::Reload { reopen } => {
            let reloaded = LeaderEpochCache::parse(&cache.to_bytes()).expect("own bytes parse");
            assert_eq!(&reloaded, cache, "round trip");
            *cache = reloaded;
            if reopen {
                cache.truncate_from_end(model.log_end());
                model.marker = None;
            }
        }
    }
}

fn check(model: &Model, cache: &LeaderEpochCache) {
    let entries = cache.entries();
    for pair in entries.windows(2) {
        assert!(
            pair[0].epoch < pair[1].epoch,
            "epochs increase: {entries:?}"
        );
        assert!(
            pair[0].start_offset < pair[1].start_offset,
            "offsets increase: {entries:?}"
        );
    }
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        assert!(
            first.start_offset >= model.log_start,
            "{entries:?} {model:?}"
        );
        assert!(
            last.start_offset <= model.log_end(),
            "{entries:?} {model:?}"
        );
    }
    assert_eq!(
        cache.latest_epoch(),
        model.latest_epoch(),
        "{entries:?} {model:?}"
    );
    let top = model.latest_epoch().unwrap_or(0);
    for requested in -2..=top + 2 {
        assert_eq!(
            cache.end_offset_for(requested, model.log_end()),
            model.end_offset_for(requested),
            "epoch {requested}: {entries:?} {model:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cache_answers_like_a_scan_of_the_log(ops in proptest::collection::vec(op(), 1..60)) {
        let mut model = Model::default();
        let mut cache = LeaderEpochCache::new();
        for op in &ops {
            apply(op, &mut model, &mut cache);
            check(&model, &cache);
        }
    }

    #[test]
    fn parse_of_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        round_trip_if_valid(&bytes);
    }

    /// Bytes near the format (digits, signs, spaces, newlines) reach the deeper checks.
    #[test]
    fn parse_of_near_valid_text_never_panics(text in "[0-9 +\\-\\r\\n]{0,64}") {
        round_trip_if_valid(text.as_bytes());
    }

    /// Valid headers over random entry lines: the entries and counts are what gets checked.
    #[test]
    fn parse_of_random_entries_never_panics(
        count in -1..6i32,
        lines in proptest::collection::vec("-?[0-9]{1,3} -?[0-9]{1,3}", 0..6),
    ) {
        let text = format!("0\n{count}\n{}", lines.join("\n"));
        let parsed = round_trip_if_valid(text.as_bytes());
        let non_negative = |line: &String| line.split(' ').all(|n| n.parse::<i64>().is_ok_and(|n| n >= 0));
        let valid = usize::try_from(count) == Ok(lines.len()) && lines.iter().all(non_negative);
        prop_assert_eq!(parsed, valid, "{:?}", text);
    }
}

/// Parses `bytes`; when they are valid, the cache holds its invariants and writes back to bytes
/// that parse to the same cache. Returns whether they were valid.
fn round_trip_if_valid(bytes: &[u8]) -> bool {
    let Ok(cache) = LeaderEpochCache::parse(bytes) else {
        return false;
    };
    for pair in cache.entries().windows(2) {
        assert!(pair[0].epoch < pair[1].epoch && pair[0].start_offset < pair[1].start_offset);
    }
    assert_eq!(LeaderEpochCache::parse(&cache.to_bytes()), Ok(cache));
    true
}
