//! SASL authentication on a connection (Kafka's `SaslServerAuthenticator`): SaslHandshake
//! picks the mechanism, SaslAuthenticate carries its tokens, and until they succeed nothing
//! but ApiVersions is answered (anything else closes the connection, as Kafka does).
//!
//! PLAIN checks the listener's JAAS users; SCRAM looks the user's credential up in this
//! node's metadata image (the credentials are replicated through the metadata log). Every
//! failure gets Kafka's one fixed message, whatever went wrong — unknown user, wrong password,
//! malformed token — and the connection closes after it: nothing in the answer or its timing
//! tells an unknown user from a wrong password (an unknown SCRAM user is walked through the
//! exchange with a decoy credential, [`crate::security::scram::server`]).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::codec;
use super::service::{KafkaRequest, Pending};
use super::BrokerService;
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::NodeMsg;
use crate::protocol::versions;
use crate::security::plain;
use crate::security::principal::KafkaPrincipal;
use crate::security::sasl::{SaslMechanism, SaslServerConfig};
use crate::security::scram::server::{parse_client_first, ScramServer};
use crate::security::scram::{ScramCredential, ScramMechanism};
use crate::types::log_sampling::PowersOfTwo;
use crate::types::ErrorCode;

/// One connection's authentication, from the handshake to a principal.
pub struct SaslSession {
    config: Arc<SaslServerConfig>,
    /// This connection's server nonce (random, drawn by the host).
    nonce: String,
    /// The broker's secret for decoy credentials (unknown SCRAM users).
    decoy_key: Arc<[u8]>,
    state: State,
    /// The mechanism the handshake chose (kept once done: a renewal must use it again).
    mechanism: Option<SaslMechanism>,
    /// Re-authentication (KIP-368): the mechanism and principal the connection had, which
    /// Kafka requires unchanged.
    renewing: Option<(SaslMechanism, KafkaPrincipal)>,
}

enum State {
    /// Waiting for SaslHandshake.
    Handshake,
    /// The mechanism is chosen; waiting for its first token.
    Start(SaslMechanism),
    /// SCRAM's server-first message is sent; waiting for the client's final message.
    ScramFinal(ScramMechanism, Box<ScramServer>),
    Done(KafkaPrincipal),
    /// A failure was answered; the connection closes.
    Failed,
}

impl SaslSession {
    pub fn new(config: Arc<SaslServerConfig>, nonce: String, decoy_key: Arc<[u8]>) -> Self {
        Self {
            config,
            nonce,
            decoy_key,
            state: State::Handshake,
            mechanism: None,
            renewing: None,
        }
    }

    /// This session as a re-authentication of a connection that authenticated with
    /// `mechanism` as `principal`: both must stay the same (Kafka's `ReauthInfo` rules).
    pub fn renewing(mut self, mechanism: SaslMechanism, principal: KafkaPrincipal) -> Self {
        self.renewing = Some((mechanism, principal));
        self
    }

    /// The mechanism the handshake chose, once it has.
    pub fn mechanism(&self) -> Option<SaslMechanism> {
        self.mechanism
    }

    /// Who the connection proved to be, once it has.
    pub fn authenticated(&self) -> Option<&KafkaPrincipal> {
        match &self.state {
            State::Done(principal) => Some(principal),
            _ => None,
        }
    }
}

/// SaslHandshake's answer.
fn handshake_response(error: ErrorCode, mechanisms: &[SaslMechanism]) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default()
        .with_error_code(error.wire())
        .with_mechanisms(
            (mechanisms.iter())
                .map(|m| StrBytes::from_static_str(m.name()))
                .collect(),
        )
}

/// SaslAuthenticate's answer: a token, or an error with its message.
fn authenticate_response(
    error: ErrorCode,
    message: Option<String>,
    token: Vec<u8>,
) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default()
        .with_error_code(error.wire())
        .with_error_message(message.map(StrBytes::from_string))
        .with_auth_bytes(Bytes::from(token))
        // Set on the last success only (`before_authentication`): 0 is no lifetime.
        .with_session_lifetime_ms(0)
}

/// `answer` as the connection's last: written, then the connection closes.
fn last(answer: Pending) -> Pending {
    match answer {
        Pending::Ready(Some(answer)) => Pending::Last(answer),
        other => other,
    }
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// A request before authentication completed (see [`super::service::KafkaService`]).
    pub(super) async fn before_authentication(
        &self,
        request: KafkaRequest,
        session: &mut SaslSession,
    ) -> Pending {
        let prefix = request.prefix;
        let key = match ApiKey::try_from(prefix.api_key) {
            Ok(ApiKey::ApiVersions) => return self.answer(request).await,
            Ok(key @ (ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)) => key,
            Ok(other) => {
                return Pending::Close(format!(
                    "{other:?} before SASL authentication completed (only ApiVersions, \
                     SaslHandshake and SaslAuthenticate are answered before)"
                ))
            }
            Err(_) => return Pending::Close(format!("unknown api key {}", prefix.api_key)),
        };
        match versions::supported(prefix.api_key) {
            Some(s) if (s.min..=s.max).contains(&prefix.api_version) => {}
            _ => return Pending::Close(format!("{key:?} v{} is not served", prefix.api_version)),
        }
        let gate = &self.large_decodes;
        if key == ApiKey::SaslHandshake && prefix.api_version == 0 {
            return Pending::Close(
                "SaslHandshake v0 (raw SASL tokens after the handshake) is not served: v1 with \
                 SaslAuthenticate is"
                    .into(),
            );
        }
        if key == ApiKey::SaslHandshake {
            let body: SaslHandshakeRequest = match codec::decode(&request, key, gate).await {
                Ok((body, _turn)) => body,
                Err(e) => return Pending::Close(e),
            };
            let (error, close) = handshake(session, body.mechanism.as_str());
            let answer = codec::respond(
                &request,
                key,
                &handshake_response(error, &session.config.mechanisms),
            );
            return if close { last(answer) } else { answer };
        }
        let body: SaslAuthenticateRequest = match codec::decode(&request, key, gate).await {
            Ok((body, _turn)) => body,
            Err(e) => return Pending::Close(e),
        };
        let mut response = self.authenticate_step(session, &body.auth_bytes).await;
        if session.authenticated().is_some() && prefix.api_version >= 1 {
            // KIP-368: the session lasts `connections.max.reauth.ms`; the client
            // authenticates again on this connection before then (v0 has no such field: its
            // clients cannot, and the listener closes their connection when it ends).
            let lifetime_ms = i64::try_from(session.config.reauth_ms).unwrap_or(i64::MAX);
            response = response.with_session_lifetime_ms(lifetime_ms);
        }
        let failed = matches!(session.state, State::Failed);
        let answer = codec::respond(&request, key, &response);
        if failed {
            // At info for the powers of two of their count only: a guesser must not flood the
            // log.
            static FAILED: PowersOfTwo = PowersOfTwo::new();
            let (failed, loud) = FAILED.count();
            let (client, listener) = (request.client, &request.context.listener);
            if loud {
                tracing::info!(%client, %listener, failed, "failed authentication");
            } else {
                tracing::debug!(%client, %listener, "failed authentication");
            }
            last(answer)
        } else {
            answer
        }
    }

    /// One SaslAuthenticate token.
    async fn authenticate_step(
        &self,
        session: &mut SaslSession,
        token: &[u8],
    ) -> SaslAuthenticateResponse {
        let state = std::mem::replace(&mut session.state, State::Failed);
        match state {
            State::Start(SaslMechanism::Plain) => {
                let users = &session.config.plain_users;
                match plain::parse(token) {
                    Ok(auth) if plain::check(users, &auth) => {
                        succeeded(session, KafkaPrincipal::user(&auth.username), Vec::new())
                    }
                    Ok(_) => failed(plain::FAILED_MESSAGE.to_string()),
                    // A message that is not PLAIN's three parts gets Kafka's generic text.
                    Err(e) => failed(e.client_message()),
                }
            }
            State::Start(SaslMechanism::Scram(mechanism)) => {
                let first = match parse_client_first(token) {
                    Ok(first) => first,
                    Err(e) => {
                        tracing::debug!(reason = %e, "a SCRAM client-first refused");
                        return failed(e.client_message(mechanism));
                    }
                };
                let credential = self.scram_credential(first.username(), mechanism).await;
                let (server, server_first) = ScramServer::start(
                    mechanism,
                    first,
                    credential,
                    &session.nonce,
                    &session.decoy_key,
                );
                session.state = State::ScramFinal(mechanism, Box::new(server));
                authenticate_response(ErrorCode::NONE, None, server_first)
            }
            State::ScramFinal(mechanism, server) => match server.finish(token) {
                Ok(success) => succeeded(
                    session,
                    KafkaPrincipal::user(&success.username),
                    success.server_final,
                ),
                Err(e) => {
                    tracing::debug!(reason = %e, "a SCRAM login refused");
                    failed(e.client_message(mechanism))
                }
            },
            // A token before the handshake (or after the end): Kafka's IllegalSaslState.
            State::Handshake | State::Done(_) | State::Failed => authenticate_response(
                ErrorCode::ILLEGAL_SASL_STATE,
                Some("SaslAuthenticate before SaslHandshake".into()),
                Vec::new(),
            ),
        }
    }

    /// The user's SCRAM credential from this node's metadata image (`None`: no such user, or
    /// the image cannot be asked — the login then fails like a wrong password).
    async fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<ScramCredential> {
        let request = crate::messages::scram::ScramCredentialRequest {
            user: user.to_string(),
            mechanism,
        };
        ask(&self.node, request).await.ok().flatten()
    }
}

/// SaslHandshake: the error to answer, and whether the connection closes after it.
fn handshake(session: &mut SaslSession, mechanism: &str) -> (ErrorCode, bool) {
    if !matches!(session.state, State::Handshake) {
        session.state = State::Failed;
        return (ErrorCode::ILLEGAL_SASL_STATE, true);
    }
    let chosen = SaslMechanism::parse(mechanism).filter(|m| session.config.mechanisms.contains(m));
    // Kafka's rule: a renewal uses the mechanism the connection authenticated with.
    let renewed_with = session.renewing.as_ref().map(|(mechanism, _)| *mechanism);
    match chosen.filter(|m| renewed_with.is_none_or(|was| was == *m)) {
        Some(chosen) => {
            session.state = State::Start(chosen);
            session.mechanism = Some(chosen);
            (ErrorCode::NONE, false)
        }
        None => {
            session.state = State::Failed;
            (ErrorCode::UNSUPPORTED_SASL_MECHANISM, true)
        }
    }
}

/// The exchange proved `principal`: done, answered with `token` — unless it renews a
/// connection that was someone else (Kafka's rule: a connection keeps its principal), which
/// fails like a wrong password, with Kafka's words.
fn succeeded(
    session: &mut SaslSession,
    principal: KafkaPrincipal,
    token: Vec<u8>,
) -> SaslAuthenticateResponse {
    if let Some((_, before)) = session.renewing.as_ref().filter(|(_, p)| *p != principal) {
        let message =
            format!("Cannot change principals during re-authentication from {before}: {principal}");
        session.state = State::Failed;
        return failed(message);
    }
    session.state = State::Done(principal);
    authenticate_response(ErrorCode::NONE, None, token)
}

fn failed(message: String) -> SaslAuthenticateResponse {
    authenticate_response(
        ErrorCode::SASL_AUTHENTICATION_FAILED,
        Some(message),
        Vec::new(),
    )
}

/// The answer to SaslHandshake or SaslAuthenticate on a connection that needs no (more)
/// authentication: Kafka's ILLEGAL_SASL_STATE; the connection stays open.
pub(super) fn illegal_state(request: &KafkaRequest, key: ApiKey) -> Pending {
    if key == ApiKey::SaslHandshake {
        let response = handshake_response(ErrorCode::ILLEGAL_SASL_STATE, &[]);
        return codec::respond(request, key, &response);
    }
    let message = "SaslAuthenticate on a connection that is not authenticating".to_string();
    let response = authenticate_response(ErrorCode::ILLEGAL_SASL_STATE, Some(message), Vec::new());
    codec::respond(request, key, &response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SaslSession {
        let config = SaslServerConfig {
            mechanisms: vec![
                SaslMechanism::Plain,
                SaslMechanism::Scram(ScramMechanism::Sha512),
            ],
            plain_users: [("alice".to_string(), "pw".to_string())].into(),
            reauth_ms: 1_000,
        };
        SaslSession::new(Arc::new(config), "nonce".into(), Arc::from(&b"key"[..]))
    }

    #[test]
    fn a_renewal_keeps_the_mechanism_it_authenticated_with() {
        let alice = KafkaPrincipal::user("alice");
        let mut renewal = session().renewing(SaslMechanism::Plain, alice.clone());
        assert_eq!(
            handshake(&mut renewal, "SCRAM-SHA-512"),
            (ErrorCode::UNSUPPORTED_SASL_MECHANISM, true),
            "another enabled mechanism is refused when renewing"
        );
        let mut renewal = session().renewing(SaslMechanism::Plain, alice);
        assert_eq!(handshake(&mut renewal, "PLAIN"), (ErrorCode::NONE, false));
        assert_eq!(renewal.mechanism(), Some(SaslMechanism::Plain));
        // A first authentication may take any enabled one.
        assert_eq!(
            handshake(&mut session(), "SCRAM-SHA-512"),
            (ErrorCode::NONE, false)
        );
    }

    #[test]
    fn a_renewal_as_another_principal_fails_like_a_wrong_password() {
        let mut renewal = session().renewing(SaslMechanism::Plain, KafkaPrincipal::user("bob"));
        let answer = succeeded(&mut renewal, KafkaPrincipal::user("alice"), Vec::new());
        assert_eq!(
            ErrorCode::from_wire(answer.error_code),
            ErrorCode::SASL_AUTHENTICATION_FAILED
        );
        assert!(renewal.authenticated().is_none());
        let mut renewal = session().renewing(SaslMechanism::Plain, KafkaPrincipal::user("alice"));
        let answer = succeeded(&mut renewal, KafkaPrincipal::user("alice"), Vec::new());
        assert_eq!(ErrorCode::from_wire(answer.error_code), ErrorCode::NONE);
        assert_eq!(
            renewal.authenticated(),
            Some(&KafkaPrincipal::user("alice"))
        );
    }
}
