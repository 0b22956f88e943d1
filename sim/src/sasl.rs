//! SASL on the workload's connections (`--sasl`, issue 16). In a SASL run every broker's Kafka
//! listener is `SASL_PLAINTEXT` with PLAIN and both SCRAMs enabled (the controller listeners
//! stay `PLAINTEXT`: they carry Rill's own inter-node protocol), and every workload connection
//! ([`crate::client::Connection::connect`]) logs in before its first request:
//!
//! * PLAIN as the workload's user, whose password is in the listener's JAAS users (static);
//! * once the workload's SCRAM user exists (created through PLAIN as `admin` by
//!   `workload::sasl::create_scram_user`, in the metadata log), PLAIN, SCRAM-SHA-256 or
//!   SCRAM-SHA-512, drawn per connection;
//! * now and then a connection first tries a wrong password or an unknown user (which the
//!   broker must refuse), sends a Metadata request without logging in (which the broker must
//!   not answer), or leaves a login half done (the client gone mid-exchange), then logs in
//!   properly; and every run tries the administrator's wrong password and each SCRAM's wrong
//!   password once (`workload::sasl`), whatever its connections draw.
//!
//! The client keeps the SCRAM user's salted password (`ScramClient::keep_salted`), so its
//! right logins skip PBKDF2's 4096 HMACs; wrong ones salt theirs as any client would.
//!
//! The brokers' authorizer is on too (Kafka's `StandardAuthorizer`, no ACL, the administrator
//! and the workload's user super users): the workload is allowed everything as before, and a
//! third PLAIN user, the intruder `eve` (`workload::intruder`), logs in and is refused every
//! request (`checker::acl`).
//!
//! Every attempt is an `Event::Login` in the history; `checker::sasl` judges them. A failed
//! login fails the connect: its callers already retry connections, and draw a mechanism
//! afresh (so a broker that has not applied the SCRAM user yet does not starve them).
//!
//! The run's settings live in a thread-local, set at the start of `run::scenario`: one run is
//! one thread (as `rill::faults`' canary switch), and every simulated node's task runs on it.
//! Draws come from madsim's RNG, so a seed replays; a run without SASL draws nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use rand::Rng;
use rill::config::STANDARD_AUTHORIZER;
use rill::security::sasl::SaslMechanism;
use rill::security::scram::SaltedPassword;
use rill::security::{plain, ScramClient, ScramMechanism};
use tokio::time::Instant;

use crate::client::{CallError, Connection};
use crate::history::{Credentials, Event, History, LoginOutcome};

/// PLAIN's administrator (a user of the listener's JAAS config): creates the SCRAM user.
pub const ADMIN_USER: &str = "admin";
const ADMIN_PASSWORD: &str = "admin-secret";
/// The workload's user: PLAIN's password is in the JAAS config, SCRAM's another one, in the
/// metadata log once created. Each is the other mechanism's wrong password.
pub const USER: &str = "sim";
const PLAIN_PASSWORD: &str = "sim-plain-secret";
pub const SCRAM_PASSWORD: &str = "sim-scram-secret";
/// A user neither mechanism knows.
const UNKNOWN_USER: &str = "mallory";
/// The intruder (`workload::intruder`): a PLAIN user of the listener's JAAS config, so her
/// logins succeed, with no ACL and not a super user, so every request she makes of the
/// workload's topic and group must be refused.
pub const INTRUDER_USER: &str = "eve";
const INTRUDER_PASSWORD: &str = "eve-secret";
/// The SCRAM user's iteration count: Kafka's minimum (every client login hashes the password
/// this many times).
pub const SCRAM_ITERATIONS: u32 = ScramMechanism::ITERATIONS_MIN;

/// How often a connection first tries a wrong password or an unknown user.
const WRONG_FIRST: f64 = 0.04;
/// How often (of the others) a connection first sends a request without logging in.
const UNAUTHENTICATED_FIRST: f64 = 0.01;
/// How often (of the others) a connection first leaves a login half done.
const ABANDONED_FIRST: f64 = 0.01;

/// The listener name Kafka's default protocol map gives `SASL_PLAINTEXT://`.
const LISTENER: &str = "sasl_plaintext";

/// The broker settings of a SASL run besides its listener's protocol: the mechanisms, PLAIN
/// allowed over plain TCP (Rill's switch), PLAIN's users, and the authorizer, with the
/// administrator and the workload's user as super users (allowed everything, whatever the
/// ACLs: the workload runs as without one) and no ACL at all (so the intruder, no super user,
/// is denied everything; `allow.everyone.if.no.acl.found` stays Kafka's default, false).
pub fn server_overrides() -> Vec<String> {
    vec![
        "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN".to_string(),
        "rill.sasl.plain.over.plaintext.enable=true".to_string(),
        format!(
            "listener.name.{LISTENER}.plain.sasl.jaas.config=\
             org.apache.kafka.common.security.plain.PlainLoginModule required \
             user_{ADMIN_USER}=\"{ADMIN_PASSWORD}\" user_{USER}=\"{PLAIN_PASSWORD}\" \
             user_{INTRUDER_USER}=\"{INTRUDER_PASSWORD}\";"
        ),
        format!("authorizer.class.name={STANDARD_AUTHORIZER}"),
        format!("super.users=User:{ADMIN_USER};User:{USER}"),
    ]
}

/// What a SASL run's clients share.
pub struct SaslRun {
    pub history: History,
    pub started: Instant,
    /// Each broker's Kafka address, with its node id.
    pub brokers: BTreeMap<SocketAddr, u64>,
}

struct State {
    run: SaslRun,
    /// The mechanisms logins are drawn from: PLAIN, and each SCRAM once the workload user's
    /// credential for it was acknowledged.
    mechanisms: Vec<SaslMechanism>,
    /// The SCRAM user's password salted as its credentials are (RFC 5802's client cache):
    /// its right logins skip the thousands of HMACs (a debug build's ~40 ms a login).
    salted: BTreeMap<ScramMechanism, SaltedPassword>,
}

thread_local! {
    static RUN: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Sets this thread's run: `None` for a run without SASL (its connections log in to nothing).
pub fn start(run: Option<SaslRun>) {
    RUN.with(|r| {
        *r.borrow_mut() = run.map(|run| State {
            run,
            mechanisms: vec![SaslMechanism::Plain],
            salted: BTreeMap::new(),
        })
    });
}

/// Whether the run has SASL.
pub fn enabled() -> bool {
    RUN.with(|r| r.borrow().is_some())
}

/// Records that broker `addr` acknowledged the SCRAM user's `mechanism` credential, made of
/// `salted`: later connections may log in with it.
pub fn scram_user_created(addr: SocketAddr, mechanism: ScramMechanism, salted: SaltedPassword) {
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        let Some(state) = r.as_mut() else { return };
        state.mechanisms.push(SaslMechanism::Scram(mechanism));
        state.salted.insert(mechanism, salted);
        let event = Event::ScramUserCreated {
            broker: broker_id(&state.run, addr),
            user: USER.to_string(),
            mechanism: mechanism.name(),
        };
        let at = state.run.started.elapsed().as_millis() as u64;
        state.run.history.record(at, event);
    });
}

/// Broker `addr`'s node id as the history names it (0: unknown, or a run without SASL).
pub fn broker_of(addr: SocketAddr) -> u64 {
    RUN.with(|r| (r.borrow().as_ref()).map_or(0, |state| broker_id(&state.run, addr)))
}

fn broker_id(run: &SaslRun, addr: SocketAddr) -> u64 {
    run.brokers.get(&addr).copied().unwrap_or(0)
}

/// One login: what it names and proves with.
#[derive(Clone, Debug)]
pub struct Login {
    pub mechanism: SaslMechanism,
    pub user: &'static str,
    pub password: &'static str,
    pub credentials: Credentials,
}

impl Login {
    /// PLAIN as the administrator.
    pub fn admin() -> Login {
        Login {
            mechanism: SaslMechanism::Plain,
            user: ADMIN_USER,
            password: ADMIN_PASSWORD,
            credentials: Credentials::Right,
        }
    }

    /// PLAIN as the intruder, with her right password: let in, then refused by the ACLs.
    pub fn intruder() -> Login {
        Login {
            mechanism: SaslMechanism::Plain,
            user: INTRUDER_USER,
            password: INTRUDER_PASSWORD,
            credentials: Credentials::Right,
        }
    }

    /// PLAIN as the administrator with a wrong password.
    pub fn admin_wrong() -> Login {
        Login {
            password: "admin-secreT",
            credentials: Credentials::WrongPassword,
            ..Login::admin()
        }
    }

    /// SCRAM as the workload user with PLAIN's password (a wrong one for SCRAM).
    pub fn scram_wrong(mechanism: ScramMechanism) -> Login {
        Login {
            password: PLAIN_PASSWORD,
            credentials: Credentials::WrongPassword,
            ..Login::right(SaslMechanism::Scram(mechanism))
        }
    }

    /// The workload user's right login with `mechanism`.
    fn right(mechanism: SaslMechanism) -> Login {
        let password = match mechanism {
            SaslMechanism::Plain => PLAIN_PASSWORD,
            SaslMechanism::Scram(_) => SCRAM_PASSWORD,
        };
        Login {
            mechanism,
            user: USER,
            password,
            credentials: Credentials::Right,
        }
    }

    /// A login the broker must refuse: a known user's wrong password (the other mechanism's,
    /// the other user's, one letter off) or an unknown user; PLAIN half the time (its users
    /// are always there; the canary `sasl-any-plain-password` is planted in it).
    fn wrong(rng: &mut impl Rng) -> Login {
        let mechanism = match rng.gen_range(0..4) {
            0 | 1 => SaslMechanism::Plain,
            2 => SaslMechanism::Scram(ScramMechanism::Sha256),
            _ => SaslMechanism::Scram(ScramMechanism::Sha512),
        };
        let (user, password, credentials) = match (mechanism, rng.gen_range(0..4)) {
            (SaslMechanism::Plain, 0) => (USER, SCRAM_PASSWORD, Credentials::WrongPassword),
            (SaslMechanism::Plain, 1) => (USER, "sim-plain-secreT", Credentials::WrongPassword),
            (SaslMechanism::Plain, 2) => (ADMIN_USER, PLAIN_PASSWORD, Credentials::WrongPassword),
            (SaslMechanism::Scram(_), 0) => (USER, PLAIN_PASSWORD, Credentials::WrongPassword),
            (SaslMechanism::Scram(_), 1) => (USER, "sim-scram-secreT", Credentials::WrongPassword),
            // The administrator has no SCRAM credential.
            (SaslMechanism::Scram(_), 2) => (ADMIN_USER, ADMIN_PASSWORD, Credentials::UnknownUser),
            (SaslMechanism::Plain, _) => (UNKNOWN_USER, PLAIN_PASSWORD, Credentials::UnknownUser),
            (SaslMechanism::Scram(_), _) => {
                (UNKNOWN_USER, SCRAM_PASSWORD, Credentials::UnknownUser)
            }
        };
        Login {
            mechanism,
            user,
            password,
            credentials,
        }
    }
}

/// What a connect does after its TCP connection: maybe a probe first, then its login.
struct Plan {
    probe: Option<Probe>,
    login: Login,
}

enum Probe {
    /// A login the broker must refuse, on a connection of its own.
    Wrong(Login),
    /// A Metadata request before any login, which the broker must not answer.
    Unauthenticated,
    /// A right login the client leaves after the handshake (or SCRAM's first round): the
    /// broker drops the half-done session with the connection.
    Abandoned(Login),
}

/// This connect's plan, drawn from madsim's RNG; `None` in a run without SASL.
fn plan() -> Option<Plan> {
    RUN.with(|r| {
        let r = r.borrow();
        let state = r.as_ref()?;
        let mut rng = madsim::rand::thread_rng();
        let mechanism = state.mechanisms[rng.gen_range(0..state.mechanisms.len())];
        let probe = if rng.gen_bool(WRONG_FIRST) {
            Some(Probe::Wrong(Login::wrong(&mut rng)))
        } else if rng.gen_bool(UNAUTHENTICATED_FIRST) {
            Some(Probe::Unauthenticated)
        } else if rng.gen_bool(ABANDONED_FIRST) {
            Some(Probe::Abandoned(Login::right(mechanism)))
        } else {
            None
        };
        Some(Plan {
            probe,
            login: Login::right(mechanism),
        })
    })
}

/// Logs a new connection to `addr` in as the run's plan says, after its probe if it drew one:
/// the connection, or why not (a refused login is an error: callers retry). Without SASL,
/// the plain TCP connection.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Connection, CallError> {
    let Some(plan) = plan() else {
        return Connection::open(addr, timeout).await;
    };
    match plan.probe {
        Some(Probe::Wrong(login)) => {
            if let Ok(mut probe) = Connection::open(addr, timeout).await {
                log_in(&mut probe, addr, &login, timeout).await;
            }
        }
        Some(Probe::Unauthenticated) => {
            if let Ok(mut probe) = Connection::open(addr, timeout).await {
                unauthenticated(&mut probe, addr, timeout).await;
            }
        }
        Some(Probe::Abandoned(login)) => {
            if let Ok(mut probe) = Connection::open(addr, timeout).await {
                abandon(&mut probe, addr, &login, timeout).await;
            }
        }
        None => {}
    }
    connect_as(addr, &plan.login, timeout).await
}

/// `login`, which the broker must refuse, at `addr` on a connection of its own (recorded as
/// every login; nothing is retried).
pub async fn try_wrong(addr: SocketAddr, login: &Login, timeout: Duration) {
    if let Ok(mut conn) = Connection::open(addr, timeout).await {
        log_in(&mut conn, addr, login, timeout).await;
    }
}

/// A new connection to `addr` logged in with `login`.
pub async fn connect_as(
    addr: SocketAddr,
    login: &Login,
    timeout: Duration,
) -> Result<Connection, CallError> {
    let mut conn = Connection::open(addr, timeout).await?;
    match log_in(&mut conn, addr, login, timeout).await {
        LoginOutcome::Ok => Ok(conn),
        outcome => Err(CallError::Protocol(format!(
            "SASL {} login: {outcome:?}",
            login.mechanism
        ))),
    }
}

/// Runs `login` on `conn` and records it.
async fn log_in(
    conn: &mut Connection,
    addr: SocketAddr,
    login: &Login,
    timeout: Duration,
) -> LoginOutcome {
    let invoked_ms = now_ms();
    let outcome = exchange(conn, login, timeout).await;
    let name = login.mechanism.name();
    record(
        addr,
        name,
        login.user,
        login.credentials,
        invoked_ms,
        outcome.clone(),
    );
    outcome
}

/// SaslHandshake v1, then SaslAuthenticate v2 with PLAIN's one message or SCRAM's two.
async fn exchange(conn: &mut Connection, login: &Login, timeout: Duration) -> LoginOutcome {
    let handshake = SaslHandshakeRequest::default()
        .with_mechanism(StrBytes::from_static_str(login.mechanism.name()));
    let answer: SaslHandshakeResponse = match conn
        .call(ApiKey::SaslHandshake, 1, &handshake, timeout)
        .await
    {
        Ok(answer) => answer,
        Err(error) => return no_answer(error),
    };
    if answer.error_code != 0 {
        return LoginOutcome::Refused {
            code: answer.error_code,
        };
    }
    match login.mechanism {
        SaslMechanism::Plain => {
            let token = plain::client_first(login.user, login.password);
            match authenticate(conn, token, timeout).await {
                Ok(_) => LoginOutcome::Ok,
                Err(outcome) => outcome,
            }
        }
        SaslMechanism::Scram(mechanism) => {
            let nonce = client_nonce();
            let (mut client, first) =
                ScramClient::new(mechanism, login.user, login.password, &nonce);
            if let Some(salted) = kept_salted(mechanism, login) {
                client.keep_salted(salted);
            }
            let server_first = match authenticate(conn, first, timeout).await {
                Ok(bytes) => bytes,
                Err(outcome) => return outcome,
            };
            let last = match client.server_first(&server_first) {
                Ok(last) => last,
                Err(error) => {
                    return LoginOutcome::Malformed {
                        why: error.to_string(),
                    }
                }
            };
            let server_final = match authenticate(conn, last, timeout).await {
                Ok(bytes) => bytes,
                Err(outcome) => return outcome,
            };
            match client.server_final(&server_final) {
                Ok(()) => LoginOutcome::Ok,
                Err(_) => LoginOutcome::AcceptedUnproven,
            }
        }
    }
}

/// One SaslAuthenticate round: the broker's token, or how the login ended.
async fn authenticate(
    conn: &mut Connection,
    token: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, LoginOutcome> {
    let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token));
    let answer: SaslAuthenticateResponse = conn
        .call(ApiKey::SaslAuthenticate, 2, &request, timeout)
        .await
        .map_err(no_answer)?;
    if answer.error_code != 0 {
        return Err(LoginOutcome::Refused {
            code: answer.error_code,
        });
    }
    Ok(answer.auth_bytes)
}

/// A Metadata request on a connection that has not logged in: the broker must close it
/// unanswered. Recorded as a login with mechanism "NONE".
async fn unauthenticated(conn: &mut Connection, addr: SocketAddr, timeout: Duration) {
    let invoked_ms = now_ms();
    let answer = conn
        .call::<_, MetadataResponse>(ApiKey::Metadata, 12, &MetadataRequest::default(), timeout)
        .await;
    let outcome = match answer {
        Ok(_) => LoginOutcome::Ok,
        Err(error) => no_answer(error),
    };
    let none = Credentials::Unauthenticated;
    record(addr, "NONE", "", none, invoked_ms, outcome);
}

/// `login` left after the handshake (PLAIN) or SCRAM's first round: the client drops the
/// connection there. Recorded as a login without an answer (a refusal on the way as itself).
async fn abandon(conn: &mut Connection, addr: SocketAddr, login: &Login, timeout: Duration) {
    let invoked_ms = now_ms();
    let handshake = SaslHandshakeRequest::default()
        .with_mechanism(StrBytes::from_static_str(login.mechanism.name()));
    let answer = conn
        .call::<_, SaslHandshakeResponse>(ApiKey::SaslHandshake, 1, &handshake, timeout)
        .await;
    let outcome = match (answer, login.mechanism) {
        (Err(error), _) => no_answer(error),
        (Ok(answer), _) if answer.error_code != 0 => LoginOutcome::Refused {
            code: answer.error_code,
        },
        (Ok(_), SaslMechanism::Plain) => LoginOutcome::NoAnswer {
            why: "the client left after the handshake".into(),
        },
        (Ok(_), SaslMechanism::Scram(mechanism)) => {
            let nonce = client_nonce();
            let (_, first) = ScramClient::new(mechanism, login.user, login.password, &nonce);
            match authenticate(conn, first, timeout).await {
                Ok(_) => LoginOutcome::NoAnswer {
                    why: "the client left after SCRAM's first round".into(),
                },
                Err(outcome) => outcome,
            }
        }
    };
    let name = login.mechanism.name();
    record(
        addr,
        name,
        login.user,
        login.credentials,
        invoked_ms,
        outcome,
    );
}

fn no_answer(error: CallError) -> LoginOutcome {
    LoginOutcome::NoAnswer {
        why: error.to_string(),
    }
}

/// The SCRAM user's salted password for `login`, when it is that user's right one.
fn kept_salted(mechanism: ScramMechanism, login: &Login) -> Option<SaltedPassword> {
    if (login.user, login.password) != (USER, SCRAM_PASSWORD) {
        return None;
    }
    RUN.with(|r| r.borrow().as_ref()?.salted.get(&mechanism).cloned())
}

/// SCRAM's client nonce: 24 letters and digits from madsim's RNG.
fn client_nonce() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = madsim::rand::thread_rng();
    (0..24)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

fn now_ms() -> u64 {
    RUN.with(|r| {
        (r.borrow().as_ref()).map_or(0, |state| state.run.started.elapsed().as_millis() as u64)
    })
}

fn record(
    addr: SocketAddr,
    mechanism: &'static str,
    user: &str,
    credentials: Credentials,
    invoked_ms: u64,
    outcome: LoginOutcome,
) {
    RUN.with(|r| {
        let r = r.borrow();
        let Some(state) = r.as_ref() else { return };
        let event = Event::Login {
            broker: broker_id(&state.run, addr),
            mechanism,
            user: user.to_string(),
            credentials,
            invoked_ms,
            outcome,
        };
        let at = state.run.started.elapsed().as_millis() as u64;
        state.run.history.record(at, event);
    });
}
