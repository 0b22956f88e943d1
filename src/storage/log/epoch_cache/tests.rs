//! One test per Kafka rule of `LeaderEpochFileCache` / `LeaderEpochCheckpointFile`; the model
//! proptest is `tests/epoch_cache_proptest.rs`.

use super::*;

/// A cache holding exactly `entries` (each assigned in order, so they must increase).
fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
    let mut cache = LeaderEpochCache::new();
    for &(epoch, start) in entries {
        assert!(
            cache.assign(epoch, start),
            "({epoch}, {start}) was not assigned"
        );
    }
    cache
}

fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
    cache
        .entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect()
}

fn answer(epoch: i32, end_offset: i64) -> EpochEndOffset {
    EpochEndOffset { epoch, end_offset }
}

// ---- assign ----

#[test]
fn assign_records_each_new_epoch_with_its_start() {
    let c = cache(&[(0, 0), (2, 7), (5, 100)]);
    assert_eq!(pairs(&c), [(0, 0), (2, 7), (5, 100)]);
    assert_eq!(c.latest_epoch(), Some(5));
    assert_eq!(LeaderEpochCache::new().latest_epoch(), None);
}

/// Kafka `isUpdateNeeded`: every batch of an epoch is assigned; only the first offset counts.
#[test]
fn assign_of_the_latest_epoch_at_a_later_offset_changes_nothing() {
    let mut c = cache(&[(1, 0), (2, 5)]);
    assert!(!c.assign(2, 5));
    assert!(!c.assign(2, 9));
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);
}

/// Kafka `isUpdateNeeded` + `maybeTruncateNonMonotonicEntries`: the latest epoch assigned at an
/// earlier offset moves its start there.
#[test]
fn assign_of_the_latest_epoch_at_an_earlier_offset_moves_its_start() {
    let mut c = cache(&[(1, 0), (2, 5)]);
    assert!(c.assign(2, 3));
    assert_eq!(pairs(&c), [(1, 0), (2, 3)]);
}

/// Kafka PR 5678 (back-to-back elections): each new leader assigns its epoch at its log end; an
/// epoch that got no record before the next one started is replaced, so offsets keep strictly
/// increasing and the earlier epoch's end is where its records end.
#[test]
fn a_new_epoch_at_the_same_start_replaces_the_empty_one() {
    let mut c = cache(&[(1, 0), (2, 5)]);
    assert!(c.assign(3, 5));
    assert_eq!(pairs(&c), [(1, 0), (3, 5)]);
    assert_eq!(c.end_offset_for(2, 5), answer(1, 5));
}

/// Kafka `maybeTruncateNonMonotonicEntries`: entries at the end with an epoch ≥ the new one or a
/// start ≥ the new one are dropped before it is added (a stale epoch is not ignored: the log
/// was rewritten below the later epochs).
#[test]
fn assign_drops_later_entries_that_would_break_monotonicity() {
    let mut c = cache(&[(1, 0), (3, 10)]);
    assert!(c.assign(2, 5));
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);

    let mut c = cache(&[(1, 0), (3, 10)]);
    assert!(c.assign(2, 15));
    assert_eq!(pairs(&c), [(1, 0), (2, 15)]);

    let mut c = cache(&[(1, 0), (2, 10), (3, 20)]);
    assert!(c.assign(4, 5));
    assert_eq!(pairs(&c), [(1, 0), (4, 5)]);
}

/// Kafka throws on a negative entry and its callers skip batches stamped
/// `NO_PARTITION_LEADER_EPOCH` (-1); here they assign nothing.
#[test]
fn assign_ignores_negative_epochs_and_offsets() {
    let mut c = cache(&[(1, 0)]);
    assert!(!c.assign(-1, 5));
    assert!(!c.assign(2, -1));
    assert_eq!(pairs(&c), [(1, 0)]);
}

#[test]
fn assign_past_the_bound_forgets_the_oldest_epoch() {
    let max = LEADER_EPOCH_ENTRIES_MAX as i32;
    let mut c = LeaderEpochCache::new();
    for epoch in 0..=max {
        assert!(c.assign(epoch, i64::from(epoch) * 10));
    }
    assert_eq!(c.entries().len(), LEADER_EPOCH_ENTRIES_MAX);
    assert_eq!(
        c.entries()[0],
        EpochEntry {
            epoch: 1,
            start_offset: 10
        }
    );
    assert_eq!(c.latest_epoch(), Some(max));
}

// ---- truncate_from_end ----

/// Kafka `truncateFromEnd`: every epoch starting at or after the new log end goes.
#[test]
fn truncate_from_end_drops_epochs_starting_at_or_after_the_end() {
    let mut c = cache(&[(1, 0), (2, 5), (3, 10)]);
    assert!(c.truncate_from_end(10));
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);
    assert!(!c.truncate_from_end(6), "epoch 2 still has offset 5");
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);
    assert!(c.truncate_from_end(5));
    assert_eq!(pairs(&c), [(1, 0)]);
    assert!(c.truncate_from_end(0));
    assert!(c.is_empty());
}

/// Kafka `truncateFromEnd` only acts for `endOffset >= 0`.
#[test]
fn truncate_from_end_ignores_a_negative_offset() {
    let mut c = cache(&[(1, 0), (2, 5)]);
    assert!(!c.truncate_from_end(-1));
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);
}

/// Kafka's log loading calls `truncateFromEnd(logEndOffset)`: a new leader's entry at the log
/// end (no record yet) does not survive a reopen.
#[test]
fn truncating_to_the_log_end_drops_an_epoch_without_records() {
    let mut c = cache(&[(1, 0), (2, 8)]);
    assert!(c.truncate_from_end(8));
    assert_eq!(pairs(&c), [(1, 0)]);
}

// ---- truncate_from_start ----

/// Kafka `truncateFromStart`: epochs that end at or before the new log start go, and the epoch
/// the new first record belongs to now starts at the log start.
#[test]
fn truncate_from_start_moves_the_first_kept_epoch_to_the_log_start() {
    let mut c = cache(&[(1, 0), (2, 5), (3, 10)]);
    assert!(c.truncate_from_start(7));
    assert_eq!(pairs(&c), [(2, 7), (3, 10)]);
    assert!(c.truncate_from_start(12));
    assert_eq!(pairs(&c), [(3, 12)]);
}

/// Kafka's doc: "exclusive: truncateFromStart(6) will retain an entry at offset 6".
#[test]
fn truncate_from_start_keeps_an_epoch_starting_exactly_there() {
    let mut c = cache(&[(1, 0), (2, 5), (3, 10)]);
    assert!(c.truncate_from_start(5));
    assert_eq!(pairs(&c), [(2, 5), (3, 10)]);
    assert!(!c.truncate_from_start(5), "nothing left to change");
}

#[test]
fn truncate_from_start_below_the_first_epoch_changes_nothing() {
    let mut c = cache(&[(1, 4), (2, 9)]);
    assert!(!c.truncate_from_start(3));
    assert!(!c.truncate_from_start(-1));
    assert_eq!(pairs(&c), [(1, 4), (2, 9)]);
    assert!(!LeaderEpochCache::new().truncate_from_start(10));
}

/// DeleteRecords up to the log end keeps the latest epoch, now starting at the (empty) log's
/// start, so the next append of that epoch assigns nothing new.
#[test]
fn truncate_from_start_at_the_log_end_keeps_the_latest_epoch() {
    let mut c = cache(&[(1, 0), (2, 5)]);
    assert!(c.truncate_from_start(9));
    assert_eq!(pairs(&c), [(2, 9)]);
    assert!(!c.assign(2, 9));
}

// ---- end_offset_for (Kafka `endOffsetFor`, OffsetForLeaderEpoch) ----

#[test]
fn end_offset_for_answers_as_kafka() {
    let c = cache(&[(1, 0), (3, 10), (5, 20)]);
    let leo = 25;
    // UNDEFINED_EPOCH asked (bootstrapping follower): undefined.
    assert_eq!(
        c.end_offset_for(UNDEFINED_EPOCH, leo),
        EpochEndOffset::UNDEFINED
    );
    // The latest epoch ends at the log end.
    assert_eq!(c.end_offset_for(5, leo), answer(5, 25));
    // Larger than every epoch: undefined.
    assert_eq!(c.end_offset_for(6, leo), EpochEndOffset::UNDEFINED);
    // A known epoch ends where the next one starts.
    assert_eq!(c.end_offset_for(1, leo), answer(1, 10));
    assert_eq!(c.end_offset_for(3, leo), answer(3, 20));
    // An unknown epoch between two: the largest epoch below it, ending where the next starts.
    assert_eq!(c.end_offset_for(2, leo), answer(1, 10));
    assert_eq!(c.end_offset_for(4, leo), answer(3, 20));
    // Below the first epoch: the requested epoch, ending where the first one starts.
    assert_eq!(c.end_offset_for(0, leo), answer(0, 0));
}

#[test]
fn end_offset_for_an_empty_cache_is_undefined() {
    let c = LeaderEpochCache::new();
    assert_eq!(c.end_offset_for(0, 10), EpochEndOffset::UNDEFINED);
    assert_eq!(
        c.end_offset_for(UNDEFINED_EPOCH, 10),
        EpochEndOffset::UNDEFINED
    );
}

/// After retention the first epoch's answer ends at the next epoch and a request for a deleted
/// epoch points at the log start, from where the follower must fetch.
#[test]
fn end_offset_for_after_truncate_from_start() {
    let mut c = cache(&[(1, 0), (3, 10), (5, 20)]);
    c.truncate_from_start(12);
    assert_eq!(c.end_offset_for(1, 25), answer(1, 12));
    assert_eq!(c.end_offset_for(3, 25), answer(3, 20));
}

// ---- the checkpoint file ----

#[test]
fn to_bytes_writes_kafkas_text_format() {
    let c = cache(&[(1, 0), (3, 10)]);
    assert_eq!(c.to_bytes(), b"0\n2\n1 0\n3 10\n");
    assert_eq!(LeaderEpochCache::new().to_bytes(), b"0\n0\n");
}

/// The example in Kafka's `LeaderEpochCheckpointFile` doc.
#[test]
fn parse_reads_kafkas_file() {
    let c = LeaderEpochCache::parse(b"0\n2\n0 1\n1 2\n").unwrap();
    assert_eq!(pairs(&c), [(0, 1), (1, 2)]);
    let c = LeaderEpochCache::parse(b"0\r\n1\r\n4 9\r\n").unwrap();
    assert_eq!(
        pairs(&c),
        [(4, 9)],
        "Java's readLine also ends lines at \\r\\n"
    );
    let c = LeaderEpochCache::parse(b"0\n1\n4 9").unwrap();
    assert_eq!(pairs(&c), [(4, 9)], "no newline after the last line");
}

/// Kafka's `CheckpointReadBuffer` returns no entries for an empty file or one without a count.
#[test]
fn parse_of_an_empty_or_headless_file_is_empty() {
    for bytes in [&b""[..], b"0", b"0\n"] {
        let c = LeaderEpochCache::parse(bytes).unwrap();
        assert!(c.is_empty(), "{bytes:?}");
    }
}

/// Kafka's constructor assigns the file's entries in order, which repairs a non-monotonic file.
#[test]
fn parse_assigns_entries_in_file_order() {
    let c = LeaderEpochCache::parse(b"0\n3\n1 0\n3 10\n2 5\n").unwrap();
    assert_eq!(pairs(&c), [(1, 0), (2, 5)]);
}

#[test]
fn parse_refuses_bad_files_with_the_reason() {
    use EpochCheckpointError as E;
    let cases: &[(&[u8], E)] = &[
        (b"1\n0\n", E::UnsupportedVersion { version: 1 }),
        (
            b"\n",
            E::Malformed {
                line: 1,
                reason: "expected a decimal number",
            },
        ),
        (
            b" 0\n0\n",
            E::Malformed {
                line: 1,
                reason: "expected a decimal number",
            },
        ),
        (
            b"0\nx\n",
            E::Malformed {
                line: 2,
                reason: "expected a decimal number",
            },
        ),
        (
            b"0\n-1\n",
            E::Malformed {
                line: 2,
                reason: "negative entry count",
            },
        ),
        (
            b"0\n3\n0 1\n",
            E::FewerEntriesThanDeclared {
                declared: 3,
                found: 1,
            },
        ),
        (
            b"0\n1\n0 1\n1 2\n",
            E::MoreEntriesThanDeclared { declared: 1 },
        ),
        (
            b"0\n1\n0\n",
            E::Malformed {
                line: 3,
                reason: "expected an epoch and a start offset",
            },
        ),
        (
            b"0\n1\n0 1 2\n",
            E::Malformed {
                line: 3,
                reason: "expected an epoch and a start offset",
            },
        ),
        (
            b"0\n1\n\n",
            E::Malformed {
                line: 3,
                reason: "expected an epoch and a start offset",
            },
        ),
        (
            b"0\n1\nx 1\n",
            E::Malformed {
                line: 3,
                reason: "epoch is not an i32",
            },
        ),
        (
            b"0\n1\n2147483648 1\n",
            E::Malformed {
                line: 3,
                reason: "epoch is not an i32",
            },
        ),
        (
            b"0\n1\n1 9223372036854775808\n",
            E::Malformed {
                line: 3,
                reason: "start offset is not an i64",
            },
        ),
        (
            b"0\n1\n\xff 1\n",
            E::Malformed {
                line: 3,
                reason: "not text",
            },
        ),
        (
            b"0\n1\n-1 5\n",
            E::NegativeEntry {
                line: 3,
                epoch: -1,
                start_offset: 5,
            },
        ),
        (
            b"0\n1\n1 -5\n",
            E::NegativeEntry {
                line: 3,
                epoch: 1,
                start_offset: -5,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            LeaderEpochCache::parse(bytes).as_ref(),
            Err(expected),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// A declared count is never trusted: one beyond the bound is refused before any entry is
/// read, and one beyond the lines present is refused after reading them (nothing is sized by it).
#[test]
fn parse_refuses_a_count_it_cannot_hold() {
    assert_eq!(
        LeaderEpochCache::parse(b"0\n2147483647\n0 1\n"),
        Err(EpochCheckpointError::TooManyEntries {
            declared: i32::MAX,
            max: LEADER_EPOCH_ENTRIES_MAX,
        })
    );
    assert_eq!(
        LeaderEpochCache::parse(b"0\n65536\n0 1\n"),
        Err(EpochCheckpointError::FewerEntriesThanDeclared {
            declared: 65_536,
            found: 1,
        })
    );
}

#[test]
fn parse_refuses_oversized_input_before_reading_it() {
    let bytes = vec![b'0'; CHECKPOINT_BYTES_MAX + 1];
    assert_eq!(
        LeaderEpochCache::parse(&bytes),
        Err(EpochCheckpointError::TooLarge {
            bytes: CHECKPOINT_BYTES_MAX + 1,
            max: CHECKPOINT_BYTES_MAX,
        })
    );
}

/// The largest cache, with the longest numbers, fits the read bound and reads back: a file the
/// broker wrote is never refused for its size.
#[test]
fn the_largest_cache_round_trips_within_the_byte_bound() {
    let max = LEADER_EPOCH_ENTRIES_MAX as i32;
    let mut c = LeaderEpochCache::new();
    for i in 0..max {
        assert!(c.assign(
            i32::MAX - max + 1 + i,
            i64::MAX - i64::from(max) + i64::from(i)
        ));
    }
    let bytes = c.to_bytes();
    assert!(bytes.len() <= CHECKPOINT_BYTES_MAX, "{} bytes", bytes.len());
    assert_eq!(LeaderEpochCache::parse(&bytes).unwrap(), c);
}
