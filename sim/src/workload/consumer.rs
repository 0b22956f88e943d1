//! Consumers: each reads its partition in order from offset 0 on a connection to its leader
//! ([`super::route`]), like a consumer with `auto.offset.reset` jumping back into range when
//! the log moved, and now and then seeks back (to the log start, or to an offset it already
//! read) and re-reads, so the checker can compare what one offset returned at two times.

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, TopicName};
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::admin::{list_offset, EARLIEST};
use super::{batch, retriable, topic_name, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::client::{CallError, Connection};
use crate::history::Event;

/// Chance per fetch that the consumer seeks back to re-read.
const SEEK_BACK_PROBABILITY: f64 = 0.005;
/// How far back a seek to an offset already read goes at most (the log start is the other
/// target, less often: a full re-read costs the whole log).
const SEEK_BACK_OFFSETS_MAX: i64 = 500;

pub(super) fn fetch_request(
    topic: TopicName,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> FetchRequest {
    let p = FetchPartition::default()
        .with_partition(partition)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic)
            .with_partitions(vec![p])])
}

/// One fetch's answer for the partition.
pub struct Fetched {
    pub code: ErrorCode,
    pub high_watermark: i64,
    pub log_start: i64,
    /// (offset, value) of each record at or after the fetch offset.
    pub records: Vec<(i64, String)>,
}

/// One fetch's answer for one partition of `topic`, its records still encoded.
pub struct FetchedRaw {
    pub code: ErrorCode,
    pub high_watermark: i64,
    pub log_start: i64,
    pub records: Option<Bytes>,
}

pub async fn fetch_raw(
    conn: &mut Connection,
    topic: TopicName,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Result<FetchedRaw, CallError> {
    let response: FetchResponse = conn
        .call(
            ApiKey::Fetch,
            11,
            &fetch_request(topic, partition, offset, max_wait_ms),
            CALL_TIMEOUT,
        )
        .await?;
    let data = &response.responses[0].partitions[0];
    Ok(FetchedRaw {
        code: ErrorCode::from_wire(data.error_code),
        high_watermark: data.high_watermark,
        log_start: data.log_start_offset,
        records: data.records.clone(),
    })
}

pub async fn fetch_once(
    conn: &mut Connection,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Result<Fetched, CallError> {
    let raw = fetch_raw(conn, topic_name(), partition, offset, max_wait_ms).await?;
    let mut records = match raw.records {
        Some(bytes) => batch::decode(bytes)
            .map_err(|e| CallError::Protocol(format!("undecodable records: {e}")))?,
        None => Vec::new(),
    };
    // A fetch returns whole batches: drop the records before the asked offset.
    records.retain(|(o, _)| *o >= offset);
    Ok(Fetched {
        code: raw.code,
        high_watermark: raw.high_watermark,
        log_start: raw.log_start,
        records,
    })
}

/// Reads `partition` from offset 0 in order until `until`, recording every record seen.
pub async fn consumer(w: Workload, id: u32, partition: i32, until: Instant) {
    let mut conn: Option<Connection> = None;
    let mut next = 0i64;
    // The first offset read since the last reset: a seek back stays at or after it.
    let mut read_from: Option<i64> = None;
    while Instant::now() < until {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(w.connect_leader(super::TOPIC, partition).await),
        };
        if madsim::rand::thread_rng().gen_bool(SEEK_BACK_PROBABILITY) {
            let to = match read_from {
                Some(first) if first < next && madsim::rand::thread_rng().gen_bool(0.9) => {
                    let lowest = first.max(next - SEEK_BACK_OFFSETS_MAX);
                    Some(madsim::rand::thread_rng().gen_range(lowest..next))
                }
                _ => list_offset(c, partition, EARLIEST).await.ok(),
            };
            match to {
                Some(to) if to < next => {
                    w.record(Event::Seek {
                        consumer: id,
                        partition,
                        from: next,
                        to,
                    });
                    next = to;
                }
                Some(_) => {}
                None => {
                    conn = None;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        match fetch_once(c, partition, next, 100).await {
            Ok(f) if f.code == ErrorCode::NONE => {
                for (offset, value) in f.records {
                    read_from.get_or_insert(offset);
                    w.record(Event::Poll {
                        consumer: id,
                        partition,
                        offset,
                        value,
                    });
                    next = offset + 1;
                }
            }
            Ok(f) if f.code == ErrorCode::OFFSET_OUT_OF_RANGE => {
                // Out of range: the log was truncated (lost unsynced data) or retention moved
                // its start. Like a consumer with auto.offset.reset, jump into range.
                let to = if next < f.log_start {
                    f.log_start
                } else {
                    f.high_watermark.max(f.log_start)
                };
                w.record(Event::Reset {
                    consumer: id,
                    partition,
                    from: next,
                    to,
                });
                next = to;
                read_from = None;
            }
            Ok(f) if retriable(f.code) => {
                // The partition may have moved to another leader: route afresh.
                conn = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Ok(_) => tokio::time::sleep(RETRY_BACKOFF).await,
            Err(CallError::Protocol(detail)) if detail.starts_with("undecodable") => {
                w.record(Event::Fault {
                    kind: "corrupt-read",
                    detail: format!("partition {partition} at {next}: {detail}"),
                });
                conn = None;
            }
            Err(_) => conn = None,
        }
    }
}
