//! A stand-in for the host in tests of code that asks actors ([`ActorClient`]): it answers each
//! request with the next canned reply for its actor, at once, and keeps what it was asked in
//! order, so a test sees both what the code sent and what it made of the answer.

use std::collections::{BTreeMap, VecDeque};
use std::future::{ready, Future, Ready};
use std::sync::{Arc, Mutex};

use super::client::{ActorClient, AskError};
use super::ActorId;

/// Answers from canned replies; clones share them.
pub struct FakeClient<M> {
    state: Arc<Mutex<Canned<M>>>,
}

struct Canned<M> {
    replies: BTreeMap<ActorId, VecDeque<M>>,
    asked: Vec<(ActorId, M)>,
}

impl<M> Clone for FakeClient<M> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<M> Default for FakeClient<M> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(Canned {
                replies: BTreeMap::new(),
                asked: Vec::new(),
            })),
        }
    }
}

impl<M> FakeClient<M> {
    /// Queues `reply` as `to`'s answer to the next request it gets.
    pub fn reply(&self, to: ActorId, reply: M) {
        let mut state = self.state.lock().expect("fake client lock");
        state.replies.entry(to).or_default().push_back(reply);
    }

    /// The requests submitted since the last call, in order, with the actor each went to.
    pub fn take_asked(&self) -> Vec<(ActorId, M)> {
        std::mem::take(&mut self.state.lock().expect("fake client lock").asked)
    }
}

impl<M: Send + 'static> ActorClient<M> for FakeClient<M> {
    type Reply = Ready<Result<M, AskError>>;

    /// An actor with no canned reply left is one that stopped before answering.
    fn submit(
        &self,
        to: ActorId,
        msg: M,
    ) -> impl Future<Output = Result<Self::Reply, AskError>> + Send {
        let mut state = self.state.lock().expect("fake client lock");
        state.asked.push((to, msg));
        let reply = state.replies.get_mut(&to).and_then(VecDeque::pop_front);
        ready(Ok(ready(reply.ok_or(AskError::ActorGone(to)))))
    }
}
