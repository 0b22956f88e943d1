//! Kafka RecordBatch v2 headers: parse, validate, patch — without decoding the records.
//!
//! The broker's hot path never looks inside a batch: it checks the header and the CRC, patches
//! `baseOffset` and `partitionLeaderEpoch` (both outside the CRC), stores the bytes exactly as
//! they came and serves Fetch from those bytes. Everything here works on borrowed slices and
//! allocates nothing, except the builders ([`build_batch`], [`build_batch_records`]), which
//! encode batches for tests, the CLI and the group coordinator. Only the group coordinator
//! reads keys and values ([`records`]), of the uncompressed batches it wrote itself.
//!
//! Header layout (all big-endian, 61 bytes; see `docs/log-format.md`):
//!
//! ```text
//! @0  baseOffset i64        @8  batchLength i32 (bytes after this field)
//! @12 partitionLeaderEpoch  @16 magic i8 (= 2)  @17 crc u32 (CRC-32C of @21..end)
//! @21 attributes i16        @23 lastOffsetDelta i32
//! @27 baseTimestamp i64     @35 maxTimestamp i64
//! @43 producerId i64        @51 producerEpoch i16
//! @53 baseSequence i32      @57 recordsCount i32      @61 records...
//! ```

use std::ops::Range;

use thiserror::Error;

/// Size of the fixed batch header.
pub const HEADER_BYTES: usize = 61;
/// `baseOffset` + `batchLength`: the bytes not counted by `batchLength`.
pub const LOG_OVERHEAD_BYTES: usize = 12;
/// Smallest legal `batchLength`: a header with no records section at all.
pub const BATCH_LENGTH_MIN: usize = HEADER_BYTES - LOG_OVERHEAD_BYTES;
/// The only record format we accept.
pub const MAGIC_V2: i8 = 2;
/// Where the CRC-covered region starts (the `attributes` field).
pub const CRC_START: usize = 21;
/// Smallest encoded record: length, attributes, timestampDelta, offsetDelta, keyLength,
/// valueLength and header count, one byte each. Bounds `recordsCount` of uncompressed batches,
/// so a tiny batch cannot claim billions of offsets.
pub const RECORD_BYTES_MIN: usize = 7;
/// Kafka's "no timestamp" value.
pub const NO_TIMESTAMP: i64 = -1;

const BASE_OFFSET_AT: usize = 0;
const BATCH_LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORDS_COUNT_AT: usize = 57;
/// Attribute bit 3: the batch's timestamps are LogAppendTime (else CreateTime).
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Kafka's `DELETE_HORIZON_FLAG_MASK` (KIP-534): the batch's base timestamp is the time after
/// which the log cleaner may remove its tombstones.
const DELETE_HORIZON_BIT: i16 = 0x40;

/// Why a batch (or a buffer of batches) was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchError {
    /// Fewer bytes are present than the header or `batchLength` claims.
    #[error("truncated record batch: need {needed} bytes, only {available} present")]
    Truncated { needed: usize, available: usize },
    /// A structural rule is broken (sizes, counts, offsets).
    #[error("corrupt record batch: {reason}")]
    CorruptBatch { reason: &'static str },
    /// Not a v2 batch; older formats are not supported.
    #[error("unsupported record batch magic {magic} (only v2 is supported)")]
    UnsupportedMagic { magic: i8 },
    /// The stored CRC-32C does not match the bytes.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// One batch exceeds the configured maximum (Kafka's `max.message.bytes`).
    #[error("record batch of {bytes} bytes exceeds the maximum of {max} bytes")]
    BatchTooLarge { bytes: usize, max: usize },
    /// The buffer holds no batch at all.
    #[error("no record batch in an empty buffer")]
    Empty,
    /// The records of a compressed batch were asked for ([`records`]): the broker keeps
    /// batches as produced and has no codec to read them with.
    #[error("record batch is compressed (codec {codec}); its records cannot be read")]
    Compressed { codec: u8 },
}

/// The parsed fixed header of one v2 batch. Parsing checks only that the bytes are present;
/// use [`validate_batch`] before trusting the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the `batchLength` field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

impl BatchHeader {
    /// Parses the 61-byte header at the start of `bytes` (which may hold more). Checks only
    /// that the header bytes are present.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_BYTES {
            return Err(BatchError::Truncated {
                needed: HEADER_BYTES,
                available: bytes.len(),
            });
        }
        Ok(Self {
            base_offset: be_i64(bytes, BASE_OFFSET_AT),
            batch_length: be_i32(bytes, BATCH_LENGTH_AT),
            partition_leader_epoch: be_i32(bytes, LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT] as i8,
            crc: be_i32(bytes, CRC_AT) as u32,
            attributes: be_i16(bytes, ATTRIBUTES_AT),
            last_offset_delta: be_i32(bytes, LAST_OFFSET_DELTA_AT),
            base_timestamp_ms: be_i64(bytes, BASE_TIMESTAMP_AT),
            max_timestamp_ms: be_i64(bytes, MAX_TIMESTAMP_AT),
            producer_id: be_i64(bytes, PRODUCER_ID_AT),
            producer_epoch: be_i16(bytes, PRODUCER_EPOCH_AT),
            base_sequence: be_i32(bytes, BASE_SEQUENCE_AT),
            records_count: be_i32(bytes, RECORDS_COUNT_AT),
        })
    }

    /// Checks every header rule that does not need the batch body: magic, `batchLength`
    /// bounds, record count and offset delta, offset range. `batch_bytes_max` bounds the
    /// whole batch (header included).
    pub fn check(&self, batch_bytes_max: usize) -> Result<(), BatchError> {
        self.check_layout(batch_bytes_max)?;
        if self.records_count < 1 {
            return Err(BatchError::CorruptBatch {
                reason: "recordsCount is less than 1",
            });
        }
        self.check_records_fit()?;
        if self.last_offset_delta != self.records_count - 1 {
            return Err(BatchError::CorruptBatch {
                reason: "lastOffsetDelta is not recordsCount - 1",
            });
        }
        self.check_offset_range()
    }

    /// [`BatchHeader::check`] for a batch read back from the log, where the cleaner of a
    /// compacted topic may have removed records (Kafka's v2 format keeps `lastOffsetDelta`
    /// so that the batch still ends where it did): `recordsCount` may be below
    /// `lastOffsetDelta + 1`, and 0 for a batch kept only for its header (the last batch of a
    /// segment or of a producer, see `storage::log::clean`). Produce appends keep the strict
    /// check; a follower's copy of its leader's batches takes this one.
    pub fn check_stored(&self, batch_bytes_max: usize) -> Result<(), BatchError> {
        self.check_layout(batch_bytes_max)?;
        if self.records_count < 0 || self.last_offset_delta < self.records_count.max(1) - 1 {
            return Err(BatchError::CorruptBatch {
                reason: "recordsCount is negative or more than lastOffsetDelta + 1",
            });
        }
        self.check_records_fit()?;
        self.check_offset_range()
    }

    /// Magic, `batchLength` bounds, size limit, codec.
    fn check_layout(&self, batch_bytes_max: usize) -> Result<(), BatchError> {
        if self.magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic { magic: self.magic });
        }
        if self.batch_length < BATCH_LENGTH_MIN as i32 {
            return Err(BatchError::CorruptBatch {
                reason: "batchLength is smaller than the v2 header",
            });
        }
        let total_bytes = self.total_bytes();
        if total_bytes > batch_bytes_max {
            return Err(BatchError::BatchTooLarge {
                bytes: total_bytes,
                max: batch_bytes_max,
            });
        }
        if self.compression() > 4 {
            return Err(BatchError::CorruptBatch {
                reason: "unknown compression codec in attributes",
            });
        }
        Ok(())
    }

    /// An uncompressed records section can hold `recordsCount` records.
    fn check_records_fit(&self) -> Result<(), BatchError> {
        let records_bytes = self.batch_length as usize - BATCH_LENGTH_MIN;
        if self.compression() == 0 && self.records_count as usize > records_bytes / RECORD_BYTES_MIN
        {
            return Err(BatchError::CorruptBatch {
                reason: "recordsCount is more than the uncompressed records section can hold",
            });
        }
        Ok(())
    }

    fn check_offset_range(&self) -> Result<(), BatchError> {
        if self.base_offset < 0
            || self
                .base_offset
                .checked_add(self.last_offset_delta as i64 + 1)
                .is_none()
        {
            return Err(BatchError::CorruptBatch {
                reason: "baseOffset is negative or the batch overflows the offset space",
            });
        }
        Ok(())
    }

    /// Size of the whole batch in bytes (`batchLength` + 12). Zero for a negative length;
    /// call [`BatchHeader::check`] first.
    pub fn total_bytes(&self) -> usize {
        usize::try_from(self.batch_length).map_or(0, |n| n + LOG_OVERHEAD_BYTES)
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// The offset right after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// Number of offsets the batch occupies (`lastOffsetDelta + 1`).
    pub fn offset_count(&self) -> i64 {
        self.last_offset_delta as i64 + 1
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> u8 {
        (self.attributes & 0x07) as u8
    }

    /// True for LogAppendTime, false for CreateTime.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// KIP-534: the time after which the log cleaner may remove this batch's tombstones, set
    /// by the first clean that kept them (then the base timestamp holds it).
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp_ms)
    }
}

/// Computes the CRC-32C a batch must carry (over `@21..end`). `batch` must hold at least the
/// header.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START.min(batch.len())..])
}

/// Validates the first batch in `bytes` (which may hold more after it): header rules, the
/// batch lies within `bytes`, and the CRC. Returns the header; the batch is
/// `header.total_bytes()` long.
pub fn validate_batch(bytes: &[u8], batch_bytes_max: usize) -> Result<BatchHeader, BatchError> {
    validate_batch_with(bytes, batch_bytes_max, Crc::Check, false)
}

/// Whether a validation computes each batch's CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crc {
    /// Compute and compare it: bytes from disk, a follower's fetch, a caller that has not.
    Check,
    /// The caller already checked every batch's CRC over these exact bytes (the produce path's
    /// record walk did, on the connection's task); the header rules are still enforced.
    AlreadyChecked,
}

/// `stored`: the header rules of [`BatchHeader::check_stored`] (batches read back from a log
/// the cleaner may have compacted) instead of [`BatchHeader::check`].
fn validate_batch_with(
    bytes: &[u8],
    batch_bytes_max: usize,
    crc: Crc,
    stored: bool,
) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(bytes)?;
    if stored {
        header.check_stored(batch_bytes_max)?;
    } else {
        header.check(batch_bytes_max)?;
    }
    let total_bytes = header.total_bytes();
    if total_bytes > bytes.len() {
        return Err(BatchError::Truncated {
            needed: total_bytes,
            available: bytes.len(),
        });
    }
    if crc == Crc::AlreadyChecked {
        return Ok(header);
    }
    let computed = crc32c::crc32c(&bytes[CRC_START..total_bytes]);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

/// Iterator over the batches of a buffer, validating each one (see [`validate_batch`]).
/// Yields `(position, header)`; after the first error it yields that error once and stops.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    position: usize,
    batch_bytes_max: usize,
    crc: Crc,
    stored: bool,
    failed: bool,
}

impl<'a> Batches<'a> {
    pub fn new(buf: &'a [u8], batch_bytes_max: usize) -> Self {
        Self::with_crc(buf, batch_bytes_max, Crc::Check)
    }

    pub fn with_crc(buf: &'a [u8], batch_bytes_max: usize, crc: Crc) -> Self {
        Self {
            buf,
            position: 0,
            batch_bytes_max,
            crc,
            stored: false,
            failed: false,
        }
    }

    /// Batches read back from a log (a Fetch answer, a segment), CRCs checked, where the
    /// cleaner of a compacted topic may have removed records ([`BatchHeader::check_stored`]).
    pub fn stored(buf: &'a [u8]) -> Self {
        Self::stored_with_crc(buf, Crc::Check)
    }

    /// [`Self::stored`], computing the CRCs only if `crc` says they were not checked yet.
    pub fn stored_with_crc(buf: &'a [u8], crc: Crc) -> Self {
        Self {
            stored: true,
            ..Self::with_crc(buf, usize::MAX, crc)
        }
    }

    /// Byte position of the next batch to be yielded.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<(usize, BatchHeader), (usize, BatchError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.buf.len() {
            return None;
        }
        let at = self.position;
        match validate_batch_with(&self.buf[at..], self.batch_bytes_max, self.crc, self.stored) {
            Ok(header) => {
                self.position += header.total_bytes();
                Some(Ok((at, header)))
            }
            Err(e) => {
                self.failed = true;
                Some(Err((at, e)))
            }
        }
    }
}

/// What a validated buffer of batches contains, computed without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchesSummary {
    pub batch_count: usize,
    /// Sum of `lastOffsetDelta + 1` over the batches: the offsets the buffer will occupy.
    pub offset_count: i64,
    pub record_count: i64,
    /// Largest `maxTimestamp` of any batch ([`NO_TIMESTAMP`] if none carries one).
    pub max_timestamp_ms: i64,
    /// Index (0-based) of the first batch carrying `max_timestamp_ms`.
    pub max_timestamp_batch: usize,
    /// `maxTimestamp` of the first batch.
    pub first_max_timestamp_ms: i64,
    /// `baseOffset` of the first batch, as found in the buffer.
    pub first_base_offset: i64,
}

/// Validates every batch of `buf` (at least one, each ≤ `batch_bytes_max`, the last ending
/// exactly at the end of the buffer). On error returns the byte position of the bad batch.
pub fn validate_all(
    buf: &[u8],
    batch_bytes_max: usize,
) -> Result<BatchesSummary, (usize, BatchError)> {
    validate_all_with(buf, batch_bytes_max, Crc::Check)
}

/// [`validate_all`], computing the CRCs only if `crc` says they were not checked yet.
pub fn validate_all_with(
    buf: &[u8],
    batch_bytes_max: usize,
    crc: Crc,
) -> Result<BatchesSummary, (usize, BatchError)> {
    summarize(buf, Batches::with_crc(buf, batch_bytes_max, crc))
}

/// [`validate_all`] for batches as a log stores them (a leader's, copied by a follower): CRCs
/// checked, and the cleaner's shapes allowed ([`BatchHeader::check_stored`]).
pub fn validate_all_stored(buf: &[u8]) -> Result<BatchesSummary, (usize, BatchError)> {
    summarize(buf, Batches::stored(buf))
}

fn summarize(buf: &[u8], batches: Batches<'_>) -> Result<BatchesSummary, (usize, BatchError)> {
    if buf.is_empty() {
        return Err((0, BatchError::Empty));
    }
    let mut summary = BatchesSummary {
        batch_count: 0,
        offset_count: 0,
        record_count: 0,
        max_timestamp_ms: NO_TIMESTAMP,
        max_timestamp_batch: 0,
        first_max_timestamp_ms: NO_TIMESTAMP,
        first_base_offset: 0,
    };
    for item in batches {
        let (_, header) = item?;
        if summary.batch_count == 0 {
            summary.first_max_timestamp_ms = header.max_timestamp_ms;
            summary.first_base_offset = header.base_offset;
        }
        if header.max_timestamp_ms > summary.max_timestamp_ms {
            summary.max_timestamp_ms = header.max_timestamp_ms;
            summary.max_timestamp_batch = summary.batch_count;
        }
        summary.batch_count += 1;
        summary.offset_count += header.offset_count();
        summary.record_count += header.records_count as i64;
    }
    Ok(summary)
}

fn check_header_present(batch: &[u8]) -> Result<(), BatchError> {
    if batch.len() < HEADER_BYTES {
        return Err(BatchError::Truncated {
            needed: HEADER_BYTES,
            available: batch.len(),
        });
    }
    Ok(())
}

/// Overwrites `baseOffset` (not covered by the CRC, so the batch stays valid).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    check_header_present(batch)?;
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Overwrites `partitionLeaderEpoch` (not covered by the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    check_header_present(batch)?;
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Stamps a batch the way Kafka's `LogValidator` does for `message.timestamp.type=LogAppendTime`
/// (`DefaultRecordBatch.setMaxTimestamp`): sets the timestamp-type attribute bit and
/// `maxTimestamp` to `log_append_time_ms`, keeps `baseTimestamp` and the records' deltas (a
/// reader takes every record's timestamp from `maxTimestamp` when the bit is set), and
/// recomputes the CRC, which covers both fields. Works on compressed batches too: only the
/// header changes. `batch` must start with a whole batch (it may hold more after it).
pub fn set_log_append_time(batch: &mut [u8], log_append_time_ms: i64) -> Result<(), BatchError> {
    let header = BatchHeader::parse(batch)?;
    let total_bytes = header.total_bytes();
    if total_bytes < HEADER_BYTES || total_bytes > batch.len() {
        return Err(BatchError::Truncated {
            needed: total_bytes.max(HEADER_BYTES),
            available: batch.len(),
        });
    }
    if header.is_log_append_time() && header.max_timestamp_ms == log_append_time_ms {
        return Ok(());
    }
    let attributes = header.attributes | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8]
        .copy_from_slice(&log_append_time_ms.to_be_bytes());
    let crc = compute_crc(&batch[..total_bytes]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Bytes of a record that [`RecordWalker::advance`] needs at most: the length varint (5),
/// attributes (1), the timestampDelta varlong (10) and the offsetDelta varint (5). The key,
/// value and headers after them are skipped by the length, never read.
pub const RECORD_PREFIX_BYTES_MAX: usize = 21;
const VARINT_BYTES_MAX: usize = 5;
const VARLONG_BYTES_MAX: usize = 10;

/// Offset and timestamp of one record, as Kafka's `Record.offset()` / `Record.timestamp()`
/// report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPosition {
    pub offset: i64,
    /// `baseTimestamp + timestampDelta`, or the batch's `maxTimestamp` for LogAppendTime.
    pub timestamp_ms: i64,
}

/// Walks the records of an uncompressed v2 batch one at a time, reading only each record's
/// first few bytes (see [`RECORD_PREFIX_BYTES_MAX`]) and allocating nothing. The caller owns the
/// bytes: [`RecordWalker::next_prefix`] says which ones to hand to [`RecordWalker::advance`],
/// so the same walker serves an in-memory batch ([`RecordWalker::next_in`]) and a segment file
/// read through a small buffer. Malformed records are errors, never panics; after an error the
/// walk is over.
#[derive(Debug, Clone)]
pub struct RecordWalker {
    base_offset: i64,
    base_timestamp_ms: i64,
    /// `Some(maxTimestamp)` for a LogAppendTime batch: every record carries it.
    log_append_time_ms: Option<i64>,
    last_offset_delta: i32,
    /// Start of the next record, from the start of the batch.
    position: usize,
    /// Batch size: no record may run past it.
    end: usize,
    records_left: i32,
}

impl RecordWalker {
    /// A walker over the records of the batch with `header` (which [`BatchHeader::check`]
    /// accepted). `None` for a compressed batch: its records are readable only through the
    /// codec, and the broker stores batches as produced without one.
    pub fn new(header: &BatchHeader) -> Option<Self> {
        if header.compression() != 0 {
            return None;
        }
        Some(Self {
            base_offset: header.base_offset,
            base_timestamp_ms: header.base_timestamp_ms,
            log_append_time_ms: header
                .is_log_append_time()
                .then_some(header.max_timestamp_ms),
            last_offset_delta: header.last_offset_delta,
            position: HEADER_BYTES,
            end: header.total_bytes(),
            records_left: header.records_count.max(0),
        })
    }

    /// `(position from the batch start, length)` of the bytes [`RecordWalker::advance`] needs
    /// for the next record; `None` once every record was walked (or after an error).
    pub fn next_prefix(&self) -> Option<(usize, usize)> {
        if self.records_left <= 0 {
            return None;
        }
        let len = RECORD_PREFIX_BYTES_MAX.min(self.end.saturating_sub(self.position));
        Some((self.position, len))
    }

    /// Decodes the next record from `prefix` (the bytes [`RecordWalker::next_prefix`] named)
    /// and moves past the whole record.
    pub fn advance(&mut self, prefix: &[u8]) -> Result<RecordPosition, BatchError> {
        self.step(prefix).map(|decoded| decoded.position)
    }

    /// Decodes the next record from `prefix` and moves past it; after an error the walk is over.
    fn step(&mut self, prefix: &[u8]) -> Result<Decoded, BatchError> {
        let result = self.decode(prefix);
        match &result {
            Ok(decoded) => {
                self.position += decoded.record_bytes;
                self.records_left -= 1;
            }
            Err(_) => self.records_left = 0,
        }
        result
    }

    /// The next record of `batch` (the whole batch, as stored); `None` after the last one.
    pub fn next_in(&mut self, batch: &[u8]) -> Option<Result<RecordPosition, BatchError>> {
        Some(self.next_span(batch)?.map(|(position, _, _)| position))
    }

    /// [`RecordWalker::next_in`], with the byte range of the record's key, value and headers
    /// (everything after its offsetDelta) within `batch`, and where the whole record starts.
    fn next_span(
        &mut self,
        batch: &[u8],
    ) -> Option<Result<(RecordPosition, Range<usize>, usize), BatchError>> {
        let (at, len) = self.next_prefix()?;
        if batch.len() < self.end {
            self.records_left = 0;
            return Some(Err(BatchError::Truncated {
                needed: self.end,
                available: batch.len(),
            }));
        }
        let prefix = batch
            .get(at..)
            .map_or(&[][..], |rest| &rest[..len.min(rest.len())]);
        Some(self.step(prefix).map(|decoded| {
            let fields = at + decoded.fields_bytes..at + decoded.record_bytes;
            (decoded.position, fields, at)
        }))
    }

    /// The record at the current position and its size in bytes (length varint included).
    fn decode(&self, prefix: &[u8]) -> Result<Decoded, BatchError> {
        if self.records_left <= 0 {
            return Err(BatchError::CorruptBatch {
                reason: "no records left in the batch",
            });
        }
        let mut at = 0usize;
        let length = zigzag32(read_uvarint(prefix, &mut at, VARINT_BYTES_MAX)?);
        let length_bytes = at;
        let _attributes = read_u8(prefix, &mut at)?;
        let timestamp_delta = zigzag64(read_uvarint(prefix, &mut at, VARLONG_BYTES_MAX)?);
        let offset_delta = zigzag32(read_uvarint(prefix, &mut at, VARINT_BYTES_MAX)?);
        let record_bytes = usize::try_from(length)
            .ok()
            .filter(|n| *n >= at - length_bytes)
            .map(|n| n + length_bytes)
            .ok_or(BatchError::CorruptBatch {
                reason: "record length is negative or shorter than its fields",
            })?;
        if record_bytes > self.end - self.position {
            return Err(BatchError::CorruptBatch {
                reason: "record runs past the end of its batch",
            });
        }
        if !(0..=self.last_offset_delta).contains(&offset_delta) {
            return Err(BatchError::CorruptBatch {
                reason: "record offsetDelta is outside the batch",
            });
        }
        let timestamp_ms = self
            .log_append_time_ms
            .unwrap_or(self.base_timestamp_ms.wrapping_add(timestamp_delta));
        let position = RecordPosition {
            offset: self.base_offset + offset_delta as i64,
            timestamp_ms,
        };
        Ok(Decoded {
            position,
            record_bytes,
            fields_bytes: at,
        })
    }
}

/// One record's prefix, decoded by [`RecordWalker::decode`].
struct Decoded {
    position: RecordPosition,
    /// The whole record, its length varint included.
    record_bytes: usize,
    /// The length varint, attributes, timestampDelta and offsetDelta: where the key starts.
    fields_bytes: usize,
}

/// One record of an uncompressed batch, borrowed from the batch bytes. A `None` value is a
/// tombstone (Kafka's null value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// The records of one batch (starting at `batch[0]`), in order, with their keys and values.
/// The header is checked as [`BatchHeader::check`] does, but not the CRC: callers walk batches
/// that [`Batches`] or the log already validated. A compressed batch yields
/// [`BatchError::Compressed`]; a malformed or truncated one an error. After an error the
/// iterator ends; it never panics.
pub fn records(batch: &[u8]) -> Records<'_> {
    let walker = BatchHeader::parse(batch).and_then(|header| {
        header.check_stored(usize::MAX)?;
        RecordWalker::new(&header).ok_or(BatchError::Compressed {
            codec: header.compression(),
        })
    });
    match walker {
        Ok(walker) => Records {
            batch,
            walker: Some(walker),
            failed: None,
        },
        Err(e) => Records {
            batch,
            walker: None,
            failed: Some(e),
        },
    }
}

/// The iterator [`records`] returns.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    batch: &'a [u8],
    walker: Option<RecordWalker>,
    /// An error found before the first record, yielded once.
    failed: Option<BatchError>,
}

impl<'a> Records<'a> {
    /// The next record with the byte range of the whole record (length varint to headers)
    /// within the batch: the log cleaner copies kept records' bytes unchanged.
    pub fn next_with_span(&mut self) -> Option<Result<(RecordView<'a>, Range<usize>), BatchError>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let walker = self.walker.as_mut()?;
        let view = walker
            .next_span(self.batch)?
            .and_then(|(position, fields, start)| {
                let mut at = fields.start;
                let key = read_nullable_bytes(self.batch, &mut at, fields.end)?;
                let value = read_nullable_bytes(self.batch, &mut at, fields.end)?;
                let view = RecordView {
                    offset: position.offset,
                    timestamp_ms: position.timestamp_ms,
                    key,
                    value,
                };
                Ok((view, start..fields.end))
            });
        if view.is_err() {
            self.walker = None;
        }
        Some(view)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_with_span()?.map(|(view, _)| view))
    }
}

/// Makes `batch` span offsets up to `next_offset` (exclusive) by raising its
/// `lastOffsetDelta`, CRC recomputed: the log cleaner extends a kept batch over the batches it
/// removed after it, so batches stay dense (each starts where the previous one ended).
pub fn extend_to(batch: &mut [u8], next_offset: i64) {
    let base = be_i64(batch, BASE_OFFSET_AT);
    let delta = i32::try_from(next_offset - base - 1).unwrap_or(i32::MAX);
    batch[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&delta.to_be_bytes());
    let crc = compute_crc(batch);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// A batch with no records spanning `[template's base offset, next_offset)`, taking its
/// timestamps and leader epoch from `template` (the first batch it replaces) and no producer:
/// what the log cleaner leaves where it removed batches that no kept batch can be extended
/// over.
pub fn empty_spanning(template: &[u8], next_offset: i64) -> Vec<u8> {
    let mut out = rebuild_batch(template, &[]);
    let attributes = be_i16(&out, ATTRIBUTES_AT) & TIMESTAMP_TYPE_BIT;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    out[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&(-1i64).to_be_bytes());
    out[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&(-1i16).to_be_bytes());
    out[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&(-1i32).to_be_bytes());
    extend_to(&mut out, next_offset);
    out
}

/// A copy of the batch `original` (whose header is `header`) holding only `records` (whole
/// record bytes of that batch, in order), as Kafka's log cleaner rebuilds a partially kept
/// batch: base offset, `lastOffsetDelta`, timestamps, producer id, epoch and base sequence
/// stay; `batchLength`, `recordsCount` and the CRC are recomputed. The records keep their
/// offset and timestamp deltas, so every kept record keeps its offset and timestamp.
pub fn rebuild_batch(original: &[u8], records: &[&[u8]]) -> Vec<u8> {
    let records_bytes: usize = records.iter().map(|r| r.len()).sum();
    let mut out = Vec::with_capacity(HEADER_BYTES + records_bytes);
    out.extend_from_slice(&original[..HEADER_BYTES]);
    for record in records {
        out.extend_from_slice(record);
    }
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
    out[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4]
        .copy_from_slice(&(records.len() as i32).to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A copy of the batch `original` whose records section is `records` (`records_count` of
/// them), stored with compression `codec` (attributes' low three bits): base offset,
/// `lastOffsetDelta`, timestamps and producer fields stay; `batchLength`, `recordsCount` and the
/// CRC are recomputed. The log cleaner looks into a compressed batch through its uncompressed
/// copy and stores what it keeps compressed again.
pub fn with_records_section(
    original: &[u8],
    codec: u8,
    records: &[u8],
    records_count: i32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + records.len());
    out.extend_from_slice(&original[..HEADER_BYTES]);
    out.extend_from_slice(records);
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
    let attributes = (be_i16(original, ATTRIBUTES_AT) & !0x07) | i16::from(codec & 0x07);
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    out[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&records_count.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// [`rebuild_batch`] with the delete horizon `horizon_ms` set, as Kafka's log cleaner marks a
/// batch whose tombstones it kept for the first time (KIP-534): the flag in the attributes,
/// the base timestamp set to the horizon, and every record's timestamp delta written again
/// relative to it, so that each record keeps its timestamp.
pub fn rebuild_with_delete_horizon(
    original: &[u8],
    records: &[&[u8]],
    horizon_ms: i64,
) -> Result<Vec<u8>, BatchError> {
    let old_base_ms = be_i64(original, BASE_TIMESTAMP_AT);
    let mut rewritten: Vec<Vec<u8>> = Vec::with_capacity(records.len());
    for record in records {
        let mut at = 0;
        read_uvarint(record, &mut at, VARINT_BYTES_MAX)?; // the record's length
        let attributes = read_u8(record, &mut at)?;
        let delta = zigzag64(read_uvarint(record, &mut at, VARLONG_BYTES_MAX)?);
        let timestamp_ms = old_base_ms.wrapping_add(delta);
        let mut body = vec![attributes];
        put_varlong(&mut body, timestamp_ms.wrapping_sub(horizon_ms));
        body.extend_from_slice(&record[at..]);
        let mut out = Vec::with_capacity(body.len() + VARINT_BYTES_MAX);
        put_varint(&mut out, body.len() as i32);
        out.extend_from_slice(&body);
        rewritten.push(out);
    }
    let kept: Vec<&[u8]> = rewritten.iter().map(Vec::as_slice).collect();
    let mut out = rebuild_batch(original, &kept);
    let attributes = be_i16(&out, ATTRIBUTES_AT) | DELETE_HORIZON_BIT;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&horizon_ms.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// A varint length and that many bytes of `bytes[..end]` (-1: null), as [`put_bytes`] wrote.
fn read_nullable_bytes<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    end: usize,
) -> Result<Option<&'a [u8]>, BatchError> {
    let within = &bytes[..end];
    let length = zigzag32(read_uvarint(within, at, VARINT_BYTES_MAX)?);
    if length == -1 {
        return Ok(None);
    }
    let data = usize::try_from(length)
        .ok()
        .and_then(|n| within.get(*at..at.checked_add(n)?))
        .ok_or(BatchError::CorruptBatch {
            reason: "record key or value length is negative or runs past the record",
        })?;
    *at += data.len();
    Ok(Some(data))
}

fn read_u8(bytes: &[u8], at: &mut usize) -> Result<u8, BatchError> {
    let byte = *bytes.get(*at).ok_or(BatchError::Truncated {
        needed: *at + 1,
        available: bytes.len(),
    })?;
    *at += 1;
    Ok(byte)
}

/// An unsigned LEB128 varint of at most `max_bytes` bytes (Kafka's `ByteUtils.readVarint` /
/// `readVarlong` refuse longer ones). Bits beyond 64 are dropped, as Kafka's shifts drop them.
fn read_uvarint(bytes: &[u8], at: &mut usize, max_bytes: usize) -> Result<u64, BatchError> {
    let mut value = 0u64;
    for i in 0..max_bytes {
        let byte = read_u8(bytes, at)?;
        value |= ((byte & 0x7f) as u64)
            .checked_shl(7 * i as u32)
            .unwrap_or(0);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(BatchError::CorruptBatch {
        reason: "varint is too long",
    })
}

/// Kafka's zigzag decoding of a varint (32 bits; higher bits are dropped like Kafka's `int`).
fn zigzag32(raw: u64) -> i32 {
    let u = raw as u32;
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

/// Kafka's zigzag decoding of a varlong.
fn zigzag64(raw: u64) -> i64 {
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Kafka's zigzag varint (`ByteUtils.writeVarint`).
fn put_varint(out: &mut Vec<u8>, v: i32) {
    put_uvarint(out, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Kafka's zigzag varlong (`ByteUtils.writeVarlong`).
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// Encodes a valid, uncompressed v2 batch of `(key, value)` records, all stamped
/// `base_timestamp_ms` (CreateTime), with `baseOffset` 0, no producer id and leader epoch -1 —
/// what a plain non-idempotent producer sends. Used by tests and the CLI producer.
///
/// Panics if `records` is empty (a batch needs at least one record): a programmer error.
pub fn build_batch(records: &[(Option<&[u8]>, &[u8])], base_timestamp_ms: i64) -> Vec<u8> {
    build_batch_with_timestamps(records, &vec![base_timestamp_ms; records.len()])
}

/// [`build_batch`] with one CreateTime timestamp per record, as a producer that batched
/// records created at different times sends it: `baseTimestamp` is the first record's,
/// `maxTimestamp` the largest, each record carries its delta from the base.
///
/// Panics if `records` is empty or the two slices differ in length: programmer errors.
pub fn build_batch_with_timestamps(
    records: &[(Option<&[u8]>, &[u8])],
    timestamps_ms: &[i64],
) -> Vec<u8> {
    let records: Vec<_> = records.iter().map(|(k, v)| (*k, Some(*v))).collect();
    encode_batch(&records, timestamps_ms)
}

/// [`build_batch`] with nullable values: a `None` value is a tombstone (what the group
/// coordinator writes to forget an offset or a group). All records are stamped
/// `base_timestamp_ms`.
///
/// Panics if `records` is empty: a programmer error.
pub fn build_batch_records(
    records: &[(Option<&[u8]>, Option<&[u8]>)],
    base_timestamp_ms: i64,
) -> Vec<u8> {
    encode_batch(records, &vec![base_timestamp_ms; records.len()])
}

/// The one encoder behind the builders: `(key, value)` records, one CreateTime each.
fn encode_batch(records: &[(Option<&[u8]>, Option<&[u8]>)], timestamps_ms: &[i64]) -> Vec<u8> {
    assert!(
        !records.is_empty(),
        "a record batch needs at least one record"
    );
    assert_eq!(
        records.len(),
        timestamps_ms.len(),
        "one timestamp per record"
    );
    let base_timestamp_ms = timestamps_ms[0];
    let max_timestamp_ms = timestamps_ms.iter().copied().max().unwrap_or(NO_TIMESTAMP);
    let mut out = vec![0u8; HEADER_BYTES];
    let mut record = Vec::new();
    for (offset_delta, ((key, value), timestamp_ms)) in
        records.iter().zip(timestamps_ms).enumerate()
    {
        record.clear();
        record.push(0); // record attributes (unused)
        put_varlong(&mut record, timestamp_ms - base_timestamp_ms);
        put_varint(&mut record, offset_delta as i32);
        put_bytes(&mut record, *key);
        put_bytes(&mut record, *value);
        put_varint(&mut record, 0); // header count
        put_varint(&mut out, record.len() as i32);
        out.extend_from_slice(&record);
    }
    let batch_length = (out.len() - LOG_OVERHEAD_BYTES) as i32;
    let last_offset_delta = records.len() as i32 - 1;
    out[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
    out[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&(-1i32).to_be_bytes());
    out[MAGIC_AT] = MAGIC_V2 as u8;
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&0i16.to_be_bytes());
    out[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
        .copy_from_slice(&last_offset_delta.to_be_bytes());
    out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8].copy_from_slice(&base_timestamp_ms.to_be_bytes());
    out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp_ms.to_be_bytes());
    out[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&(-1i64).to_be_bytes());
    out[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&(-1i16).to_be_bytes());
    out[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&(-1i32).to_be_bytes());
    out[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4]
        .copy_from_slice(&(records.len() as i32).to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The attribute bit of a transaction's batches (Kafka's `RecordBatch.isTransactional`).
pub const TRANSACTIONAL_BIT: i16 = 0x10;
/// The attribute bit of a batch of control records: transaction markers
/// (`RecordBatch.isControlBatch`).
pub const CONTROL_BIT: i16 = 0x20;

/// Who wrote a batch, as its header says: the producer id, epoch and first sequence, and the
/// transactional and control bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStamp {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// −1 for a control batch.
    pub base_sequence: i32,
    /// [`TRANSACTIONAL_BIT`] and [`CONTROL_BIT`], as set.
    pub attributes: i16,
}

/// [`build_batch`] for an idempotent producer: the batch carries `producer_id`,
/// `producer_epoch` and `base_sequence` (the CRC is recomputed, since those fields are covered
/// by it). Used by tests and the CLI producer.
pub fn build_idempotent_batch(
    records: &[(Option<&[u8]>, &[u8])],
    base_timestamp_ms: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Vec<u8> {
    let records: Vec<_> = records.iter().map(|(k, v)| (*k, Some(*v))).collect();
    let stamp = ProducerStamp {
        producer_id,
        producer_epoch,
        base_sequence,
        attributes: 0,
    };
    build_stamped_batch(&records, base_timestamp_ms, stamp)
}

/// [`build_batch_records`] stamped with its producer: an idempotent, transactional or control
/// batch (the CRC covers the stamp, so it is computed after it).
///
/// Panics if `records` is empty: a programmer error.
pub fn build_stamped_batch(
    records: &[(Option<&[u8]>, Option<&[u8]>)],
    base_timestamp_ms: i64,
    stamp: ProducerStamp,
) -> Vec<u8> {
    let mut out = build_batch_records(records, base_timestamp_ms);
    let attributes =
        be_i16(&out, ATTRIBUTES_AT) | (stamp.attributes & (TRANSACTIONAL_BIT | CONTROL_BIT));
    out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    out[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&stamp.producer_id.to_be_bytes());
    out[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2]
        .copy_from_slice(&stamp.producer_epoch.to_be_bytes());
    out[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&stamp.base_sequence.to_be_bytes());
    let crc = compute_crc(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn sample() -> Vec<u8> {
        build_batch(
            &[(Some(b"k1"), b"v1"), (None, b"value-two")],
            1_700_000_000_000,
        )
    }

    /// Rewrites the CRC after a test mutates covered bytes, so only the intended rule fails.
    fn fix_crc(batch: &mut [u8]) {
        let crc = compute_crc(batch);
        batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    }

    fn ref_uvarint(b: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = b[*at];
            *at += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    fn ref_varint(b: &[u8], at: &mut usize) -> i64 {
        let u = ref_uvarint(b, at);
        ((u >> 1) as i64) ^ -((u & 1) as i64)
    }

    #[test]
    fn built_batch_is_valid_and_header_fields_match() {
        let b = sample();
        let h = validate_batch(&b, MAX).unwrap();
        assert_eq!(h.total_bytes(), b.len());
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.partition_leader_epoch, -1);
        assert_eq!(h.producer_id, -1);
        assert_eq!(h.max_timestamp_ms, 1_700_000_000_000);
        assert_eq!(h.compression(), 0);
        assert!(!h.is_transactional() && !h.is_control() && !h.is_log_append_time());
    }

    #[test]
    fn built_records_decode_as_kafka_varint_records() {
        let b = sample();
        let mut at = HEADER_BYTES;
        let mut seen = Vec::new();
        while at < b.len() {
            let len = ref_varint(&b, &mut at) as usize;
            let end = at + len;
            assert_eq!(b[at], 0);
            at += 1;
            assert_eq!(ref_varint(&b, &mut at), 0); // timestamp delta
            let offset_delta = ref_varint(&b, &mut at);
            let key_len = ref_varint(&b, &mut at);
            let key = (key_len >= 0).then(|| b[at..at + key_len as usize].to_vec());
            at += key_len.max(0) as usize;
            let value_len = ref_varint(&b, &mut at) as usize;
            let value = b[at..at + value_len].to_vec();
            at += value_len;
            assert_eq!(ref_varint(&b, &mut at), 0); // headers
            assert_eq!(at, end);
            seen.push((offset_delta, key, value));
        }
        assert_eq!(
            seen,
            vec![
                (0, Some(b"k1".to_vec()), b"v1".to_vec()),
                (1, None, b"value-two".to_vec())
            ]
        );
    }

    #[test]
    fn patching_offset_and_epoch_keeps_crc_valid() {
        let mut b = sample();
        set_base_offset(&mut b, 1234).unwrap();
        set_partition_leader_epoch(&mut b, 7).unwrap();
        let h = validate_batch(&b, MAX).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1234, 7));
        assert_eq!(h.last_offset(), 1235);
        // The batch's next offset (base + recordsCount) must fit in an i64.
        set_base_offset(&mut b, i64::MAX - 2).unwrap();
        assert_eq!(validate_batch(&b, MAX).unwrap().last_offset(), i64::MAX - 1);
        set_base_offset(&mut b, i64::MAX - 1).unwrap();
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        assert!(matches!(
            set_base_offset(&mut b[..10], 1),
            Err(BatchError::Truncated { .. })
        ));
    }

    #[test]
    fn a_record_less_batch_of_exactly_a_header_can_be_patched() {
        // What the cleaner leaves where it removed every record: the header and nothing else.
        // The header is whole, so both header fields can be overwritten.
        let mut b = empty_spanning(&sample(), 10);
        assert_eq!(b.len(), HEADER_BYTES);
        set_base_offset(&mut b, 40).unwrap();
        set_partition_leader_epoch(&mut b, 3).unwrap();
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (40, 3));
        assert!(matches!(
            set_partition_leader_epoch(&mut b[..HEADER_BYTES - 1], 4),
            Err(BatchError::Truncated { needed: HEADER_BYTES, available }) if available == HEADER_BYTES - 1
        ));
    }

    #[test]
    fn bad_crc_is_refused() {
        let mut b = sample();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn bad_magic_is_refused() {
        let mut b = sample();
        b[MAGIC_AT] = 1;
        assert_eq!(
            validate_batch(&b, MAX),
            Err(BatchError::UnsupportedMagic { magic: 1 })
        );
    }

    #[test]
    fn truncated_buffers_are_refused_at_every_length() {
        let b = sample();
        for len in 0..b.len() {
            let err = validate_batch(&b[..len], MAX).unwrap_err();
            assert!(
                matches!(err, BatchError::Truncated { .. }),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn lying_batch_length_is_refused() {
        let mut b = sample();
        // Claims more bytes than present.
        let too_long = b.len() as i32;
        b[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&too_long.to_be_bytes());
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::Truncated { .. })
        ));
        // Smaller than a header.
        b[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&48i32.to_be_bytes());
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        // Negative.
        b[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        // Shorter than the records it holds: the CRC no longer matches.
        let mut c = sample();
        let shorter = (c.len() - LOG_OVERHEAD_BYTES - 1) as i32;
        c[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&shorter.to_be_bytes());
        assert!(matches!(
            validate_batch(&c, MAX),
            Err(BatchError::CrcMismatch { .. })
        ));
    }

    #[test]
    fn too_large_batch_is_refused() {
        let b = sample();
        assert_eq!(
            validate_batch(&b, b.len() - 1),
            Err(BatchError::BatchTooLarge {
                bytes: b.len(),
                max: b.len() - 1
            })
        );
        assert!(validate_batch(&b, b.len()).is_ok());
    }

    #[test]
    fn last_offset_delta_mismatch_and_zero_records_are_refused() {
        let mut b = sample();
        b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&5i32.to_be_bytes());
        fix_crc(&mut b);
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        let mut c = sample();
        c[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&0i32.to_be_bytes());
        fix_crc(&mut c);
        assert!(matches!(
            validate_batch(&c, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
    }

    #[test]
    fn records_count_beyond_the_bytes_is_refused() {
        let mut b = build_batch(&[(None, b"")], 0);
        // One minimal record (7 bytes) cannot be two records.
        assert_eq!(b.len(), HEADER_BYTES + RECORD_BYTES_MIN);
        b[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&2i32.to_be_bytes());
        b[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&1i32.to_be_bytes());
        fix_crc(&mut b);
        assert!(matches!(
            validate_batch(&b, MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        // A compressed batch may hold more records than its bytes suggest.
        b[ATTRIBUTES_AT + 1] = 1;
        fix_crc(&mut b);
        assert!(validate_batch(&b, MAX).is_ok());
    }

    #[test]
    fn validate_all_sums_batches_and_locates_the_bad_one() {
        let a = build_batch(&[(None, b"a")], 10);
        let b = build_batch(&[(None, b"b"), (None, b"c"), (None, b"d")], 30);
        let c = build_batch(&[(None, b"e")], 20);
        let mut buf = [a.clone(), b.clone(), c.clone()].concat();
        let s = validate_all(&buf, MAX).unwrap();
        assert_eq!(s.batch_count, 3);
        assert_eq!(s.offset_count, 5);
        assert_eq!(s.record_count, 5);
        assert_eq!((s.max_timestamp_ms, s.max_timestamp_batch), (30, 1));
        assert_eq!(s.first_max_timestamp_ms, 10);
        let positions: Vec<usize> = Batches::new(&buf, MAX).map(|r| r.unwrap().0).collect();
        assert_eq!(positions, vec![0, a.len(), a.len() + b.len()]);

        // Corrupt the middle batch: the error names its position.
        buf[a.len() + HEADER_BYTES] ^= 1;
        let (at, err) = validate_all(&buf, MAX).unwrap_err();
        assert_eq!(at, a.len());
        assert!(matches!(err, BatchError::CrcMismatch { .. }));

        // Trailing garbage shorter than a header is a truncated batch.
        let mut tail = [a, vec![0u8; 5]].concat();
        assert!(matches!(
            validate_all(&tail, MAX),
            Err((_, BatchError::Truncated { .. }))
        ));
        tail.clear();
        assert_eq!(validate_all(&tail, MAX), Err((0, BatchError::Empty)));
    }

    #[test]
    fn batches_position_is_past_each_batch_yielded_and_stays_at_a_bad_one() {
        let a = build_batch(&[(None, b"a")], 10);
        let b = build_batch(&[(None, b"b"), (None, b"c")], 20);
        let mut buf = [a.clone(), b.clone(), a.clone()].concat();
        buf[a.len() + b.len() + HEADER_BYTES] ^= 1;
        let mut batches = Batches::new(&buf, MAX);
        assert_eq!(batches.position(), 0);
        assert!(batches.next().unwrap().is_ok());
        assert_eq!(batches.position(), a.len());
        assert!(batches.next().unwrap().is_ok());
        assert_eq!(batches.position(), a.len() + b.len());
        assert!(batches.next().unwrap().is_err());
        assert_eq!(
            batches.position(),
            a.len() + b.len(),
            "not past the bad one"
        );
        assert!(batches.next().is_none());
    }

    /// Every record of `batch` as (offset, timestamp), or the first error.
    fn walk(batch: &[u8]) -> Result<Vec<(i64, i64)>, BatchError> {
        let header = BatchHeader::parse(batch).unwrap();
        let mut walker = RecordWalker::new(&header).expect("uncompressed");
        let mut out = Vec::new();
        while let Some(record) = walker.next_in(batch) {
            let r = record?;
            out.push((r.offset, r.timestamp_ms));
        }
        Ok(out)
    }

    #[test]
    fn walker_yields_each_records_offset_and_timestamp() {
        let values: Vec<Vec<u8>> = (0..5).map(|i| vec![b'x'; i * 40]).collect();
        let records: Vec<(Option<&[u8]>, &[u8])> = values
            .iter()
            .map(|v| (Some(&b"key"[..]), v.as_slice()))
            .collect();
        // Out of order on purpose: deltas may be negative.
        let timestamps = [1_000, 3_000, 500, 9_000, 9_000];
        let mut b = build_batch_with_timestamps(&records, &timestamps);
        set_base_offset(&mut b, 100).unwrap();
        let h = validate_batch(&b, MAX).unwrap();
        assert_eq!((h.base_timestamp_ms, h.max_timestamp_ms), (1_000, 9_000));
        assert_eq!(
            walk(&b).unwrap(),
            vec![
                (100, 1_000),
                (101, 3_000),
                (102, 500),
                (103, 9_000),
                (104, 9_000)
            ]
        );
    }

    #[test]
    fn the_walker_takes_a_record_exactly_as_long_as_the_fields_it_reads() {
        // One record of length 3: attributes, timestampDelta 0 and offsetDelta 0, nothing
        // after them. The walker reads only those fields (the full record parse judges the
        // rest), so that is the shortest length it accepts; 2 is shorter than its fields.
        let with_record = |record: &[u8]| {
            let mut b = build_batch_with_timestamps(&[(None, b"")], &[5]);
            b.truncate(HEADER_BYTES);
            b.extend_from_slice(record);
            let batch_length = (b.len() - LOG_OVERHEAD_BYTES) as i32;
            b[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&batch_length.to_be_bytes());
            b
        };
        let mut length_three = Vec::new();
        put_varint(&mut length_three, 3);
        length_three.extend([0, 0, 0]);
        assert_eq!(walk(&with_record(&length_three)).unwrap(), vec![(0, 5)]);
        let mut length_two = Vec::new();
        put_varint(&mut length_two, 2);
        length_two.extend([0, 0, 0]);
        assert!(matches!(
            walk(&with_record(&length_two)),
            Err(BatchError::CorruptBatch { reason }) if reason.contains("shorter than its fields")
        ));
    }

    #[test]
    fn walker_reads_only_prefixes_within_the_batch() {
        let big = vec![7u8; 3_000];
        let b = build_batch_with_timestamps(&[(None, &big), (None, b"")], &[5, 6]);
        let h = BatchHeader::parse(&b).unwrap();
        let mut walker = RecordWalker::new(&h).unwrap();
        let mut seen = Vec::new();
        while let Some((at, len)) = walker.next_prefix() {
            assert!(len <= RECORD_PREFIX_BYTES_MAX && at + len <= b.len());
            seen.push(walker.advance(&b[at..at + len]).unwrap().timestamp_ms);
        }
        assert_eq!(seen, vec![5, 6]);
    }

    #[test]
    fn varints_decode_like_kafka_at_the_extremes() {
        for v in [0, 1, -1, 63, -64, 64, i32::MAX, i32::MIN] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut at = 0;
            let raw = read_uvarint(&out, &mut at, VARINT_BYTES_MAX).unwrap();
            assert_eq!((zigzag32(raw), at), (v, out.len()), "{v}");
        }
        for v in [0, -1, i64::MAX, i64::MIN, 1 << 40] {
            let mut out = Vec::new();
            put_varlong(&mut out, v);
            let mut at = 0;
            let raw = read_uvarint(&out, &mut at, VARLONG_BYTES_MAX).unwrap();
            assert_eq!((zigzag64(raw), at), (v, out.len()), "{v}");
        }
        // Kafka refuses a sixth varint byte and an eleventh varlong byte.
        let mut at = 0;
        assert!(matches!(
            read_uvarint(&[0x80; 6], &mut at, VARINT_BYTES_MAX),
            Err(BatchError::CorruptBatch { .. })
        ));
        let mut at = 0;
        assert!(matches!(
            read_uvarint(&[0x80; 3], &mut at, VARLONG_BYTES_MAX),
            Err(BatchError::Truncated { .. })
        ));
    }

    #[test]
    fn log_append_time_stamps_the_header_and_every_record() {
        let mut b = build_batch_with_timestamps(&[(None, b"a"), (None, b"b")], &[10, 20]);
        set_base_offset(&mut b, 7).unwrap();
        set_log_append_time(&mut b, 5_000).unwrap();
        let h = validate_batch(&b, MAX).expect("the CRC was recomputed");
        assert!(h.is_log_append_time());
        assert_eq!((h.base_timestamp_ms, h.max_timestamp_ms), (10, 5_000));
        assert_eq!(walk(&b).unwrap(), vec![(7, 5_000), (8, 5_000)]);
        // Idempotent, and header-only on a compressed batch.
        let before = b.clone();
        set_log_append_time(&mut b, 5_000).unwrap();
        assert_eq!(b, before);
        // A batch already stamped (a client's LogAppendTime batch) takes the broker's time.
        set_log_append_time(&mut b, 6_000).unwrap();
        let h = validate_batch(&b, MAX).expect("the CRC was recomputed");
        assert_eq!(h.max_timestamp_ms, 6_000);
        let mut c = build_batch(&[(None, b"c")], 1);
        c[ATTRIBUTES_AT + 1] = 2; // snappy
        fix_crc(&mut c);
        set_log_append_time(&mut c, 9).unwrap();
        let h = validate_batch(&c, MAX).unwrap();
        assert!(h.is_log_append_time() && h.compression() == 2);
        assert!(
            RecordWalker::new(&h).is_none(),
            "compressed records need a codec"
        );
        assert!(matches!(
            set_log_append_time(&mut c[..HEADER_BYTES], 9),
            Err(BatchError::Truncated { .. })
        ));
    }

    /// Setting the timestamp type is setting a bit, not flipping it: a batch that already says
    /// LogAppendTime (stamped at another time) still says it after the broker's stamp, and
    /// the other attribute bits (here transactional and control) are kept.
    #[test]
    fn restamping_a_log_append_time_batch_keeps_it_log_append_time() {
        let mut b = build_batch(&[(None, b"a")], 10);
        b[ATTRIBUTES_AT + 1] |= TIMESTAMP_TYPE_BIT as u8 | 0x30;
        fix_crc(&mut b);
        let before = validate_batch(&b, MAX).unwrap();
        assert!(before.is_log_append_time() && before.max_timestamp_ms == 10);
        set_log_append_time(&mut b, 6_000).unwrap();
        let h = validate_batch(&b, MAX).expect("the CRC was recomputed");
        assert_eq!(h.max_timestamp_ms, 6_000);
        assert!(h.is_log_append_time(), "{:#x}", h.attributes);
        assert_eq!(h.attributes, before.attributes);
    }

    /// Kafka's `RecordBatch.isControlBatch`: bit 5 (0x20) of the attributes marks a batch of
    /// control records (transaction markers), independent of the transactional bit (0x10).
    #[test]
    fn the_control_bit_alone_makes_a_batch_a_control_batch() {
        let with = |bits: u8| {
            let mut b = build_batch(&[(Some(b"k"), b"v")], 1);
            b[ATTRIBUTES_AT + 1] |= bits;
            fix_crc(&mut b);
            validate_batch(&b, MAX).unwrap()
        };
        let marker = with(0x30);
        assert!(marker.is_control() && marker.is_transactional());
        let transactional = with(0x10);
        assert!(!transactional.is_control() && transactional.is_transactional());
        assert!(with(0x20).is_control());
        assert!(!with(0).is_control());
    }

    #[test]
    fn log_append_time_stamps_a_header_only_batch_and_refuses_a_length_below_a_header() {
        // What the cleaner leaves where it removed every record: exactly a header.
        let mut empty = empty_spanning(&sample(), 10);
        assert_eq!(empty.len(), HEADER_BYTES);
        set_log_append_time(&mut empty, 5_000).unwrap();
        let h = BatchHeader::parse(&empty).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp_ms, 5_000);
        assert_eq!(h.crc, compute_crc(&empty), "the CRC was recomputed");
        // A `batchLength` claiming less than a header: nothing to stamp, nothing written.
        let mut short = sample();
        let header_less_one = (HEADER_BYTES - LOG_OVERHEAD_BYTES - 1) as i32;
        short[BATCH_LENGTH_AT..BATCH_LENGTH_AT + 4].copy_from_slice(&header_less_one.to_be_bytes());
        let before = short.clone();
        assert_eq!(
            set_log_append_time(&mut short, 5_000),
            Err(BatchError::Truncated {
                needed: HEADER_BYTES,
                available: before.len()
            })
        );
        assert_eq!(short, before);
    }

    #[test]
    fn malformed_records_are_errors() {
        let b = build_batch_with_timestamps(&[(None, b"abc"), (None, b"de")], &[1, 2]);
        let first = HEADER_BYTES;
        // Negative record length (zigzag 1 = -1).
        let mut c = b.clone();
        c[first] = 0x01;
        assert!(matches!(walk(&c), Err(BatchError::CorruptBatch { .. })));
        // A length running past the batch.
        let mut c = b.clone();
        c[first] = 0x7e; // 63 bytes
        assert!(matches!(walk(&c), Err(BatchError::CorruptBatch { .. })));
        // An offsetDelta beyond lastOffsetDelta: record = len, attrs, tsDelta, offsetDelta.
        let mut c = b.clone();
        c[first + 3] = 0x08; // offsetDelta 4
        assert!(matches!(walk(&c), Err(BatchError::CorruptBatch { .. })));
        // More records claimed than present: the walk hits the end of the batch.
        let mut c = b.clone();
        c[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&3i32.to_be_bytes());
        let err = walk(&c).unwrap_err();
        assert!(matches!(err, BatchError::Truncated { .. }), "{err}");
        // A batch cut short of what its header claims.
        assert!(walk(&b[..b.len() - 2]).is_err());
    }

    #[test]
    fn walker_never_panics_on_arbitrary_record_bytes() {
        let mut state = 0x9e37_79b9u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for round in 0..2_000 {
            let mut b = build_batch(&[(None, b"0123456789"), (None, b"abcdefghij")], 1);
            for _ in 0..(round % 6 + 1) {
                let at = HEADER_BYTES + next() as usize % (b.len() - HEADER_BYTES);
                b[at] = next() as u8;
            }
            let count = (next() % 40) as i32;
            b[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&count.to_be_bytes());
            let cut = HEADER_BYTES + next() as usize % (b.len() - HEADER_BYTES + 1);
            let _ = walk(&b);
            let _ = walk(&b[..cut]);
            // The key/value reader too: every record read stays inside the bytes given.
            for view in records(&b[..cut]).flatten() {
                let inside = |part: Option<&[u8]>| part.map_or(0, <[u8]>::len) <= cut;
                assert!(inside(view.key) && inside(view.value));
            }
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes() {
        let mut state = 0x1234_5678u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            let _ = validate_all(&bytes, MAX);
            let _ = BatchHeader::parse(&bytes).map(|h| h.check(MAX));
        }
    }

    fn views(batch: &[u8]) -> Vec<Result<RecordView<'_>, BatchError>> {
        records(batch).collect()
    }

    #[test]
    fn tombstones_and_keys_round_trip_through_records() {
        let mut b = build_batch_records(
            &[
                (Some(b"k1"), Some(b"v1")),
                (Some(b"k2"), None),
                (None, Some(b"")),
                (None, None),
            ],
            1_700_000_000_000,
        );
        set_base_offset(&mut b, 40).unwrap();
        let h = validate_batch(&b, MAX).expect("a valid batch");
        assert_eq!(h.records_count, 4);
        let got: Vec<_> = views(&b).into_iter().map(Result::unwrap).collect();
        let expect = |offset, key, value| RecordView {
            offset,
            timestamp_ms: 1_700_000_000_000,
            key,
            value,
        };
        assert_eq!(
            got,
            vec![
                expect(40, Some(&b"k1"[..]), Some(&b"v1"[..])),
                expect(41, Some(&b"k2"[..]), None),
                // An empty value is not a tombstone.
                expect(42, None, Some(&b""[..])),
                expect(43, None, None),
            ]
        );
        // The plain builder is the nullable one with every value present.
        let plain = build_batch(&[(Some(b"k"), b"v")], 5);
        assert_eq!(plain, build_batch_records(&[(Some(b"k"), Some(b"v"))], 5));
        // The walker agrees with the views on offsets and timestamps.
        let positions = walk(&b).unwrap();
        let from_views: Vec<_> = got.iter().map(|v| (v.offset, v.timestamp_ms)).collect();
        assert_eq!(positions, from_views);
    }

    #[test]
    fn a_partial_batch_is_an_error_never_a_panic() {
        let b = build_batch_records(&[(Some(b"key"), Some(b"value")), (Some(b"k"), None)], 1);
        for cut in 0..b.len() {
            let got = views(&b[..cut]);
            assert_eq!(got.len(), 1, "cut at {cut}: one error, then the end");
            assert!(
                matches!(got[0], Err(BatchError::Truncated { .. })),
                "cut at {cut}: {:?}",
                got[0]
            );
        }
        assert!(views(&b).iter().all(Result::is_ok));
    }

    #[test]
    fn a_key_or_value_running_past_its_record_is_an_error() {
        let b = build_batch_records(&[(Some(b"ab"), Some(b"cd")), (None, Some(b"e"))], 1);
        // Record 0: length, attributes, timestampDelta, offsetDelta, then the key length.
        let key_length_at = HEADER_BYTES + 4;
        let mut long_key = b.clone();
        long_key[key_length_at] = 2 * 9; // 9 bytes: past the record
        let got = views(&long_key);
        assert!(
            matches!(got[0], Err(BatchError::CorruptBatch { .. })),
            "{got:?}"
        );
        assert_eq!(got.len(), 1, "the walk ends at the first error");
        let mut negative = b.clone();
        negative[key_length_at] = 2 * 2 - 1; // zigzag -2
        assert!(matches!(
            views(&negative)[0],
            Err(BatchError::CorruptBatch { .. })
        ));
    }

    #[test]
    fn a_compressed_batch_is_an_error() {
        let mut c = build_batch_records(&[(Some(b"k"), None)], 1);
        c[ATTRIBUTES_AT + 1] = 4; // zstd
        fix_crc(&mut c);
        assert_eq!(views(&c), vec![Err(BatchError::Compressed { codec: 4 })]);
        assert!(BatchError::Compressed { codec: 4 }
            .to_string()
            .contains("compressed"));
        // A broken header is reported the same way, once.
        let mut bad_magic = build_batch_records(&[(None, None)], 1);
        bad_magic[MAGIC_AT] = 1;
        assert_eq!(
            views(&bad_magic),
            vec![Err(BatchError::UnsupportedMagic { magic: 1 })]
        );
    }
}
