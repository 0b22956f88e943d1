//! The controller quorum's checks, on what the observer saw (`workload::quorum`):
//!
//! * **Election safety**: one leader per epoch, whichever voter was asked and whenever.
//! * **One cluster**: every voter reports the same cluster id, all run long (it is named once,
//!   at the quorum's first commit, and kept in the replicated log).
//! * **Commits stay committed**: within one epoch the high watermark never goes back (the
//!   observer asks one question after the other, so its answers are ordered), and the leader of
//!   a later epoch holds every entry committed in an earlier one (leader completeness): its log
//!   end is at least any earlier epoch's high watermark.
//!
//! On the brokers every node lists (DescribeCluster, from the metadata it applied):
//! * **No phantom broker**: only the run's nodes are ever registered.
//! * **Back in service after healing** (liveness): from [`BROKERS_SETTLE_MS`] after healing on,
//!   every node lists every broker, none fenced, and every node answers at least once. A
//!   leader that fences live brokers (lost heartbeats, a wrong session) or never unfences a
//!   returning one fails here.
//!
//! On the topics every node lists (Metadata for all topics, after healing):
//! * **Brokers follow the metadata log** (liveness): from [`BROKERS_SETTLE_MS`] after healing
//!   on, every node's last answer lists the same topics with the same partition leaders, and
//!   no partition without a leader. A broker whose topics actor misses applied changes fails
//!   here.
//! * **One leader per partition epoch**: no two answers list one partition in one leader epoch
//!   with different leaders (or one with a leader, one without).
//! * **Only the leader takes writes**: each (partition, leader epoch) a broker appended client
//!   records in (recorded inside the node, `rill::faults::observe`) is not one the answers
//!   list with another leader or none.
//!
//! On the metadata every node applied, and the terms each voter led (recorded inside the node):
//! * **State machine safety**: every node's applied entries are a prefix of the others'.
//! * **Election safety, every leadership**: no two voters led in one term (a leader deposed
//!   before the observer asked anyone counts too).
//! * **A vote sent is never forgotten**: whenever a voter opens its files (a restart, a reopen
//!   after a failed write), it reads back a term past its last vote sent, or that term and
//!   that candidate (Raft persists the vote before the answer leaves; a crash in between must
//!   not let it vote again in the term).
//! * **Raft's commit rule**: a leader's commit index only ever lands on an entry of its own
//!   term (entries of earlier terms commit through one of its own, Raft §5.4.2).
//!
//! On producer ids (every InitProducerId answer the workload and the prober recorded):
//! * **No id given twice**: without a transactional id every answer is a fresh id, whichever
//!   broker gave it, so two answers with one id mean two brokers (or one, after a restart)
//!   took overlapping blocks from the quorum.

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::history::Event;

/// After healing, the cluster gets this long before every broker must be listed unfenced: a
/// restarted node recovers its logs, the quorum may elect, and a broker registers (or
/// heartbeats, every 500 ms in the simulator) and is unfenced.
pub const BROKERS_SETTLE_MS: u64 = 8_000;

pub(super) fn check_producer_ids(safety: &mut Report, events: &[(u64, Event)]) {
    let mut given: BTreeMap<i64, (u32, u64)> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::Identity {
            producer,
            producer_id,
            ..
        } = event
        else {
            continue;
        };
        if let Some((first, first_ms)) = given.insert(*producer_id, (*producer, *at_ms)) {
            safety.add(
                "producer id given twice",
                format!("producer id {producer_id} went to producer {first} (t={first_ms}ms) and to producer {producer} (t={at_ms}ms)"),
            );
        }
    }
}

pub(super) fn check_brokers(
    safety: &mut Report,
    liveness: &mut Vec<String>,
    events: &[(u64, Event)],
) {
    let healed_ms = (events.iter()).find_map(|(at, e)| matches!(e, Event::Healed).then_some(*at));
    let mut all_nodes: BTreeSet<u64> = BTreeSet::new();
    let mut answered_after: BTreeSet<u64> = BTreeSet::new();
    let mut failures = Vec::new();
    for (at_ms, event) in events {
        let Event::BrokersSeen {
            asked,
            brokers,
            nodes,
        } = event
        else {
            continue;
        };
        all_nodes.extend(nodes.iter().copied());
        for (id, _) in brokers {
            if !u64::try_from(*id).is_ok_and(|id| nodes.contains(&id)) {
                safety.add(
                    "unknown broker registered",
                    format!(
                        "broker {asked} lists broker {id} (t={at_ms}ms), not a node of the run"
                    ),
                );
            }
        }
        let Some(from_ms) = healed_ms.map(|h| h + BROKERS_SETTLE_MS) else {
            continue;
        };
        if *at_ms < from_ms {
            continue;
        }
        answered_after.insert(*asked);
        let listed: BTreeMap<i32, bool> = brokers.iter().copied().collect();
        for node in nodes {
            let id = i32::try_from(*node).unwrap_or(i32::MAX);
            match listed.get(&id) {
                Some(false) => {}
                Some(true) => failures.push(format!("broker {asked} lists broker {node} fenced at {at_ms}ms, {BROKERS_SETTLE_MS}ms or more after healing")),
                None => failures.push(format!("broker {asked} does not list broker {node} at {at_ms}ms, {BROKERS_SETTLE_MS}ms or more after healing")),
            }
        }
    }
    if healed_ms.is_some() {
        for node in all_nodes.difference(&answered_after) {
            failures.push(format!(
                "broker {node} never listed the brokers from {BROKERS_SETTLE_MS}ms after healing on"
            ));
        }
    }
    super::report_capped(liveness, failures, "broker liveness");
}

/// Brokers follow the metadata log: from [`BROKERS_SETTLE_MS`] after healing on, every
/// broker's last answer lists the same topics with the same partition leaders, none without
/// one (every broker is unfenced by then, and a partition's only replica leads it).
pub(super) fn check_topics(liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let healed_ms = (events.iter()).find_map(|(at, e)| matches!(e, Event::Healed).then_some(*at));
    let Some(from_ms) = healed_ms.map(|h| h + BROKERS_SETTLE_MS) else {
        return;
    };
    let mut last: BTreeMap<u64, &Vec<(String, Vec<i32>)>> = BTreeMap::new();
    for (at_ms, event) in events {
        if let Event::TopicsSeen { asked, topics, .. } = event {
            if *at_ms >= from_ms {
                last.insert(*asked, topics);
            }
        }
    }
    let mut failures = Vec::new();
    for (asked, topics) in &last {
        for (name, leaders) in topics.iter() {
            if leaders.iter().any(|l| *l < 0) {
                failures.push(format!("broker {asked} lists topic {name} with partitions without a leader ({leaders:?}) after settling"));
            }
        }
    }
    let mut answers = last.iter();
    if let Some((first, expected)) = answers.next() {
        for (asked, topics) in answers {
            if topics != expected {
                let names = |t: &Vec<(String, Vec<i32>)>| -> Vec<String> {
                    t.iter().map(|(n, l)| format!("{n}{l:?}")).collect()
                };
                failures.push(format!(
                    "brokers disagree on the topics after settling: broker {first} lists {:?}, broker {asked} {:?}",
                    names(expected),
                    names(topics)
                ));
            }
        }
    }
    super::report_capped(liveness, failures, "topics liveness");
}

/// Raft's state machine safety: every node's applied metadata is a prefix of the others', so
/// no two nodes applied different entries (term or bytes) at one index.
pub(super) fn check_applied_prefix(safety: &mut Report, events: &[(u64, Event)]) {
    let mut first: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    for (_, event) in events {
        let Event::MetadataApplied { node, entries } = event else {
            continue;
        };
        for &(index, term, digest) in entries {
            let (first_term, first_digest, by) =
                *first.entry(index).or_insert((term, digest, *node));
            if (first_term, first_digest) != (term, digest) {
                safety.add(
                    "two nodes applied different metadata at one index",
                    format!("index {index}: node {by} applied term {first_term} ({first_digest:016x}), node {node} term {term} ({digest:016x})"),
                );
            }
        }
    }
}

/// Raft's election safety over every leadership the voters recorded: at most one leader per
/// term.
pub(super) fn check_terms_led(safety: &mut Report, events: &[(u64, Event)]) {
    let mut leader_of: BTreeMap<u64, u64> = BTreeMap::new();
    for (_, event) in events {
        let Event::QuorumLed { node, terms } = event else {
            continue;
        };
        for term in terms {
            let first = *leader_of.entry(*term).or_insert(*node);
            if first != *node {
                safety.add(
                    "two quorum leaders in one epoch",
                    format!("epoch {term}: voters {first} and {node} both led it (recorded by the voters)"),
                );
            }
        }
    }
}

/// A vote sent is a promise: every later opening of the voter's files reads back a later
/// term, or the vote's term with the vote.
pub(super) fn check_votes_kept(safety: &mut Report, events: &[(u64, Event)]) {
    for (_, event) in events {
        let Event::QuorumOpened { node, opened } = event else {
            continue;
        };
        for (promised, term, voted_for) in opened {
            let Some((vote_term, candidate)) = promised else {
                continue;
            };
            let kept =
                *term > *vote_term || (*term == *vote_term && *voted_for == Some(*candidate));
            if !kept {
                safety.add(
                    "a vote sent was forgotten",
                    format!("voter {node} sent its vote to {candidate} in term {vote_term}, then read back term {term} with vote {voted_for:?}"),
                );
            }
        }
    }
}

/// Raft's commit rule (§5.4.2): a leader counts replicas only to commit an entry of its own
/// term.
pub(super) fn check_commit_rule(safety: &mut Report, events: &[(u64, Event)]) {
    for (_, event) in events {
        let Event::LeaderCommits { node, commits } = event else {
            continue;
        };
        for (term, index, entry_term) in commits {
            if entry_term != term {
                safety.add(
                    "a leader committed an earlier term's entry by counting replicas",
                    format!("leader {node} in term {term} moved its commit index to {index}, an entry of term {entry_term}"),
                );
            }
        }
    }
}

/// A partition's leader epoch names one leadership (KIP-101/279: followers truncate by it,
/// clients are fenced by it): no two answers may list one topic's partition in one epoch with
/// different leaders (or one with a leader and one without).
pub(super) fn check_partition_epochs(safety: &mut Report, events: &[(u64, Event)]) {
    let mut leader_of: BTreeMap<(&str, i32, i32), (i32, u64, u64)> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::TopicsSeen { asked, epochs, .. } = event else {
            continue;
        };
        for (topic_id, partition, epoch, leader, _) in epochs {
            let key = (topic_id.as_str(), *partition, *epoch);
            let (first, first_at, first_by) =
                *leader_of.entry(key).or_insert((*leader, *at_ms, *asked));
            if first != *leader {
                safety.add(
                    "two partition leaders in one leader epoch",
                    format!("topic {topic_id} partition {partition} epoch {epoch}: leader {first} (t={first_at}ms, broker {first_by}) and {leader} (t={at_ms}ms, broker {asked})"),
                );
            }
        }
    }
}

/// A topic's replicas start empty: each broker's first open of a partition of a topic id
/// finds no record (a topic created again under an earlier one's name, on a broker that missed
/// the deletion, must not open that one's directory).
pub(super) fn check_new_replicas_empty(safety: &mut Report, events: &[(u64, Event)]) {
    for (_, event) in events {
        let Event::FirstOpens { node, opens } = event else {
            continue;
        };
        for (topic, id, partition, log_end) in opens {
            if *log_end != 0 {
                safety.add(
                    "a new topic opened an earlier topic's records",
                    format!("broker {node} first opened {topic}-{partition} of topic id {id} with {log_end} records in it"),
                );
            }
        }
    }
}

/// Topic deletion removes the topic's directories on every broker, the ones down at the
/// time included (once back): none is left a bound after the final read.
pub(super) fn check_no_strays(liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    for (_, event) in events {
        if let Event::StrayDirs { node, dirs } = event {
            liveness.push(format!(
                "broker {node} still holds directories of deleted topics: {}",
                dirs.join(", ")
            ));
        }
    }
}

/// No broker takes writes for a partition in a leader epoch it does not lead: each (topic,
/// partition, epoch) a broker appended client records in must not be one the metadata
/// answers list with another leader, or with none. (An epoch no answer listed is not judged:
/// the observer samples every 200 ms.)
pub(super) fn check_appends_led(safety: &mut Report, events: &[(u64, Event)]) {
    // Keyed by topic id: a name may be reused by a topic created again.
    let mut leader_of: BTreeMap<(&str, i32, i32), (i32, u64, u64)> = BTreeMap::new();
    for (at_ms, event) in events {
        if let Event::TopicsSeen { asked, epochs, .. } = event {
            for (id, partition, epoch, leader, _) in epochs {
                let key = (id.as_str(), *partition, *epoch);
                leader_of.entry(key).or_insert((*leader, *at_ms, *asked));
            }
        }
    }
    for (_, event) in events {
        let Event::AppendedAsLeader { node, appended } = event else {
            continue;
        };
        for (topic, id, partition, epoch) in appended {
            let key = (id.as_str(), *partition, *epoch);
            let Some(&(leader, at_ms, asked)) = leader_of.get(&key) else {
                continue;
            };
            if i64::from(leader) != *node as i64 {
                safety.add(
                    "a broker took writes for a partition it did not lead",
                    format!("broker {node} appended client records to {topic}-{partition} in leader epoch {epoch}, which broker {asked} listed led by {leader} (t={at_ms}ms)"),
                );
            }
        }
    }
}

pub(super) fn check(safety: &mut Report, events: &[(u64, Event)]) {
    let mut leader_of_epoch: BTreeMap<i32, (i32, u64)> = BTreeMap::new();
    let mut first_cluster: Option<(&str, u64, u64)> = None;
    let mut last_hw: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    // Per epoch: the highest high watermark seen, and the lowest leader log end seen.
    let mut highest_hw: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    let mut lowest_end: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::QuorumSeen {
            asked,
            leader,
            epoch,
            high_watermark,
            leader_log_end,
            cluster_id,
        } = event
        else {
            continue;
        };
        let (first_leader, first_at) = *leader_of_epoch.entry(*epoch).or_insert((*leader, *at_ms));
        if first_leader != *leader {
            safety.add(
                "two quorum leaders in one epoch",
                format!("epoch {epoch}: leader {first_leader} (t={first_at}ms) and {leader} (t={at_ms}ms, asked broker {asked})"),
            );
        }
        match first_cluster {
            None => first_cluster = Some((cluster_id, *asked, *at_ms)),
            Some((first, by, first_at)) if first != cluster_id => safety.add(
                "two cluster ids",
                format!("broker {by} said {first} (t={first_at}ms), broker {asked} says {cluster_id} (t={at_ms}ms)"),
            ),
            Some(_) => {}
        }
        if let Some((before, before_at)) = last_hw.insert(*epoch, (*high_watermark, *at_ms)) {
            if *high_watermark < before {
                safety.add(
                    "quorum high watermark went back",
                    format!("epoch {epoch}: {before} (t={before_at}ms) then {high_watermark} (t={at_ms}ms, asked broker {asked})"),
                );
            }
        }
        let hw = highest_hw
            .entry(*epoch)
            .or_insert((*high_watermark, *at_ms));
        if *high_watermark > hw.0 {
            *hw = (*high_watermark, *at_ms);
        }
        let end = lowest_end
            .entry(*epoch)
            .or_insert((*leader_log_end, *at_ms));
        if *leader_log_end < end.0 {
            *end = (*leader_log_end, *at_ms);
        }
    }
    // Leader completeness, whatever the order the answers came in.
    for (epoch, (end, end_at)) in &lowest_end {
        if let Some((earlier, (hw, hw_at))) = highest_hw
            .range(..*epoch)
            .max_by_key(|(_, (hw, _))| *hw)
            .filter(|(_, (hw, _))| hw > end)
        {
            safety.add(
                "quorum leader lacks committed entries",
                format!("epoch {epoch}'s leader ends at {end} (t={end_at}ms), below epoch {earlier}'s high watermark {hw} (t={hw_at}ms)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn seen(asked: u64, leader: i32, epoch: i32, hw: i64, cluster: &str) -> Event {
        seen_ending(asked, leader, epoch, hw, hw, cluster)
    }

    fn seen_ending(asked: u64, leader: i32, epoch: i32, hw: i64, end: i64, cluster: &str) -> Event {
        Event::QuorumSeen {
            asked,
            leader,
            epoch,
            high_watermark: hw,
            leader_log_end: end,
            cluster_id: cluster.to_owned(),
        }
    }

    fn violations(events: Vec<Event>) -> Vec<String> {
        let events: Vec<(u64, Event)> = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| (i as u64, e))
            .collect();
        let mut out = Vec::new();
        let mut report = Report {
            out: &mut out,
            counts: BTreeMap::new(),
        };
        check(&mut report, &events);
        report.finish();
        out
    }

    #[test]
    fn a_failover_to_a_new_epoch_passes() {
        let ok = violations(vec![
            seen(1, 2, 1, 3, "c"),
            seen(2, 2, 1, 4, "c"),
            seen(1, 3, 2, 4, "c"),
            seen(3, 3, 2, 6, "c"),
        ]);
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn two_leaders_of_one_epoch_two_ids_and_a_falling_watermark_are_caught() {
        let two = violations(vec![seen(1, 1, 1, 2, "c"), seen(2, 2, 1, 2, "c")]);
        assert!(
            two[0].starts_with("two quorum leaders in one epoch"),
            "{two:?}"
        );
        let ids = violations(vec![seen(1, 1, 1, 2, "a"), seen(2, 1, 1, 2, "b")]);
        assert!(ids[0].starts_with("two cluster ids"), "{ids:?}");
        let back = violations(vec![seen(1, 1, 1, 5, "c"), seen(1, 1, 1, 4, "c")]);
        assert!(
            back[0].starts_with("quorum high watermark went back"),
            "{back:?}"
        );
        // Through another voter too: the observer's answers are ordered.
        let other = violations(vec![seen(1, 1, 1, 5, "c"), seen(2, 1, 1, 4, "c")]);
        assert!(
            other[0].starts_with("quorum high watermark went back"),
            "{other:?}"
        );
    }

    #[test]
    fn a_later_leader_without_an_earlier_commit_is_caught_in_any_order() {
        let lacks = violations(vec![
            seen_ending(1, 2, 3, 2, 5, "c"),
            seen_ending(1, 1, 2, 7, 8, "c"),
        ]);
        assert!(
            lacks[0].starts_with("quorum leader lacks committed entries"),
            "{lacks:?}"
        );
        let holds = violations(vec![
            seen_ending(1, 1, 2, 7, 8, "c"),
            seen_ending(1, 2, 3, 2, 8, "c"),
        ]);
        assert!(holds.is_empty(), "{holds:?}");
    }

    fn brokers_seen(asked: u64, brokers: &[(i32, bool)]) -> Event {
        Event::BrokersSeen {
            asked,
            brokers: brokers.to_vec(),
            nodes: vec![1, 2, 3],
        }
    }

    fn broker_verdict(events: Vec<(u64, Event)>) -> (Vec<String>, Vec<String>) {
        let (mut out, mut liveness) = (Vec::new(), Vec::new());
        let mut report = Report {
            out: &mut out,
            counts: BTreeMap::new(),
        };
        check_brokers(&mut report, &mut liveness, &events);
        report.finish();
        (out, liveness)
    }

    #[test]
    fn brokers_fenced_during_faults_pass_and_fenced_or_missing_after_settling_fail() {
        let live = [(1, false), (2, false), (3, false)];
        let after = 1_000 + BROKERS_SETTLE_MS;
        let ok = broker_verdict(vec![
            (10, brokers_seen(1, &[(1, false), (2, true)])),
            (1_000, Event::Healed),
            (
                after - 1,
                brokers_seen(2, &[(1, false), (2, true), (3, false)]),
            ),
            (after, brokers_seen(1, &live)),
            (after + 1, brokers_seen(2, &live)),
            (after + 2, brokers_seen(3, &live)),
        ]);
        assert_eq!(ok, (vec![], vec![]));
        let (_, fenced) = broker_verdict(vec![
            (1_000, Event::Healed),
            (after, brokers_seen(1, &[(1, false), (2, true), (3, false)])),
            (after, brokers_seen(2, &live)),
            (after, brokers_seen(3, &live)),
        ]);
        assert!(fenced[0].contains("lists broker 2 fenced"), "{fenced:?}");
        let (_, missing) = broker_verdict(vec![
            (1_000, Event::Healed),
            (after, brokers_seen(1, &[(1, false), (3, false)])),
            (after, brokers_seen(2, &live)),
        ]);
        assert!(missing[0].contains("does not list broker 2"), "{missing:?}");
        assert!(missing[1].contains("broker 3 never listed"), "{missing:?}");
    }

    #[test]
    fn a_broker_that_is_no_node_of_the_run_is_caught() {
        let (safety, _) = broker_verdict(vec![(5, brokers_seen(1, &[(1, false), (9, true)]))]);
        assert!(
            safety[0].starts_with("unknown broker registered"),
            "{safety:?}"
        );
    }

    fn topics_seen(asked: u64, topics: &[(&str, &[i32])]) -> Event {
        Event::TopicsSeen {
            asked,
            topics: (topics.iter())
                .map(|(n, l)| (n.to_string(), l.to_vec()))
                .collect(),
            epochs: Vec::new(),
        }
    }

    /// The safety lines one check reports for `events`.
    fn safety_of(check: fn(&mut Report, &[(u64, Event)]), events: &[(u64, Event)]) -> Vec<String> {
        let mut out = Vec::new();
        let mut report = Report {
            out: &mut out,
            counts: BTreeMap::new(),
        };
        check(&mut report, events);
        report.finish();
        out
    }

    #[test]
    fn nodes_that_applied_different_entries_at_one_index_are_caught_and_prefixes_are_not() {
        let applied = |node: u64, entries: &[(u64, u64, u64)]| Event::MetadataApplied {
            node,
            entries: entries.to_vec(),
        };
        let verdict = |events: Vec<(u64, Event)>| safety_of(check_applied_prefix, &events);
        let prefix = verdict(vec![
            (1, applied(1, &[(1, 1, 0), (2, 1, 7), (3, 2, 9)])),
            (1, applied(2, &[(1, 1, 0), (2, 1, 7)])),
            // A snapshot skipped index 1 and 2 here; a replay repeats 3.
            (1, applied(3, &[(3, 2, 9), (3, 2, 9)])),
        ]);
        assert!(prefix.is_empty(), "{prefix:?}");
        let diverged = verdict(vec![
            (1, applied(1, &[(1, 1, 0), (2, 1, 7)])),
            (1, applied(2, &[(1, 1, 0), (2, 2, 8)])),
        ]);
        assert!(
            diverged[0].starts_with("two nodes applied different metadata at one index"),
            "{diverged:?}"
        );
    }

    #[test]
    fn two_voters_that_led_one_term_are_caught_and_one_leader_a_term_is_not() {
        let led = |node: u64, terms: &[u64]| Event::QuorumLed {
            node,
            terms: terms.to_vec(),
        };
        let verdict = |events: Vec<(u64, Event)>| safety_of(check_terms_led, &events);
        let fine = verdict(vec![(1, led(1, &[1, 3])), (1, led(2, &[2, 4]))]);
        assert!(fine.is_empty(), "{fine:?}");
        let twice = verdict(vec![(1, led(1, &[1, 3])), (1, led(3, &[2, 3]))]);
        assert!(
            twice[0].starts_with("two quorum leaders in one epoch"),
            "{twice:?}"
        );
    }

    #[test]
    fn a_vote_read_back_older_or_for_another_is_caught_and_a_kept_one_is_not() {
        let opened = |list: &[(Option<(u64, u64)>, u64, Option<u64>)]| Event::QuorumOpened {
            node: 3,
            opened: list.to_vec(),
        };
        let verdict = |event: Event| safety_of(check_votes_kept, &[(1, event)]);
        let kept = verdict(opened(&[
            (None, 0, None),
            (Some((4, 1)), 4, Some(1)),
            (Some((4, 1)), 5, None),
        ]));
        assert!(kept.is_empty(), "{kept:?}");
        for forgot in [
            (Some((4, 1)), 3, Some(2)),
            (Some((4, 1)), 4, None),
            (Some((4, 1)), 4, Some(2)),
        ] {
            let lines = verdict(opened(&[forgot]));
            assert!(
                lines[0].starts_with("a vote sent was forgotten"),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn a_leader_commit_on_an_earlier_terms_entry_is_caught() {
        let commits = |list: &[(u64, u64, u64)]| Event::LeaderCommits {
            node: 1,
            commits: list.to_vec(),
        };
        let fine = safety_of(check_commit_rule, &[(1, commits(&[(2, 5, 2), (3, 9, 3)]))]);
        assert!(fine.is_empty(), "{fine:?}");
        let old = safety_of(check_commit_rule, &[(1, commits(&[(3, 7, 2)]))]);
        assert!(
            old[0].starts_with("a leader committed an earlier term's entry"),
            "{old:?}"
        );
    }

    #[test]
    fn appends_in_an_epoch_listed_with_another_leader_or_none_are_caught() {
        let seen = |epoch: i32, leader: i32| Event::TopicsSeen {
            asked: 2,
            topics: Vec::new(),
            epochs: vec![("id-t".into(), 0, epoch, leader, "t".into())],
        };
        let appended = |node: u64, epochs: &[i32]| Event::AppendedAsLeader {
            node,
            appended: (epochs.iter())
                .map(|&e| ("t".to_owned(), "id-t".to_owned(), 0, e))
                .collect(),
        };
        let verdict = |events: Vec<(u64, Event)>| safety_of(check_appends_led, &events);
        // Broker 1 led epoch 3, nobody epoch 4, broker 1 again epoch 5; epoch 6 was never seen.
        let history = |node, epochs: &[i32]| {
            vec![
                (1, seen(3, 1)),
                (2, seen(4, -1)),
                (3, seen(5, 1)),
                (9, appended(node, epochs)),
            ]
        };
        assert!(verdict(history(1, &[3, 5, 6])).is_empty());
        let leaderless = verdict(history(1, &[3, 4]));
        assert!(
            leaderless[0].starts_with("a broker took writes for a partition it did not lead"),
            "{leaderless:?}"
        );
        assert!(leaderless[0].contains("epoch 4"), "{leaderless:?}");
        let other = verdict(history(2, &[5]));
        assert_eq!(other.len(), 1, "{other:?}");
        // Another topic of the same name (another id) is judged by its own listings.
        let mut again = history(2, &[5]);
        if let (_, Event::AppendedAsLeader { appended, .. }) = &mut again[3] {
            appended[0].1 = "id-t2".to_owned();
        }
        assert!(verdict(again).is_empty());
    }

    #[test]
    fn a_first_open_with_records_is_caught() {
        let opens = |log_end: i64| Event::FirstOpens {
            node: 2,
            opens: vec![("churn".into(), "id-2".into(), 1, log_end)],
        };
        assert!(safety_of(check_new_replicas_empty, &[(1, opens(0))]).is_empty());
        let caught = safety_of(check_new_replicas_empty, &[(1, opens(3))]);
        assert!(
            caught[0].starts_with("a new topic opened an earlier topic's records"),
            "{caught:?}"
        );
    }

    #[test]
    fn one_partition_epoch_with_two_leaders_is_caught_and_a_new_epoch_is_not() {
        let seen = |asked: u64, epoch: i32, leader: i32| Event::TopicsSeen {
            asked,
            topics: Vec::new(),
            epochs: vec![("id-a".into(), 0, epoch, leader, "a".into())],
        };
        let verdict = |events: Vec<(u64, Event)>| safety_of(check_partition_epochs, &events);
        let fine = verdict(vec![
            (1, seen(1, 0, 2)),
            (2, seen(2, 0, 2)),
            (3, seen(1, 1, -1)),
            (4, seen(3, 2, 2)),
        ]);
        assert!(fine.is_empty(), "{fine:?}");
        let caught = verdict(vec![(1, seen(1, 1, 2)), (2, seen(2, 1, -1))]);
        assert!(
            caught[0].starts_with("two partition leaders in one leader epoch"),
            "{caught:?}"
        );
    }

    #[test]
    fn brokers_that_disagree_on_topics_or_list_no_leader_after_settling_are_caught() {
        let after = 1_000 + BROKERS_SETTLE_MS;
        let run = |seen: Vec<(u64, Event)>| {
            let mut events = vec![(1_000, Event::Healed)];
            events.extend(seen);
            let mut liveness = Vec::new();
            check_topics(&mut liveness, &events);
            liveness
        };
        let t: &[(&str, &[i32])] = &[("sim", &[1, 1])];
        // Before settling anything goes; after, the last answers agree.
        let ok = run(vec![
            (500, topics_seen(2, &[])),
            (after, topics_seen(1, t)),
            (after + 1, topics_seen(2, &[])),
            (after + 2, topics_seen(2, t)),
        ]);
        assert!(ok.is_empty(), "{ok:?}");
        let apart = run(vec![
            (after, topics_seen(1, t)),
            (after, topics_seen(2, &[])),
        ]);
        assert!(
            apart[0].contains("brokers disagree on the topics"),
            "{apart:?}"
        );
        let leaderless = run(vec![(after, topics_seen(1, &[("sim", &[1, -1])]))]);
        assert!(leaderless[0].contains("without a leader"), "{leaderless:?}");
    }
}
