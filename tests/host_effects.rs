//! The host executes every kind of effect: timers (keyed by the actor's own timer enum) fire in
//! deadline order, a cancelled timer never fires, re-arming replaces the deadline, a sync comes back as `Input::Synced`, self-sends are
//! delivered, and a request gets its reply.
#![cfg(not(madsim))]

use std::collections::BTreeMap;

use rill::actor::{Actor, ActorId, Ctx, Input, NodeId};
use rill::host::{Node, NodeActor, NodeConfig};

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Msg {
    Note(String),
    GetLog,
    Log(Vec<String>),
}

/// Variants with and without payloads, whose derived order (`Slow` < `Fast` < `Dropped(_)`) differs
/// from their deadline order: firing must follow deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Slow,
    Fast,
    Dropped(u8),
}

#[derive(Default)]
struct Recorder {
    log: Vec<String>,
}

impl Actor<Msg> for Recorder {
    type Timer = Timer;

    fn handle(&mut self, ctx: &mut Ctx<'_, Msg, Timer>, input: Input<Msg, Timer>) {
        match input {
            Input::Start => {
                ctx.set_timer(Timer::Slow, 60);
                ctx.set_timer(Timer::Fast, 10);
                ctx.set_timer(Timer::Dropped(3), 20);
                ctx.cancel_timer(Timer::Dropped(3)); // never fires
                ctx.set_timer(Timer::Fast, 40); // re-armed: fires once, after 40 ms
                ctx.sync(9, Vec::new());
                let me = ctx.me;
                ctx.send(me, Msg::Note("self".into()));
            }
            Input::Timer { key } => {
                self.log
                    .push(format!("timer {key:?} at>={}", ctx.now.mono_ms >= 40));
            }
            Input::Synced { token, result } => self.log.push(format!("synced {token} {result:?}")),
            Input::Msg {
                msg: Msg::Note(note),
                ..
            } => self.log.push(format!("note {note}")),
            Input::Request {
                id,
                msg: Msg::GetLog,
                ..
            } => ctx.reply(id, Msg::Log(self.log.clone())),
            other => self.log.push(format!("unexpected {other:?}")),
        }
    }
}

#[tokio::test]
async fn timers_syncs_self_sends_and_requests() {
    let config = NodeConfig {
        node_id: NodeId(1),
        listen: "127.0.0.1:0".parse().unwrap(),
        peers: BTreeMap::new(),
    };
    let node = Node::start(
        config,
        vec![(ActorId(1), NodeActor::new(Recorder::default()))],
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let Msg::Log(log) = node
        .handle()
        .request(ActorId(1), Msg::GetLog)
        .await
        .unwrap()
    else {
        panic!("wrong reply")
    };
    // The self-send and the sync come first (no waiting), then the timers by deadline.
    assert_eq!(log.len(), 4, "{log:?}");
    assert!(log[..2].contains(&"note self".to_string()), "{log:?}");
    assert!(log[..2].contains(&"synced 9 Ok(())".to_string()), "{log:?}");
    assert_eq!(
        log[2..],
        [
            "timer Fast at>=true".to_string(),
            "timer Slow at>=true".to_string()
        ]
    );
    assert!(
        node.handle()
            .request(ActorId(2), Msg::GetLog)
            .await
            .is_err(),
        "no such actor"
    );
    node.shutdown();
}
