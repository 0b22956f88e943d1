//! Arbitrary bytes as metadata entries, decoded and applied, the image's snapshot loaded
//! back: see `rill::controller::raft::fuzz_support::apply_arbitrary_entries`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::controller::raft::fuzz_support::apply_arbitrary_entries(data);
});
