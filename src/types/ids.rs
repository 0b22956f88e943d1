//! Identifiers that travel between the node's parts and over the node's wire.

use serde::{Deserialize, Serialize};

/// One partition of one topic: the unit a replica, a log directory and a produce or fetch slot
/// are keyed by. Its field order is part of the node's wire format (postcard).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}
