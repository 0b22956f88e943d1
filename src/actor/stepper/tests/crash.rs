//! Crash and restart: what was synced survives, what was not is lost.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::actor::stepper::*;
use crate::actor::{Actor, ActorId, Addr, Ctx, Input, NoTimer, RequestId};
use crate::storage::mem::MemStorage;
use crate::storage::{Storage, StorageFile};

const COUNTER: ActorId = ActorId(3);
const COUNT_FILE: &str = "count";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum CountMsg {
    /// Adds one; answered with the new count once it is synced.
    Incr,
    /// Answered at once with the count, synced or not.
    Get,
    Count(u64),
}

/// A counter kept as one byte per increment in a file: what a crash leaves of it is what was
/// synced.
struct Counter {
    storage: MemStorage,
    file: Option<Arc<dyn StorageFile>>,
    count: u64,
    /// Increments waiting for their sync, by sync token.
    unsynced: BTreeMap<u64, (RequestId, u64)>,
    next_token: u64,
}

impl Counter {
    fn new(storage: &MemStorage) -> Self {
        Self {
            storage: storage.clone(),
            file: None,
            count: 0,
            unsynced: BTreeMap::new(),
            next_token: 0,
        }
    }
}

impl Actor<CountMsg> for Counter {
    type Timer = NoTimer;

    fn handle(&mut self, ctx: &mut Ctx<'_, CountMsg, NoTimer>, input: Input<CountMsg, NoTimer>) {
        match input {
            Input::Start => {
                let file = self.storage.open(Path::new(COUNT_FILE), true).unwrap();
                self.count = file.len_bytes().unwrap();
                self.file = Some(file);
            }
            Input::Request {
                id,
                msg: CountMsg::Incr,
                ..
            } => {
                let file = self.file.clone().expect("started");
                file.append(&[1]).unwrap();
                self.count += 1;
                let token = self.next_token;
                self.next_token += 1;
                self.unsynced.insert(token, (id, self.count));
                ctx.sync(token, vec![file]);
            }
            Input::Request { id, .. } => ctx.reply(id, CountMsg::Count(self.count)),
            Input::Synced { token, result } => {
                result.unwrap();
                let (id, count) = self.unsynced.remove(&token).expect("our sync");
                ctx.reply(id, CountMsg::Count(count));
            }
            other => panic!("counter got {other:?}"),
        }
    }
}

#[test]
fn a_crash_keeps_the_acknowledged_count_and_loses_the_unsynced_one() {
    const DISK_DELAY_MS: u64 = 5;
    let at = Addr {
        node: NodeId(1),
        actor: COUNTER,
    };
    let mut cluster = Cluster::new(11);
    cluster.set_disk_delay_ms(DISK_DELAY_MS);
    cluster.add_node(NodeId(1), |storage| {
        vec![(COUNTER, StepActor::new(Counter::new(storage)))]
    });
    // Acknowledged only once the disk is done.
    assert_eq!(cluster.ask(at, CountMsg::Incr, 100), Ok(CountMsg::Count(1)));
    assert_eq!(cluster.now_ms(), DISK_DELAY_MS);

    let unsynced = cluster.request(at, CountMsg::Incr);
    assert_eq!(cluster.ask(at, CountMsg::Get, 0), Ok(CountMsg::Count(2)));
    cluster.run_for(DISK_DELAY_MS - 1);
    assert_eq!(
        cluster.take_answer(unsynced),
        None,
        "acknowledged before its sync"
    );
    cluster.crash(NodeId(1));
    assert_eq!(
        cluster.take_answer(unsynced),
        Some(Err(RequestError::ActorGone(at)))
    );
    assert!(cluster.is_idle(), "the crash dropped the pending sync");
    assert_eq!(
        cluster.storage(NodeId(1)).read_file(Path::new(COUNT_FILE)),
        Some(vec![1])
    );

    cluster.restart(NodeId(1));
    assert_eq!(cluster.ask(at, CountMsg::Get, 0), Ok(CountMsg::Count(1)));
    assert_eq!(cluster.ask(at, CountMsg::Incr, 100), Ok(CountMsg::Count(2)));
}

#[test]
fn a_torn_crash_keeps_a_prefix_of_the_unsynced_tail() {
    let at = Addr {
        node: NodeId(1),
        actor: COUNTER,
    };
    // Several seeds, so both a kept and a lost unsynced byte are likely to show up.
    let mut kept_any = [false; 2];
    for seed in 0..16 {
        let mut cluster = Cluster::new(seed);
        cluster.set_disk_delay_ms(5);
        cluster.add_node(NodeId(1), |storage| {
            vec![(COUNTER, StepActor::new(Counter::new(storage)))]
        });
        assert_eq!(cluster.ask(at, CountMsg::Incr, 100), Ok(CountMsg::Count(1)));
        cluster.request(at, CountMsg::Incr);
        cluster.run_for(1);
        let torn = cluster
            .crash_torn(NodeId(1))
            .expect("one unsynced byte to tear");
        assert_eq!(torn.kept_bytes + torn.dropped_bytes, 1, "{torn:?}");
        kept_any[torn.kept_bytes as usize] = true;
        assert!(
            cluster.crash_torn(NodeId(1)).is_none(),
            "a down node cannot crash again"
        );
        cluster.restart(NodeId(1));
        let count = 1 + torn.kept_bytes;
        assert_eq!(
            cluster.ask(at, CountMsg::Get, 0),
            Ok(CountMsg::Count(count))
        );
    }
    assert_eq!(kept_any, [true, true]);
}
