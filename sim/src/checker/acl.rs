//! Authorization (`--sasl`, `workload::intruder`): a principal the authorizer must deny gets
//! nothing, whatever the faults. The intruder is logged in (her login is judged by
//! `checker::sasl`, as every login), has no ACL and is no super user, and no run creates an ACL.
//!
//! | check | kind | violation |
//! |---|---|---|
//! | refused, always | safety | an intruder's Produce or Fetch of a data partition answered anything but TOPIC_AUTHORIZATION_FAILED, her JoinGroup of the workload's group anything but GROUP_AUTHORIZATION_FAILED, her idempotent InitProducerId anything but CLUSTER_AUTHORIZATION_FAILED, or a Fetch answer that carried records |
//! | nothing of hers is read | safety | a record with her value (`eve-…`) polled by a consumer or in the final read |
//! | the check ran | liveness | a SASL run that healed with none of her requests answered: the checks above proved nothing |
//!
//! "Anything but" the refusal, not only success: Kafka checks the authorization first (Produce
//! and Fetch before the partition's leadership, JoinGroup before the group's coordinator), and
//! so does Rill's gateway, so NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR or MEMBER_ID_REQUIRED
//! would mean the request got past the check. Until a broker applied its first metadata it has
//! no ACLs, and then only super users pass: the intruder is refused all the same. A request
//! without an answer is judged by nothing.

use super::Report;
use crate::history::Event;
use crate::workload::intruder::VALUE_PREFIX;
use rill::types::ErrorCode;

pub(super) fn check(safety: &mut Report, liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let mut answered = 0u64;
    for (at_ms, event) in events {
        match event {
            Event::Intrusion {
                broker,
                api,
                resource,
                invoked_ms,
                error_code,
                records_returned,
            } => {
                let Some(code) = error_code else { continue };
                answered += 1;
                let request = format!(
                    "the intruder's {api} of {resource} at broker {broker} (t={invoked_ms}..{at_ms}ms)"
                );
                let refusal = match *api {
                    "JoinGroup" => ErrorCode::GROUP_AUTHORIZATION_FAILED,
                    "InitProducerId" => ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                    _ => ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                };
                let code = ErrorCode::from_wire(*code);
                if code != refusal {
                    safety.add(
                        "authorization bypass",
                        format!("{request} answered {code:?}, not {refusal:?}"),
                    );
                }
                if *records_returned > 0 {
                    safety.add(
                        "authorization bypass",
                        format!("{request} returned {records_returned} records"),
                    );
                }
            }
            Event::Poll {
                consumer,
                partition,
                offset,
                value,
            } if value.starts_with(VALUE_PREFIX) => safety.add(
                "intruder's record read",
                format!(
                    "consumer {consumer} polled {value} at p{partition}@{offset} (t={at_ms}ms)"
                ),
            ),
            Event::FinalRead {
                partition, records, ..
            } => {
                for (offset, value) in records {
                    if value.starts_with(VALUE_PREFIX) {
                        safety.add(
                            "intruder's record read",
                            format!("the final read found {value} at p{partition}@{offset}"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let sasl =
        (events.iter()).any(|(_, e)| matches!(e, Event::Config(c) if c.contains(" sasl=true")));
    let healed = (events.iter()).any(|(_, e)| matches!(e, Event::Healed));
    if sasl && healed && answered == 0 {
        liveness.push(
            "no intruder request answered: the authorizer's refusals were never checked".into(),
        );
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn intrusion(
        api: &'static str,
        error_code: Option<i16>,
        records_returned: u32,
    ) -> (u64, Event) {
        let resource = match api {
            "JoinGroup" => "sim-group".to_string(),
            "InitProducerId" => "kafka-cluster".to_string(),
            _ => "sim-0".to_string(),
        };
        (
            100,
            Event::Intrusion {
                broker: 1,
                api,
                resource,
                invoked_ms: 90,
                error_code,
                records_returned,
            },
        )
    }

    fn verdict(events: &[(u64, Event)]) -> (Vec<String>, Vec<String>) {
        super::super::verdict_of(check, events)
    }

    fn sasl_run(mut events: Vec<(u64, Event)>) -> Vec<(u64, Event)> {
        events.insert(0, (0, Event::Config("seed=1 canary=None sasl=true".into())));
        events.push((200, Event::Healed));
        events
    }

    #[test]
    fn refusals_and_lost_answers_pass_anything_else_is_a_bypass() {
        let events = sasl_run(vec![
            intrusion("Produce", Some(29), 0),
            intrusion("Fetch", Some(29), 0),
            intrusion("JoinGroup", Some(30), 0),
            intrusion("InitProducerId", Some(31), 0),
            intrusion("Fetch", None, 0),
        ]);
        assert_eq!(verdict(&events), (vec![], vec![]));
        let events = sasl_run(vec![
            intrusion("Produce", Some(0), 0),
            // Past the check: the leadership is looked at after it.
            intrusion("Produce", Some(6), 0),
            intrusion("Fetch", Some(0), 3),
            // Past the check: the coordinator is looked at after it.
            intrusion("JoinGroup", Some(16), 0),
        ]);
        let (safety, liveness) = verdict(&events);
        assert_eq!(safety.len(), 5, "{safety:?}");
        assert!(
            safety.iter().all(|v| v.starts_with("authorization bypass")),
            "{safety:?}"
        );
        assert!(safety[2].contains("NONE(0), not TOPIC_AUTHORIZATION_FAILED(29)"));
        assert!(safety[3].contains("returned 3 records"));
        assert!(liveness.is_empty());
        let events = sasl_run(vec![intrusion("InitProducerId", Some(0), 0)]);
        let (safety, _) = verdict(&events);
        assert_eq!(safety.len(), 1, "{safety:?}");
        assert!(
            safety[0].contains("InitProducerId of kafka-cluster")
                && safety[0].contains("not CLUSTER_AUTHORIZATION_FAILED(31)"),
            "{safety:?}"
        );
    }

    #[test]
    fn the_intruders_values_must_not_be_read() {
        let events = sasl_run(vec![
            intrusion("Produce", Some(29), 0),
            (
                150,
                Event::Poll {
                    consumer: 0,
                    partition: 0,
                    offset: 4,
                    value: "eve-2".into(),
                },
            ),
            (
                300,
                Event::FinalRead {
                    partition: 0,
                    log_start: 0,
                    high_watermark: 2,
                    records: vec![(0, "p0-0".into()), (1, "eve-7".into())],
                },
            ),
        ]);
        let (safety, _) = verdict(&events);
        assert_eq!(safety.len(), 2, "{safety:?}");
        assert!(safety
            .iter()
            .all(|v| v.starts_with("intruder's record read")));
    }

    #[test]
    fn a_sasl_run_without_an_answered_intrusion_proved_nothing() {
        let events = sasl_run(vec![intrusion("Produce", None, 0)]);
        let (safety, liveness) = verdict(&events);
        assert!(safety.is_empty());
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        // A run without SASL has no intruder.
        let events = [(0, Event::Config("seed=1".into())), (200, Event::Healed)];
        assert_eq!(verdict(&events), (vec![], vec![]));
    }
}
