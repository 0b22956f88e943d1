//! The Raft core as the broker builds it, without `cfg(test)`: there `RaftCore::planted` (the
//! hook through which the model tests plant a bug to prove their checks can fail) is a stub
//! that must say "no bug". The library's unit tests cannot see that stub (they build the
//! `cfg(test)` one), so this checks the two rules it guards in the build that ships.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rill::controller::raft::core::{HardState, RaftConfig, RaftCore, Role};
use rill::controller::raft::msg::{Entry, Envelope, Payload, RaftMsg};
use rill::types::NodeId;

fn voter_1_of_3(hard: HardState, log: Vec<Entry>, rng: &mut SmallRng) -> RaftCore {
    let voters = [NodeId(1), NodeId(2), NodeId(3)];
    RaftCore::new(NodeId(1), &voters, RaftConfig::default(), hard, log, 0, rng)
}

#[test]
fn the_shipped_core_votes_once_a_term() {
    let mut rng = SmallRng::seed_from_u64(1);
    let mut core = voter_1_of_3(HardState::default(), Vec::new(), &mut rng);
    let mut granted = Vec::new();
    for candidate in [2, 3] {
        let ask = RaftMsg::RequestVote {
            term: 1,
            pre_vote: false,
            last_log_index: 0,
            last_log_term: 0,
        };
        core.step(0, NodeId(candidate), ask, &mut rng);
        match &core.take_ready().messages[..] {
            [Envelope {
                msg: RaftMsg::VoteReply { granted: g, .. },
                ..
            }] => granted.push(*g),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        granted,
        [true, false],
        "the second candidate of term 1 is refused"
    );
}

#[test]
fn the_shipped_core_commits_an_earlier_term_s_entry_only_through_one_of_its_own() {
    let mut rng = SmallRng::seed_from_u64(1);
    let old = Entry {
        term: 1,
        payload: Payload::Command(b"x".to_vec()),
    };
    let hard = HardState {
        term: 1,
        voted_for: None,
    };
    let mut core = voter_1_of_3(hard, vec![old], &mut rng);
    // Win term 2 with node 2's pre-vote and vote.
    let now_ms = core.next_deadline_ms();
    core.tick(now_ms, &mut rng);
    for pre_vote in [true, false] {
        let grant = RaftMsg::VoteReply {
            term: 2,
            pre_vote,
            granted: true,
        };
        core.step(now_ms, NodeId(2), grant, &mut rng);
    }
    assert_eq!((core.role(), core.last_index()), (Role::Leader, 2));
    core.persisted(2, 2);
    let reply = |match_index| RaftMsg::AppendReply {
        term: 2,
        success: true,
        match_index,
        next_hint: match_index + 1,
    };
    core.step(now_ms, NodeId(2), reply(1), &mut rng);
    assert_eq!(
        core.commit_index(),
        0,
        "a majority holds entry 1, of term 1: not enough"
    );
    core.step(now_ms, NodeId(2), reply(2), &mut rng);
    assert_eq!(core.commit_index(), 2);
}
