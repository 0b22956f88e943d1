//! The client's error type: broker error codes keep their Kafka name, everything else says what
//! failed and where.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

use crate::types::ErrorCode;

/// Why a client call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The broker answered with a Kafka error code.
    #[error("{}: {message}", error_name(*code))]
    Broker { code: ErrorCode, message: String },
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// The TLS handshake failed: a certificate the other side refused, or no TLS at all.
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls { addr: String, reason: String },
    /// The broker refused the SASL login; `message` is its own (Kafka's
    /// `SaslAuthenticationException`).
    #[error("SASL authentication failed: {message} (broker {addr})")]
    Authentication { addr: String, message: String },
    /// An established connection broke (or the broker closed it).
    #[error("connection to {addr} lost: {reason}")]
    Disconnected { addr: String, reason: String },
    /// No answer within the request timeout.
    #[error("{api:?} request to {addr} timed out after {timeout_ms} ms")]
    Timeout {
        api: ApiKey,
        addr: String,
        timeout_ms: u64,
    },
    /// The broker does not serve any version of this API that the client speaks.
    #[error(
        "the broker at {addr} does not support {api:?} (client speaks v{client_min}-v{client_max})"
    )]
    Unsupported {
        api: ApiKey,
        addr: String,
        client_min: i16,
        client_max: i16,
    },
    /// A frame or record batch could not be encoded or decoded.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The caller asked for something impossible (unknown topic, bad partition, bad config).
    #[error("{0}")]
    Invalid(String),
}

impl ClientError {
    /// A broker error from a response's code and optional message; `None` for NONE.
    pub fn from_code(code: ErrorCode, message: Option<&str>) -> Option<Self> {
        let error = code.response_error()?;
        let message = match message {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => describe(error),
        };
        Some(ClientError::Broker { code, message })
    }

    /// The first refusal among a response's results, each a wire code and its message (the
    /// admin APIs that answer per entry: CreateAcls, DeleteAcls, AlterUserScramCredentials).
    pub fn first_refusal<'a>(
        results: impl IntoIterator<Item = (i16, Option<&'a str>)>,
    ) -> Result<(), Self> {
        let mut refusals = (results.into_iter())
            .filter_map(|(code, message)| Self::from_code(ErrorCode::from_wire(code), message));
        refusals.next().map_or(Ok(()), Err)
    }

    /// The Kafka error code, for broker errors.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth retrying after a metadata refresh (leader moved, broker restarting, timeouts).
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Broker { code, .. } => code
                .response_error()
                .map(|e| e.is_retriable())
                .unwrap_or(false),
            ClientError::Disconnected { .. } | ClientError::Timeout { .. } => true,
            _ => false,
        }
    }
}

/// Result of a client call.
pub type ClientResult<T> = Result<T, ClientError>;

/// Kafka's name for an error code, as the Java tools print it (`TOPIC_ALREADY_EXISTS`).
pub fn error_name(code: ErrorCode) -> String {
    match code.response_error() {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(code)) => format!("UNKNOWN_ERROR_CODE_{code}"),
        Some(error) => screaming_snake(&format!("{error}")),
    }
}

/// A readable fallback message when the broker sent none: the error name in words.
fn describe(error: ResponseError) -> String {
    let name = error_name(ErrorCode::from_wire(error.code()));
    name.to_lowercase().replace('_', " ")
}

/// `TopicAlreadyExists` → `TOPIC_ALREADY_EXISTS`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka() {
        assert_eq!(
            error_name(ErrorCode::TOPIC_ALREADY_EXISTS),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(ErrorCode::from_wire(3)),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            error_name(ErrorCode::UNKNOWN_SERVER_ERROR),
            "UNKNOWN_SERVER_ERROR"
        );
        assert_eq!(error_name(ErrorCode::NONE), "NONE");
        assert_eq!(
            error_name(ErrorCode::from_wire(9999)),
            "UNKNOWN_ERROR_CODE_9999"
        );
    }

    #[test]
    fn broker_error_prints_name_and_message() {
        let e = ClientError::from_code(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            Some("topic 'x' already exists"),
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "TOPIC_ALREADY_EXISTS: topic 'x' already exists"
        );
        let e = ClientError::from_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None).unwrap();
        assert_eq!(
            e.to_string(),
            "UNKNOWN_TOPIC_OR_PARTITION: unknown topic or partition"
        );
        assert!(ClientError::from_code(ErrorCode::NONE, None).is_none());
    }
}
