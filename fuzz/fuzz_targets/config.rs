//! A server config from arbitrary text (a `server.properties` or TOML file plus overrides):
//! loaded or refused with the key named, never a panic. See
//! `rill::config::fuzz_support::load_arbitrary`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rill::config::fuzz_support::load_arbitrary(data);
});
