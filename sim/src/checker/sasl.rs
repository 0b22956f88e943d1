//! SASL logins (`--sasl`, `crate::sasl`): nobody gets in without the right password, and the
//! right password gets in where the broker must know it.
//!
//! | check | kind | violation |
//! |---|---|---|
//! | no bypass | safety | a login with a wrong password or an unknown user accepted (any mechanism), or a request answered on a connection that never logged in |
//! | PLAIN's users get in | safety | a PLAIN login with the right password refused: PLAIN's users are the listener's static config, known to every broker from its start |
//! | the broker proves itself | safety | SCRAM: a broker's server-first message that does not parse, or its acceptance of the right password without proving it knew the credential (the server signature) |
//! | an acknowledged SCRAM user gets in | safety | a SCRAM login with the right password refused by the broker that acknowledged the user, with no kill of that broker since the acknowledgement: the broker had applied the credential before it answered (its topics actor reads the change before the answer leaves), and a live broker's applied metadata never goes back |
//! | every broker learns the SCRAM user (liveness) | liveness | a SCRAM login with the right password refused at or after [`BROKERS_SETTLE_MS`] past the healing (or past the acknowledgement, when later): by then every broker is back in service (`quorum::check_brokers`) and has applied the metadata log |
//!
//! Other refusals of the SCRAM user's right password are not judged: another broker may not
//! have applied the user yet (a follower behind, a broker restarted and still replaying its
//! metadata log, one cut off from the quorum). The run's stats line counts them (`refused`).
//! A login without an answer (a kill, a reset or a pause in the middle of the exchange) is
//! judged by nothing: the connect fails and its caller retries.

use std::collections::BTreeMap;

use super::quorum::BROKERS_SETTLE_MS;
use super::Report;
use crate::history::{Credentials, Event, LoginOutcome};

pub(super) fn check(safety: &mut Report, liveness: &mut Vec<String>, events: &[(u64, Event)]) {
    let healed_ms = (events.iter()).find_map(|(at, e)| matches!(e, Event::Healed).then_some(*at));
    // Each mechanism's first acknowledgement: (when, by which broker).
    let mut created: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (at_ms, event) in events {
        if let Event::ScramUserCreated {
            broker, mechanism, ..
        } = event
        {
            created.entry(mechanism).or_insert((*at_ms, *broker));
        }
    }
    let kills = kills(events);
    let mut late_refusals = Vec::new();
    for (at_ms, event) in events {
        let Event::Login {
            broker,
            mechanism,
            user,
            credentials,
            invoked_ms,
            outcome,
        } = event
        else {
            continue;
        };
        let login =
            format!("{mechanism} login as '{user}' at broker {broker} (t={invoked_ms}..{at_ms}ms)");
        match (credentials, outcome) {
            (Credentials::Unauthenticated, LoginOutcome::Ok) => safety.add(
                "authentication bypass",
                format!("broker {broker} answered a Metadata request of a connection that never logged in (t={invoked_ms}..{at_ms}ms)"),
            ),
            (Credentials::Unauthenticated, _) => {}
            (_, LoginOutcome::Malformed { why }) => safety.add(
                "malformed SASL answer",
                format!("{login}: {why}"),
            ),
            (Credentials::WrongPassword | Credentials::UnknownUser, LoginOutcome::Ok | LoginOutcome::AcceptedUnproven) => {
                let what = match credentials {
                    Credentials::WrongPassword => "a wrong password",
                    _ => "an unknown user",
                };
                safety.add("authentication bypass", format!("{login} with {what} accepted ({outcome:?})"));
            }
            (Credentials::WrongPassword | Credentials::UnknownUser, _) => {}
            (Credentials::Right, LoginOutcome::AcceptedUnproven) => safety.add(
                "SCRAM broker unproven",
                format!("{login} accepted without a server signature that proves the credential"),
            ),
            (Credentials::Right, LoginOutcome::Refused { code }) if *mechanism == "PLAIN" => safety.add(
                "PLAIN login refused",
                format!("{login} with the right password refused with code {code}"),
            ),
            (Credentials::Right, LoginOutcome::Refused { code }) => {
                let Some(&(created_ms, acknowledged_by)) = created.get(mechanism) else {
                    // SCRAM logins are drawn only once the user is acknowledged.
                    safety.add("SCRAM login before its user", login);
                    continue;
                };
                let killed_since = (kills.get(&acknowledged_by).into_iter().flatten())
                    .any(|&kill_ms| kill_ms >= created_ms && kill_ms <= *at_ms);
                if *broker == acknowledged_by && !killed_since {
                    safety.add(
                        "acknowledged SCRAM user refused",
                        format!("{login} with the right password refused with code {code}; broker {broker} acknowledged the user at t={created_ms}ms and was not killed since"),
                    );
                    continue;
                }
                let settled_from = healed_ms.map(|h| h.max(created_ms) + BROKERS_SETTLE_MS);
                if settled_from.is_some_and(|from| *invoked_ms >= from) {
                    late_refusals.push(format!(
                        "SCRAM user refused after settling: {login} with the right password refused with code {code}; the user was acknowledged at t={created_ms}ms, the run healed at t={}ms",
                        healed_ms.unwrap_or_default()
                    ));
                }
            }
            (Credentials::Right, LoginOutcome::Ok | LoginOutcome::NoAnswer { .. }) => {}
        }
    }
    super::report_capped(liveness, late_refusals, "SCRAM user refused after settling");
}

/// When each broker was killed (by the nemesis, a role fault or a fault point).
fn kills(events: &[(u64, Event)]) -> BTreeMap<u64, Vec<u64>> {
    let mut kills: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (at_ms, event) in events {
        let Event::Fault {
            kind: "kill",
            detail,
        } = event
        else {
            continue;
        };
        let broker = (detail.strip_prefix("broker "))
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse::<u64>().ok());
        if let Some(broker) = broker {
            kills.entry(broker).or_default().push(*at_ms);
        }
    }
    kills
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(
        at_ms: u64,
        broker: u64,
        mechanism: &'static str,
        credentials: Credentials,
        outcome: LoginOutcome,
    ) -> (u64, Event) {
        (
            at_ms,
            Event::Login {
                broker,
                mechanism,
                user: "sim".into(),
                credentials,
                invoked_ms: at_ms,
                outcome,
            },
        )
    }

    fn verdict(events: &[(u64, Event)]) -> (Vec<String>, Vec<String>) {
        super::super::verdict_of(check, events)
    }

    const REFUSED: LoginOutcome = LoginOutcome::Refused { code: 58 };

    #[test]
    fn a_wrong_password_let_in_is_a_bypass_and_refused_is_fine() {
        let events = [
            login(10, 1, "PLAIN", Credentials::WrongPassword, REFUSED),
            login(20, 1, "SCRAM-SHA-256", Credentials::UnknownUser, REFUSED),
            login(
                30,
                1,
                "NONE",
                Credentials::Unauthenticated,
                LoginOutcome::NoAnswer { why: "eof".into() },
            ),
        ];
        assert_eq!(verdict(&events), (vec![], vec![]));
        let events = [
            login(10, 1, "PLAIN", Credentials::WrongPassword, LoginOutcome::Ok),
            login(
                20,
                2,
                "SCRAM-SHA-512",
                Credentials::UnknownUser,
                LoginOutcome::AcceptedUnproven,
            ),
            login(
                30,
                1,
                "NONE",
                Credentials::Unauthenticated,
                LoginOutcome::Ok,
            ),
        ];
        let (safety, _) = verdict(&events);
        assert_eq!(safety.len(), 3, "{safety:?}");
        assert!(
            safety
                .iter()
                .all(|v| v.starts_with("authentication bypass")),
            "{safety:?}"
        );
    }

    #[test]
    fn plain_refusals_of_the_right_password_are_violations_scrams_only_where_known() {
        let kill = |at_ms: u64, broker: u64| {
            let detail = format!("broker {broker}; disk Clean");
            (
                at_ms,
                Event::Fault {
                    kind: "kill",
                    detail,
                },
            )
        };
        let created = |mechanism: &'static str| {
            let user = "sim".into();
            (
                100,
                Event::ScramUserCreated {
                    broker: 1,
                    user,
                    mechanism,
                },
            )
        };
        let events = [
            login(50, 2, "PLAIN", Credentials::Right, REFUSED),
            created("SCRAM-SHA-256"),
            created("SCRAM-SHA-512"),
            // Another broker, before healing: not judged.
            login(200, 2, "SCRAM-SHA-256", Credentials::Right, REFUSED),
            // The acknowledging broker, alive since: it forgot the user.
            login(300, 1, "SCRAM-SHA-512", Credentials::Right, REFUSED),
        ];
        let (safety, liveness) = verdict(&events);
        assert_eq!(safety.len(), 2, "{safety:?}");
        assert!(safety[0].starts_with("PLAIN login refused"), "{safety:?}");
        assert!(
            safety[1].starts_with("acknowledged SCRAM user refused"),
            "{safety:?}"
        );
        assert!(liveness.is_empty());
        // Killed since: restarted, it may be replaying its metadata log.
        let events = [
            created("SCRAM-SHA-512"),
            kill(150, 1),
            login(300, 1, "SCRAM-SHA-512", Credentials::Right, REFUSED),
        ];
        assert_eq!(verdict(&events), (vec![], vec![]));
        // After settling, every broker must know the user.
        let healed = 1_000;
        let events = [
            created("SCRAM-SHA-256"),
            kill(150, 1),
            (healed, Event::Healed),
            login(
                healed + BROKERS_SETTLE_MS - 1,
                2,
                "SCRAM-SHA-256",
                Credentials::Right,
                REFUSED,
            ),
            login(
                healed + BROKERS_SETTLE_MS,
                1,
                "SCRAM-SHA-256",
                Credentials::Right,
                REFUSED,
            ),
        ];
        let (safety, liveness) = verdict(&events);
        assert!(safety.is_empty(), "{safety:?}");
        assert_eq!(liveness.len(), 1, "{liveness:?}");
        assert!(liveness[0].starts_with("SCRAM user refused after settling"));
    }
}
