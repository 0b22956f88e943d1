//! Decoding a request body and encoding a response with the right header versions.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::host::kafka::{KafkaRequest, Pending};
use bytes::Bytes;

use crate::protocol::frame::{self, HeaderPrefix};

/// Decodes the request's header and body, after checking every length in it against the bytes
/// it holds ([`crate::protocol::request::decode`]).
pub fn decode<R: Decodable>(request: &KafkaRequest, key: ApiKey) -> Result<R, String> {
    crate::protocol::request::decode(&request.frame, key, request.prefix.api_version)
}

/// Encodes `body` as the answer to `request`.
pub fn respond<R: Encodable>(request: &KafkaRequest, key: ApiKey, body: &R) -> Pending {
    match encode(request.prefix, key, body) {
        Ok(bytes) => Pending::Ready(Some(bytes)),
        Err(e) => Pending::Close(e),
    }
}

/// Encodes `body` as the answer to the request with this header (for answers that complete
/// after the request frame is gone). An error is logged; the connection gets no answer.
pub fn encode<R: Encodable>(prefix: HeaderPrefix, key: ApiKey, body: &R) -> Result<Bytes, String> {
    let version = prefix.api_version;
    frame::encode_response(
        prefix.correlation_id,
        key.response_header_version(version),
        body,
        version,
    )
    .map_err(|e| {
        let message = format!("{key:?} v{version}: {e}");
        tracing::error!(%message, "cannot encode a response");
        message
    })
}
