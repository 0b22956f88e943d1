//! Client quotas under faults (issue 16): a producer over its `producer_byte_rate` that ignores
//! `throttle_time_ms` (a pre-KIP-219 client) must be held by the broker all the same, by the
//! muted connection.
//!
//! At the start, AlterClientQuotas sets `producer_byte_rate` = the run's rate for the client id
//! [`CLIENT_ID`] at a broker drawn afresh each attempt, retried until one acknowledges it (a
//! broker answers an alteration once it is committed and published there). Then, until the
//! producers stop, a producer with that client id writes [`QUOTA_TOPIC`] (its own topic, so
//! the data topic's claims see nothing of it; the data topic's replication) as fast as it can:
//! [`IN_FLIGHT`] requests pipelined on one connection to the partition's leader, acks=1, each
//! answer's throttle ignored. Each new connection first describes the quota on that broker and
//! produces only once the broker shows it (`Event::QuotaSeen`: its gateway enforces what it
//! describes), so the producer floods no broker that has not applied the quota yet. Every
//! request's bytes (header and body, what the broker counts) and answer are recorded
//! (`Event::QuotaProduce`); `checker::quota` holds each broker to the rate.
//!
//! Once the producer stopped (after healing), every broker is asked DescribeClientQuotas for
//! the client id, round after round, until each answered [`PROPAGATION_BOUND_MS`] or more
//! after healing and after the acknowledgement (`Event::QuotaDescribed`): a voter applies
//! the quota on every node, so every broker must describe it by then ("quota propagates").
//!
//! Unlike the replication throttles (`workload::throttle`), the quota is not lifted at
//! healing: the producer goes on after healing, held by the quota, for the claims about a
//! healed cluster; a lift then would end the judged windows at healing, and would stop the
//! producer at its next connection (it produces only where the quota is described). And a
//! lift would hide a broker that never publishes the quota (the canary
//! `quota-not-published`), which describes nothing, as a lifted quota does: kept, every
//! broker must end describing Q.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, ApiKey, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::batch::{self, Entry};
use super::{route, via_any_broker, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::checker::quota::PROPAGATION_BOUND_MS;
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::{CallError, Connection};
use crate::history::Event;

/// The quota producer's client id, the entity the quota is set for.
pub const CLIENT_ID: &str = "rill-sim-quota";
/// The topic it writes (one partition).
pub const QUOTA_TOPIC: &str = "sim-quota";
/// Requests it keeps in flight on its connection.
pub const IN_FLIGHT: usize = 5;
/// The quota's key.
pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
/// Records per request, and each value's size: ~1 KB requests, well below any rate drawn.
const RECORDS_PER_REQUEST: usize = 8;
const VALUE_BYTES: usize = 100;
/// The topic's `retention.bytes`: a run with the canary writes as fast as the broker takes it.
const RETENTION_BYTES: u64 = 64 * 1024;
/// The pause before connecting again after a connection was given up: a connection the
/// broker still reads from (its answers late) does not overlap the next for long.
const RECONNECT_PAUSE: Duration = Duration::from_millis(1_000);
/// The pause before asking again a broker that did not describe the quota yet.
const DESCRIBE_AGAIN: Duration = Duration::from_millis(200);

pub fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str(QUOTA_TOPIC))
}

pub fn topic_configs() -> Vec<(&'static str, String)> {
    vec![("retention.bytes", RETENTION_BYTES.to_string())]
}

/// Broker `n` listens at 10.0.1.n (`run::broker_ip`).
pub fn broker_id(addr: SocketAddr) -> u64 {
    match addr.ip() {
        IpAddr::V4(ip) => u64::from(ip.octets()[3]),
        IpAddr::V6(_) => 0,
    }
}

/// Sets the quota at `rate` bytes/s, then produces over it until `until` (past healing), then
/// asks every broker for it until each showed what it holds, or `give_up` (see the module
/// docs).
pub async fn quota_producer(w: Workload, rate: u64, until: Instant, give_up: Instant) {
    let mut acknowledged = false;
    // When the acknowledgement came (the checker's time: the `QuotaSet` event's).
    let mut acknowledged_ms = 0;
    while !acknowledged && Instant::now() < until {
        let at = via_any_broker(&w);
        let outcome = set_once(&at, rate).await;
        acknowledged = outcome.is_ok();
        acknowledged_ms = w.now_ms();
        let outcome = outcome.err().unwrap_or_else(|| "NONE".to_owned());
        w.record(Event::QuotaSet {
            broker: broker_id(at.broker),
            rate,
            outcome,
        });
        if !acknowledged {
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
    let mut next_value = 0u64;
    while Instant::now() < until {
        let Some(leader) = route::leader(&w, QUOTA_TOPIC, 0).await else {
            tokio::time::sleep(DESCRIBE_AGAIN).await;
            continue;
        };
        let Ok(mut conn) = Connection::connect(leader, CALL_TIMEOUT).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        conn.set_client_id(CLIENT_ID);
        let broker = broker_id(leader);
        match describes(&mut conn, rate).await {
            Ok(true) => w.record(Event::QuotaSeen { broker, rate }),
            Ok(false) | Err(_) => {
                tokio::time::sleep(DESCRIBE_AGAIN).await;
                continue;
            }
        }
        let ended = produce(&w, &mut conn, broker, &mut next_value, until).await;
        drop(conn);
        tokio::time::sleep(match ended {
            Ended::GaveUp => RECONNECT_PAUSE,
            Ended::Done => RETRY_BACKOFF,
        })
        .await;
    }
    if acknowledged {
        describe_everywhere(&w, acknowledged_ms, give_up).await;
    }
}

/// Asks every broker DescribeClientQuotas for [`CLIENT_ID`], round after round, recording
/// each outcome, until each answered [`PROPAGATION_BOUND_MS`] or more after both healing and
/// `acknowledged_ms` (what `checker::quota` judges), or `give_up`.
async fn describe_everywhere(w: &Workload, acknowledged_ms: u64, give_up: Instant) {
    let healed_ms = loop {
        if let Some(healed_ms) = w.history.healed_ms() {
            break healed_ms;
        }
        tokio::time::sleep(DESCRIBE_AGAIN).await;
    };
    let from_ms = healed_ms.max(acknowledged_ms) + PROPAGATION_BOUND_MS;
    // Nothing earlier is judged: no question before.
    let from = w.started + Duration::from_millis(from_ms);
    if Instant::now() < from {
        tokio::time::sleep_until(from).await;
    }
    let mut left = w.brokers.clone();
    while !left.is_empty() && Instant::now() < give_up {
        let mut unanswered = Vec::new();
        for broker in left {
            let described = match Connection::connect(broker, CALL_TIMEOUT).await {
                Ok(mut conn) => match described(&mut conn).await {
                    Ok(Ok(values)) => Ok((values.into_iter())
                        .map(|(key, value)| (key, value.to_string()))
                        .collect()),
                    Ok(Err(code)) => Err(format!("{:?}", ErrorCode::from_wire(code))),
                    Err(error) => Err(format!("{error:?}")),
                },
                Err(_) => Err("no connection".into()),
            };
            if described.is_err() || w.now_ms() < from_ms {
                unanswered.push(broker);
            }
            w.record(Event::QuotaDescribed {
                broker: broker_id(broker),
                described,
            });
        }
        left = unanswered;
        if !left.is_empty() {
            tokio::time::sleep(DESCRIBE_AGAIN).await;
        }
    }
}

/// One AlterClientQuotas through `w`'s broker: acknowledged, or the refusal's error code, or
/// why no answer came.
async fn set_once(w: &Workload, rate: u64) -> Result<(), String> {
    let entity = EntityData::default()
        .with_entity_type(StrBytes::from_static_str("client-id"))
        .with_entity_name(Some(StrBytes::from_static_str(CLIENT_ID)));
    let op = OpData::default()
        .with_key(StrBytes::from_static_str(PRODUCER_BYTE_RATE))
        .with_value(rate as f64)
        .with_remove(false);
    let request = AlterClientQuotasRequest::default().with_entries(vec![EntryData::default()
        .with_entity(vec![entity])
        .with_ops(vec![op])]);
    let Ok(mut conn) = Connection::connect(w.broker, CALL_TIMEOUT).await else {
        return Err("no connection".into());
    };
    let answer = conn
        .call::<_, AlterClientQuotasResponse>(ApiKey::AlterClientQuotas, 0, &request, CALL_TIMEOUT)
        .await;
    let response = answer.map_err(|error| format!("{error:?}"))?;
    match response.entries.first() {
        None => Err("no entry in the answer".into()),
        Some(entry) if entry.error_code == 0 => Ok(()),
        Some(entry) => Err(format!("{:?}", ErrorCode::from_wire(entry.error_code))),
    }
}

/// Whether the broker on `conn` describes the quota at `rate` for [`CLIENT_ID`].
async fn describes(conn: &mut Connection, rate: u64) -> Result<bool, CallError> {
    let described = described(conn).await?;
    Ok(described.is_ok_and(|values| {
        (values.iter()).any(|(key, value)| key == PRODUCER_BYTE_RATE && *value == rate as f64)
    }))
}

/// What the broker on `conn` describes for [`CLIENT_ID`] (each key with its value, in the
/// answer's order), or the error code it answered.
async fn described(conn: &mut Connection) -> Result<Result<Vec<(String, f64)>, i16>, CallError> {
    let request =
        DescribeClientQuotasRequest::default().with_components(vec![ComponentData::default()
            .with_entity_type(StrBytes::from_static_str("client-id"))
            .with_match_type(0)
            .with_match(Some(StrBytes::from_static_str(CLIENT_ID)))]);
    let response = conn
        .call::<_, DescribeClientQuotasResponse>(
            ApiKey::DescribeClientQuotas,
            0,
            &request,
            CALL_TIMEOUT,
        )
        .await?;
    if response.error_code != 0 {
        return Ok(Err(response.error_code));
    }
    let values = (response.entries.iter().flatten()).flat_map(|e| &e.values);
    Ok(Ok(values.map(|v| (v.key.to_string(), v.value)).collect()))
}

enum Ended {
    /// The producers' time is over, or the broker answered an error: the connection is idle.
    Done,
    /// A request got no answer: the connection's state is unknown.
    GaveUp,
}

/// Produces on `conn` with [`IN_FLIGHT`] requests in flight, ignoring every throttle, until
/// `until`, an error answer (drained first: the leader moved) or a request without an answer.
async fn produce(
    w: &Workload,
    conn: &mut Connection,
    broker: u64,
    next_value: &mut u64,
    until: Instant,
) -> Ended {
    // (correlation id, invoked at, bytes) of each request in flight, oldest first.
    let mut in_flight: VecDeque<(i32, u64, u64)> = VecDeque::new();
    let mut sending = true;
    let bound = Duration::from_millis(PRODUCE_ANSWER_BOUND_MS);
    loop {
        sending &= Instant::now() < until;
        while sending && in_flight.len() < IN_FLIGHT {
            let request = produce_request(next_value);
            let invoked_ms = w.now_ms();
            match conn.send(ApiKey::Produce, 8, &request).await {
                Ok(id) => in_flight.push_back((id, invoked_ms, conn.last_request_bytes())),
                Err(_) => {
                    let bytes = conn.last_request_bytes();
                    in_flight.push_back((0, invoked_ms, bytes));
                    return unanswered(w, broker, in_flight);
                }
            }
        }
        let Some(&(id, invoked_ms, bytes)) = in_flight.front() else {
            return Ended::Done;
        };
        let answer = conn
            .receive::<ProduceResponse>(ApiKey::Produce, 8, id, bound)
            .await;
        let Ok(response) = answer else {
            return unanswered(w, broker, in_flight);
        };
        in_flight.pop_front();
        let code = (response.responses.iter())
            .flat_map(|t| &t.partition_responses)
            .map(|p| p.error_code)
            .find(|&code| code != 0)
            .unwrap_or(0);
        w.record(Event::QuotaProduce {
            broker,
            invoked_ms,
            bytes,
            answer: Some((code, response.throttle_time_ms)),
        });
        if code != 0 {
            // The leader moved (or the broker is not ready): drain, then route afresh.
            sending = false;
        }
    }
}

/// Records the requests in flight as unanswered.
fn unanswered(w: &Workload, broker: u64, in_flight: VecDeque<(i32, u64, u64)>) -> Ended {
    for (_, invoked_ms, bytes) in in_flight {
        w.record(Event::QuotaProduce {
            broker,
            invoked_ms,
            bytes,
            answer: None,
        });
    }
    Ended::GaveUp
}

/// A produce of [`RECORDS_PER_REQUEST`] records to the quota topic's partition, acks=1.
fn produce_request(next_value: &mut u64) -> ProduceRequest {
    let values: Vec<String> = (0..RECORDS_PER_REQUEST)
        .map(|_| {
            let value = format!("q-{:0>width$}", *next_value, width = VALUE_BYTES - 2);
            *next_value += 1;
            value
        })
        .collect();
    let entries: Vec<Entry<'_>> = (values.iter())
        .map(|value| Entry { key: b"q", value })
        .collect();
    // The simulated wall clock, as the producers' batches.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let bytes = batch::encode(&entries, None, Compression::None, now_ms)
        .expect("the quota producer's batch encodes");
    let data = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(bytes));
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(2_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic())
            .with_partition_data(vec![data])])
}
