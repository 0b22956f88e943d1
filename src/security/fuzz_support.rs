//! The body of the `sasl` fuzz target (`fuzz/`): untrusted bytes through every SASL parser a
//! broker or a client runs on what the other side sent, and through a whole SCRAM exchange.
//! Each must answer an error at worst, never panic nor allocate by an unchecked length.

use super::jaas::JaasConfig;
use super::sasl::SaslMechanism;
use super::scram::client::{parse_server_final, parse_server_first};
use super::scram::server::{parse_client_final, parse_client_first};
use super::scram::{ScramClient, ScramCredential, ScramMechanism, ScramServer};

/// The decoy key the exchange below runs with (any fixed bytes).
const DECOY_KEY: &[u8] = b"fuzz-decoy-key";

/// Every parser on `data`; then `data` split in two as a client's first and final messages to
/// a broker that knows user "user", and as a server's two answers to a client.
pub fn parse_arbitrary(data: &[u8]) {
    let _ = parse_client_first(data);
    let _ = parse_client_final(data);
    let _ = parse_server_first(data);
    let _ = parse_server_final(data);
    let _ = super::plain::parse(data);
    let text = String::from_utf8_lossy(data);
    let _ = JaasConfig::parse(&text);
    let _ = SaslMechanism::parse_list(&text);

    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let (first, last) = data.split_at(split);
    for mechanism in ScramMechanism::ALL {
        // The broker's side: a client-first from the input, then its final message.
        if let Ok(parsed) = parse_client_first(first) {
            let credential = (parsed.username() == "user")
                .then(|| ScramCredential::from_password(mechanism, b"pencil", b"salt", 4096));
            let (server, _) = ScramServer::start(mechanism, parsed, credential, "nonce", DECOY_KEY);
            let _ = server.finish(last);
        }
        // The client's side: the server's two answers from the input.
        let (mut client, _) = ScramClient::new(mechanism, "user", "pencil", "nonce");
        if client.server_first(first).is_ok() {
            let _ = client.server_final(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The fuzz body in plain `cargo test`.
        #[test]
        fn any_bytes_are_parsed_or_refused(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            super::parse_arbitrary(&data);
        }
    }
}
