//! API version negotiation: per API, the highest version both the broker and this client speak.

use std::collections::BTreeMap;

use kafka_protocol::messages::ApiKey;

use super::error::{ClientError, ClientResult};

/// The versions this client's code builds and parses, per API. Bounded above where newer
/// versions change semantics the client does not implement (Fetch 13+ names topics by id).
pub const CLIENT_VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::ApiVersions, 0, 3),
    // A SASL login (`sasl::authenticate`): the handshake in v1 only (v0 sent the mechanism's
    // messages unframed).
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    // FindCoordinator 4+ and OffsetFetch 8+ batch several groups per request.
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::OffsetFetch, 2, 7),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    // JoinGroup 4+ hands out the member id with MEMBER_ID_REQUIRED (KIP-394).
    (ApiKey::JoinGroup, 4, 7),
    (ApiKey::SyncGroup, 3, 5),
    (ApiKey::Heartbeat, 3, 4),
    (ApiKey::LeaveGroup, 3, 5),
    // A KIP-848 group is described by ConsumerGroupDescribe (DescribeGroups is classic only).
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    // The controller quorum (`rill metadata-quorum`).
    (ApiKey::DescribeQuorum, 0, 2),
    (ApiKey::DescribeCluster, 0, 2),
    // `rill leader-election`.
    (ApiKey::ElectLeaders, 0, 2),
    // `rill reassign-partitions`.
    (ApiKey::AlterPartitionReassignments, 0, 1),
    (ApiKey::ListPartitionReassignments, 0, 0),
    // Its throttles (KIP-73): topic and broker configs, SET and DELETE.
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    // The eligible leader replicas `rill topics --describe` shows (KIP-966).
    (ApiKey::DescribeTopicPartitions, 0, 0),
    // `rill transactions` (KIP-664); ListTransactions v1 adds the duration filter (KIP-994),
    // v2 an id pattern the tool does not send.
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::DescribeTransactions, 0, 0),
    // A transactional producer (`rill perf produce --transactional-id`).
    (ApiKey::InitProducerId, 1, 4),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    // Its describe-producers, find-hanging and abort; WriteTxnMarkers v1 is the crate's only.
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::WriteTxnMarkers, 1, 1),
    // `rill configs --entity-type users`: SCRAM credentials (KIP-554).
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // `rill configs --entity-type clients|users`: client quotas (KIP-546); v1 is v0 made
    // flexible.
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    // `rill acls`: ACLs (KIP-140), v1-3 (v0 has no pattern types).
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
];

/// What one broker advertised, intersected with [`CLIENT_VERSIONS`].
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// API key → version to use.
    chosen: BTreeMap<i16, i16>,
}

impl Negotiated {
    /// Intersects the broker's advertised `(key, min, max)` ranges with the client's.
    pub fn from_advertised(advertised: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        let mut chosen = BTreeMap::new();
        for (key, broker_min, broker_max) in advertised {
            let Some(&(_, client_min, client_max)) =
                CLIENT_VERSIONS.iter().find(|(k, _, _)| *k as i16 == key)
            else {
                continue;
            };
            let best = broker_max.min(client_max);
            if best >= broker_min.max(client_min) {
                chosen.insert(key, best);
            }
        }
        Self { chosen }
    }

    /// The version to use for `api`, if both sides speak one.
    pub fn get(&self, api: ApiKey) -> Option<i16> {
        self.chosen.get(&(api as i16)).copied()
    }

    /// Like [`Negotiated::get`], as an error naming the broker when there is none.
    pub fn require(&self, api: ApiKey, addr: &str) -> ClientResult<i16> {
        self.get(api).ok_or_else(|| {
            let (client_min, client_max) = CLIENT_VERSIONS
                .iter()
                .find(|(k, _, _)| *k == api)
                .map_or((0, -1), |(_, min, max)| (*min, *max));
            ClientError::Unsupported {
                api,
                addr: addr.to_string(),
                client_min,
                client_max,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_highest_common_version() {
        let n = Negotiated::from_advertised([
            (ApiKey::Produce as i16, 0, 11),
            (ApiKey::Fetch as i16, 4, 8),
            (ApiKey::Metadata as i16, 13, 13),
            (ApiKey::SaslHandshake as i16, 0, 1),
        ]);
        assert_eq!(n.get(ApiKey::Produce), Some(9));
        assert_eq!(n.get(ApiKey::Fetch), Some(8));
        assert_eq!(n.get(ApiKey::Metadata), None, "no overlap");
        assert_eq!(n.get(ApiKey::CreatePartitions), None, "not advertised");
        assert!(n
            .require(ApiKey::CreatePartitions, "b:9092")
            .unwrap_err()
            .to_string()
            .contains("does not support CreatePartitions"));
    }

    #[test]
    fn client_ranges_are_ones_the_protocol_crate_encodes() {
        for (key, min, max) in CLIENT_VERSIONS {
            let valid = key.valid_versions();
            assert!(valid.min <= *min && max <= &valid.max, "{key:?}");
        }
    }
}
