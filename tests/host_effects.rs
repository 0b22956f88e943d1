//! The host executes every kind of effect: timers fire in deadline order, a cancelled timer never
//! fires, re-arming replaces the deadline, a sync comes back as `Input::Synced`, self-sends are
//! delivered, and a request gets its reply.
#![cfg(not(madsim))]

use std::collections::BTreeMap;

use rill::actor::{Actor, ActorId, Ctx, Input, TimerKey};
use rill::host::{Node, NodeConfig};
use rill::storage::SyncHandle;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Msg {
    Note(String),
    GetLog,
    Log(Vec<String>),
}

#[derive(Default)]
struct Recorder {
    log: Vec<String>,
}

impl Actor<Msg> for Recorder {
    fn handle(&mut self, ctx: &mut Ctx<'_, Msg>, input: Input<Msg>) {
        match input {
            Input::Start => {
                ctx.set_timer(TimerKey(1), 60);
                ctx.set_timer(TimerKey(2), 10);
                ctx.set_timer(TimerKey(3), 20);
                ctx.cancel_timer(TimerKey(3)); // never fires
                ctx.set_timer(TimerKey(2), 40); // re-armed: fires once, after 40 ms
                ctx.sync(9, SyncHandle::new(Vec::new()));
                let me = ctx.me;
                ctx.send(me, Msg::Note("self".into()));
            }
            Input::Timer { key } => {
                self.log
                    .push(format!("timer {} at>={}", key.0, ctx.now.mono_ms >= 40));
            }
            Input::Synced { token, result } => self.log.push(format!("synced {token} {result:?}")),
            Input::Msg {
                msg: Msg::Note(note),
                ..
            } => self.log.push(format!("note {note}")),
            Input::Request {
                id,
                msg: Msg::GetLog,
            } => ctx.reply(id, Msg::Log(self.log.clone())),
            other => self.log.push(format!("unexpected {other:?}")),
        }
    }
}

#[tokio::test]
async fn timers_syncs_self_sends_and_requests() {
    let config = NodeConfig {
        node_id: 1,
        listen: "127.0.0.1:0".parse().unwrap(),
        peers: BTreeMap::new(),
    };
    let node = Node::start(
        config,
        vec![(
            ActorId(1),
            Box::new(Recorder::default()) as Box<dyn Actor<Msg>>,
        )],
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
            "timer 2 at>=true".to_string(),
            "timer 1 at>=true".to_string()
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
