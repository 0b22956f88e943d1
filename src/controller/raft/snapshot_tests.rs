//! Unit tests of snapshots in the Raft core (compaction, InstallSnapshot on both sides, an
//! Append that reaches into a snapshot) and in the node (a save compacts the files; an install
//! waits for its job and loads the state machine). The model checker covers them under faults.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::core::{HardState, RaftConfig, RaftCore, Role, Snapshot};
use super::msg::{Entry, Payload, RaftMsg, SnapshotMeta};
use super::node::{NodeOut, RaftNode};
use crate::storage::mem::MemStorage;
use crate::storage::Storage;
use crate::types::NodeId;

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(7)
}

fn n(id: u64) -> NodeId {
    NodeId(id)
}

fn entry(term: u64, byte: u8) -> Entry {
    Entry {
        term,
        payload: Payload::Command(vec![byte]),
    }
}

fn voters(count: u64) -> Vec<NodeId> {
    (1..=count).map(NodeId).collect()
}

/// Node 1 of three, leader of term 2 with four entries of its own term all committed.
fn leader_with_four_committed(r: &mut SmallRng) -> RaftCore {
    let hard = HardState {
        term: 1,
        voted_for: None,
    };
    let mut core = RaftCore::new(n(1), &voters(3), RaftConfig::default(), hard, vec![], 0, r);
    let now_ms = core.next_deadline_ms();
    core.tick(now_ms, r);
    for peer in [2, 3] {
        let granted = RaftMsg::VoteReply {
            term: 2,
            pre_vote: true,
            granted: true,
        };
        core.step(now_ms, n(peer), granted, r);
    }
    let vote = RaftMsg::VoteReply {
        term: 2,
        pre_vote: false,
        granted: true,
    };
    core.step(now_ms, n(2), vote, r);
    assert_eq!(core.role(), Role::Leader);
    for byte in 0..3 {
        core.propose(vec![byte]).unwrap();
    }
    core.take_ready();
    core.persisted(4, 2);
    let ack = RaftMsg::AppendReply {
        term: 2,
        success: true,
        match_index: 4,
        next_hint: 5,
    };
    core.step(now_ms, n(2), ack, r);
    assert_eq!(core.commit_index(), 4);
    core.take_ready();
    core
}

#[test]
fn compaction_keeps_the_log_after_the_snapshot_and_refuses_what_is_not_committed() {
    let mut r = rng();
    let mut core = leader_with_four_committed(&mut r);
    core.propose(vec![9]).unwrap();
    assert!(
        !core.compact(3, Arc::from(vec![1])),
        "refused while a write waits in a Ready"
    );
    core.take_ready();
    assert!(!core.compact(5, Arc::from(vec![1])), "5 is not committed");
    assert!(core.compact(3, Arc::from(vec![1])));
    assert_eq!(core.first_index(), 4);
    assert_eq!(core.last_index(), 5);
    assert_eq!(
        core.term_at(3),
        Some(2),
        "the snapshot's own index keeps its term"
    );
    assert_eq!(core.term_at(2), None, "compacted away");
    assert_eq!(core.entry(4).map(|e| e.term), Some(2));
    assert!(
        !core.compact(2, Arc::from(vec![1])),
        "older than the snapshot"
    );
}

#[test]
fn a_follower_behind_the_compacted_log_gets_the_snapshot_once_an_election_timeout() {
    let mut r = rng();
    let mut core = leader_with_four_committed(&mut r);
    assert!(core.compact(4, Arc::from(b"state".to_vec())));
    // Node 3 never answered: its next index (5) is past the snapshot, so make it refuse.
    let refuse = RaftMsg::AppendReply {
        term: 2,
        success: false,
        match_index: 0,
        next_hint: 1,
    };
    core.step(10, n(3), refuse.clone(), &mut r);
    let sent = core.take_ready().messages;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].msg,
        RaftMsg::InstallSnapshot {
            term: 2,
            last_index: 4,
            last_term: 2,
            data: b"state".to_vec(),
        }
    );
    // A heartbeat soon after does not send it again…
    let heartbeat_ms = core.next_deadline_ms();
    core.tick(heartbeat_ms, &mut r);
    let again: Vec<_> = core
        .take_ready()
        .messages
        .into_iter()
        .filter(|e| e.to == n(3))
        .collect();
    assert!(again.is_empty(), "{again:?}");
    // …an answer from node 3 moves it past the snapshot, and appends follow.
    let installed = RaftMsg::AppendReply {
        term: 2,
        success: true,
        match_index: 4,
        next_hint: 5,
    };
    core.step(heartbeat_ms, n(3), installed, &mut r);
    core.propose(vec![7]).unwrap();
    let to_3: Vec<_> = core
        .take_ready()
        .messages
        .into_iter()
        .filter(|e| e.to == n(3))
        .collect();
    assert!(
        matches!(&to_3[..], [e] if matches!(&e.msg, RaftMsg::Append { prev_index: 4, prev_term: 2, entries, .. } if entries.len() == 1)),
        "{to_3:?}"
    );
}

/// Node 2 of three, following node 1 in term 3, with `log`.
fn follower(log: Vec<Entry>, r: &mut SmallRng) -> RaftCore {
    let hard = HardState {
        term: 3,
        voted_for: None,
    };
    RaftCore::new(n(2), &voters(3), RaftConfig::default(), hard, log, 0, r)
}

fn install(index: u64, term: u64) -> RaftMsg {
    RaftMsg::InstallSnapshot {
        term: 3,
        last_index: index,
        last_term: term,
        data: vec![index as u8],
    }
}

#[test]
fn an_installed_snapshot_keeps_a_log_suffix_that_agrees_with_it_and_drops_one_that_does_not() {
    let mut r = rng();
    let log = vec![entry(1, 1), entry(2, 2), entry(2, 3), entry(3, 4)];
    let mut agrees = follower(log.clone(), &mut r);
    agrees.step(5, n(1), install(2, 2), &mut r);
    let ready = agrees.take_ready();
    let installed = ready.install.expect("an install for the host");
    assert_eq!(installed.meta, SnapshotMeta { index: 2, term: 2 });
    assert_eq!(&installed.data[..], &[2]);
    assert_eq!(agrees.commit_index(), 2);
    assert_eq!(agrees.entries(), &log[2..], "entries 3 and 4 stay");
    let write = ready.log_write.expect("the kept suffix is written again");
    assert_eq!((write.keep_through, write.entries), (2, log[2..].to_vec()));
    assert!(matches!(
        ready.messages[..],
        [ref e] if e.msg == RaftMsg::AppendReply { term: 3, success: true, match_index: 2, next_hint: 3 }
    ));

    let mut disagrees = follower(log, &mut r);
    disagrees.step(5, n(1), install(3, 3), &mut r);
    let ready = disagrees.take_ready();
    assert!(ready.install.is_some());
    assert!(disagrees.entries().is_empty(), "entry 3 had term 2, not 3");
    assert_eq!(ready.log_write, None);
    assert_eq!(disagrees.last_index(), 3);
}

#[test]
fn a_snapshot_no_newer_than_the_commit_index_changes_nothing_but_is_answered() {
    let mut r = rng();
    let mut core = follower(vec![entry(3, 1), entry(3, 2)], &mut r);
    let append = RaftMsg::Append {
        term: 3,
        prev_index: 2,
        prev_term: 3,
        entries: vec![],
        leader_commit: 2,
    };
    core.step(1, n(1), append, &mut r);
    core.take_ready();
    assert_eq!(core.commit_index(), 2);
    core.step(2, n(1), install(1, 3), &mut r);
    let ready = core.take_ready();
    assert!(ready.install.is_none());
    assert_eq!(core.entries().len(), 2);
    assert_eq!(core.snapshot().meta.index, 0);
    assert!(matches!(
        ready.messages[..],
        [ref e] if matches!(e.msg, RaftMsg::AppendReply { success: true, match_index: 1, .. })
    ));
}

#[test]
fn an_append_reaching_into_the_snapshot_skips_the_entries_it_holds() {
    let mut r = rng();
    let mut core = follower(vec![], &mut r);
    core.step(1, n(1), install(3, 3), &mut r);
    core.take_ready();
    // Entries 2..=4 from prev index 1: 2 and 3 are in the snapshot, 4 is new.
    let append = RaftMsg::Append {
        term: 3,
        prev_index: 1,
        prev_term: 2,
        entries: vec![entry(2, 2), entry(3, 3), entry(3, 4)],
        leader_commit: 4,
    };
    core.step(2, n(1), append, &mut r);
    let ready = core.take_ready();
    assert_eq!(core.entries(), &[entry(3, 4)]);
    assert_eq!(core.commit_index(), 4);
    assert!(matches!(
        ready.messages[..],
        [ref e] if matches!(e.msg, RaftMsg::AppendReply { success: true, match_index: 4, .. })
    ));
    // An Append wholly inside the snapshot is answered with the snapshot's end.
    let old = RaftMsg::Append {
        term: 3,
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(1, 1)],
        leader_commit: 4,
    };
    core.step(3, n(1), old, &mut r);
    let ready = core.take_ready();
    assert!(matches!(
        ready.messages[..],
        [ref e] if matches!(e.msg, RaftMsg::AppendReply { success: true, match_index: 3, .. })
    ));
}

/// Voter `id` of `voters` opened on `storage` at `now_ms`.
fn open_node(
    storage: &Arc<dyn Storage>,
    id: u64,
    voters_count: u64,
    now_ms: u64,
    r: &mut SmallRng,
) -> (RaftNode, NodeOut) {
    let dir = Path::new("__cluster_metadata-0");
    let config = RaftConfig::default();
    RaftNode::open(
        storage.clone(),
        dir,
        n(id),
        &voters(voters_count),
        config,
        now_ms,
        r,
    )
    .unwrap()
}

#[test]
fn a_node_holds_the_install_reply_until_the_snapshot_is_durable_and_restores_from_it() {
    let mem = MemStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let mut r = rng();
    let (mut node, out) = open_node(&storage, 2, 3, 0, &mut r);
    out.persist.expect("the open syncs").run().unwrap();
    node.synced(Ok(()));
    let mut out = node.step(1, n(1), install(5, 3), &mut r);
    assert!(out.sends.is_empty(), "held until the install's job is done");
    let restored = out.restore.take().expect("the state machine loads it");
    assert_eq!(restored.meta, SnapshotMeta { index: 5, term: 3 });
    // An Append during the install's job waits in memory.
    let append = RaftMsg::Append {
        term: 3,
        prev_index: 5,
        prev_term: 3,
        entries: vec![entry(3, 6)],
        leader_commit: 6,
    };
    let during = node.step(2, n(1), append, &mut r);
    assert!(during.sends.is_empty() && during.persist.is_none());
    assert_eq!(during.committed, vec![(6, entry(3, 6))]);
    let job = out.persist.expect("the install's job");
    job.run().unwrap();
    let after = node.synced(Ok(()));
    assert!(matches!(
        after.sends[..],
        [ref e] if matches!(e.msg, RaftMsg::AppendReply { success: true, match_index: 5, .. })
    ));
    after
        .persist
        .expect("then the append's sync")
        .run()
        .unwrap();
    let last = node.synced(Ok(()));
    assert!(matches!(
        last.sends[..],
        [ref e] if matches!(e.msg, RaftMsg::AppendReply { success: true, match_index: 6, .. })
    ));
    // A restart loads the snapshot and the entry after it.
    mem.crash();
    let (again, out) = open_node(&storage, 2, 3, 9, &mut r);
    assert_eq!(
        out.restore.map(|s| s.meta),
        Some(SnapshotMeta { index: 5, term: 3 })
    );
    assert_eq!(again.core().entries(), &[entry(3, 6)]);
}

#[test]
fn a_saved_snapshot_compacts_the_log_once_its_job_is_done() {
    let mem = MemStorage::new();
    let storage: Arc<dyn Storage> = Arc::new(mem.clone());
    let mut r = rng();
    let (mut node, out) = open_node(&storage, 1, 1, 0, &mut r);
    out.persist.unwrap().run().unwrap();
    node.synced(Ok(()));
    let deadline = node.core().next_deadline_ms();
    let mut out = node.tick(deadline, &mut r);
    for byte in 0..3 {
        let (result, more) = node.propose(vec![byte]);
        result.unwrap();
        assert!(more.persist.is_none(), "one job at a time");
    }
    out.persist.take().unwrap().run().unwrap();
    let out = node.synced(Ok(()));
    out.persist.unwrap().run().unwrap();
    let out = node.synced(Ok(()));
    assert_eq!(node.core().commit_index(), 4);
    assert_eq!(
        out.committed.len() + 1,
        4,
        "the no-op was applied in the first round"
    );
    let out = node.save_snapshot(3, b"through 3".to_vec());
    assert_eq!(
        node.core().first_index(),
        1,
        "not before the snapshot is durable"
    );
    out.persist.expect("the save's job").run().unwrap();
    node.synced(Ok(()));
    assert_eq!(node.core().first_index(), 4);
    let snapshot: &Snapshot = node.core().snapshot();
    assert_eq!(snapshot.meta, SnapshotMeta { index: 3, term: 1 });
    mem.crash();
    let (again, out) = open_node(&storage, 1, 1, 9, &mut r);
    assert_eq!(&out.restore.expect("restored").data[..], b"through 3");
    assert_eq!(again.core().first_index(), 4);
    assert_eq!(again.core().last_index(), 4);
}
