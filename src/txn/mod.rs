//! The transaction coordinator (issue 15): Kafka's transactions and exactly-once delivery.
//!
//! Built in steps (docs/issue-15-transactions-plan.md has the whole plan). What is here so far:
//! * [`records`] — the records of `__transaction_state` in Kafka's byte format, so Kafka's
//!   tools read them and a log written by Kafka loads here;
//! * [`state`] — a transactional id's states, with Kafka's ids and the transitions Kafka
//!   allows between them;
//! * [`transitions`] — what the coordinator decides for InitProducerId, AddPartitionsToTxn,
//!   EndTxn and a transaction's timeout, as pure functions of an id's metadata;
//! * [`replay`] — the state a coordinator rebuilds from its partition's records;
//! * [`load`] — the chunked read of a partition that feeds the replay;
//! * [`shard`] — one partition's coordinator: its ids, its load, its writes applied on ack.
//!
//! Like the group coordinator, it will run on the leaders of its internal topic's partitions,
//! rebuild its state by replaying them, and never import another role (it talks to them through
//! `messages`).

pub mod fuzz_support;
pub mod load;
pub mod records;
pub mod replay;
pub mod shard;
pub mod state;
pub mod transitions;
