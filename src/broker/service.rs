//! What the Kafka listener (the host's `host::kafka`) and the gateway exchange: a request frame
//! in, a pending answer out. Defined here, on the gateway's side, so the gateway never imports
//! the host: the host plugs a [`KafkaService`] into its listener.

// The client's address as a value, logged with its requests: `core::net` holds address types
// only, no sockets; the host owns the connection.
use core::net::SocketAddr;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::protocol::frame::HeaderPrefix;
use crate::security::principal::KafkaPrincipal;

/// One request frame, with the header prefix already read.
#[derive(Debug)]
pub struct KafkaRequest {
    pub prefix: HeaderPrefix,
    /// The whole frame after the size: header and body.
    pub frame: Bytes,
    pub client: SocketAddr,
    /// The connection's listener and who it authenticated as.
    pub context: Arc<ConnectionContext>,
    /// The connection's mute (shared by all its requests): a quota the request went over
    /// extends it, and the listener reads nothing more from the connection until it ends.
    pub mute: Mute,
}

/// A monotonic clock, injected into the gateway by the host (virtual under madsim), so the
/// gateway reads time without reading the system's clock and a seed replays exactly.
pub trait MonoClock: Send + Sync {
    /// Nanoseconds since an arbitrary start; never decreases.
    fn now_ns(&self) -> u64;

    /// Milliseconds since the same start.
    fn now_ms(&self) -> u64 {
        self.now_ns() / 1_000_000
    }
}

/// A clock that moves only when told (tests, and simulations driving the gateway directly).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn at_ms(now_ms: u64) -> Self {
        Self(AtomicU64::new(now_ms.saturating_mul(1_000_000)))
    }

    pub fn set_ms(&self, now_ms: u64) {
        self.0
            .store(now_ms.saturating_mul(1_000_000), Ordering::SeqCst);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.advance_ns(ms.saturating_mul(1_000_000));
    }

    pub fn advance_ns(&self, ns: u64) {
        let _ = (self.0).fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
            Some(now.saturating_add(ns))
        });
    }
}

impl MonoClock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Until when a connection is muted (Kafka's throttled channel, KIP-219), in ms of the
/// service's [`MonoClock`] (`KafkaService::mute_clock`); 0: not muted. The gateway extends it
/// when a request earns a throttle, the host waits it out before reading the next request.
/// Clones share the deadline.
#[derive(Clone, Debug, Default)]
pub struct Mute(Arc<AtomicU64>);

impl Mute {
    /// Muted until at least `until_ms`; never shortens a longer mute (two quotas, or a fetch
    /// completing after a produce, each hold the connection for their own throttle).
    pub fn extend_to(&self, until_ms: u64) {
        self.0.fetch_max(until_ms, Ordering::SeqCst);
    }

    /// How long the connection stays muted from `now_ms`; None when it is not muted.
    pub fn remaining(&self, now_ms: u64) -> Option<u64> {
        let until_ms = self.until_ms();
        (until_ms > now_ms).then(|| until_ms - now_ms)
    }

    /// The deadline (0: never muted).
    pub fn until_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a connection is, fixed once it has authenticated: shared by its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionContext {
    /// The listener's name (upper case): Metadata and FindCoordinator name each broker by its
    /// endpoint on this listener, as Kafka does, so a client stays on the protocol it chose.
    pub listener: String,
    /// `User:ANONYMOUS` until authenticated; the SASL user name, or the TLS client
    /// certificate's subject.
    pub principal: KafkaPrincipal,
}

impl Default for ConnectionContext {
    /// A PLAINTEXT connection nobody authenticated (tests, and the default listener).
    fn default() -> Self {
        Self {
            listener: "PLAINTEXT".to_string(),
            principal: KafkaPrincipal::anonymous(),
        }
    }
}

/// One complete response frame (size included), as the chunks it is written from, in order.
///
/// Most answers are one buffer. A Fetch answer carrying large record sets is several: the
/// encoded response with each large record set left out, and the record bytes as read from
/// the log, so tens of MB are not copied once more into one buffer (see
/// `broker::fetch_encode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer(Vec<Bytes>);

impl Answer {
    /// An answer from its chunks, written one after another.
    pub fn chunks(chunks: Vec<Bytes>) -> Self {
        Self(chunks)
    }

    /// The chunks, in the order they are written.
    pub fn as_chunks(&self) -> &[Bytes] {
        &self.0
    }

    /// Bytes in the whole frame.
    pub fn len(&self) -> usize {
        self.0.iter().map(Bytes::len).sum()
    }

    /// The frame's first chunk (its start: the size, the header, the body's first fields).
    pub fn head(&self) -> &[u8] {
        self.0.first().map_or(&[], |chunk| chunk.as_ref())
    }

    /// Rewrites the 4 bytes at offset `at` of the frame, when they lie in the first chunk
    /// (copied once; the others are shared as they were). False, and nothing changed, when
    /// they do not.
    pub fn rewrite_head(&mut self, at: usize, rewrite: impl FnOnce(&mut [u8; 4])) -> bool {
        let Some(head) = self.0.first_mut() else {
            return false;
        };
        if at.checked_add(4).is_none_or(|end| end > head.len()) {
            return false;
        }
        let mut copy = bytes::BytesMut::from(head.as_ref());
        let field: &mut [u8; 4] = (&mut copy[at..at + 4]).try_into().expect("4 bytes");
        rewrite(field);
        *head = copy.freeze();
        true
    }

    /// Whether the frame has no bytes (never true of an encoded response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Answer {
    fn from(whole: Bytes) -> Self {
        Self(vec![whole])
    }
}

/// What the service gives back for one request.
pub enum Pending {
    /// The complete response frame, or `None` when the request gets no answer (produce with
    /// acks=0).
    Ready(Option<Answer>),
    /// An answer that completes later (e.g. after the partition's fsync); `None` when no answer
    /// is owed (produce with acks=0). `Err` closes the connection: a request that can no longer
    /// be answered must not be skipped silently, or the client would wait for it while later
    /// answers arrive (and an acks=0 produce that failed closes it too, as in Kafka).
    Later(BoxFuture<'static, Result<Option<Answer>, String>>),
    /// Close the connection (Kafka's answer to a request it cannot parse).
    Close(String),
    /// Write this answer, then close the connection: a failed authentication (Kafka sends
    /// the error, then closes).
    Last(Answer),
}

/// The broker side of the listener. Both methods are called in request order per connection.
pub trait KafkaService: Send + Sync + 'static {
    /// A request on a connection that may send anything (authenticated, or a listener
    /// without SASL).
    fn dispatch(&self, request: KafkaRequest) -> BoxFuture<'_, Pending>;

    /// A request on a SASL listener's connection that has not authenticated yet: only
    /// ApiVersions, SaslHandshake and SaslAuthenticate are answered, anything else closes it.
    /// Once `session.authenticated()` names a principal, the connection's next requests go
    /// to `dispatch`.
    fn authenticate<'a>(
        &'a self,
        request: KafkaRequest,
        session: &'a mut crate::broker::sasl::SaslSession,
    ) -> BoxFuture<'a, Pending>;

    /// The clock the service's [`Mute`] deadlines are on, which the listener reads to wait
    /// them out: the same clock, so the gateway and the host agree on when a mute ends. None
    /// (the default): the service never mutes, and the listener never waits.
    fn mute_clock(&self) -> Option<Arc<dyn MonoClock>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mute_only_grows_and_is_shared_by_its_clones() {
        let mute = Mute::default();
        assert_eq!((mute.remaining(0), mute.until_ms()), (None, 0));
        let theirs = mute.clone();
        theirs.extend_to(300);
        assert_eq!(mute.remaining(100), Some(200));
        mute.extend_to(200); // a shorter throttle does not cut a longer one
        assert_eq!(mute.remaining(100), Some(200));
        assert_eq!((mute.remaining(299), mute.remaining(300)), (Some(1), None));
        mute.extend_to(u64::MAX);
        assert_eq!(theirs.remaining(0), Some(u64::MAX));
    }

    #[test]
    fn the_manual_clock_moves_when_told() {
        let clock = ManualClock::at_ms(5);
        assert_eq!((clock.now_ms(), clock.now_ns()), (5, 5_000_000));
        clock.advance_ns(999_999);
        assert_eq!(clock.now_ms(), 5);
        clock.advance_ms(1);
        assert_eq!(clock.now_ns(), 6_999_999);
        clock.set_ms(2);
        assert_eq!(clock.now_ms(), 2);
        clock.advance_ns(u64::MAX);
        assert_eq!(clock.now_ns(), u64::MAX);
    }
}
