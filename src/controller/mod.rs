//! The election service and metadata (KRaft's role). Today: the topic registry of a single node
//! ([`topics`], pure), its file ([`store`]), topic administration run one operation at a time
//! ([`admin`]) and the actor that owns them ([`actor`]). [`raft`] is the quorum's replicated log
//! (core, files, node; model-checked), [`metadata`] the state machine its entries carry
//! (records, the applied image, snapshots, replica placement, leader election, the controller's
//! topic administration), [`quorum`] the actor that hosts both as one voter and, leading,
//! decides for the cluster (brokers' membership, fencing and its elections, producer-id
//! blocks, topics), [`lifecycle`] the broker's registration and heartbeats and [`liveness`]
//! the leader's clock of them.

pub mod actor;
pub mod admin;
pub mod config_ops;
pub mod config_values;
pub mod lifecycle;
pub mod liveness;
pub mod metadata;
pub mod quorum;
pub mod raft;
pub mod store;
pub mod topic_config;
pub mod topics;

#[cfg(test)]
mod quorum_tests;
