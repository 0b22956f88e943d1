//! The API versions this broker advertises. Every advertised version must really work, so an API
//! appears here only together with its handler.

use kafka_protocol::messages::ApiKey;

/// One advertised API: its key and the inclusive range of versions served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supported {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

/// The advertised table, by API key: [`CORE`], [`GROUP_VERSIONS`], then [`TXN_VERSIONS`].
pub const SUPPORTED: &[Supported] = &ALL;

/// The consumer-group APIs the gateway serves (`broker::groups`) and the coordinator
/// (`group::actor`) answers. Every minimum is the protocol crate's own.
pub const GROUP_VERSIONS: [Supported; 13] = [
    // v2-9; v9 carries a KIP-848 member's epoch (librdkafka's consumer protocol needs it);
    // never 10 (it does not decode).
    s(ApiKey::OffsetCommit, 2, 9),
    // v1-7 answer one group in `topics`, v8+ many in `groups`; v9 adds the member epoch.
    s(ApiKey::OffsetFetch, 1, 9),
    // v4+ (KIP-699 batches) is left out: kafka-python switches to it when offered.
    s(ApiKey::FindCoordinator, 0, 3),
    // v4+ answers a first join MEMBER_ID_REQUIRED; v9 tells a static leader rejoining a Stable
    // group to skip the assignment.
    s(ApiKey::JoinGroup, 0, 9),
    s(ApiKey::Heartbeat, 0, 4),
    s(ApiKey::LeaveGroup, 0, 5),
    s(ApiKey::SyncGroup, 0, 5),
    // v6 answers an unknown group GROUP_ID_NOT_FOUND (before: no error, state Dead).
    s(ApiKey::DescribeGroups, 0, 6),
    // v4 filters by state, v5 by type.
    s(ApiKey::ListGroups, 0, 5),
    s(ApiKey::DeleteGroups, 0, 2),
    s(ApiKey::OffsetDelete, 0, 0),
    // KIP-848; v1 (KIP-1082: the client makes its member id) is librdkafka's only one.
    s(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    s(ApiKey::ConsumerGroupDescribe, 0, 1),
];

/// The transaction coordinator's client APIs the gateway serves (`broker::txn`; InitProducerId,
/// which idempotent producers send too, is in [`CORE`]). v0-3 each: AddPartitionsToTxn v4+ is
/// KIP-890's batched form (broker to broker), AddOffsetsToTxn v4 and EndTxn v4-5 add KIP-890's
/// TRANSACTION_ABORTABLE and epoch bump per transaction, TxnOffsetCommit v4-5 the same and
/// the coordinator's verification (the group coordinator serves v0-3). Every minimum is the protocol crate's
/// own; v0-1 get PRODUCER_FENCED as INVALID_PRODUCER_EPOCH (KIP-588). Then KIP-664's admin
/// reads (kafka-transactions, `rill transactions`): DescribeTransactions v0,
/// ListTransactions v0-1 (v1: the duration filter of KIP-994; v2's id pattern is not served)
/// and DescribeProducers v0; and WriteTxnMarkers v1 (the only version the protocol crate
/// decodes; Kafka 4.0 removed v0), which an admin sends to abort a hanging transaction.
pub const TXN_VERSIONS: [Supported; 8] = [
    s(ApiKey::AddPartitionsToTxn, 0, 3),
    s(ApiKey::AddOffsetsToTxn, 0, 3),
    s(ApiKey::EndTxn, 0, 3),
    s(ApiKey::TxnOffsetCommit, 0, 3),
    s(ApiKey::DescribeTransactions, 0, 0),
    s(ApiKey::ListTransactions, 0, 1),
    s(ApiKey::DescribeProducers, 0, 0),
    s(ApiKey::WriteTxnMarkers, 1, 1),
];

/// [`CORE`] then [`GROUP_VERSIONS`].
const WITH_GROUPS: [Supported; CORE.len() + GROUP_VERSIONS.len()] =
    super::concat(CORE, GROUP_VERSIONS);

/// [`WITH_GROUPS`] then [`TXN_VERSIONS`].
const ALL: [Supported; WITH_GROUPS.len() + TXN_VERSIONS.len()] =
    super::concat(WITH_GROUPS, TXN_VERSIONS);

/// The APIs of the single-node broker before consumer groups.
const CORE: [Supported; 30] = [
    // Produce >= 3 and Fetch >= 4 carry RecordBatch v2, the only format stored.
    s(ApiKey::Produce, 3, 9),
    // v4-v12 name topics (13+ uses topic ids only); no fetch sessions (id 0 = full fetches).
    s(ApiKey::Fetch, 4, 12),
    s(ApiKey::ListOffsets, 1, 7),
    s(ApiKey::Metadata, 0, 12),
    // v0-v3: librdkafka asks v3 first, aiokafka v0 only, kafkajs v2 then down.
    s(ApiKey::ApiVersions, 0, 3),
    s(ApiKey::CreateTopics, 2, 7),
    s(ApiKey::DeleteTopics, 1, 6),
    s(ApiKey::InitProducerId, 0, 4),
    s(ApiKey::CreatePartitions, 0, 3),
    // v1+ (v0 has is_default instead of config_source; the protocol crate starts at 1).
    s(ApiKey::DescribeConfigs, 1, 4),
    s(ApiKey::IncrementalAlterConfigs, 0, 1),
    s(ApiKey::AlterConfigs, 0, 2),
    s(ApiKey::DeleteRecords, 0, 2),
    // The controller quorum as its leader sees it (kafka-metadata-quorum, `rill
    // metadata-quorum`); v2 adds the voters' endpoints.
    s(ApiKey::DescribeQuorum, 0, 2),
    // The live brokers from the metadata (Kafka's admin clients' describeCluster); v2 can list
    // fenced ones too.
    s(ApiKey::DescribeCluster, 0, 2),
    // Where a leader epoch ends (KIP-101/320): librdkafka sends v2 and kafka-python v2-4 to
    // check a consumer's position after a leader change; v2 is the crate's first.
    s(ApiKey::OffsetForLeaderEpoch, 2, 4),
    // Preferred (v0+) and unclean (v1+) leader elections: kafka-leader-election, `rill
    // leader-election`, the admin clients' electLeaders.
    s(ApiKey::ElectLeaders, 0, 2),
    // Moving replicas: kafka-reassign-partitions, `rill reassign-partitions`, the admin
    // clients' alterPartitionReassignments / listPartitionReassignments. v1 adds
    // allowReplicationFactorChange (KIP-860).
    s(ApiKey::AlterPartitionReassignments, 0, 1),
    s(ApiKey::ListPartitionReassignments, 0, 0),
    // Which partitions a broker holds and their sizes (kafka-log-dirs, the admin clients'
    // describeLogDirs); v1 is the crate's first.
    s(ApiKey::DescribeLogDirs, 1, 4),
    // Metadata's paged successor for topics' partitions (KIP-966; Kafka 3.7+ admin clients'
    // describeTopics, kafka-python's describe_topic_partitions).
    s(ApiKey::DescribeTopicPartitions, 0, 0),
    // Authentication (issue 16), on every listener: a SASL listener answers these (and
    // ApiVersions) before anything else; others answer them ILLEGAL_SASL_STATE, as Kafka.
    // SaslHandshake v0 is advertised but closes the connection (its raw SASL tokens are not
    // served): librdkafka before 2.x (Debian's kcat) takes SASL support from v0 being listed,
    // then sends v1. SaslAuthenticate v1 adds the session lifetime (re-authentication), v2 is
    // flexible.
    s(ApiKey::SaslHandshake, 0, 1),
    s(ApiKey::SaslAuthenticate, 0, 2),
    // Users' SCRAM credentials in the metadata log (KIP-554: kafka-configs --entity-type
    // users, `rill configs`, the admin clients' describe/alterUserScramCredentials).
    s(ApiKey::DescribeUserScramCredentials, 0, 0),
    s(ApiKey::AlterUserScramCredentials, 0, 0),
    // Client quotas (KIP-546: kafka-configs --entity-type users|clients, `rill configs`).
    s(ApiKey::DescribeClientQuotas, 0, 1),
    s(ApiKey::AlterClientQuotas, 0, 1),
    // ACLs in the metadata log (KIP-140: kafka-acls, `rill acls`, the admin clients'
    // createAcls / describeAcls / deleteAcls). v1-3: v0 (no pattern types) is gone from the
    // protocol crate and from Kafka 4.0 (KIP-896); v2 is flexible; kafka-python takes
    // DescribeAcls v3 as a sign of Kafka 4.0.
    s(ApiKey::DescribeAcls, 1, 3),
    s(ApiKey::CreateAcls, 1, 3),
    s(ApiKey::DeleteAcls, 1, 3),
];

const fn s(key: ApiKey, min: i16, max: i16) -> Supported {
    Supported { key, min, max }
}

/// The served range for a raw API key, if the key is known and served.
pub fn supported(api_key: i16) -> Option<Supported> {
    SUPPORTED.iter().copied().find(|s| s.key as i16 == api_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the request type's own range (`request::request_versions`), not
    /// `ApiKey::valid_versions()`: that is the response's, which for OffsetCommit and
    /// OffsetFetch says 10 while their requests decode only up to 9.
    #[test]
    fn every_advertised_range_is_one_the_protocol_crate_can_decode() {
        for s in SUPPORTED {
            let valid = crate::protocol::request::request_versions(s.key)
                .unwrap_or_else(|| panic!("{s:?}: no request type listed"));
            assert!(s.min <= s.max, "{s:?}");
            assert!(
                valid.min <= s.min && s.max <= valid.max,
                "{s:?} outside {valid}"
            );
        }
    }

    #[test]
    fn keys_are_unique() {
        for (i, a) in SUPPORTED.iter().enumerate() {
            assert!(
                SUPPORTED[i + 1..].iter().all(|b| b.key != a.key),
                "{a:?} twice"
            );
        }
    }

    /// Every group API is served with its row, after the core ones.
    #[test]
    fn group_apis_are_advertised_with_their_rows() {
        assert_eq!(&WITH_GROUPS[..CORE.len()], &CORE[..]);
        assert_eq!(&WITH_GROUPS[CORE.len()..], &GROUP_VERSIONS[..]);
        for g in GROUP_VERSIONS.into_iter().chain(CORE) {
            assert_eq!(supported(g.key as i16), Some(g));
        }
    }

    /// The transaction APIs follow the groups, each served from its row.
    #[test]
    fn txn_apis_are_advertised_with_their_rows() {
        assert_eq!(&SUPPORTED[..WITH_GROUPS.len()], &WITH_GROUPS[..]);
        assert_eq!(&SUPPORTED[WITH_GROUPS.len()..], &TXN_VERSIONS[..]);
        for t in TXN_VERSIONS {
            assert_eq!(supported(t.key as i16), Some(t));
        }
        // Never AddPartitionsToTxn v4+: the batched form the gateway does not build.
        assert_eq!(
            supported(ApiKey::AddPartitionsToTxn as i16).map(|s| s.max),
            Some(3)
        );
        assert_eq!(
            supported(ApiKey::InitProducerId as i16).map(|s| s.max),
            Some(4)
        );
        // The admin reads: ListTransactions v0-1 (never v2's id pattern), DescribeTransactions v0.
        let row = |key: ApiKey| supported(key as i16).map(|s| (s.min, s.max));
        assert_eq!(row(ApiKey::ListTransactions), Some((0, 1)));
        assert_eq!(row(ApiKey::DescribeTransactions), Some((0, 0)));
        // find-hanging and abort: DescribeProducers v0, WriteTxnMarkers v1 (the crate's only).
        assert_eq!(row(ApiKey::DescribeProducers), Some((0, 0)));
        assert_eq!(row(ApiKey::WriteTxnMarkers), Some((1, 1)));
    }

    /// Never OffsetCommit/OffsetFetch 10: `valid_versions()` says 10, the requests decode to 9.
    #[test]
    fn no_group_api_is_advertised_past_its_plan() {
        let max = |key| GROUP_VERSIONS.iter().find(|g| g.key == key).unwrap().max;
        assert_eq!(max(ApiKey::OffsetCommit), 9);
        assert_eq!(max(ApiKey::OffsetFetch), 9);
        assert_eq!(max(ApiKey::FindCoordinator), 3);
        assert_eq!(max(ApiKey::JoinGroup), 9);
    }
}
