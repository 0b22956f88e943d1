//! Partition replicas: the actor that hosts every partition log of a node, with producer state
//! (idempotence), group commit and waiting fetches.
//!
//! * [`actor`] — the `PARTITIONS` actor: request dispatch, produce/group commit, long-poll fetch.
//! * [`replica`] — one partition: log + producer state + durability waiters.
//! * [`role`] — leader or follower, and the high watermark kept apart from the log end.
//! * [`reads`] — Fetch and ListOffsets as pure reads; [`epoch_ends`] — OffsetForLeaderEpoch;
//!   [`describe_producers`] — DescribeProducers (a replica's producers and open transactions).
//! * [`replica_fetch`] — the leader's side of a follower's fetch; [`following`] — this
//!   node's fetch loop as a follower (append, cut where the log diverged, back off).
//! * [`isr`] — a leader's ISR shrinks and expansions, asked of the controller (AlterPartition).
//! * [`throttle`] — replication throttles (KIP-73): which partitions, and the byte quotas.
//! * [`fetch_wait`] — parked fetches, clients' and followers'.
//! * [`opening`] — requests waiting while a partition log's recovery becomes durable.
//! * [`producer_state`], [`producer_snapshot`], [`producer_ids`] — the idempotent producer;
//!   [`transactional_ids`] — the bounded transactional id table of `InitProducerId`;
//!   [`txn_state`] — open and unreplicated transactions, and the last stable offset;
//!   [`verify`] — a transaction's first batch at a partition verified with its coordinator
//!   (KIP-890 part 1).
//! * [`leaders`] — who leads each partition as the metadata says: roles, NOT_LEADER_OR_FOLLOWER.
//! * [`strays`] — directories no topic owns any more (a deleted topic's, a removal's leftovers).
//! * [`leadership`] — `Elected`/`Resigned` for the group coordinator's partitions.
//! * [`errors`] — the Kafka error codes used, and the log-error mapping.

pub mod actor;
pub mod describe_producers;
pub mod epoch_ends;
pub mod errors;
pub mod fetch_wait;
pub mod following;
pub mod isr;
pub mod leaders;
pub mod leadership;
pub mod offline;
pub mod opening;
pub mod producer_ids;
pub mod producer_snapshot;
pub mod producer_state;
pub mod reads;
pub mod replica;
pub mod replica_fetch;
pub mod role;
pub mod strays;
pub mod throttle;
pub mod transactional_ids;
pub mod txn_state;
pub mod verify;

#[cfg(test)]
mod tests;
