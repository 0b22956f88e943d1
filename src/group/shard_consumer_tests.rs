//! The shard's consumer groups fed by hand: a heartbeat's records go out as one Append and its
//! answer only after the acknowledgement, answers keep request order, a failed write answers
//! the client's code, and a load rebuilds the group from the records at the same epochs.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::group::consumer::tests::join;
use crate::messages::groups::{ConsumerHeartbeatArgs, GroupsRequest, LeaderTerm};
use crate::messages::partitions::FetchPartitionResult;
use crate::storage::batch::set_base_offset;
use crate::types::{LeaderEpoch, Offset, TopicPartition};

const TERM: LeaderTerm = LeaderTerm {
    epoch: LeaderEpoch::INITIAL,
    replica: 7,
};
const NOW: Clock = Clock {
    mono_ms: 1_000,
    unix_ms: 1_700_000_000_000,
};
const TOPIC: [u8; 16] = [9; 16];
/// `group.consumer.session.timeout.ms` of the shards here (not the default 45 s).
const SESSION_MS: u64 = 6_000;

fn beat(member: &str, epoch: i32) -> ConsumerHeartbeatArgs {
    ConsumerHeartbeatArgs {
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        owned: None,
        ..join(member)
    }
}

fn send(shard: &mut Shard<u32>, args: ConsumerHeartbeatArgs, w: u32) -> Vec<ShardOut<u32>> {
    let call = ConsumerHeartbeatCall {
        args,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        topics: vec![("t".into(), TOPIC, 4)],
        assign_member_id: false,
    };
    request(shard, GroupsRequest::ConsumerHeartbeat(call), w)
}

/// One request to the shard, at `NOW` with the default settings: what it put out.
fn request(shard: &mut Shard<u32>, request: GroupsRequest, w: u32) -> Vec<ShardOut<u32>> {
    let mut out = Vec::new();
    let mut rng = SmallRng::seed_from_u64(1);
    let settings = GroupSettings::default();
    shard.request(NOW, &settings, &mut rng, request, w, &mut out);
    out
}

fn loaded() -> Shard<u32> {
    let mut out = Vec::new();
    Shard::new(0, TERM, Offset(0), 1, SESSION_MS, NOW, &mut out)
}

/// The Append among `out`: (write, batch).
fn append(out: &[ShardOut<u32>]) -> (u64, Vec<u8>) {
    let appends: Vec<_> = (out.iter())
        .filter_map(|o| match o {
            ShardOut::Append { write, batch } => Some((*write, batch.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(appends.len(), 1, "{out:?}");
    appends[0].clone()
}

fn answers(out: &[ShardOut<u32>]) -> Vec<(u32, ConsumerHeartbeatResult)> {
    (out.iter())
        .filter_map(|o| match o {
            ShardOut::Answer(w, GroupsReply::ConsumerHeartbeat(r)) => Some((*w, r.clone())),
            _ => None,
        })
        .collect()
}

fn acked(shard: &mut Shard<u32>, write: u64) -> Vec<ShardOut<u32>> {
    let mut out = Vec::new();
    shard.appended(write, Ok(()), NOW, &mut out).unwrap();
    out
}

/// A new shard loaded from `log` (batches from offset 0 to `log_end`): it and what the load
/// put out.
fn replayed(log: Vec<u8>, log_end: Offset) -> (Shard<u32>, Vec<ShardOut<u32>>) {
    let mut out = Vec::new();
    let mut shard: Shard<u32> = Shard::new(0, TERM, log_end, 2, SESSION_MS, NOW, &mut out);
    let read = FetchPartitionResult {
        tp: TopicPartition {
            topic: crate::messages::OFFSETS_TOPIC.to_owned(),
            partition: 0,
        },
        error_code: ErrorCode::NONE,
        high_watermark: log_end,
        last_stable_offset: log_end,
        log_start_offset: Offset(0),
        records: log,
        aborted: None,
    };
    let mut out = Vec::new();
    shard.fetched(&read, NOW, &mut out).unwrap();
    assert!(!shard.is_loading());
    (shard, out)
}

#[test]
fn a_join_is_answered_after_its_records_are_acknowledged_and_answers_keep_order() {
    let mut shard = loaded();
    let out = send(&mut shard, join("a"), 1);
    assert!(
        answers(&out).is_empty(),
        "answered before the write: {out:?}"
    );
    let (write, _) = append(&out);
    // A refused heartbeat writes nothing, but waits for the join's write before it.
    let refused = send(&mut shard, beat("nobody", 3), 2);
    assert!(answers(&refused).is_empty(), "{refused:?}");
    let out = acked(&mut shard, write);
    let got = answers(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].0, got[0].1.error_code, got[0].1.member_epoch),
        (1, ErrorCode::NONE, 1)
    );
    let assigned: Vec<i32> = got[0].1.assignment.as_ref().unwrap()[0].1.clone();
    assert_eq!(assigned, vec![0, 1, 2, 3]);
    assert_eq!(
        (got[1].0, got[1].1.error_code),
        (2, ErrorCode::UNKNOWN_MEMBER_ID)
    );
    // Nothing in flight: a no-op heartbeat answers at once.
    let out = send(&mut shard, beat("a", 1), 3);
    assert_eq!(answers(&out)[0].1.member_epoch, 1);
}

#[test]
fn a_failed_write_answers_the_clients_code() {
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    let mut out = Vec::new();
    let failed = shard.appended(write, Err(ErrorCode::NOT_LEADER_OR_FOLLOWER), NOW, &mut out);
    assert!(failed.is_err(), "a failed write ends the shard");
    shard.abandon(NOW, &mut out);
    let got = answers(&out);
    assert_eq!(got.len(), 1);
    // Leadership lost: the client looks for the coordinator again.
    assert_eq!(
        (got[0].0, got[0].1.error_code),
        (1, ErrorCode::NOT_COORDINATOR)
    );
}

#[test]
fn a_load_rebuilds_the_group_at_the_same_epochs_and_a_heartbeat_goes_on() {
    let mut shard = loaded();
    let (first, b0) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, first);
    let (second, b1) = append(&send(&mut shard, join("b"), 2));
    acked(&mut shard, second);
    let before = shard.describe_consumer("g");
    assert_eq!((before.group_epoch, before.members.len()), (2, 2));

    // The two batches as the log holds them, replayed by a new shard.
    let mut log = b0.clone();
    set_base_offset(&mut log, 0).unwrap();
    let records_in_first = crate::storage::batch::records(&b0).count() as i64;
    let mut second_batch = b1.clone();
    set_base_offset(&mut second_batch, records_in_first).unwrap();
    log.extend_from_slice(&second_batch);
    let log_end = Offset(records_in_first + crate::storage::batch::records(&b1).count() as i64);
    let (mut again, out) = replayed(log, log_end);
    let wakes: Vec<u64> = (out.iter())
        .filter_map(|o| match o {
            ShardOut::Wake {
                timer: GroupTimer::Consumer,
                at_mono_ms,
                ..
            } => Some(*at_mono_ms),
            _ => None,
        })
        .collect();
    // Armed for the configured session: with a longer one a member that is gone for good
    // would hold its partitions from the others that long after a restart.
    assert_eq!(
        wakes,
        [NOW.mono_ms + SESSION_MS],
        "the restored group's timer is armed: {out:?}"
    );
    let mut after = again.describe_consumer("g");
    after.assignor = before.assignor.clone(); // not a record: reported once it assigns again
    assert_eq!(after, before);

    // b's heartbeat at its epoch is accepted as it was, and starts no new epoch.
    let b_epoch = before
        .members
        .iter()
        .find(|m| m.member_id == "b")
        .unwrap()
        .member_epoch;
    let out = send(&mut again, beat("b", b_epoch), 3);
    let got = answers(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(
        (got[0].1.error_code, got[0].1.member_epoch),
        (ErrorCode::NONE, b_epoch)
    );
    assert_eq!(again.describe_consumer("g").group_epoch, 2);
}

/// A regex member's pattern is in its member record: a load gives it back (describe shows it)
/// and the restored member goes on at its epoch. A pattern that does not compile writes
/// nothing and makes no group.
#[test]
fn a_regex_members_pattern_is_written_and_a_load_gives_it_back() {
    let mut shard = loaded();
    let bad = ConsumerHeartbeatArgs {
        subscribed_topic_regex: Some("t(".into()),
        ..join("x")
    };
    let out = send(&mut shard, bad, 1);
    assert!(
        !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
        "{out:?}"
    );
    assert_eq!(
        answers(&out)[0].1.error_code,
        ErrorCode::INVALID_REGULAR_EXPRESSION
    );
    assert!(!shard.is_consumer_group("g"));

    let rx = ConsumerHeartbeatArgs {
        subscribed_topic_names: Some(Vec::new()),
        subscribed_topic_regex: Some("(^t.*)".into()),
        ..join("a")
    };
    let out = send(&mut shard, rx, 2);
    let (write, b0) = append(&out);
    acked(&mut shard, write);
    // The pattern is matched from the group's next heartbeat on (a new epoch).
    let (write, b1) = append(&send(&mut shard, beat("a", 1), 3));
    let got = answers(&acked(&mut shard, write));
    assert_eq!(got[0].1.member_epoch, 2);
    assert_eq!(got[0].1.assignment.as_ref().unwrap()[0].1, vec![0, 1, 2, 3]);
    let before = shard.describe_consumer("g");
    assert_eq!(
        before.members[0].subscribed_topic_regex.as_deref(),
        Some("(^t.*)")
    );

    let mut log = b0.clone();
    set_base_offset(&mut log, 0).unwrap();
    let in_first = crate::storage::batch::records(&b0).count() as i64;
    let mut second = b1.clone();
    set_base_offset(&mut second, in_first).unwrap();
    log.extend_from_slice(&second);
    let log_end = Offset(in_first + crate::storage::batch::records(&b1).count() as i64);
    let (mut again, _) = replayed(log, log_end);
    let mut after = again.describe_consumer("g");
    after.assignor = before.assignor.clone();
    assert_eq!(after, before);
    let out = send(&mut again, beat("a", 2), 4);
    let got = answers(&out);
    assert_eq!(
        (got[0].1.error_code, got[0].1.member_epoch),
        (ErrorCode::NONE, 2)
    );
    assert_eq!(again.describe_consumer("g").group_epoch, 2);
}

/// A field the group's records cannot hold (an i16-length string) is refused before the group
/// changes: nothing is written, no group is made.
#[test]
fn a_member_id_too_long_for_the_records_is_refused_and_nothing_changes() {
    let mut shard = loaded();
    let out = send(&mut shard, join(&"m".repeat(40_000)), 1);
    let got = answers(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(got[0].1.error_code, ErrorCode::INVALID_REQUEST);
    assert!(
        !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
        "{out:?}"
    );
    assert!(shard.consumer.is_empty());
}

/// DeleteGroups of a consumer-protocol group with members: NON_EMPTY_GROUP, nothing written.
#[test]
fn delete_groups_refuses_a_consumer_group_with_members() {
    use crate::messages::groups::DeleteGroupsArgs;
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".into()],
    });
    let out = request(&mut shard, delete, 2);
    let deleted: Vec<_> = (out.iter())
        .filter_map(|o| match o {
            ShardOut::Answer(2, GroupsReply::Deleted(d)) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted,
        vec![vec![("g".to_string(), ErrorCode::NON_EMPTY_GROUP)]]
    );
    assert!(!out.iter().any(|o| matches!(o, ShardOut::Append { .. })));
}

/// A heartbeat refused by its checks (an unknown assignor) on the id of an Empty classic group
/// leaves that group in place: nothing written, no tombstone.
#[test]
fn a_refused_heartbeat_leaves_the_empty_classic_group_it_would_have_replaced() {
    use crate::group::shard::tests::{
        an_empty_consumer_group, batch_at, group_record, loaded_from,
    };
    let record = group_record("g", Some(an_empty_consumer_group()));
    let mut shard = loaded_from(&[batch_at(0, &[record])], 1);
    assert!(shard.groups.contains_key("g"));
    let refused = ConsumerHeartbeatArgs {
        server_assignor: Some("no-such-assignor".into()),
        ..join("a")
    };
    let out = send(&mut shard, refused, 1);
    let got = answers(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(got[0].1.error_code, ErrorCode::UNSUPPORTED_ASSIGNOR);
    assert!(
        !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
        "{out:?}"
    );
    assert!(shard.groups.contains_key("g"), "the classic group stays");
    assert!(shard.consumer.is_empty());
}

/// A v0 join comes without a member id and the coordinator makes one (Kafka: a random UUID):
/// each joiner gets its own, and the answer carries it.
#[test]
fn a_v0_join_without_a_member_id_gets_a_fresh_uuid() {
    let mut shard = loaded();
    // One generator for both joins, as the actor's.
    let mut rng = SmallRng::seed_from_u64(1);
    let mut ids = Vec::new();
    for w in 1..=2 {
        let call = ConsumerHeartbeatCall {
            args: join(""),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            topics: vec![("t".into(), TOPIC, 4)],
            assign_member_id: true,
        };
        let request = GroupsRequest::ConsumerHeartbeat(call);
        let mut out = Vec::new();
        let settings = GroupSettings::default();
        shard.request(NOW, &settings, &mut rng, request, w, &mut out);
        let (write, _) = append(&out);
        let got = answers(&acked(&mut shard, write));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.error_code, ErrorCode::NONE);
        let id = got[0].1.member_id.clone().expect("the id made");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(shard.describe_consumer("g").members.len(), 2);
}

/// A ConsumerGroupHeartbeat on a classic group's id converts it only when it is a join
/// (epoch 0) and the classic group is Empty (Kafka's online upgrade). A join to a classic
/// group with members, or a later-epoch heartbeat to an Empty one, is GROUP_ID_NOT_FOUND and
/// leaves the classic group as it was.
#[test]
fn only_a_join_to_an_empty_classic_group_converts_it() {
    use crate::group::shard::tests::{
        an_empty_consumer_group, batch_at, group_record, loaded_from, one_member,
    };
    let live = group_record("live", Some(one_member("m")));
    let empty = group_record("g", Some(an_empty_consumer_group()));
    let mut shard = loaded_from(&[batch_at(0, &[live, empty])], 2);
    let to_live = ConsumerHeartbeatArgs {
        group: "live".into(),
        ..join("a")
    };
    for (w, args) in [(1, to_live), (2, beat("a", 3))] {
        let group = args.group.clone();
        let out = send(&mut shard, args, w);
        let got = answers(&out);
        assert_eq!(got.len(), 1, "{out:?}");
        assert_eq!(
            got[0].1.error_code,
            ErrorCode::GROUP_ID_NOT_FOUND,
            "{group}"
        );
        assert!(
            !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
            "{out:?}"
        );
        assert!(shard.groups.contains_key(&group), "{group} stays classic");
        assert!(!shard.consumer.contains_key(&group), "{group}");
    }
    assert_eq!(shard.groups["live"].members().len(), 1);
    let out = send(&mut shard, join("a"), 3);
    append(&out);
    assert!(!shard.groups.contains_key("g"), "converted");
    assert!(shard.consumer.contains_key("g"));
}

/// A consumer group is an entry of the node's `GROUPS_PER_NODE_MAX` like a classic one: a
/// heartbeat of a new group id adds one, a heartbeat of a known group (or one converting an
/// Empty classic group) does not.
#[test]
fn a_new_consumer_group_counts_against_the_node_s_group_bound() {
    let mut shard = loaded();
    let call = |group: &str| {
        let mut args = join("a");
        args.group = group.to_owned();
        GroupsRequest::ConsumerHeartbeat(ConsumerHeartbeatCall {
            args,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            topics: Vec::new(),
            assign_member_id: false,
        })
    };
    let group = join("a").group;
    assert!(shard.adds_group_entry(&call(&group)));
    assert_eq!(shard.group_entries(), 0);
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    assert_eq!(shard.group_entries(), 1);
    assert!(!shard.adds_group_entry(&call(&group)));
    assert!(shard.adds_group_entry(&call("another")));
    // A leave adds nothing, and a group whose members all left still counts until
    // DeleteGroups or retention deletes it.
    let mut leave = call("another");
    if let GroupsRequest::ConsumerHeartbeat(c) = &mut leave {
        c.args.member_epoch = -1;
    }
    assert!(!shard.adds_group_entry(&leave));
    let (write, _) = append(&send(&mut shard, beat("a", -1), 2));
    acked(&mut shard, write);
    assert_eq!(shard.group_entries(), 1);
    assert!(!shard.adds_group_entry(&call(&group)));
}

fn deleted_codes(out: &[ShardOut<u32>], w: u32) -> Vec<Vec<(String, ErrorCode)>> {
    (out.iter())
        .filter_map(|o| match o {
            ShardOut::Answer(to, GroupsReply::Deleted(d)) if *to == w => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn admin_commit(offset: i64) -> GroupsRequest {
    use crate::messages::groups::OffsetCommitArgs;
    GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: join("a").group,
        generation: -1,
        member_id: String::new(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            TopicPartition {
                topic: "t".into(),
                partition: 0,
            },
            crate::messages::groups::CommittedOffset {
                offset: Offset(offset),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    })
}

/// The keys and null-ness of every record of `batch`, decoded.
fn record_kinds(batch: &[u8]) -> Vec<(String, bool)> {
    use crate::group::records::consumer::decode_consumer_key;
    use crate::group::records::{decode_key, OffsetsKey};
    (crate::storage::batch::records(batch))
        .map(|r| {
            let r = r.unwrap();
            let key = r.key.unwrap();
            let kind = match decode_key(key).unwrap() {
                OffsetsKey::Offset { .. } => "offset".to_owned(),
                OffsetsKey::Group { .. } => "group".to_owned(),
                OffsetsKey::Other(_) => format!("{:?}", decode_consumer_key(key).unwrap().unwrap())
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned(),
            };
            (kind, r.value.is_none())
        })
        .collect()
}

/// DeleteGroups of a consumer group whose members left: its commits and every record of it
/// get tombstones (the group epoch's last); while they are written the group takes no
/// heartbeat or commit; once acknowledged it is gone, and a load of the log forgets it.
#[test]
fn delete_groups_of_an_empty_consumer_group_tombstones_it_and_a_load_forgets_it() {
    use crate::messages::groups::DeleteGroupsArgs;
    let mut shard = loaded();
    let mut log = Vec::new();
    let mut next = 0i64;
    let mut logged = |batch: &[u8], log: &mut Vec<u8>| {
        let mut batch = batch.to_vec();
        set_base_offset(&mut batch, next).unwrap();
        next += crate::storage::batch::records(&batch).count() as i64;
        log.extend_from_slice(&batch);
    };
    let (write, batch) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    logged(&batch, &mut log);
    let (write, batch) = append(&send(&mut shard, beat("a", -1), 2));
    acked(&mut shard, write);
    logged(&batch, &mut log);
    let (write, batch) = append(&request(&mut shard, admin_commit(5), 3));
    acked(&mut shard, write);
    logged(&batch, &mut log);

    let delete = || {
        GroupsRequest::Delete(DeleteGroupsArgs {
            groups: vec![join("a").group],
        })
    };
    let out = request(&mut shard, delete(), 4);
    assert!(
        deleted_codes(&out, 4).is_empty(),
        "answered before the write"
    );
    let (write, batch) = append(&out);
    let kinds = record_kinds(&batch);
    assert!(kinds.iter().all(|(_, tombstone)| *tombstone), "{kinds:?}");
    assert_eq!(kinds[0].0, "offset", "{kinds:?}");
    assert_eq!(
        kinds.last().unwrap().0,
        "Metadata",
        "the group epoch goes last: {kinds:?}"
    );
    assert!(
        kinds.iter().any(|(k, _)| k == "TargetMetadata"),
        "{kinds:?}"
    );
    // While the tombstones are written: no heartbeat, commit or second deletion.
    let beat_out = send(&mut shard, join("b"), 5);
    assert!(!beat_out
        .iter()
        .any(|o| matches!(o, ShardOut::Append { .. })));
    let commit_out = request(&mut shard, admin_commit(6), 6);
    assert!(!commit_out
        .iter()
        .any(|o| matches!(o, ShardOut::Append { .. })));
    assert_eq!(
        deleted_codes(&request(&mut shard, delete(), 7), 7),
        vec![vec![(join("a").group, ErrorCode::GROUP_ID_NOT_FOUND)]]
    );
    let out = acked(&mut shard, write);
    assert_eq!(
        deleted_codes(&out, 4),
        vec![vec![(join("a").group, ErrorCode::NONE)]]
    );
    assert!(shard.consumer.is_empty() && shard.group_entries() == 0);
    let refused = answers(&out);
    assert_eq!(
        refused.first().map(|(w, r)| (*w, r.error_code)),
        Some((5, ErrorCode::COORDINATOR_NOT_AVAILABLE)),
        "{out:?}"
    );
    logged(&batch, &mut log);

    // The log replayed: no group, no commit.
    let log_end = Offset(next);
    let (mut again, _) = replayed(log, log_end);
    assert!(again.consumer.is_empty() && again.group_entries() == 0);
    // A new member starts a new group of that name.
    let (write, _) = append(&send(&mut again, join("b"), 8));
    assert_eq!(
        answers(&acked(&mut again, write))[0].1.error_code,
        ErrorCode::NONE
    );
}

/// Retention deletes a consumer group whose members left and whose offsets expired: its
/// records get tombstones and, once they are acknowledged, the group is gone.
#[test]
fn retention_deletes_an_empty_consumer_group_without_offsets() {
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let settings = GroupSettings::default();
    let mut out = Vec::new();
    shard.expire_offsets(NOW, &settings, &mut out);
    assert!(out.is_empty(), "a group with a member stays: {out:?}");
    let (write, _) = append(&send(&mut shard, beat("a", -1), 2));
    acked(&mut shard, write);
    let mut out = Vec::new();
    shard.expire_offsets(NOW, &settings, &mut out);
    let (write, batch) = append(&out);
    let kinds = record_kinds(&batch);
    assert!(kinds.iter().all(|(_, tombstone)| *tombstone), "{kinds:?}");
    assert_eq!(kinds.last().unwrap().0, "Metadata", "{kinds:?}");
    // Not twice while the first is written.
    let mut again = Vec::new();
    shard.expire_offsets(NOW, &settings, &mut again);
    assert!(again.is_empty(), "{again:?}");
    acked(&mut shard, write);
    assert!(shard.consumer.is_empty() && shard.group_entries() == 0);
}

/// A commit still being written when DeleteGroups comes (its member left meanwhile, which
/// empties the group at once) gets a tombstone too: the log then deletes it as memory does.
#[test]
fn delete_groups_tombstones_a_commit_still_in_flight() {
    use crate::messages::groups::{CommittedOffset, DeleteGroupsArgs, OffsetCommitArgs};
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let commit = GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: join("a").group,
        generation: 1,
        member_id: "a".into(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            TopicPartition {
                topic: "t".into(),
                partition: 3,
            },
            CommittedOffset {
                offset: Offset(9),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    });
    let (committing, _) = append(&request(&mut shard, commit, 2));
    let (leaving, _) = append(&send(&mut shard, beat("a", -1), 3));
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec![join("a").group],
    });
    let (deleting, batch) = append(&request(&mut shard, delete, 4));
    let kinds = record_kinds(&batch);
    assert_eq!(kinds[0], ("offset".to_owned(), true), "{kinds:?}");
    for write in [committing, leaving, deleting] {
        acked(&mut shard, write);
    }
    assert!(shard.consumer.is_empty() && shard.group_entries() == 0);
}

/// The one JoinGroup answer among `out` to `w`: its error code.
fn join_code(out: &[ShardOut<u32>], w: u32) -> Option<ErrorCode> {
    let codes: Vec<_> = (out.iter())
        .filter_map(|o| match o {
            ShardOut::Answer(to, GroupsReply::Joined(r)) if *to == w => Some(r.error_code),
            _ => None,
        })
        .collect();
    assert!(codes.len() <= 1, "{out:?}");
    codes.first().copied()
}

/// A classic JoinGroup naming a consumer group is INCONSISTENT_GROUP_PROTOCOL (no online
/// migration); while the group's deletion is written it is COORDINATOR_NOT_AVAILABLE, and once
/// the deletion is acknowledged a classic group of that name starts.
#[test]
fn a_classic_join_waits_for_a_consumer_groups_deletion_and_then_starts_a_classic_group() {
    use crate::messages::groups::DeleteGroupsArgs;
    let mut shard = loaded();
    let classic = || GroupsRequest::Join(crate::group::tests::join_args("", &["range"]));
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let out = request(&mut shard, classic(), 2);
    assert_eq!(
        join_code(&out, 2),
        Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL)
    );
    assert!(!shard.groups.contains_key("g"));
    let (write, _) = append(&send(&mut shard, beat("a", -1), 3));
    acked(&mut shard, write);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".into()],
    });
    let (deleting, _) = append(&request(&mut shard, delete, 4));
    let out = request(&mut shard, classic(), 5);
    assert_eq!(
        join_code(&out, 5),
        Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
    );
    acked(&mut shard, deleting);
    let out = request(&mut shard, classic(), 6);
    assert_eq!(join_code(&out, 6), None, "parked for the initial delay");
    assert_eq!(shard.groups["g"].members().len(), 1);
}

/// A consumer group's timer fences the members past their session deadline and writes the
/// change; a firing before any deadline writes nothing and fences no one.
#[test]
fn a_consumer_groups_timer_fences_a_silent_member_and_an_early_firing_writes_nothing() {
    let mut shard = loaded();
    let out = send(&mut shard, join("a"), 1);
    let deadline = (out.iter())
        .find_map(|o| match o {
            ShardOut::Wake {
                timer: GroupTimer::Consumer,
                at_mono_ms,
                ..
            } => Some(*at_mono_ms),
            _ => None,
        })
        .expect("the group's timer armed");
    let (write, _) = append(&out);
    acked(&mut shard, write);
    let settings = GroupSettings::default();
    let at = |mono_ms| Clock {
        mono_ms,
        unix_ms: NOW.unix_ms,
    };
    let mut out = Vec::new();
    shard.consumer_timer(at(deadline - 1), &settings, "g", &mut out);
    assert!(
        !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
        "{out:?}"
    );
    assert_eq!(shard.describe_consumer("g").members.len(), 1);
    let mut out = Vec::new();
    shard.consumer_timer(at(deadline), &settings, "g", &mut out);
    let (write, batch) = append(&out);
    assert!(
        record_kinds(&batch).iter().any(|(_, tombstone)| *tombstone),
        "the member's records deleted"
    );
    acked(&mut shard, write);
    let described = shard.describe_consumer("g");
    assert!(described.members.is_empty(), "{described:?}");
    // The fenced member's next heartbeat is refused.
    let got = answers(&send(&mut shard, beat("a", 1), 2));
    assert_eq!(got[0].1.error_code, ErrorCode::UNKNOWN_MEMBER_ID);
}

/// ListGroups lists a consumer group unless a state or type filter (case-insensitive) leaves
/// it out.
#[test]
fn list_groups_keeps_a_consumer_group_only_when_both_filters_do() {
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let state = shard.describe_consumer("g").state;
    let listed = |states: &[&str], types: &[&str]| {
        let filter = ListGroupsArgs {
            states: states.iter().map(|s| s.to_string()).collect(),
            types: types.iter().map(|t| t.to_string()).collect(),
        };
        let mut rows = Vec::new();
        shard.list(&filter, &mut rows).expect("loaded");
        rows.iter()
            .map(|r| (r.group.clone(), r.group_type.clone()))
            .collect::<Vec<_>>()
    };
    let g = vec![("g".to_owned(), "consumer".to_owned())];
    assert_eq!(listed(&[], &[]), g);
    assert_eq!(listed(&[], &["Consumer"]), g);
    assert_eq!(listed(&[&state.to_uppercase()], &[]), g);
    assert_eq!(listed(&[], &["classic"]), []);
    assert_eq!(listed(&["Dead"], &[]), []);
    assert_eq!(listed(&[&state], &["classic"]), []);
}

/// DescribeGroups describes classic groups only: a consumer group is GROUP_ID_NOT_FOUND in
/// state Dead with Kafka's message.
#[test]
fn describe_groups_of_a_consumer_group_says_it_is_not_a_classic_group() {
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let described = shard.describe("g");
    assert_eq!(
        (described.error_code, described.state.as_str()),
        (ErrorCode::GROUP_ID_NOT_FOUND, "Dead")
    );
    assert_eq!(
        described.error_message.as_deref(),
        Some("Group g is not a classic group.")
    );
    assert!(described.members.is_empty());
}

/// An OffsetFetch v9 naming a member of a consumer group is checked against the member's
/// epoch (Kafka: STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID); one naming no member is not.
#[test]
fn an_offset_fetch_naming_a_consumer_groups_member_is_checked_against_its_epoch() {
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let fetch = |member: Option<(&str, i32)>| {
        let member = member.map(|(id, epoch)| (Some(id.to_owned()), epoch));
        shard.fetch_allowed("g", member.as_ref())
    };
    assert_eq!(fetch(Some(("a", 1))), Ok(()));
    assert_eq!(fetch(Some(("a", 0))), Err(ErrorCode::STALE_MEMBER_EPOCH));
    assert_eq!(fetch(Some(("b", 1))), Err(ErrorCode::UNKNOWN_MEMBER_ID));
    assert_eq!(fetch(None), Ok(()));
}

/// OffsetDelete of a consumer group: a partition of a subscribed topic is refused with
/// GROUP_SUBSCRIBED_TO_TOPIC; while the group's deletion is written the group is gone
/// (GROUP_ID_NOT_FOUND) and nothing more is written.
#[test]
fn offset_delete_of_a_consumer_group_refuses_subscribed_topics_and_a_group_being_deleted() {
    use crate::messages::groups::{
        CommittedOffset, DeleteGroupsArgs, OffsetCommitArgs, OffsetDeleteArgs,
    };
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let t3 = TopicPartition {
        topic: "t".into(),
        partition: 3,
    };
    let commit = GroupsRequest::OffsetCommit(OffsetCommitArgs {
        group: "g".into(),
        generation: 1,
        member_id: "a".into(),
        instance_id: None,
        retention_ms: -1,
        offsets: vec![(
            t3.clone(),
            CommittedOffset {
                offset: Offset(9),
                leader_epoch: LeaderEpoch(-1),
                metadata: None,
            },
        )],
        api_version: 9,
    });
    let (write, _) = append(&request(&mut shard, commit, 2));
    acked(&mut shard, write);
    let offset_delete = || {
        GroupsRequest::OffsetDelete(OffsetDeleteArgs {
            group: "g".into(),
            partitions: vec![t3.clone()],
        })
    };
    let deleted = |out: &[ShardOut<u32>], w: u32| {
        let replies: Vec<_> = (out.iter())
            .filter_map(|o| match o {
                ShardOut::Answer(to, GroupsReply::OffsetsDeleted(r)) if *to == w => Some(r.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(replies.len(), 1, "{out:?}");
        assert!(
            !out.iter().any(|o| matches!(o, ShardOut::Append { .. })),
            "{out:?}"
        );
        replies[0].clone()
    };
    let r = deleted(&request(&mut shard, offset_delete(), 3), 3);
    assert_eq!(r.error_code, ErrorCode::NONE);
    assert_eq!(
        r.partitions,
        [(t3.clone(), ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)]
    );
    let (write, _) = append(&send(&mut shard, beat("a", -1), 4));
    acked(&mut shard, write);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".into()],
    });
    append(&request(&mut shard, delete, 5));
    let r = deleted(&request(&mut shard, offset_delete(), 6), 6);
    assert_eq!(
        (r.error_code, r.partitions.len()),
        (ErrorCode::GROUP_ID_NOT_FOUND, 0)
    );
}

/// A consumer group started while the deletion of a simple group (commits only) of that name
/// is written is not what that deletion deletes: it stays once the deletion is acknowledged.
#[test]
fn a_consumer_group_started_during_a_simple_groups_deletion_survives_it() {
    use crate::messages::groups::DeleteGroupsArgs;
    let mut shard = loaded();
    let (write, _) = append(&request(&mut shard, admin_commit(5), 1));
    acked(&mut shard, write);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec![join("a").group],
    });
    let (deleting, _) = append(&request(&mut shard, delete, 2));
    let (joining, _) = append(&send(&mut shard, join("a"), 3));
    assert_eq!(
        deleted_codes(&acked(&mut shard, deleting), 2),
        vec![vec![(join("a").group, ErrorCode::NONE)]]
    );
    let got = answers(&acked(&mut shard, joining));
    assert_eq!(
        got.iter()
            .map(|(w, r)| (*w, r.error_code))
            .collect::<Vec<_>>(),
        [(3, ErrorCode::NONE)]
    );
    assert!(shard.is_consumer_group("g"));
    assert_eq!(shard.describe_consumer("g").members.len(), 1);
}

/// Only a v0 join gets a member id made by the coordinator: from v1 the client makes its own,
/// and a join without one is INVALID_REQUEST; a v0 join that names an id keeps it.
#[test]
fn only_a_v0_join_without_a_member_id_gets_one_made() {
    let mut shard = loaded();
    let out = send(&mut shard, join(""), 1);
    let got = answers(&out);
    assert_eq!(got.len(), 1, "{out:?}");
    assert_eq!(got[0].1.error_code, ErrorCode::INVALID_REQUEST);
    assert!(!shard.is_consumer_group("g"));
    let call = ConsumerHeartbeatCall {
        args: join("mine"),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        topics: vec![("t".into(), TOPIC, 4)],
        assign_member_id: true,
    };
    let (write, _) = append(&request(
        &mut shard,
        GroupsRequest::ConsumerHeartbeat(call),
        2,
    ));
    let got = answers(&acked(&mut shard, write));
    assert_eq!(got[0].1.member_id.as_deref(), Some("mine"));
}

/// A consumer group whose deletion is being written is described as not found, as it is once
/// the deletion is acknowledged.
#[test]
fn a_consumer_group_being_deleted_is_described_as_not_found() {
    use crate::messages::groups::DeleteGroupsArgs;
    let mut shard = loaded();
    let (write, _) = append(&send(&mut shard, join("a"), 1));
    acked(&mut shard, write);
    let (write, _) = append(&send(&mut shard, beat("a", -1), 2));
    acked(&mut shard, write);
    let delete = GroupsRequest::Delete(DeleteGroupsArgs {
        groups: vec!["g".into()],
    });
    let (deleting, _) = append(&request(&mut shard, delete, 3));
    for done in [false, true] {
        if done {
            acked(&mut shard, deleting);
        }
        let described = shard.describe_consumer("g");
        assert_eq!(
            (described.error_code, described.state.as_str()),
            (ErrorCode::GROUP_ID_NOT_FOUND, "Dead"),
            "acknowledged: {done}"
        );
        assert_eq!(
            described.error_message.as_deref(),
            Some("Group g not found.")
        );
    }
}

/// Answers keep request order across a refused heartbeat parked behind a write: a later
/// join's write does not take the parked answer's place, and every request is answered once.
#[test]
fn a_refused_heartbeat_parked_between_two_writes_is_answered_between_them() {
    let mut shard = loaded();
    let (first, _) = append(&send(&mut shard, join("a"), 1));
    let refused = send(&mut shard, beat("nobody", 3), 2);
    assert!(answers(&refused).is_empty(), "{refused:?}");
    let (second, _) = append(&send(&mut shard, join("b"), 3));
    let got = answers(&acked(&mut shard, first));
    let codes: Vec<_> = got.iter().map(|(w, r)| (*w, r.error_code)).collect();
    assert_eq!(
        codes,
        [(1, ErrorCode::NONE), (2, ErrorCode::UNKNOWN_MEMBER_ID)]
    );
    let got = answers(&acked(&mut shard, second));
    let codes: Vec<_> = got.iter().map(|(w, r)| (*w, r.error_code)).collect();
    assert_eq!(codes, [(3, ErrorCode::NONE)]);
}
