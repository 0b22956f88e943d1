//! The election service and metadata (KRaft's role). A broker's side: its view of the
//! cluster's topics and its topic administration in the [`actor`] (`TOPICS`), which runs
//! [`admin`] one operation at a time: the client's administrations ([`admin_jobs`], decided by
//! the quorum's leader), its logs kept in line with the metadata ([`reconcile`]), both through
//! [`sweep`]s of partition requests; topic name and config rules in [`topics`],
//! [`topic_config`], [`config_ops`] and [`config_values`]; the old single-node registry file,
//! read once to import it, in [`store`]; the removal of directories of topics deleted while
//! this broker was down in [`strays`]. [`raft`] is the quorum's replicated log
//! (core, files, node; model-checked), [`metadata`] the state machine its entries carry
//! (records, the applied image, snapshots, replica placement, leader election, the controller's
//! topic administration), [`quorum`] the actor that hosts both as one voter and, leading,
//! decides for the cluster (brokers' membership, fencing and its elections, producer-id
//! blocks, topics), [`lifecycle`] the broker's registration and heartbeats and [`liveness`]
//! the leader's clock of them.

pub mod actor;
pub mod admin;
pub mod admin_jobs;
pub mod config_ops;
pub mod config_values;
pub mod lifecycle;
pub mod liveness;
pub mod metadata;
pub mod quorum;
pub mod raft;
pub mod reconcile;
pub mod store;
pub mod strays;
pub mod sweep;
pub mod topic_config;
pub mod topics;

#[cfg(test)]
mod quorum_tests;
