//! The `record_batch` fuzz target's body (`fuzz/fuzz_targets/record_batch.rs`), also run as a
//! proptest in plain `cargo test` (`tests.rs`): produced record batches from arbitrary bytes,
//! through the walk a Produce request's records take ([`check_produced`], every codec streamed
//! under a [`WalkBudget`]), the keyless-record scan, and whole decompression
//! ([`decompress_all`], what the log cleaner uses) under a bound.
//!
//! A CRC guards every batch, so raw bytes rarely get past it: most inputs are wrapped in a
//! batch header with a correct CRC around a records section the input chooses (compressed
//! by the input's codec, or taken as the codec's payload as is), so the fuzzer's effort goes
//! into the decoders and the record grammar. Must never panic, nor allocate more than the
//! bounds justify (the fuzz run's `-malloc_limit_mb` fails a zip bomb that is decompressed
//! whole).

use super::{check_produced, decompress_all, encode, keyless_records, WalkBudget};
use crate::storage::batch::{build_batch, compute_crc, HEADER_BYTES};

/// What one input may decompress to: small, so an iteration stays fast, and far below the
/// fuzz run's malloc limit (64 MiB), so a decoder that ignores its bound is caught.
const DECOMPRESSED_BYTES_MAX: u64 = 1 << 20;
/// Records and headers one input may walk.
const ENTRIES_MAX: u64 = 1 << 16;

/// Drives the record-batch paths with `data`: its first byte picks the codec (none, gzip,
/// snappy, lz4, zstd) and the form, the rest is the payload.
pub fn walk_arbitrary(data: &[u8]) {
    let Some((&choice, payload)) = data.split_first() else {
        return;
    };
    let codec = choice % 5;
    let mut budget = WalkBudget::new(DECOMPRESSED_BYTES_MAX, ENTRIES_MAX);
    match (choice / 5) % 4 {
        // The bytes as a Produce request's records, CRC and all.
        0 => {
            let mut batches = payload.to_vec();
            let _ = check_produced(&mut batches, &mut budget);
            let _ = keyless_records(&batches, 16);
        }
        // The payload as the codec's compressed records section, whole.
        1 => {
            if let Ok(out) = decompress_all(codec, payload, DECOMPRESSED_BYTES_MAX) {
                assert!(out.len() as u64 <= DECOMPRESSED_BYTES_MAX);
            }
            walk_wrapped(payload, codec, payload.len() as i32, &mut budget);
        }
        // The payload as an uncompressed records section, compressed here by the codec: the
        // decoders see well-formed streams of arbitrary records.
        2 => {
            let count = payload.first().map_or(1, |&n| i32::from(n % 8) + 1);
            if let Ok(section) = encode(codec, payload, choice & 0x80 != 0) {
                walk_wrapped(&section, codec, count, &mut budget);
            }
        }
        // A valid batch of the payload's records, then the payload's bytes over its records
        // section at an offset the payload picks (CRC fixed): damage the grammar must catch.
        _ => {
            let (key, value) = payload.split_at(payload.len() / 2);
            let mut batch = build_batch(&[(Some(key), value)], 1_700_000_000_000);
            if let Some((&at, damage)) = payload.split_first() {
                let start = HEADER_BYTES + usize::from(at) % (batch.len() - HEADER_BYTES + 1);
                let end = (start + damage.len()).min(batch.len());
                batch[start..end].copy_from_slice(&damage[..end - start]);
                fix_crc(&mut batch);
            }
            let _ = check_produced(&mut batch, &mut budget);
        }
    }
}

/// `section` (already in `codec`'s form) in a batch claiming `count` records, with a correct
/// CRC, walked as produced.
fn walk_wrapped(section: &[u8], codec: u8, count: i32, budget: &mut WalkBudget) {
    let mut batch = build_batch(&[(None, b"x")], 1_700_000_000_000);
    batch.truncate(HEADER_BYTES);
    batch.extend_from_slice(section);
    let Ok(batch_length) = i32::try_from(batch.len() - 12) else {
        return;
    };
    batch[8..12].copy_from_slice(&batch_length.to_be_bytes());
    batch[21..23].copy_from_slice(&i16::from(codec).to_be_bytes());
    batch[23..27].copy_from_slice(&(count.max(1) - 1).to_be_bytes());
    batch[57..61].copy_from_slice(&count.to_be_bytes());
    fix_crc(&mut batch);
    let _ = check_produced(&mut batch, budget);
    let _ = keyless_records(&batch, 16);
}

fn fix_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The fuzz body in plain `cargo test`, each form and codec alike likely.
        #[test]
        fn any_bytes_are_walked_or_refused(
            choice in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut data = vec![choice];
            data.extend_from_slice(&payload);
            super::walk_arbitrary(&data);
        }
    }

    /// A zip bomb (a gzip stream of 64 MiB of zeros, 64 KiB compressed) in every form costs
    /// at most the bound: refused, never decompressed whole.
    #[test]
    fn a_zip_bomb_is_refused_within_the_bound() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 128 << 10, "{}", bomb.len());
        assert!(super::decompress_all(1, &bomb, super::DECOMPRESSED_BYTES_MAX).is_err());
        let mut data = vec![1 + 5]; // gzip, the payload as the compressed section
        data.extend_from_slice(&bomb);
        super::walk_arbitrary(&data);
    }
}
