//! The cell driven by hand, with no runtime: virtual time, inputs fed one at a time.

use rand::SeedableRng;

use super::*;
use crate::actor::{ActorId, NodeId};

/// A timer type with unit and id-carrying variants whose derived order differs from the
/// deadline order the tests arm them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Tick,
    Retry(u8),
}

#[derive(Debug, PartialEq)]
enum Msg {
    Arm(Key, u64),
    Cancel(Key),
    /// Sent to itself: must be handled before the cell returns.
    Loop(u8),
    Ask,
    Answer(Vec<String>),
    /// Makes the actor call `to` with `Ping`.
    CallOut {
        to: Addr,
        timeout_ms: u64,
    },
    Ping,
    Pong,
}

/// Logs every input with the time it saw; obeys `Arm`/`Cancel`/`CallOut`; answers `Ask` with
/// its log and a `Ping` request with `Pong`.
#[derive(Default)]
struct Recorder {
    log: Vec<String>,
}

impl Actor<Msg> for Recorder {
    type Timer = Key;

    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Key>, input: Input<Msg, Key>) {
        let at = ctx.now.mono_ms;
        match input {
            Input::Start => {} // every test starts with it; not worth a log line
            Input::Msg {
                msg: Msg::Arm(key, after_ms),
                ..
            } => ctx.set_timer(key, after_ms),
            Input::Msg {
                msg: Msg::Cancel(key),
                ..
            } => ctx.cancel_timer(key),
            Input::Msg {
                msg: Msg::Loop(n), ..
            } => {
                self.log.push(format!("loop {n} at {at}"));
                if n > 0 {
                    let me = ctx.me;
                    ctx.send(me, Msg::Loop(n - 1));
                }
            }
            Input::Msg {
                msg: Msg::CallOut { to, timeout_ms },
                ..
            } => {
                let call = ctx.call(to, Msg::Ping, timeout_ms);
                self.log
                    .push(format!("{call:?} to node {} at {at}", to.node));
            }
            Input::Request {
                id,
                msg: Msg::Ask,
                from: Origin::Host,
            } => ctx.reply(id, Msg::Answer(self.log.clone())),
            Input::Request {
                id,
                from,
                msg: Msg::Ping,
            } => {
                self.log.push(format!("ping from {from:?} at {at}"));
                ctx.reply(id, Msg::Pong);
            }
            other => self.log.push(format!("{other:?} at {at}")),
        }
    }
}

/// The host's reply handle, reduced to a name.
type Ticket = &'static str;

struct Driver {
    cell: ActorCell<Msg, Recorder, Ticket>,
    now_ms: u64,
}

const ME: Addr = Addr {
    node: NodeId(1),
    actor: ActorId(1),
};
const PEER: Addr = Addr {
    node: NodeId(2),
    actor: ActorId(1),
};

impl Driver {
    fn new() -> Self {
        let mut driver = Self {
            cell: ActorCell::new(ME, Recorder::default(), SmallRng::seed_from_u64(1)),
            now_ms: 0,
        };
        assert!(driver.on(CellInput::Start).is_empty());
        driver
    }

    fn on(&mut self, input: CellInput<Msg, Ticket>) -> Vec<CellOutput<Msg, Ticket>> {
        let mut out = Vec::new();
        self.cell
            .on(CellNow::at_ms(0, self.now_ms), input, &mut out);
        out
    }

    fn msg(&mut self, msg: Msg) -> Vec<CellOutput<Msg, Ticket>> {
        self.on(CellInput::Msg { from: PEER, msg })
    }

    /// What a driver does: advance to the next deadline, if it is not later than `until_ms`,
    /// and fire it. Returns false when nothing is due by then.
    fn fire_next(&mut self, until_ms: u64) -> bool {
        match self.cell.next_deadline_ns() {
            Some(ns) if ns <= until_ms * NS_PER_MS => {
                assert_eq!(ns % NS_PER_MS, 0, "deadlines stay on the ms grid");
                self.now_ms = ns / NS_PER_MS;
                assert!(self.on(CellInput::TimerDue).is_empty());
                true
            }
            _ => {
                self.now_ms = until_ms;
                false
            }
        }
    }

    fn run_until(&mut self, until_ms: u64) {
        while self.fire_next(until_ms) {}
    }

    fn log(&mut self) -> Vec<String> {
        match self
            .on(CellInput::Request {
                reply: "log",
                msg: Msg::Ask,
            })
            .as_slice()
        {
            [CellOutput::Reply {
                to: "log",
                msg: Msg::Answer(log),
            }] => log.clone(),
            other => panic!("expected one reply to the ticket, got {other:?}"),
        }
    }
}

#[test]
fn timers_fire_in_deadline_order_at_their_deadline() {
    let mut d = Driver::new();
    d.msg(Msg::Arm(Key::Tick, 30));
    d.msg(Msg::Arm(Key::Retry(2), 10));
    d.now_ms = 5;
    d.msg(Msg::Arm(Key::Retry(1), 10)); // armed later: due at 15
    assert_eq!(d.cell.next_deadline_ns(), Some(10 * NS_PER_MS));
    d.run_until(100);
    assert_eq!(
        d.log(),
        [
            "Timer { key: Retry(2) } at 10",
            "Timer { key: Retry(1) } at 15",
            "Timer { key: Tick } at 30",
        ]
    );
    assert_eq!(d.cell.next_deadline_ns(), None);
}

#[test]
fn re_arming_moves_the_deadline_and_the_timer_fires_once() {
    let mut d = Driver::new();
    d.msg(Msg::Arm(Key::Tick, 10));
    d.msg(Msg::Arm(Key::Retry(0), 20));
    d.now_ms = 8;
    d.msg(Msg::Arm(Key::Tick, 20)); // now due at 28, after Retry(0)
    d.run_until(100);
    assert_eq!(
        d.log(),
        ["Timer { key: Retry(0) } at 20", "Timer { key: Tick } at 28"]
    );
}

#[test]
fn a_cancelled_timer_never_fires_and_a_fired_one_can_be_re_armed() {
    let mut d = Driver::new();
    d.msg(Msg::Arm(Key::Retry(1), 10));
    d.msg(Msg::Arm(Key::Retry(2), 10));
    d.msg(Msg::Cancel(Key::Retry(1)));
    d.msg(Msg::Cancel(Key::Tick)); // never armed: ignored
    d.run_until(50);
    d.msg(Msg::Cancel(Key::Retry(2))); // already fired: ignored
    d.msg(Msg::Arm(Key::Retry(2), 5));
    d.run_until(100);
    assert_eq!(
        d.log(),
        [
            "Timer { key: Retry(2) } at 10",
            "Timer { key: Retry(2) } at 55"
        ]
    );
}

#[test]
fn a_timer_cancelled_after_the_driver_computed_its_deadline_does_not_fire() {
    let mut d = Driver::new();
    d.msg(Msg::Arm(Key::Tick, 10));
    assert!(d.cell.next_deadline_ns().is_some());
    d.msg(Msg::Cancel(Key::Tick));
    // A driver that slept until the old deadline still says `TimerDue`: nothing happens.
    d.now_ms = 10;
    assert!(d.on(CellInput::TimerDue).is_empty());
    assert_eq!(d.log(), Vec::<String>::new());
}

#[test]
fn self_sends_run_before_the_cell_returns_and_other_effects_come_out_in_order() {
    let mut d = Driver::new();
    assert!(d.msg(Msg::Loop(2)).is_empty());
    assert_eq!(d.log(), ["loop 2 at 0", "loop 1 at 0", "loop 0 at 0"]);

    let synced = d.on(CellInput::Synced {
        token: 4,
        result: Err("disk".into()),
    });
    assert!(synced.is_empty());
    assert_eq!(
        d.log().last().unwrap(),
        r#"Synced { token: 4, result: Err("disk") } at 0"#
    );
}

impl Driver {
    /// Makes the actor call `to`; returns what came out.
    fn call_out(&mut self, to: Addr, timeout_ms: u64) -> Vec<CellOutput<Msg, Ticket>> {
        self.msg(Msg::CallOut { to, timeout_ms })
    }

    fn reply(&mut self, call: u64) -> Vec<CellOutput<Msg, Ticket>> {
        self.on(CellInput::Reply {
            call: CallId(call),
            msg: Msg::Pong,
        })
    }
}

#[test]
fn a_call_goes_out_once_and_its_reply_before_the_deadline_reaches_the_actor() {
    let mut d = Driver::new();
    let out = d.call_out(PEER, 100);
    assert!(
        matches!(
            out.as_slice(),
            [CellOutput::Call {
                to: PEER,
                call: CallId(0),
                msg: Msg::Ping
            }]
        ),
        "{out:?}"
    );
    assert_eq!(d.cell.next_deadline_ns(), Some(100 * NS_PER_MS));
    d.now_ms = 30;
    assert!(d.reply(0).is_empty());
    // The reply disarmed the timeout: nothing fires, ever.
    assert_eq!(d.cell.next_deadline_ns(), None);
    d.run_until(1_000);
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 0",
            "Reply { call: CallId(0), msg: Pong } at 30"
        ]
    );
}

#[test]
fn a_call_without_a_reply_fails_with_timed_out_at_its_deadline_and_a_late_reply_is_dropped() {
    let mut d = Driver::new();
    d.now_ms = 10;
    d.call_out(PEER, 50);
    d.run_until(200);
    d.reply(0); // late
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 10",
            "CallFailed { call: CallId(0), why: TimedOut } at 60"
        ]
    );
}

#[test]
fn a_duplicate_reply_is_dropped() {
    let mut d = Driver::new();
    d.call_out(PEER, 50);
    d.reply(0);
    d.now_ms = 5;
    d.reply(0); // e.g. a retransmitted frame
    d.reply(7); // never called
    d.run_until(200);
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 0",
            "Reply { call: CallId(0), msg: Pong } at 0"
        ]
    );
}

#[test]
fn an_unsendable_call_fails_once_as_unreachable_and_never_times_out() {
    let mut d = Driver::new();
    d.call_out(PEER, 50);
    d.on(CellInput::Unreachable { call: CallId(0) });
    d.on(CellInput::Unreachable { call: CallId(0) });
    d.run_until(200);
    d.reply(0);
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 0",
            "CallFailed { call: CallId(0), why: Unreachable } at 0"
        ]
    );
}

#[test]
fn each_call_has_its_own_id_and_its_own_end() {
    let mut d = Driver::new();
    d.call_out(PEER, 50);
    d.call_out(PEER, 80);
    d.now_ms = 10;
    d.reply(1);
    d.run_until(200);
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 0",
            "CallId(1) to node 2 at 0",
            "Reply { call: CallId(1), msg: Pong } at 10",
            "CallFailed { call: CallId(0), why: TimedOut } at 50"
        ]
    );
}

#[test]
fn call_timeouts_and_timers_share_one_deadline_order() {
    let mut d = Driver::new();
    d.msg(Msg::Arm(Key::Tick, 20));
    d.call_out(PEER, 20); // same deadline, armed later: fires second
    d.msg(Msg::Arm(Key::Retry(1), 10));
    d.run_until(100);
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 2 at 0",
            "Timer { key: Retry(1) } at 10",
            "Timer { key: Tick } at 20",
            "CallFailed { call: CallId(0), why: TimedOut } at 20"
        ]
    );
}

#[test]
fn a_call_from_another_actor_is_answered_to_that_actor_and_call() {
    let mut d = Driver::new();
    let out = d.on(CellInput::Call {
        from: PEER,
        call: CallId(7),
        msg: Msg::Ping,
    });
    assert!(
        matches!(
            out.as_slice(),
            [CellOutput::CallReply {
                to: PEER,
                call: CallId(7),
                msg: Msg::Pong
            }]
        ),
        "{out:?}"
    );
    let peer = format!("ping from {:?} at 0", Origin::Actor(PEER));
    assert_eq!(d.log(), [peer]);
}

#[test]
fn a_call_to_itself_is_answered_inside_the_cell() {
    let mut d = Driver::new();
    assert!(d.call_out(ME, 50).is_empty());
    assert_eq!(d.cell.next_deadline_ns(), None, "answered: no timeout left");
    assert_eq!(
        d.log(),
        [
            "CallId(0) to node 1 at 0".to_string(),
            format!("ping from {:?} at 0", Origin::Actor(ME)),
            "Reply { call: CallId(0), msg: Pong } at 0".to_string(),
        ]
    );
}
