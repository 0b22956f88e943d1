//! The Kafka request path from raw connection bytes: frames split, header read, every API and
//! version (advertised or not) checked against its layout and decoded. See
//! `rill::protocol::fuzz_support::request_stream`. Run with a malloc limit (`fuzz/README.md`):
//! an allocation beyond what the input's length justifies is a failure, like a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::protocol::fuzz_support::request_stream(data);
});
