//! What the group coordinator ([`GROUPS`] on this node) is told about the `__consumer_offsets`
//! partitions this node leads: Kafka's `onElection` / `onResignation`. A replica is announced
//! `Elected` once it is readable (its open's first sync completed, so everything below the log
//! end is durable) and `Resigned` when it goes (offline after a failed write or sync, deleted,
//! or closed at shutdown). Other topics are never announced.

use crate::actor::{Addr, Ctx};
use crate::faults::FaultPoint;
use crate::messages::{GroupsEvent, NodeMsg, GROUPS, OFFSETS_TOPIC};
use crate::storage::log::FlushPolicy;
use crate::types::{Offset, TopicPartition};

use super::replica::Replica;

/// The coordinator on this node.
fn coordinator<T>(ctx: &Ctx<'_, NodeMsg, T>) -> Addr {
    Addr {
        node: ctx.me.node,
        actor: GROUPS,
    }
}

/// Whether the coordinator hears of `replica`: a `__consumer_offsets` replica that leads (one
/// that follows serves no group).
fn announced(tp: &TopicPartition, replica: &Replica) -> bool {
    tp.topic == OFFSETS_TOPIC && replica.role().is_leader()
}

/// `replica` became readable under its term: the coordinator loads the partition up to its log
/// end.
pub fn elected<T>(ctx: &mut Ctx<'_, NodeMsg, T>, tp: &TopicPartition, replica: &Replica) {
    if !announced(tp, replica) || replica.is_opening() {
        return;
    }
    let event = GroupsEvent::Elected {
        partition: tp.partition,
        term: replica.term(),
        log_end: Offset(replica.log().log_end_offset()),
        high_watermark: replica.high_watermark(),
    };
    let to = coordinator(ctx);
    ctx.send(to, NodeMsg::GroupsEvent(event));
}

/// `replica`'s term ended. An opening replica was never announced, so it resigns nothing.
pub fn resigned<T>(ctx: &mut Ctx<'_, NodeMsg, T>, tp: &TopicPartition, replica: &Replica) {
    if !announced(tp, replica) || replica.is_opening() {
        return;
    }
    let event = GroupsEvent::Resigned {
        partition: tp.partition,
        term: replica.term(),
    };
    let to = coordinator(ctx);
    ctx.send(to, NodeMsg::GroupsEvent(event));
}

/// Simulation fault point `coordinator-failover`, reached when the coordinator appends: a
/// quiet `replica` of `__consumer_offsets` (no sync, flush timer or close pending; under
/// `flush.policy=always` everything synced) resigns and is elected again under a new term —
/// the replica id `new_id` — with its data unchanged, as a failover to a replica holding the
/// same log would. Returns whether it did (the caller re-keys the id).
pub fn fail_over<T>(
    ctx: &mut Ctx<'_, NodeMsg, T>,
    tp: &TopicPartition,
    replica: &mut Replica,
    new_id: u64,
) -> bool {
    let quiet = announced(tp, replica)
        && !replica.is_opening()
        && !replica.is_closing()
        && !replica.sync_in_flight()
        && (!replica.is_unsynced() || replica.flush_policy() != FlushPolicy::EveryAppend)
        && !replica.flush_timer_armed;
    if !quiet || !crate::fault_point!(FaultPoint::CoordinatorFailover, format!("{tp:?}")) {
        return false;
    }
    resigned(ctx, tp, replica);
    replica.id = new_id;
    elected(ctx, tp, replica);
    true
}
