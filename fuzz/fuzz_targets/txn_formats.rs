//! Arbitrary bytes through every transactions format decoder: `__transaction_state` keys and
//! values (both versions), a control batch read as a marker, and an aborted-transaction
//! index. Each must answer an error at worst, never panic: see
//! `rill::txn::fuzz_support::decode_arbitrary`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::txn::fuzz_support::decode_arbitrary(data);
});
