//! Replication throttles (Kafka's KIP-73) as the metadata states them for one broker: the
//! config keys, which partitions a topic's `*.replication.throttled.replicas` name on this
//! broker, and the rates that apply to it. Built by the topics actor from the applied
//! metadata, sent to the partitions actor (`partition::throttle` holds the quotas), and read
//! by the controller's check of dynamic broker configs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::types::NodeId;

pub const LEADER_RATE_KEY: &str = "leader.replication.throttled.rate";
pub const FOLLOWER_RATE_KEY: &str = "follower.replication.throttled.rate";
pub const LOG_DIRS_RATE_KEY: &str = "replica.alter.log.dirs.io.max.bytes.per.second";
pub const LEADER_REPLICAS_KEY: &str = "leader.replication.throttled.replicas";
pub const FOLLOWER_REPLICAS_KEY: &str = "follower.replication.throttled.replicas";

/// The partitions of one topic a throttle covers on this broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionSet {
    All,
    Listed(BTreeSet<i32>),
}

impl PartitionSet {
    pub fn contains(&self, partition: i32) -> bool {
        match self {
            PartitionSet::All => true,
            PartitionSet::Listed(partitions) => partitions.contains(&partition),
        }
    }
}

/// A `leader.replication.throttled.replicas` / `follower.replication.throttled.replicas` value
/// read as Kafka's ConfigHandler.parseThrottledPartitions does for broker `me`: "*" → All; a
/// list → the partitions paired with `me`; None when nothing is left for `me` (empty value, no
/// pair naming me) or the value does not parse (it was validated when stored, so this only
/// guards). The grammar is `config_values::throttled_replicas`'s.
pub fn parse_throttled_replicas(value: &str, me: NodeId) -> Option<PartitionSet> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items == ["*"] {
        return Some(PartitionSet::All);
    }
    let mut mine = BTreeSet::new();
    let mut seen_empty = false;
    for item in items {
        if item.is_empty() {
            seen_empty = true;
            continue;
        }
        // Empty items are allowed only at the end (a trailing comma), as the validator says.
        if seen_empty {
            return None;
        }
        let (partition, broker) = item.split_once(':')?;
        let (partition, broker) = (replica_id(partition)?, replica_id(broker)?);
        if u64::try_from(broker).ok() == Some(me.0) {
            mine.insert(partition);
        }
    }
    (!mine.is_empty()).then_some(PartitionSet::Listed(mine))
}

/// A partition or broker id of the list: plain digits (no sign) that fit an i32, as Kafka's.
fn replica_id(text: &str) -> Option<i32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What the metadata says about replication throttles on this broker: sent to the partitions
/// actor with every metadata update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleSettings {
    /// `leader.replication.throttled.rate` in bytes/s: this broker's own dynamic value, else the
    /// cluster default (broker ""), else None (unlimited).
    pub leader_rate_bytes_per_s: Option<u64>,
    /// `follower.replication.throttled.rate`, chosen the same way.
    pub follower_rate_bytes_per_s: Option<u64>,
    /// Per topic: the partitions whose leader replica on this broker is throttled (from the
    /// topic's leader.replication.throttled.replicas, pairs naming this broker).
    pub leader: BTreeMap<String, PartitionSet>,
    /// Per topic: the partitions this broker follows under a throttle.
    pub follower: BTreeMap<String, PartitionSet>,
}

impl ThrottleSettings {
    /// `broker_configs`: dynamic broker configs by broker (None = the cluster default ""
    /// entity); `topics`: (topic name, its config overrides). A rate value that does not parse
    /// as a u64 counts as unset (values are validated when stored).
    pub fn from_metadata<'a>(
        me: NodeId,
        broker_configs: &BTreeMap<Option<NodeId>, BTreeMap<String, String>>,
        topics: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    ) -> Self {
        // Kafka's BrokerConfigHandler.getOrDefault: the broker's own value, else the default.
        let rate = |key: &str| {
            [Some(me), None].iter().find_map(|entity| {
                let value = broker_configs.get(entity)?.get(key)?;
                value.trim().parse::<u64>().ok()
            })
        };
        let mut settings = ThrottleSettings {
            leader_rate_bytes_per_s: rate(LEADER_RATE_KEY),
            follower_rate_bytes_per_s: rate(FOLLOWER_RATE_KEY),
            ..ThrottleSettings::default()
        };
        for (topic, configs) in topics {
            let mine = |key: &str| parse_throttled_replicas(configs.get(key)?, me);
            if let Some(set) = mine(LEADER_REPLICAS_KEY) {
                settings.leader.insert(topic.to_string(), set);
            }
            if let Some(set) = mine(FOLLOWER_REPLICAS_KEY) {
                settings.follower.insert(topic.to_string(), set);
            }
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::PartitionSet::All;
    use super::*;

    fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let pair = |(k, v): &(&str, &str)| (k.to_string(), v.to_string());
        pairs.iter().map(pair).collect()
    }

    fn listed(partitions: &[i32]) -> PartitionSet {
        PartitionSet::Listed(partitions.iter().copied().collect())
    }

    #[test]
    fn throttled_replicas_keep_my_partitions() {
        let parse = |value: &str| parse_throttled_replicas(value, NodeId(101));
        assert_eq!(parse("0:101,1:102"), Some(listed(&[0])));
        assert_eq!(parse(" 0:101 , 2:101 "), Some(listed(&[0, 2])));
        assert_eq!(parse("0:101,"), Some(listed(&[0])));
        assert_eq!((parse("*"), parse(" * ")), (Some(All), Some(All)));
        // Nothing for 101, or invalid (split on '|'; the first is the empty value).
        for none in "|0:102|garbage|*,0:101|0:101,,1:101|-1:101|0:+101".split('|') {
            assert_eq!(parse(none), None, "{none:?}");
        }
        assert!(All.contains(7) && !listed(&[0]).contains(1));
    }

    #[test]
    fn settings_take_my_rate_else_the_default_and_my_pairs() {
        let (lr, fr) = (LEADER_RATE_KEY, FOLLOWER_RATE_KEY);
        let (lp, fp) = (LEADER_REPLICAS_KEY, FOLLOWER_REPLICAS_KEY);
        let brokers = BTreeMap::from([
            (Some(NodeId(1)), configs(&[(lr, "5000"), (fr, "x")])),
            (Some(NodeId(2)), configs(&[(fr, " 7 ")])),
            (None, configs(&[(lr, "100"), (fr, "200")])),
        ]);
        let t = configs(&[(lp, "0:1,1:2"), (fp, "*")]);
        let (u, v) = (
            configs(&[(lp, "0:2"), (fp, "")]),
            configs(&[("retention.ms", "1")]),
        );
        let topics = || [("t", &t), ("u", &u), ("v", &v)];
        let rates = |s: &ThrottleSettings| (s.leader_rate_bytes_per_s, s.follower_rate_bytes_per_s);
        let one = ThrottleSettings::from_metadata(NodeId(1), &brokers, topics());
        // Its own leader rate wins; its unparsable follower rate falls back to the default.
        assert_eq!(rates(&one), (Some(5_000), Some(200)));
        assert_eq!(
            one.leader,
            BTreeMap::from([("t".to_string(), listed(&[0]))])
        );
        assert_eq!(one.follower, BTreeMap::from([("t".to_string(), All)]));
        let two = ThrottleSettings::from_metadata(NodeId(2), &brokers, topics());
        assert_eq!(rates(&two), (Some(100), Some(7)));
        let two_leader = BTreeMap::from([
            ("t".to_string(), listed(&[1])),
            ("u".to_string(), listed(&[0])),
        ]);
        assert_eq!(two.leader, two_leader);
        let none = ThrottleSettings::from_metadata(NodeId(1), &BTreeMap::new(), topics());
        assert_eq!(rates(&none), (None, None));
    }
}
