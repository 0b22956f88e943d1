//! The transaction coordinator (issue 15): Kafka's transactions and exactly-once delivery.
//!
//! Built in steps (docs/issue-15-transactions-plan.md has the whole plan). What is here so far:
//! * [`actor`] — the `TXN` actor: shards made and dropped with the leadership of
//!   `__transaction_state`'s partitions, requests routed by Kafka's placement, markers sent to
//!   the leaders and transactions completed, timed-out transactions aborted;
//! * [`settings`] — the `transaction.*` config it reads;
//! * [`markers`] — the markers of prepared transactions on their way, per leader;
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
//! Like the group coordinator, it runs on the leaders of its internal topic's partitions,
//! rebuilds its state by replaying them, and never imports another role (it talks to them
//! through `messages`). Not yet here: TxnOffsetCommit (the group coordinator's part),
//! transactional id expiration, KIP-890's verification, the admin APIs and tools.

pub mod actor;
pub mod fuzz_support;
pub mod load;
pub mod markers;
pub mod records;
pub mod replay;
pub mod settings;
pub mod shard;
pub mod state;
pub mod transitions;
