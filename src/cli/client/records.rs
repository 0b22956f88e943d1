//! RecordBatch v2 on the client side: an incremental batch builder for the producer (records
//! are encoded straight into the batch buffer, no per-record allocation) and a borrowing record
//! iterator for the consumer.
//!
//! Record layout inside a batch (Kafka's `DefaultRecord`):
//!
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint
//! keyLength varint | key | valueLength varint | value | headerCount varint | headers...
//! ```

use crate::storage::batch::{self, BatchHeader, HEADER_BYTES, LOG_OVERHEAD_BYTES, MAGIC_V2};

use super::error::{ClientError, ClientResult};

/// Compression codec ids of the batch attributes (bits 0-2).
const COMPRESSION_NAMES: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// The producer a batch is written by (its header's idempotence fields): an idempotent or
/// transactional producer's id, epoch and the sequence of its first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProducer {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// Part of a transaction (attribute bit 4).
    pub transactional: bool,
}

/// The attributes bit of a transactional batch.
const TRANSACTIONAL_ATTRIBUTE: i16 = 0x10;

/// Builds one uncompressed v2 batch incrementally.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    records: i32,
    base_timestamp_ms: i64,
    max_timestamp_ms: i64,
}

impl BatchBuilder {
    /// An empty batch whose records are stamped relative to `base_timestamp_ms`.
    pub fn new(base_timestamp_ms: i64, capacity_bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity_bytes.max(HEADER_BYTES));
        buf.resize(HEADER_BYTES, 0);
        Self {
            buf,
            records: 0,
            base_timestamp_ms,
            max_timestamp_ms: base_timestamp_ms,
        }
    }

    pub fn record_count(&self) -> i32 {
        self.records
    }

    /// The timestamp record deltas are relative to.
    pub fn base_timestamp_ms(&self) -> i64 {
        self.base_timestamp_ms
    }

    /// Bytes of the batch so far (header included).
    pub fn size_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes [`BatchBuilder::append`] would add, so the caller can seal the batch first.
    pub fn record_size_bytes(&self, key: Option<&[u8]>, value: &[u8], timestamp_ms: i64) -> usize {
        let timestamp_delta = timestamp_ms - self.base_timestamp_ms;
        let body = body_size(key, value, timestamp_delta, self.records);
        varint_size(body as i64) + body
    }

    /// Appends one record (no headers) with its CreateTime timestamp.
    pub fn append(&mut self, key: Option<&[u8]>, value: &[u8], timestamp_ms: i64) {
        let timestamp_delta = timestamp_ms - self.base_timestamp_ms;
        let offset_delta = self.records;
        let body = body_size(key, value, timestamp_delta, offset_delta);
        put_varint(&mut self.buf, body as i64);
        self.buf.push(0); // record attributes: unused
        put_varint(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta as i64);
        put_bytes(&mut self.buf, key);
        put_bytes(&mut self.buf, Some(value));
        put_varint(&mut self.buf, 0); // header count
        self.records += 1;
        self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
    }

    /// Writes the header and CRC and returns the batch bytes, with no producer. Panics on an
    /// empty batch (a programmer error: callers seal only batches holding records).
    pub fn finish(self) -> Vec<u8> {
        self.finish_as(None)
    }

    /// [`BatchBuilder::finish`] under `producer`'s id, epoch and sequence when given.
    pub fn finish_as(mut self, producer: Option<BatchProducer>) -> Vec<u8> {
        assert!(self.records > 0, "a record batch needs at least one record");
        let b = &mut self.buf;
        let batch_length = (b.len() - LOG_OVERHEAD_BYTES) as i32;
        b[0..8].copy_from_slice(&0i64.to_be_bytes());
        b[8..12].copy_from_slice(&batch_length.to_be_bytes());
        b[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        b[16] = MAGIC_V2 as u8;
        let attributes = match producer {
            Some(p) if p.transactional => TRANSACTIONAL_ATTRIBUTE,
            _ => 0,
        };
        b[21..23].copy_from_slice(&attributes.to_be_bytes());
        b[23..27].copy_from_slice(&(self.records - 1).to_be_bytes());
        b[27..35].copy_from_slice(&self.base_timestamp_ms.to_be_bytes());
        b[35..43].copy_from_slice(&self.max_timestamp_ms.to_be_bytes());
        let (producer_id, epoch, sequence) = match producer {
            Some(p) => (p.producer_id, p.producer_epoch, p.base_sequence),
            None => (-1, -1, -1),
        };
        b[43..51].copy_from_slice(&producer_id.to_be_bytes());
        b[51..53].copy_from_slice(&epoch.to_be_bytes());
        b[53..57].copy_from_slice(&sequence.to_be_bytes());
        b[57..61].copy_from_slice(&self.records.to_be_bytes());
        let crc = batch::compute_crc(b);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        self.buf
    }
}

fn body_size(key: Option<&[u8]>, value: &[u8], timestamp_delta: i64, offset_delta: i32) -> usize {
    1 + varint_size(timestamp_delta)
        + varint_size(offset_delta as i64)
        + bytes_size(key)
        + bytes_size(Some(value))
        + 1
}

fn bytes_size(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => 1,
        Some(b) => varint_size(b.len() as i64) + b.len(),
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn varint_size(v: i64) -> usize {
    let bits = 64 - (zigzag(v) | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut u = zigzag(v);
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// One decoded record, borrowing from the fetched bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub offset: i64,
    pub timestamp_ms: i64,
    /// True when the timestamp is LogAppendTime (set by the broker), false for CreateTime.
    pub log_append_time: bool,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// A batch as fetched: its header and the undecoded records section.
#[derive(Debug, Clone, Copy)]
pub struct FetchedBatch<'a> {
    pub header: BatchHeader,
    records: &'a [u8],
}

impl<'a> FetchedBatch<'a> {
    /// Transactional control markers carry no user data.
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// The records, in offset order. Fails on compressed batches (not supported yet).
    pub fn records(&self) -> ClientResult<RecordIter<'a>> {
        let codec = self.header.compression();
        if codec != 0 {
            let name = COMPRESSION_NAMES.get(codec as usize).unwrap_or(&"unknown");
            return Err(ClientError::Protocol(format!(
                "batch at offset {} is compressed with {name}; only uncompressed batches are supported",
                self.header.base_offset
            )));
        }
        Ok(RecordIter {
            header: self.header,
            rest: self.records,
            left: self.header.records_count.max(0),
        })
    }
}

/// Splits fetched partition bytes into batches. A partial batch at the end (Fetch may cut one
/// off at `max_bytes`) ends the iteration without error; a corrupt batch is an error.
pub struct BatchIter<'a> {
    rest: &'a [u8],
}

impl<'a> BatchIter<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = ClientResult<FetchedBatch<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < LOG_OVERHEAD_BYTES {
            return None;
        }
        let length = i32::from_be_bytes(self.rest[8..12].try_into().ok()?);
        let total = LOG_OVERHEAD_BYTES as i64 + length as i64;
        if total > self.rest.len() as i64 && length >= 0 {
            return None; // truncated trailing batch
        }
        let result = check_batch(self.rest);
        match result {
            Ok(header) => {
                let whole = header.total_bytes();
                let batch = FetchedBatch {
                    header,
                    records: &self.rest[HEADER_BYTES..whole],
                };
                self.rest = &self.rest[whole..];
                Some(Ok(batch))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Header and CRC checks a consumer needs. Looser than the broker's `validate_batch`: a
/// compacted topic keeps `lastOffsetDelta` while dropping records, so counts may disagree.
fn check_batch(bytes: &[u8]) -> ClientResult<BatchHeader> {
    let header = BatchHeader::parse(bytes).map_err(|e| ClientError::Protocol(e.to_string()))?;
    if header.magic != MAGIC_V2 {
        return Err(ClientError::Protocol(format!(
            "record batch at offset {} has magic {}; only v2 is supported",
            header.base_offset, header.magic
        )));
    }
    let whole = header.total_bytes();
    if whole < HEADER_BYTES || whole > bytes.len() {
        return Err(ClientError::Protocol(format!(
            "record batch at offset {} has a bad length",
            header.base_offset
        )));
    }
    let computed = batch::compute_crc(&bytes[..whole]);
    if computed != header.crc {
        return Err(ClientError::Protocol(format!(
            "record batch at offset {} fails its CRC (stored {:#010x}, computed {computed:#010x})",
            header.base_offset, header.crc
        )));
    }
    Ok(header)
}

/// The records of one uncompressed batch.
pub struct RecordIter<'a> {
    header: BatchHeader,
    rest: &'a [u8],
    left: i32,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = ClientResult<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let parsed = parse_record(&self.header, &mut self.rest);
        if parsed.is_err() {
            self.left = 0;
        }
        Some(parsed)
    }
}

fn parse_record<'a>(header: &BatchHeader, rest: &mut &'a [u8]) -> ClientResult<Record<'a>> {
    let length = read_varint(rest)?;
    if length < 0 || length as usize > rest.len() {
        return Err(corrupt("record length exceeds the batch"));
    }
    let (mut body, after) = rest.split_at(length as usize);
    *rest = after;
    let _attributes = read_slice(&mut body, 1)?;
    let timestamp_delta = read_varint(&mut body)?;
    let offset_delta = read_varint(&mut body)?;
    let key = read_nullable(&mut body)?;
    let value = read_nullable(&mut body)?;
    // Headers are skipped: the console tools do not print them yet.
    let log_append_time = header.is_log_append_time();
    let timestamp_ms = if log_append_time {
        header.max_timestamp_ms
    } else {
        header.base_timestamp_ms.wrapping_add(timestamp_delta)
    };
    Ok(Record {
        offset: header.base_offset.wrapping_add(offset_delta),
        timestamp_ms,
        log_append_time,
        key,
        value,
    })
}

fn corrupt(reason: &str) -> ClientError {
    ClientError::Protocol(format!("corrupt record: {reason}"))
}

fn read_slice<'a>(buf: &mut &'a [u8], n: usize) -> ClientResult<&'a [u8]> {
    if buf.len() < n {
        return Err(corrupt("truncated"));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn read_varint(buf: &mut &[u8]) -> ClientResult<i64> {
    let mut u = 0u64;
    for shift in (0..70).step_by(7) {
        let (&byte, tail) = buf
            .split_first()
            .ok_or_else(|| corrupt("truncated varint"))?;
        *buf = tail;
        u |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Ok(((u >> 1) as i64) ^ -((u & 1) as i64));
        }
    }
    Err(corrupt("varint longer than 10 bytes"))
}

fn read_nullable<'a>(buf: &mut &'a [u8]) -> ClientResult<Option<&'a [u8]>> {
    let len = read_varint(buf)?;
    if len < 0 {
        return Ok(None);
    }
    read_slice(buf, len as usize).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_storage_build_batch() {
        let mut b = BatchBuilder::new(1_700_000_000_000, 0);
        b.append(Some(b"k1"), b"v1", 1_700_000_000_000);
        b.append(None, b"value-two", 1_700_000_000_000);
        let ours = b.finish();
        let reference = batch::build_batch(
            &[(Some(b"k1"), b"v1"), (None, b"value-two")],
            1_700_000_000_000,
        );
        assert_eq!(ours, reference);
    }

    #[test]
    fn round_trip_with_timestamps_and_sizes() {
        let mut b = BatchBuilder::new(1000, 0);
        let big = vec![7u8; 300];
        let mut expected_size = b.size_bytes();
        for (i, ts) in [1000i64, 1500, 999_000].iter().enumerate() {
            let key = format!("key-{i}");
            expected_size += b.record_size_bytes(Some(key.as_bytes()), &big, *ts);
            b.append(Some(key.as_bytes()), &big, *ts);
        }
        assert_eq!(b.size_bytes(), expected_size);
        let mut bytes = b.finish();
        batch::set_base_offset(&mut bytes, 40).unwrap();
        bytes.extend_from_slice(&[0, 0, 0]); // a cut-off trailing batch
        let batches: Vec<_> = BatchIter::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.len(), 1);
        let records: Vec<_> = batches[0]
            .records()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].offset, 42);
        assert_eq!(records[1].timestamp_ms, 1500);
        assert_eq!(records[2].timestamp_ms, 999_000);
        assert_eq!(records[0].key, Some(&b"key-0"[..]));
        assert_eq!(records[0].value, Some(&big[..]));
    }

    /// A transactional producer's batch carries its id, epoch, sequence and the
    /// transactional attribute; its CRC still checks (the broker's validation reads them).
    #[test]
    fn a_producer_s_batch_carries_its_identity() {
        let mut b = BatchBuilder::new(1000, 0);
        b.append(None, b"v", 1000);
        b.append(None, b"w", 1001);
        let producer = BatchProducer {
            producer_id: 4242,
            producer_epoch: 3,
            base_sequence: 17,
            transactional: true,
        };
        let bytes = b.finish_as(Some(producer));
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence
            ),
            (4242, 3, 17)
        );
        assert!(header.is_transactional() && !header.is_control());
        assert_eq!(header.crc, batch::compute_crc(&bytes));
        let mut plain = BatchBuilder::new(1000, 0);
        plain.append(None, b"v", 1000);
        let header = BatchHeader::parse(&plain.finish()).unwrap();
        assert_eq!((header.producer_id, header.base_sequence), (-1, -1));
        assert!(!header.is_transactional());
    }

    #[test]
    fn compressed_batch_is_reported() {
        let mut b = BatchBuilder::new(0, 0);
        b.append(None, b"x", 0);
        let mut bytes = b.finish();
        bytes[22] |= 1; // gzip
        let crc = batch::compute_crc(&bytes);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        let fetched = BatchIter::new(&bytes).next().unwrap().unwrap();
        let err = fetched.records().err().unwrap().to_string();
        assert!(err.contains("compressed with gzip"), "{err}");
    }

    #[test]
    fn varint_sizes() {
        for v in [
            0i64,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            8191,
            8192,
            i32::MAX as i64,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_size(v), "{v}");
            assert_eq!(read_varint(&mut &out[..]).unwrap(), v);
        }
    }
}
