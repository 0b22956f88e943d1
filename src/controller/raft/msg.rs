//! What the voters of the quorum say to each other, and what the log holds: the wire types
//! live with the node's other messages ([`crate::messages::quorum`]); the envelope the core
//! hands out is its own.

use crate::types::NodeId;

pub use crate::messages::quorum::{Entry, Payload, RaftMsg, SnapshotMeta};

/// A message with its sender and receiver, as the core hands them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub to: NodeId,
    pub msg: RaftMsg,
}
