//! What the Kafka listener (the host's `host::kafka`) and the gateway exchange: a request frame
//! in, a pending answer out. Defined here, on the gateway's side, so the gateway never imports
//! the host: the host plugs a [`KafkaService`] into its listener.

// The client's address as a value, logged with its requests: `core::net` holds address types
// only, no sockets; the host owns the connection.
use core::net::SocketAddr;

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
    pub context: std::sync::Arc<ConnectionContext>,
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
}
