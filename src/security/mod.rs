//! Kafka's security model as pure logic (issue 16): who a connection is, how SASL proves it,
//! and what ACLs let it do.
//!
//! * [`principal`] — `KafkaPrincipal`: `User:alice`, what ACLs and quotas name.
//! * [`scram`] — SCRAM-SHA-256/512 (RFC 5802/7677): the credentials Kafka stores, the
//!   broker's and the client's side of the exchange.
//! * [`sasl`] — the mechanisms a listener offers (`sasl.enabled.mechanisms`) and PLAIN's users.
//! * [`plain`] — SASL PLAIN (RFC 4616): one message, checked against configured users.
//! * [`fuzz_support`] — the `sasl` fuzz target's body: every parser on untrusted bytes.
//! * [`jaas`] — Kafka's `sasl.jaas.config` values: where PLAIN's users and a client's own
//!   name and password are written.
//! * [`acl`] — Kafka's ACLs (bindings, filters, their wire codes) and StandardAuthorizer's
//!   decision: `super.users`, DENY over ALLOW, literal, wildcard and prefixed patterns,
//!   implied operations, `allow.everyone.if.no.acl.found`.
//!
//! Bytes in, bytes out: no I/O, no clock, no randomness of its own (a nonce or the decoy key
//! is handed in by the caller, from the host's seeded RNG under the simulator), so the same
//! code runs in the broker, the command-line client and the simulation. Every parser bounds
//! its input (`limits::SASL_MESSAGE_BYTES_MAX`) and answers any bytes with a value or an
//! error, never a panic. Failed logins fail alike: one error and one text for an unknown user
//! and a wrong password, so the answers do not tell which user names exist.

pub mod acl;
pub mod fuzz_support;
pub mod jaas;
pub mod plain;
pub mod principal;
pub mod sasl;
pub mod scram;

pub use jaas::JaasConfig;
pub use plain::{PlainAuth, PlainError};
pub use principal::KafkaPrincipal;
pub use scram::{ScramClient, ScramCredential, ScramError, ScramMechanism, ScramServer};
