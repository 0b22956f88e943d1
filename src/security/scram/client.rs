//! The client's side of SCRAM (RFC 5802, RFC 7677; Kafka's `ScramSaslClient`), for Rill's
//! command-line client and the simulator's workload: send the user name and a nonce, answer
//! the server's salt with a proof of the password, and check that the server knew the
//! credential too.

use subtle::ConstantTimeEq;

use super::messages::{self, attribute, encode_saslname, is_nonce};
use super::{ScramCredential, ScramError, ScramMechanism};

/// `c=` of the final message: base64 of the GS2 header `n,,` (no channel binding, no authzid).
const CHANNEL_BINDING_B64: &str = "biws";

/// The server's first message, parsed (`r=…,s=…,i=…[,extensions]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFirst {
    /// The client's nonce followed by the server's.
    pub nonce: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
}

/// Parses `r=<nonce>,s=<base64 salt>,i=<iterations>[,extensions]`. The reserved mandatory
/// extension `m=` is refused; other extensions are read and ignored.
pub fn parse_server_first(bytes: &[u8]) -> Result<ServerFirst, ScramError> {
    let text = messages::text(bytes)?;
    let mut parts = text.split(',');
    let first = parts.next();
    if first.is_some_and(|part| part.starts_with("m=")) {
        return Err(ScramError::Malformed(
            "mandatory extension m= is not supported",
        ));
    }
    let nonce = attribute(first, "r=", "no nonce attribute")?;
    if !is_nonce(nonce) {
        return Err(ScramError::Malformed(
            "nonce is not printable ASCII without ','",
        ));
    }
    let salt = messages::decode_b64(
        attribute(parts.next(), "s=", "no salt attribute")?,
        "salt is not base64",
    )?;
    if salt.is_empty() {
        return Err(ScramError::Malformed("empty salt"));
    }
    let iterations = attribute(parts.next(), "i=", "no iteration count attribute")?;
    // Digits only: `parse` would also take a sign.
    if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScramError::Malformed("iteration count is not a number"));
    }
    let iterations = iterations
        .parse()
        .map_err(|_| ScramError::Malformed("iteration count is too large"))?;
    messages::extensions(parts)?;
    Ok(ServerFirst {
        nonce: nonce.to_string(),
        salt,
        iterations,
    })
}

/// The server's final message, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFinal {
    /// `v=`, decoded: the ServerSignature.
    Verifier(Vec<u8>),
    /// `e=`: the server's reason for refusing (RFC 5802's `server-error-value`).
    Error(String),
}

/// Parses `v=<base64>` or `e=<error>`, each with optional trailing extensions.
pub fn parse_server_final(bytes: &[u8]) -> Result<ServerFinal, ScramError> {
    let text = messages::text(bytes)?;
    let mut parts = text.split(',');
    let first = parts.next().unwrap_or_default();
    let parsed = if let Some(error) = first.strip_prefix("e=") {
        if error.is_empty() {
            return Err(ScramError::Malformed("empty server error"));
        }
        ServerFinal::Error(error.to_string())
    } else {
        let verifier = attribute(Some(first), "v=", "neither a verifier nor an error")?;
        ServerFinal::Verifier(messages::decode_b64(verifier, "verifier is not base64")?)
    };
    messages::extensions(parts)?;
    Ok(parsed)
}

/// A password salted for one salt and iteration count, `Hi(password, salt, i)`: what a login
/// computes from the password, thousands of HMACs. RFC 5802 (§5.1) lets a client keep it for
/// later logins to the same server, which answers with the same salt and count for as long as
/// the credential stays.
#[derive(Clone, PartialEq, Eq)]
pub struct SaltedPassword {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub salted: Vec<u8>,
}

impl std::fmt::Debug for SaltedPassword {
    /// Never prints the salted password (it logs in as well as the password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltedPassword")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Where the client is in the exchange.
enum State {
    /// The first message is sent; the password waits for the server's salt. `kept`: a salted
    /// password from an earlier login, used if the server names its salt and count.
    AwaitingServerFirst {
        password: Vec<u8>,
        kept: Option<SaltedPassword>,
    },
    /// The proof is sent; the server must answer with this ServerSignature.
    AwaitingServerFinal { server_signature: Vec<u8> },
    /// A message out of order or refused: the exchange is over.
    Failed,
}

/// One login's client side. The password is dropped as soon as the proof is computed.
pub struct ScramClient {
    mechanism: ScramMechanism,
    client_nonce: String,
    /// `client-first-message-bare`: the first part of the AuthMessage.
    client_first_bare: String,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    /// Never prints the password or the expected signature.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::AwaitingServerFirst { .. } => "AwaitingServerFirst",
            State::AwaitingServerFinal { .. } => "AwaitingServerFinal",
            State::Failed => "Failed",
        };
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Starts a login: the client-first message `n,,n=<user>,r=<client_nonce>` (the user name
    /// escaped). `client_nonce` comes from the caller's RNG: printable ASCII without `,`
    /// (RFC 5802), else this panics, as the caller's bug it is. The password is used as given
    /// (no SASLprep), as Kafka's clients do.
    pub fn new(
        mechanism: ScramMechanism,
        username: &str,
        password: &str,
        client_nonce: &str,
    ) -> (ScramClient, Vec<u8>) {
        assert!(
            is_nonce(client_nonce),
            "a client nonce must be printable ASCII without ','"
        );
        let client_first_bare = format!("n={},r={client_nonce}", encode_saslname(username));
        let client_first = format!("n,,{client_first_bare}").into_bytes();
        let client = ScramClient {
            mechanism,
            client_nonce: client_nonce.to_string(),
            client_first_bare,
            state: State::AwaitingServerFirst {
                password: password.as_bytes().to_vec(),
                kept: None,
            },
        };
        (client, client_first)
    }

    /// Hands the login a salted password kept from an earlier one: if the server's first
    /// message names its salt and iteration count, the proof is computed from it instead of
    /// salting the password again (another salt or count, and the password is salted as
    /// usual). Before the server's first message only.
    pub fn keep_salted(&mut self, salted: SaltedPassword) {
        if let State::AwaitingServerFirst { kept, .. } = &mut self.state {
            *kept = Some(salted);
        }
    }

    /// Answers the server's first message with the client-final message (`c=biws,r=…,p=…`).
    /// Refused: a nonce that does not extend ours (another exchange's answer), and an
    /// iteration count outside Kafka's bounds: fewer than 4096 is a downgrade of the
    /// password's protection, more than 16384 would make a hostile server cost us minutes
    /// (a Kafka broker stores neither).
    pub fn server_first(&mut self, bytes: &[u8]) -> Result<Vec<u8>, ScramError> {
        let State::AwaitingServerFirst { password, kept } =
            std::mem::replace(&mut self.state, State::Failed)
        else {
            return Err(ScramError::Malformed("server-first message out of order"));
        };
        let server_first = parse_server_first(bytes)?;
        let server_first_text = messages::text(bytes)?;
        let server_nonce = server_first.nonce.strip_prefix(self.client_nonce.as_str());
        if server_nonce.is_none_or(str::is_empty) {
            return Err(ScramError::Malformed(
                "server nonce does not extend the client's",
            ));
        }
        if server_first.iterations < ScramMechanism::ITERATIONS_MIN {
            return Err(ScramError::Malformed("iteration count below 4096"));
        }
        if server_first.iterations > ScramMechanism::ITERATIONS_MAX {
            return Err(ScramError::Malformed("iteration count above 16384"));
        }
        let m = self.mechanism;
        let salted = match kept {
            Some(kept)
                if kept.salt == server_first.salt && kept.iterations == server_first.iterations =>
            {
                kept.salted
            }
            _ => m.salted_password(&password, &server_first.salt, server_first.iterations),
        };
        let client_key = m.hmac(&salted, b"Client Key");
        let credential = ScramCredential::from_salted_password(
            m,
            &server_first.salt,
            &salted,
            server_first.iterations,
        );
        let without_proof = format!("c={CHANNEL_BINDING_B64},r={}", server_first.nonce);
        let auth_message = format!(
            "{},{server_first_text},{without_proof}",
            self.client_first_bare
        );
        let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        self.state = State::AwaitingServerFinal {
            server_signature: m.hmac(&credential.server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", messages::encode_b64(&proof)).into_bytes())
    }

    /// Checks the server's final message: its signature (compared in constant time) proves it
    /// knew the credential; `e=` is the server refusing the login.
    pub fn server_final(self, bytes: &[u8]) -> Result<(), ScramError> {
        let State::AwaitingServerFinal { server_signature } = self.state else {
            return Err(ScramError::Malformed("server-final message out of order"));
        };
        match parse_server_final(bytes)? {
            ServerFinal::Verifier(signature) if bool::from(signature.ct_eq(&server_signature)) => {
                Ok(())
            }
            ServerFinal::Verifier(_) | ServerFinal::Error(_) => {
                Err(ScramError::AuthenticationFailed)
            }
        }
    }
}

#[cfg(test)]
mod tests;
