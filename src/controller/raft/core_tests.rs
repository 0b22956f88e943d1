//! Unit tests of the Raft core's rules one at a time, and of the node's persist-before-send
//! rule. The model checker (`model_tests`) covers their interplay under faults.

use std::path::Path;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::core::{HardState, LogWrite, RaftConfig, RaftCore, Role};
use super::msg::{Entry, Envelope, Payload, RaftMsg};
use super::node::RaftNode;
use crate::storage::mem::MemStorage;
use crate::types::NodeId;

const T_MS: u64 = 1000;

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(1)
}

fn n(id: u64) -> NodeId {
    NodeId(id)
}

fn entry(term: u64) -> Entry {
    Entry {
        term,
        payload: Payload::Command(vec![term as u8]),
    }
}

/// Voter 1 of `voters` with `log` and `hard` state, at time 0.
fn core(voters: u64, hard: HardState, log: Vec<Entry>) -> RaftCore {
    let ids: Vec<NodeId> = (1..=voters).map(NodeId).collect();
    RaftCore::new(n(1), &ids, RaftConfig::default(), hard, log, 0, &mut rng())
}

fn term(t: u64) -> HardState {
    HardState {
        term: t,
        voted_for: None,
    }
}

fn sent(core: &mut RaftCore) -> Vec<Envelope> {
    core.take_ready().messages
}

/// Ticks at the election deadline and grants the pre-votes of `peers`: the core is then a
/// candidate (or a leader, with enough votes).
fn campaign(core: &mut RaftCore, peers: &[u64], r: &mut SmallRng) -> u64 {
    let now_ms = core.next_deadline_ms();
    core.tick(now_ms, r);
    let next = core.term() + 1;
    for &p in peers {
        core.step(
            now_ms,
            n(p),
            RaftMsg::VoteReply {
                term: next,
                pre_vote: true,
                granted: true,
            },
            r,
        );
    }
    now_ms
}

/// Campaigns, wins node 2's pre-vote and then its vote: voter 1 of three then leads. Returns
/// the time of the election.
fn elect(core: &mut RaftCore, r: &mut SmallRng) -> u64 {
    let now_ms = campaign(core, &[2], r);
    let vote = RaftMsg::VoteReply {
        term: core.term(),
        pre_vote: false,
        granted: true,
    };
    core.step(now_ms, n(2), vote, r);
    now_ms
}

#[test]
fn a_single_voter_elects_itself_and_commits_only_what_it_synced() {
    let mut core = core(1, HardState::default(), Vec::new());
    let mut r = rng();
    // A quorum of one runs at its first tick, not an election timeout later (its restore was
    // at 0 ms).
    assert_eq!(core.next_deadline_ms(), 0);
    assert_eq!(core.role(), Role::Follower, "not before a tick");
    core.tick(core.next_deadline_ms(), &mut r);
    assert_eq!((core.role(), core.term()), (Role::Leader, 1));
    let ready = core.take_ready();
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            term: 1,
            voted_for: Some(n(1))
        })
    );
    let noop = Entry {
        term: 1,
        payload: Payload::Noop,
    };
    assert_eq!(
        ready.log_write,
        Some(LogWrite {
            keep_through: 0,
            entries: vec![noop]
        })
    );
    assert_eq!(core.commit_index(), 0, "nothing is synced yet");
    assert_eq!(core.propose(b"x".to_vec()), Ok(2));
    core.persisted(1, 1);
    assert_eq!(core.commit_index(), 1);
    core.persisted(2, 7);
    assert_eq!(
        core.commit_index(),
        1,
        "a sync of other bytes than the log's counts nothing"
    );
    core.persisted(2, 1);
    assert_eq!(core.commit_index(), 2);
}

#[test]
fn a_pre_vote_raises_no_term_and_a_won_one_starts_the_election() {
    let mut core = core(3, term(4), vec![entry(2), entry(4)]);
    let mut r = rng();
    let now_ms = core.next_deadline_ms();
    core.tick(now_ms, &mut r);
    assert_eq!((core.role(), core.term()), (Role::PreCandidate, 4));
    let ready = core.take_ready();
    assert_eq!(ready.hard_state, None, "a pre-vote writes nothing");
    let ask = RaftMsg::RequestVote {
        term: 5,
        pre_vote: true,
        last_log_index: 2,
        last_log_term: 4,
    };
    let to: Vec<(NodeId, RaftMsg)> = ready.messages.into_iter().map(|e| (e.to, e.msg)).collect();
    assert_eq!(to, vec![(n(2), ask.clone()), (n(3), ask)]);
    // A refusal in the current term changes nothing; a stale grant (an older round) neither.
    core.step(
        now_ms,
        n(2),
        RaftMsg::VoteReply {
            term: 4,
            pre_vote: true,
            granted: false,
        },
        &mut r,
    );
    core.step(
        now_ms,
        n(2),
        RaftMsg::VoteReply {
            term: 4,
            pre_vote: true,
            granted: true,
        },
        &mut r,
    );
    assert_eq!((core.role(), core.term()), (Role::PreCandidate, 4));
    core.step(
        now_ms,
        n(3),
        RaftMsg::VoteReply {
            term: 5,
            pre_vote: true,
            granted: true,
        },
        &mut r,
    );
    assert_eq!((core.role(), core.term()), (Role::Candidate, 5));
    let ready = core.take_ready();
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            term: 5,
            voted_for: Some(n(1))
        })
    );
    let ask = RaftMsg::RequestVote {
        term: 5,
        pre_vote: false,
        last_log_index: 2,
        last_log_term: 4,
    };
    assert!(ready.messages.iter().all(|e| e.msg == ask) && ready.messages.len() == 2);
    // A real vote wins with a majority; the leader appends a no-op of its term at once.
    core.step(
        now_ms,
        n(2),
        RaftMsg::VoteReply {
            term: 5,
            pre_vote: false,
            granted: true,
        },
        &mut r,
    );
    assert_eq!(core.role(), Role::Leader);
    assert_eq!(
        core.entry(3),
        Some(&Entry {
            term: 5,
            payload: Payload::Noop
        })
    );
}

/// Like KRaft's candidates, a (pre-)candidate asks again, every heartbeat interval, the voters
/// that have not answered (a question lost, a voter that restarted meanwhile), and never
/// those that did, granted or not.
#[test]
fn a_candidate_asks_again_only_the_voters_that_have_not_answered() {
    let mut core = core(5, term(2), vec![entry(2)]);
    let mut r = rng();
    let heartbeat_ms = RaftConfig::default().heartbeat_interval_ms;
    let start_ms = core.next_deadline_ms();
    core.tick(start_ms, &mut r);
    assert_eq!(core.role(), Role::PreCandidate);
    assert_eq!(sent(&mut core).len(), 4, "every other voter is asked");
    // Node 2 refuses, node 3 grants: neither is asked again.
    for (from, granted) in [(2, false), (3, true)] {
        let reply = RaftMsg::VoteReply {
            term: if granted { 3 } else { 2 },
            pre_vote: true,
            granted,
        };
        core.step(start_ms, n(from), reply, &mut r);
    }
    assert_eq!(core.next_deadline_ms(), start_ms + heartbeat_ms);
    core.tick(start_ms + heartbeat_ms - 1, &mut r);
    assert!(sent(&mut core).is_empty(), "not before the interval");
    core.tick(start_ms + heartbeat_ms, &mut r);
    let asked: Vec<(NodeId, RaftMsg)> =
        sent(&mut core).into_iter().map(|e| (e.to, e.msg)).collect();
    let ask = RaftMsg::RequestVote {
        term: 3,
        pre_vote: true,
        last_log_index: 1,
        last_log_term: 2,
    };
    assert_eq!(asked, vec![(n(4), ask.clone()), (n(5), ask)]);
    // Node 4 grants the pre-vote: a majority, so the election starts and everyone is asked
    // for the real vote; node 5 then answers nothing and is asked again, alone.
    let grant = RaftMsg::VoteReply {
        term: 3,
        pre_vote: true,
        granted: true,
    };
    let at_ms = start_ms + heartbeat_ms + 1;
    core.step(at_ms, n(4), grant, &mut r);
    assert_eq!((core.role(), core.term()), (Role::Candidate, 3));
    assert_eq!(sent(&mut core).len(), 4);
    for from in [2, 3, 4] {
        let refuse = RaftMsg::VoteReply {
            term: 3,
            pre_vote: false,
            granted: false,
        };
        core.step(at_ms, n(from), refuse, &mut r);
    }
    core.tick(at_ms + heartbeat_ms, &mut r);
    let asked: Vec<NodeId> = sent(&mut core).into_iter().map(|e| e.to).collect();
    assert_eq!(asked, vec![n(5)]);
    assert_eq!(
        core.role(),
        Role::Candidate,
        "still campaigning in its term"
    );
}

#[test]
fn a_refused_pre_vote_with_a_newer_term_makes_the_pre_candidate_follow_it() {
    let mut core = core(3, term(4), Vec::new());
    let mut r = rng();
    let now_ms = core.next_deadline_ms();
    core.tick(now_ms, &mut r);
    core.step(
        now_ms,
        n(2),
        RaftMsg::VoteReply {
            term: 9,
            pre_vote: true,
            granted: false,
        },
        &mut r,
    );
    assert_eq!((core.role(), core.term()), (Role::Follower, 9));
}

#[test]
fn a_vote_goes_to_one_candidate_a_term_with_a_log_as_new_as_ours() {
    let mut core = core(3, term(2), vec![entry(1), entry(2)]);
    let mut r = rng();
    let vote = |term, last_log_index, last_log_term| RaftMsg::RequestVote {
        term,
        pre_vote: false,
        last_log_index,
        last_log_term,
    };
    let granted = |core: &mut RaftCore| match &sent(core)[..] {
        [Envelope {
            msg: RaftMsg::VoteReply { granted, .. },
            ..
        }] => *granted,
        other => panic!("{other:?}"),
    };
    // An older last term, or the same term and a shorter log: refused (the term is taken).
    core.step(0, n(2), vote(3, 5, 1), &mut r);
    assert!(!granted(&mut core));
    assert_eq!(core.term(), 3);
    core.step(0, n(2), vote(3, 1, 2), &mut r);
    assert!(!granted(&mut core));
    core.step(0, n(2), vote(3, 2, 2), &mut r);
    assert!(granted(&mut core));
    assert_eq!(
        core.take_ready().hard_state,
        None,
        "taken with the reply above"
    );
    assert_eq!(
        core.hard_state(),
        HardState {
            term: 3,
            voted_for: Some(n(2))
        }
    );
    core.step(0, n(2), vote(3, 2, 2), &mut r);
    assert!(granted(&mut core), "the same candidate again (a retry)");
    core.step(0, n(3), vote(3, 9, 3), &mut r);
    assert!(!granted(&mut core), "a second candidate in the same term");
    core.step(0, n(3), vote(2, 9, 3), &mut r);
    assert!(!granted(&mut core), "an older term");
}

#[test]
fn a_voter_in_touch_with_its_leader_refuses_to_help_depose_it() {
    let mut core = core(3, term(2), vec![entry(2)]);
    let mut r = rng();
    let heartbeat = RaftMsg::Append {
        term: 2,
        prev_index: 1,
        prev_term: 2,
        entries: Vec::new(),
        leader_commit: 1,
    };
    core.step(100, n(2), heartbeat, &mut r);
    sent(&mut core);
    let pre = RaftMsg::RequestVote {
        term: 3,
        pre_vote: true,
        last_log_index: 1,
        last_log_term: 2,
    };
    core.step(100 + T_MS - 1, n(3), pre.clone(), &mut r);
    assert!(matches!(
        &sent(&mut core)[..],
        [Envelope {
            msg: RaftMsg::VoteReply {
                granted: false,
                term: 2,
                ..
            },
            ..
        }]
    ));
    let vote = RaftMsg::RequestVote {
        term: 3,
        pre_vote: false,
        last_log_index: 1,
        last_log_term: 2,
    };
    core.step(100 + T_MS - 1, n(3), vote.clone(), &mut r);
    assert!(sent(&mut core).is_empty(), "ignored, not even answered");
    assert_eq!(core.term(), 2, "and the term is not raised");
    // Once the leader is silent for the minimum election timeout, the voter helps.
    core.step(100 + T_MS, n(3), pre, &mut r);
    assert!(matches!(
        &sent(&mut core)[..],
        [Envelope {
            msg: RaftMsg::VoteReply {
                granted: true,
                term: 3,
                ..
            },
            ..
        }]
    ));
    assert_eq!(core.term(), 2, "a pre-vote changes nothing");
    core.step(100 + T_MS, n(3), vote, &mut r);
    assert_eq!(
        core.hard_state(),
        HardState {
            term: 3,
            voted_for: Some(n(3))
        }
    );
}

#[test]
fn a_leader_that_hears_from_no_majority_steps_down() {
    let mut core = core(3, term(1), Vec::new());
    let mut r = rng();
    let start_ms = elect(&mut core, &mut r);
    assert_eq!(core.term(), 2);
    assert_eq!(core.role(), Role::Leader);
    // Node 2 answers until start + 500; node 3 never does.
    let ok = RaftMsg::AppendReply {
        term: 2,
        success: true,
        match_index: 0,
        next_hint: 1,
    };
    core.step(start_ms + 500, n(2), ok, &mut r);
    let mut now_ms = start_ms;
    while now_ms < start_ms + 500 + T_MS {
        now_ms = core.next_deadline_ms();
        core.tick(now_ms, &mut r);
        assert_eq!(
            core.role(),
            Role::Leader,
            "still heard from a majority at {now_ms}"
        );
    }
    core.tick(core.next_deadline_ms(), &mut r);
    assert_eq!(
        (core.role(), core.term(), core.leader()),
        (Role::Follower, 2, None)
    );
}

#[test]
fn a_leader_commits_an_earlier_terms_entry_only_through_one_of_its_own() {
    // Voter 1 holds an entry of term 1 nobody committed, and wins term 3.
    let mut core = core(3, term(2), vec![entry(1)]);
    let mut r = rng();
    let now_ms = elect(&mut core, &mut r);
    assert_eq!(core.term(), 3);
    assert_eq!((core.role(), core.last_index()), (Role::Leader, 2));
    core.persisted(2, 3);
    // Node 2 has only the old entry: a majority holds index 1, which is not of term 3.
    let reply = |match_index| RaftMsg::AppendReply {
        term: 3,
        success: true,
        match_index,
        next_hint: match_index + 1,
    };
    core.step(now_ms, n(2), reply(1), &mut r);
    assert_eq!(
        core.commit_index(),
        0,
        "Raft §5.4.2: not by counting replicas"
    );
    core.step(now_ms, n(2), reply(2), &mut r);
    assert_eq!(core.commit_index(), 2, "through the no-op, both commit");
}

#[test]
fn a_follower_truncates_only_a_conflicting_suffix_never_for_a_stale_append() {
    let mut core = core(3, term(2), vec![entry(1), entry(1), entry(2)]);
    let mut r = rng();
    let append = |prev_index, prev_term, entries: Vec<Entry>| RaftMsg::Append {
        term: 3,
        prev_index,
        prev_term,
        entries,
        leader_commit: 0,
    };
    // A delayed Append covering a prefix already here: nothing cut, the match is its end.
    core.step(0, n(2), append(0, 0, vec![entry(1)]), &mut r);
    let ready = core.take_ready();
    assert_eq!(ready.log_write, None);
    assert_eq!(core.last_index(), 3);
    assert!(matches!(
        ready.messages[..],
        [Envelope {
            msg: RaftMsg::AppendReply {
                success: true,
                match_index: 1,
                ..
            },
            ..
        }]
    ));
    // A conflicting entry at 2: everything from 2 is replaced.
    core.step(0, n(2), append(1, 1, vec![entry(3)]), &mut r);
    let ready = core.take_ready();
    assert_eq!(
        ready.log_write,
        Some(LogWrite {
            keep_through: 1,
            entries: vec![entry(3)]
        })
    );
    assert_eq!(core.entries(), &[entry(1), entry(3)]);
}

#[test]
fn a_refusal_hints_where_the_leader_should_try_next() {
    let mut core = core(3, term(3), vec![entry(1), entry(2), entry(2), entry(2)]);
    let mut r = rng();
    let hint = |core: &mut RaftCore| match &sent(core)[..] {
        [Envelope {
            msg:
                RaftMsg::AppendReply {
                    success: false,
                    next_hint,
                    ..
                },
            ..
        }] => *next_hint,
        other => panic!("{other:?}"),
    };
    let append = |prev_index, prev_term| RaftMsg::Append {
        term: 3,
        prev_index,
        prev_term,
        entries: vec![entry(3)],
        leader_commit: 0,
    };
    core.step(0, n(2), append(9, 3), &mut r);
    assert_eq!(hint(&mut core), 5, "past our end: from our end");
    core.step(0, n(2), append(4, 3), &mut r);
    assert_eq!(
        hint(&mut core),
        2,
        "a conflict: back over the whole conflicting term"
    );
    core.step(
        0,
        n(2),
        RaftMsg::Append {
            term: 2,
            prev_index: 0,
            prev_term: 0,
            entries: Vec::new(),
            leader_commit: 0,
        },
        &mut r,
    );
    assert!(
        matches!(
            &sent(&mut core)[..],
            [Envelope {
                msg: RaftMsg::AppendReply {
                    success: false,
                    term: 3,
                    ..
                },
                ..
            }]
        ),
        "an older leader learns the term"
    );
}

/// Found by the model checker: a refusal whose hint falls below what is known to match must
/// still move the leader back (to just past the match), or the follower stalls for good.
#[test]
fn a_leader_takes_a_hint_below_the_known_match_as_just_past_it() {
    let mut core = core(3, term(1), vec![entry(1), entry(1), entry(1)]);
    let mut r = rng();
    let now_ms = elect(&mut core, &mut r);
    assert_eq!(core.term(), 2);
    core.step(
        now_ms,
        n(3),
        RaftMsg::AppendReply {
            term: 2,
            success: true,
            match_index: 2,
            next_hint: 3,
        },
        &mut r,
    );
    sent(&mut core);
    core.step(
        now_ms,
        n(3),
        RaftMsg::AppendReply {
            term: 2,
            success: false,
            match_index: 0,
            next_hint: 1,
        },
        &mut r,
    );
    assert_eq!(
        core.followers()
            .iter()
            .find(|f| f.0 == n(3))
            .map(|f| (f.1, f.2)),
        Some((3, 2))
    );
    let resent = sent(&mut core);
    assert!(
        matches!(
            &resent[..],
            [Envelope {
                msg: RaftMsg::Append { prev_index: 2, .. },
                ..
            }]
        ),
        "{resent:?}"
    );
}

/// The node's rule: a granted vote leaves only once it is synced, and a later message (here a
/// heartbeat's answer, which writes nothing itself) waits behind it.
#[test]
fn nothing_leaves_a_node_before_the_writes_ahead_of_it_are_synced() {
    let mem = MemStorage::new();
    let mut r = rng();
    let voters = [n(1), n(2), n(3)];
    let opened = RaftNode::open(
        Arc::new(mem.clone()),
        Path::new("q"),
        n(1),
        &voters,
        RaftConfig::default(),
        0,
        &mut r,
    );
    let (mut node, out) = opened.unwrap();
    let start_job = out.persist.expect("the loaded files are synced first");
    start_job.run().unwrap();
    assert!(node.synced(Ok(())).sends.is_empty());
    let vote = RaftMsg::RequestVote {
        term: 1,
        pre_vote: false,
        last_log_index: 0,
        last_log_term: 0,
    };
    let out = node.step(0, n(2), vote, &mut r);
    assert!(out.sends.is_empty(), "the vote waits for its sync");
    assert!(out.persist.is_some(), "a job for the vote");
    let heartbeat = RaftMsg::Append {
        term: 1,
        prev_index: 0,
        prev_term: 0,
        entries: Vec::new(),
        leader_commit: 0,
    };
    let out = node.step(1, n(2), heartbeat, &mut r);
    assert!(
        out.sends.is_empty() && out.persist.is_none(),
        "behind the vote, and one job at a time"
    );
    mem.crash();
    let reloaded = RaftNode::open(
        Arc::new(mem.clone()),
        Path::new("q"),
        n(1),
        &voters,
        RaftConfig::default(),
        0,
        &mut r,
    )
    .unwrap()
    .0;
    assert_eq!(
        reloaded.core().hard_state(),
        HardState::default(),
        "not synced: the vote is gone, and it never left"
    );
    // The same run, synced this time.
    let (mut node, out) = RaftNode::open(
        Arc::new(mem.clone()),
        Path::new("q"),
        n(1),
        &voters,
        RaftConfig::default(),
        0,
        &mut r,
    )
    .unwrap();
    out.persist.unwrap().run().unwrap();
    node.synced(Ok(()));
    let vote = RaftMsg::RequestVote {
        term: 1,
        pre_vote: false,
        last_log_index: 0,
        last_log_term: 0,
    };
    let job = node.step(0, n(2), vote, &mut r).persist.expect("a job");
    let heartbeat = RaftMsg::Append {
        term: 1,
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(1)],
        leader_commit: 1,
    };
    let out = node.step(1, n(2), heartbeat, &mut r);
    assert!(out.sends.is_empty());
    // Committed (on a majority) is applied at once; only what reveals this node's log waits.
    assert_eq!(out.committed, vec![(1, entry(1))]);
    job.run().unwrap();
    let out = node.synced(Ok(()));
    let msgs: Vec<&RaftMsg> = out.sends.iter().map(|e| &e.msg).collect();
    assert!(
        matches!(msgs[..], [RaftMsg::VoteReply { granted: true, .. }]),
        "{msgs:?}"
    );
    let entry_job = out
        .persist
        .expect("the entry's job starts once the vote's ended");
    entry_job.run().unwrap();
    let out = node.synced(Ok(()));
    let msgs: Vec<&RaftMsg> = out.sends.iter().map(|e| &e.msg).collect();
    assert!(
        matches!(
            msgs[..],
            [RaftMsg::AppendReply {
                success: true,
                match_index: 1,
                ..
            }]
        ),
        "{msgs:?}"
    );
    assert!(out.committed.is_empty(), "applied once");
}

/// The leader a node names (where a proposal is redirected) is the one whose Append it took
/// in this term, itself once it wins, and nobody while it campaigns.
#[test]
fn a_node_names_the_leader_it_follows_nobody_while_it_campaigns_and_itself_once_it_wins() {
    let mut core = core(3, term(1), Vec::new());
    let mut r = rng();
    assert_eq!(core.leader(), None);
    let heartbeat = RaftMsg::Append {
        term: 1,
        prev_index: 0,
        prev_term: 0,
        entries: Vec::new(),
        leader_commit: 0,
    };
    core.step(0, n(2), heartbeat, &mut r);
    assert_eq!(core.leader(), Some(n(2)));
    assert_eq!(core.propose(b"x".to_vec()), Err(Some(n(2))));
    let now_ms = campaign(&mut core, &[3], &mut r);
    assert_eq!((core.role(), core.leader()), (Role::Candidate, None));
    core.step(
        now_ms,
        n(3),
        RaftMsg::VoteReply {
            term: 2,
            pre_vote: false,
            granted: true,
        },
        &mut r,
    );
    assert_eq!((core.role(), core.leader()), (Role::Leader, Some(n(1))));
}

/// A leader re-elected in a newer term (without this node's vote) is still the node this one
/// follows: its Append raises the term all the same, and the term is written before the
/// answer leaves.
#[test]
fn a_follower_takes_a_newer_term_from_the_leader_it_already_follows() {
    let mut core = core(3, term(2), vec![entry(2)]);
    let mut r = rng();
    let heartbeat = |term| RaftMsg::Append {
        term,
        prev_index: 1,
        prev_term: 2,
        entries: Vec::new(),
        leader_commit: 0,
    };
    core.step(0, n(2), heartbeat(2), &mut r);
    sent(&mut core);
    assert_eq!(
        (core.role(), core.term(), core.leader()),
        (Role::Follower, 2, Some(n(2)))
    );
    core.step(10, n(2), heartbeat(3), &mut r);
    let ready = core.take_ready();
    assert_eq!(ready.hard_state, Some(term(3)));
    assert!(
        matches!(
            ready.messages[..],
            [Envelope {
                msg: RaftMsg::AppendReply {
                    term: 3,
                    success: true,
                    ..
                },
                ..
            }]
        ),
        "{:?}",
        ready.messages
    );
}

/// Every message carries its sender's term; `RaftMsg::term` reads it whatever the kind.
#[test]
fn every_kind_of_message_reports_the_term_it_carries() {
    let msgs = [
        RaftMsg::RequestVote {
            term: 5,
            pre_vote: false,
            last_log_index: 1,
            last_log_term: 1,
        },
        RaftMsg::VoteReply {
            term: 6,
            pre_vote: true,
            granted: false,
        },
        RaftMsg::Append {
            term: 7,
            prev_index: 1,
            prev_term: 1,
            entries: Vec::new(),
            leader_commit: 1,
        },
        RaftMsg::AppendReply {
            term: 8,
            success: true,
            match_index: 1,
            next_hint: 2,
        },
    ];
    let terms: Vec<u64> = msgs.iter().map(RaftMsg::term).collect();
    assert_eq!(terms, [5, 6, 7, 8]);
}

/// Fail-stop: once a sync fails, the node says why and sends nothing more, not even what was
/// waiting for that sync (it may not be on disk).
#[test]
fn a_failed_sync_stops_the_node_which_says_why() {
    let mut r = rng();
    let voters = [n(1), n(2), n(3)];
    let opened = RaftNode::open(
        Arc::new(MemStorage::new()),
        Path::new("q"),
        n(1),
        &voters,
        RaftConfig::default(),
        0,
        &mut r,
    );
    let (mut node, out) = opened.unwrap();
    out.persist.unwrap().run().unwrap();
    node.synced(Ok(()));
    assert_eq!(node.failed(), None);
    let vote = RaftMsg::RequestVote {
        term: 1,
        pre_vote: false,
        last_log_index: 0,
        last_log_term: 0,
    };
    let out = node.step(0, n(2), vote, &mut r);
    assert!(out.sends.is_empty() && out.persist.is_some());
    let out = node.synced(Err("disk gone".to_owned()));
    assert_eq!(node.failed(), Some("disk gone"));
    assert!(out.sends.is_empty(), "the vote it held never leaves");
    let heartbeat = RaftMsg::Append {
        term: 1,
        prev_index: 0,
        prev_term: 0,
        entries: vec![entry(1)],
        leader_commit: 0,
    };
    let out = node.step(1, n(2), heartbeat, &mut r);
    assert!(out.sends.is_empty() && out.persist.is_none());
}

/// An observer (node 4 of voters 1..=3): it asks every voter for the log when it knows no
/// leader, never campaigns nor votes, takes the leader's Appends; the leader sends it entries
/// with every heartbeat but commits only what a majority of voters holds.
#[test]
fn an_observer_follows_the_log_and_counts_in_no_majority() {
    let mut r = rng();
    let voters: Vec<NodeId> = (1..=3).map(NodeId).collect();
    let mut observer = RaftCore::new(
        n(4),
        &voters,
        RaftConfig::default(),
        term(0),
        Vec::new(),
        0,
        &mut r,
    );
    assert!(observer.is_observer());
    // Its first tick fetches from every voter, and it asks again while nobody answers; it
    // never becomes a candidate.
    for round in 0..3 {
        let now_ms = observer.next_deadline_ms();
        observer.tick(now_ms, &mut r);
        assert_eq!(observer.role(), Role::Follower, "round {round}");
        let to: Vec<u64> = sent(&mut observer).iter().map(|e| e.to.0).collect();
        assert_eq!(to, [1, 2, 3], "round {round}");
    }
    assert_eq!(observer.term(), 0, "an observer raises no term");
    // It answers no vote request, pre-vote or real.
    for pre_vote in [true, false] {
        let ask = RaftMsg::RequestVote {
            term: 5,
            pre_vote,
            last_log_index: 9,
            last_log_term: 5,
        };
        observer.step(10_000, n(2), ask, &mut r);
        assert!(sent(&mut observer).is_empty());
        assert_eq!(observer.hard_state(), term(0));
    }

    // The leader (voter 1 of three) learns of it from its fetch and sends it what it has.
    let mut leader = core(3, term(1), vec![entry(1)]);
    let now_ms = elect(&mut leader, &mut r);
    leader.persisted(2, 2);
    let _ = sent(&mut leader);
    let fetch = RaftMsg::ObserverFetch {
        term: 0,
        last_index: 0,
        last_term: 0,
    };
    leader.step(now_ms, n(4), fetch, &mut r);
    let to_observer = sent(&mut leader);
    assert_eq!(to_observer.len(), 1);
    assert_eq!(to_observer[0].to, n(4));
    let RaftMsg::Append {
        prev_index: 0,
        ref entries,
        ..
    } = to_observer[0].msg
    else {
        panic!("an Append from the start: {to_observer:?}");
    };
    assert_eq!(entries.len(), 2, "the earlier entry and the leader's no-op");
    observer.step(now_ms, n(1), to_observer[0].msg.clone(), &mut r);
    assert_eq!(observer.leader(), Some(n(1)));
    assert_eq!(observer.last_index(), 2);
    let reply = sent(&mut observer);
    assert_eq!(reply[0].to, n(1));

    // Its answer counts for no commit: only voter 2's does.
    leader.step(now_ms, n(4), reply[0].msg.clone(), &mut r);
    assert_eq!(
        leader.commit_index(),
        0,
        "leader + observer are not a majority"
    );
    assert_eq!(leader.observers(), [(n(4), 2)]);
    let voter_reply = RaftMsg::AppendReply {
        term: leader.term(),
        success: true,
        match_index: 2,
        next_hint: 3,
    };
    leader.step(now_ms, n(2), voter_reply, &mut r);
    assert_eq!(leader.commit_index(), 2);
    // The new commit index goes at once to those that hold the whole log (voter 2 and the
    // observer), not at the next heartbeat; voter 3 learns it with the entries it lacks.
    let announced: Vec<(u64, u64)> = (sent(&mut leader).iter())
        .map(|e| match e.msg {
            RaftMsg::Append { leader_commit, .. } => (e.to.0, leader_commit),
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(announced, [(2, 2), (4, 2)]);
    // The next heartbeat goes to every voter and the observer.
    leader.tick(leader.next_deadline_ms(), &mut r);
    let heartbeats: Vec<u64> = sent(&mut leader).iter().map(|e| e.to.0).collect();
    assert_eq!(heartbeats, [2, 3, 4]);
    // An observer's newer term deposes nobody.
    let newer = RaftMsg::AppendReply {
        term: leader.term() + 5,
        success: false,
        match_index: 0,
        next_hint: 0,
    };
    leader.step(now_ms, n(4), newer, &mut r);
    assert_eq!(leader.role(), Role::Leader);
    // An observer silent for three election timeouts is forgotten (it fetches again when it
    // misses the leader); voters keep the leader in touch meanwhile.
    let until_ms = now_ms + 3 * T_MS + 200;
    let mut now_ms = leader.next_deadline_ms();
    while now_ms < until_ms {
        for voter in [2, 3] {
            let alive = RaftMsg::AppendReply {
                term: leader.term(),
                success: true,
                match_index: 2,
                next_hint: 3,
            };
            leader.step(now_ms, n(voter), alive, &mut r);
        }
        leader.tick(now_ms, &mut r);
        now_ms = leader.next_deadline_ms();
    }
    assert_eq!(leader.role(), Role::Leader);
    assert!(leader.observers().is_empty());
}

/// Only a reply that moves a follower on is answered with an append (found by the simulator,
/// seed 292: answering every reply, duplicates included, kept every append ever in flight
/// circulating, one more per heartbeat, until a voter behind after a partition caught up
/// seconds late behind ten thousand duplicates). A lost append is the heartbeat's to resend.
#[test]
fn a_reply_that_moves_nothing_sends_nothing() {
    // Voter 1 holds four entries and leads term 3; node 2 holds only the first two.
    let mut core = core(3, term(2), vec![entry(1), entry(1), entry(2), entry(2)]);
    let mut r = rng();
    let now_ms = elect(&mut core, &mut r);
    assert_eq!((core.role(), core.last_index()), (Role::Leader, 5));
    core.persisted(5, 3);
    sent(&mut core);
    let to_2 = |core: &mut RaftCore| -> Vec<u64> {
        (sent(core).into_iter())
            .filter(|e| e.to == n(2))
            .filter_map(|e| match e.msg {
                RaftMsg::Append { prev_index, .. } => Some(prev_index),
                _ => None,
            })
            .collect()
    };
    let refused = |next_hint| RaftMsg::AppendReply {
        term: 3,
        success: false,
        match_index: 0,
        next_hint,
    };
    // The first refusal moves node 2's next index back: the append from there goes out.
    core.step(now_ms, n(2), refused(3), &mut r);
    assert_eq!(to_2(&mut core), [2]);
    // The same refusal again (another append's, in flight before) moves nothing.
    core.step(now_ms, n(2), refused(3), &mut r);
    assert_eq!(to_2(&mut core), Vec::<u64>::new());
    // A refusal of an append from an earlier term of this leader's says nothing of the log.
    core.step(now_ms, n(2), refused(0), &mut r);
    assert_eq!(to_2(&mut core), Vec::<u64>::new());
    let took = |match_index| RaftMsg::AppendReply {
        term: 3,
        success: true,
        match_index,
        next_hint: match_index + 1,
    };
    // An acknowledgement that moves it on: the next append follows.
    core.step(now_ms, n(2), took(3), &mut r);
    assert_eq!(to_2(&mut core), [3]);
    // The same acknowledgement again (a duplicate's) moves nothing and sends nothing.
    core.step(now_ms, n(2), took(3), &mut r);
    assert_eq!(to_2(&mut core), Vec::<u64>::new());
    // The heartbeat resends what a lost append carried.
    core.tick(core.next_deadline_ms(), &mut r);
    assert_eq!(to_2(&mut core), [3]);
}
