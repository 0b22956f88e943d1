//! The Kafka listener: accepts client connections, splits frames, keeps responses in order.
//!
//! Per connection, a reader task takes frames off the socket (size checked against
//! `socket.request.max.bytes` before any allocation), hands each to the [`KafkaService`] *in
//! order* — so two pipelined produce requests reach their partition in the order they were sent,
//! like Kafka, which handles one request per connection at a time — and passes the pending answer
//! to a writer task that writes answers in request order. At most [`INFLIGHT_PER_CONNECTION_MAX`]
//! answers may be outstanding; beyond that the reader stops reading (back-pressure). Of those, at
//! most [`FETCHES_IN_FLIGHT_PER_CONNECTION`] may be Fetches: a Fetch answer can be
//! `fetch.max.bytes` large, so the next Fetch is read only once the previous answer is written
//! (Kafka reads nothing from a connection whose answer is still being sent). A malformed
//! frame closes only its own connection.
//!
//! What is admitted is bounded by [`Admission`]: at most `max.connections` (a connection over it
//! is closed right after accept), a connection with no request read and none owed for
//! `connections.max.idle.ms` is closed, large frames take memory from the
//! `queued.max.request.bytes` pool before they are read, and a frame must arrive completely
//! within [`crate::limits::REQUEST_FRAME_COMPLETE_MS_MAX`] of its first bytes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::Instrument;

use super::admission::{Admission, Refused};
use crate::broker::sasl::SaslSession;
use crate::broker::service::{
    ConnectionContext, KafkaRequest, KafkaService, MonoClock, Mute, Pending,
};
use crate::limits::{FETCHES_IN_FLIGHT_PER_CONNECTION, INFLIGHT_PER_CONNECTION_MAX};
use crate::metrics as names;
use crate::protocol::frame::{peek_header, split_frame, SIZE_BYTES};
use crate::security::principal::KafkaPrincipal;
use crate::security::sasl::{SaslMechanism, SaslServerConfig};
use crate::types::log_sampling::PowersOfTwo;

/// Kafka's API key of Fetch.
const FETCH_API_KEY: i16 = 1;
const PRODUCE_API_KEY: i16 = 0;
const OFFSET_COMMIT_API_KEY: i16 = 8;
/// SaslHandshake's: on an authenticated connection, the start of re-authentication.
const SASL_HANDSHAKE_API_KEY: i16 = 17;

/// The crash point that follows the write of an answer to `api_key`, if any.
fn crash_point_after(api_key: i16) -> Option<crate::faults::FaultPoint> {
    match api_key {
        PRODUCE_API_KEY => Some(crate::faults::FaultPoint::CrashAfterProduceAck),
        OFFSET_COMMIT_API_KEY => Some(crate::faults::FaultPoint::CrashAfterCommitAnswer),
        _ => None,
    }
}

/// An answer the writer owes, with the Fetch turn it holds until it is written.
struct Owed {
    pending: Pending,
    turn: Option<OwnedSemaphorePermit>,
    /// The request frame's `queued.max.request.bytes` memory, for an answer still being worked
    /// on (`Pending::Later`, e.g. a produce waiting for its append): the records travel to the
    /// partitions actor as copies, so the pool keeps counting them until the work is done.
    memory: Option<OwnedSemaphorePermit>,
    /// The simulator's crash point that follows this answer's write: `crash-after-produce-ack`
    /// for a produce, `crash-after-commit-answer` for an OffsetCommit.
    crash_point: Option<crate::faults::FaultPoint>,
    /// The request's span (its log lines' fields), and its API and version, and when its last
    /// byte was read: its metrics.
    span: tracing::Span,
    /// Counted in the request queue gauge until dropped, however the answer ends (written,
    /// dropped with a closed connection, or left in the channel).
    _queued: Queued,
    api_key: i16,
    api_version: i16,
    received: Instant,
}

/// Where the next request's answer will go, taken before anything is held for the request
/// itself: a slot in the writer's queue and, for a Fetch, the connection's fetch turn. A client
/// that does not read its answers then waits here holding nothing shared (no pool memory).
struct Reserved {
    slot: mpsc::OwnedPermit<Owed>,
    turn: Option<OwnedSemaphorePermit>,
}

/// Reserves the next answer's place; `None` when the writer is gone.
async fn reserve(
    answers: &mpsc::Sender<Owed>,
    fetch_turns: &Arc<Semaphore>,
    api_key: Option<i16>,
) -> Option<Reserved> {
    let turn = match api_key {
        // Waits while the previous Fetch answer is unwritten (the client not reading).
        Some(FETCH_API_KEY) => Some(fetch_turns.clone().acquire_owned().await.ok()?),
        _ => None,
    };
    let slot = answers.clone().reserve_owned().await.ok()?;
    Some(Reserved { slot, turn })
}

/// The API key of the frame at the front of `buf`, once its first bytes are in.
fn front_api_key(buf: &[u8]) -> Option<i16> {
    let key = buf.get(SIZE_BYTES..SIZE_BYTES + 2)?;
    Some(i16::from_be_bytes([key[0], key[1]]))
}

/// A connection's read buffer as it starts, and as it starts again after a large frame.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The size a frame at the front of `buf` declares, once its size prefix is in, if it is
/// within `frame_bytes_max` (a larger or negative one is `split_frame`'s to refuse).
fn front_frame_bytes(buf: &[u8], frame_bytes_max: usize) -> Option<usize> {
    let prefix: [u8; SIZE_BYTES] = buf.get(..SIZE_BYTES)?.try_into().ok()?;
    let declared = usize::try_from(i32::from_be_bytes(prefix)).ok()?;
    (declared <= frame_bytes_max).then_some(declared)
}

/// A read buffer that grew for a large frame is given back once that frame is handed over
/// (keeping only what follows it), so an idle connection does not keep 100 MiB it once needed.
const READ_BUFFER_KEPT_BYTES: usize = 2 * crate::limits::REQUEST_BYTES_UNPOOLED_MAX;

/// Stops the listeners and connections of one server.
///
/// Flipping `stop` makes accept loops return and every connection stop reading new requests;
/// connections still write the answers they owe, then close. Each accept loop and connection
/// holds a clone of `alive`, so the server learns that all of them are done when its receiver
/// sees the channel close.
#[derive(Clone)]
pub struct Lifecycle {
    pub stop: watch::Receiver<bool>,
    pub alive: mpsc::Sender<()>,
}

/// What a listener asks of its connections before they may send requests.
pub struct ListenerSecurity {
    /// The listener's name (upper case), for the requests' [`ConnectionContext`].
    pub name: String,
    /// SSL and SASL_SSL: the TLS handshake each connection starts with.
    pub tls: Option<super::tls::SharedAcceptor>,
    /// SASL_PLAINTEXT and SASL_SSL: the mechanisms and PLAIN's users.
    pub sasl: Option<Arc<SaslServerConfig>>,
    /// The broker's secret for SCRAM's decoy credentials (unknown users look like known ones).
    pub decoy_key: Arc<[u8]>,
    /// `sasl.server.max.receive.size`: the largest frame a SASL listener reads before the
    /// connection has authenticated.
    pub unauthenticated_frame_bytes_max: usize,
}

/// Accepts connections until the lifecycle says stop.
pub async fn serve(
    listener: TcpListener,
    security: Arc<ListenerSecurity>,
    service: Arc<dyn KafkaService>,
    admission: Arc<Admission>,
    mut life: Lifecycle,
) {
    let refusals = PowersOfTwo::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = life.stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, client)) => {
                let slot = match admission.connection_slot(client.ip()) {
                    Ok(slot) => slot,
                    Err(why) => {
                        // Closed at once (dropping the socket), so the descriptor is back
                        // before the next accept. Logged at powers of two: a flood of
                        // refusals must not become a flood of log lines.
                        let (refused, loud) = refusals.count();
                        if loud {
                            match why {
                                Refused::MaxConnections => tracing::warn!(
                                    %client,
                                    max_connections = admission.config.max_connections,
                                    refused,
                                    "max.connections reached; closing new connections"
                                ),
                                Refused::PerIp(limit) => tracing::warn!(
                                    %client,
                                    max_connections_per_ip = limit,
                                    refused,
                                    "max.connections.per.ip reached for this address; \
                                     closing its new connections"
                                ),
                            }
                        }
                        drop(stream);
                        continue;
                    }
                };
                let service = service.clone();
                let life = life.clone();
                let admission = admission.clone();
                let security = security.clone();
                // Every log line of the connection names its client and listener, and its
                // principal once known (`log.format=json` carries them as fields).
                let span = tracing::info_span!(
                    "conn",
                    client = %client,
                    listener = %security.name,
                    principal = tracing::field::Empty,
                );
                let connection = async move {
                    let _ = stream.set_nodelay(true);
                    let _counted = ConnectionCounted::new(&security.name);
                    let peer = Peer {
                        client,
                        security: &security,
                    };
                    match &security.tls {
                        None => connection(stream, peer, None, service, admission, life).await,
                        Some(tls) => {
                            // Under madsim no acceptor exists: the call never returns there.
                            #[cfg_attr(madsim, allow(unused_variables))]
                            let handshake = handshake(tls.current(), stream, client, &admission);
                            let mut stop = life.stop.clone();
                            let done = tokio::select! {
                                biased;
                                _ = stop.changed() => None,
                                done = handshake => done,
                            };
                            if let Some((stream, principal)) = done {
                                connection(stream, peer, principal, service, admission, life).await;
                            }
                        }
                    }
                    drop(slot);
                };
                tokio::spawn(connection.instrument(span));
            }
            Err(e) => {
                tracing::warn!(error = %e, "kafka accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// How a muted connection's wait ended (see [`wait_out_mute`]).
#[derive(Debug, PartialEq, Eq)]
enum Unmuted {
    /// It was not muted.
    Free,
    /// The mute ended.
    Waited,
    /// Shutting down, or the writer stopped: read nothing more.
    Stop,
    /// Nothing owed and nothing read for `connections.max.idle.ms`: Kafka closes an idle
    /// connection even while it is throttled (KIP-219).
    Idle,
}

/// The longest one sleep of [`wait_out_mute`]: a mute of years (a throttle far past any
/// window) is waited out an hour at a time, so no deadline arithmetic overflows.
const MUTE_SLEEP_MS_MAX: u64 = 60 * 60 * 1000;

/// Waits while the connection is muted (Kafka's throttled channel): the reader reads and
/// dispatches nothing meanwhile, so a client that ignores `throttle_time_ms` is held too, and
/// its pipelined requests wait unread in the socket (TCP back-pressure). The writer carries
/// on: the throttled answer, and any other owed, is written at once. The mute is re-read after
/// each sleep, as a fetch completing meanwhile may extend it.
async fn wait_out_mute(
    mute: &Mute,
    clock: &dyn MonoClock,
    stop: &mut watch::Receiver<bool>,
    answers: &mpsc::Sender<Owed>,
    owed: &AtomicUsize,
    last_activity: &mut Instant,
    idle: Duration,
) -> Unmuted {
    let mut waited = false;
    while let Some(wait_ms) = mute.remaining(clock.now_ms()) {
        waited = true;
        let unmuted = Instant::now() + Duration::from_millis(wait_ms.min(MUTE_SLEEP_MS_MAX));
        let idle_deadline = *last_activity + idle;
        tokio::select! {
            biased;
            _ = stop.changed() => return Unmuted::Stop,
            _ = answers.closed() => return Unmuted::Stop,
            _ = tokio::time::sleep_until(idle_deadline), if idle_deadline < unmuted => {
                if owed.load(Ordering::SeqCst) == 0 {
                    return Unmuted::Idle;
                }
                // Waiting for its own answers (a parked fetch) is not idle.
                *last_activity = Instant::now();
            }
            _ = tokio::time::sleep_until(unmuted) => {}
        }
    }
    if waited {
        Unmuted::Waited
    } else {
        Unmuted::Free
    }
}

/// Why a connection's reader stopped waiting for bytes.
enum Wake {
    Read(std::io::Result<usize>),
    Stop,
    /// Nothing read and nothing owed for `connections.max.idle.ms`, or a frame that did not
    /// arrive in time.
    Deadline,
}

/// Who is on the other end of a connection, and the listener's rules for it.
struct Peer<'a> {
    client: SocketAddr,
    security: &'a ListenerSecurity,
}

/// The TLS handshake, within the time a request frame has to arrive; the stream and the
/// client certificate's principal (if it sent one), or `None` when the handshake failed.
#[cfg(not(madsim))]
async fn handshake(
    tls: super::tls::Acceptor,
    stream: TcpStream,
    client: SocketAddr,
    admission: &Admission,
) -> Option<(
    tokio_rustls::server::TlsStream<TcpStream>,
    Option<KafkaPrincipal>,
)> {
    let within = Duration::from_millis(admission.config.frame_complete_ms);
    match tokio::time::timeout(within, tls.accept(stream)).await {
        Ok(Ok(stream)) => {
            let certificate = stream.get_ref().1.peer_certificates();
            let principal = (certificate.and_then(|c| c.first()))
                .and_then(|leaf| super::tls::principal_of(leaf));
            Some((stream, principal))
        }
        Ok(Err(e)) => {
            handshake_failed(client, &e.to_string());
            None
        }
        Err(_) => {
            handshake_failed(client, "not done in time");
            None
        }
    }
}

/// Logs a failed TLS handshake: every one at debug, and at the powers of two of their count
/// at info, so a client retrying with the wrong certificate cannot flood the log.
#[cfg(not(madsim))]
fn handshake_failed(client: SocketAddr, why: &str) {
    static FAILED: PowersOfTwo = PowersOfTwo::new();
    let (failed, loud) = FAILED.count();
    if loud {
        tracing::info!(%client, error = %why, failed, "TLS handshake failed; closing the connection");
    } else {
        tracing::debug!(%client, error = %why, "TLS handshake failed; closing the connection");
    }
}

/// No TLS in the simulator: no [`super::tls::Acceptor`] exists to call this with.
#[cfg(madsim)]
async fn handshake(
    tls: super::tls::Acceptor,
    _: TcpStream,
    _: SocketAddr,
    _: &Admission,
) -> Option<(TcpStream, Option<KafkaPrincipal>)> {
    match tls {}
}

/// Random bytes for a SCRAM server nonce: the OS's in production, the seed's under madsim.
fn nonce() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    super::rng::secure_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

async fn connection<S>(
    stream: S,
    peer: Peer<'_>,
    tls_principal: Option<KafkaPrincipal>,
    service: Arc<dyn KafkaService>,
    admission: Arc<Admission>,
    mut life: Lifecycle,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let client = peer.client;
    tracing::trace!(%client, "kafka connection accepted");
    if let Some(principal) = &tls_principal {
        tracing::Span::current().record("principal", tracing::field::display(principal));
    }
    let mut context = Arc::new(ConnectionContext {
        listener: peer.security.name.clone(),
        principal: tls_principal.unwrap_or_else(KafkaPrincipal::anonymous),
    });
    let new_session = || {
        (peer.security.sasl.clone())
            .map(|config| SaslSession::new(config, nonce(), peer.security.decoy_key.clone()))
    };
    let mut sasl = new_session();
    // KIP-368 (`connections.max.reauth.ms` > 0): when the authenticated session ends, and the
    // mechanism it authenticated with (a renewal must use it again).
    let reauth = (peer.security.sasl.as_ref())
        .map(|config| Duration::from_millis(config.reauth_ms))
        .filter(|lifetime| !lifetime.is_zero());
    let mut session_ends: Option<Instant> = None;
    let mut authenticated_with: Option<SaslMechanism> = None;
    // The connection's quota mute, set by the gateway on the gateway's clock; a service
    // without a clock never mutes.
    let mute = Mute::default();
    let mute_clock = service.mute_clock();
    let request_bytes_max = admission.config.request_bytes_max;
    let idle = Duration::from_millis(admission.config.idle_ms);
    let frame_complete = Duration::from_millis(admission.config.frame_complete_ms);
    let (mut reader, writer) = tokio::io::split(stream);
    let (answers, answers_rx) = mpsc::channel::<Owed>(INFLIGHT_PER_CONNECTION_MAX);
    let fetch_turns = Arc::new(Semaphore::new(FETCHES_IN_FLIGHT_PER_CONNECTION));
    // Answers handed to the writer and not yet written: a connection owing one is not idle.
    let owed = Arc::new(AtomicUsize::new(0));
    let writer_task = tokio::spawn(
        write_answers(writer, answers_rx, client, owed.clone(), idle)
            .instrument(tracing::Span::current()),
    );
    let mut buf = BytesMut::with_capacity(READ_BUFFER_BYTES);
    let mut last_activity = Instant::now();
    // When the first bytes of the frame still arriving came in, and its pool memory.
    let mut frame_started: Option<Instant> = None;
    let mut frame_memory: Option<OwnedSemaphorePermit> = None;
    let mut reserved: Option<Reserved> = None;
    'read: loop {
        loop {
            // Muted (a quota's throttle): nothing is reserved, taken from the pool, read or
            // dispatched until it ends. Not before authentication: no quota applies then.
            if let (None, Some(clock)) = (&sasl, mute_clock.as_deref()) {
                let unmuted = wait_out_mute(
                    &mute,
                    clock,
                    &mut life.stop,
                    &answers,
                    &owed,
                    &mut last_activity,
                    idle,
                )
                .await;
                match unmuted {
                    Unmuted::Free => {}
                    // A frame partly read before the mute has its full time from now on.
                    Unmuted::Waited => frame_started = None,
                    Unmuted::Stop => break 'read,
                    Unmuted::Idle => {
                        tracing::debug!(
                            %client,
                            "closing kafka connection: connections.max.idle.ms (while throttled)"
                        );
                        break 'read;
                    }
                }
            }
            if reserved.is_none() && buf.len() >= SIZE_BYTES + 2 {
                let api_key = front_api_key(&buf);
                reserved = tokio::select! {
                    biased;
                    _ = life.stop.changed() => break 'read,
                    reserved = reserve(&answers, &fetch_turns, api_key) => reserved,
                };
                if reserved.is_none() {
                    break 'read; // the writer is gone (socket error)
                }
                // The frame's deadline counts from when it may proceed.
                frame_started = None;
            }
            // Kafka's `sasl.server.max.receive.size`: before authenticating, a client's frames
            // are small (SASL tokens), so a larger one is refused before any pool memory is
            // taken for a client nobody knows (one within it, over 64 KiB, takes its size
            // from the pool like any other).
            let frame_bytes_max = match sasl {
                Some(_) => request_bytes_max.min(peer.security.unauthenticated_frame_bytes_max),
                None => request_bytes_max,
            };
            // A large frame takes its room in queued.max.request.bytes as soon as its size is
            // known, whether its bytes are still coming or already here (several pipelined
            // frames can arrive in one read): every large frame read and not yet handled is
            // in the pool, so a flood of them waits instead of filling memory. Taken after the
            // frame's in-flight slot, so a connection with its answers owed takes none.
            if frame_memory.is_none() && reserved.is_some() {
                if let Some(declared) = front_frame_bytes(&buf, frame_bytes_max) {
                    let started = *frame_started.get_or_insert_with(Instant::now);
                    let left = frame_complete.saturating_sub(started.elapsed());
                    let admitted = tokio::select! {
                        biased;
                        _ = life.stop.changed() => break 'read,
                        // The writer is gone: nothing read now could be answered.
                        _ = answers.closed() => break 'read,
                        admitted = admission.frame_memory(declared, left) => admitted,
                    };
                    match admitted {
                        Ok(Some(permit)) => {
                            // The pool holds room for the whole frame: allocate it once,
                            // instead of doubling the buffer and copying what came so far
                            // at every step (a 77 MB frame copied ~128 MB more on the
                            // connection's worker, which other clients' requests waited
                            // for). Never done for a frame the pool did not admit, so a
                            // size prefix alone still allocates nothing.
                            // Not before authentication: a size prefix from a client nobody
                            // knows allocates nothing up front (its frames are at most
                            // sasl.server.max.receive.size, so growing as bytes come is cheap).
                            if sasl.is_none() {
                                buf.reserve((declared + SIZE_BYTES).saturating_sub(buf.len()));
                            }
                            frame_memory = Some(permit);
                        }
                        Ok(None) => {}
                        Err(_) => {
                            tracing::warn!(
                                %client,
                                frame_bytes = declared,
                                "closing kafka connection: no room in queued.max.request.bytes \
                                 before the frame's deadline"
                            );
                            break 'read;
                        }
                    }
                }
            }
            // A mute that began while this frame waited for its slot or its pool room (a Fetch
            // extends it as it completes, just before it frees the next Fetch's turn): waited
            // out above, with the slot and the room kept, before the frame is dispatched.
            let muted_now = |clock: &dyn MonoClock| mute.remaining(clock.now_ms()).is_some();
            if sasl.is_none() && mute_clock.as_deref().is_some_and(muted_now) {
                continue;
            }
            let frame = match split_frame(&mut buf, frame_bytes_max) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%client, error = %e, "closing kafka connection");
                    break 'read;
                }
            };
            let received = Instant::now();
            // Held until the request is handed over; the next frame starts afresh.
            let memory = frame_memory.take();
            frame_started = None;
            // What follows a large frame moves to a fresh small buffer. Checking the rest's
            // capacity is not enough: a frame allocated whole leaves the rest none, and once
            // the frame is dropped the next read's `reserve` takes the whole allocation back
            // (BytesMut reclaims a buffer it owns alone), outside the pool, for good: 50
            // connections pipelining 94 MB produces held 4.7 GB (bench/hostile.py
            // produce-flood-big).
            if frame.len() > READ_BUFFER_KEPT_BYTES || buf.capacity() > READ_BUFFER_KEPT_BYTES {
                let mut smaller = BytesMut::with_capacity(READ_BUFFER_BYTES.max(buf.len()));
                smaller.extend_from_slice(&buf);
                buf = smaller;
            }
            // A frame too short to name its API (closed below) reserves nothing.
            let Reserved { slot, turn } = match reserved.take() {
                Some(reserved) => reserved,
                None => match reserve(&answers, &fetch_turns, None).await {
                    Some(reserved) => reserved,
                    None => break 'read,
                },
            };
            let prefix = match peek_header(&frame) {
                Ok(prefix) => prefix,
                Err(e) => {
                    tracing::warn!(%client, error = %e, "closing kafka connection");
                    break 'read;
                }
            };
            if sasl.is_none() && reauth.is_some() {
                if let (SASL_HANDSHAKE_API_KEY, Some(mechanism)) =
                    (prefix.api_key, authenticated_with)
                {
                    // Re-authentication: the SASL exchange again, on this connection, with the
                    // same mechanism and principal (the session checks both).
                    let principal = context.principal.clone();
                    sasl = new_session().map(|session| session.renewing(mechanism, principal));
                } else if session_ends.is_some_and(|ends| Instant::now() >= ends) {
                    tracing::debug!(
                        %client,
                        principal = %context.principal,
                        "closing kafka connection: its SASL session expired \
                         (connections.max.reauth.ms) and it did not authenticate again"
                    );
                    break 'read;
                }
            }
            if crate::buggify!(0.002) {
                // Simulated connection reset: the answers owed are lost with the connection.
                tracing::debug!(%client, "buggify: resetting the kafka connection");
                writer_task.abort();
                return;
            }
            // The request's log lines name it (`log.format=json`: as fields); its answer's work
            // done later (a produce's fsync, a fetch's wait) too.
            let span = tracing::info_span!(
                "request",
                api = crate::protocol::api_name::api_name(prefix.api_key),
                correlation_id = prefix.correlation_id,
                client_id = crate::protocol::frame::peek_client_id(&frame).unwrap_or(""),
            );
            let request = KafkaRequest {
                prefix,
                frame,
                client,
                context: context.clone(),
                // Before authentication a throwaway: no mute applies to a client nobody knows.
                mute: match sasl {
                    None => mute.clone(),
                    Some(_) => Mute::default(),
                },
            };
            let pending = match sasl.as_mut() {
                None => service.dispatch(request).instrument(span.clone()).await,
                Some(session) => {
                    let pending = service
                        .authenticate(request, session)
                        .instrument(span.clone())
                        .await;
                    if let Some(principal) = session.authenticated() {
                        tracing::Span::current()
                            .record("principal", tracing::field::display(principal));
                        match authenticated_with {
                            Some(_) => tracing::debug!(%client, %principal, "re-authenticated"),
                            None => tracing::debug!(%client, %principal, "authenticated"),
                        }
                        authenticated_with = session.mechanism();
                        context = Arc::new(ConnectionContext {
                            listener: context.listener.clone(),
                            principal: principal.clone(),
                        });
                        session_ends = reauth.map(|lifetime| Instant::now() + lifetime);
                        sasl = None;
                    }
                    pending
                }
            };
            let pending = match pending {
                Pending::Later(work) => Pending::Later(Box::pin(work.instrument(span.clone()))),
                answered => answered,
            };
            let close = matches!(pending, Pending::Close(_) | Pending::Last(_));
            // A ready answer needs the frame no more; work still under way keeps its memory.
            let memory = memory.filter(|_| matches!(pending, Pending::Later(_)));
            owed.fetch_add(1, Ordering::SeqCst);
            slot.send(Owed {
                pending,
                turn,
                memory,
                crash_point: crash_point_after(prefix.api_key),
                span,
                _queued: Queued::new(),
                api_key: prefix.api_key,
                api_version: prefix.api_version,
                received,
            });
            if close {
                break 'read; // the service asked to close
            }
            last_activity = Instant::now();
        }
        if !buf.is_empty() {
            frame_started.get_or_insert_with(Instant::now);
        }
        let deadline = match frame_started {
            Some(started) => started + frame_complete,
            None => last_activity + idle,
        };
        let wake = tokio::select! {
            biased;
            _ = life.stop.changed() => Wake::Stop,
            // The writer stopped (a write failed or an answer could not be made): nothing more
            // read from this client can be answered.
            _ = answers.closed() => Wake::Stop,
            read = reader.read_buf(&mut buf) => Wake::Read(read),
            _ = tokio::time::sleep_until(deadline) => Wake::Deadline,
        };
        match wake {
            Wake::Stop => {
                tracing::trace!(%client, "kafka connection stops reading: shutting down");
                break;
            }
            Wake::Read(Ok(0)) => {
                tracing::trace!(%client, "kafka connection closed by the client");
                break;
            }
            Wake::Read(Ok(_)) => last_activity = Instant::now(),
            Wake::Read(Err(e)) => {
                tracing::debug!(%client, error = %e, "kafka connection read failed");
                break;
            }
            Wake::Deadline if frame_started.is_some() => {
                tracing::warn!(
                    %client,
                    buffered = buf.len(),
                    "closing kafka connection: request frame incomplete after {} ms",
                    frame_complete.as_millis()
                );
                break;
            }
            Wake::Deadline if owed.load(Ordering::SeqCst) > 0 => {
                // Waiting for its own answers (a parked fetch) is not idle.
                last_activity = Instant::now();
            }
            Wake::Deadline => {
                tracing::debug!(%client, "closing kafka connection: connections.max.idle.ms");
                break;
            }
        }
    }
    // Let the writer finish the answers already owed, then close.
    drop(reserved);
    drop(answers);
    drop(frame_memory);
    let _ = writer_task.await;
    drop(life.alive);
}

async fn write_answers<W: tokio::io::AsyncWrite + Unpin>(
    mut writer: W,
    mut answers: mpsc::Receiver<Owed>,
    client: SocketAddr,
    owed: Arc<AtomicUsize>,
    stall: Duration,
) {
    // `_turn` is released when this iteration ends: after the answer is written.
    while let Some(Owed {
        pending,
        turn: _turn,
        memory,
        crash_point,
        span,
        _queued,
        api_key,
        api_version,
        received,
    }) = answers.recv().await
    {
        let _answered = Answered(&owed);
        let bytes = match pending {
            Pending::Ready(bytes) => bytes,
            Pending::Later(future) => match future.await {
                Ok(bytes) => {
                    drop(memory);
                    bytes
                }
                Err(reason) => {
                    span.in_scope(|| tracing::warn!(%client, %reason, "closing kafka connection"));
                    break;
                }
            },
            Pending::Close(reason) => {
                span.in_scope(|| tracing::warn!(%client, %reason, "closing kafka connection"));
                break;
            }
            // Written below; the reader stopped reading after it, so it is the last. A failed
            // login waits first (Kafka's connection.failed.authentication.delay.ms), so
            // guessing passwords costs a client time, not the broker.
            Pending::Last(answer) => {
                let delay = crate::limits::FAILED_AUTHENTICATION_DELAY_MS;
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Some(answer)
            }
        };
        if let Some(answer) = bytes {
            // Flush each answer: a no-op on a real socket, but madsim's TCP sends on flush.
            // A client that stops reading its answers is closed once an answer cannot be
            // written within connections.max.idle.ms (Kafka counts only completed sends as
            // activity), so it cannot hold its answers' memory for ever.
            let write = async {
                write_chunks(&mut writer, answer.as_chunks()).await?;
                writer.flush().await
            };
            let head = answer.as_chunks().first().map(|c| c.as_ref());
            let throttle_ms = answer_throttle_ms(api_key, api_version, head, answer.len());
            match tokio::time::timeout(stall, write).await {
                Ok(Ok(())) => {
                    answered_metrics(api_key, received, throttle_ms);
                    // The client can see this acknowledgement now: the simulator may power-fail
                    // the disk here (and kill the node once the answer can have arrived).
                    if let Some(point) = crash_point {
                        let _ = crate::fault_point!(point, format!("answer to {client}"));
                    }
                }
                Ok(Err(e)) => {
                    span.in_scope(
                        || tracing::debug!(%client, error = %e, "kafka connection write failed"),
                    );
                    break;
                }
                Err(_) => {
                    span.in_scope(|| {
                        tracing::warn!(
                            %client,
                            "closing kafka connection: an answer could not be written for {} ms \
                             (connections.max.idle.ms; the client is not reading)",
                            stall.as_millis()
                        )
                    });
                    break;
                }
            }
        } else {
            // Nothing owed (an acks=0 produce): counted once its work is done.
            answered_metrics(api_key, received, 0);
        }
    }
    // Answers still queued will never be written: count them answered, so nothing waits on them.
    answers.close();
    while answers.try_recv().is_ok() {
        owed.fetch_sub(1, Ordering::SeqCst);
    }
    let _ = writer.shutdown().await;
}

/// Chunks handed to one vectored write, at most: a Fetch answer has two per large record set
/// and one more, so a few writes cover even a many-partition answer.
const CHUNKS_PER_WRITE: usize = 64;

/// Writes every chunk, in order, with vectored writes: the small encoded parts and the record
/// bytes between them leave in the same system calls (no tiny segment per part on a
/// `TCP_NODELAY` socket), and nothing is copied into one buffer first. A write takes what the
/// socket buffer has room for, so a large answer is written in turns, the task yielding
/// whenever the socket is full.
async fn write_chunks<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut W,
    chunks: &[Bytes],
) -> std::io::Result<()> {
    let mut chunk = 0; // the first chunk not completely written
    let mut offset = 0; // bytes of it already written
    while chunk < chunks.len() {
        let slices: Vec<std::io::IoSlice<'_>> = chunks[chunk..]
            .iter()
            .take(CHUNKS_PER_WRITE)
            .enumerate()
            .map(|(i, c)| std::io::IoSlice::new(if i == 0 { &c[offset..] } else { c }))
            .collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 && slices.iter().any(|s| !s.is_empty()) {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        // Skip what was written: whole chunks, then part of the next one.
        while chunk < chunks.len() && written >= chunks[chunk].len() - offset {
            written -= chunks[chunk].len() - offset;
            chunk += 1;
            offset = 0;
        }
        offset += written;
    }
    Ok(())
}

/// Counts an owed answer as answered when dropped (written, failed or abandoned).
struct Answered<'a>(&'a AtomicUsize);

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request read and not yet answered, in the request queue gauge while it lives.
struct Queued(());

impl Queued {
    fn new() -> Self {
        names::queued(1.0);
        Self(())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        names::queued(-1.0);
    }
}

/// An open connection in `connection_count` (and `connection_creation_total`), by listener,
/// until dropped.
struct ConnectionCounted(metrics::Gauge);

impl ConnectionCounted {
    fn new(listener: &str) -> Self {
        metrics::counter!(names::CONNECTIONS_CREATED, "listener" => listener.to_string())
            .increment(1);
        let gauge = metrics::gauge!(names::CONNECTION_COUNT, "listener" => listener.to_string());
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for ConnectionCounted {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The `throttle_time_ms` a quota wrote into an answer (0 when it has none): read back from
/// the encoded frame, the one place every throttle — byte rates', request time's, mutations' —
/// ends up.
fn answer_throttle_ms(key: i16, version: i16, head: Option<&[u8]>, frame_len: usize) -> i32 {
    let (Ok(key), Some(head)) = (ApiKey::try_from(key), head) else {
        return 0;
    };
    let Some(at) = crate::protocol::throttle_field::offset(key, version, head, frame_len) else {
        return 0;
    };
    head.get(at..at + 4)
        .and_then(|field| field.try_into().ok())
        .map_or(0, i32::from_be_bytes)
}

/// Counts an answered request: by API, its time since its last byte was read, its throttle.
fn answered_metrics(api_key: i16, received: Instant, throttle_ms: i32) {
    let request = crate::protocol::api_name::api_name(api_key);
    let total_ms = received.elapsed().as_secs_f64() * 1_000.0;
    names::answered(request, total_ms, throttle_ms);
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    /// A socket that takes at most `per_write` bytes a call, from as many slices as reach.
    struct Trickle {
        got: Vec<u8>,
        per_write: usize,
        calls: usize,
    }

    impl tokio::io::AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.per_write);
            self.got.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.per_write - n);
                self.got.extend_from_slice(&buf[..take]);
                n += take;
            }
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn chunks_are_written_whole_and_in_order_across_partial_writes() {
        let chunks: Vec<Bytes> = ["ab", "", "cdefg", "h", "", "ijklmnopq"]
            .into_iter()
            .map(|c| Bytes::from_static(c.as_bytes()))
            .collect();
        for per_write in [1, 2, 3, 5, 7, 100] {
            let mut socket = Trickle {
                got: Vec::new(),
                per_write,
                calls: 0,
            };
            write_chunks(&mut socket, &chunks).await.unwrap();
            assert_eq!(
                socket.got, b"abcdefghijklmnopq",
                "{per_write} bytes a write"
            );
            // Vectored: a write takes from several chunks, never needing more calls than bytes.
            assert_eq!(socket.calls, 17usize.div_ceil(per_write), "{per_write}");
        }
    }

    #[tokio::test]
    async fn a_socket_taking_nothing_fails_the_write() {
        let mut socket = Trickle {
            got: Vec::new(),
            per_write: 0,
            calls: 0,
        };
        let chunks = [Bytes::from_static(b"x")];
        let err = write_chunks(&mut socket, &chunks).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WriteZero);
    }

    /// A service that answers every request at once with an empty body and mutes the
    /// connection for `mute_ms` on the first, noting when each request was dispatched.
    struct MutingService {
        clock: super::super::clock::Clock,
        mute_ms: u64,
        dispatched: std::sync::Mutex<Vec<(i32, Instant)>>,
    }

    impl MutingService {
        fn dispatched(&self) -> Vec<(i32, Instant)> {
            self.dispatched.lock().unwrap().clone()
        }
    }

    impl KafkaService for MutingService {
        fn dispatch(&self, request: KafkaRequest) -> futures_util::future::BoxFuture<'_, Pending> {
            let mut dispatched = self.dispatched.lock().unwrap();
            if dispatched.is_empty() {
                request.mute.extend_to(self.clock.now_ms() + self.mute_ms);
            }
            let correlation_id = request.prefix.correlation_id;
            dispatched.push((correlation_id, Instant::now()));
            let mut answer = 4i32.to_be_bytes().to_vec();
            answer.extend_from_slice(&correlation_id.to_be_bytes());
            let answer = crate::broker::service::Answer::from(Bytes::from(answer));
            Box::pin(async move { Pending::Ready(Some(answer)) })
        }

        fn authenticate<'a>(
            &'a self,
            _: KafkaRequest,
            _: &'a mut SaslSession,
        ) -> futures_util::future::BoxFuture<'a, Pending> {
            Box::pin(async { Pending::Close("no SASL here".into()) })
        }

        fn mute_clock(&self) -> Option<Arc<dyn MonoClock>> {
            Some(Arc::new(self.clock))
        }
    }

    /// A request frame (size included): header v1, null client_id, no body.
    fn request_frame(correlation_id: i32) -> Vec<u8> {
        let mut frame = 10i32.to_be_bytes().to_vec();
        frame.extend_from_slice(&3i16.to_be_bytes()); // Metadata
        frame.extend_from_slice(&1i16.to_be_bytes());
        frame.extend_from_slice(&correlation_id.to_be_bytes());
        frame.extend_from_slice(&(-1i16).to_be_bytes());
        frame
    }

    /// The next answer's correlation id, or None at the end of the stream.
    async fn read_answer(client: &mut tokio::io::DuplexStream) -> Option<i32> {
        let mut answer = [0u8; 8];
        client.read_exact(&mut answer).await.ok()?;
        Some(i32::from_be_bytes(answer[4..].try_into().unwrap()))
    }

    /// A plaintext connection to `service` over an in-memory pipe, with `idle_ms`.
    fn connect(
        service: Arc<MutingService>,
        idle_ms: u64,
    ) -> (tokio::io::DuplexStream, watch::Sender<bool>) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let admission = Admission::new(crate::host::admission::AdmissionConfig {
            request_bytes_max: 1 << 20,
            max_connections: 10,
            max_connections_per_ip: 10,
            per_ip_overrides: Default::default(),
            idle_ms,
            queued_request_bytes: None,
            frame_complete_ms: 30_000,
        });
        let security = ListenerSecurity {
            name: "PLAINTEXT".into(),
            tls: None,
            sasl: None,
            decoy_key: Arc::from(&b"decoy"[..]),
            unauthenticated_frame_bytes_max: 1 << 20,
        };
        let (stop, stop_rx) = watch::channel(false);
        let (alive, _) = mpsc::channel(1);
        let life = Lifecycle {
            stop: stop_rx,
            alive,
        };
        tokio::spawn(async move {
            let peer = Peer {
                client: "127.0.0.1:9".parse().unwrap(),
                security: &security,
            };
            connection(server, peer, None, service, admission, life).await;
        });
        (client, stop)
    }

    fn muting(mute_ms: u64) -> Arc<MutingService> {
        Arc::new(MutingService {
            clock: super::super::clock::Clock::start(),
            mute_ms,
            dispatched: Default::default(),
        })
    }

    #[tokio::test]
    async fn a_muted_connection_answers_at_once_and_dispatches_nothing_until_the_mute_ends() {
        let service = muting(300);
        let (mut client, _stop) = connect(service.clone(), 60_000);
        // Pipelined: both requests are in the connection's buffer together.
        let both = [request_frame(1), request_frame(2)].concat();
        client.write_all(&both).await.unwrap();
        assert_eq!(read_answer(&mut client).await, Some(1));
        // The throttled answer came while the mute holds the second request back.
        assert_eq!(service.dispatched().len(), 1);
        assert_eq!(read_answer(&mut client).await, Some(2));
        let dispatched = service.dispatched();
        let held = dispatched[1].1.duration_since(dispatched[0].1);
        assert!(held >= Duration::from_millis(300), "{held:?}");
        assert_eq!(dispatched.iter().map(|d| d.0).collect::<Vec<_>>(), [1, 2]);
    }

    #[tokio::test]
    async fn a_mute_past_the_idle_time_owing_nothing_closes_the_connection() {
        let service = muting(60_000);
        let (mut client, _stop) = connect(service.clone(), 200);
        let started = Instant::now();
        client.write_all(&request_frame(1)).await.unwrap();
        assert_eq!(read_answer(&mut client).await, Some(1));
        assert_eq!(read_answer(&mut client).await, None); // closed
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_secs(30), "{waited:?}");
    }

    #[tokio::test]
    async fn shutting_down_ends_a_mute() {
        let service = muting(60_000);
        let (mut client, stop) = connect(service.clone(), 60_000);
        let both = [request_frame(1), request_frame(2)].concat();
        client.write_all(&both).await.unwrap();
        assert_eq!(read_answer(&mut client).await, Some(1));
        stop.send(true).unwrap();
        assert_eq!(read_answer(&mut client).await, None); // closed, the second never read
        assert_eq!(service.dispatched().len(), 1);
    }
}
