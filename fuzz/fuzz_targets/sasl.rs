//! Arbitrary bytes through every SASL parser (SCRAM's four messages, PLAIN, JAAS configs,
//! mechanism lists) and through a whole SCRAM exchange on both sides. Each must answer an
//! error at worst, never panic: see `rill::security::fuzz_support::parse_arbitrary`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::security::fuzz_support::parse_arbitrary(data);
});
