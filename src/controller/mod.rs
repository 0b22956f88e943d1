//! The election service and metadata (KRaft's role). Today: the topic registry of a single node
//! ([`topics`], pure) and the actor that persists it ([`actor`]). The Raft quorum comes with the
//! cluster work.

pub mod actor;
pub mod topic_config;
pub mod topics;
