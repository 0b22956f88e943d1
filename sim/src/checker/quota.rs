//! Client quotas (`workload::quota`): a producer that ignores `throttle_time_ms` is held to its
//! `producer_byte_rate` by the broker's muted connection (KIP-219), whatever the faults.
//!
//! | check | kind | violation |
//! |---|---|---|
//! | quota holds | safety | at a broker that applied the quota and did not restart since, the quota producer's request bytes answered within some window of W ≥ 3 s exceed Q × (W + 1 s) + (in flight + 2) × its largest request |
//! | quota set | liveness | a healed run where no AlterClientQuotas of the quota was acknowledged |
//! | quota producer answered | liveness | a healed run where the quota producer got no successful answer after healing |
//!
//! Where the bound comes from. The broker's bucket (`types::rate_bucket`) refills at Q up to
//! one sample window (`quota.window.size.seconds`, 1 s by default: Q × 1 s of burst); a produce
//! records its whole request bytes when it is dispatched, and its connection is muted until
//! the debt it left is paid, so the connection's next request is dispatched only with the
//! bucket at 0 or above. Over an interval of W, the requests dispatched therefore total at
//! most the burst + Q × W + the last one's overdraw (at most the largest request). The answers
//! the producer receives over W are those requests, plus the ones already in flight when W
//! began (at most [`IN_FLIGHT`], dispatched earlier, maybe before the quota applied). One more
//! largest request covers a connection the producer gave up on (a timeout) that the broker
//! still dispatches from, unmuted apart from the new one, for the overlap
//! `workload::quota`'s reconnect pause leaves. Times are the client's, all virtual: an answer
//! received in the window answers a request sent before it (in flight) or in it.
//!
//! "Applied": the broker acknowledged the alteration (it answers once the alteration is
//! published on it) or described the quota (from what its gateway enforces), and
//! [`APPLIED_GRACE_MS`] passed; a kill resets its buckets and its published quotas, so the
//! windows at a broker lie between such evidence after its latest restart and its next kill.

use std::collections::BTreeMap;

use super::Report;
use crate::history::Event;
use crate::workload::quota::IN_FLIGHT;

/// After a broker's acknowledgement or description of the quota, windows start this much
/// later.
pub const APPLIED_GRACE_MS: u64 = 2_000;
/// The shortest window judged.
pub const WINDOW_MIN_MS: u64 = 3_000;
/// `quota.window.size.seconds` (the simulator keeps Kafka's default): the bucket's burst.
pub const SAMPLE_WINDOW_MS: u64 = 1_000;

pub(super) fn check(safety: &mut Report, liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let mut rate = None;
    let mut acknowledged = false;
    let mut healed = None;
    // Per broker: its restarts and kills, the evidence it applied the quota, its answered
    // requests (answer time, bytes), and its largest request.
    let mut restarts: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut kills: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut applied: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut answered: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut largest: BTreeMap<u64, u64> = BTreeMap::new();
    let mut answered_after_healing = false;
    for (at_ms, event) in events {
        match event {
            Event::Fault { kind, detail } if *kind == "kill" || *kind == "restart" => {
                if let Some(broker) = broker_named(detail) {
                    let times = match *kind {
                        "kill" => &mut kills,
                        _ => &mut restarts,
                    };
                    times.entry(broker).or_default().push(*at_ms);
                }
            }
            Event::QuotaSet {
                broker,
                rate: r,
                outcome,
            } => {
                rate = Some(*r);
                if outcome == "NONE" {
                    acknowledged = true;
                    applied.entry(*broker).or_default().push(*at_ms);
                }
            }
            Event::QuotaSeen { broker, rate: r } => {
                rate = Some(*r);
                applied.entry(*broker).or_default().push(*at_ms);
            }
            Event::QuotaProduce {
                broker,
                bytes,
                answer,
                ..
            } => {
                let most = largest.entry(*broker).or_default();
                *most = (*most).max(*bytes);
                if let Some((code, _)) = answer {
                    answered.entry(*broker).or_default().push((*at_ms, *bytes));
                    if *code == 0 && healed.is_some() {
                        answered_after_healing = true;
                    }
                }
            }
            Event::Healed => healed = Some(*at_ms),
            _ => {}
        }
    }
    let quota_run = (events.iter())
        .any(|(_, e)| matches!(e, Event::Config(c) if c.contains("quota_bytes_per_s: Some(")));
    if quota_run && healed.is_some() {
        if !acknowledged {
            liveness.push("the client quota was never acknowledged".into());
        } else if !answered_after_healing {
            liveness.push("the quota producer got no successful answer after healing".into());
        }
    }
    let Some(rate) = rate else { return };
    // Any request of the producer, wherever it went: the largest anywhere bounds each broker's.
    let largest = largest.values().copied().max().unwrap_or(0);
    let slack = (IN_FLIGHT as u64 + 2) * largest;
    for (broker, answers) in &answered {
        let restarts = restarts.get(broker).map_or(&[][..], Vec::as_slice);
        let kills = kills.get(broker).map_or(&[][..], Vec::as_slice);
        let evidence = applied.get(broker).map_or(&[][..], Vec::as_slice);
        // Lives of the broker's process: from its start (0) or a restart to its next kill.
        let starts = std::iter::once(0).chain(restarts.iter().copied());
        for start in starts {
            let end = (kills.iter().copied())
                .find(|&kill| kill >= start)
                .unwrap_or(u64::MAX);
            let Some(seen) = (evidence.iter().copied()).find(|&e| e > start && e < end) else {
                continue;
            };
            let from = seen + APPLIED_GRACE_MS;
            let life: Vec<(u64, u64)> = (answers.iter().copied())
                .filter(|&(at, _)| at >= from && at < end)
                .collect();
            if let Some(detail) = over_quota(&life, rate, slack) {
                safety.add(
                    "client quota exceeded",
                    format!(
                        "broker {broker} (quota applied by t={seen}ms, up since t={start}ms): \
                         {detail}"
                    ),
                );
            }
        }
    }
}

/// The first window of `answers` (answer time, bytes; in time order) whose bytes exceed
/// `rate` × (W + the burst) + `slack`, W at least [`WINDOW_MIN_MS`].
fn over_quota(answers: &[(u64, u64)], rate: u64, slack: u64) -> Option<String> {
    for (i, &(first, _)) in answers.iter().enumerate() {
        let mut bytes = 0u64;
        for &(at, size) in &answers[i..] {
            bytes += size;
            let window_ms = (at - first).max(WINDOW_MIN_MS);
            let allowed = rate * (window_ms + SAMPLE_WINDOW_MS) / 1000 + slack;
            if bytes > allowed {
                return Some(format!(
                    "{bytes} request bytes answered in t={first}..={at}ms, over the {allowed} \
                     a quota of {rate} B/s allows over {window_ms} ms"
                ));
            }
        }
    }
    None
}

/// The broker a fault's detail names ("broker 3; disk …", "broker 3 at …").
fn broker_named(detail: &str) -> Option<u64> {
    let rest = detail.strip_prefix("broker ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(events: &[(u64, Event)]) -> (Vec<String>, Vec<String>) {
        super::super::verdict_of(check, events)
    }

    const RATE: u64 = 4_096;

    fn quota_run(mut events: Vec<(u64, Event)>) -> Vec<(u64, Event)> {
        let config = format!("seed=1 SimConfig {{ quota_bytes_per_s: Some({RATE}) }}");
        events.insert(0, (0, Event::Config(config)));
        events.insert(
            1,
            (
                100,
                Event::QuotaSet {
                    broker: 1,
                    rate: RATE,
                    outcome: "NONE".into(),
                },
            ),
        );
        events
    }

    fn answer(at_ms: u64, bytes: u64) -> (u64, Event) {
        (
            at_ms,
            Event::QuotaProduce {
                broker: 1,
                invoked_ms: at_ms.saturating_sub(5),
                bytes,
                answer: Some((0, 0)),
            },
        )
    }

    /// Answers of `bytes` each, `every_ms` apart, from `from_ms` to `to_ms`.
    fn answers(from_ms: u64, to_ms: u64, every_ms: u64, bytes: u64) -> Vec<(u64, Event)> {
        (from_ms..to_ms)
            .step_by(every_ms as usize)
            .map(|at| answer(at, bytes))
            .collect()
    }

    #[test]
    fn a_producer_held_to_its_rate_passes_one_twice_as_fast_does_not() {
        // 1 KB every 250 ms: 4 KB/s, the rate, after five answered at once.
        let mut events = quota_run(answers(2_100, 2_150, 10, 1_000));
        events.extend(answers(2_200, 20_000, 250, 1_000));
        events.push((20_000, Event::Healed));
        events.push(answer(20_100, 1_000));
        assert_eq!(verdict(&events), (vec![], vec![]));
        // Twice the rate for 10 s.
        let mut events = quota_run(answers(2_100, 12_000, 125, 1_000));
        events.push((20_000, Event::Healed));
        events.push(answer(20_100, 1_000));
        let (safety, liveness) = verdict(&events);
        assert_eq!(safety.len(), 1, "{safety:?}");
        assert!(safety[0].starts_with("client quota exceeded"), "{safety:?}");
        assert!(liveness.is_empty(), "{liveness:?}");
    }

    #[test]
    fn only_a_live_broker_that_applied_the_quota_is_judged() {
        let kill = |at_ms: u64, kind: &'static str| {
            (
                at_ms,
                Event::Fault {
                    kind,
                    detail: "broker 1; disk Lost".into(),
                },
            )
        };
        // Within the grace after the acknowledgement: not judged.
        let events = quota_run(answers(150, 2_000, 10, 1_000));
        assert_eq!(verdict(&events).0, Vec::<String>::new());
        // Killed at 3 s, restarted at 3.5 s: its buckets are new, and the quota is judged
        // again only once the restarted broker described it.
        let mut events = quota_run(answers(2_100, 3_000, 250, 1_000));
        events.push(kill(3_000, "kill"));
        events.push(kill(3_500, "restart"));
        events.extend(answers(3_600, 8_000, 20, 1_000));
        assert_eq!(verdict(&events).0, Vec::<String>::new());
        events.push((
            8_000,
            Event::QuotaSeen {
                broker: 1,
                rate: RATE,
            },
        ));
        events.extend(answers(10_000, 16_000, 20, 1_000));
        let (safety, _) = verdict(&events);
        assert_eq!(safety.len(), 1, "{safety:?}");
        assert!(safety[0].contains("up since t=3500ms"), "{safety:?}");
    }

    #[test]
    fn a_healed_quota_run_must_set_the_quota_and_get_answers() {
        let events = [
            (0, Event::Config("quota_bytes_per_s: Some(4096)".into())),
            (100, Event::Healed),
        ];
        assert_eq!(verdict(&events).1.len(), 1);
        let mut events = quota_run(answers(2_100, 3_000, 250, 1_000));
        events.push((20_000, Event::Healed));
        let (_, liveness) = verdict(&events);
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].contains("no successful answer"));
        // A run without the quota workload has nothing to prove.
        let events = [(0, Event::Config("seed=1".into())), (100, Event::Healed)];
        assert_eq!(verdict(&events), (vec![], vec![]));
    }
}
