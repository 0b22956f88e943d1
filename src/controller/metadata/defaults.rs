//! The broker-level defaults of the topic configs the controller reads when it elects and
//! keeps eligible leaders: a topic's own `min.insync.replicas` or
//! `unclean.leader.election.enable` wins, else these (the controller's own server config, as
//! in KRaft, where the active controller's static config is the cluster's default). Every node
//! of a cluster should set the same values (`rill dev-cluster --override` does).
//!
//! `min.insync.replicas` is read from the metadata log once it holds the cluster-wide value
//! ([`Self::min_isr_in`]; the first active controller writes its static one there), so that a
//! controller failover never changes the value the eligible leader replicas were kept under.

use super::image::MetadataImage;

/// `min.insync.replicas` and `unclean.leader.election.enable` of the controller's config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicDefaults {
    pub min_insync_replicas: u32,
    pub unclean_leader_election: bool,
}

impl TopicDefaults {
    /// The cluster's default `min.insync.replicas`: the metadata log's, else the static one.
    pub fn min_isr_in(&self, image: &MetadataImage) -> u32 {
        image.cluster_min_isr().unwrap_or(self.min_insync_replicas)
    }
}

impl Default for TopicDefaults {
    /// Kafka's defaults: 1 and false.
    fn default() -> Self {
        Self {
            min_insync_replicas: 1,
            unclean_leader_election: false,
        }
    }
}
