//! The `group.consumer.*` settings a consumer group reads; [`Default`] is Kafka's defaults.

use crate::group::assign::ServerAssignor;
use crate::limits::CONSUMER_GROUP_MEMBERS_MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// `group.consumer.session.timeout.ms`: a member silent this long is removed.
    pub session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms`: how often members are told to heartbeat.
    pub heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`: members a consumer group may hold (at most
    /// [`CONSUMER_GROUP_MEMBERS_MAX`], also the default).
    pub max_size: usize,
    /// `group.consumer.assignors`: the first is used when no member names one.
    pub assignors: Vec<ServerAssignor>,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: CONSUMER_GROUP_MEMBERS_MAX,
            assignors: ServerAssignor::ALL.to_vec(),
        }
    }
}
