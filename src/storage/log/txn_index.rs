//! The aborted-transaction index (`{base:020}.txnindex`, one per segment, Kafka's
//! `TransactionIndex`): the transactions aborted in the segment, so a `read_committed` fetch
//! can tell the client which producers' records to drop in what it reads
//! (`FetchResponse.aborted_transactions`). Kafka's layout, so Kafka's dump tools read it:
//!
//! ```text
//! entry (34 bytes) | version int16 (0) | producer_id int64 | first_offset int64 |
//!                  | last_offset int64 | last_stable_offset int64 |
//! ```
//!
//! `first_offset` is the transaction's first batch on the partition, `last_offset` its ABORT
//! marker's offset, and `last_stable_offset` the partition's last stable offset once the
//! abort completed. An entry is appended to the index of the segment that holds the marker,
//! so entries come in `last_offset` order. This is the codec and the lookup rule; one
//! segment's file is `txn_index_file.rs`, the log's use of them `aborted.rs`.

/// One aborted transaction (Kafka's `AbortedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

/// Bytes of one entry.
pub const ENTRY_BYTES: usize = 34;
/// The entry version written (Kafka's `AbortedTxn.CURRENT_VERSION`).
const VERSION: i16 = 0;

/// Why an index's bytes do not read as entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnIndexError {
    #[error("entry {index}: version {version} is not known")]
    Version { index: usize, version: i16 },
    #[error("entry {index}: first offset {first} after last offset {last}")]
    Backwards { index: usize, first: i64, last: i64 },
    #[error("entry {index}: last offset {last} is not after the previous entry's {previous}")]
    OutOfOrder {
        index: usize,
        last: i64,
        previous: i64,
    },
}

impl AbortedTxn {
    /// The entry's bytes.
    pub fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut out = [0u8; ENTRY_BYTES];
        out[0..2].copy_from_slice(&VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

/// The entries of an index file's bytes, checked: a known version, first ≤ last, and strictly
/// ascending last offsets (each marker has its own offset). A partial entry at the end (a torn
/// append) is not an entry: the caller learns how many bytes were whole from the count. An
/// error says the file is damaged: recovery rebuilds it from the log.
pub fn decode(bytes: &[u8]) -> Result<Vec<AbortedTxn>, TxnIndexError> {
    let mut entries: Vec<AbortedTxn> = Vec::with_capacity(bytes.len() / ENTRY_BYTES);
    for (index, b) in bytes.chunks_exact(ENTRY_BYTES).enumerate() {
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version != VERSION {
            return Err(TxnIndexError::Version { index, version });
        }
        let entry = AbortedTxn {
            producer_id: be_i64(b, 2),
            first_offset: be_i64(b, 10),
            last_offset: be_i64(b, 18),
            last_stable_offset: be_i64(b, 26),
        };
        if entry.first_offset > entry.last_offset {
            return Err(TxnIndexError::Backwards {
                index,
                first: entry.first_offset,
                last: entry.last_offset,
            });
        }
        if let Some(previous) = entries.last() {
            if entry.last_offset <= previous.last_offset {
                return Err(TxnIndexError::OutOfOrder {
                    index,
                    last: entry.last_offset,
                    previous: previous.last_offset,
                });
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// What [`collect_aborted`] found in one segment's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortedSearch {
    /// The aborted transactions that overlap `[fetch_offset, upper_bound)`.
    pub aborted: Vec<AbortedTxn>,
    /// Whether no later segment can hold another: an entry's last stable offset reached the
    /// upper bound (every transaction open below it had completed by then).
    pub complete: bool,
}

/// The aborted transactions of `entries` (one segment's index) that a fetch of
/// `[fetch_offset, upper_bound)` must tell the client about: those whose records overlap the
/// range (`last_offset ≥ fetch_offset` and `first_offset < upper_bound`). The search of the
/// following segments can stop once an entry's `last_stable_offset ≥ upper_bound` (Kafka's
/// `TransactionIndex.collectAbortedTxns`).
pub fn collect_aborted(
    entries: &[AbortedTxn],
    fetch_offset: i64,
    upper_bound: i64,
) -> AbortedSearch {
    let mut aborted = Vec::new();
    for entry in entries {
        if entry.last_offset >= fetch_offset && entry.first_offset < upper_bound {
            aborted.push(*entry);
        }
        if entry.last_stable_offset >= upper_bound {
            return AbortedSearch {
                aborted,
                complete: true,
            };
        }
    }
    AbortedSearch {
        aborted,
        complete: false,
    }
}

/// The entries left when the log is cut back to `new_end` (exclusive): a transaction whose
/// marker was cut is no longer known aborted (Kafka's `TransactionIndex.truncateTo`).
pub fn truncated(entries: &[AbortedTxn], new_end: i64) -> &[AbortedTxn] {
    let kept = entries.partition_point(|entry| entry.last_offset < new_end);
    &entries[..kept]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn txn(producer_id: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    /// Byte for byte Kafka's `AbortedTxn` buffer.
    #[test]
    fn an_entry_is_kafkas_34_bytes() {
        let bytes = txn(7, 10, 20, 21).encode();
        let mut expected = vec![0u8, 0];
        for x in [7i64, 10, 20, 21] {
            expected.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(bytes.to_vec(), expected);
        assert_eq!(decode(&bytes).unwrap(), [txn(7, 10, 20, 21)]);
    }

    #[test]
    fn a_torn_tail_is_no_entry_and_damage_is_an_error() {
        let mut bytes = txn(1, 0, 5, 6).encode().to_vec();
        bytes.extend_from_slice(&txn(2, 3, 9, 10).encode()[..20]);
        assert_eq!(decode(&bytes).unwrap(), [txn(1, 0, 5, 6)]);
        let mut versioned = txn(1, 0, 5, 6).encode();
        versioned[1] = 1;
        assert_eq!(
            decode(&versioned),
            Err(TxnIndexError::Version {
                index: 0,
                version: 1
            })
        );
        assert!(matches!(
            decode(&txn(1, 6, 5, 7).encode()),
            Err(TxnIndexError::Backwards { .. })
        ));
        let mut twice = txn(1, 0, 5, 6).encode().to_vec();
        twice.extend_from_slice(&txn(2, 1, 5, 6).encode());
        assert!(matches!(
            decode(&twice),
            Err(TxnIndexError::OutOfOrder { index: 1, .. })
        ));
    }

    /// Kafka's rule, worked by hand: overlapping transactions are collected, and the search
    /// is complete at the first entry whose last stable offset reaches the upper bound.
    #[test]
    fn a_fetch_collects_the_aborted_transactions_it_overlaps() {
        let entries = [txn(1, 0, 4, 5), txn(2, 3, 10, 11), txn(3, 12, 15, 30)];
        let found = collect_aborted(&entries[..2], 5, 12);
        assert_eq!(found.aborted, [txn(2, 3, 10, 11)], "1 ended before 5");
        assert!(!found.complete, "no stable offset reaches 12: look further");
        let found = collect_aborted(&entries, 5, 12);
        assert_eq!(found.aborted, [txn(2, 3, 10, 11)], "3 starts at 12");
        assert!(found.complete, "3's stable offset 30 ≥ 12");
        let found = collect_aborted(&entries, 0, 13);
        assert_eq!(found.aborted, entries.to_vec());
        assert!(found.complete, "3's stable offset 30 ≥ 13");
        let found = collect_aborted(&entries, 0, 5);
        assert_eq!(found.aborted, [txn(1, 0, 4, 5)]);
        assert!(
            found.complete,
            "1's stable offset 5 ≥ 5: nothing later overlaps"
        );
    }

    #[test]
    fn truncation_drops_the_transactions_whose_marker_was_cut() {
        let entries = [txn(1, 0, 4, 5), txn(2, 3, 10, 11)];
        assert_eq!(truncated(&entries, 10), &entries[..1]);
        assert_eq!(truncated(&entries, 11), &entries[..]);
        assert!(truncated(&entries, 0).is_empty());
    }

    proptest! {
        #[test]
        fn entries_round_trip(raw in prop::collection::vec((any::<i64>(), 0i64..1000, 0i64..1000, any::<i64>()), 0..20)) {
            let mut last = -1;
            let entries: Vec<AbortedTxn> = raw.into_iter().map(|(pid, a, gap, lso)| {
                last += 1 + a;
                txn(pid, last - gap.min(last), last, lso)
            }).collect();
            let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
            prop_assert_eq!(decode(&bytes).unwrap(), entries);
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }
    }
}
