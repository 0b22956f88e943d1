//! The record walk: reads every field of every record of one batch from a byte stream (the
//! records section itself, or a decompressor over it), skipping keys, values and header bytes
//! without keeping them. Field rules follow Kafka's `DefaultRecord.readFrom` and
//! `DefaultRecordBatch`'s record iterator.

use std::borrow::Cow;
use std::io::Read;

use super::RecordsError;
use crate::storage::batch::{BatchHeader, NO_TIMESTAMP};

/// What a walk saw of the records beyond their format: their timestamps, and the first record
/// without a key (which a compacted topic refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordTimestamps {
    /// Smallest and largest timestamp other than -1 ("none"), which Kafka leaves unchecked.
    pub range: Option<(i64, i64)>,
    /// Index within its batch of the record holding each end of `range` (the first one that
    /// does): what a refusal names in Produce v8's `record_errors[].batch_index`.
    pub range_at: (i32, i32),
    /// Largest record timestamp starting from -1, as Kafka computes a batch's `maxTimestamp`.
    pub batch_max_ms: i64,
    /// Index within its batch of the first record with a null key (of the first batch that
    /// has one; control batches are not counted): Kafka's `LogValidator.validateKey` refuses
    /// it on a compacted topic, compressed batches included.
    pub keyless_at: Option<i32>,
}

impl Default for RecordTimestamps {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordTimestamps {
    pub fn new() -> Self {
        Self {
            range: None,
            range_at: (0, 0),
            batch_max_ms: NO_TIMESTAMP,
            keyless_at: None,
        }
    }

    /// Adds the timestamp of the record at `index` in its batch.
    fn add(&mut self, ts: i64, index: i32) {
        self.batch_max_ms = self.batch_max_ms.max(ts);
        if ts == NO_TIMESTAMP {
            return;
        }
        match &mut self.range {
            None => {
                self.range = Some((ts, ts));
                self.range_at = (index, index);
            }
            Some((lo, hi)) => {
                if ts < *lo {
                    *lo = ts;
                    self.range_at.0 = index;
                }
                if ts > *hi {
                    *hi = ts;
                    self.range_at.1 = index;
                }
            }
        }
    }

    /// Folds another batch's timestamps into these.
    pub fn merge(&mut self, other: &Self) {
        self.batch_max_ms = self.batch_max_ms.max(other.batch_max_ms);
        self.keyless_at = self.keyless_at.or(other.keyless_at);
        if let Some((lo, hi)) = other.range {
            self.add(lo, other.range_at.0);
            self.add(hi, other.range_at.1);
        }
    }
}

/// Why the stream could not give the next bytes.
enum Short {
    /// It ended.
    End,
    /// Reading on would pass the decompression budget.
    OverBudget,
    /// The batch holds more records and headers than the request's budget has left.
    OverEntries,
    /// The decompressor failed (the payload is not valid for its codec).
    Codec(String),
}

/// A failed walk, before it is given a Kafka code.
enum Fault {
    Short(Short),
    Invalid(String),
}

impl From<Short> for Fault {
    fn from(s: Short) -> Self {
        Fault::Short(s)
    }
}

fn short(e: std::io::Error) -> Short {
    let over = e
        .get_ref()
        .is_some_and(|inner| inner.is::<super::codecs::OverBudget>());
    if over {
        Short::OverBudget
    } else {
        Short::Codec(e.to_string())
    }
}

/// Bytes a walk reads from its source at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// A byte stream that counts what the walk consumed and refuses to go past `limit` bytes or
/// `entries` records and headers: the bound on the work (decompression included) one batch may
/// cause. It reads its source a chunk at a time into its own buffer, so a field costs an index
/// step, not a call through the decoder (issue 9: reading a boxed `BufRead` byte by byte cost
/// seconds for a 240 MB header bomb).
pub struct Counted<'a, R> {
    inner: R,
    /// The bytes being walked: an uncompressed records section itself (borrowed: no copy), or
    /// a buffer the decoder's output is read into a chunk at a time.
    buf: Cow<'a, [u8]>,
    /// Next unread byte of `buf`, and the end of what it holds.
    at: usize,
    held: usize,
    consumed: u64,
    limit: u64,
    entries: u64,
}

impl<'a> Counted<'a, std::io::Empty> {
    /// Walks `payload` in place (an uncompressed records section).
    pub fn over_slice(payload: &'a [u8], entries: u64) -> Self {
        Self {
            inner: std::io::empty(),
            buf: Cow::Borrowed(payload),
            at: 0,
            held: payload.len(),
            consumed: 0,
            limit: payload.len() as u64,
            entries,
        }
    }
}

impl<R: Read> Counted<'_, R> {
    /// Reads `inner` through a buffer of `chunk_bytes` (at most [`CHUNK_BYTES`]): a small batch
    /// need not pay for zeroing a large buffer.
    pub fn new(inner: R, limit: u64, entries: u64, chunk_bytes: usize) -> Self {
        Self {
            inner,
            buf: Cow::Owned(vec![0; chunk_bytes.clamp(1, CHUNK_BYTES)]),
            at: 0,
            held: 0,
            consumed: 0,
            limit,
            entries,
        }
    }

    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The stream the walk reads.
    pub fn source(&self) -> &R {
        &self.inner
    }

    /// Records and headers the budget still allows.
    pub fn entries_left(&self) -> u64 {
        self.entries
    }

    /// Charges one record or header to the budget.
    fn entry(&mut self) -> Result<(), Short> {
        if self.entries == 0 {
            return Err(Short::OverEntries);
        }
        self.entries -= 1;
        Ok(())
    }

    /// Refills the buffer when it is empty; false at the end of the stream.
    fn fill(&mut self) -> Result<bool, Short> {
        if self.at < self.held {
            return Ok(true);
        }
        if matches!(self.buf, Cow::Borrowed(_)) {
            return Ok(false); // a slice is walked in place: its end is the end
        }
        loop {
            match self.inner.read(self.buf.to_mut()) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.at = 0;
                    self.held = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(short(e)),
            }
        }
    }

    /// Takes up to `want` bytes (at least one), checked against the budget.
    fn take(&mut self, want: u64) -> Result<u64, Short> {
        if !self.fill()? {
            return Err(Short::End);
        }
        let take = want.min((self.held - self.at) as u64);
        if self.consumed + take > self.limit {
            return Err(Short::OverBudget);
        }
        self.at += take as usize;
        self.consumed += take;
        Ok(take)
    }

    fn byte(&mut self) -> Result<u8, Short> {
        if self.at < self.held && self.consumed < self.limit {
            let b = self.buf[self.at];
            self.at += 1;
            self.consumed += 1;
            return Ok(b);
        }
        self.take(1)?;
        Ok(self.buf[self.at - 1])
    }

    fn skip(&mut self, mut n: u64) -> Result<(), Short> {
        while n > 0 {
            n -= self.take(n)?;
        }
        Ok(())
    }

    /// True when nothing follows (a trailing byte is not consumed, so it costs no budget).
    fn at_end(&mut self) -> Result<bool, Short> {
        Ok(!self.fill()?)
    }

    /// A zigzag varint of at most `max_bytes` bytes (5 for Kafka's varint, 10 for varlong).
    fn zigzag(&mut self, max_bytes: u32) -> Result<i64, Fault> {
        let mut raw = 0u64;
        for i in 0..max_bytes {
            let b = self.byte()?;
            raw |= ((b & 0x7f) as u64).checked_shl(7 * i).unwrap_or(0);
            if b & 0x80 == 0 {
                let value = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
                return Ok(if max_bytes == 5 {
                    // Kafka's varint is an int: higher bits are dropped.
                    let u = raw as u32;
                    (((u >> 1) as i32) ^ -((u & 1) as i32)) as i64
                } else {
                    value
                });
            }
        }
        Err(Fault::Invalid("varint is too long".into()))
    }

    fn varint(&mut self) -> Result<i64, Fault> {
        self.zigzag(5)
    }

    fn varlong(&mut self) -> Result<i64, Fault> {
        self.zigzag(10)
    }
}

/// Walks an uncompressed records section, charging its records and headers to `entries`.
pub fn walk_records(
    payload: &[u8],
    header: &BatchHeader,
    entries: &mut u64,
    keyless: Option<&mut Keyless>,
) -> Result<RecordTimestamps, RecordsError> {
    let mut src = Counted::over_slice(payload, *entries);
    let seen = walk_stream(&mut src, header, keyless);
    *entries = src.entries_left();
    seen
}

/// Where a walk lists the index of every record without a key (of a batch that is not a
/// control batch), up to `max` of them: what a compacted topic's refusal names.
#[derive(Debug, Default)]
pub struct Keyless {
    pub max: usize,
    pub indexes: Vec<i32>,
}

/// Walks exactly `recordsCount` records from `src`, then requires the stream to end.
pub fn walk_stream<R: Read>(
    src: &mut Counted<'_, R>,
    header: &BatchHeader,
    mut keyless: Option<&mut Keyless>,
) -> Result<RecordTimestamps, RecordsError> {
    let count = header.records_count;
    let mut seen = RecordTimestamps::new();
    let control = header.is_control();
    for index in 0..count {
        match read_record(src, index, header) {
            Ok((ts, keyed)) => {
                seen.add(ts, index);
                if !keyed && !control {
                    seen.keyless_at = seen.keyless_at.or(Some(index));
                    if let Some(list) = keyless.as_deref_mut() {
                        if list.indexes.len() < list.max {
                            list.indexes.push(index);
                        }
                    }
                }
            }
            Err(fault) => return Err(describe(fault, index, count, src.limit)),
        }
    }
    match src.at_end() {
        Ok(true) => Ok(seen),
        Ok(false) => Err(RecordsError::invalid(
            None,
            format!("bytes remain after the batch's {count} records (recordsCount)"),
        )),
        Err(short) => Err(describe(Fault::Short(short), count, count, src.limit)),
    }
}

fn describe(fault: Fault, index: i32, count: i32, limit: u64) -> RecordsError {
    match fault {
        Fault::Invalid(why) => RecordsError::invalid(Some(index), format!("record {index}: {why}")),
        Fault::Short(Short::End) => RecordsError::invalid(
            Some(index),
            format!("the batch ends inside or before record {index} of {count} (recordsCount)"),
        ),
        Fault::Short(Short::OverBudget) => RecordsError::too_large(limit),
        Fault::Short(Short::OverEntries) => RecordsError::too_many_entries(index),
        Fault::Short(Short::Codec(why)) => {
            RecordsError::corrupt(format!("cannot decompress the records: {why}"))
        }
    }
}

/// Reads one record; returns its timestamp and whether it has a key (an empty key is one: only
/// a null key is none, as Kafka's `Record.hasKey`).
fn read_record<R: Read>(
    src: &mut Counted<'_, R>,
    index: i32,
    header: &BatchHeader,
) -> Result<(i64, bool), Fault> {
    src.entry()?;
    let length = src.varint()?;
    if length < 0 {
        return Err(Fault::Invalid(format!("negative record length {length}")));
    }
    let length = length as u64;
    let start = src.consumed();
    // Every field must lie within the record's declared length.
    let within = |src: &Counted<'_, R>, more: u64| -> Result<(), Fault> {
        if src.consumed() - start + more > length {
            return Err(Fault::Invalid(format!(
                "fields run past the record's length of {length} bytes"
            )));
        }
        Ok(())
    };
    src.byte()?; // attributes: unused by v2 records
    let timestamp_delta = src.varlong()?;
    let offset_delta = src.varint()?;
    within(src, 0)?;
    if offset_delta != index as i64 {
        return Err(Fault::Invalid(format!(
            "offsetDelta {offset_delta} is not the record's index {index}"
        )));
    }
    let keyed = skip_bytes(src, &within, "key", -1)? >= 0;
    skip_bytes(src, &within, "value", -1)?;
    let headers = src.varint()?;
    within(src, 0)?;
    if headers < 0 {
        return Err(Fault::Invalid(format!("negative header count {headers}")));
    }
    for _ in 0..headers {
        src.entry()?;
        skip_bytes(src, &within, "header key", 0)?;
        skip_bytes(src, &within, "header value", -1)?;
    }
    if src.consumed() - start != length {
        return Err(Fault::Invalid(format!(
            "record length {length} does not match its fields ({} bytes)",
            src.consumed() - start
        )));
    }
    let ts = if header.is_log_append_time() {
        header.max_timestamp_ms
    } else {
        header.base_timestamp_ms.wrapping_add(timestamp_delta)
    };
    Ok((ts, keyed))
}

/// Skips a length-prefixed field and returns its length; lengths below `smallest` are refused
/// (-1 means null where null is allowed, header keys may not be null).
fn skip_bytes<R: Read>(
    src: &mut Counted<'_, R>,
    within: &impl Fn(&Counted<'_, R>, u64) -> Result<(), Fault>,
    what: &str,
    smallest: i64,
) -> Result<i64, Fault> {
    let len = src.varint()?;
    within(src, 0)?;
    if len < smallest {
        return Err(Fault::Invalid(format!("{what} length {len} is invalid")));
    }
    if len > 0 {
        within(src, len as u64)?;
        src.skip(len as u64)?;
    }
    Ok(len)
}
