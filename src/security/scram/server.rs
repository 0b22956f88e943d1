//! The broker's side of SCRAM (RFC 5802, RFC 7677; Kafka's `ScramSaslServer`): read the
//! client's first message, answer with the salt and iteration count of the user's credential,
//! and check the proof in the client's final message.
//!
//! Unlike Kafka, an unknown user is not refused at the first message: the exchange goes on
//! with a decoy credential derived from the user name and fails at the proof, exactly as a
//! wrong password does, so neither the error, nor its text, nor the salt, nor the work done
//! tells a client which user names exist.

use subtle::{Choice, ConstantTimeEq};

use super::messages::{self, attribute, decode_saslname, is_nonce};
use super::salt::kafka_salt;
use super::{ScramCredential, ScramError, ScramMechanism};

/// The client's first message, parsed (`gs2-header client-first-message-bare`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,`, `y,,` or `n,a=authzid,` exactly as sent: the final message's `c=` must repeat it.
    gs2_header: String,
    authzid: Option<String>,
    username: String,
    nonce: String,
    /// `tokenauth=true`: a delegation-token login (Kafka's `ScramExtensions`).
    token_auth: bool,
    /// `client-first-message-bare`: the first part of the AuthMessage the proof signs.
    bare: String,
}

impl ClientFirst {
    /// The user the client claims to be (unescaped): whose credential to look up.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The identity the client asks to act as (unescaped), if it named one.
    pub fn authzid(&self) -> Option<&str> {
        self.authzid.as_deref()
    }

    pub fn client_nonce(&self) -> &str {
        &self.nonce
    }

    /// Whether the client asked for a delegation-token login, which Rill does not have.
    pub fn token_auth(&self) -> bool {
        self.token_auth
    }
}

/// Parses `gs2-header client-first-message-bare`: `n,,n=user,r=nonce`, with `y` for `n` (the
/// client could bind the channel but thinks we cannot: true), an optional `a=authzid`, and
/// trailing extensions. Channel binding (`p=`) and the reserved mandatory extension `m=` are
/// refused: Rill supports neither.
pub fn parse_client_first(bytes: &[u8]) -> Result<ClientFirst, ScramError> {
    let text = messages::text(bytes)?;
    let (flag, rest) = text
        .split_once(',')
        .ok_or(ScramError::Malformed("no GS2 header"))?;
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => {
            return Err(ScramError::Malformed("channel binding is not supported"))
        }
        _ => return Err(ScramError::Malformed("GS2 flag is not n, y or p=")),
    }
    let (authz, bare) = rest
        .split_once(',')
        .ok_or(ScramError::Malformed("GS2 header does not end with ','"))?;
    let authzid = match authz {
        "" => None,
        _ => Some(decode_saslname(attribute(
            Some(authz),
            "a=",
            "GS2 header's second field is not a=authzid",
        )?)?),
    };
    let mut parts = bare.split(',');
    let first = parts.next();
    if first.is_some_and(|part| part.starts_with("m=")) {
        return Err(ScramError::Malformed(
            "mandatory extension m= is not supported",
        ));
    }
    let username = decode_saslname(attribute(first, "n=", "no user name attribute")?)?;
    let nonce = attribute(parts.next(), "r=", "no nonce attribute")?;
    if !is_nonce(nonce) {
        return Err(ScramError::Malformed(
            "client nonce is not printable ASCII without ','",
        ));
    }
    let extensions = messages::extensions(parts)?;
    // Kafka reads the flag with `Boolean.parseBoolean`: "true" in any case.
    let token_auth = extensions
        .get("tokenauth")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    Ok(ClientFirst {
        gs2_header: text[..text.len() - bare.len()].to_string(),
        authzid,
        username,
        nonce: nonce.to_string(),
        token_auth,
        bare: bare.to_string(),
    })
}

/// The client's final message, parsed (`c=…,r=…[,extensions],p=…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFinal {
    /// `c=`, decoded: the GS2 header of the first message (no channel data: Rill binds none).
    pub channel_binding: Vec<u8>,
    /// `r=`: the client's nonce followed by the server's.
    pub nonce: String,
    /// `p=`, decoded: ClientKey XOR ClientSignature.
    pub proof: Vec<u8>,
    /// `client-final-message-without-proof`: the last part of the AuthMessage.
    pub without_proof: String,
}

/// Parses `c=<base64>,r=<nonce>[,extensions],p=<base64>`; the proof is always last.
/// Extensions are read (so a malformed one is refused) and ignored, as Kafka does.
pub fn parse_client_final(bytes: &[u8]) -> Result<ClientFinal, ScramError> {
    let text = messages::text(bytes)?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or(ScramError::Malformed("no proof attribute at the end"))?;
    let proof = messages::decode_b64(proof, "proof is not base64")?;
    let mut parts = without_proof.split(',');
    let channel_binding = messages::decode_b64(
        attribute(parts.next(), "c=", "no channel binding attribute")?,
        "channel binding is not base64",
    )?;
    let nonce = attribute(parts.next(), "r=", "no nonce attribute")?;
    if !is_nonce(nonce) {
        return Err(ScramError::Malformed(
            "nonce is not printable ASCII without ','",
        ));
    }
    messages::extensions(parts)?;
    Ok(ClientFinal {
        channel_binding,
        nonce: nonce.to_string(),
        proof,
        without_proof: without_proof.to_string(),
    })
}

/// A successful login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramSuccess {
    /// Who the client proved to be (the principal's name).
    pub username: String,
    /// `v=<ServerSignature>`: the broker's proof that it knows the credential, for the client.
    pub server_final: Vec<u8>,
}

/// An exchange waiting for the client's final message.
#[derive(Debug)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    username: String,
    gs2_header: String,
    /// The client's nonce followed by ours: the final message must repeat it (no replay of a
    /// final message from another exchange).
    nonce: String,
    /// The client's nonce, then [`Self::nonce`]: what librdkafka before 2.6.1 repeats in its
    /// final message (its bug, fixed by librdkafka PR #4895; Kafka 3.8.1–3.9 accept it).
    /// Debian's kcat is built on such a librdkafka, so this form is accepted too: it is bound
    /// to this exchange as tightly as the right one.
    doubled_nonce: String,
    /// `client-first-message-bare "," server-first-message`: the AuthMessage but its last part.
    auth_message_head: String,
    /// The user's credential, or the decoy when the user is unknown.
    credential: ScramCredential,
    /// Whether a proof that checks out is a login: not for the decoy, a delegation-token login
    /// or an authorization id naming someone else. Checked after the proof, with it, so that
    /// these fail as late and with the same work as a wrong password.
    may_succeed: bool,
}

impl ScramServer {
    /// Answers the client's first message with `r=<client nonce><server nonce>,s=<salt>,i=<n>`.
    ///
    /// `credential` is the user's for this mechanism, `None` if there is none; the exchange
    /// then runs on a decoy derived from `decoy_key` and the user name (see
    /// [`decoy_credential`]), which the host must keep the same across connections, restarts
    /// and brokers (else comparing salts tells decoys from users). `server_nonce` comes from
    /// the host's RNG: printable ASCII without `,` (RFC 5802), else this panics, as the host's
    /// bug it is.
    pub fn start(
        mechanism: ScramMechanism,
        first: ClientFirst,
        credential: Option<ScramCredential>,
        server_nonce: &str,
        decoy_key: &[u8],
    ) -> (ScramServer, Vec<u8>) {
        assert!(
            is_nonce(server_nonce),
            "a server nonce must be printable ASCII without ','"
        );
        let authzid_is_user = first.authzid.as_deref().is_none_or(|a| a == first.username);
        let may_succeed = credential.is_some() && !first.token_auth && authzid_is_user;
        // The decoy is derived for known users too, so that start costs the same for both.
        // A known user's own credential even when the login cannot succeed: a decoy salt for a
        // token login of a real user would tell that the user exists.
        let decoy = decoy_credential(mechanism, decoy_key, &first.username);
        let credential = credential.unwrap_or(decoy);
        let nonce = format!("{}{server_nonce}", first.nonce);
        let doubled_nonce = format!("{}{nonce}", first.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            messages::encode_b64(&credential.salt),
            credential.iterations
        );
        let server = ScramServer {
            mechanism,
            username: first.username,
            gs2_header: first.gs2_header,
            nonce,
            doubled_nonce,
            auth_message_head: format!("{},{server_first}", first.bare),
            credential,
            may_succeed,
        };
        (server, server_first.into_bytes())
    }

    /// Checks the client's final message: `c=` repeats the GS2 header, `r=` our nonce, and the
    /// proof shows the client knows the password: `H(proof XOR HMAC(StoredKey, AuthMessage))`
    /// equals StoredKey, compared in constant time. Success answers `v=<ServerSignature>`.
    pub fn finish(self, client_final: &[u8]) -> Result<ScramSuccess, ScramError> {
        let message = parse_client_final(client_final)?;
        // Neither check depends on the credential, so failing early tells nothing.
        let nonce_ok = message.nonce == self.nonce || message.nonce == self.doubled_nonce;
        if message.channel_binding != self.gs2_header.as_bytes() || !nonce_ok {
            return Err(ScramError::AuthenticationFailed);
        }
        let m = self.mechanism;
        let auth_message = format!("{},{}", self.auth_message_head, message.without_proof);
        let client_signature = m.hmac(&self.credential.stored_key, auth_message.as_bytes());
        // A proof of the wrong length fails, after the same work as one of the right length.
        let length_ok = message.proof.len() == m.hash_bytes();
        let proof = if length_ok {
            message.proof
        } else {
            vec![0; m.hash_bytes()]
        };
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let proven = m.hash(&client_key).ct_eq(&self.credential.stored_key)
            & Choice::from(u8::from(length_ok))
            & Choice::from(u8::from(self.may_succeed));
        if !bool::from(proven) {
            return Err(ScramError::AuthenticationFailed);
        }
        let server_signature = m.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(ScramSuccess {
            username: self.username,
            server_final: format!("v={}", messages::encode_b64(&server_signature)).into_bytes(),
        })
    }
}

/// The credential an unknown user is answered with: the same for the same user name every
/// time (a salt that changed between attempts would give the user away), with keys nobody
/// knows a password for, Kafka's default iteration count, and a salt shaped like the ones
/// Kafka's tools make. Every value is an HMAC of `decoy_key` over the purpose and the name.
pub fn decoy_credential(
    mechanism: ScramMechanism,
    decoy_key: &[u8],
    username: &str,
) -> ScramCredential {
    let derive = |purpose: &str| {
        let label = format!("rill {} decoy {purpose}\0{username}", mechanism.name());
        mechanism.hmac(decoy_key, label.as_bytes())
    };
    ScramCredential {
        salt: kafka_salt(&derive("salt")),
        stored_key: derive("stored key"),
        server_key: derive("server key"),
        iterations: ScramMechanism::ITERATIONS_MIN,
    }
}

#[cfg(test)]
mod tests;
