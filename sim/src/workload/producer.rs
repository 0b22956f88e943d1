//! Producers like librdkafka's: up to [`IN_FLIGHT_MAX`] produce requests pipelined on one
//! connection (Kafka answers them in order), batches of one or many records (now and then a
//! large one), compressed with a seeded codec. An idempotent producer stamps its batches with
//! consecutive sequences and re-sends unacknowledged batches with the same bytes (same
//! sequences), in order, on the same or a new connection; when retries run out or the broker
//! refuses it for good, it takes a new identity and the outcome of every unacknowledged batch
//! is unknown. Now and then a producer closes its connection right after writing a request, or
//! after writing only part of one. Every request's start and end goes into the history for the
//! liveness check.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::admin::{init_producer_id, Identity};
use super::batch::{self, Entry, Stamp, CODECS};
use super::{retriable, topic_name, Workload, RETRY_BACKOFF, TOPIC};
use crate::checker::PRODUCE_ANSWER_BOUND_MS;
use crate::client::Connection;
use crate::history::{Event, RequestEnd, SendOutcome};
use crate::schedule;

/// Produce requests in flight on one connection, as librdkafka's idempotent producer allows.
pub const IN_FLIGHT_MAX: usize = 5;
/// Attempts per batch before the producer gives up on it (and on every batch behind it).
const ATTEMPTS_MAX: u32 = 20;
/// The broker's `timeout.ms` for acks=all; the client waits [`PRODUCE_ANSWER_BOUND_MS`].
const PRODUCE_TIMEOUT_MS: i32 = 2000;
/// Chance per request that the client drops its connection on purpose around it.
const DROP_PROBABILITY: f64 = 0.02;
/// Pause between bursts of batches, drawn per burst (librdkafka's `linger.ms` with an
/// application that produces in bursts): each burst writes up to [`IN_FLIGHT_MAX`] batches at
/// once, so requests pipeline, while the pause keeps a seed's volume affordable.
const LINGER_MS: std::ops::RangeInclusive<u64> = 0..=100;

/// One producer's settings, drawn from the run's seed.
#[derive(Clone, Copy, Debug)]
pub struct ProducerSpec {
    pub id: u32,
    pub partition: i32,
    /// 0, 1 or -1 (all). Idempotent producers use -1, as Kafka's clients require.
    pub acks: i16,
    pub idempotent: bool,
}

/// A batch not yet acknowledged.
struct Pending {
    values: Vec<String>,
    bytes: Bytes,
    attempts: u32,
    /// Some attempt ended without an answer: a later error answer cannot prove it unwritten.
    unknown_attempt: bool,
}

/// A request written on the current connection and not yet answered.
struct InFlight {
    correlation_id: i32,
    request: u64,
}

struct Producer {
    w: Workload,
    spec: ProducerSpec,
    identity: Option<Identity>,
    next_sequence: i32,
    next_value: u64,
    /// Batches drawn so far, sent or left out (a batch's number in the run's schedule).
    batches: u32,
    requests: u64,
    /// Unacknowledged batches in sequence order; the first `in_flight.len()` are in flight on
    /// `conn`.
    queue: VecDeque<Pending>,
    conn: Option<Connection>,
    in_flight: VecDeque<InFlight>,
}

/// Sends unique values `p{id}-{n}` to the spec's partition until `until`, then finishes the
/// batches it has started.
pub async fn producer(w: Workload, spec: ProducerSpec, until: Instant) {
    w.record(Event::Producer {
        producer: spec.id,
        partition: spec.partition,
        acks: spec.acks,
        idempotent: spec.idempotent,
    });
    let identity = if spec.idempotent {
        Some(init_producer_id(&w, spec.id).await)
    } else {
        None
    };
    let mut p = Producer {
        w,
        spec,
        identity,
        next_sequence: 0,
        next_value: 0,
        batches: 0,
        requests: 0,
        queue: VecDeque::new(),
        conn: None,
        in_flight: VecDeque::new(),
    };
    let mut next_burst = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_burst && now < until {
            let mut rng = madsim::rand::thread_rng();
            let burst = rng.gen_range(1..=IN_FLIGHT_MAX);
            next_burst = now + Duration::from_millis(rng.gen_range(LINGER_MS));
            drop(rng);
            for _ in p.queue.len()..burst {
                if let Some(batch) = p.new_batch() {
                    p.queue.push_back(batch);
                }
            }
        }
        if p.queue.is_empty() {
            if now >= until {
                return;
            }
            tokio::time::sleep_until(next_burst.min(until)).await;
            continue;
        }
        p.step().await;
        if p.queue.front().is_some_and(|b| b.attempts >= ATTEMPTS_MAX) {
            p.abandon_all("retries exhausted").await;
        }
    }
}

impl Producer {
    fn record(&self, event: Event) {
        self.w.record(event);
    }

    /// A new batch of fresh values: usually one or a few records, now and then a large one
    /// (16 to 64 records with 1 to 6 KiB of key each: up to ~400 KiB). The volume matters: a
    /// crash must often find acknowledged appends whose fsync is still running. `None`: a
    /// shrink's replay left this batch out (`crate::schedule`): it is drawn all the same, so the
    /// draws after it and the values of later batches stay what they were, but never sent, and
    /// takes no sequence numbers.
    fn new_batch(&mut self) -> Option<Pending> {
        let mut rng = madsim::rand::thread_rng();
        let (records, pad_bytes) = match rng.gen_range(0..100) {
            0..=59 => (1, 0),
            60..=95 => (rng.gen_range(2..=20), rng.gen_range(0..64)),
            _ => (rng.gen_range(16..=64), rng.gen_range(1024..=6144)),
        };
        let mut pad = vec![0u8; pad_bytes];
        // Half random (incompressible), half repeated: codecs have work of both kinds.
        rng.fill(&mut pad[..pad_bytes / 2]);
        let key: Vec<u8> = format!("p{}", self.spec.id).into_bytes();
        let key = [key, pad].concat();
        let values: Vec<String> = (0..records)
            .map(|_| {
                self.next_value += 1;
                format!("p{}-{}", self.spec.id, self.next_value - 1)
            })
            .collect();
        let number = self.batches;
        self.batches += 1;
        let sent = schedule::batch(self.spec.id, number, self.w.now_ms(), || {
            let records = match &values[..] {
                [one] => one.clone(),
                [first, .., last] => format!("{} records {first}..{last}", values.len()),
                [] => "no record".into(),
            };
            format!("producer {} batch {number}: {records}", self.spec.id)
        });
        if !sent {
            // The codec's draw too, as a batch sent takes it.
            let _codec = rng.gen_range(0..CODECS.len());
            return None;
        }
        for value in &values {
            self.record(Event::Send {
                producer: self.spec.id,
                partition: self.spec.partition,
                value: value.clone(),
            });
        }
        let stamp = self.identity.map(|i| Stamp {
            producer_id: i.producer_id,
            epoch: i.epoch,
            base_sequence: self.next_sequence,
        });
        self.next_sequence += records as i32;
        let entries: Vec<Entry<'_>> = values
            .iter()
            .map(|value| Entry { key: &key, value })
            .collect();
        let codec = CODECS[rng.gen_range(0..CODECS.len())];
        let bytes = batch::encode(
            &entries,
            stamp,
            codec,
            // The simulated wall clock, which the broker's clock also reads: the broker refuses
            // CreateTime records more than `message.timestamp.after.max.ms` ahead of it.
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        )
        .expect("the workload's batches encode");
        Some(Pending {
            values,
            bytes,
            attempts: 0,
            unknown_attempt: false,
        })
    }

    fn request(&self, bytes: Bytes) -> ProduceRequest {
        let data = PartitionProduceData::default()
            .with_index(self.spec.partition)
            .with_records(Some(bytes));
        ProduceRequest::default()
            .with_acks(self.spec.acks)
            .with_timeout_ms(PRODUCE_TIMEOUT_MS)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name())
                .with_partition_data(vec![data])])
    }

    fn end(&self, request: u64, end: RequestEnd) {
        self.record(Event::Answered {
            producer: self.spec.id,
            request,
            end,
        });
    }

    /// Closes the connection; every request still in flight on it ends with `end`, and its
    /// batch's outcome becomes unknown. `first` is the queue index of the first batch in flight
    /// (1 once the front batch's answer was taken).
    async fn drop_connection(&mut self, first: usize, end: RequestEnd) {
        for (i, f) in self.in_flight.iter().enumerate() {
            self.queue[first + i].unknown_attempt = true;
            self.end(f.request, end.clone());
        }
        self.in_flight.clear();
        self.conn = None;
        tokio::time::sleep(RETRY_BACKOFF).await;
    }

    /// Writes what is not yet in flight, then handles the oldest answer.
    async fn step(&mut self) {
        if self.conn.is_none() {
            // Routed afresh on every new connection: a retriable refusal (the leader moved)
            // drops the connection, so the next step asks Metadata again.
            self.conn = Some(self.w.connect_leader(TOPIC, self.spec.partition).await);
        }
        while self.in_flight.len() < self.queue.len() {
            let index = self.in_flight.len();
            self.queue[index].attempts += 1;
            let request = self.request(self.queue[index].bytes.clone());
            self.requests += 1;
            let number = self.requests;
            self.record(Event::Request {
                producer: self.spec.id,
                request: number,
                acks: self.spec.acks,
            });
            let (drop_after, partial) = {
                let mut rng = madsim::rand::thread_rng();
                let chaos = rng.gen_bool(DROP_PROBABILITY);
                (chaos, chaos && rng.gen_bool(0.5))
            };
            let conn = self.conn.as_mut().expect("connected above");
            if partial {
                let fraction = madsim::rand::thread_rng().gen_range(0.05..0.95);
                let _ = conn
                    .send_partial(ApiKey::Produce, 8, &request, fraction)
                    .await;
                self.queue[index].unknown_attempt = true;
                self.end(number, RequestEnd::ClientDropped);
                return self.drop_connection(0, RequestEnd::ClientDropped).await;
            }
            match conn.send(ApiKey::Produce, 8, &request).await {
                Ok(correlation_id) => self.in_flight.push_back(InFlight {
                    correlation_id,
                    request: number,
                }),
                Err(e) => {
                    self.queue[index].unknown_attempt = true;
                    self.end(number, RequestEnd::Lost { why: e.to_string() });
                    return self
                        .drop_connection(0, RequestEnd::Lost { why: e.to_string() })
                        .await;
                }
            }
            if drop_after {
                return self.drop_connection(0, RequestEnd::ClientDropped).await;
            }
        }
        if self.spec.acks == 0 {
            // No answer comes: every written batch's outcome is unknown.
            while let Some(f) = self.in_flight.pop_front() {
                self.end(f.request, RequestEnd::NoAnswerExpected);
                let batch = self.queue.pop_front().expect("in flight is queued");
                self.conclude(batch, |_| SendOutcome::Unknown {
                    why: "acks=0".into(),
                });
            }
            return;
        }
        let front = self.in_flight.front().expect("written above");
        let (correlation_id, number) = (front.correlation_id, front.request);
        let answer = self
            .conn
            .as_mut()
            .expect("connected above")
            .receive::<ProduceResponse>(
                ApiKey::Produce,
                8,
                correlation_id,
                Duration::from_millis(PRODUCE_ANSWER_BOUND_MS),
            )
            .await;
        let answer = answer.and_then(|r| {
            r.responses
                .first()
                .and_then(|t| t.partition_responses.first())
                .map(|p| (ErrorCode::from_wire(p.error_code), p.base_offset))
                .ok_or_else(|| crate::client::CallError::Protocol("no partition answer".into()))
        });
        let (code, base_offset) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                return self
                    .drop_connection(0, RequestEnd::Lost { why: e.to_string() })
                    .await
            }
        };
        self.in_flight.pop_front();
        self.end(number, RequestEnd::Answer { code: code.wire() });
        if code == ErrorCode::NONE {
            let batch = self.queue.pop_front().expect("in flight is queued");
            self.conclude(batch, |i| SendOutcome::Ok {
                offset: base_offset + i as i64,
            });
        } else if retriable(code) {
            // The batches behind it are refused too (their sequences follow): re-send them all
            // in order on a new connection.
            self.drop_connection(1, RequestEnd::ClientDropped).await;
        } else if self.identity.is_some() {
            // The broker refuses this identity's sequence for good.
            self.abandon_all(&format!("unrecoverable error {}", code.wire()))
                .await;
        } else {
            let batch = self.queue.pop_front().expect("in flight is queued");
            let unknown = batch.unknown_attempt;
            self.conclude(batch, |_| match unknown {
                true => SendOutcome::Unknown {
                    why: format!("error {} after an unanswered attempt", code.wire()),
                },
                false => SendOutcome::Fail { code: code.wire() },
            });
        }
    }

    /// Records the outcome of each of a batch's records (`outcome(i)` for record `i`).
    fn conclude(&self, batch: Pending, outcome: impl Fn(usize) -> SendOutcome) {
        for (i, value) in batch.values.into_iter().enumerate() {
            self.record(Event::Sent {
                producer: self.spec.id,
                partition: self.spec.partition,
                value,
                outcome: outcome(i),
            });
        }
    }

    /// Gives up on every unacknowledged batch (outcome unknown, or failed when no attempt was
    /// written) and, when idempotent, starts over with a new identity: the broker's view of the
    /// old one's sequence is unknown now.
    async fn abandon_all(&mut self, why: &str) {
        let first = self.queue.len() - self.in_flight.len();
        self.drop_connection(first, RequestEnd::ClientDropped).await;
        while let Some(batch) = self.queue.pop_front() {
            self.conclude(batch, |_| SendOutcome::Unknown { why: why.into() });
        }
        if self.identity.is_some() {
            self.identity = Some(init_producer_id(&self.w, self.spec.id).await);
            self.next_sequence = 0;
        }
    }
}
