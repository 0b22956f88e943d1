//! The controller quorum's checks, on what the observer saw (`workload::quorum`):
//!
//! * **Election safety**: one leader per epoch, whichever voter was asked and whenever.
//! * **One cluster**: every voter reports the same cluster id, all run long (it is named once,
//!   at the quorum's first commit, and kept in the replicated log).
//! * **Commits stay committed**: within one epoch the high watermark never goes back (the
//!   observer asks one question after the other, so its answers are ordered), and the leader of
//!   a later epoch holds every entry committed in an earlier one (leader completeness): its log
//!   end is at least any earlier epoch's high watermark.

use std::collections::BTreeMap;

use super::Report;
use crate::history::Event;

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
}
