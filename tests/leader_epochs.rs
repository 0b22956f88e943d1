//! OffsetForLeaderEpoch (API 23) against a real `rill server` process, at every served
//! version (2-4): where each leader epoch ends, KIP-320's check of the epoch the asker knows,
//! unknown partitions, and the answer after a `kill -9` and restart (the new leadership's
//! epoch starts at the log end at once).
#![cfg(not(madsim))]

mod common;

use std::net::TcpStream;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::*;

use common::{call, create_topic, produce, topic_name, RillServer};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

/// Asks where `asked` ends in each listed `(topic, partition)` knowing `current`; answers
/// `(topic, partition, error, epoch, end offset)` in the response's order.
fn epoch_ends(
    s: &mut TcpStream,
    version: i16,
    listed: &[(&str, i32)],
    current: i32,
    asked: i32,
) -> Vec<(String, i32, i16, i32, i64)> {
    let topics = listed
        .iter()
        .map(|(topic, partition)| {
            OffsetForLeaderTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![OffsetForLeaderPartition::default()
                    .with_partition(*partition)
                    .with_current_leader_epoch(current)
                    .with_leader_epoch(asked)])
        })
        .collect();
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(topics);
    let response: OffsetForLeaderEpochResponse =
        call(s, ApiKey::OffsetForLeaderEpoch, version, &request);
    let mut answers = Vec::new();
    for topic in response.topics {
        for p in topic.partitions {
            let name = topic.topic.0.to_string();
            answers.push((
                name,
                p.partition,
                p.error_code,
                p.leader_epoch,
                p.end_offset,
            ));
        }
    }
    answers
}

/// The leader epoch ListOffsets v4 gives for the latest offset of partition 0.
fn current_epoch(s: &mut TcpStream, topic: &str) -> i32 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let response: ListOffsetsResponse = call(s, ApiKey::ListOffsets, 4, &request);
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    partition.leader_epoch
}

#[test]
fn offset_for_leader_epoch_answers_where_each_epoch_ends_at_every_version() {
    let server = RillServer::start(&[]);
    let mut s = server.connect();
    create_topic(&mut s, "epochs", 2);
    produce(&mut s, "epochs", b"a");
    produce(&mut s, "epochs", b"b");
    let epoch = current_epoch(&mut s, "epochs");
    assert!(epoch >= 0, "the leader's epoch: {epoch}");

    for version in 2..=4 {
        let at = |answers: Vec<(String, i32, i16, i32, i64)>| {
            assert_eq!(answers.len(), 1, "v{version}: {answers:?}");
            let (_, _, error, epoch, end) = answers[0].clone();
            (error, epoch, end)
        };
        // The current epoch ends at the log end.
        let answer = epoch_ends(&mut s, version, &[("epochs", 0)], -1, epoch);
        assert_eq!(at(answer), (0, epoch, 2), "v{version}");
        let answer = epoch_ends(&mut s, version, &[("epochs", 0)], epoch, epoch);
        assert_eq!(at(answer), (0, epoch, 2), "v{version}");
        // A newer epoch than any the log knows: undefined, no error.
        let answer = epoch_ends(&mut s, version, &[("epochs", 0)], -1, epoch + 1);
        assert_eq!(at(answer), (0, -1, -1), "v{version}");
        // An empty partition still holds its leader's epoch, begun at offset 0.
        let answer = epoch_ends(&mut s, version, &[("epochs", 1)], -1, epoch);
        assert_eq!(at(answer), (0, epoch, 0), "v{version}");
        // KIP-320: the asker's epoch is newer than the leader's.
        let answer = epoch_ends(&mut s, version, &[("epochs", 0)], epoch + 1, epoch);
        assert_eq!(at(answer), (UNKNOWN_LEADER_EPOCH, -1, -1), "v{version}");
        // Unknown partitions, and a partition listed twice answered once.
        let answers = epoch_ends(
            &mut s,
            version,
            &[("epochs", 0), ("epochs", 7), ("nope", 0), ("epochs", 0)],
            -1,
            epoch,
        );
        assert_eq!(
            answers,
            vec![
                ("epochs".to_string(), 0, 0, epoch, 2),
                ("epochs".to_string(), 7, UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
                ("nope".to_string(), 0, UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
            ],
            "v{version}"
        );
    }

    // After a kill -9 the broker leads again in a newer epoch (its fencing and its return each
    // bump it): the old epoch ends where the restart found the log, not at the new log end.
    let mut server = server;
    server.kill();
    let server = server.start_again(&[]);
    let mut s = server.connect();
    produce(&mut s, "epochs", b"c");
    let after = current_epoch(&mut s, "epochs");
    assert!(after > epoch, "a new leadership: {epoch} then {after}");
    let answer = epoch_ends(&mut s, 4, &[("epochs", 0)], -1, epoch);
    assert_eq!((answer[0].2, answer[0].3, answer[0].4), (0, epoch, 2));
    let answer = epoch_ends(&mut s, 4, &[("epochs", 0)], -1, after);
    assert_eq!((answer[0].2, answer[0].3, answer[0].4), (0, after, 3));
    // The stale epoch, named as the one known, is fenced.
    let answer = epoch_ends(&mut s, 4, &[("epochs", 0)], epoch, epoch);
    assert_eq!(answer[0].2, FENCED_LEADER_EPOCH, "{answer:?}");
}
