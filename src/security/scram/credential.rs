//! What a broker keeps of a SCRAM password (Kafka's `ScramCredential`, in the metadata log as
//! `UserScramCredentialRecord`): the salt, the iteration count and two keys derived from the
//! salted password. The password itself, and the salted password, are never stored: a stolen
//! credential does not let its thief log in (it lacks the client key the proof needs).

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

/// Kafka's SCRAM mechanisms. `type` numbers as Kafka's `ScramMechanism` (the wire value of
/// AlterUserScramCredentials and DescribeUserScramCredentials).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// Kafka's (and SASL's) name: `SCRAM-SHA-256`, `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// By SASL name; mechanism names are case-sensitive (RFC 4422 §3.1: upper case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Kafka's `ScramMechanism.type()`: 1 for SHA-256, 2 for SHA-512 (0 is UNKNOWN).
    pub fn kafka_type(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_kafka_type(value: i8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.kafka_type() == value)
    }

    /// Kafka's floor for the iteration count (`ScramMechanism.minIterations`): 4096 is also
    /// RFC 7677's recommendation.
    pub const ITERATIONS_MIN: u32 = 4096;
    /// Kafka's ceiling (16384): more only costs the broker CPU at every login.
    pub const ITERATIONS_MAX: u32 = 16384;

    /// The hash's output length in bytes (the length of every key and proof).
    pub fn hash_bytes(self) -> usize {
        match self {
            ScramMechanism::Sha256 => 32,
            ScramMechanism::Sha512 => 64,
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            ScramMechanism::Sha256 => run::<hmac::Hmac<Sha256>>(key, data),
            ScramMechanism::Sha512 => run::<hmac::Hmac<Sha512>>(key, data),
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802: PBKDF2 with this HMAC, one output block. The
    /// password is the SASLprep'd UTF-8 string (Kafka, like most clients, uses it as given).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.hash_bytes()];
        match self {
            ScramMechanism::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
            ScramMechanism::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
            }
        }
        out
    }
}

/// One user's credential for one mechanism (Kafka's `ScramCredential`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    /// `H(ClientKey)`: what the client's proof is checked against.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: what the server signs its final message with.
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for ScramCredential {
    /// Never prints the keys: a log line must not leak what a login is checked against.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// From the salted password, as AlterUserScramCredentials carries it (the client salts,
    /// so the password never reaches the broker).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        Self {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// From the password itself (tests, and a broker's own bootstrap users).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let salted = mechanism.salted_password(password, salt, iterations);
        Self::from_salted_password(mechanism, salt, &salted, iterations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3's example: user "user", password "pencil", salt and 4096 iterations; the
    /// server's stored key and server key follow from the RFC's values (checked below through
    /// the exchange's ServerSignature, which the RFC prints).
    #[test]
    fn rfc7677_salted_password_gives_the_rfc_server_signature() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let m = ScramMechanism::Sha256;
        let salt = b64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = ScramCredential::from_password(m, b"pencil", &salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let signature = m.hmac(&cred.server_key, auth_message.as_bytes());
        assert_eq!(
            b64.encode(signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn mechanisms_round_trip_their_names_and_kafka_types() {
        for m in ScramMechanism::ALL {
            assert_eq!(ScramMechanism::parse(m.name()), Some(m));
            assert_eq!(ScramMechanism::from_kafka_type(m.kafka_type()), Some(m));
            assert_eq!(m.hash(b"x").len(), m.hash_bytes());
            assert_eq!(m.salted_password(b"p", b"s", 4096).len(), m.hash_bytes());
        }
        assert_eq!(ScramMechanism::parse("scram-sha-256"), None);
        assert_eq!(ScramMechanism::from_kafka_type(0), None);
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let cred = ScramCredential::from_password(ScramMechanism::Sha512, b"pw", b"salt", 4096);
        let shown = format!("{cred:?}");
        assert!(
            !shown.contains("stored_key") && shown.contains("4096"),
            "{shown}"
        );
    }
}
