//! Log recovery from arbitrary directory contents: see
//! `rill::storage::fuzz_support::open_arbitrary_dir` for what the input builds and what is
//! checked. Any crash found here gets its input added to `tests/log_fuzz_regression.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::storage::fuzz_support::open_arbitrary_dir(data);
});
