//! A compacted topic (`cleanup.policy=compact`, issue 12): one writer updates a few keys over
//! and over (now and then with a tombstone), acks=all, one record per request or a batch of
//! several compressed with a seeded codec (the cleaner decompresses, filters and compresses
//! again), and one reader reads the whole log from
//! offset 0 again and again while the broker's cleaner rewrites it underneath, then once more
//! after healing. The checker (`checker::compaction`) holds every pass to what compaction may
//! do: remove a record only once a newer record of its key exists, and a tombstone only after
//! `delete.retention.ms`. Both talk to the partition's leader ([`super::route`]) and route
//! afresh after a transport error or a retriable refusal.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, Record, TimestampType};
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::batch::{decode_keyed, encode_records, CODECS};
use super::consumer::fetch_raw;
use super::{retriable, Workload, RETRY_BACKOFF};
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::Connection;
use crate::history::{Event, SendOutcome};

/// The compacted topic: one partition.
pub const COMPACTED_TOPIC: &str = "compacted";
/// Keys `k0..k{KEYS}`: few, so every key is updated many times and the cleaner has work.
pub const KEYS: u32 = 8;
/// The topic's `delete.retention.ms`: how long a tombstone stays readable after a clean
/// could first remove it (the checker excuses a pass slower than this).
pub const DELETE_RETENTION_MS: u64 = 2_000;
/// The topic's configs: compacted, cleaned as soon as anything is dirty.
pub fn topic_configs() -> Vec<(&'static str, String)> {
    vec![
        ("cleanup.policy", "compact".into()),
        ("min.cleanable.dirty.ratio", "0.01".into()),
        ("delete.retention.ms", DELETE_RETENTION_MS.to_string()),
    ]
}
/// Chance that a write is a tombstone.
const TOMBSTONE_PROBABILITY: f64 = 0.1;
/// Chance that a write is a batch of several records, compressed with a seeded codec (one of
/// five, `none` included: about a quarter of the writes are compressed).
const BATCH_PROBABILITY: f64 = 0.3;
/// Records of such a batch.
const BATCH_RECORDS: std::ops::RangeInclusive<usize> = 2..=5;
/// Pause between two writes.
const WRITE_PAUSE_MS: std::ops::Range<u64> = 2..30;
/// Pause between two read passes.
const PASS_PAUSE_MS: std::ops::Range<u64> = 300..1_500;
/// Bytes of padding per record, in a header (kept out of the history): segments fill, roll
/// and get cleaned within a run.
const PADDING_BYTES: usize = 200;

pub fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str(COMPACTED_TOPIC))
}

/// `k{key}`.
pub fn key_name(key: u32) -> String {
    format!("k{key}")
}

/// The records (`(key, value)`, a tombstone when `value` is `None`) as one v2 batch
/// compressed with `codec`.
fn encode(writes: &[(u32, Option<String>)], codec: Compression, timestamp_ms: i64) -> Bytes {
    let records: Vec<Record> = (writes.iter().enumerate())
        .map(|(i, (key, value))| {
            let mut headers = IndexMap::new();
            headers.insert(
                StrBytes::from_static_str("padding"),
                Some(Bytes::from(vec![b'.'; PADDING_BYTES])),
            );
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: timestamp_ms,
                key: Some(Bytes::from(key_name(*key))),
                value: value.as_ref().map(|v| Bytes::copy_from_slice(v.as_bytes())),
                headers,
            }
        })
        .collect();
    encode_records(&records, codec).expect("a batch encodes")
}

/// Writes `k{key}` = `k{key}-{n}` (unique values) or a tombstone, one record per request,
/// acks=all, until `until`. Every write's outcome goes into the history.
pub async fn compacted_writer(w: Workload, until: Instant) {
    let mut conn: Option<Connection> = None;
    let mut n = 0u64;
    while Instant::now() < until {
        let (writes, codec, pause) = {
            let mut rng = madsim::rand::thread_rng();
            let (count, codec) = if rng.gen_bool(BATCH_PROBABILITY) {
                (
                    rng.gen_range(BATCH_RECORDS),
                    CODECS[rng.gen_range(0..CODECS.len())],
                )
            } else {
                (1, Compression::None)
            };
            let writes: Vec<(u32, Option<String>)> = (0..count)
                .map(|_| {
                    let key = rng.gen_range(0..KEYS);
                    n += 1;
                    let value =
                        (!rng.gen_bool(TOMBSTONE_PROBABILITY)).then(|| format!("k{key}-{n}"));
                    (key, value)
                })
                .collect();
            (writes, codec, rng.gen_range(WRITE_PAUSE_MS))
        };
        let data = PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(encode(&writes, codec, w.now_ms() as i64)));
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(2_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![data])]);
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(w.connect_leader(COMPACTED_TOPIC, 0).await),
        };
        let answer = c
            .call::<_, ProduceResponse>(
                ApiKey::Produce,
                8,
                &request,
                Duration::from_millis(PRODUCE_ANSWER_BOUND_MS),
            )
            .await;
        // The batch's outcome, as the offset of its first record.
        let outcome = match answer {
            Ok(response) => {
                let p = &response.responses[0].partition_responses[0];
                match ErrorCode::from_wire(p.error_code) {
                    ErrorCode::NONE => SendOutcome::Ok {
                        offset: p.base_offset,
                    },
                    // An error answer to acks=all may still leave the records in the log.
                    code => {
                        if retriable(code) {
                            // The partition may have moved to another leader: route afresh.
                            conn = None;
                        }
                        SendOutcome::Unknown {
                            why: format!("error {code:?}"),
                        }
                    }
                }
            }
            Err(error) => {
                conn = None;
                SendOutcome::Unknown {
                    why: error.to_string(),
                }
            }
        };
        for (i, (key, value)) in writes.into_iter().enumerate() {
            let outcome = match &outcome {
                SendOutcome::Ok { offset } => SendOutcome::Ok {
                    offset: offset + i as i64,
                },
                other => other.clone(),
            };
            w.record(Event::CompactSent {
                key,
                value,
                outcome,
            });
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// Reads the whole compacted log from offset 0 up to the high watermark its first fetch
/// answered, pass after pass, until `last_at`; then one last pass (after healing), which must
/// end by `deadline`.
pub async fn compacted_reader(w: Workload, last_at: Instant, deadline: Instant) {
    let mut conn: Option<Connection> = None;
    loop {
        let last = Instant::now() >= last_at;
        let started_ms = w.now_ms();
        let give_up = if last { deadline } else { last_at };
        match read_pass(&w, &mut conn, give_up).await {
            Some(records) => w.record(Event::CompactPass {
                started_ms,
                records,
                last,
            }),
            None if last => w.record(Event::FinalReadTimedOut {
                partition: -1,
                detail: format!("no complete read of {COMPACTED_TOPIC} after healing"),
            }),
            None => {}
        }
        if last {
            return;
        }
        let pause = madsim::rand::thread_rng().gen_range(PASS_PAUSE_MS);
        let next = (Instant::now() + Duration::from_millis(pause)).min(last_at);
        tokio::time::sleep_until(next).await;
    }
}

/// One pass: every record from offset 0 until it has caught up with the high watermark of
/// its latest fetch, as (offset, key, value) — a caught-up reader, so a record written while
/// the pass ran that superseded one the cleaner then removed is read too. `None` if it cannot
/// finish by `give_up`.
async fn read_pass(
    w: &Workload,
    conn: &mut Option<Connection>,
    give_up: Instant,
) -> Option<Vec<(i64, u32, Option<String>)>> {
    let mut records = Vec::new();
    let mut next = 0i64;
    while Instant::now() < give_up {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(w.connect_leader(COMPACTED_TOPIC, 0).await),
        };
        let fetched = match fetch_raw(c, topic(), 0, next, 100).await {
            Ok(fetched) => fetched,
            Err(_) => {
                *conn = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        };
        match fetched.code {
            ErrorCode::NONE => {}
            ErrorCode::OFFSET_OUT_OF_RANGE => {
                // A crash lost the unsynced tail this pass was reading towards: start again.
                records.clear();
                next = 0;
                continue;
            }
            code => {
                if retriable(code) {
                    // The partition may have moved to another leader: route afresh.
                    *conn = None;
                }
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        }
        if next >= fetched.high_watermark {
            return Some(records);
        }
        let decoded = match fetched.records.map(decode_keyed).transpose() {
            Ok(decoded) => decoded.unwrap_or_default(),
            Err(detail) => {
                w.record(Event::Fault {
                    kind: "compact-corrupt-read",
                    detail: format!("{next}: {detail}"),
                });
                *conn = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        };
        for record in decoded.records.into_iter().filter(|r| r.offset >= next) {
            let key = record
                .key
                .as_deref()
                .and_then(|k| k.strip_prefix('k'))
                .and_then(|k| k.parse().ok())
                .unwrap_or(u32::MAX);
            records.push((record.offset, key, record.value));
        }
        match decoded.next_offset {
            Some(after) if after > next => next = after,
            _ => tokio::time::sleep(RETRY_BACKOFF).await,
        }
    }
    None
}
