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
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| Record {
            transactional: false,
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
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode_with_custom_compression(
        &mut buf,
        &records,
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
pub fn decode(mut records: Bytes) -> Result<Vec<(i64, String)>, String> {
    let mut out = Vec::new();
    while !records.is_empty() {
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut records,
            Some(|payload: &mut Bytes, codec| Ok(Bytes::from(decompress(payload, codec)?))),
        )
        .map_err(|e| e.to_string())?;
        for r in set.records {
            let value = r
                .value
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default();
            out.push((r.offset, value));
        }
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
