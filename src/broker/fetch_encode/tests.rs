//! The chunked Fetch encoding must be byte for byte the crate's encoding of the whole response.

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{encode, SPLICE_MIN_BYTES};
use crate::broker::codec;
use crate::protocol::frame::HeaderPrefix;
use crate::protocol::versions;

fn prefix(version: i16) -> HeaderPrefix {
    HeaderPrefix {
        api_key: 1,
        api_version: version,
        correlation_id: 0x0102_0304,
    }
}

/// Distinct bytes, so a record set spliced into the wrong place shows.
fn records(len: usize, seed: u8) -> Option<Bytes> {
    Some(
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect(),
    )
}

fn partition(index: i32, records: Option<Bytes>, version: i16) -> PartitionData {
    let mut p = PartitionData::default()
        .with_partition_index(index)
        .with_error_code(if index == 2 { 6 } else { 0 })
        .with_high_watermark(1000 + index as i64)
        .with_last_stable_offset(900 + index as i64)
        .with_log_start_offset(7)
        .with_aborted_transactions(Some(vec![AbortedTransaction::default()
            .with_producer_id(ProducerId(42))
            .with_first_offset(3)]))
        .with_records(records);
    if version >= 12 {
        // Tagged fields, encoded after the records.
        p = p
            .with_current_leader(
                LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(1))
                    .with_leader_epoch(5),
            )
            .with_diverging_epoch(EpochEndOffset::default().with_epoch(4).with_end_offset(77));
        p.unknown_tagged_fields
            .insert(90, Bytes::from_static(b"tag"));
    }
    p
}

/// Two topics; null, empty, small and large record sets, large ones first, last and adjacent.
fn response(version: i16) -> FetchResponse {
    let big = SPLICE_MIN_BYTES + 1000;
    let topic = |name: &str, partitions| {
        FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_string(name.into())))
            .with_partitions(partitions)
    };
    let mut response = FetchResponse::default()
        .with_throttle_time_ms(12)
        .with_session_id(0)
        .with_responses(vec![
            topic(
                "alpha",
                vec![
                    partition(0, records(big, 1), version),
                    partition(1, records(big + 7, 2), version),
                    partition(2, None, version),
                    partition(3, Some(Bytes::new()), version),
                    partition(4, records(300, 3), version),
                ],
            ),
            topic(
                "beta",
                vec![
                    partition(0, records(10, 4), version),
                    partition(1, records(SPLICE_MIN_BYTES, 5), version),
                ],
            ),
        ]);
    if version >= 12 {
        response
            .unknown_tagged_fields
            .insert(70, Bytes::from_static(b"top"));
    }
    response
}

fn whole(answer: &crate::broker::service::Answer) -> Vec<u8> {
    answer.as_chunks().concat()
}

#[test]
fn chunked_encoding_is_the_crates_encoding_for_every_advertised_version() {
    let fetch = versions::supported(ApiKey::Fetch as i16).expect("Fetch is served");
    for version in fetch.min..=fetch.max {
        let expected = codec::encode(prefix(version), ApiKey::Fetch, &response(version)).unwrap();
        for splice_min in [0, 1, 301, SPLICE_MIN_BYTES, usize::MAX] {
            let answer = encode(prefix(version), response(version), splice_min).unwrap();
            assert_eq!(
                whole(&answer),
                &expected[..],
                "Fetch v{version}, splice_min {splice_min}"
            );
            assert_eq!(answer.len(), expected.len());
        }
    }
}

#[test]
fn large_record_sets_are_written_from_the_bytes_read_not_copied() {
    for version in [4, 11, 12] {
        let big = records(SPLICE_MIN_BYTES * 3, 9).unwrap();
        let response =
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![
                    partition(0, Some(big.clone()), version),
                    partition(1, records(100, 1), version),
                ])]);
        let answer = encode(prefix(version), response, SPLICE_MIN_BYTES).unwrap();
        // Encoded head, the records themselves, the encoded rest.
        assert_eq!(answer.as_chunks().len(), 3, "v{version}");
        let spliced = &answer.as_chunks()[1];
        assert_eq!(
            spliced.as_ptr(),
            big.as_ptr(),
            "v{version}: the same memory"
        );
        assert_eq!(spliced.len(), big.len());
    }
}

#[test]
fn a_fetch_without_large_record_sets_is_one_buffer() {
    let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![partition(0, records(1000, 1), 12)])]);
    let answer = encode(prefix(12), response, SPLICE_MIN_BYTES).unwrap();
    assert_eq!(answer.as_chunks().len(), 1);
}

#[test]
fn an_empty_response_encodes() {
    for version in [4, 12] {
        let expected =
            codec::encode(prefix(version), ApiKey::Fetch, &FetchResponse::default()).unwrap();
        let answer = encode(prefix(version), FetchResponse::default(), 0).unwrap();
        assert_eq!(whole(&answer), &expected[..]);
    }
}
