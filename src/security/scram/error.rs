//! How a SCRAM exchange fails: two outcomes, because the broker answers them differently.

use super::ScramMechanism;

/// Why a SCRAM exchange stopped.
///
/// The split is by what the peer did, not by what we found: a message that does not follow the
/// grammar is a protocol error (the broker answers ILLEGAL_SASL_STATE and closes), while every
/// way of not proving who one claims to be, whatever the reason, is one and the same
/// [`ScramError::AuthenticationFailed`], so that neither the error nor its text tells an
/// unknown user from a wrong password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The message breaks RFC 5802's grammar (or a bound), or a message came out of order. On
    /// the client side also a server breaking the rules: a nonce that does not extend ours, an
    /// iteration count out of Kafka's bounds. The reason is for a log, never for the peer.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// Unknown user, wrong password, a delegation token login (Rill has none), an
    /// authorization id naming someone else, a replayed or altered final message; on the
    /// client side, a server that could not prove it knows the credential.
    #[error("SCRAM authentication failed")]
    AuthenticationFailed,
}

impl ScramError {
    /// The text the broker sends the client (SaslAuthenticate's `error_message`): Kafka's, and
    /// the same for every failure. Kafka's `SaslServerAuthenticator` also answers a malformed
    /// message with this text (it never passes the parser's reason on: it may say whether the
    /// user exists), so [`ScramError::Malformed`]'s reason stays in the broker's log too.
    pub fn client_message(&self, mechanism: ScramMechanism) -> String {
        format!(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism {}",
            mechanism.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_message_is_kafkas_and_names_the_mechanism_only() {
        let failed = ScramError::AuthenticationFailed;
        assert_eq!(
            failed.client_message(ScramMechanism::Sha256),
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism SCRAM-SHA-256"
        );
        assert!(failed
            .client_message(ScramMechanism::Sha512)
            .ends_with("SCRAM-SHA-512"));
        let malformed = ScramError::Malformed("no nonce attribute");
        assert_eq!(
            malformed.client_message(ScramMechanism::Sha256),
            failed.client_message(ScramMechanism::Sha256),
            "the parser's reason must not reach the client"
        );
        assert!(malformed.to_string().contains("no nonce attribute"));
    }
}
