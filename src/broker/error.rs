//! Why the gateway cannot answer a request: the connection is closed with the reason, as Kafka
//! closes it on a request it cannot serve. Refusals a client should see are not errors here:
//! they are error codes in the response.

use crate::actor::client::AskError;
use crate::controller::quorum::LEADER_APPLYING;
use crate::messages::quorum::QuorumReply;
use crate::types::{ErrorCode, Refusal};

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

/// What a failed ask of the quorum means to the client (the ACL and SCRAM admin APIs): no
/// leader or a new leader still applying is NOT_CONTROLLER (the admin clients retry it).
pub(super) fn quorum_refusal(reply: Result<QuorumReply, AskError>, what: &str) -> Refusal {
    match reply {
        Ok(QuorumReply::NotLeader { .. }) => Refusal::new(
            ErrorCode::NOT_CONTROLLER,
            "the controller quorum has no leader now; retry",
        ),
        Ok(QuorumReply::Failed(why)) if why == LEADER_APPLYING => {
            Refusal::new(ErrorCode::NOT_CONTROLLER, why)
        }
        Ok(QuorumReply::Failed(why)) => Refusal::new(ErrorCode::UNKNOWN_SERVER_ERROR, why),
        Ok(other) => Refusal::new(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            format!("the controller quorum did not {what}: {other:?}"),
        ),
        Err(e) => Refusal::new(
            ErrorCode::REQUEST_TIMED_OUT,
            format!("the controller quorum did not answer: {e}"),
        ),
    }
}
