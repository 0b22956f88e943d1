//! Record batches as clients write them: v2 batches of one or many records, uncompressed or
//! compressed with one of Kafka's four codecs, and their decoding on the read side. The codecs
//! are the broker's own crates (gzip, raw snappy as librdkafka writes it, the LZ4 frame format,
//! zstd), plugged into kafka-protocol's encoder and decoder.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Every codec a batch may carry, for the producers' seeded choice.
pub const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// The idempotent identity a batch is written under, and its first record's sequence.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// One record to write: its value (what the checker compares) and its key, which carries the
/// padding that makes some batches large without bloating the history.
pub struct Entry<'a> {
    pub key: &'a [u8],
    pub value: &'a str,
}

/// Encodes `entries` as one v2 batch (offsets 0..n relative, sequences from the stamp's base).
pub fn encode(
    entries: &[Entry<'_>],
    stamp: Option<Stamp>,
    compression: Compression,
    timestamp_ms: i64,
) -> Result<Bytes, String> {
    encode_stamped(entries, stamp, false, compression, timestamp_ms)
}

/// Encodes `entries` as one v2 batch of a transaction (the attributes' transactional bit set)
/// under the producer's identity `stamp`.
pub fn encode_transactional(
    entries: &[Entry<'_>],
    stamp: Stamp,
    compression: Compression,
    timestamp_ms: i64,
) -> Result<Bytes, String> {
    encode_stamped(entries, Some(stamp), true, compression, timestamp_ms)
}

fn encode_stamped(
    entries: &[Entry<'_>],
    stamp: Option<Stamp>,
    transactional: bool,
    compression: Compression,
    timestamp_ms: i64,
) -> Result<Bytes, String> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: stamp.map_or(-1, |s| s.producer_id),
            producer_epoch: stamp.map_or(-1, |s| s.epoch),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: stamp.map_or(-1, |s| s.base_sequence + i as i32),
            timestamp: timestamp_ms,
            key: Some(Bytes::copy_from_slice(entry.key)),
            value: Some(Bytes::copy_from_slice(entry.value.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    encode_records(&records, compression)
}

/// `records` as one v2 batch compressed with `compression` (the broker's own codec crates).
pub fn encode_records(records: &[Record], compression: Compression) -> Result<Bytes, String> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode_with_custom_compression(
        &mut buf,
        records,
        &options,
        Some(|plain: &mut BytesMut, out: &mut BytesMut, codec| {
            out.put_slice(&compress(plain, codec)?);
            Ok(())
        }),
    )
    .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

fn compress(plain: &[u8], codec: Compression) -> std::io::Result<Vec<u8>> {
    Ok(match codec {
        Compression::None => plain.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(plain)?;
            e.finish()?
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(plain)
            .map_err(std::io::Error::other)?,
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(plain)?;
            e.finish().map_err(std::io::Error::other)?
        }
        Compression::Zstd => zstd::stream::encode_all(plain, 1)?,
    })
}

fn decompress(payload: &[u8], codec: Compression) -> std::io::Result<Vec<u8>> {
    let mut plain = Vec::new();
    match codec {
        Compression::None => plain.extend_from_slice(payload),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(payload).read_to_end(&mut plain)?;
        }
        Compression::Snappy => {
            plain = snap::raw::Decoder::new()
                .decompress_vec(payload)
                .map_err(std::io::Error::other)?;
        }
        Compression::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(payload).read_to_end(&mut plain)?;
        }
        Compression::Zstd => plain = zstd::stream::decode_all(payload)?,
    }
    Ok(plain)
}

/// Decodes every batch in a fetched record set: (offset, value) of each record.
pub fn decode(records: Bytes) -> Result<Vec<(i64, String)>, String> {
    Ok(decode_keyed(records)?
        .records
        .into_iter()
        .map(|r| (r.offset, r.value.unwrap_or_default()))
        .collect())
}

/// One record read back with its key; `value` is `None` for a tombstone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedRecord {
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
}

/// A fetched record set decoded: its records, and the offset after its last batch (a
/// compacted log serves batches whose records all went, so the next fetch offset comes from
/// the batch headers, not from the last record).
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<KeyedRecord>,
    pub next_offset: Option<i64>,
}

/// Bytes of a v2 batch header before `lastOffsetDelta` ends: baseOffset (8), batchLength (4),
/// partitionLeaderEpoch (4), magic (1), crc (4), attributes (2), lastOffsetDelta (4).
const LAST_OFFSET_DELTA_END: usize = 27;

/// Decodes every batch in a fetched record set, keys and tombstones included.
pub fn decode_keyed(mut records: Bytes) -> Result<Decoded, String> {
    let mut out = Decoded::default();
    while !records.is_empty() {
        if records.len() >= LAST_OFFSET_DELTA_END {
            let base = i64::from_be_bytes(records[0..8].try_into().expect("8 bytes"));
            let delta = i32::from_be_bytes(records[23..27].try_into().expect("4 bytes"));
            out.next_offset = Some(base + i64::from(delta) + 1);
        }
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut records,
            Some(|payload: &mut Bytes, codec| Ok(Bytes::from(decompress(payload, codec)?))),
        )
        .map_err(|e| e.to_string())?;
        let text = |b: Bytes| String::from_utf8_lossy(&b).into_owned();
        for r in set.records {
            out.records.push(KeyedRecord {
                offset: r.offset,
                key: r.key.map(text),
                value: r.value.map(text),
            });
        }
    }
    Ok(out)
}

/// One batch of a fetched record set, with the header fields a `read_committed` consumer
/// goes by (Kafka's `CompletedFetch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBatch {
    pub base_offset: i64,
    /// The offset of its last record (base + lastOffsetDelta), record or not.
    pub last_offset: i64,
    /// -1: none.
    pub producer_id: i64,
    pub transactional: bool,
    pub control: bool,
    /// (offset, key, value) of each record.
    pub records: Vec<(i64, Option<Bytes>, Option<Bytes>)>,
}

/// Bytes of a v2 batch header up to and with `recordCount`: baseOffset (8), batchLength (4),
/// partitionLeaderEpoch (4), magic (1), crc (4), attributes (2, at 21), lastOffsetDelta (4,
/// at 23), firstTimestamp (8), maxTimestamp (8), producerId (8, at 43), producerEpoch (2),
/// baseSequence (4), recordCount (4).
const BATCH_HEADER_BYTES: usize = 61;
/// The attributes' transactional and control bits.
const TRANSACTIONAL_ATTRIBUTE: i16 = 0x10;
const CONTROL_ATTRIBUTE: i16 = 0x20;

/// Decodes every batch in a fetched record set, each with its header's producer id and flags.
pub fn decode_batches(mut records: Bytes) -> Result<Vec<FetchedBatch>, String> {
    let mut out = Vec::new();
    while !records.is_empty() {
        if records.len() < BATCH_HEADER_BYTES {
            return Err(format!(
                "{} bytes left: no whole batch header",
                records.len()
            ));
        }
        let base_offset = i64::from_be_bytes(records[0..8].try_into().expect("8 bytes"));
        let attributes = i16::from_be_bytes(records[21..23].try_into().expect("2 bytes"));
        let delta = i32::from_be_bytes(records[23..27].try_into().expect("4 bytes"));
        let producer_id = i64::from_be_bytes(records[43..51].try_into().expect("8 bytes"));
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut records,
            Some(|payload: &mut Bytes, codec| Ok(Bytes::from(decompress(payload, codec)?))),
        )
        .map_err(|e| e.to_string())?;
        out.push(FetchedBatch {
            base_offset,
            last_offset: base_offset + i64::from(delta),
            producer_id,
            transactional: attributes & TRANSACTIONAL_ATTRIBUTE != 0,
            control: attributes & CONTROL_ATTRIBUTE != 0,
            records: (set.records.into_iter())
                .map(|r| (r.offset, r.key, r.value))
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_a_many_record_batch() {
        let values: Vec<String> = (0..50).map(|i| format!("p1-{i}")).collect();
        let key = vec![7u8; 4096];
        let entries: Vec<Entry<'_>> = values
            .iter()
            .map(|value| Entry { key: &key, value })
            .collect();
        let stamp = Stamp {
            producer_id: 3,
            epoch: 0,
            base_sequence: 10,
        };
        for codec in CODECS {
            let bytes = encode(&entries, Some(stamp), codec, 1).expect("encodes");
            if codec != Compression::None {
                assert!(bytes.len() < 50 * 4096, "{codec:?} compressed");
            }
            let decoded = decode(bytes).expect("decodes");
            let expected: Vec<(i64, String)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as i64, v.clone()))
                .collect();
            assert_eq!(decoded, expected, "{codec:?}");
        }
    }
}
