//! The election service and metadata (KRaft's role). Today: the topic registry of a single node
//! ([`topics`], pure), its file ([`store`]), topic administration run one operation at a time
//! ([`admin`]) and the actor that owns them ([`actor`]). [`raft`] is the quorum's replicated log
//! (core, files, node; model-checked), [`metadata`] the state machine its entries carry
//! (records, the applied image, snapshots, replica placement, leader election), and
//! [`quorum`] the actor that hosts both as one voter (tested on the multi-node stepper; the
//! server does not start it yet).

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
