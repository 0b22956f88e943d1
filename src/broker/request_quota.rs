//! The request-time quota (`request_percentage`, Kafka's `ClientRequestQuotaManager`, KIP-124):
//! how much of the broker's time a client's requests may take.
//!
//! Kafka counts the time a request occupies a request-handler thread; Rill has no handler
//! threads, so it counts the time spent *inside `poll`* of the request's handling in the
//! gateway — decoding, authorizing, merging, encoding, and the part of an answer completed
//! later — the analogue of handler-thread time. The actors' shared work (a partition's append,
//! a group's rebalance) and every wait (an fsync, a long poll, a JoinGroup's rebalance) cost
//! nothing. P % allows P % of one runtime worker: P × 10 ms of busy time per second, in the
//! token bucket the byte rates use.
//!
//! The time is charged when the answer is complete; the throttle it earns mutes the
//! connection (KIP-219) and is written into the answer's `throttle_time_ms` (where the answer
//! has one; see [`crate::protocol::throttle_field`]), raising, never lowering, what a byte-rate
//! quota wrote there. Exempt, as in Kafka: WriteTxnMarkers (a cluster action) and the SASL
//! exchange before authentication (it never reaches `dispatch`). Nothing is measured when no
//! `request_percentage` applies to the request. Under the simulator polls take no virtual time,
//! so request quotas never throttle there; unit tests drive them with a stepping clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use kafka_protocol::messages::ApiKey;

use super::quota::QuotaKind;
use super::service::{Answer, KafkaRequest, MonoClock, Pending};
use super::throttle::Throttle;
use super::BrokerService;
use crate::protocol::throttle_field;

/// A future whose polls are timed: `(output, nanoseconds spent inside poll)`.
struct Timed<F> {
    inner: F,
    clock: Arc<dyn MonoClock>,
    busy_ns: u64,
}

impl<F> Timed<F> {
    fn new(inner: F, clock: Arc<dyn MonoClock>) -> Self {
        Self {
            inner,
            clock,
            busy_ns: 0,
        }
    }
}

impl<F: Future + Unpin> Future for Timed<F> {
    type Output = (F::Output, u64);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let started_ns = self.clock.now_ns();
        let polled = Pin::new(&mut self.inner).poll(cx);
        let spent_ns = self.clock.now_ns().saturating_sub(started_ns);
        self.busy_ns = self.busy_ns.saturating_add(spent_ns);
        let busy_ns = self.busy_ns;
        polled.map(|output| (output, busy_ns))
    }
}

/// What a request is charged to: its client's request quota.
pub(super) struct Charge {
    throttle: Throttle,
    key: ApiKey,
    version: i16,
}

impl Charge {
    /// Records `busy_ns`: the throttle it earns (ms), the connection muted that long.
    fn record(&self, busy_ns: u64) -> i32 {
        self.throttle.record(busy_ns)
    }

    /// `answer` saying at least `throttle_ms` in its `throttle_time_ms` (as it was when it has
    /// no such field).
    fn written(&self, mut answer: Answer, throttle_ms: i32) -> Answer {
        if throttle_ms > 0 {
            let offset =
                throttle_field::offset(self.key, self.version, answer.head(), answer.len());
            if let Some(at) = offset {
                answer.rewrite_head(at, |field| throttle_field::raise(field, throttle_ms));
            }
        }
        answer
    }
}

impl<C> BrokerService<C> {
    /// What `request` will be charged to, when a `request_percentage` applies to it.
    pub(super) fn request_quota(&self, request: &KafkaRequest) -> Option<Charge> {
        let prefix = request.prefix;
        let key = ApiKey::try_from(prefix.api_key).ok()?;
        if key == ApiKey::WriteTxnMarkers {
            return None;
        }
        let throttle = self.throttle(request, QuotaKind::Request)?;
        Some(Charge {
            throttle,
            key,
            version: prefix.api_version,
        })
    }
}

impl Charge {
    /// `handling` (a request's answer), timed and charged: at once for a ready answer, when it
    /// completes for one completed later.
    pub(super) fn timed<'a>(
        self,
        handling: BoxFuture<'a, Pending>,
        clock: Arc<dyn MonoClock>,
    ) -> BoxFuture<'a, Pending> {
        Box::pin(async move {
            let (pending, busy_ns) = Timed::new(handling, Arc::clone(&clock)).await;
            match pending {
                Pending::Ready(answer) => {
                    let throttle_ms = self.record(busy_ns);
                    Pending::Ready(answer.map(|answer| self.written(answer, throttle_ms)))
                }
                Pending::Last(answer) => {
                    let throttle_ms = self.record(busy_ns);
                    Pending::Last(self.written(answer, throttle_ms))
                }
                Pending::Close(why) => {
                    self.record(busy_ns);
                    Pending::Close(why)
                }
                // The rest of the handling is timed too, and charged when it completes.
                Pending::Later(later) => Pending::Later(Box::pin(async move {
                    let (result, later_ns) = Timed::new(later, clock).await;
                    let busy_ns = busy_ns.saturating_add(later_ns);
                    let throttle_ms = self.record(busy_ns);
                    result.map(|answer| answer.map(|answer| self.written(answer, throttle_ms)))
                })),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use kafka_protocol::messages::{
        DescribeClientQuotasRequest, DescribeClientQuotasResponse, ProduceResponse,
    };

    use super::*;
    use crate::actor::fake_client::FakeClient;
    use crate::broker::tests::{
        answer, appended, body_of, produce, quota_gateway, request_from, VERSION,
    };
    use crate::messages::quotas::REQUEST_PERCENTAGE;
    use crate::messages::{NodeMsg, PARTITIONS};
    use crate::types::ErrorCode;

    /// A clock that moves `step_ns` at every read, so each poll of a handling (read before
    /// and after) takes one step.
    struct SteppingClock {
        now_ns: AtomicU64,
        step_ns: u64,
    }

    impl MonoClock for SteppingClock {
        fn now_ns(&self) -> u64 {
            self.now_ns.fetch_add(self.step_ns, Ordering::SeqCst)
        }
    }

    /// A gateway where client id `client` has `request_percentage` = `percent`, and each
    /// poll takes `step_ms`.
    fn gateway(
        client: &str,
        percent: f64,
        step_ms: u64,
    ) -> (FakeClient<NodeMsg>, Arc<BrokerService<FakeClient<NodeMsg>>>) {
        let clock = Arc::new(SteppingClock {
            now_ns: AtomicU64::new(0),
            step_ns: step_ms * 1_000_000,
        });
        quota_gateway(client, REQUEST_PERCENTAGE, percent, clock)
    }

    /// DescribeClientQuotas (answered by the gateway alone, in one poll) from client id
    /// `test`: its throttle_time_ms and the connection's mute deadline.
    fn describe_quotas(service: &BrokerService<FakeClient<NodeMsg>>) -> (i32, u64) {
        let key = ApiKey::DescribeClientQuotas;
        let request = request_from(
            key,
            1,
            &DescribeClientQuotasRequest::default(),
            Default::default(),
        );
        let mute = request.mute.clone();
        let answered = answer(service, request).unwrap().expect("answered");
        let response: DescribeClientQuotasResponse = body_of(key, 1, &answered);
        assert_eq!(response.error_code, 0);
        (response.throttle_time_ms, mute.until_ms())
    }

    #[test]
    fn handling_time_over_the_request_percentage_earns_a_throttle_written_into_the_answer() {
        // 1 % = 10 ms of handling per second, one second of burst; each request takes 5 ms
        // (one poll) and the clock moves 15 ms a request (three reads).
        let (_, service) = gateway("test", 1.0, 5);
        let first = describe_quotas(&service);
        assert_eq!(first, (0, 0), "within the burst: no throttle, no mute");
        describe_quotas(&service);
        let (throttle_ms, muted_until_ms) = describe_quotas(&service);
        // ~5 ms of debt at 10 ms/s: ~500 ms (less what 45 ms of clock refilled).
        assert!((450..=500).contains(&throttle_ms), "{throttle_ms}");
        assert!(
            muted_until_ms >= throttle_ms as u64,
            "the connection is muted that long"
        );
        // Deeper in debt, a longer throttle.
        let (deeper_ms, _) = describe_quotas(&service);
        assert!(deeper_ms > throttle_ms, "{deeper_ms} after {throttle_ms}");
    }

    #[test]
    fn a_client_without_a_request_quota_is_never_measured_or_muted() {
        let (_, service) = gateway("someone-else", 0.0, 50);
        for _ in 0..20 {
            assert_eq!(describe_quotas(&service), (0, 0));
        }
    }

    #[test]
    fn an_answer_completed_later_is_charged_when_it_completes_with_produce_s_throttle_at_its_end() {
        // 200 ms a poll at 1 %: far over at the first request.
        let (node, service) = gateway("test", 1.0, 200);
        node.reply(PARTITIONS, appended(ErrorCode::NONE, 42));
        let request = produce(1, b"batch");
        let mute = request.mute.clone();
        let answered = answer(&service, request).unwrap().expect("answered");
        let response: ProduceResponse = body_of(ApiKey::Produce, VERSION, &answered);
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!((partition.error_code, partition.base_offset), (0, 42));
        assert!(
            response.throttle_time_ms > 1_000,
            "{}",
            response.throttle_time_ms
        );
        assert!(mute.until_ms() >= response.throttle_time_ms as u64);
    }
}
