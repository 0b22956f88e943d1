//! SCRAM (RFC 5802, with SHA-256/512 as RFC 7677 and Kafka's `ScramMechanism`): the
//! mechanisms, the credential a broker stores, and the exchange.
//!
//! * [`credential`] — the mechanisms (hash, HMAC, PBKDF2) and what a broker keeps of a
//!   password.
//! * [`messages`] — the grammar the four messages share: attributes, escaped user names,
//!   nonces, base64, extensions.
//! * [`salt`] — salts shaped as Kafka's tools draw them.
//! * [`server`] — the broker's side, with a decoy credential for unknown users.
//! * [`client`] — the client's side, for Rill's command-line client and the simulator.
//! * [`error`] — the two ways an exchange fails: a malformed message, or a failed login.
//!
//! The exchange, as the broker sees it (each step one `SaslAuthenticate` round):
//!
//! ```text
//! client-first   n,,n=<user>,r=<client nonce>          parse_client_first
//! server-first   r=<client+server nonce>,s=<salt>,i=<n> ScramServer::start
//! client-final   c=biws,r=<client+server nonce>,p=<proof>
//! server-final   v=<server signature>                  ScramServer::finish
//! ```

pub mod client;
pub mod credential;
pub mod error;
pub mod messages;
pub mod salt;
pub mod server;

pub use client::{SaltedPassword, ScramClient};
pub use credential::{ScramCredential, ScramMechanism};
pub use error::ScramError;
pub use server::{parse_client_first, ClientFirst, ScramServer, ScramSuccess};

#[cfg(test)]
mod tests;
