//! A small async Kafka client on tokio — the engine of the `rill` command-line tools. It speaks
//! only the Kafka protocol, so it works against any Kafka-compatible broker.
//!
//! * [`connection`] — one broker connection: framing, correlation ids, pipelining, ApiVersions
//!   negotiation ([`versions`]: per API the highest version both sides speak); over TLS
//!   ([`tls`]) and with a SASL login ([`sasl`]) as the client's [`security`] settings say.
//! * [`cluster`] — [`Client`]: bootstrap, Metadata, a connection per broker (leaders).
//! * [`admin`] — CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs.
//! * [`producer`] — Java-client partitioning ([`murmur2`]), batching, acks, per-record outcomes.
//! * [`consumer`] — assigned partitions, ListOffsets, parallel Fetch, record decoding
//!   ([`records`]: RecordBatch v2, uncompressed).
//! * [`group`] — a consumer group's committed offsets: FindCoordinator, OffsetFetch,
//!   OffsetCommit (as an admin, from outside the group).
//! * [`transactions`] — transactions as an admin sees them: ListTransactions of every broker,
//!   FindCoordinator and DescribeTransactions of one transactional id; [`producers`] — the
//!   partitions' side: DescribeProducers, and an ABORT marker written with WriteTxnMarkers.
//! * [`txn_producer`] — a transactional producer's session: InitProducerId, AddPartitionsToTxn,
//!   sequences, EndTxn (the producer's `transactional.id`).
//! * [`member`] — a classic group member (JoinGroup, the range assignor, SyncGroup, Heartbeat,
//!   LeaveGroup); [`group_consumer`] — a consumer of the partitions it is given, committing.
//! * [`error`] — [`ClientError`], with Kafka's error names.
//!
//! This is host-side code: it uses tokio's network, timers and tasks directly.

pub mod admin;
pub mod cluster;
pub mod connection;
pub mod consumer;
pub mod error;
pub mod group;
pub mod group_consumer;
pub mod limits;
pub mod member;
pub mod murmur2;
pub mod producer;
pub mod producers;
pub mod records;
pub mod sasl;
pub mod security;
pub mod tls;
pub mod transactions;
pub mod txn_producer;
pub mod versions;

pub use cluster::{Client, ClientConfig, ClusterMetadata};
pub use error::{ClientError, ClientResult};
