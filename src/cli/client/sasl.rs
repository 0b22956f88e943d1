//! A connection's SASL login (KIP-43, KIP-152), right after ApiVersions: SaslHandshake v1
//! names the mechanism, then SaslAuthenticate carries the mechanism's messages in Kafka's
//! frames: PLAIN's one message, or SCRAM's two rounds, the second answered by the server's
//! signature, which proves the broker knows the credential and is checked
//! ([`ScramClient::server_final`]).
//!
//! A refusal is [`ClientError::Authentication`] with the broker's own words (Kafka's
//! `SaslAuthenticationException`), which tells a wrong password from, say, a mechanism the
//! listener does not offer. SCRAM's nonce comes from the OS's CSPRNG
//! ([`crate::host::rng::secure_bytes`]).

use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::connection::Connection;
use super::error::{ClientError, ClientResult};
use super::security::SaslLogin;
use crate::security::plain;
use crate::security::sasl::SaslMechanism;
use crate::security::scram::{ScramClient, ScramError, ScramMechanism};
use crate::types::ErrorCode;

/// SaslHandshake v1: the mechanism's messages then travel in SaslAuthenticate requests (v0
/// sent them as raw frames, which Rill's broker does not take).
const HANDSHAKE_VERSION: i16 = 1;

/// Random bytes in a SCRAM client nonce (Kafka's clients draw 130 bits).
const NONCE_BYTES: usize = 24;

/// Proves `login` on `connection`, whose ApiVersions is done.
pub async fn authenticate(connection: &Connection, login: &SaslLogin) -> ClientResult<()> {
    handshake(connection, login.mechanism).await?;
    let version = connection.version(ApiKey::SaslAuthenticate)?;
    let round = Round {
        connection,
        version,
        mechanism: login.mechanism,
    };
    match login.mechanism {
        SaslMechanism::Plain => {
            round
                .exchange(plain::client_first(&login.username, &login.password))
                .await?;
            Ok(())
        }
        SaslMechanism::Scram(mechanism) => scram(&round, mechanism, login).await,
    }
}

async fn handshake(connection: &Connection, mechanism: SaslMechanism) -> ClientResult<()> {
    connection.version(ApiKey::SaslHandshake)?;
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism.name()));
    let response: SaslHandshakeResponse = connection
        .call(ApiKey::SaslHandshake, HANDSHAKE_VERSION, &request)
        .await?;
    let refused = |message: String| ClientError::Authentication {
        addr: connection.addr().to_string(),
        message,
    };
    match ErrorCode::from_wire(response.error_code) {
        ErrorCode::NONE => Ok(()),
        ErrorCode::UNSUPPORTED_SASL_MECHANISM => {
            let offered: Vec<&str> = response.mechanisms.iter().map(|m| m.as_str()).collect();
            Err(refused(format!(
                "the listener does not offer sasl.mechanism={} (it offers {})",
                mechanism.name(),
                offered.join(", ")
            )))
        }
        ErrorCode::ILLEGAL_SASL_STATE => Err(refused(
            "the listener does not take SASL (ILLEGAL_SASL_STATE): is it PLAINTEXT or SSL? \
             check security.protocol"
                .into(),
        )),
        code => Err(
            ClientError::from_code(code, None).unwrap_or(ClientError::Protocol(
                "SaslHandshake failed without an error code".into(),
            )),
        ),
    }
}

/// One SaslAuthenticate round trip.
struct Round<'a> {
    connection: &'a Connection,
    version: i16,
    mechanism: SaslMechanism,
}

impl Round<'_> {
    /// Sends `token`; the server's answer, or its refusal with its message.
    async fn exchange(&self, token: Vec<u8>) -> ClientResult<Vec<u8>> {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
        let response: SaslAuthenticateResponse = (self.connection)
            .call(ApiKey::SaslAuthenticate, self.version, &request)
            .await?;
        let code = ErrorCode::from_wire(response.error_code);
        if code == ErrorCode::NONE {
            return Ok(response.auth_bytes.to_vec());
        }
        let message = match response.error_message.as_deref() {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => super::error::error_name(code),
        };
        Err(self.refused(message))
    }

    fn refused(&self, message: String) -> ClientError {
        ClientError::Authentication {
            addr: self.connection.addr().to_string(),
            message,
        }
    }

    /// A SCRAM step that failed on our side: the server broke the protocol, or could not
    /// prove it knows the credential.
    fn scram_failed(&self, error: ScramError) -> ClientError {
        let message = match error {
            ScramError::AuthenticationFailed => format!(
                "the broker's {} signature is wrong: it does not know this user's \
                 credential (is this the right broker?)",
                self.mechanism.name()
            ),
            ScramError::Malformed(why) => {
                format!(
                    "the broker's {} message is refused: {why}",
                    self.mechanism.name()
                )
            }
        };
        self.refused(message)
    }
}

async fn scram(
    round: &Round<'_>,
    mechanism: ScramMechanism,
    login: &SaslLogin,
) -> ClientResult<()> {
    let (mut client, client_first) =
        ScramClient::new(mechanism, &login.username, &login.password, &nonce());
    let server_first = round.exchange(client_first).await?;
    let client_final = (client.server_first(&server_first)).map_err(|e| round.scram_failed(e))?;
    let server_final = round.exchange(client_final).await?;
    client
        .server_final(&server_final)
        .map_err(|e| round.scram_failed(e))
}

/// A fresh client nonce: [`NONCE_BYTES`] from the OS's CSPRNG, in hex (printable, no `,`).
fn nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    crate::host::rng::secure_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram::messages::is_nonce;

    #[test]
    fn nonces_are_fresh_and_valid() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * NONCE_BYTES);
        assert!(is_nonce(&a));
    }
}
