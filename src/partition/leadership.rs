//! What the coordinators on this node are told about the partitions of their internal topics
//! this node leads: Kafka's `onElection` / `onResignation` — the group coordinator ([`GROUPS`])
//! of `__consumer_offsets`, the transaction coordinator ([`TXN`]) of `__transaction_state`. A
//! replica is announced `Elected` once it is readable (its open's first sync completed, so
//! everything below the log end is durable) and `Resigned` when it goes (offline after a failed
//! write or sync, deleted, or closed at shutdown). Other topics are never announced.

use crate::actor::{ActorId, Addr, Ctx};
use crate::faults::FaultPoint;
use crate::messages::txn::{TxnEvent, TXN_STATE_TOPIC};
use crate::messages::{GroupsEvent, LeaderTerm, NodeMsg, GROUPS, OFFSETS_TOPIC, TXN};
use crate::storage::log::FlushPolicy;
use crate::types::{Offset, TopicPartition};

use super::replica::Replica;

/// The coordinator of `tp`'s topic, if it is a coordinator's internal topic.
fn coordinator_of(tp: &TopicPartition) -> Option<ActorId> {
    match tp.topic.as_str() {
        OFFSETS_TOPIC => Some(GROUPS),
        TXN_STATE_TOPIC => Some(TXN),
        _ => None,
    }
}

/// The coordinator that hears of `replica`, if any: that of an internal topic's replica that
/// leads (one that follows serves nothing).
fn announced(tp: &TopicPartition, replica: &Replica) -> Option<ActorId> {
    coordinator_of(tp).filter(|_| replica.role().is_leader())
}

/// Sends `actor` its event: an election (`log_end` and `high_watermark` given) or a
/// resignation.
fn announce<T>(
    ctx: &mut Ctx<'_, NodeMsg, T>,
    actor: ActorId,
    partition: i32,
    term: LeaderTerm,
    elected: Option<(Offset, Offset)>,
) {
    let msg = match (actor, elected) {
        (TXN, Some((log_end, high_watermark))) => NodeMsg::TxnEvent(TxnEvent::Elected {
            partition,
            term,
            log_end,
            high_watermark,
        }),
        (TXN, None) => NodeMsg::TxnEvent(TxnEvent::Resigned { partition, term }),
        (_, Some((log_end, high_watermark))) => NodeMsg::GroupsEvent(GroupsEvent::Elected {
            partition,
            term,
            log_end,
            high_watermark,
        }),
        (_, None) => NodeMsg::GroupsEvent(GroupsEvent::Resigned { partition, term }),
    };
    let to = Addr {
        node: ctx.me.node,
        actor,
    };
    ctx.send(to, msg);
}

/// `replica` became readable under its term: the coordinator loads the partition up to its log
/// end.
pub fn elected<T>(ctx: &mut Ctx<'_, NodeMsg, T>, tp: &TopicPartition, replica: &Replica) {
    let Some(actor) = announced(tp, replica).filter(|_| !replica.is_opening()) else {
        return;
    };
    let log_end = Offset(replica.log().log_end_offset());
    let ends = Some((log_end, replica.high_watermark()));
    announce(ctx, actor, tp.partition, replica.term(), ends);
}

/// `replica`'s term ended. An opening replica was never announced, so it resigns nothing.
pub fn resigned<T>(ctx: &mut Ctx<'_, NodeMsg, T>, tp: &TopicPartition, replica: &Replica) {
    let Some(actor) = announced(tp, replica).filter(|_| !replica.is_opening()) else {
        return;
    };
    announce(ctx, actor, tp.partition, replica.term(), None);
}

/// Simulation fault point `coordinator-failover`, reached when the coordinator appends: a
/// quiet `replica` of `__consumer_offsets` or `__transaction_state` (no sync, flush timer or
/// close pending; under
/// `flush.policy=always` everything synced) resigns and is elected again under a new term —
/// the replica id `new_id` — with its data unchanged, as a failover to a replica holding the
/// same log would. Returns whether it did (the caller re-keys the id).
pub fn fail_over<T>(
    ctx: &mut Ctx<'_, NodeMsg, T>,
    tp: &TopicPartition,
    replica: &mut Replica,
    new_id: u64,
) -> bool {
    let quiet = announced(tp, replica).is_some()
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
