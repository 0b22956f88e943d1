//! Decoding a request frame: bounds first ([`super::bounds`]), then the `kafka-protocol` crate.
//!
//! Every request body Rill reads goes through [`decode`]; a request whose API has no layout in
//! [`super::layouts`] is refused before any decoding.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Message, VersionRange};

use super::bounds;

/// Decodes the request header (for its version's tagged fields) and then the body of API `key`
/// at `version`, once the frame's lengths have been checked against the bytes it holds.
pub fn decode<R: Decodable>(frame: &Bytes, key: ApiKey, version: i16) -> Result<R, String> {
    check(frame, key, version)?;
    decode_checked(frame, key, version)
}

/// The bounds check of [`decode`] alone: the frame's lengths against its bytes, and its array
/// entries against [`crate::limits::REQUEST_ENTRIES_MAX`]. Returns the entries it holds, so
/// the caller can decide how to schedule the (costlier) decode.
pub fn check(frame: &Bytes, key: ApiKey, version: i16) -> Result<u64, String> {
    let header_version = key.request_header_version(version);
    bounds::check_request(frame, key, version, header_version)
        .map_err(|e| format!("{key:?} v{version}: refused before decoding: {e}"))
}

/// The crate's decode of a frame that [`check`] passed. Never call it on an unchecked frame.
pub fn decode_checked<R: Decodable>(frame: &Bytes, key: ApiKey, version: i16) -> Result<R, String> {
    let header_version = key.request_header_version(version);
    let mut buf = frame.clone();
    RequestHeader::decode(&mut buf, header_version)
        .map_err(|e| format!("{key:?} v{version}: bad request header: {e}"))?;
    R::decode(&mut buf, version).map_err(|e| format!("{key:?} v{version}: bad request body: {e}"))
}

/// Runs `$body` with `$R` bound to the crate's request type of `$key` — the one list of the
/// request types Rill has a layout for (plus the ones it decodes without one) — or `$other`
/// for any other key.
macro_rules! by_request_type {
    ($key:expr, |$R:ident| $body:expr, $other:ident => $fallback:expr) => {
        by_request_type!(@each $key, $R, $body, $other, $fallback;
            Produce = ProduceRequest, Fetch = FetchRequest, ListOffsets = ListOffsetsRequest,
            Metadata = MetadataRequest, OffsetCommit = OffsetCommitRequest,
            OffsetFetch = OffsetFetchRequest, FindCoordinator = FindCoordinatorRequest,
            JoinGroup = JoinGroupRequest, Heartbeat = HeartbeatRequest,
            LeaveGroup = LeaveGroupRequest, SyncGroup = SyncGroupRequest,
            DescribeGroups = DescribeGroupsRequest, ListGroups = ListGroupsRequest,
            CreateTopics = CreateTopicsRequest, DeleteTopics = DeleteTopicsRequest,
            DeleteRecords = DeleteRecordsRequest, InitProducerId = InitProducerIdRequest,
            DescribeConfigs = DescribeConfigsRequest, AlterConfigs = AlterConfigsRequest,
            CreatePartitions = CreatePartitionsRequest, DeleteGroups = DeleteGroupsRequest,
            IncrementalAlterConfigs = IncrementalAlterConfigsRequest,
            OffsetDelete = OffsetDeleteRequest,
            ConsumerGroupHeartbeat = ConsumerGroupHeartbeatRequest,
            ConsumerGroupDescribe = ConsumerGroupDescribeRequest,
            DescribeQuorum = DescribeQuorumRequest,
            DescribeCluster = DescribeClusterRequest,
            OffsetForLeaderEpoch = OffsetForLeaderEpochRequest,
            ElectLeaders = ElectLeadersRequest,
            AlterPartitionReassignments = AlterPartitionReassignmentsRequest,
            ListPartitionReassignments = ListPartitionReassignmentsRequest,
            DescribeLogDirs = DescribeLogDirsRequest,
            DescribeTopicPartitions = DescribeTopicPartitionsRequest,
            AddPartitionsToTxn = AddPartitionsToTxnRequest,
            AddOffsetsToTxn = AddOffsetsToTxnRequest,
            EndTxn = EndTxnRequest,
            TxnOffsetCommit = TxnOffsetCommitRequest,
            DescribeTransactions = DescribeTransactionsRequest,
            ListTransactions = ListTransactionsRequest,
            DescribeProducers = DescribeProducersRequest,
            WriteTxnMarkers = WriteTxnMarkersRequest,
            SaslHandshake = SaslHandshakeRequest,
            SaslAuthenticate = SaslAuthenticateRequest,
            DescribeUserScramCredentials = DescribeUserScramCredentialsRequest,
            AlterUserScramCredentials = AlterUserScramCredentialsRequest,
            DescribeClientQuotas = DescribeClientQuotasRequest,
            AlterClientQuotas = AlterClientQuotasRequest,
            DescribeAcls = DescribeAclsRequest,
            CreateAcls = CreateAclsRequest,
            DeleteAcls = DeleteAclsRequest)
    };
    (@each $key:expr, $R:ident, $body:expr, $other:ident, $fallback:expr;
        $($api:ident = $request:ident),*) => {
        match $key {
            $(ApiKey::$api => {
                type $R = $request;
                $body
            })*
            $other => $fallback,
        }
    };
}

/// Decodes `body` (no header) as the request type of `key` with the crate, without any bounds
/// check, and returns how many bytes it left unread. Only for holding layouts against the crate
/// in tests; never call it on untrusted bytes.
pub fn crate_decode_unchecked(key: ApiKey, version: i16, body: &Bytes) -> Result<usize, String> {
    fn run<R: Decodable>(body: &Bytes, version: i16) -> Result<usize, String> {
        let mut buf = body.clone();
        R::decode(&mut buf, version).map_err(|e| e.to_string())?;
        Ok(buf.len())
    }
    by_request_type!(key, |R| run::<R>(body, version), other => {
        Err(format!("{other:?}: no decoder listed"))
    })
}

/// Decodes a whole frame of any API with a layout, as the broker would (bounds, header, body).
/// The fuzz target and the bounds tests drive the request path through this.
pub fn decode_any(frame: &Bytes) -> Result<(), String> {
    let prefix = super::frame::peek_header(frame).map_err(|e| e.to_string())?;
    let key = ApiKey::try_from(prefix.api_key)
        .map_err(|_| format!("unknown api key {}", prefix.api_key))?;
    let version = prefix.api_version;
    fn run<R: Decodable>(frame: &Bytes, key: ApiKey, version: i16) -> Result<(), String> {
        decode::<R>(frame, key, version).map(drop)
    }
    by_request_type!(key, |R| run::<R>(frame, key, version), other => {
        // Every other key has no layout: the bounds check refuses it before any decoding.
        bounds::check_request(frame, other, version, other.request_header_version(version))
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

/// The versions the crate's request type for `key` decodes (`<R as Message>::VERSIONS`), when
/// Rill lists one. Narrower than `ApiKey::valid_versions()`, which is the response's range: the
/// crate says OffsetCommit and OffsetFetch 10 there, but their requests decode only up to 9.
pub fn request_versions(key: ApiKey) -> Option<VersionRange> {
    if key == ApiKey::ApiVersions {
        // Answered from the header alone, so not in the decoding list.
        return Some(<ApiVersionsRequest as Message>::VERSIONS);
    }
    by_request_type!(key, |R| Some(<R as Message>::VERSIONS), _other => None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_commit_decodes_up_to_9_although_the_key_claims_10() {
        let commit = request_versions(ApiKey::OffsetCommit).unwrap();
        assert_eq!((commit.min, commit.max), (2, 9));
        assert_eq!(ApiKey::OffsetCommit.valid_versions().max, 10);
        assert_eq!(request_versions(ApiKey::OffsetFetch).unwrap().max, 9);
        assert_eq!(request_versions(ApiKey::ApiVersions).unwrap().min, 0);
        let heartbeat = request_versions(ApiKey::ConsumerGroupHeartbeat).unwrap();
        assert_eq!((heartbeat.min, heartbeat.max), (0, 1));
        assert!(request_versions(ApiKey::Envelope).is_none());
    }
}
