//! The intruder of a SASL run (`--sasl`): what authentication lets in, authorization must still
//! keep out. She logs in properly, over PLAIN as `eve` (a user of the listener's JAAS config, so
//! the login succeeds), but has no ACL and is no super user (`crate::sasl::server_overrides`),
//! so the brokers' authorizer must refuse her everything she asks of the workload's resources.
//!
//! All run long, a round every few hundred milliseconds, she picks a partition of the data
//! topic, asks its leader (found through the workload's own login, as an intruder who knows the
//! cluster would: her own Metadata names no partition of it) and, on one connection:
//! * produces a record `eve-<n>` to it (acks 1 or all, drawn): TOPIC_AUTHORIZATION_FAILED;
//! * fetches it from offset 0: TOPIC_AUTHORIZATION_FAILED, no records;
//! * sends a JoinGroup for the workload's group: GROUP_AUTHORIZATION_FAILED. Kafka checks READ
//!   on the group before the coordinator looks at it, so every broker answers it so, the
//!   coordinator or not;
//! * asks an idempotent producer id (InitProducerId without a transactional id):
//!   CLUSTER_AUTHORIZATION_FAILED, as she may neither IDEMPOTENT_WRITE on the cluster nor WRITE
//!   any topic (the authorizer's check by resource type, `Access::allows_some`).
//!
//! The leader only makes a bypass visible as a write that lands (her values in what the
//! workload reads); the refusal itself comes first at any broker (the leadership is checked
//! after the authorization). Each request is an `Event::Intrusion`, answered or not (a lost
//! connection, a timeout: the nemesis cuts and resets her links too), and a request without an
//! answer ends the round; `checker::acl` judges them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, GroupId, InitProducerIdRequest, InitProducerIdResponse,
    JoinGroupRequest, JoinGroupResponse, ProduceRequest, ProduceResponse, ProducerId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rand::Rng;
use tokio::time::Instant;

use super::batch::{self, Entry};
use super::consumer::fetch_request;
use super::groups::GROUP;
use super::{route, topic_name, Workload, CALL_TIMEOUT, TOPIC};
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::{CallError, Connection};
use crate::history::Event;
use crate::sasl::{self, Login};

/// The resource her InitProducerId asks of: the cluster (Kafka's `kafka-cluster`).
pub const CLUSTER: &str = "kafka-cluster";
/// Every value the intruder writes starts so: the checker looks for it in what was read.
pub const VALUE_PREFIX: &str = "eve-";
/// The pause between two rounds, drawn per round.
const ROUND_PAUSE_MS: std::ops::Range<u64> = 100..600;
/// Rounds between two looks at where the partitions' leaders are (a leadership moves under
/// the faults).
const ROUNDS_PER_ROUTING: u32 = 10;
/// The broker's `timeout.ms` for her acks=all produce (refused before it matters), as the
/// producers'.
const PRODUCE_TIMEOUT_MS: i32 = 2000;

/// The intruder's requests from now until `until` (see the module docs).
pub async fn intruder(w: Workload, until: Instant) {
    let mut me = Intruder {
        w,
        conn: None,
        leaders: BTreeMap::new(),
        next_value: 0,
    };
    let mut rounds = 0u32;
    while Instant::now() < until {
        let pause_ms = madsim::rand::thread_rng().gen_range(ROUND_PAUSE_MS);
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        rounds += 1;
        if rounds % ROUNDS_PER_ROUTING == 0 {
            me.leaders.clear();
        }
        let partition = madsim::rand::thread_rng().gen_range(0..me.w.partitions);
        if me.round(partition).await.is_err() {
            // No answer: the connection's state is unknown, and the leader may have moved.
            me.conn = None;
            me.leaders.remove(&partition);
        }
    }
}

struct Intruder {
    w: Workload,
    /// Her connection, logged in as her, with the broker it goes to.
    conn: Option<(SocketAddr, Connection)>,
    /// Each partition's leader as last found.
    leaders: BTreeMap<i32, SocketAddr>,
    next_value: u64,
}

/// A request that got no answer (recorded as such): the round ends.
struct Unanswered;

impl Intruder {
    /// One round on `partition`: Produce, Fetch, JoinGroup, InitProducerId.
    async fn round(&mut self, partition: i32) -> Result<(), Unanswered> {
        let produce = self.produce_request(partition);
        let Some(broker) = self.connect(partition).await else {
            return Ok(());
        };
        let Some((_, conn)) = self.conn.as_mut() else {
            return Ok(());
        };
        let resource = format!("{TOPIC}-{partition}");
        let invoked_ms = self.w.now_ms();
        let answer = conn
            .call::<_, ProduceResponse>(ApiKey::Produce, 8, &produce, produce_bound())
            .await;
        let code = answer.and_then(|r| {
            let mut partitions = r.responses.iter().flat_map(|t| &t.partition_responses);
            (partitions.next()).map_or(Err(no_partition()), |p| Ok(p.error_code))
        });
        record(&self.w, broker, "Produce", &resource, invoked_ms, &code, 0)?;

        let invoked_ms = self.w.now_ms();
        let request: FetchRequest = fetch_request(topic_name(), partition, 0, 0);
        let answer = conn
            .call::<_, FetchResponse>(ApiKey::Fetch, 11, &request, CALL_TIMEOUT)
            .await;
        let mut records_returned = 0;
        let code = answer.and_then(|r| {
            let mut partitions = r.responses.iter().flat_map(|t| &t.partitions);
            let first = partitions.next().ok_or_else(no_partition)?;
            let records = first.records.clone().map_or(Ok(Vec::new()), batch::decode);
            // Undecodable bytes are records all the same: counted as one.
            records_returned = records.map_or(1, |records| records.len() as u32);
            Ok(first.error_code)
        });
        let fetched = records_returned;
        record(
            &self.w, broker, "Fetch", &resource, invoked_ms, &code, fetched,
        )?;

        let invoked_ms = self.w.now_ms();
        let answer = conn
            .call::<_, JoinGroupResponse>(ApiKey::JoinGroup, 5, &join_request(), CALL_TIMEOUT)
            .await;
        let code = answer.map(|r| r.error_code);
        record(&self.w, broker, "JoinGroup", GROUP, invoked_ms, &code, 0)?;

        let invoked_ms = self.w.now_ms();
        let answer = conn
            .call::<_, InitProducerIdResponse>(
                ApiKey::InitProducerId,
                4,
                &init_request(),
                CALL_TIMEOUT,
            )
            .await;
        let code = answer.map(|r| r.error_code);
        record(
            &self.w,
            broker,
            "InitProducerId",
            CLUSTER,
            invoked_ms,
            &code,
            0,
        )
    }

    /// Her connection to `partition`'s leader (any broker when none is named), logged in as
    /// her, in `self.conn`: the broker's id, or `None` when it cannot be had (the login's
    /// outcome is recorded as every login).
    async fn connect(&mut self, partition: i32) -> Option<u64> {
        let leader = match self.leaders.get(&partition) {
            Some(leader) => *leader,
            None => {
                let named = route::leader(&self.w, TOPIC, partition).await;
                let any = || {
                    let brokers = &self.w.brokers;
                    brokers[madsim::rand::thread_rng().gen_range(0..brokers.len())]
                };
                let leader = named.unwrap_or_else(any);
                self.leaders.insert(partition, leader);
                leader
            }
        };
        if self.conn.as_ref().is_none_or(|(addr, _)| *addr != leader) {
            self.conn = None;
            let Ok(conn) = sasl::connect_as(leader, &Login::intruder(), CALL_TIMEOUT).await else {
                // Down, cut off, or no longer there: look again next time.
                self.leaders.remove(&partition);
                return None;
            };
            self.conn = Some((leader, conn));
        }
        self.conn.as_ref().map(|(addr, _)| sasl::broker_of(*addr))
    }

    /// A produce of one record `eve-<n>` to `partition`, with acks 1 or all.
    fn produce_request(&mut self, partition: i32) -> ProduceRequest {
        let value = format!("{VALUE_PREFIX}{}", self.next_value);
        self.next_value += 1;
        let acks = match madsim::rand::thread_rng().gen_bool(0.5) {
            true => 1,
            false => -1,
        };
        let entries = [Entry {
            key: b"eve",
            value: &value,
        }];
        // The simulated wall clock, as the producers' batches.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let bytes = batch::encode(&entries, None, Compression::None, now_ms)
            .expect("the intruder's batch encodes");
        let data = PartitionProduceData::default()
            .with_index(partition)
            .with_records(Some(bytes));
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name())
                .with_partition_data(vec![data])])
    }
}

/// An idempotent producer's InitProducerId (a null transactional id: the crate's default is
/// `Some("")`), as the producers send it.
fn init_request() -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// A JoinGroup of the workload's group as a new member (v5: the coordinator would first
/// answer MEMBER_ID_REQUIRED, without adding her).
fn join_request() -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
        .with_session_timeout_ms(6_000)
        .with_rebalance_timeout_ms(6_000)
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::new())])
}

/// How long her produce waits for its answer: as long as the producers' (an acks=all produce
/// let through by a planted bug waits for the followers).
fn produce_bound() -> Duration {
    Duration::from_millis(PRODUCE_ANSWER_BOUND_MS)
}

/// An answer that names no partition: no answer for the partition asked about.
fn no_partition() -> CallError {
    CallError::Protocol("no partition in the answer".into())
}

/// Records one request's outcome: `code` is the error code answered, or why none came (then
/// `Err`: the round ends).
fn record(
    w: &Workload,
    broker: u64,
    api: &'static str,
    resource: &str,
    invoked_ms: u64,
    code: &Result<i16, CallError>,
    records_returned: u32,
) -> Result<(), Unanswered> {
    w.record(Event::Intrusion {
        broker,
        api,
        resource: resource.to_owned(),
        invoked_ms,
        error_code: code.as_ref().ok().copied(),
        records_returned,
    });
    code.as_ref().map(|_| ()).map_err(|_| Unanswered)
}
