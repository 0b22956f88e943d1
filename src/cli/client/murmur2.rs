//! Kafka's murmur2 hash and the Java client's key partitioner.
//!
//! The same key must land in the same partition whichever client wrote it (the Java client,
//! librdkafka with `partitioner=murmur2_random`, rill's tools), so this is a bit-exact port of
//! `org.apache.kafka.common.utils.Utils.murmur2` — including its signed 32-bit arithmetic.

const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// `Utils.murmur2(data)`: the 32-bit signed hash the Java client computes for a key.
pub fn murmur2(data: &[u8]) -> i32 {
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's partition for a keyed record: `toPositive(murmur2(key)) % partitions`.
///
/// Panics if `partitions` is not positive (a topic always has at least one partition; callers
/// check metadata first).
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    assert!(partitions > 0, "a topic has at least one partition");
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafka_utils_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                expected,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn partition_is_non_negative_and_in_range() {
        for key in [&b""[..], b"21", b"foobar", b"\xff\xff\xff\xff\xff"] {
            for partitions in 1..20 {
                let p = partition_for_key(key, partitions);
                assert!((0..partitions).contains(&p));
            }
        }
        // toPositive, not abs: murmur2("21") is negative.
        assert_eq!(
            partition_for_key(b"21", i32::MAX),
            -973_932_308 & 0x7fff_ffff
        );
    }
}
