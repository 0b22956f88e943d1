//! Issue 15: aborted transactions. A replica records each abort in its log's
//! aborted-transaction index (leader and follower alike), a `read_committed` fetch lists the
//! aborted transactions overlapping what it read, and the index survives a reopen, is
//! recorded again by the replay when a crash lost it, is rebuilt when damaged, and follows a
//! follower's truncation.

use super::*;
use crate::messages::AbortedTransaction;
use crate::storage::batch::{build_stamped_batch, ProducerStamp, TRANSACTIONAL_BIT};
use crate::storage::log::txn_index::AbortedTxn;
use crate::storage::marker::{build_marker, Marker};

const INDEX: &str = "r-0/00000000000000000000.txnindex";

fn follower() -> Role {
    Role::Follower {
        leader: Some(NodeId(2)),
        epoch: LeaderEpoch(0),
    }
}

/// `b` as the leader stored it at `offset`.
fn at(mut b: Vec<u8>, offset: i64) -> Vec<u8> {
    batch::set_base_offset(&mut b, offset).unwrap();
    batch::set_partition_leader_epoch(&mut b, 0).unwrap();
    b
}

fn txn(producer_id: i64, seq: i32, value: &[u8]) -> Vec<u8> {
    let stamp = ProducerStamp {
        producer_id,
        producer_epoch: 0,
        base_sequence: seq,
        attributes: TRANSACTIONAL_BIT,
    };
    build_stamped_batch(&[(None, Some(value))], T0_MS, stamp)
}

fn end_txn(producer_id: i64, commit: bool) -> Vec<u8> {
    let marker = Marker {
        commit,
        coordinator_epoch: 0,
    };
    build_marker(producer_id, 0, marker, T0_MS)
}

/// A fetch of `replica` from `offset` at `isolation`; the replica comes back.
fn fetched(replica: Replica, offset: i64, isolation: i8) -> (Replica, FetchPartitionResult) {
    let replicas: std::collections::BTreeMap<TopicPartition, Replica> =
        [(tp("r"), replica)].into_iter().collect();
    let PartitionsRequest::Fetch(mut request) = fetch(&[(&tp("r"), offset)], 0, 1 << 20) else {
        unreachable!()
    };
    request.isolation_level = isolation;
    let result = super::super::reads::read_fetch(&replicas, &request, &[])
        .results
        .remove(0);
    (replicas.into_values().next().unwrap(), result)
}

fn listed(producer_id: i64, first_offset: i64) -> AbortedTransaction {
    AbortedTransaction {
        producer_id: ProducerId(producer_id),
        first_offset: Offset(first_offset),
    }
}

fn close(mut replica: Replica) {
    let closing = replica.begin_close().unwrap().unwrap();
    closing.run().unwrap();
    replica.finish_close(Ok(())).result.unwrap();
}

/// Producer 7 aborts while producer 8's transaction is open: its entry's stable offset is 8's
/// first offset.
const ENTRY: AbortedTxn = AbortedTxn {
    producer_id: 7,
    first_offset: 1,
    last_offset: 3,
    last_stable_offset: 2,
};

#[test]
fn a_followers_aborts_are_indexed_listed_to_read_committed_and_survive_reopens() {
    let storage = Arc::new(MemStorage::new());
    let mut replica = open_replica(&storage, follower());
    let mut records = at(plain(b"a"), 0);
    records.extend(at(txn(7, 0, b"t7"), 1));
    records.extend(at(txn(8, 0, b"t8"), 2));
    records.extend(at(end_txn(7, false), 3));
    records.extend(at(end_txn(8, true), 4));
    replica
        .append_as_follower(&records, Offset(5), T0_MS)
        .unwrap();
    assert_eq!(replica.last_stable_offset(), Offset(5));
    assert_eq!(replica.log().aborted_between(0, 5, 10).unwrap(), [ENTRY]);

    let (replica, result) = fetched(replica, 0, 1);
    assert_eq!(result.aborted, Some(vec![listed(7, 1)]));
    assert_eq!(batch_offsets(&result.records), [0, 1, 2, 3, 4]);
    let (replica, result) = fetched(replica, 4, 1);
    assert_eq!(result.aborted, Some(vec![]), "7's marker is below offset 4");
    let (replica, result) = fetched(replica, 0, 0);
    assert_eq!(result.aborted, None, "read_uncommitted is told nothing");

    // A clean close and reopen: the index as it was.
    close(replica);
    let index_bytes = storage.durable_file(Path::new(INDEX)).expect("synced");
    let replica = open_replica(&storage, follower());
    assert_eq!(replica.log().aborted_between(0, 5, 10).unwrap(), [ENTRY]);
    close(replica);

    // A crash lost the index entry, and no snapshot is below the marker: the open's replay
    // records it again.
    let files = storage.file_names();
    for snapshot in files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".snapshot"))
    {
        storage.remove_file(snapshot).unwrap();
    }
    storage
        .open(Path::new(INDEX), false)
        .unwrap()
        .truncate(0)
        .unwrap();
    let replica = open_replica(&storage, follower());
    assert_eq!(replica.log().aborted_between(0, 5, 10).unwrap(), [ENTRY]);
    assert_eq!(
        storage.durable_file(Path::new(INDEX)),
        Some(index_bytes.clone()),
        "the open's job synced it"
    );
    close(replica);

    // A damaged index (an unknown entry version) under a snapshot past it: rebuilt by a
    // replay from below the damage (the newer snapshot is not used), written over the
    // damaged bytes.
    let snapshots = |storage: &MemStorage| {
        (storage.file_names().into_iter())
            .filter(|p| p.to_string_lossy().ends_with(".snapshot"))
            .count()
    };
    assert_eq!(snapshots(&storage), 1, "the close's, at the log end");
    let file = storage.open(Path::new(INDEX), false).unwrap();
    file.write_at(1, &[9]).unwrap();
    file.sync().unwrap();
    let replica = open_replica(&storage, follower());
    assert_eq!(snapshots(&storage), 0, "the snapshot past the damage went");
    assert_eq!(replica.log().aborted_between(0, 5, 10).unwrap(), [ENTRY]);
    assert_eq!(storage.durable_file(Path::new(INDEX)), Some(index_bytes));

    // A follower's truncation cuts the marker: 7's transaction is open again, not aborted.
    let mut replica = replica;
    replica.truncate_as_follower(Offset(3), T0_MS).unwrap();
    assert!(replica.log().aborted_between(0, 3, 10).unwrap().is_empty());
    replica.follow_high_watermark(Offset(3));
    assert_eq!(replica.last_stable_offset(), Offset(1));
}

/// The leader's ABORT marker (the coordinator's WriteMarkers) is indexed at once: the fetch
/// that reads it lists the transaction to read_committed consumers.
#[test]
fn a_leaders_abort_marker_is_listed_to_read_committed_fetches() {
    let a = tp("a");
    let mut h = Harness::with_transactional_writes(Arc::new(MemStorage::new()));
    h.ensure(&a, config(None));
    let (pid, epoch) = h.init_producer();
    let stamp = ProducerStamp {
        producer_id: pid.0,
        producer_epoch: epoch,
        base_sequence: 0,
        attributes: TRANSACTIONAL_BIT,
    };
    let batch = build_stamped_batch(&[(None, Some(b"t"))], T0_MS, stamp);
    let produced = produce_results(h.ask_until_idle(produce(1, vec![(a.clone(), batch)])));
    assert_eq!(produced[0].1.error_code, ErrorCode::NONE);
    let abort = abort_marker(&a, pid, epoch);
    let written = produce_results(h.ask_after_jobs(abort)).remove(0).1;
    assert_eq!(written.error_code, ErrorCode::NONE);
    assert_eq!(h.actor.replica(&a).unwrap().last_stable_offset(), Offset(2));
    let PartitionsRequest::Fetch(mut request) = fetch(&[(&a, 0)], 0, 1 << 20) else {
        unreachable!()
    };
    request.isolation_level = 1;
    let result = fetch_results(h.ask(PartitionsRequest::Fetch(request))).remove(0);
    assert_eq!(
        result.aborted,
        Some(vec![AbortedTransaction {
            producer_id: pid,
            first_offset: Offset(0),
        }])
    );
    assert_eq!(batch_offsets(&result.records), [0, 1]);
}

/// After DeleteRecords moved the log start past an aborted transaction and a crash, the
/// reopened replica's last stable offset is its high watermark and the abort is still
/// indexed (the replay from a snapshot below the log start: `replica`'s
/// `a_replay_from_a_snapshot_below_the_log_start_reads_the_markers_there`).
#[test]
fn an_abort_below_the_log_start_survives_a_crash() {
    let storage = Arc::new(MemStorage::new());
    let mut replica = open_replica(&storage, follower());
    let mut records = at(txn(7, 0, b"t7"), 0);
    records.extend(at(end_txn(7, false), 1));
    records.extend(at(plain(b"a"), 2));
    records.extend(at(plain(b"b"), 3));
    replica
        .append_as_follower(&records, Offset(4), T0_MS)
        .unwrap();
    replica.follow_log_start(Offset(2), T0_MS).unwrap();
    assert_eq!(replica.last_stable_offset(), Offset(4));
    let job = replica.start_sync().expect("a flush job");
    let outcome = replica.finish_sync(job.run().map_err(|e| e.to_string()));
    assert!(outcome.failed.is_empty());
    drop(replica);
    storage.crash();
    let mut replica = open_replica(&storage, follower());
    replica.follow_high_watermark(Offset(4));
    assert_eq!(replica.log().log_start_offset(), 2);
    assert_eq!(
        replica.last_stable_offset(),
        Offset(4),
        "the ABORT at 1 closed producer 7's transaction"
    );
    assert_eq!(
        replica.log().aborted_between(0, 4, 10).unwrap(),
        [AbortedTxn {
            producer_id: 7,
            first_offset: 0,
            last_offset: 1,
            last_stable_offset: 2,
        }]
    );
}

/// What one step of [`replayed_entries_are_the_live_ones`] appends: producer `0..3`'s
/// transactional batch, its COMMIT or ABORT (when it has a transaction open), or a plain batch.
#[derive(Clone, Copy, Debug)]
enum Step {
    Txn(i64),
    End(i64, bool),
    Plain,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (0i64..3).prop_map(Step::Txn),
        ((0i64..3), any::<bool>()).prop_map(|(p, commit)| Step::End(p, commit)),
        Just(Step::Plain),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The aborted-transaction entries a follower records as it appends are the ones a replay
    /// of its whole log records after its indexes and snapshots were lost: the live
    /// `TxnState::aborted_entry` and the replay's agree (stable offsets included).
    #[test]
    fn replayed_entries_are_the_live_ones(steps in proptest::collection::vec(step(), 1..40)) {
        let storage = Arc::new(MemStorage::new());
        let mut replica = open_replica(&storage, follower());
        let mut records = Vec::new();
        let mut next = 0i64;
        let mut seq = [0i32; 3];
        let mut open = [false; 3];
        for step in steps {
            let batch = match step {
                Step::Txn(p) => {
                    open[p as usize] = true;
                    seq[p as usize] += 1;
                    txn(100 + p, seq[p as usize] - 1, b"v")
                }
                Step::End(p, commit) if open[p as usize] => {
                    open[p as usize] = false;
                    end_txn(100 + p, commit)
                }
                Step::End(..) | Step::Plain => plain(b"p"),
            };
            records.extend(at(batch, next));
            next += 1;
        }
        replica.append_as_follower(&records, Offset(next), T0_MS).unwrap();
        let live = replica.log().aborted_between(0, next, 1000).unwrap();
        let job = replica.start_sync().expect("a flush job");
        replica.finish_sync(job.run().map_err(|e| e.to_string()));
        drop(replica);
        for path in storage.file_names() {
            let name = path.to_string_lossy();
            if name.ends_with(".txnindex") || name.ends_with(".snapshot") {
                storage.remove_file(&path).unwrap();
            }
        }
        let replica = open_replica(&storage, follower());
        let replayed = replica.log().aborted_between(0, next, 1000).unwrap();
        proptest::prop_assert_eq!(replayed, live);
    }
}
