//! Streaming decoders for the four codecs a v2 batch's attributes may name (1 gzip, 2 snappy,
//! 3 lz4, 4 zstd), each a `Read` the record walk pulls from. All are pure Rust but zstd
//! (native libzstd: the pure-Rust `ruzstd` cost 5-6 times the CPU per message). Memory per decoder is
//! bounded by the format's window (gzip 32 KiB, lz4 a 4 MiB block, zstd
//! [`ZSTD_WINDOW_BYTES_MAX`]) or, for snappy, by [`SNAPPY_BLOCK_BYTES_MAX`] — never by what the
//! payload claims.
//!
//! Produce stores batches as they came; only the log cleaner compresses, when it rewrites a
//! compressed batch it removed records from ([`encode`], in the batch's own codec, as Kafka's
//! cleaner does).

use std::io::{self, Read};

use super::RecordsError;
use crate::limits::{SNAPPY_BLOCK_BYTES_MAX, ZSTD_WINDOW_BYTES_MAX};

/// Snappy's best case: a 3-byte copy tag yields 64 bytes, so no block decompresses to more than
/// ~21.4 times its size (plus the length preamble). A claim beyond it is not snappy.
const SNAPPY_RATIO_MAX: usize = 22;

/// xerial snappy-java's stream header, which Kafka's Java clients write before the blocks.
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_BYTES: usize = 16;

/// A decoder that can say how much of its compressed input it has not used.
///
/// Review of issue 9 item 3: the walk stopped once `recordsCount` records were read and the
/// decoder reported the end, but a decoder reports the end before its input does (lz4 at its
/// end mark, or for an empty block; anything after a complete frame): bytes after the records'
/// compressed data were stored unchecked, and librdkafka and Java consumers then failed on that
/// batch forever. After the walk the decoder must have used its whole input.
pub trait Decompress: Read {
    /// Compressed bytes not consumed yet.
    fn input_left(&self) -> usize;
}

impl Decompress for flate2::bufread::MultiGzDecoder<&[u8]> {
    fn input_left(&self) -> usize {
        self.get_ref().len()
    }
}

impl Decompress for Snappy<'_> {
    fn input_left(&self) -> usize {
        self.rest.len()
    }
}

impl Decompress for lz4_flex::frame::FrameDecoder<&[u8]> {
    fn input_left(&self) -> usize {
        self.get_ref().len()
    }
}

impl Decompress for zstd::stream::read::Decoder<'static, &[u8]> {
    fn input_left(&self) -> usize {
        self.get_ref().len()
    }
}

/// `payload` (a batch's compressed records section) decompressed whole, if it holds at most
/// `bytes_max` bytes and nothing follows the codec's stream.
pub fn decompress_all(codec: u8, payload: &[u8], bytes_max: u64) -> Result<Vec<u8>, RecordsError> {
    let mut stream = decoder(codec, payload, bytes_max)?;
    let mut out = Vec::new();
    let cannot = |e: io::Error| RecordsError::corrupt(format!("cannot decompress: {e}"));
    (&mut stream)
        .take(bytes_max.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(cannot)?;
    if out.len() as u64 > bytes_max {
        return Err(RecordsError::corrupt(format!(
            "the records decompress to more than {bytes_max} bytes"
        )));
    }
    if stream.input_left() != 0 {
        return Err(RecordsError::corrupt(
            "compressed data follows the stream's end",
        ));
    }
    Ok(out)
}

/// Whether a snappy `payload` has xerial framing (Java clients) rather than one raw block
/// (librdkafka).
pub fn is_xerial(payload: &[u8]) -> bool {
    payload.len() >= XERIAL_HEADER_BYTES && payload.starts_with(XERIAL_MAGIC)
}

/// The block size of xerial snappy framing (snappy-java's default).
const XERIAL_BLOCK_BYTES: usize = 32 << 10;

/// `records` (an uncompressed records section) compressed with `codec` in a form every Kafka
/// client reads: gzip; snappy as one raw block or, with `xerial`, snappy-java's framing; an
/// LZ4 frame of independent blocks (Kafka's `KafkaLZ4BlockInputStream` reads no other); zstd.
pub fn encode(codec: u8, records: &[u8], xerial: bool) -> io::Result<Vec<u8>> {
    use std::io::Write;
    match codec {
        1 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(records)?;
            gz.finish()
        }
        2 if xerial => {
            let mut out = XERIAL_MAGIC.to_vec();
            out.extend_from_slice(&1i32.to_be_bytes()); // version
            out.extend_from_slice(&1i32.to_be_bytes()); // compatible version
            let mut encoder = snap::raw::Encoder::new();
            for block in records.chunks(XERIAL_BLOCK_BYTES) {
                let compressed = encoder.compress_vec(block).map_err(io::Error::other)?;
                out.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
                out.extend_from_slice(&compressed);
            }
            Ok(out)
        }
        2 => snap::raw::Encoder::new()
            .compress_vec(records)
            .map_err(io::Error::other),
        3 => {
            // 64 KiB independent blocks, as Kafka's own `KafkaLZ4BlockOutputStream` writes.
            let info = lz4_flex::frame::FrameInfo::new()
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_size(lz4_flex::frame::BlockSize::Max64KB);
            let mut lz4 = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            lz4.write_all(records)?;
            lz4.finish().map_err(io::Error::other)
        }
        4 => zstd::stream::encode_all(records, 3),
        other => Err(io::Error::other(format!(
            "unknown compression codec {other}"
        ))),
    }
}

/// A decoder over `payload` for `codec`. `budget` bounds what one snappy block may claim.
pub fn decoder<'a>(
    codec: u8,
    payload: &'a [u8],
    budget: u64,
) -> Result<Box<dyn Decompress + 'a>, RecordsError> {
    Ok(match codec {
        1 => Box::new(flate2::bufread::MultiGzDecoder::new(payload)),
        2 => Box::new(Snappy::new(payload, budget)),
        3 => {
            lz4_one_frame(payload).map_err(|why| {
                RecordsError::corrupt(format!("cannot decompress the records: lz4: {why}"))
            })?;
            Box::new(lz4_flex::frame::FrameDecoder::new(payload))
        }
        4 => Box::new(zstd_decoder(payload)?),
        other => {
            return Err(RecordsError::corrupt(format!(
                "unknown compression codec {other}"
            )))
        }
    })
}

/// Checks that `payload` is exactly one LZ4 frame (the LZ4 frame format: magic, descriptor,
/// blocks each prefixed by a little-endian u32 size whose top bit marks an uncompressed block,
/// an end mark of size 0, optional block and content checksums), as Kafka's
/// `KafkaLZ4BlockInputStream` reads it: one frame, and a block of size 0 is its end, also with
/// the uncompressed bit set. `lz4_flex` would instead end the stream quietly at a truncated
/// block header or an empty uncompressed block, and leave anything after the end mark unread.
/// Only sizes are read here (a few integers a block); the decoder checks the rest.
fn lz4_one_frame(payload: &[u8]) -> Result<(), String> {
    const MAGIC: u32 = 0x184D_2204;
    const UNCOMPRESSED: u32 = 1 << 31;
    let u32_at = |at: usize| -> Result<u32, String> {
        payload
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("the frame is cut off at byte {at}"))
    };
    if u32_at(0)? != MAGIC {
        return Err("not an LZ4 frame (magic number)".into());
    }
    let flags = *payload.get(4).ok_or("the frame descriptor is cut off")?;
    let block_checksums = flags & 0x10 != 0;
    let content_checksum = flags & 0x04 != 0;
    let content_size = if flags & 0x08 != 0 { 8 } else { 0 };
    let dict_id = if flags & 0x01 != 0 { 4 } else { 0 };
    // Magic, FLG, BD, the optional fields, then the header checksum byte.
    let mut at = 4 + 2 + content_size + dict_id + 1;
    loop {
        let size = u32_at(at)?;
        at += 4;
        if size == 0 {
            break;
        }
        if size == UNCOMPRESSED {
            return Err(format!(
                "an empty block at byte {}, which Kafka reads as the end mark",
                at - 4
            ));
        }
        at += (size & !UNCOMPRESSED) as usize + if block_checksums { 4 } else { 0 };
    }
    if content_checksum {
        at += 4;
    }
    match at.cmp(&payload.len()) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err("the frame's checksum is cut off".into()),
        std::cmp::Ordering::Less => Err(format!(
            "{} bytes follow the frame's end mark",
            payload.len() - at
        )),
    }
}

/// The window log [`ZSTD_WINDOW_BYTES_MAX`] allows: libzstd refuses a frame declaring a larger
/// window before allocating it.
const ZSTD_WINDOW_LOG_MAX: u32 = ZSTD_WINDOW_BYTES_MAX.trailing_zeros();
const _: () = assert!(ZSTD_WINDOW_BYTES_MAX.is_power_of_two());

/// libzstd's streaming decoder over `payload` (concatenated frames allowed, as Kafka's
/// `ZstdInputStream` does), refusing windows beyond [`ZSTD_WINDOW_BYTES_MAX`].
fn zstd_decoder(
    payload: &[u8],
) -> Result<zstd::stream::read::Decoder<'static, &[u8]>, RecordsError> {
    let cannot =
        |e: io::Error| RecordsError::corrupt(format!("cannot decompress the records: {e}"));
    let mut zstd = zstd::stream::read::Decoder::with_buffer(payload).map_err(cannot)?;
    zstd.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(cannot)?;
    Ok(zstd)
}

/// Kafka's snappy: either xerial framing (a 16-byte header, then blocks each prefixed by a
/// big-endian u32 length) or, as librdkafka writes it, one raw snappy block. Decodes one block
/// at a time.
struct Snappy<'a> {
    /// Compressed bytes not yet decoded.
    rest: &'a [u8],
    framed: bool,
    block: Vec<u8>,
    at: usize,
    budget: u64,
}

impl<'a> Snappy<'a> {
    fn new(payload: &'a [u8], budget: u64) -> Self {
        let framed = is_xerial(payload);
        let rest = if framed {
            &payload[XERIAL_HEADER_BYTES..]
        } else {
            payload
        };
        Self {
            rest,
            framed,
            block: Vec::new(),
            at: 0,
            budget,
        }
    }

    /// The next compressed block, or `None` at the end.
    fn next_compressed(&mut self) -> io::Result<Option<&'a [u8]>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        if !self.framed {
            return Ok(Some(std::mem::take(&mut self.rest)));
        }
        if self.rest.len() < 4 {
            return Err(bad("truncated xerial block length"));
        }
        let len = u32::from_be_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]);
        let body = self
            .rest
            .get(4..4 + len as usize)
            .ok_or_else(|| bad("xerial block runs past the payload"))?;
        self.rest = &self.rest[4 + len as usize..];
        Ok(Some(body))
    }

    fn decode_next(&mut self) -> io::Result<bool> {
        let Some(compressed) = self.next_compressed()? else {
            return Ok(false);
        };
        let len = snap::raw::decompress_len(compressed).map_err(|e| bad(&e.to_string()))?;
        if len > compressed.len() * SNAPPY_RATIO_MAX + 8 {
            return Err(bad(&format!(
                "a {}-byte block claims {len} bytes, beyond snappy's ratio",
                compressed.len()
            )));
        }
        if len > SNAPPY_BLOCK_BYTES_MAX || len as u64 > self.budget {
            return Err(io::Error::other(OverBudget));
        }
        self.block.clear();
        self.block.resize(len, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| bad(&e.to_string()))?;
        self.budget -= len as u64;
        self.at = 0;
        Ok(true)
    }
}

/// A snappy block larger than [`SNAPPY_BLOCK_BYTES_MAX`] or the request's remaining budget:
/// a limit, reported as MESSAGE_TOO_LARGE rather than as corruption.
#[derive(Debug)]
pub struct OverBudget;

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed block over the limit")
    }
}

impl std::error::Error for OverBudget {}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("snappy: {why}"))
}

impl Read for Snappy<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.block.len() {
            if !self.decode_next()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.block.len() - self.at);
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a raw snappy block of `total` bytes claiming `claim` decompressed bytes gets,
    /// with a budget just below the claim.
    fn refusal(claim: u32, total: usize) -> io::Error {
        let mut payload = Vec::new();
        let mut v = claim;
        while v >= 0x80 {
            payload.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        payload.push(v as u8);
        payload.resize(total, 0);
        let mut out = Vec::new();
        Snappy::new(&payload, u64::from(claim) - 1)
            .read_to_end(&mut out)
            .expect_err("the claim is over the budget or beyond the ratio")
    }

    #[test]
    fn a_claim_at_the_ratio_bound_is_a_limit_and_past_it_corruption() {
        let total = 10;
        let bound = (total * SNAPPY_RATIO_MAX + 8) as u32;
        let at = refusal(bound, total);
        assert!(
            at.get_ref().is_some_and(|e| e.is::<OverBudget>()),
            "a claim at the bound is weighed against the budget: {at}"
        );
        let past = refusal(bound + 1, total);
        assert_eq!(past.kind(), io::ErrorKind::InvalidData, "{past}");
        assert!(past.to_string().contains("beyond snappy's ratio"), "{past}");
    }

    #[test]
    fn records_of_exactly_the_bound_decompress_and_one_byte_more_is_refused() {
        let records: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let n = records.len() as u64;
        for codec in 1..=4 {
            let payload = encode(codec, &records, false).unwrap();
            let out = decompress_all(codec, &payload, n)
                .unwrap_or_else(|e| panic!("codec {codec}: {e:?}"));
            assert!(out == records, "codec {codec}");
            assert!(
                decompress_all(codec, &payload, n - 1).is_err(),
                "codec {codec}"
            );
        }
    }
}
