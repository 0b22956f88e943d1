//! Client quotas (`workload::quota`): a producer that ignores `throttle_time_ms` is held to its
//! `producer_byte_rate` by the broker's muted connection (KIP-219), whatever the faults.
//!
//! | check | kind | violation |
//! |---|---|---|
//! | quota holds | safety | at a broker that applied the quota and did not restart since, the quota producer's request bytes answered within some window of W ≥ 3 s exceed Q × (W + 1 s) + (in flight + 2) × its largest request |
//! | quota set | liveness | a healed run where no AlterClientQuotas of the quota was acknowledged |
//! | quota producer answered | liveness | a healed run where the quota producer got no successful answer after healing |
//! | quota propagates | safety | a broker's DescribeClientQuotas of the quota client, answered [`PROPAGATION_BOUND_MS`] or more after both healing and the quota's last acknowledgement, is not exactly `producer_byte_rate` = Q |
//! | quota described everywhere | liveness | a healed run with the quota acknowledged where a broker asked never described the quota client from then on (or none was asked) |
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
//!
//! "Quota propagates": every alteration the workload sends sets the same Q and none lifts it
//! (`workload::quota` says why), so once one is acknowledged the metadata log holds Q for
//! good, whichever attempts also landed, and every broker's voter applies it and publishes it
//! to its gateway. After healing, a restarted broker recovers, the quorum may elect and a
//! voter catches up within `checker::quorum::BROKERS_SETTLE_MS` (the brokers must
//! list each other unfenced by then); the quota's record is older than its acknowledgement, so
//! the same bound holds it. A run that never got the quota acknowledged has no definite value
//! to hold the brokers to (a timed-out attempt may have landed or not).

use std::collections::{BTreeMap, BTreeSet};

use super::Report;
use crate::history::Event;
use crate::workload::quota::{CLIENT_ID, IN_FLIGHT, PRODUCER_BYTE_RATE};

/// After a broker's acknowledgement or description of the quota, windows start this much
/// later.
pub const APPLIED_GRACE_MS: u64 = 2_000;
/// The shortest window judged.
pub const WINDOW_MIN_MS: u64 = 3_000;
/// `quota.window.size.seconds` (the simulator keeps Kafka's default): the bucket's burst.
pub const SAMPLE_WINDOW_MS: u64 = 1_000;
/// From this long after healing and after the quota's last acknowledgement, every broker
/// describes the quota (the module docs say why this bound).
pub const PROPAGATION_BOUND_MS: u64 = super::quorum::BROKERS_SETTLE_MS;

pub(super) fn check(safety: &mut Report, liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let mut rate = None;
    let mut acknowledged = false;
    // When the quota was last acknowledged.
    let mut acknowledged_ms = None;
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
                    acknowledged_ms = Some(*at_ms);
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
    if let (Some(healed_ms), Some(acknowledged_ms)) = (healed, acknowledged_ms) {
        check_propagated(safety, liveness, events, rate, healed_ms, acknowledged_ms);
    }
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

/// "Quota propagates": each DescribeClientQuotas answered [`PROPAGATION_BOUND_MS`] or more
/// after both `healed_ms` and `acknowledged_ms` describes exactly `producer_byte_rate` =
/// `rate`, and every broker asked answered one such (liveness).
fn check_propagated(
    safety: &mut Report,
    liveness: &mut Vec<String>,
    events: &[(u64, Event)],
    rate: u64,
    healed_ms: u64,
    acknowledged_ms: u64,
) {
    let from_ms = healed_ms.max(acknowledged_ms) + PROPAGATION_BOUND_MS;
    // As the workload records a value: `f64`'s `Display`.
    let expected = vec![(PRODUCER_BYTE_RATE.to_owned(), (rate as f64).to_string())];
    let mut asked = BTreeSet::new();
    let mut answered = BTreeSet::new();
    for (at_ms, event) in events {
        let Event::QuotaDescribed { broker, described } = event else {
            continue;
        };
        asked.insert(*broker);
        let Ok(values) = described else { continue };
        if *at_ms < from_ms {
            continue;
        }
        answered.insert(*broker);
        if *values != expected {
            safety.add(
                "client quota not propagated",
                format!(
                    "broker {broker} described {values:?} for client id {CLIENT_ID} at \
                     t={at_ms}ms, {PROPAGATION_BOUND_MS}ms or more after healing \
                     (t={healed_ms}ms) and after {PRODUCER_BYTE_RATE} = {rate} was last \
                     acknowledged (t={acknowledged_ms}ms)"
                ),
            );
        }
    }
    if asked.is_empty() {
        liveness.push("no broker was asked to describe the client quota after healing".into());
    }
    for broker in asked.difference(&answered) {
        liveness.push(format!(
            "broker {broker} never described the client quota from t={from_ms}ms on \
             ({PROPAGATION_BOUND_MS}ms after healing and the acknowledgement)"
        ));
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

    /// `broker`'s DescribeClientQuotas of the quota client at `at_ms`: `rate`, or nothing.
    fn described(at_ms: u64, broker: u64, rate: Option<u64>) -> (u64, Event) {
        let values = (rate.into_iter())
            .map(|rate| (PRODUCER_BYTE_RATE.to_owned(), (rate as f64).to_string()))
            .collect();
        (
            at_ms,
            Event::QuotaDescribed {
                broker,
                described: Ok(values),
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
        events.push(described(28_100, 1, Some(RATE)));
        assert_eq!(verdict(&events), (vec![], vec![]));
        // Twice the rate for 10 s.
        let mut events = quota_run(answers(2_100, 12_000, 125, 1_000));
        events.push((20_000, Event::Healed));
        events.push(answer(20_100, 1_000));
        events.push(described(28_100, 1, Some(RATE)));
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
        events.push(described(28_100, 1, Some(RATE)));
        let (_, liveness) = verdict(&events);
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].contains("no successful answer"));
        // A run without the quota workload has nothing to prove.
        let events = [(0, Event::Config("seed=1".into())), (100, Event::Healed)];
        assert_eq!(verdict(&events), (vec![], vec![]));
    }

    #[test]
    fn every_broker_describes_the_quota_from_the_bound_after_healing_on() {
        let healed = |mut events: Vec<(u64, Event)>| {
            let mut run = quota_run(vec![(20_000, Event::Healed), answer(20_100, 1_000)]);
            run.append(&mut events);
            run
        };
        // Before the bound, a broker may still describe nothing; after it, all show the rate.
        let events = healed(vec![
            described(21_000, 2, None),
            described(28_000, 1, Some(RATE)),
            described(28_100, 2, Some(RATE)),
        ]);
        assert_eq!(verdict(&events), (vec![], vec![]));
        // A broker that describes nothing (or another rate) after the bound: not propagated.
        let events = healed(vec![
            described(28_000, 1, Some(RATE)),
            described(28_100, 2, None),
            described(28_200, 3, Some(2 * RATE)),
        ]);
        let (safety, liveness) = verdict(&events);
        assert_eq!(safety.len(), 2, "{safety:?}");
        assert!(
            (safety.iter()).all(|v| v.starts_with("client quota not propagated")),
            "{safety:?}"
        );
        assert!(safety[0].contains("broker 2 described []"), "{safety:?}");
        assert!(liveness.is_empty(), "{liveness:?}");
        // A broker that only failed to answer from the bound on: liveness.
        let failed = (
            29_000,
            Event::QuotaDescribed {
                broker: 3,
                described: Err("no connection".into()),
            },
        );
        let events = healed(vec![
            described(25_000, 3, Some(RATE)),
            described(28_000, 1, Some(RATE)),
            failed,
        ]);
        let (safety, liveness) = verdict(&events);
        assert!(safety.is_empty(), "{safety:?}");
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(
            liveness[0].starts_with("broker 3 never described"),
            "{liveness:?}"
        );
        // Nobody asked at all: liveness too.
        let (_, liveness) = verdict(&healed(vec![]));
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].contains("no broker was asked"), "{liveness:?}");
    }

    #[test]
    fn the_bound_runs_from_the_acknowledgement_when_it_came_after_healing() {
        let mut events = quota_run(vec![(20_000, Event::Healed), answer(20_100, 1_000)]);
        // Acknowledged again at 25 s (the first attempts' answers were lost).
        events.push((
            25_000,
            Event::QuotaSet {
                broker: 2,
                rate: RATE,
                outcome: "NONE".into(),
            },
        ));
        events.push(described(30_000, 1, None));
        events.push(described(33_000, 1, Some(RATE)));
        assert_eq!(verdict(&events), (vec![], vec![]));
        // Never acknowledged: no value to hold the brokers to (the "quota set" claim fails).
        let events = [
            (0, Event::Config("quota_bytes_per_s: Some(4096)".into())),
            (
                100,
                Event::QuotaSet {
                    broker: 1,
                    rate: RATE,
                    outcome: "Timeout".into(),
                },
            ),
            (20_000, Event::Healed),
            described(30_000, 1, None),
        ];
        let (safety, liveness) = verdict(&events);
        assert!(safety.is_empty(), "{safety:?}");
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].contains("never acknowledged"), "{liveness:?}");
    }
}
