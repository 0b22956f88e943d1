//! The group coordinator (issue 12): consumer groups (Kafka's classic protocol, later KIP-848),
//! their committed offsets, and the `__consumer_offsets` records that make both durable.
//!
//! One `GROUPS` actor per node hosts one shard per `__consumer_offsets` partition this node
//! leads; a shard is the whole coordinator of its partition (its groups, offsets, load state
//! and writes in flight). The state machines are pure — they take a clock and return outputs —
//! so they are tested without a runtime; the actor turns their outputs into effects.
//!
//! * [`consumer`] — a KIP-848 consumer group ([`consumer::ConsumerGroup`]): epochs, target
//!   assignment by a server [`assign`]or, per-member reconciliation.
//! * [`output`] — what the pure state machines hand back: answers, timer wakes, writes.
//! * [`member`] — one classic member, and member ids.
//! * [`state`] — a classic group ([`state::ClassicGroup`]): state, transitions, its record.
//! * [`join`], [`sync`], [`heartbeat`] — the classic operations, each on `ClassicGroup`.
//! * [`static_member`] — a static member's rejoin (KIP-345): no rebalance when Stable.
//! * [`offsets`] — committed offsets: commit validation, apply on ack, fetch.
//! * [`retention`] — which offsets expired (KIP-211), written as tombstones like deletions.
//! * [`delete`] — DeleteGroups and OffsetDelete: their checks and tombstones.
//! * [`describe`] — DescribeGroups and ListGroups of a shard's groups.
//! * [`placement`] — which `__consumer_offsets` partition coordinates a group (Kafka's hash).
//! * [`records`] — that topic's record keys and values, in Kafka's byte format.
//! * [`settings`] — the coordinator's view of the server config.
//! * [`load`] — replaying a partition when its shard takes over.
//! * [`shard`] — one partition's coordinator: load state, term, writes in flight, apply on ack.
//! * [`actor`] — the `GROUPS` actor: shards by partition, calls to PARTITIONS and TOPICS.
//! * [`refusal`] — a request's answer when it cannot be served here.
//!
//! A Roles folder: it imports `messages`, `actor`, `storage` and `types`, never another role
//! folder (`partition`, `controller`) and never `host` or `config`. The partitions actor and
//! the topics actor are reached through `messages` only.

pub mod actor;
pub mod assign;
pub mod consumer;
pub mod delete;
pub mod describe;
pub mod heartbeat;
pub mod join;
pub mod load;
pub mod member;
pub mod offsets;
pub mod output;
pub mod placement;
pub mod records;
pub mod refusal;
pub mod retention;
pub mod settings;
pub mod shard;
pub mod state;
pub mod static_member;
pub mod sync;

#[cfg(test)]
mod tests;
