//! The cluster's metadata as a replicated state machine (KRaft's `MetadataImage` and the
//! records that change it): brokers, topics, partitions, producer-id blocks, dynamic broker
//! configs, SCRAM credentials, ACLs and client quotas, changed only
//! by records committed in the controller quorum's Raft log.
//!
//! Pure logic: no I/O, no clock, no RNG of its own (the caller passes the random numbers a
//! placement needs), so every voter and every broker that applies the same log holds the
//! same image, and the simulator can replay it.
//!
//! * [`records`]   — [`MetadataRecord`] (Kafka's metadata record types) and the bytes of one
//!   Raft entry: a version byte, then the entry's records, applied together.
//! * [`image`]     — [`MetadataImage`], the applied state in ordered maps, its queries and the
//!   invariants it keeps.
//! * [`apply`]     — how each record changes the image; a record that does not fit is skipped
//!   (a [`Skip`]), the same way on every node.
//! * [`snapshot`]  — the image as bytes, so the log can be cut and a voter catch up from it.
//! * [`placement`] — Kafka's rack-unaware replica placement for new partitions.
//! * [`election`]  — the leader and ISR changes that fencing or unfencing a broker calls for.
//! * [`eligible`]  — the eligible leader replicas (KIP-966) each ISR change leaves.
//! * [`defaults`]  — the broker-level defaults of the topic configs elections read (the
//!   cluster-wide `min.insync.replicas` of the metadata log wins over the static one).
//! * [`alter_partition`] — a partition leader's ISR shrinks and expansions (AlterPartition).
//! * [`reassign`]  — moving a partition's replicas (AlterPartitionReassignments): grow, catch
//!   up, complete in the ISR change that makes it possible.
//! * [`topic_admin`] — the controller's topic administration: a request's records and each
//!   topic's outcome (creation with placement, deletion, growth, config overrides).
//! * [`broker_config`] — dynamic broker configs (the replication throttle rates, KIP-73, and
//!   the cluster-wide `min.insync.replicas`): a request's records and each resource's outcome.
//! * [`scram`]     — SCRAM credentials (AlterUserScramCredentials, Kafka's
//!   `ScramControlManager`): a request's records and each user's outcome, and what the image
//!   may keep.
//! * [`acls`]      — ACLs (CreateAcls, DeleteAcls, Kafka's `AclControlManager`): a request's
//!   records and each binding's or filter's outcome, and what the image may keep.
//! * [`client_quotas`] — client quotas (AlterClientQuotas, Kafka's
//!   `ClientQuotaControlManager`): a request's records and each entry's outcome.

pub mod acls;
pub mod alter_partition;
pub mod apply;
pub mod broker_config;
pub mod client_quotas;
pub mod defaults;
pub mod election;
pub mod eligible;
pub mod image;
pub mod placement;
pub mod reassign;
pub mod records;
pub mod scram;
pub mod snapshot;
pub mod topic_admin;

pub use apply::{Skip, Skipped};
pub use defaults::TopicDefaults;
pub use image::{BrokerRegistration, MetadataImage, PartitionImage, TopicImage};
pub use records::{Listener, MetadataRecord, TopicId};

#[cfg(test)]
mod tests;
