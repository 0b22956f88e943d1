//! Record-level validation of produced batches: Kafka's `LogValidator`, minus format conversion.
//!
//! [`super::batch`] checks a batch's header and CRC without looking inside; a CRC only proves
//! the bytes are the ones the producer sent, not that they are records. Before this module a
//! batch whose records section was 70 bytes of `0xff` (with a correct CRC) was stored, and
//! librdkafka consumers then spun at its offset forever; a 69-byte gzip batch claiming
//! 2^31-1 records moved the log end by 2^31.
//!
//! [`check_batches`] walks every record of every batch, decompressing compressed ones as a
//! stream: each record's length, attributes, timestamp and offset deltas (the offset delta must
//! be the record's index), key, value and headers, and the record must end exactly where its
//! length says; the batch must hold exactly `recordsCount` records and nothing after them, and a
//! decoder must have used its whole compressed input by then (`codecs::Decompress`). It
//! never allocates by an untrusted count: keys, values and headers are skipped, not read, and
//! the decompressed bytes a request may cost are bounded by a budget
//! ([`crate::limits::PRODUCE_DECOMPRESSED_BYTES_MAX`]). It also rewrites a CreateTime batch's
//! `maxTimestamp` to its records' largest timestamp, as Kafka does, so a lying header cannot
//! steer segment rolls or the time index. It notes the first record without a key
//! ([`RecordTimestamps::keyless_at`]), which a compacted topic refuses whatever the batch's codec:
//! the walk is the only place a compressed batch's records are seen before the append.
//!
//! Errors say what kind of refusal they are ([`RecordsErrorKind`]); the partition maps them to
//! Kafka's codes (`partition::errors::records_error_code`): INVALID_RECORD (87) for records that
//! break the format's rules, CORRUPT_MESSAGE (2) for a payload its codec cannot decode,
//! MESSAGE_TOO_LARGE (10) past the decompression budget, INVALID_TIMESTAMP (32) for a batch that
//! sets the LogAppendTime bit (the broker's to set, never a producer's) or a record outside the
//! topic's timestamp bounds. A refusal names the record at fault when there is one (Produce v8's
//! `record_errors`). The storage layer knows nothing of the wire's codes.

mod codecs;
pub mod fuzz_support;
#[cfg(test)]
mod tests;
mod walk;

use crate::limits::{
    PRODUCE_DECOMPRESSED_BYTES_MAX, PRODUCE_RECORD_ENTRIES_MAX, RECORD_WALK_INLINE_BYTES,
    RECORD_WALK_INLINE_ENTRIES,
};
use crate::storage::batch::{self, BatchHeader, HEADER_BYTES};

pub use codecs::{decompress_all, encode, is_xerial};
pub use walk::RecordTimestamps;

/// What kind of refusal a [`RecordsError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordsErrorKind {
    /// A record breaks the format's rules (Kafka: INVALID_RECORD).
    Invalid,
    /// The codec cannot decode the payload (Kafka: CORRUPT_MESSAGE).
    Corrupt,
    /// Decompressing would exceed the request's budget (Kafka: MESSAGE_TOO_LARGE).
    TooLarge,
    /// The batch's timestamps break a rule (Kafka: INVALID_TIMESTAMP).
    InvalidTimestamp,
}

/// Why a batch's records were refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordsError {
    pub kind: RecordsErrorKind,
    /// Index of the record at fault within its batch, when one is (Produce v8's
    /// `record_errors[].batch_index`).
    pub record_index: Option<i32>,
    pub message: String,
}

impl RecordsError {
    fn invalid(record_index: Option<i32>, message: impl Into<String>) -> Self {
        Self {
            kind: RecordsErrorKind::Invalid,
            record_index,
            message: message.into(),
        }
    }

    fn corrupt(message: impl Into<String>) -> Self {
        Self {
            kind: RecordsErrorKind::Corrupt,
            record_index: None,
            message: message.into(),
        }
    }

    /// Kafka's `LogValidator.validateBatch`: control batches (transaction markers) are the
    /// broker's to write. A producer's would hide its records from consumers (they skip control
    /// batches); Kafka refuses it with INVALID_RECORD, naming no record.
    fn control_batch() -> Self {
        Self::invalid(None, "clients are not allowed to write control records")
    }

    /// Kafka's `LogValidator.validateTimestamp`: the LogAppendTime bit is the broker's to set
    /// (on LogAppendTime topics, when it stamps the batch). A producer that sets it would
    /// have every record read back with the header's `maxTimestamp` instead of its own,
    /// and skip the CreateTime range checks; Kafka refuses it with INVALID_TIMESTAMP.
    fn log_append_time_set() -> Self {
        Self {
            kind: RecordsErrorKind::InvalidTimestamp,
            record_index: Some(0),
            message: "the batch sets the LogAppendTime timestamp type: producers must not \
                      (the broker stamps LogAppendTime topics itself)"
                .into(),
        }
    }

    /// The request's records and headers passed [`PRODUCE_RECORD_ENTRIES_MAX`]. Kafka has no
    /// such cap (it refuses a header count only when the bytes cannot hold it, with
    /// INVALID_RECORD); the records are well formed but break this broker's rule, so the same
    /// code, naming the record.
    fn too_many_entries(record_index: i32) -> Self {
        Self {
            kind: RecordsErrorKind::Invalid,
            record_index: Some(record_index),
            message: format!(
                "record {record_index}: the request holds more than \
                 {PRODUCE_RECORD_ENTRIES_MAX} records and headers"
            ),
        }
    }

    fn too_large(limit: u64) -> Self {
        Self {
            kind: RecordsErrorKind::TooLarge,
            record_index: None,
            message: format!(
                "the request's compressed records decompress to more than {limit} bytes"
            ),
        }
    }
}

/// The work a walk may still do: decompressed bytes and records + headers. Every batch walked
/// takes what it cost from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkBudget {
    pub bytes: u64,
    pub entries: u64,
    /// Set when a walk stopped because this budget ran out (its refusal is the budget's, not
    /// the records'): a walk tried under [`WalkBudget::inline`] is then done again under the
    /// whole request's budget, off the runtime.
    pub ran_out: bool,
}

impl WalkBudget {
    pub const fn new(bytes: u64, entries: u64) -> Self {
        Self {
            bytes,
            entries,
            ran_out: false,
        }
    }

    /// What one Produce request may cost ([`PRODUCE_DECOMPRESSED_BYTES_MAX`],
    /// [`PRODUCE_RECORD_ENTRIES_MAX`]).
    pub const fn request() -> Self {
        Self::new(PRODUCE_DECOMPRESSED_BYTES_MAX, PRODUCE_RECORD_ENTRIES_MAX)
    }

    /// What a walk may cost on the connection's runtime worker ([`RECORD_WALK_INLINE_BYTES`]).
    pub const fn inline() -> Self {
        Self::new(RECORD_WALK_INLINE_BYTES, RECORD_WALK_INLINE_ENTRIES)
    }
}

/// Validates the records of every batch in `batches` (one partition's data of a Produce
/// request, already accepted by [`batch::validate_all`]) and rewrites each CreateTime batch's
/// `maxTimestamp` to its records' largest (recomputing the CRC). `budget` is what the rest of
/// the request may still cost; it shrinks by what this call cost.
/// Returns the smallest and largest record timestamp seen (for the timestamp bounds check).
pub fn check_batches(
    batches: &mut [u8],
    budget: &mut WalkBudget,
) -> Result<RecordTimestamps, RecordsError> {
    let mut all = RecordTimestamps::new();
    let mut at = 0usize;
    while at < batches.len() {
        let header =
            BatchHeader::parse(&batches[at..]).map_err(|e| RecordsError::corrupt(e.to_string()))?;
        let end = at + header.total_bytes();
        if header.total_bytes() < HEADER_BYTES || end > batches.len() {
            return Err(RecordsError::corrupt("record batch runs past the request"));
        }
        // Kafka's `validateBatch` before its per-record `validateTimestamp`.
        if header.is_control() {
            return Err(RecordsError::control_batch());
        }
        if header.is_log_append_time() {
            return Err(RecordsError::log_append_time_set());
        }
        let seen = check_one(&batches[at..end], &header, budget, None)?;
        if seen.batch_max_ms != header.max_timestamp_ms {
            set_max_timestamp(&mut batches[at..end], seen.batch_max_ms);
        }
        all.merge(&seen);
        at = end;
    }
    Ok(all)
}

/// [`check_batches`] for one partition's data as produced: `None` when the batches' headers or
/// CRCs are bad, which [`crate::storage::log::Log::append`] reports itself (the walk needs
/// trustworthy headers). `Some` therefore proves every CRC held, which lets the append skip
/// them ([`crate::storage::log::Log::append_crc_checked`]); a rewritten `maxTimestamp` comes
/// with its recomputed CRC.
pub fn check_produced(
    batches: &mut [u8],
    budget: &mut WalkBudget,
) -> Option<Result<RecordTimestamps, RecordsError>> {
    batch::validate_all(batches, usize::MAX).ok()?;
    Some(check_batches(batches, budget))
}

/// The index within its batch of every record without a key in `batches` (one partition's
/// data of a Produce request that [`check_batches`] walked), at most `max`: what a compacted
/// topic's refusal names in `record_errors`, as Kafka's `LogValidator` names each such record
/// (librdkafka then fails exactly those with INVALID_RECORD and the rest of the batch with
/// `_INVALID_DIFFERENT_RECORD`). Walks again, so it is for the refusal only, and within the
/// budget of a walk on the caller's own thread ([`WalkBudget::inline`]): a large compressed
/// batch gets the keyless records of its first MiB named, which is all a client needs.
pub fn keyless_records(batches: &[u8], max: usize) -> Vec<i32> {
    let mut keyless = walk::Keyless {
        max,
        indexes: Vec::new(),
    };
    let mut budget = WalkBudget::inline();
    let mut at = 0usize;
    while at < batches.len() {
        let Ok(header) = BatchHeader::parse(&batches[at..]) else {
            break;
        };
        let end = at + header.total_bytes();
        if header.total_bytes() < HEADER_BYTES || end > batches.len() {
            break;
        }
        let walked = check_one(&batches[at..end], &header, &mut budget, Some(&mut keyless));
        if walked.is_err() || keyless.indexes.len() >= max {
            break;
        }
        at = end;
    }
    keyless.indexes
}

/// Walks one batch's records (decompressing if needed), listing the keyless ones in `keyless`.
fn check_one(
    batch: &[u8],
    header: &BatchHeader,
    budget: &mut WalkBudget,
    keyless: Option<&mut walk::Keyless>,
) -> Result<RecordTimestamps, RecordsError> {
    let payload = &batch[HEADER_BYTES..];
    let seen = match header.compression() {
        0 => walk::walk_records(payload, header, &mut budget.entries, keyless),
        codec => {
            let stream = codecs::decoder(codec, payload, budget.bytes)?;
            // A chunk of a few times the compressed size: most batches decode in one read.
            let chunk_bytes = payload.len().saturating_mul(4).max(4096);
            let mut counted = walk::Counted::new(stream, budget.bytes, budget.entries, chunk_bytes);
            let seen = walk::walk_stream(&mut counted, header, keyless);
            budget.bytes -= counted.consumed();
            budget.entries = counted.entries_left();
            // The records and the end of the decoder's output are not enough: its input must
            // end there too (see `codecs::Decompress`).
            match counted.source().input_left() {
                0 => seen,
                left => seen.and(Err(RecordsError::corrupt(format!(
                    "{left} bytes of compressed data follow the end of the records' stream"
                )))),
            }
        }
    };
    if let Err(e) = &seen {
        budget.ran_out |= e.kind == RecordsErrorKind::TooLarge || budget.entries == 0;
    }
    seen
}

/// Writes `maxTimestamp` and the CRC that covers it (Kafka's `setMaxTimestamp`).
fn set_max_timestamp(batch: &mut [u8], max_timestamp_ms: i64) {
    const MAX_TIMESTAMP_AT: usize = 35;
    const CRC_AT: usize = 17;
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp_ms.to_be_bytes());
    let crc = batch::compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// The timestamp bounds a topic puts on CreateTime records (Kafka's
/// `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms`, KIP-937): a record
/// stamped more than `before_max_ms` before `now_ms` or more than `after_max_ms` after it is
/// refused with INVALID_TIMESTAMP, naming that record. Records without a timestamp (-1) are not
/// checked, as in Kafka. Computed without overflow, so `i64::MIN` / `i64::MAX` timestamps are
/// refused, not wrapped.
pub fn timestamp_out_of_range(
    seen: &RecordTimestamps,
    now_ms: i64,
    before_max_ms: i64,
    after_max_ms: i64,
) -> Option<RecordsError> {
    let (min_ms, max_ms) = seen.range?;
    let now = now_ms as i128;
    let low = now - before_max_ms as i128;
    let high = now + after_max_ms as i128;
    for (ts, index) in [(min_ms, seen.range_at.0), (max_ms, seen.range_at.1)] {
        if !(low..=high).contains(&(ts as i128)) {
            let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
            return Some(RecordsError {
                kind: RecordsErrorKind::InvalidTimestamp,
                record_index: Some(index),
                message: format!(
                    "timestamp {ts} of record {index} is out of range: it must be within \
                     [{}, {}] (message.timestamp.before.max.ms / message.timestamp.after.max.ms)",
                    clamp(low),
                    clamp(high)
                ),
            });
        }
    }
    None
}
