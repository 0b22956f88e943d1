//! Workload clients speaking the real Kafka protocol over simulated TCP, recording every step
//! in the [`History`], and retrying like real clients do:
//! * [`producer`] — pipelined producers (up to 5 requests in flight), idempotent or not, with
//!   acks 0, 1 or all, batches of one or many records, compressed or not, that sometimes drop
//!   their connection mid-request;
//! * [`consumer`] — consumers that read their partition in order and sometimes seek back and
//!   re-read;
//! * [`groups`] — members of a consumer group that join, sync a range assignment, read from
//!   the committed offsets, commit and heartbeat, leave, crash and rejoin, and drain after
//!   healing, and a resetter that moves the group's commits back once while it is Empty;
//! * [`compacted`] — a writer updating a few keys of a compacted topic, with tombstones, and
//!   a reader reading the whole log again and again while the cleaner rewrites it;
//! * [`churn`] — one topic name deleted and created again over and over, each generation
//!   written once to every partition;
//! * [`reassign`] — the data topic's partitions moved between brokers under load;
//! * [`txn`] — transactional producers (commit or abort, a new epoch after a failure) and
//!   read_committed readers of their own topic, and its read_committed final read;
//! * [`ctp`] — consume-transform-produce workers: read the transactional topic, write what
//!   they read transformed and commit their offsets in one transaction (exactly-once);
//! * [`throttle`] — the data topic's followers throttled during the faults, lifted at healing;
//! * [`min_isr`] — the cluster-wide `min.insync.replicas` set (for the role fault
//!   `min-isr-lowered`), and [`configs`], the IncrementalAlterConfigs both send;
//! * [`admin`] — topic creation, producer identities, and the final drained read;
//! * [`route`] — a partition's leader from Metadata, where its reads and writes go;
//! * [`sasl`] — the SCRAM user of a run with SASL, created early through PLAIN;
//! * [`intruder`] — in a run with SASL, a user logged in but allowed nothing, asking to write,
//!   read, join the group and for a producer id all run long (the authorizer must refuse her
//!   every time);
//! * [`quota`] — in half the runs, a `producer_byte_rate` quota set for one client id, and a
//!   producer with that id that ignores its throttle, writing as fast as it can (the broker
//!   must hold it to the rate all the same);
//! * [`batch`] — record batch encoding and decoding with Kafka's codecs.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use rill::types::ErrorCode;
use tokio::time::Instant;

use crate::client::Connection;
use crate::history::{Event, History};

pub mod admin;
pub mod batch;
pub mod churn;
pub mod compacted;
pub mod configs;
pub mod consumer;
pub mod ctp;
pub mod groups;
pub mod intruder;
pub mod min_isr;
pub mod producer;
pub mod quorum;
pub mod quota;
pub mod reassign;
pub mod replicas;
pub mod route;
pub mod sasl;
pub mod strays;
pub mod throttle;
pub mod txn;

pub use admin::{create_topic, final_read};
pub use consumer::consumer;
pub use groups::{
    final_offsets, group_member, group_resetter, GroupPause, GroupProtocol, MemberTimes,
    CONSUMER_SESSION_TIMEOUT_MS, OFFSETS_RETENTION_CHECK_MS, OFFSETS_RETENTION_MS,
};
pub use producer::{producer, ProducerSpec};

/// Every call but a produce waits at most this long (simulated time); then its outcome is
/// unknown.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between retries.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);

pub const TOPIC: &str = "sim";

/// What every workload task needs.
#[derive(Clone)]
pub struct Workload {
    /// The bootstrap broker: topic creation, producer identities and the group's
    /// FindCoordinator go here; partitions' reads and writes go to their leaders ([`route`]).
    pub broker: SocketAddr,
    /// Every broker's Kafka address, the bootstrap included: where Metadata is asked next when
    /// a broker does not answer.
    pub brokers: Vec<SocketAddr>,
    pub partitions: i32,
    /// The data topic's replication factor.
    pub replication_factor: i16,
    pub history: History,
    pub started: Instant,
}

impl Workload {
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&self, event: Event) {
        self.history.record(self.now_ms(), event);
    }

    async fn connect(&self) -> Connection {
        loop {
            match Connection::connect(self.broker, CALL_TIMEOUT).await {
                Ok(conn) => return conn,
                Err(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            }
        }
    }
}

/// `w` with a broker drawn from all as the one its administrative calls go to (a down
/// bootstrap broker would stall them).
fn via_any_broker(w: &Workload) -> Workload {
    use rand::Rng;
    let mut w = w.clone();
    w.broker = w.brokers[madsim::rand::thread_rng().gen_range(0..w.brokers.len())];
    w
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

/// Error codes worth retrying with the same batch: the broker is (re)starting or busy, or no
/// longer leads the partition; clients drop the connection on them and route afresh.
fn retriable(code: ErrorCode) -> bool {
    [
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::REQUEST_TIMED_OUT,
        ErrorCode::KAFKA_STORAGE_ERROR,
        // Too few in-sync replicas (before the append, or after it: retried as Kafka's clients
        // do, a duplicate for a producer that is not idempotent).
        ErrorCode::NOT_ENOUGH_REPLICAS,
        ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ]
    .contains(&code)
}
