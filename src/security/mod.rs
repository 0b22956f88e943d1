//! Kafka's security model as pure logic (issue 16): who a connection is
//! ([`principal::KafkaPrincipal`]) and how SASL proves it ([`scram`]: SCRAM-SHA-256/512,
//! RFC 5802/7677, with the credentials Kafka stores).
//!
//! Bytes in, bytes out: no I/O, no clock, no randomness of its own (a nonce or salt is handed
//! in by the caller, from the host's seeded RNG under the simulator), so the same code runs in
//! the broker, the command-line client and the simulation.

pub mod principal;
pub mod sasl;
pub mod scram;
