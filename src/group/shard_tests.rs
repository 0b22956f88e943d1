//! The shard fed by hand: load reads, requests and Append outcomes, no actor.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::group::records::{GroupValue, MemberValue, OffsetValue};
use crate::group::state::GroupState;
use crate::messages::groups::{CommittedOffset, OffsetCommitArgs};
use crate::storage::batch::set_base_offset;
use crate::types::LeaderEpoch;

/// `group.consumer.session.timeout.ms` of the shards here.
const SESSION_MS: u64 = 45_000;
const TERM: LeaderTerm = LeaderTerm {
    epoch: LeaderEpoch::INITIAL,
    replica: 7,
};

const NOW: Clock = Clock {
    mono_ms: 1_000,
    unix_ms: 1_700_000_000_000,
};

fn tp(partition: i32) -> TopicPartition {
    TopicPartition {
        topic: "t".to_owned(),
        partition,
    }
}

fn committed(group: &str, partition: i32, offset: i64) -> OffsetsRecord {
    OffsetsRecord::Offset {
        group: group.to_owned(),
        tp: tp(partition),
        value: Some(OffsetValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: NOW.unix_ms,
            expire_timestamp_ms: None,
        }),
    }
}

fn removed(group: &str, partition: i32) -> OffsetsRecord {
    OffsetsRecord::Offset {
        group: group.to_owned(),
        tp: tp(partition),
        value: None,
    }
}

pub(super) fn group_record(group: &str, value: Option<GroupValue>) -> OffsetsRecord {
    OffsetsRecord::Group {
        group: group.to_owned(),
        value,
    }
}

pub(super) fn one_member(member: &str) -> GroupValue {
    GroupValue {
        protocol_type: "consumer".to_owned(),
        generation: 3,
        protocol: Some("range".to_owned()),
        leader: Some(member.to_owned()),
        current_state_timestamp_ms: NOW.unix_ms,
        members: vec![MemberValue {
            member_id: member.to_owned(),
            group_instance_id: None,
            client_id: "c".to_owned(),
            client_host: "/127.0.0.1".to_owned(),
            rebalance_timeout_ms: 30_000,
            session_timeout_ms: 10_000,
            subscription: vec![1],
            assignment: vec![2],
        }],
    }
}

/// One batch of `records` at `base`, as the log holds it.
pub(super) fn batch_at(base: i64, records: &[OffsetsRecord]) -> Vec<u8> {
    let mut batch = encode::<u32>(
        records,
        &AfterWrite::Membership { generation: 0 },
        NOW.unix_ms,
    )
    .unwrap();
    set_base_offset(&mut batch, base).unwrap();
    batch
}

fn read(records: Vec<u8>) -> FetchPartitionResult {
    FetchPartitionResult {
        tp: TopicPartition {
            topic: crate::messages::OFFSETS_TOPIC.to_owned(),
            partition: 0,
        },
        error_code: ErrorCode::NONE,
        high_watermark: Offset(100),
        last_stable_offset: Offset(100),
        log_start_offset: Offset(0),
        records,
        aborted: None,
    }
}

fn loaded() -> Shard<u32> {
    let mut out = Vec::new();
    let shard = Shard::new(0, TERM, Offset(0), 1, SESSION_MS, NOW, &mut out);
    assert!(
        out.is_empty() && !shard.is_loading(),
        "an empty log loads at once"
    );
    shard
}

fn commit(offset: i64) -> GroupsRequest {
    GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: "g".to_owned(),
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            tp(0),
            CommittedOffset {
                offset: Offset(offset),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    })
}

fn send(shard: &mut Shard<u32>, request: GroupsRequest, w: u32) -> Vec<ShardOut<u32>> {
    let mut out = Vec::new();
    let mut rng = SmallRng::seed_from_u64(1);
    shard.request(
        NOW,
        &GroupSettings::default(),
        &mut rng,
        request,
        w,
        &mut out,
    );
    out
}

/// The committed offset of `g`'s partition `partition` (-1: none).
fn offset_of(shard: &Shard<u32>, partition: i32) -> i64 {
    let fetched = shard.fetch_offsets("g", Some(&[tp(partition)]), false);
    assert_eq!(fetched.error_code, ErrorCode::NONE);
    fetched.partitions[0].1.offset.0
}

fn append_write(out: &[ShardOut<u32>]) -> u64 {
    match out {
        [ShardOut::Append { write, .. }] => *write,
        other => panic!("expected one Append, got {other:?}"),
    }
}

fn committed_code(out: &ShardOut<u32>) -> (u32, ErrorCode) {
    match out {
        ShardOut::Answer(w, GroupsReply::Committed(results)) => (*w, results[0].1),
        other => panic!("expected a commit answer, got {other:?}"),
    }
}

#[test]
fn a_load_reads_again_from_a_cut_batch_applies_tombstones_and_stops_at_the_log_end() {
    let b0 = batch_at(0, &[committed("g", 0, 5), committed("g", 1, 7)]);
    let b1 = batch_at(
        2,
        &[
            committed("g", 0, 9),
            group_record("gone", Some(one_member("x"))),
        ],
    );
    let b2 = batch_at(
        4,
        &[
            removed("g", 1),
            group_record("h", Some(one_member("m"))),
            group_record("gone", None),
        ],
    );
    // Written after the load's log end: not the load's to apply.
    let after = batch_at(7, &[committed("g", 0, 100)]);
    let mut out = Vec::new();
    let mut shard: Shard<u32> = Shard::new(0, TERM, Offset(7), 1, SESSION_MS, NOW, &mut out);
    assert_eq!(out, [ShardOut::Read { from: Offset(0) }]);
    // A read cut inside the second batch: the next read starts at that batch.
    let mut first = b0.clone();
    first.extend_from_slice(&b1[..b1.len() / 2]);
    let mut out = Vec::new();
    shard.fetched(&read(first), NOW, &mut out).unwrap();
    assert_eq!(out, [ShardOut::Read { from: Offset(2) }]);
    assert!(shard.is_loading());
    // Requests meanwhile are told to retry.
    let answered = send(&mut shard, commit(1), 9);
    assert_eq!(
        committed_code(&answered[0]),
        (9, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    );
    let fetched = shard.fetch_offsets("g", None, false);
    assert_eq!(fetched.error_code, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);

    let mut rest = b1.clone();
    rest.extend_from_slice(&b2);
    rest.extend_from_slice(&after);
    let mut out = Vec::new();
    shard.fetched(&read(rest), NOW, &mut out).unwrap();
    assert!(!shard.is_loading());
    assert_eq!((offset_of(&shard, 0), offset_of(&shard, 1)), (9, -1));
    // The surviving group is built Stable with a fresh session; the deleted one is gone.
    assert_eq!(shard.groups.keys().collect::<Vec<_>>(), ["h"]);
    assert_eq!(shard.groups["h"].state(), GroupState::Stable);
    assert_eq!(
        out,
        [ShardOut::Wake {
            group: "h".to_owned(),
            timer: GroupTimer::Session("m".to_owned()),
            at_mono_ms: NOW.mono_ms + 10_000,
        }]
    );
}

/// `batch` as the log cleaner leaves it, holding only its records at `kept` (positions).
fn cleaned(batch: &[u8], kept: &[usize]) -> Vec<u8> {
    let mut records = crate::storage::batch::records(batch);
    let mut spans = Vec::new();
    while let Some(record) = records.next_with_span() {
        spans.push(&batch[record.unwrap().1]);
    }
    let kept: Vec<&[u8]> = kept.iter().map(|&at| spans[at]).collect();
    crate::storage::batch::rebuild_batch(batch, &kept)
}

#[test]
fn a_load_walks_a_cleaned_log_of_record_less_batches_and_offset_gaps() {
    // `__consumer_offsets` is compacted: a batch may have lost every record (its header
    // keeps offsets dense) or some (offsets inside it are missing).
    let b0 = batch_at(0, &[committed("g", 0, 5), committed("g", 1, 7)]);
    let b1 = batch_at(
        2,
        &[
            committed("g", 0, 9),
            group_record("gone", Some(one_member("x"))),
            committed("g", 1, 8),
        ],
    );
    let shard = loaded_from(&[cleaned(&b0, &[]), cleaned(&b1, &[0, 2])], 5);
    assert_eq!((offset_of(&shard, 0), offset_of(&shard, 1)), (9, 8));
    assert!(
        shard.groups.is_empty(),
        "the cleaned-away group record stays away"
    );
}

/// A load skips what it cannot read (a compressed batch, which only a foreign writer makes,
/// and a record whose key does not decode) and applies every other record.
#[test]
fn a_load_skips_an_unreadable_batch_and_an_undecodable_record_and_applies_the_rest() {
    let mut compressed = batch_at(0, &[committed("g", 0, 5)]);
    compressed[22] |= 1; // attributes: gzip
    let crc = crate::storage::batch::compute_crc(&compressed);
    compressed[17..21].copy_from_slice(&crc.to_be_bytes());
    let mut undecodable = build_batch_records(&[(Some(&[0xFF][..]), Some(&[1][..]))], 0);
    set_base_offset(&mut undecodable, 0).unwrap();
    for skipped in [compressed, undecodable] {
        let shard = loaded_from(&[skipped, batch_at(1, &[committed("g", 1, 7)])], 2);
        let fetched = shard.fetch_offsets("g", None, false);
        let offsets: Vec<_> = (fetched.partitions.iter())
            .map(|(tp, o, _)| (tp.partition, o.offset.0))
            .collect();
        assert_eq!(offsets, [(1, 7)]);
    }
}

#[test]
fn a_read_that_fails_or_brings_no_whole_batch_fails_the_load() {
    let b0 = batch_at(0, &[committed("g", 0, 5)]);
    let mut out = Vec::new();
    let mut shard: Shard<u32> = Shard::new(0, TERM, Offset(1), 1, SESSION_MS, NOW, &mut out);
    let cut = read(b0[..b0.len() - 1].to_vec());
    assert!(shard.fetched(&cut, NOW, &mut out).is_err());
    let mut failed = read(Vec::new());
    failed.error_code = ErrorCode::KAFKA_STORAGE_ERROR;
    assert!(shard.fetched(&failed, NOW, &mut out).is_err());
    // A log start moved past the first read: read from there.
    let mut moved = read(Vec::new());
    moved.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
    moved.log_start_offset = Offset(1);
    let mut out = Vec::new();
    shard.fetched(&moved, NOW, &mut out).unwrap();
    assert!(
        out.is_empty() && !shard.is_loading(),
        "nothing left below the log end"
    );
}

#[test]
fn writes_are_applied_and_answered_in_issue_order_only_once_acknowledged() {
    let mut shard = loaded();
    let first = append_write(&send(&mut shard, commit(1), 1));
    let second = append_write(&send(&mut shard, commit(2), 2));
    let mut out = Vec::new();
    shard.appended(second, Ok(()), NOW, &mut out).unwrap();
    assert!(
        out.is_empty(),
        "the later write waits for the earlier one: {out:?}"
    );
    assert_eq!(offset_of(&shard, 0), -1, "nothing applied before its ack");
    shard.appended(first, Ok(()), NOW, &mut out).unwrap();
    let answered: Vec<_> = out.iter().map(committed_code).collect();
    assert_eq!(answered, [(1, ErrorCode::NONE), (2, ErrorCode::NONE)]);
    assert_eq!(offset_of(&shard, 0), 2);
    // A duplicate answer changes nothing.
    let mut again = Vec::new();
    shard.appended(first, Ok(()), NOW, &mut again).unwrap();
    assert!(again.is_empty());
}

#[test]
fn a_timed_out_write_unloads_the_shard_and_every_write_in_flight_is_refused() {
    let mut shard = loaded();
    let first = append_write(&send(&mut shard, commit(1), 1));
    append_write(&send(&mut shard, commit(2), 2));
    let mut out = Vec::new();
    let outcome = Err(ErrorCode::REQUEST_TIMED_OUT);
    assert!(shard.appended(first, outcome, NOW, &mut out).is_err());
    assert!(out.is_empty());
    shard.abandon(NOW, &mut out);
    let answered: Vec<_> = out.iter().map(committed_code).collect();
    assert_eq!(
        answered,
        [
            (1, ErrorCode::COORDINATOR_NOT_AVAILABLE),
            (2, ErrorCode::NOT_COORDINATOR)
        ]
    );
}

#[test]
fn a_write_that_cannot_be_encoded_is_refused_at_once() {
    let mut shard = loaded();
    let mut huge = commit(1);
    if let GroupsRequest::OffsetCommit(args) = &mut huge {
        args.group = "g".repeat(usize::from(u16::MAX) + 1);
    }
    let out = send(&mut shard, huge, 4);
    assert_eq!(committed_code(&out[0]).0, 4);
    assert_ne!(committed_code(&out[0]).1, ErrorCode::NONE);
    assert!(shard.writes.is_empty());
}

/// A minute's retention, as the real-process test runs it.
fn one_minute_retention() -> GroupSettings {
    GroupSettings {
        offsets_retention_ms: 60_000,
        ..GroupSettings::default()
    }
}

/// `NOW` moved on by `ms`.
fn later(ms: u64) -> Clock {
    Clock {
        mono_ms: NOW.mono_ms + ms,
        unix_ms: NOW.unix_ms + ms as i64,
    }
}

/// A shard loaded from `batches` (the whole log).
pub(super) fn loaded_from(batches: &[Vec<u8>], log_end: i64) -> Shard<u32> {
    let mut out = Vec::new();
    let mut shard: Shard<u32> = Shard::new(0, TERM, Offset(log_end), 1, SESSION_MS, NOW, &mut out);
    shard
        .fetched(&read(batches.concat()), NOW, &mut out)
        .unwrap();
    assert!(!shard.is_loading());
    shard
}

/// The Appends of `out`: (write, batch).
fn appends(out: &[ShardOut<u32>]) -> Vec<(u64, Vec<u8>)> {
    (out.iter())
        .filter_map(|o| match o {
            ShardOut::Append { write, batch } => Some((*write, batch.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn an_empty_consumer_group() -> GroupValue {
    GroupValue {
        protocol_type: "consumer".to_owned(),
        generation: 4,
        protocol: None,
        leader: None,
        current_state_timestamp_ms: NOW.unix_ms,
        members: Vec::new(),
    }
}

#[test]
fn expired_offsets_get_tombstones_applied_on_ack_that_a_reload_replays() {
    let log = vec![batch_at(
        0,
        &[
            committed("g", 0, 5),
            committed("g", 1, 7),
            group_record("e", Some(an_empty_consumer_group())),
            committed("e", 0, 2),
            // A Stable group whose member's subscription does not decode: keeps everything.
            group_record("h", Some(one_member("m"))),
            committed("h", 0, 3),
        ],
    )];
    let mut shard = loaded_from(&log, 6);
    let s = one_minute_retention();
    let mut out = Vec::new();
    shard.expire_offsets(later(59_999), &s, &mut out);
    assert!(
        out.is_empty(),
        "nothing is due before the retention: {out:?}"
    );
    shard.expire_offsets(later(60_000), &s, &mut out);
    let written = appends(&out);
    assert_eq!(written.len(), 2, "one write per group, e and g: {out:?}");
    assert_eq!(shard.groups["e"].state(), GroupState::Dead);
    assert_eq!(offset_of(&shard, 0), 5, "nothing applied before its ack");
    for (write, _) in &written {
        shard
            .appended(*write, Ok(()), later(60_000), &mut out)
            .unwrap();
    }
    assert_eq!((offset_of(&shard, 0), offset_of(&shard, 1)), (-1, -1));
    assert!(!shard.offsets.has_offsets("g") && !shard.groups.contains_key("e"));
    assert!(!shard.offsets.has_offsets("e"));
    assert!(shard.offsets.has_offsets("h") && shard.groups.contains_key("h"));
    // The log as the appends left it: a reload does not bring the offsets back.
    let mut log = log;
    // e's write holds 2 records (offset and group tombstones), g's 3.
    for ((_, mut batch), base) in written.into_iter().zip([6, 8]) {
        set_base_offset(&mut batch, base).unwrap();
        log.push(batch);
    }
    let reloaded = loaded_from(&log, 11);
    assert_eq!((offset_of(&reloaded, 0), offset_of(&reloaded, 1)), (-1, -1));
    assert!(!reloaded.groups.contains_key("e") && reloaded.groups.contains_key("h"));
    assert!(!reloaded.offsets.has_offsets("e"));
    assert_eq!(reloaded.fetch_offsets("h", None, false).partitions.len(), 1);
}

#[test]
fn a_commit_in_flight_outlives_an_expiry_issued_after_it() {
    let log = vec![batch_at(0, &[committed("g", 0, 5), committed("g", 1, 7)])];
    let mut shard = loaded_from(&log, 2);
    let commit_write = append_write(&send(&mut shard, commit(9), 1));
    let mut out = Vec::new();
    shard.expire_offsets(later(60_000), &one_minute_retention(), &mut out);
    let [(expiry_write, _)] = appends(&out)[..] else {
        panic!("one expiry write: {out:?}");
    };
    let mut out = Vec::new();
    shard.appended(commit_write, Ok(()), NOW, &mut out).unwrap();
    shard.appended(expiry_write, Ok(()), NOW, &mut out).unwrap();
    assert_eq!(
        (offset_of(&shard, 0), offset_of(&shard, 1)),
        (9, -1),
        "the partition being committed is not expired, the other is"
    );
}

#[test]
fn a_new_group_entry_is_told_apart_from_one_the_shard_holds() {
    let log = vec![batch_at(
        0,
        &[
            committed("g", 0, 5),
            group_record("h", Some(one_member("m"))),
        ],
    )];
    let shard = loaded_from(&log, 2);
    assert_eq!(shard.group_entries(), 2);
    let named = |group: &str| match commit(1) {
        GroupsRequest::OffsetCommit(mut args) => {
            args.group = group.to_owned();
            GroupsRequest::OffsetCommit(args)
        }
        _ => unreachable!(),
    };
    assert!(!shard.adds_group_entry(&named("g")));
    assert!(shard.adds_group_entry(&named("h")), "h has no offsets yet");
    assert!(shard.adds_group_entry(&named("new")));
    let join = |group: &str| {
        let mut args = crate::group::tests::join_args("", &["range"]);
        args.group = group.to_owned();
        GroupsRequest::Join(args)
    };
    assert!(!shard.adds_group_entry(&join("h")));
    assert!(shard.adds_group_entry(&join("g")), "g has offsets only");
}

/// A shard that loaded group `h` Stable with the one member `m`.
fn loaded_with_member() -> Shard<u32> {
    let mut out = Vec::new();
    let mut shard: Shard<u32> = Shard::new(0, TERM, Offset(1), 1, SESSION_MS, NOW, &mut out);
    let batch = batch_at(0, &[group_record("h", Some(one_member("m")))]);
    shard.fetched(&read(batch), NOW, &mut out).unwrap();
    assert_eq!(shard.groups["h"].state(), GroupState::Stable);
    shard
}

fn leave_m() -> GroupsRequest {
    GroupsRequest::Leave(crate::messages::groups::LeaveGroupArgs {
        group: "h".to_owned(),
        members: vec![("m".to_owned(), None)],
    })
}

/// The write among a departure's outputs (timers come with it).
fn empty_group_write(out: &[ShardOut<u32>]) -> u64 {
    out.iter()
        .find_map(|o| match o {
            ShardOut::Append { write, .. } => Some(*write),
            _ => None,
        })
        .expect("the Empty group's record")
}

fn left_code(out: &[ShardOut<u32>]) -> Option<(u32, ErrorCode)> {
    out.iter().find_map(|o| match o {
        ShardOut::Answer(w, GroupsReply::Left(left)) => Some((*w, left.error_code)),
        _ => None,
    })
}

/// The last member's LeaveGroup is answered only once the Empty group's record is written:
/// acknowledged, a restart cannot bring the member back; a write that fails answers the
/// client's code (and the shard is dropped, so every waiter hears).
#[test]
fn the_last_member_s_leave_is_answered_after_the_empty_group_is_written() {
    let mut shard = loaded_with_member();
    let out = send(&mut shard, leave_m(), 5);
    assert_eq!(left_code(&out), None, "answered before the write: {out:?}");
    let write = empty_group_write(&out);
    let mut acked = Vec::new();
    shard.appended(write, Ok(()), NOW, &mut acked).unwrap();
    assert_eq!(left_code(&acked), Some((5, ErrorCode::NONE)));
    assert_eq!(shard.groups["h"].state(), GroupState::Empty);

    let mut shard = loaded_with_member();
    let out = send(&mut shard, leave_m(), 6);
    let write = empty_group_write(&out);
    let mut failed = Vec::new();
    let outcome = Err(ErrorCode::REQUEST_TIMED_OUT);
    assert!(shard.appended(write, outcome, NOW, &mut failed).is_err());
    shard.abandon(NOW, &mut failed);
    let (w, code) = left_code(&failed).expect("the leave is answered");
    assert_eq!(w, 6);
    assert_ne!(code, ErrorCode::NONE);
}

/// OffsetDelete writes tombstones only for committed partitions, once each: a request naming
/// a partition twice and one never committed writes one tombstone, and a request naming only
/// partitions never committed is answered at once with nothing written.
#[test]
fn offset_delete_writes_one_tombstone_per_committed_partition_and_none_for_the_rest() {
    use crate::messages::groups::{OffsetDeleteArgs, OffsetDeleteResult};
    let log = vec![batch_at(0, &[committed("g", 0, 5)])];
    let mut shard = loaded_from(&log, 1);
    let offset_delete = |partitions: Vec<TopicPartition>| {
        GroupsRequest::OffsetDelete(OffsetDeleteArgs {
            group: "g".to_owned(),
            partitions,
        })
    };
    let out = send(&mut shard, offset_delete(vec![tp(3)]), 1);
    let answered = OffsetDeleteResult {
        error_code: ErrorCode::NONE,
        partitions: vec![(tp(3), ErrorCode::NONE)],
    };
    assert_eq!(
        out,
        [ShardOut::Answer(1, GroupsReply::OffsetsDeleted(answered))]
    );
    let out = send(&mut shard, offset_delete(vec![tp(0), tp(3), tp(0)]), 2);
    let batches = appends(&out);
    assert_eq!(batches.len(), 1, "{out:?}");
    let tombstones: Vec<_> = (crate::storage::batch::records(&batches[0].1))
        .map(|r| r.unwrap().value.is_none())
        .collect();
    assert_eq!(tombstones, [true], "one tombstone, for t-0");
}

/// DeleteGroups and OffsetDelete of a group with offsets only: each writes tombstones, and
/// only their acknowledgement removes the offsets and answers the client.
#[test]
fn deletes_remove_offsets_and_answer_only_once_acknowledged() {
    use crate::messages::groups::{DeleteGroupsArgs, OffsetDeleteArgs, OffsetDeleteResult};
    let log = vec![batch_at(0, &[committed("g", 0, 5), committed("g", 1, 7)])];
    let mut shard = loaded_from(&log, 2);
    let offset_delete = GroupsRequest::OffsetDelete(OffsetDeleteArgs {
        group: "g".to_owned(),
        partitions: vec![tp(1)],
    });
    let write = append_write(&send(&mut shard, offset_delete, 1));
    assert_eq!(offset_of(&shard, 1), 7, "nothing removed before the ack");
    let mut out = Vec::new();
    shard.appended(write, Ok(()), NOW, &mut out).unwrap();
    let answered = OffsetDeleteResult {
        error_code: ErrorCode::NONE,
        partitions: vec![(tp(1), ErrorCode::NONE)],
    };
    assert_eq!(
        out,
        [ShardOut::Answer(1, GroupsReply::OffsetsDeleted(answered))]
    );
    assert_eq!((offset_of(&shard, 0), offset_of(&shard, 1)), (5, -1));

    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".to_owned()],
    });
    let write = append_write(&send(&mut shard, delete, 2));
    assert!(
        shard.offsets.has_offsets("g"),
        "nothing removed before the ack"
    );
    let mut out = Vec::new();
    shard.appended(write, Ok(()), NOW, &mut out).unwrap();
    let answered = vec![("g".to_owned(), ErrorCode::NONE)];
    assert_eq!(out, [ShardOut::Answer(2, GroupsReply::Deleted(answered))]);
    assert!(!shard.offsets.has_offsets("g"));
}

/// The JoinGroup answers among `out` to `w`: their error codes.
fn join_codes(out: &[ShardOut<u32>], w: u32) -> Vec<ErrorCode> {
    (out.iter())
        .filter_map(|o| match o {
            ShardOut::Answer(to, GroupsReply::Joined(r)) if *to == w => Some(r.error_code),
            _ => None,
        })
        .collect()
}

/// DeleteGroups of an Empty classic group makes it Dead (a JoinGroup meanwhile is refused with
/// COORDINATOR_NOT_AVAILABLE); once the tombstone is acknowledged the group is gone, and a
/// JoinGroup of that id starts a new group.
#[test]
fn a_deleted_classic_group_is_gone_once_acknowledged_and_a_join_starts_it_anew() {
    use crate::group::tests::join_args;
    use crate::messages::groups::DeleteGroupsArgs;
    let record = group_record("g", Some(an_empty_consumer_group()));
    let mut shard = loaded_from(&[batch_at(0, &[record])], 1);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".to_owned()],
    });
    let write = append_write(&send(&mut shard, delete, 1));
    let out = send(
        &mut shard,
        GroupsRequest::Join(join_args("", &["range"])),
        2,
    );
    assert_eq!(join_codes(&out, 2), [ErrorCode::COORDINATOR_NOT_AVAILABLE]);
    let mut out = Vec::new();
    shard.appended(write, Ok(()), NOW, &mut out).unwrap();
    let answered = vec![("g".to_owned(), ErrorCode::NONE)];
    assert_eq!(out, [ShardOut::Answer(1, GroupsReply::Deleted(answered))]);
    assert_eq!(shard.group_entries(), 0);
    let out = send(
        &mut shard,
        GroupsRequest::Join(join_args("", &["range"])),
        3,
    );
    assert!(join_codes(&out, 3).is_empty(), "parked: {out:?}");
    assert_eq!(shard.groups["g"].members().len(), 1);
}

/// A group whose id is too long for a record key (a flexible JoinGroup can carry one): its
/// records cannot be written, and when retention's tombstone for it cannot be encoded either
/// the group is given back its Empty state rather than left Dead.
#[test]
fn a_retention_tombstone_that_cannot_be_encoded_gives_the_group_back_its_empty_state() {
    use crate::group::tests::join_args;
    use crate::messages::groups::LeaveGroupArgs;
    let mut shard = loaded();
    let long = "g".repeat(40_000);
    let mut join = join_args("", &["range"]);
    join.group = long.clone();
    send(&mut shard, GroupsRequest::Join(join), 1);
    let member = (shard.groups[&long].members().keys().next().cloned()).expect("joined");
    let leave = GroupsRequest::Leave(LeaveGroupArgs {
        group: long.clone(),
        members: vec![(member, None)],
    });
    send(&mut shard, leave, 2);
    // The initial delay ends with no member left: Empty, its record not encodable.
    let mut out = Vec::new();
    shard.timer(later(3_000), &long, GroupTimer::Rebalance, &mut out);
    assert!(appends(&out).is_empty(), "{out:?}");
    assert_eq!(shard.describe(&long).state, "Empty");
    let mut out = Vec::new();
    shard.expire_offsets(later(3_600_000), &one_minute_retention(), &mut out);
    assert!(appends(&out).is_empty(), "{out:?}");
    let described = shard.describe(&long);
    assert_eq!(
        (described.error_code, described.state.as_str()),
        (ErrorCode::NONE, "Empty")
    );
}

/// An expiry of some of an Empty group's offsets acknowledged while the group's deletion is
/// being written leaves the group Dead until that deletion is acknowledged: a JoinGroup
/// meanwhile is refused with COORDINATOR_NOT_AVAILABLE.
#[test]
fn an_offset_expiry_acknowledged_during_a_deletion_leaves_the_group_dead_until_it_is_done() {
    use crate::group::tests::join_args;
    use crate::messages::groups::DeleteGroupsArgs;
    let mut explicit = committed("g", 0, 5);
    if let OffsetsRecord::Offset { value: Some(v), .. } = &mut explicit {
        v.expire_timestamp_ms = Some(NOW.unix_ms + 1_000);
    }
    let record = group_record("g", Some(an_empty_consumer_group()));
    let log = [batch_at(0, &[record, explicit, committed("g", 1, 7)])];
    let mut shard = loaded_from(&log, 3);
    let mut out = Vec::new();
    shard.expire_offsets(later(2_000), &one_minute_retention(), &mut out);
    let expiring = append_write(&out);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".to_owned()],
    });
    let deleting = append_write(&send(&mut shard, delete, 1));
    let mut out = Vec::new();
    shard.appended(expiring, Ok(()), NOW, &mut out).unwrap();
    let out = send(
        &mut shard,
        GroupsRequest::Join(join_args("", &["range"])),
        2,
    );
    assert_eq!(join_codes(&out, 2), [ErrorCode::COORDINATOR_NOT_AVAILABLE]);
    let mut out = Vec::new();
    shard.appended(deleting, Ok(()), NOW, &mut out).unwrap();
    let answered = vec![("g".to_owned(), ErrorCode::NONE)];
    assert_eq!(out, [ShardOut::Answer(1, GroupsReply::Deleted(answered))]);
    assert_eq!(shard.group_entries(), 0);
}

/// OffsetDelete of a classic group whose deletion is being written: the group is Dead, so
/// GROUP_ID_NOT_FOUND, and nothing more is written.
#[test]
fn offset_delete_of_a_group_being_deleted_is_group_id_not_found() {
    use crate::messages::groups::{DeleteGroupsArgs, OffsetDeleteArgs, OffsetDeleteResult};
    let record = group_record("g", Some(an_empty_consumer_group()));
    let log = [batch_at(0, &[record, committed("g", 0, 5)])];
    let mut shard = loaded_from(&log, 2);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".to_owned()],
    });
    append_write(&send(&mut shard, delete, 1));
    let offset_delete = GroupsRequest::OffsetDelete(OffsetDeleteArgs {
        group: "g".to_owned(),
        partitions: vec![tp(0)],
    });
    let out = send(&mut shard, offset_delete, 2);
    let refused = OffsetDeleteResult {
        error_code: ErrorCode::GROUP_ID_NOT_FOUND,
        partitions: Vec::new(),
    };
    assert_eq!(
        out,
        [ShardOut::Answer(2, GroupsReply::OffsetsDeleted(refused))]
    );
}

/// `g`'s commit of `t-partition` at `offset`, as a record.
fn offset_record(partition: i32, offset: i64) -> OffsetsRecord {
    OffsetsRecord::Offset {
        group: "g".to_owned(),
        tp: tp(partition),
        value: Some(OffsetValue {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp_ms: NOW.unix_ms,
            expire_timestamp_ms: None,
        }),
    }
}

/// `producer_id`'s transactional batch of `records` at `base`, as TxnOffsetCommit writes it.
fn txn_batch_at(base: i64, producer_id: i64, records: &[OffsetsRecord]) -> Vec<u8> {
    let then = AfterWrite::<u32>::TxnCommit {
        waiter: 0,
        group: "g".to_owned(),
        producer_id,
        producer_epoch: 0,
        results: Vec::new(),
        offsets: Vec::new(),
        commit_timestamp_ms: NOW.unix_ms,
    };
    let mut batch = encode(records, &then, NOW.unix_ms).unwrap();
    set_base_offset(&mut batch, base).unwrap();
    batch
}

fn marker_at(base: i64, producer_id: i64, commit: bool) -> Vec<u8> {
    use crate::storage::marker::{build_marker, Marker};
    let marker = Marker {
        commit,
        coordinator_epoch: 0,
    };
    let mut batch = build_marker(producer_id, 0, marker, NOW.unix_ms);
    set_base_offset(&mut batch, base).unwrap();
    batch
}

/// A load replays a transaction's commits as pending until its marker: a COMMIT applies them
/// in log order, an ABORT drops them, one with no marker yet stays pending (stable fetches
/// are told UNSTABLE_OFFSET_COMMIT) until the marker's acknowledgement past the load's end;
/// one below it was the load's.
#[test]
fn a_load_keeps_transactional_commits_pending_until_their_markers() {
    let mut log = batch_at(0, &[offset_record(0, 5)]);
    log.extend(txn_batch_at(1, 7, &[offset_record(0, 9)]));
    log.extend(txn_batch_at(2, 8, &[offset_record(1, 3)]));
    log.extend(txn_batch_at(3, 9, &[offset_record(2, 4)]));
    log.extend(marker_at(4, 7, true));
    log.extend(marker_at(5, 9, false));
    let mut out = Vec::new();
    let mut shard = Shard::new(0, TERM, Offset(6), 1, SESSION_MS, NOW, &mut out);
    assert!(matches!(out.as_slice(), [ShardOut::Read { .. }]));
    // A marker acknowledged while the load runs, past its end: applied once it is done.
    shard.txn_completed(8, true, Offset(6));
    let mut out = Vec::new();
    shard.fetched(&read(log), NOW, &mut out).unwrap();
    assert!(!shard.is_loading());
    assert_eq!(offset_of(&shard, 0), 9, "committed by its marker");
    assert_eq!(
        offset_of(&shard, 1),
        3,
        "committed by the marker past the load"
    );
    assert_eq!(offset_of(&shard, 2), -1, "aborted");

    // Pending: no marker in the log.
    let mut log = batch_at(0, &[offset_record(0, 5)]);
    log.extend(txn_batch_at(1, 7, &[offset_record(0, 9)]));
    let mut out = Vec::new();
    let mut shard = Shard::new(0, TERM, Offset(2), 1, SESSION_MS, NOW, &mut out);
    shard.fetched(&read(log), NOW, &mut out).unwrap();
    assert_eq!(offset_of(&shard, 0), 5);
    let stable = shard.fetch_offsets("g", Some(&[tp(0)]), true);
    assert_eq!(stable.partitions[0].2, ErrorCode::UNSTABLE_OFFSET_COMMIT);
    shard.txn_completed(7, true, Offset(1));
    assert_eq!(
        offset_of(&shard, 0),
        5,
        "a marker below the load's end was the load's"
    );
    shard.txn_completed(7, true, Offset(2));
    assert_eq!(offset_of(&shard, 0), 9);
}

/// TxnOffsetCommit writes its offsets as the producer's transactional batch and answers once
/// it is acknowledged; the producer's fenced epoch refused by the partition is answered as
/// such and the shard stays.
#[test]
fn a_transactional_commit_is_written_as_its_producers_batch() {
    use crate::messages::groups::TxnOffsetCommitArgs;
    use crate::storage::batch::BatchHeader;
    let mut shard = loaded();
    let request = |epoch| {
        GroupsRequest::TxnOffsetCommit(TxnOffsetCommitArgs {
            transactional_id: "tx".to_owned(),
            group: "g".to_owned(),
            producer_id: crate::types::ProducerId(7),
            producer_epoch: epoch,
            generation: -1,
            member_id: String::new(),
            instance_id: None,
            offsets: vec![(
                tp(0),
                CommittedOffset {
                    offset: Offset(9),
                    leader_epoch: LeaderEpoch(-1),
                    metadata: None,
                },
            )],
        })
    };
    let out = send(&mut shard, request(2), 1);
    let [ShardOut::Append { write, batch }] = out.as_slice() else {
        panic!("{out:?}");
    };
    let header = BatchHeader::parse(batch).unwrap();
    assert_eq!((header.producer_id, header.producer_epoch), (7, 2));
    assert!(header.is_transactional() && !header.is_control());
    let mut out = Vec::new();
    shard.appended(*write, Ok(()), NOW, &mut out).unwrap();
    assert_eq!(committed_code(&out[0]), (1, ErrorCode::NONE));
    assert_eq!(offset_of(&shard, 0), -1, "pending");
    shard.txn_completed(7, true, Offset(10));
    assert_eq!(offset_of(&shard, 0), 9);

    let out = send(&mut shard, request(1), 2);
    let write = append_write(&out);
    let mut out = Vec::new();
    let refused = Err(ErrorCode::INVALID_PRODUCER_EPOCH);
    assert!(
        shard.appended(write, refused, NOW, &mut out).is_ok(),
        "the shard stays"
    );
    assert_eq!(
        committed_code(&out[0]),
        (2, ErrorCode::INVALID_PRODUCER_EPOCH)
    );
}
