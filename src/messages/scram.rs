//! SCRAM credentials (issue 16, Kafka's KIP-554): what the metadata log holds of them, how the
//! gateway looks one up or describes them (asking [`super::TOPICS`], which holds the node's
//! applied view of the metadata), and the change AlterUserScramCredentials asks of the
//! controller quorum's leader ([`super::quorum::LeaderRequest::AlterScramCredentials`]).
//!
//! The lookup a SASL/SCRAM login needs is [`ScramCredentialRequest`], answered with an
//! `Option<ScramCredential>` through [`super::call::ask`]:
//!
//! ```ignore
//! let credential: Option<ScramCredential> =
//!     ask(&node, ScramCredentialRequest { user: "alice".into(), mechanism }).await?;
//! ```
//!
//! It reads this broker's applied metadata, so a credential altered through another broker is
//! seen here once this broker applied the entry (and at once through the broker that altered
//! it: its answer waits for that).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::security::scram::{ScramCredential, ScramMechanism};

/// Every user's SCRAM credentials, by user then mechanism (Kafka's `ScramImage`), in ordered
/// maps so every node iterates them alike. A user has at least one credential; at most
/// [`crate::limits::SCRAM_USERS_MAX`] users.
pub type ScramCredentials = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

/// [`ScramCredentials`] shared: the image and the topics actor's view hold the same map, and a
/// change copies it once (`Arc::make_mut`), not at every metadata entry applied.
pub type SharedScramCredentials = Arc<ScramCredentials>;

/// The credential `user` has for `mechanism` in this broker's applied metadata, if any: the
/// lookup a SCRAM login makes. Answered by [`super::TOPICS`] with an `Option<ScramCredential>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredentialRequest {
    pub user: String,
    pub mechanism: ScramMechanism,
}

/// DescribeUserScramCredentials' question: the mechanisms and iteration counts of `users`
/// (`None`: every user with a credential). Answered by [`super::TOPICS`] with
/// [`ScramDescriptions`]; a named user without credentials is left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeScramRequest {
    pub users: Option<Vec<String>>,
}

/// Each described user's (mechanism, iterations), by user and then mechanism.
pub type ScramDescriptions = BTreeMap<String, Vec<(ScramMechanism, u32)>>;

/// One AlterUserScramCredentials deletion, as the client sent it: the mechanism is Kafka's
/// `type` number, checked by the controller (an unknown one is the user's error, in its turn).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramDeletion {
    pub name: String,
    pub mechanism: i8,
}

/// One AlterUserScramCredentials upsertion, as the client sent it: the client salted the
/// password, so the password never reaches a broker; the controller turns the salted password
/// into the stored and server keys (Kafka's `ScramControlManager.finishUpsertion`), and only
/// those are written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramUpsertion {
    pub name: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub salted_password: Vec<u8>,
}

impl std::fmt::Debug for ScramUpsertion {
    /// Never prints the salted password: it logs in as the user does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramUpsertion")
            .field("name", &self.name)
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Asks the controller to alter SCRAM credentials
/// ([`super::quorum::LeaderRequest::AlterScramCredentials`]), through this node's voter.
#[derive(Clone, Debug)]
pub struct AlterScramCredentialsArgs {
    pub deletions: Vec<ScramDeletion>,
    pub upsertions: Vec<ScramUpsertion>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsertion_never_prints_its_salted_password() {
        let upsertion = ScramUpsertion {
            name: "alice".into(),
            mechanism: 1,
            iterations: 4096,
            salt: b"pepper".to_vec(),
            salted_password: b"secret-bytes".to_vec(),
        };
        let shown = format!("{upsertion:?}");
        assert!(shown.contains("alice") && shown.contains("4096"), "{shown}");
        assert!(!shown.contains("salted_password") && !shown.contains("pepper"));
    }
}
