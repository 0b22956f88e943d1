//! Why the gateway cannot answer a request: the connection is closed with the reason, as Kafka
//! closes it on a request it cannot serve. Refusals a client should see are not errors here:
//! they are error codes in the response.

use crate::actor::client::AskError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request cannot be served (it is malformed, or an answer cannot be built).
    #[error("{0}")]
    Close(String),
    /// An actor did not answer, or answered with the wrong kind of reply.
    #[error(transparent)]
    Ask(#[from] AskError),
}

impl From<String> for GatewayError {
    fn from(reason: String) -> Self {
        Self::Close(reason)
    }
}
