//! The node's shared vocabulary: plain values every part may name (the Base part of the
//! layering in `lib.rs`). Nothing here imports another module of the crate, so a role, the
//! gateway, the host and the client tools can all use these words without depending on each
//! other.

pub mod error_code;
pub mod ids;
pub mod log_sampling;
pub mod placement;
pub mod rate_bucket;
pub mod topic_name;

pub use error_code::{ErrorCode, Refusal};
pub use ids::{
    cluster_id_text, BrokerEpoch, LeaderEpoch, NodeId, Offset, ProducerId, TopicPartition,
};
