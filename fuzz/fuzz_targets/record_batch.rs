//! Produced record batches from arbitrary bytes, through every codec (gzip, snappy raw and
//! xerial, lz4, zstd) under a decompressed-size bound, the record grammar, and whole
//! decompression: see `rill::storage::records::fuzz_support::walk_arbitrary`. Run with
//! `-malloc_limit_mb=64`: a zip bomb decompressed past its bound fails the run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::storage::records::fuzz_support::walk_arbitrary(data);
});
