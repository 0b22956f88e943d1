//! The controller quorum's checks, on what the observer saw (`workload::quorum`):
//!
//! * **Election safety**: one leader per epoch, whichever voter was asked and whenever.
//! * **One cluster**: every voter reports the same cluster id, all run long (it is named once,
//!   at the quorum's first commit, and kept in the replicated log).
//! * **Commits stay committed**: within one epoch the leader's high watermark never goes back
//!   (asked through the same voter, one question after the other, so the answers are ordered).

use std::collections::BTreeMap;

use super::Report;
use crate::history::Event;

pub(super) fn check(safety: &mut Report, events: &[(u64, Event)]) {
    let mut leader_of_epoch: BTreeMap<i32, (i32, u64)> = BTreeMap::new();
    let mut first_cluster: Option<(&str, u64, u64)> = None;
    let mut last_seen: BTreeMap<(u64, i32), i64> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::QuorumSeen {
            asked,
            leader,
            epoch,
            high_watermark,
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
        if let Some(before) = last_seen.insert((*asked, *epoch), *high_watermark) {
            if *high_watermark < before {
                safety.add(
                    "quorum high watermark went back",
                    format!("epoch {epoch} through broker {asked}: {before} then {high_watermark} (t={at_ms}ms)"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn seen(asked: u64, leader: i32, epoch: i32, hw: i64, cluster: &str) -> Event {
        Event::QuorumSeen {
            asked,
            leader,
            epoch,
            high_watermark: hw,
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
        // Through another voter, answers are not ordered with these: no verdict.
        let other = violations(vec![seen(1, 1, 1, 5, "c"), seen(2, 1, 1, 4, "c")]);
        assert!(other.is_empty(), "{other:?}");
    }
}
