//! A controller voter's directory from arbitrary bytes, loaded, appended to and loaded again:
//! see `rill::controller::raft::fuzz_support::load_arbitrary_dir`. Any crash found here gets
//! its input added to `tests/raft_fuzz_regression.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::controller::raft::fuzz_support::load_arbitrary_dir(data);
});
