//! SASL PLAIN (RFC 4616; Kafka's `PlainSaslServer`): one message from the client,
//! `authzid NUL username NUL password`, checked against the users a listener's
//! `sasl.jaas.config` names (`user_NAME="password"`, see [`super::jaas`]).
//!
//! PLAIN sends the password itself, so it belongs on TLS listeners only; what this module adds
//! is that checking it tells an attacker nothing but yes or no: unknown users and wrong
//! passwords fail alike, with the same work and the same text.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::faults::{canary, Canary};
use crate::limits::SASL_MESSAGE_BYTES_MAX;

/// Kafka's text for every failed PLAIN login (`PlainSaslServer`).
pub const FAILED_MESSAGE: &str = "Authentication failed: Invalid username or password";

/// What an unknown user's password is compared with, so that an unknown user costs the same
/// comparison as a known one. Nothing logs in with it: the comparison's result is discarded.
const UNKNOWN_USER_PASSWORD: &str = "rill: no such user; this value never matches";

/// The client's PLAIN message, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainAuth {
    /// Whom the client asks to act as: empty, or the user name itself (Rill, like Kafka,
    /// lets nobody act as someone else).
    pub authzid: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for PlainAuth {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainAuth")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why a PLAIN login failed: a message that is not PLAIN's (a protocol error), or a login
/// that proved nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    /// Not `authzid NUL username NUL password` (or over the size bound); the reason is for
    /// the broker's log.
    #[error("malformed SASL/PLAIN message: {0}")]
    Malformed(&'static str),
    /// An empty user name or password, or an authzid naming someone else. (A wrong password
    /// is [`check`] answering false; the broker answers it with this same error.)
    #[error("SASL/PLAIN authentication failed")]
    AuthenticationFailed,
}

impl PlainError {
    /// The text the broker sends the client. A malformed message gets Kafka's generic text
    /// (its `SaslServerAuthenticator` never passes the parser's reason on), a failed login
    /// PLAIN's own.
    pub fn client_message(&self) -> String {
        match self {
            PlainError::Malformed(_) => "Authentication failed during authentication due to \
                                         invalid credentials with SASL mechanism PLAIN"
                .to_string(),
            PlainError::AuthenticationFailed => FAILED_MESSAGE.to_string(),
        }
    }
}

/// Parses `authzid NUL username NUL password`: exactly two NULs, UTF-8, within
/// `SASL_MESSAGE_BYTES_MAX`. An empty user name or password, and an authzid that is neither
/// empty nor the user name, fail the login.
pub fn parse(bytes: &[u8]) -> Result<PlainAuth, PlainError> {
    if bytes.len() > SASL_MESSAGE_BYTES_MAX {
        return Err(PlainError::Malformed(
            "message longer than SASL_MESSAGE_BYTES_MAX",
        ));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| PlainError::Malformed("message is not UTF-8"))?;
    let mut fields = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(PlainError::Malformed(
            "not three fields separated by two NULs",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(PlainError::AuthenticationFailed);
    }
    if !authzid.is_empty() && authzid != username {
        return Err(PlainError::AuthenticationFailed);
    }
    Ok(PlainAuth {
        authzid: authzid.to_string(),
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// Whether `auth` names a user of `users` (name → password) with that user's password.
///
/// The passwords are compared as SHA-256 digests in constant time: equal-length values, so the
/// time tells neither where the first difference is nor the stored password's length (beyond
/// its 64-byte block count). An unknown user is compared with a fixed value and refused
/// whatever the outcome, so it costs the same as a known user with a wrong password.
pub fn check(users: &BTreeMap<String, String>, auth: &PlainAuth) -> bool {
    let known = users.get(&auth.username);
    let expected = known.map_or(UNKNOWN_USER_PASSWORD, String::as_str);
    let given = Sha256::digest(auth.password.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    let authzid_ok = auth.authzid.is_empty() || auth.authzid == auth.username;
    // The canary `sasl-any-plain-password` (simulation only) takes any password as the right one.
    let password_ok = given[..].ct_eq(&expected[..])
        | Choice::from(u8::from(canary(Canary::SaslAnyPlainPassword)));
    let accepted =
        password_ok & Choice::from(u8::from(known.is_some())) & Choice::from(u8::from(authzid_ok));
    bool::from(accepted)
}

/// The client's message: `NUL username NUL password` (no authzid). A name or password holding
/// a NUL cannot be sent: the server refuses the message as malformed.
pub fn client_first(username: &str, password: &str) -> Vec<u8> {
    format!("\0{username}\0{password}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn users() -> BTreeMap<String, String> {
        [("admin", "admin-secret"), ("alice", "alice-secret")]
            .into_iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect()
    }

    fn auth(authzid: &str, username: &str, password: &str) -> PlainAuth {
        PlainAuth {
            authzid: authzid.to_string(),
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    #[test]
    fn a_message_is_authzid_username_password() {
        assert_eq!(
            parse(b"\0alice\0alice-secret"),
            Ok(auth("", "alice", "alice-secret"))
        );
        assert_eq!(parse(b"alice\0alice\0pw"), Ok(auth("alice", "alice", "pw")));
        assert_eq!(
            parse("\0ünï\0pä ss".as_bytes()),
            Ok(auth("", "ünï", "pä ss"))
        );
    }

    #[test]
    fn anything_but_two_nuls_is_malformed() {
        for bad in [
            &b""[..],
            b"alice",
            b"\0alice",
            b"\0a\0b\0",
            b"\0\0\0\0",
            b"a\0b\0c\0d",
        ] {
            assert_eq!(
                parse(bad),
                Err(PlainError::Malformed(
                    "not three fields separated by two NULs"
                )),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse(b"\0alice\0\xff"),
            Err(PlainError::Malformed("message is not UTF-8"))
        );
    }

    #[test]
    fn an_empty_name_or_password_or_a_foreign_authzid_fails_the_login() {
        for bad in [
            &b"\0\0pw"[..],
            b"\0alice\0",
            b"\0\0",
            b"admin\0alice\0alice-secret",
        ] {
            assert_eq!(parse(bad), Err(PlainError::AuthenticationFailed), "{bad:?}");
        }
    }

    #[test]
    fn messages_past_the_bound_are_malformed() {
        let mut message = client_first("alice", &"p".repeat(SASL_MESSAGE_BYTES_MAX));
        assert!(matches!(parse(&message), Err(PlainError::Malformed(_))));
        message.truncate(SASL_MESSAGE_BYTES_MAX);
        assert!(parse(&message).is_ok());
    }

    #[test]
    fn only_the_right_password_of_a_known_user_passes() {
        let users = users();
        assert!(check(&users, &auth("", "alice", "alice-secret")));
        assert!(check(&users, &auth("alice", "alice", "alice-secret")));
        assert!(!check(&users, &auth("", "alice", "admin-secret")));
        assert!(!check(&users, &auth("", "alice", "alice-secre")));
        assert!(!check(&users, &auth("", "alice", "alice-secret ")));
        assert!(!check(&users, &auth("", "Alice", "alice-secret")));
        assert!(!check(&users, &auth("admin", "alice", "alice-secret")));
        assert!(!check(&BTreeMap::new(), &auth("", "alice", "alice-secret")));
    }

    #[test]
    fn an_unknown_user_fails_even_with_the_dummy_password() {
        let users = users();
        assert!(!check(&users, &auth("", "mallory", UNKNOWN_USER_PASSWORD)));
        assert!(!check(&users, &auth("", "mallory", "alice-secret")));
    }

    #[test]
    fn the_client_message_parses_back() {
        let message = client_first("alice", "alice-secret");
        assert_eq!(message, b"\0alice\0alice-secret");
        assert!(check(&users(), &parse(&message).unwrap()));
    }

    #[test]
    fn failures_answer_with_kafkas_text_and_debug_hides_the_password() {
        assert_eq!(
            PlainError::AuthenticationFailed.client_message(),
            "Authentication failed: Invalid username or password"
        );
        assert!(PlainError::Malformed("x")
            .client_message()
            .ends_with("with SASL mechanism PLAIN"));
        let shown = format!("{:?}", auth("", "alice", "hunter2"));
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_nul_heavy_text(text in "[a\\x00ü]{0,40}") {
            if let Ok(auth) = parse(text.as_bytes()) {
                prop_assert!(!auth.username.is_empty() && !auth.password.is_empty());
            }
        }

        #[test]
        fn any_name_and_password_without_nul_round_trip(
            name in "[^\\x00]{1,30}",
            password in "[^\\x00]{1,30}",
        ) {
            let auth = parse(&client_first(&name, &password)).unwrap();
            prop_assert_eq!(&auth.username, &name);
            let users = BTreeMap::from([(name.clone(), password.clone())]);
            prop_assert!(check(&users, &auth));
            let wrong = PlainAuth { password: format!("{password}x"), ..auth };
            prop_assert!(!check(&users, &wrong));
        }
    }
}
