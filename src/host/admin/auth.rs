//! Who is asking the admin endpoint for a change: HTTP Basic credentials checked against the
//! broker's own users — the PLAIN users its SASL listeners' JAAS configs name, and the SCRAM
//! credentials in the metadata log (the password is salted with the stored salt and iteration
//! count, and the result compared with the stored key, as a SCRAM login proves it) — and
//! whether that principal is a super user.
//!
//! The console writes only when security is on (`authorizer.class.name` set: without an
//! authorizer there is no super user, and anyone who reaches the port would be one) and only
//! for a principal in `super.users`. Reading stays open, like `/metrics`.
//!
//! Credentials travel in the `Authorization` header the page sets itself: the endpoint never
//! sends `WWW-Authenticate`, so a browser never caches them and never sends them on another
//! site's behalf (no cookie, no ambient credential: a forged form post is simply unauthenticated).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::scram::{ScramCredential, ScramCredentialRequest, ScramMechanism};
use crate::messages::NodeMsg;
use crate::security::plain::{self, PlainAuth};
use crate::security::principal::KafkaPrincipal;

/// The longest `Authorization` header read (a user name and password, base64'd).
pub const AUTHORIZATION_BYTES_MAX: usize = 4096;

/// The endpoint's view of the broker's security.
#[derive(Clone, Debug, Default)]
pub struct AdminSecurity {
    /// `authorizer.class.name` is set: ACLs are on, and so are the console's writes.
    pub authorizer: bool,
    /// `super.users`, as `Type:name`.
    pub super_users: BTreeSet<String>,
    /// Every PLAIN user of the broker's SASL listeners (`user_NAME="password"`).
    pub plain_users: BTreeMap<String, String>,
}

/// Reads `Basic base64(user:password)` (RFC 7617) as a PLAIN login's user name and password
/// (no authzid; its `Debug` never prints the password): `None` for anything else, an empty
/// user or password, or a header over [`AUTHORIZATION_BYTES_MAX`].
pub fn parse_basic(header: &str) -> Option<PlainAuth> {
    if header.len() > AUTHORIZATION_BYTES_MAX {
        return None;
    }
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = (base64::engine::general_purpose::STANDARD)
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| PlainAuth {
        authzid: String::new(),
        username: user.to_string(),
        password: password.to_string(),
    })
}

/// What a login proved: the principal, and whether it is a super user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub principal: KafkaPrincipal,
    pub super_user: bool,
}

/// Checks `login` against the PLAIN users, then the SCRAM credentials `node` holds (either
/// mechanism): `Ok(None)` when neither knows that user with that password, `Err` when the
/// credentials could not be read (the node's actors did not answer).
pub async fn authenticate<C: ActorClient<NodeMsg>>(
    node: &C,
    security: &AdminSecurity,
    login: &PlainAuth,
) -> Result<Option<Authenticated>, String> {
    let proven = plain_matches(security, login) || scram_matches(node, login).await?;
    Ok(proven.then(|| {
        let principal = KafkaPrincipal::user(&login.username);
        let super_user = is_super_user(security, &principal);
        Authenticated {
            principal,
            super_user,
        }
    }))
}

/// Whether `principal` may write through the console: security on and a super user.
pub fn is_super_user(security: &AdminSecurity, principal: &KafkaPrincipal) -> bool {
    security.authorizer && security.super_users.contains(&principal.to_string())
}

/// The PLAIN check a SASL/PLAIN login makes (constant time, unknown users alike).
fn plain_matches(security: &AdminSecurity, login: &PlainAuth) -> bool {
    !security.plain_users.is_empty() && plain::check(&security.plain_users, login)
}

/// One salting at a time: each costs thousands of HMACs, and runs off the endpoint's thread
/// (`spawn_blocking`), so a stream of logins neither stalls `/healthz` nor takes the cores.
static SALTINGS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// What an unknown user's password is salted with, so that it costs what a known user's
/// does (Kafka's default iterations): the answer does not tell who exists.
const DECOY_ITERATIONS: u32 = 4096;

/// Whether `login`'s password, salted as the user's stored SCRAM credential says, gives its
/// stored key (`H(HMAC(SaltedPassword, "Client Key"))`), for either mechanism.
async fn scram_matches<C: ActorClient<NodeMsg>>(
    node: &C,
    login: &PlainAuth,
) -> Result<bool, String> {
    let mut stored = Vec::new();
    for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        let asked = ScramCredentialRequest {
            user: login.username.clone(),
            mechanism,
        };
        let credential = ask(node, asked).await.map_err(|e| e.to_string())?;
        stored.extend(credential.map(|c| (mechanism, c)));
    }
    let decoy = stored.is_empty();
    if decoy {
        // Made without salting anything (its stored key is no hash of any password), so the
        // one salting below is all an unknown user costs, as a known user's one credential.
        let credential = ScramCredential {
            salt: b"rill-admin-decoy".to_vec(),
            stored_key: vec![0; 32],
            server_key: vec![0; 32],
            iterations: DECOY_ITERATIONS,
        };
        stored.push((ScramMechanism::Sha256, credential));
    }
    let password = login.password.clone();
    let _one_at_a_time = SALTINGS.acquire().await.map_err(|e| e.to_string())?;
    let salted = tokio::task::spawn_blocking(move || {
        (stored.iter()).any(|(mechanism, c)| scram_password_matches(*mechanism, c, &password))
    });
    let matched = salted.await.map_err(|e| e.to_string())?;
    Ok(matched && !decoy)
}

/// The comparison itself (pure, for the tests).
fn scram_password_matches(
    mechanism: ScramMechanism,
    stored: &ScramCredential,
    password: &str,
) -> bool {
    let derived = ScramCredential::from_password(
        mechanism,
        password.as_bytes(),
        &stored.salt,
        stored.iterations,
    );
    bool::from(derived.stored_key.ct_eq(&stored.stored_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_refused() {
        let login = parse_basic(&basic("admin:s3cret:with:colons")).unwrap();
        assert_eq!(login.username, "admin");
        assert_eq!(login.password, "s3cret:with:colons");
        assert!(!format!("{login:?}").contains("s3cret"));
        assert_eq!(parse_basic(&basic("bASIC")), None);
        assert_eq!(parse_basic(&basic(":pw")), None);
        assert_eq!(parse_basic(&basic("admin:")), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert!(parse_basic(&basic("a:b").replace("Basic", "basic")).is_some());
        let huge = basic(&format!("a:{}", "x".repeat(AUTHORIZATION_BYTES_MAX)));
        assert_eq!(parse_basic(&huge), None);
    }

    #[test]
    fn a_super_user_needs_the_authorizer_on() {
        let mut security = AdminSecurity {
            authorizer: true,
            super_users: ["User:admin".to_string()].into(),
            plain_users: BTreeMap::new(),
        };
        assert!(is_super_user(&security, &KafkaPrincipal::user("admin")));
        assert!(!is_super_user(&security, &KafkaPrincipal::user("bob")));
        security.authorizer = false;
        assert!(!is_super_user(&security, &KafkaPrincipal::user("admin")));
    }

    #[test]
    fn plain_users_are_checked_by_password() {
        let security = AdminSecurity {
            authorizer: true,
            super_users: BTreeSet::new(),
            plain_users: [("alice".to_string(), "pw".to_string())].into(),
        };
        let login = |user: &str, password: &str| PlainAuth {
            authzid: String::new(),
            username: user.into(),
            password: password.into(),
        };
        assert!(plain_matches(&security, &login("alice", "pw")));
        assert!(!plain_matches(&security, &login("alice", "PW")));
        assert!(!plain_matches(&security, &login("bob", "pw")));
        assert!(!plain_matches(
            &AdminSecurity::default(),
            &login("alice", "pw")
        ));
    }

    #[test]
    fn a_scram_password_is_checked_against_the_stored_key() {
        for mechanism in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            let stored = ScramCredential::from_password(mechanism, b"pencil", b"salt", 4096);
            assert!(scram_password_matches(mechanism, &stored, "pencil"));
            assert!(!scram_password_matches(mechanism, &stored, "pencil "));
            assert!(!scram_password_matches(mechanism, &stored, "Pencil"));
        }
    }
}
