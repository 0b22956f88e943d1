//! SCRAM (RFC 5802, with SHA-256/512 as RFC 7677 and Kafka's `ScramMechanism`): the
//! mechanisms, the credential a broker stores ([`credential`]), and the exchange.

pub mod credential;

pub use credential::{ScramCredential, ScramMechanism};
