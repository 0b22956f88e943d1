//! How code outside the actors (the gateway) asks an actor something and waits for the answer,
//! without knowing what runs the actors: the host plugs its node handle in, a test a fake.
//!
//! Asking is two steps so that order survives pipelining: [`ActorClient::submit`] puts the
//! request in the actor's mailbox before it returns, and only the future it returns waits for
//! the reply. Requests submitted one after another reach the actor in that order however their
//! replies are awaited, which is how a Kafka connection keeps pipelined produce requests in
//! order.

use std::fmt;
use std::future::Future;

use super::ActorId;

/// A way to ask the actors of a node. Cheap to clone; implemented by the host's node handle.
pub trait ActorClient<M>: Clone + Send + Sync + 'static {
    /// The reply to one submitted request.
    type Reply: Future<Output = Result<M, AskError>> + Send + 'static;

    /// Puts `msg` in `to`'s mailbox (waiting only for room in it) and returns the future of
    /// its reply. Requests submitted in turn reach the actor in that turn.
    fn submit(
        &self,
        to: ActorId,
        msg: M,
    ) -> impl Future<Output = Result<Self::Reply, AskError>> + Send;
}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("no actor {0:?} on this node")]
    NoSuchActor(ActorId),
    #[error("actor {0:?} stopped before answering")]
    ActorGone(ActorId),
    #[error(transparent)]
    WrongReply(#[from] WrongReply),
}

/// An actor answered with a message that is not the reply to what it was asked: a bug on one
/// side of the conversation, reported rather than answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected a {expected} reply, got {got}")]
pub struct WrongReply {
    /// The reply type the request names.
    pub expected: &'static str,
    /// What came instead (its `Debug` form).
    pub got: String,
}

impl WrongReply {
    pub fn new(expected: &'static str, got: &impl fmt::Debug) -> Self {
        Self {
            expected,
            got: format!("{got:?}"),
        }
    }
}
