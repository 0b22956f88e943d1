//! Decoding a request frame: bounds first ([`super::bounds`]), then the `kafka-protocol` crate.
//!
//! Every request body Rill reads goes through [`decode`]; a request whose API has no layout in
//! [`super::layouts`] is refused before any decoding.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;

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

/// Decodes `body` (no header) as the request type of `key` with the crate, without any bounds
/// check, and returns how many bytes it left unread. Only for holding layouts against the crate
/// in tests; never call it on untrusted bytes.
pub fn crate_decode_unchecked(key: ApiKey, version: i16, body: &Bytes) -> Result<usize, String> {
    fn run<R: Decodable>(body: &Bytes, version: i16) -> Result<usize, String> {
        let mut buf = body.clone();
        R::decode(&mut buf, version).map_err(|e| e.to_string())?;
        Ok(buf.len())
    }
    match key {
        ApiKey::Produce => run::<ProduceRequest>(body, version),
        ApiKey::Fetch => run::<FetchRequest>(body, version),
        ApiKey::ListOffsets => run::<ListOffsetsRequest>(body, version),
        ApiKey::Metadata => run::<MetadataRequest>(body, version),
        ApiKey::OffsetCommit => run::<OffsetCommitRequest>(body, version),
        ApiKey::OffsetFetch => run::<OffsetFetchRequest>(body, version),
        ApiKey::FindCoordinator => run::<FindCoordinatorRequest>(body, version),
        ApiKey::JoinGroup => run::<JoinGroupRequest>(body, version),
        ApiKey::Heartbeat => run::<HeartbeatRequest>(body, version),
        ApiKey::LeaveGroup => run::<LeaveGroupRequest>(body, version),
        ApiKey::SyncGroup => run::<SyncGroupRequest>(body, version),
        ApiKey::DescribeGroups => run::<DescribeGroupsRequest>(body, version),
        ApiKey::ListGroups => run::<ListGroupsRequest>(body, version),
        ApiKey::CreateTopics => run::<CreateTopicsRequest>(body, version),
        ApiKey::DeleteTopics => run::<DeleteTopicsRequest>(body, version),
        ApiKey::DeleteRecords => run::<DeleteRecordsRequest>(body, version),
        ApiKey::InitProducerId => run::<InitProducerIdRequest>(body, version),
        ApiKey::DescribeConfigs => run::<DescribeConfigsRequest>(body, version),
        ApiKey::AlterConfigs => run::<AlterConfigsRequest>(body, version),
        ApiKey::CreatePartitions => run::<CreatePartitionsRequest>(body, version),
        ApiKey::DeleteGroups => run::<DeleteGroupsRequest>(body, version),
        ApiKey::IncrementalAlterConfigs => run::<IncrementalAlterConfigsRequest>(body, version),
        other => Err(format!("{other:?}: no decoder listed")),
    }
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
    match key {
        ApiKey::Produce => run::<ProduceRequest>(frame, key, version),
        ApiKey::Fetch => run::<FetchRequest>(frame, key, version),
        ApiKey::ListOffsets => run::<ListOffsetsRequest>(frame, key, version),
        ApiKey::Metadata => run::<MetadataRequest>(frame, key, version),
        ApiKey::OffsetCommit => run::<OffsetCommitRequest>(frame, key, version),
        ApiKey::OffsetFetch => run::<OffsetFetchRequest>(frame, key, version),
        ApiKey::FindCoordinator => run::<FindCoordinatorRequest>(frame, key, version),
        ApiKey::JoinGroup => run::<JoinGroupRequest>(frame, key, version),
        ApiKey::Heartbeat => run::<HeartbeatRequest>(frame, key, version),
        ApiKey::LeaveGroup => run::<LeaveGroupRequest>(frame, key, version),
        ApiKey::SyncGroup => run::<SyncGroupRequest>(frame, key, version),
        ApiKey::DescribeGroups => run::<DescribeGroupsRequest>(frame, key, version),
        ApiKey::ListGroups => run::<ListGroupsRequest>(frame, key, version),
        ApiKey::CreateTopics => run::<CreateTopicsRequest>(frame, key, version),
        ApiKey::DeleteTopics => run::<DeleteTopicsRequest>(frame, key, version),
        ApiKey::DeleteRecords => run::<DeleteRecordsRequest>(frame, key, version),
        ApiKey::InitProducerId => run::<InitProducerIdRequest>(frame, key, version),
        ApiKey::DescribeConfigs => run::<DescribeConfigsRequest>(frame, key, version),
        ApiKey::AlterConfigs => run::<AlterConfigsRequest>(frame, key, version),
        ApiKey::CreatePartitions => run::<CreatePartitionsRequest>(frame, key, version),
        ApiKey::DeleteGroups => run::<DeleteGroupsRequest>(frame, key, version),
        ApiKey::IncrementalAlterConfigs => {
            run::<IncrementalAlterConfigsRequest>(frame, key, version)
        }
        // Every other key has no layout: the bounds check refuses it before any decoding.
        other => {
            bounds::check_request(frame, other, version, other.request_header_version(version))
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}
