//! Where a response's `throttle_time_ms` sits in its encoded frame.
//!
//! The request-time quota (`request_percentage`) is charged once a request's handling is over,
//! and its answer is encoded by then (often inside a future completed long after dispatch: a
//! JoinGroup, a Produce after its fsync). Kafka builds every response with the throttle it
//! computed (`sendResponseMaybeThrottle`); here the throttle is written into the encoded frame
//! instead, in the one field every schema gives it, so the dozens of places that encode an
//! answer need not each know about quotas.
//!
//! In nearly every response the field is the body's first (from the version that has it).
//! Produce's is its last (in v9, before the body's empty tagged fields) and OffsetDelete's
//! follows its error code. ApiVersions' follows the API list and is not written (ApiVersions is
//! answered before a client's quotas matter); SaslHandshake, SaslAuthenticate, WriteTxnMarkers
//! and DescribeQuorum have none. The unit test below checks every advertised version against the
//! protocol crate's own encoding.

use kafka_protocol::messages::ApiKey;

/// Bytes of the frame's size prefix and of the response header's correlation id.
const SIZE_AND_CORRELATION_BYTES: usize = 8;

/// Where the field is, within the body or from the frame's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// This many bytes into the body.
    IntoBody(usize),
    /// The body's last field: this many bytes (the empty tagged fields of a flexible version)
    /// follow it.
    Last { trailing: usize },
}

/// The field's place in `key`'s response at `version`, if it has one that can be found
/// without decoding the body.
fn place(key: ApiKey, version: i16) -> Option<Place> {
    use ApiKey::*;
    let first_since = match key {
        Produce => {
            return (version >= 1).then_some(Place::Last {
                trailing: usize::from(version >= 9),
            })
        }
        OffsetDelete => return Some(Place::IntoBody(2)),
        InitProducerId
        | CreatePartitions
        | DescribeConfigs
        | IncrementalAlterConfigs
        | AlterConfigs
        | DeleteRecords
        | DescribeCluster
        | ElectLeaders
        | AlterPartitionReassignments
        | ListPartitionReassignments
        | DescribeLogDirs
        | DescribeTopicPartitions
        | DescribeUserScramCredentials
        | AlterUserScramCredentials
        | DescribeClientQuotas
        | AlterClientQuotas
        | DescribeAcls
        | CreateAcls
        | DeleteAcls
        | TxnOffsetCommit
        | DeleteGroups
        | ConsumerGroupHeartbeat
        | ConsumerGroupDescribe
        | AddPartitionsToTxn
        | AddOffsetsToTxn
        | EndTxn
        | ListTransactions
        | DescribeTransactions
        | DescribeProducers => 0,
        Fetch | FindCoordinator | SyncGroup | Heartbeat | LeaveGroup | DescribeGroups
        | ListGroups | DeleteTopics => 1,
        ListOffsets | CreateTopics | OffsetForLeaderEpoch | JoinGroup => 2,
        Metadata | OffsetCommit | OffsetFetch => 3,
        _ => return None,
    };
    (version >= first_since).then_some(Place::IntoBody(0))
}

/// The offset of `throttle_time_ms` in a response frame (size prefix included) of `key` at
/// `version` as the gateway encodes it (no tagged fields in the header or at the end of the
/// body), `frame_len` bytes long, whose first bytes are `head` (the whole frame, or the first
/// chunk of an answer written in several). None when the response has no such field, when
/// the field is not inside `head`, or when the frame is not shaped as expected (then nothing
/// is written).
pub fn offset(key: ApiKey, version: i16, head: &[u8], frame_len: usize) -> Option<usize> {
    let frame = head;
    let at = match place(key, version)? {
        Place::IntoBody(into) => {
            let header_bytes = match key.response_header_version(version) {
                0 => SIZE_AND_CORRELATION_BYTES,
                // A flexible header: the correlation id, then no tagged fields (one 0 byte).
                _ => {
                    (frame.get(SIZE_AND_CORRELATION_BYTES) == Some(&0)).then_some(())?;
                    SIZE_AND_CORRELATION_BYTES + 1
                }
            };
            header_bytes + into
        }
        Place::Last { trailing } => {
            // Found from the end: only in a frame that is all in `head`.
            (frame.len() == frame_len).then_some(())?;
            let tail = frame.get(frame.len().checked_sub(trailing)?..)?;
            tail.iter().all(|&b| b == 0).then_some(())?;
            frame.len().checked_sub(trailing + 4)?
        }
    };
    (at + 4 <= frame.len()).then_some(at)
}

/// Raises the throttle written in `field` (a `throttle_time_ms`, big-endian) to at least
/// `throttle_ms`: a larger one — a byte-rate quota's — stays.
pub fn raise(field: &mut [u8; 4], throttle_ms: i32) {
    let written = i32::from_be_bytes(*field);
    *field = written.max(throttle_ms).to_be_bytes();
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Encodable;

    use super::*;
    use crate::protocol::frame::encode_response;
    use crate::protocol::versions::SUPPORTED;

    const MARK: i32 = 0x1234_5678;

    fn field(frame: &mut [u8], at: usize) -> &mut [u8; 4] {
        (&mut frame[at..at + 4]).try_into().unwrap()
    }

    fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Vec<u8> {
        let header_version = key.response_header_version(version);
        encode_response(7, header_version, body, version)
            .unwrap()
            .to_vec()
    }

    /// For one advertised version: where the field was found, if the version has one (the
    /// frame encoded with a marked throttle differs from the one with 0).
    fn check<R: Encodable + Default>(key: ApiKey, version: i16, marked: R) {
        let zero = frame(key, version, &R::default());
        let mut with_mark = frame(key, version, &marked);
        let has_field = zero != with_mark;
        match offset(key, version, &with_mark, with_mark.len()) {
            Some(at) => {
                assert_eq!(
                    with_mark[at..at + 4],
                    MARK.to_be_bytes(),
                    "{key:?} v{version}"
                );
                // Raising writes a larger throttle, keeps a larger one.
                let mut raised = zero.clone();
                raise(field(&mut raised, at), MARK);
                assert_eq!(raised, with_mark, "{key:?} v{version}");
                raise(field(&mut with_mark, at), 5);
                assert_eq!(with_mark[at..at + 4], MARK.to_be_bytes());
            }
            None => assert!(
                !has_field || key == ApiKey::ApiVersions,
                "{key:?} v{version} has a throttle_time_ms that is not found"
            ),
        }
    }

    /// `$key`'s response type, marked when the type has the field at all.
    macro_rules! check_all {
        ($key:expr, $version:expr, [$($api:ident => $response:ty),* $(,)?],
         without: [$($bare:ident => $bare_response:ty),* $(,)?]) => {
            match $key {
                $(ApiKey::$api => check(
                    $key, $version, <$response>::default().with_throttle_time_ms(MARK)
                ),)*
                $(ApiKey::$bare => check($key, $version, <$bare_response>::default()),)*
                other => panic!("{other:?} is advertised: list its response here"),
            }
        };
    }

    #[test]
    fn every_advertised_version_has_its_throttle_field_where_it_is_looked_for() {
        for supported in SUPPORTED {
            for version in supported.min..=supported.max {
                check_all!(supported.key, version, [
                    Produce => ProduceResponse,
                    Fetch => FetchResponse,
                    ListOffsets => ListOffsetsResponse,
                    Metadata => MetadataResponse,
                    OffsetCommit => OffsetCommitResponse,
                    OffsetFetch => OffsetFetchResponse,
                    FindCoordinator => FindCoordinatorResponse,
                    JoinGroup => JoinGroupResponse,
                    Heartbeat => HeartbeatResponse,
                    LeaveGroup => LeaveGroupResponse,
                    SyncGroup => SyncGroupResponse,
                    DescribeGroups => DescribeGroupsResponse,
                    ListGroups => ListGroupsResponse,
                    ApiVersions => ApiVersionsResponse,
                    CreateTopics => CreateTopicsResponse,
                    DeleteTopics => DeleteTopicsResponse,
                    DeleteRecords => DeleteRecordsResponse,
                    InitProducerId => InitProducerIdResponse,
                    OffsetForLeaderEpoch => OffsetForLeaderEpochResponse,
                    AddPartitionsToTxn => AddPartitionsToTxnResponse,
                    AddOffsetsToTxn => AddOffsetsToTxnResponse,
                    EndTxn => EndTxnResponse,
                    TxnOffsetCommit => TxnOffsetCommitResponse,
                    DescribeAcls => DescribeAclsResponse,
                    CreateAcls => CreateAclsResponse,
                    DeleteAcls => DeleteAclsResponse,
                    DescribeConfigs => DescribeConfigsResponse,
                    AlterConfigs => AlterConfigsResponse,
                    DescribeLogDirs => DescribeLogDirsResponse,
                    CreatePartitions => CreatePartitionsResponse,
                    DeleteGroups => DeleteGroupsResponse,
                    ElectLeaders => ElectLeadersResponse,
                    IncrementalAlterConfigs => IncrementalAlterConfigsResponse,
                    AlterPartitionReassignments => AlterPartitionReassignmentsResponse,
                    ListPartitionReassignments => ListPartitionReassignmentsResponse,
                    OffsetDelete => OffsetDeleteResponse,
                    DescribeClientQuotas => DescribeClientQuotasResponse,
                    AlterClientQuotas => AlterClientQuotasResponse,
                    DescribeUserScramCredentials => DescribeUserScramCredentialsResponse,
                    AlterUserScramCredentials => AlterUserScramCredentialsResponse,
                    DescribeCluster => DescribeClusterResponse,
                    DescribeProducers => DescribeProducersResponse,
                    DescribeTransactions => DescribeTransactionsResponse,
                    ListTransactions => ListTransactionsResponse,
                    ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse,
                    ConsumerGroupDescribe => ConsumerGroupDescribeResponse,
                    DescribeTopicPartitions => DescribeTopicPartitionsResponse,
                ], without: [
                    SaslHandshake => SaslHandshakeResponse,
                    SaslAuthenticate => SaslAuthenticateResponse,
                    WriteTxnMarkers => WriteTxnMarkersResponse,
                    DescribeQuorum => DescribeQuorumResponse,
                ]);
            }
        }
    }

    #[test]
    fn a_frame_not_shaped_as_expected_is_left_alone() {
        let body = MetadataResponse::default().with_throttle_time_ms(3);
        let whole = frame(ApiKey::Metadata, 12, &body);
        assert_eq!(offset(ApiKey::Metadata, 12, &whole, whole.len()), Some(9));
        // The first chunk of a longer answer holds it, but not a chunk too short.
        assert_eq!(offset(ApiKey::Metadata, 12, &whole[..13], 1000), Some(9));
        assert_eq!(offset(ApiKey::Metadata, 12, &whole[..12], 1000), None);
        // A flexible header with tagged fields (never written by the gateway): not guessed at.
        let mut tagged = whole.clone();
        tagged[8] = 1;
        assert_eq!(offset(ApiKey::Metadata, 12, &tagged, tagged.len()), None);
        // Produce v9 whose body ends in tagged fields: not guessed at either; nor the end of a
        // frame that is not all at hand.
        let mut produce = frame(ApiKey::Produce, 9, &ProduceResponse::default());
        let at = produce.len() - 5;
        assert_eq!(
            offset(ApiKey::Produce, 9, &produce, produce.len()),
            Some(at)
        );
        assert_eq!(
            offset(ApiKey::Produce, 9, &produce, produce.len() + 1),
            None
        );
        *produce.last_mut().unwrap() = 1;
        assert_eq!(offset(ApiKey::Produce, 9, &produce, produce.len()), None);
        let v2 = frame(ApiKey::Metadata, 2, &body);
        assert_eq!(offset(ApiKey::Metadata, 2, &v2, v2.len()), None);
    }
}
