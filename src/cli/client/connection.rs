//! One connection to one broker: TCP, TLS when the protocol has it ([`super::tls`]), framing,
//! correlation ids, pipelining, version negotiation, then the SASL login when the protocol has
//! it ([`super::sasl`]).
//!
//! Requests are written in call order under a writer lock; a reader task matches answers to
//! waiting callers by correlation id. Up to [`INFLIGHT_PER_CONNECTION_MAX`] requests may be
//! outstanding (pipelining keeps a producer's batches to one partition in order, since a Kafka
//! broker handles one request per connection at a time). When the connection breaks, every
//! waiting caller gets the error.
#![allow(clippy::disallowed_methods)] // host-side client code: spawns its reader task

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::cluster::ClientConfig;
use super::error::{ClientError, ClientResult};
use super::limits::{INFLIGHT_PER_CONNECTION_MAX, RESPONSE_FRAME_BYTES_MAX};
use super::tls::Stream;
use super::versions::Negotiated;
use crate::types::ErrorCode;

type Waiter = oneshot::Sender<ClientResult<Bytes>>;

#[derive(Default)]
struct Shared {
    waiting: BTreeMap<i32, Waiter>,
    /// Why the connection is unusable, once it is.
    closed: Option<String>,
}

/// A connection with negotiated API versions.
pub struct Connection {
    addr: String,
    client_id: StrBytes,
    timeout_ms: u64,
    writer: tokio::sync::Mutex<WriteHalf<Stream>>,
    /// TLS: a write must be flushed, or its last record may wait in rustls' buffer.
    flush_writes: bool,
    shared: Arc<Mutex<Shared>>,
    inflight: Arc<Semaphore>,
    next_correlation_id: AtomicI32,
    versions: Negotiated,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// An answer still on its way.
pub struct PendingResponse {
    rx: oneshot::Receiver<ClientResult<Bytes>>,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    addr: String,
    timeout_ms: u64,
    shared: Arc<Mutex<Shared>>,
    _permit: OwnedSemaphorePermit,
}

impl PendingResponse {
    /// Waits for the answer and decodes it as `R`.
    pub async fn wait<R: Decodable>(self) -> ClientResult<R> {
        let received = tokio::time::timeout(Duration::from_millis(self.timeout_ms), self.rx).await;
        let frame = match received {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => {
                return Err(ClientError::Disconnected {
                    addr: self.addr,
                    reason: "the connection closed".into(),
                })
            }
            Err(_) => {
                lock(&self.shared).waiting.remove(&self.correlation_id);
                return Err(ClientError::Timeout {
                    api: self.api,
                    addr: self.addr,
                    timeout_ms: self.timeout_ms,
                });
            }
        };
        decode_response(frame, self.api, self.version)
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panic while holding this lock cannot leave `Shared` half-updated (single map ops).
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn decode_response<R: Decodable>(mut frame: Bytes, api: ApiKey, version: i16) -> ClientResult<R> {
    let bad = |e: anyhow::Error| {
        ClientError::Protocol(format!("cannot decode {api:?} v{version} response: {e}"))
    };
    ResponseHeader::decode(&mut frame, api.response_header_version(version)).map_err(bad)?;
    R::decode(&mut frame, version).map_err(bad)
}

impl Connection {
    /// Connects to `addr` (`host:port`) as `config` says: TCP, the TLS handshake and the
    /// SASL login where its security protocol has them, and negotiates API versions.
    pub async fn connect(addr: &str, config: &ClientConfig) -> ClientResult<Self> {
        let timeout_ms = config.request_timeout_ms;
        let connect_error = |reason: String| ClientError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let tcp = tokio::time::timeout(Duration::from_millis(timeout_ms), TcpStream::connect(addr))
            .await
            .map_err(|_| connect_error(format!("no answer within {timeout_ms} ms")))?
            .map_err(|e| connect_error(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let stream = match &config.security.tls {
            None => Stream::Plain(tcp),
            Some(connector) => super::tls::handshake(connector, tcp, addr, timeout_ms).await?,
        };
        let flush_writes = stream.buffers_writes();
        let (read_half, write_half) = tokio::io::split(stream);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let reader = tokio::spawn(read_loop(read_half, shared.clone(), addr.to_string()));
        let mut connection = Self {
            addr: addr.to_string(),
            client_id: StrBytes::from_string(config.client_id.clone()),
            timeout_ms,
            writer: tokio::sync::Mutex::new(write_half),
            flush_writes,
            shared,
            inflight: Arc::new(Semaphore::new(INFLIGHT_PER_CONNECTION_MAX)),
            next_correlation_id: AtomicI32::new(1),
            versions: Negotiated::default(),
            reader,
        };
        connection.versions = connection.negotiate().await?;
        if let Some(login) = &config.security.sasl {
            super::sasl::authenticate(&connection, login).await?;
        }
        Ok(connection)
    }

    /// ApiVersions v3 first; a broker that does not speak it answers in v0 (Kafka's rule),
    /// or we ask again in v0.
    async fn negotiate(&self) -> ClientResult<Negotiated> {
        let v3 = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("rill"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let answer: ClientResult<ApiVersionsResponse> =
            self.call(ApiKey::ApiVersions, 3, &v3).await;
        let response = match answer {
            Ok(r) if ErrorCode::from_wire(r.error_code) == ErrorCode::NONE => r,
            Ok(_) | Err(ClientError::Protocol(_)) => {
                let r: ApiVersionsResponse = self
                    .call(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())
                    .await?;
                if let Some(e) = ClientError::from_code(ErrorCode::from_wire(r.error_code), None) {
                    return Err(e);
                }
                r
            }
            Err(e) => return Err(e),
        };
        Ok(Negotiated::from_advertised(
            response
                .api_keys
                .iter()
                .map(|k| (k.api_key, k.min_version, k.max_version)),
        ))
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The version to use for `api` with this broker, or an `Unsupported` error.
    pub fn version(&self, api: ApiKey) -> ClientResult<i16> {
        self.versions.require(api, &self.addr)
    }

    /// Whether the broker serves `api` in a version the client speaks.
    pub fn supports(&self, api: ApiKey) -> bool {
        self.versions.get(api).is_some()
    }

    /// Sends a request and waits for its answer.
    pub async fn call<Req: Encodable, Resp: Decodable>(
        &self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> ClientResult<Resp> {
        self.send(api, version, request).await?.wait().await
    }

    /// Writes a request (in call order) and returns the pending answer.
    pub async fn send<Req: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> ClientResult<PendingResponse> {
        let permit = self.permit().await?;
        let (correlation_id, frame) = self.encode(api, version, request)?;
        let (tx, rx) = oneshot::channel();
        {
            let mut shared = lock(&self.shared);
            if let Some(reason) = &shared.closed {
                return Err(self.disconnected(reason.clone()));
            }
            shared.waiting.insert(correlation_id, tx);
        }
        self.write(&frame).await?;
        Ok(PendingResponse {
            rx,
            api,
            version,
            correlation_id,
            addr: self.addr.clone(),
            timeout_ms: self.timeout_ms,
            shared: self.shared.clone(),
            _permit: permit,
        })
    }

    /// Writes a request that gets no answer (Produce with acks=0).
    pub async fn send_without_response<Req: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> ClientResult<()> {
        let (_, frame) = self.encode(api, version, request)?;
        if let Some(reason) = &lock(&self.shared).closed {
            return Err(self.disconnected(reason.clone()));
        }
        self.write(&frame).await
    }

    async fn permit(&self) -> ClientResult<OwnedSemaphorePermit> {
        self.inflight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| self.disconnected("the connection closed".into()))
    }

    fn disconnected(&self, reason: String) -> ClientError {
        ClientError::Disconnected {
            addr: self.addr.clone(),
            reason,
        }
    }

    fn encode<Req: Encodable>(
        &self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> ClientResult<(i32, BytesMut)> {
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut frame = BytesMut::with_capacity(64);
        frame.extend_from_slice(&[0; 4]);
        let bad = |e: anyhow::Error| {
            ClientError::Protocol(format!("cannot encode {api:?} v{version} request: {e}"))
        };
        header
            .encode(&mut frame, api.request_header_version(version))
            .map_err(bad)?;
        request.encode(&mut frame, version).map_err(bad)?;
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        Ok((correlation_id, frame))
    }

    async fn write(&self, frame: &[u8]) -> ClientResult<()> {
        let mut writer = self.writer.lock().await;
        let mut written = writer.write_all(frame).await;
        if self.flush_writes && written.is_ok() {
            written = writer.flush().await;
        }
        if let Err(e) = written {
            let reason = format!("write failed: {}", super::tls::describe(&e));
            fail_all(&self.shared, &self.addr, &reason);
            return Err(self.disconnected(reason));
        }
        Ok(())
    }
}

/// Reads answers until the stream ends, handing each to its waiting caller.
async fn read_loop(mut reader: ReadHalf<Stream>, shared: Arc<Mutex<Shared>>, addr: String) {
    let reason = loop {
        match read_frame(&mut reader).await {
            Ok(frame) => {
                if frame.len() < 4 {
                    break "response shorter than its header".to_string();
                }
                let correlation_id = (&frame[..4]).get_i32();
                let waiter = lock(&shared).waiting.remove(&correlation_id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Ok(frame));
                }
            }
            Err(reason) => break reason,
        }
    };
    fail_all(&shared, &addr, &reason);
}

async fn read_frame(reader: &mut ReadHalf<Stream>) -> Result<Bytes, String> {
    let mut size = [0u8; 4];
    reader.read_exact(&mut size).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the broker closed the connection".to_string()
        } else {
            format!("read failed: {}", super::tls::describe(&e))
        }
    })?;
    if looks_like_tls(size) {
        return Err(ANSWERED_IN_TLS.to_string());
    }
    let size = i32::from_be_bytes(size);
    if size < 0 || size as usize > RESPONSE_FRAME_BYTES_MAX {
        return Err(format!(
            "response frame size {size} is outside 0..={RESPONSE_FRAME_BYTES_MAX}"
        ));
    }
    let mut frame = vec![0u8; size as usize];
    reader
        .read_exact(&mut frame)
        .await
        .map_err(|e| format!("read failed: {}", super::tls::describe(&e)))?;
    Ok(Bytes::from(frame))
}

/// What a plain-text client hears from a TLS listener: an alert record.
const ANSWERED_IN_TLS: &str =
    "the broker answered in TLS (is the listener SSL or SASL_SSL? check security.protocol)";

/// Whether a frame's size prefix is the start of a TLS record (content type 20-23, version
/// 3.x): a TLS listener's alert to a client that spoke plain text. As a size it is over 300
/// MB, so no frame the client accepts starts this way.
fn looks_like_tls(prefix: [u8; 4]) -> bool {
    (0x14..=0x17).contains(&prefix[0]) && prefix[1] == 3 && prefix[2] <= 4
}

const _: () = assert!(0x14_03_00_00 > RESPONSE_FRAME_BYTES_MAX);

fn fail_all(shared: &Mutex<Shared>, addr: &str, reason: &str) {
    let waiting = {
        let mut shared = lock(shared);
        shared.closed.get_or_insert_with(|| reason.to_string());
        std::mem::take(&mut shared.waiting)
    };
    for (_, waiter) in waiting {
        let _ = waiter.send(Err(ClientError::Disconnected {
            addr: addr.to_string(),
            reason: reason.to_string(),
        }));
    }
}

impl Connection {
    /// Whether the connection broke (a new one is needed).
    pub fn is_closed(&self) -> bool {
        lock(&self.shared).closed.is_some()
    }
}
