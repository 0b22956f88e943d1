//! A minimal Kafka client for the workload over (simulated) TCP, with a deadline on every call:
//! one request at a time ([`Connection::call`]), or pipelined like librdkafka
//! ([`Connection::send`] several requests, then [`Connection::receive`] their answers, which
//! Kafka gives in request order on one connection). Built on the `kafka-protocol` crate.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call has no answer. Either way the outcome of a write is unknown.
#[derive(Debug)]
pub enum CallError {
    Timeout,
    Io(String),
    Protocol(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout => write!(f, "timeout"),
            CallError::Io(e) => write!(f, "io: {e}"),
            CallError::Protocol(e) => write!(f, "protocol: {e}"),
        }
    }
}

pub struct Connection {
    stream: TcpStream,
    next_correlation_id: i32,
    /// The header's client id: `rill-sim`, or another a workload sets
    /// ([`Connection::set_client_id`]).
    client_id: &'static str,
    /// The bytes of the last request sent, after the size (header and body: what a broker
    /// counts against a produce quota).
    last_request_bytes: u64,
}

impl Connection {
    /// A connection to `addr` ready for requests: in a run with SASL, logged in first
    /// (`crate::sasl`; a refused login is an error, as a lost connection is).
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, CallError> {
        crate::sasl::connect(addr, timeout).await
    }

    /// A plain TCP connection to `addr`, not logged in.
    pub(crate) async fn open(addr: SocketAddr, timeout: Duration) -> Result<Self, CallError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| CallError::Timeout)?
            .map_err(|e| CallError::Io(e.to_string()))?;
        Ok(Self {
            stream,
            next_correlation_id: 1,
            client_id: "rill-sim",
            last_request_bytes: 0,
        })
    }

    /// The client id the requests sent from now on carry in their header.
    pub fn set_client_id(&mut self, client_id: &'static str) {
        self.client_id = client_id;
    }

    /// The size of the last request sent, after its 4 size bytes: its header and body.
    pub fn last_request_bytes(&self) -> u64 {
        self.last_request_bytes
    }

    /// Sends one request and waits for its answer. After an error the connection must be
    /// dropped: its stream position is unknown.
    pub async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        tokio::time::timeout(timeout, self.call_inner(key, version, request))
            .await
            .map_err(|_| CallError::Timeout)?
    }

    /// Writes one request without waiting for its answer (pipelining; acks=0 produce) and
    /// returns its correlation id, to hand to [`Connection::receive`].
    pub async fn send<Req: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<i32, CallError> {
        let (frame, correlation_id) = self.frame(key, version, request)?;
        self.last_request_bytes = frame.len() as u64 - 4;
        self.write(&frame).await?;
        Ok(correlation_id)
    }

    /// Writes only the first `fraction` of a request's frame, as a client that dies mid-write
    /// does. The connection must be dropped afterwards: the broker waits for the rest.
    pub async fn send_partial<Req: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
        fraction: f64,
    ) -> Result<(), CallError> {
        let (frame, _) = self.frame(key, version, request)?;
        let cut = ((frame.len() as f64 * fraction) as usize).clamp(1, frame.len() - 1);
        self.write(&frame[..cut]).await
    }

    /// Waits for the answer to the oldest unanswered request, which must be `correlation_id`.
    /// After an error the connection must be dropped: its stream position is unknown.
    pub async fn receive<Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        correlation_id: i32,
        timeout: Duration,
    ) -> Result<Resp, CallError> {
        tokio::time::timeout(timeout, self.read_answer(key, version, correlation_id))
            .await
            .map_err(|_| CallError::Timeout)?
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), CallError> {
        let io = |e: std::io::Error| CallError::Io(e.to_string());
        self.stream.write_all(bytes).await.map_err(io)?;
        self.stream.flush().await.map_err(io) // madsim's TCP sends on flush
    }

    fn frame<Req: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<(Vec<u8>, i32), CallError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(self.client_id)));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        request
            .encode(&mut body, version)
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        Ok((frame, correlation_id))
    }

    async fn call_inner<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, CallError> {
        let correlation_id = self.send(key, version, request).await?;
        self.read_answer(key, version, correlation_id).await
    }

    async fn read_answer<Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        correlation_id: i32,
    ) -> Result<Resp, CallError> {
        let io = |e: std::io::Error| CallError::Io(e.to_string());
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).await.map_err(io)?;
        let size = i32::from_be_bytes(size);
        if !(0..=64 << 20).contains(&size) {
            return Err(CallError::Protocol(format!("response size {size}")));
        }
        let mut answer = vec![0u8; size as usize];
        self.stream.read_exact(&mut answer).await.map_err(io)?;
        let mut answer = bytes::Bytes::from(answer);
        let header = ResponseHeader::decode(&mut answer, key.response_header_version(version))
            .map_err(|e| CallError::Protocol(e.to_string()))?;
        if header.correlation_id != correlation_id {
            return Err(CallError::Protocol(format!(
                "correlation id {} != {correlation_id}",
                header.correlation_id
            )));
        }
        let response =
            Resp::decode(&mut answer, version).map_err(|e| CallError::Protocol(e.to_string()))?;
        if answer.has_remaining() {
            return Err(CallError::Protocol(format!(
                "{} trailing bytes",
                answer.remaining()
            )));
        }
        Ok(response)
    }
}
