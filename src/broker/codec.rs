//! Decoding a request body and encoding a response with the right header versions.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};

use bytes::Bytes;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::service::{KafkaRequest, Pending};
use crate::limits::REQUEST_ENTRIES_UNGATED;
use crate::protocol::request;

use crate::protocol::frame::{self, HeaderPrefix};

/// Decodes the request's header and body, after checking every length in it against the bytes
/// it holds ([`crate::protocol::request::check`]). A request holding more than
/// [`REQUEST_ENTRIES_UNGATED`] array entries first waits for a turn of `gate` (see
/// [`crate::limits::LARGE_DECODES_AT_ONCE`]) and returns it with the body: Produce, Fetch and
/// Metadata keep it while they merge the entries, which costs in proportion to them too.
///
/// The crate's decode is synchronous and takes the runtime worker it runs on for as long as it
/// lasts (0.1–0.25 µs an entry in a release build); yielding cannot split it. Bounding how many
/// such decodes run at once is what keeps a worker free for everyone else's requests.
pub async fn decode<'g, R: Decodable>(
    request: &KafkaRequest,
    key: ApiKey,
    gate: &'g Semaphore,
) -> Result<(R, Option<SemaphorePermit<'g>>), String> {
    let version = request.prefix.api_version;
    let entries = request::check(&request.frame, key, version)?;
    let turn = if entries > REQUEST_ENTRIES_UNGATED {
        Some(gate.acquire().await.expect("the gate is never closed"))
    } else {
        None
    };
    let body = request::decode_checked(&request.frame, key, version)?;
    Ok((body, turn))
}

/// Encodes `body` as the answer to `request`.
pub fn respond<R: Encodable>(request: &KafkaRequest, key: ApiKey, body: &R) -> Pending {
    match encode(request.prefix, key, body) {
        Ok(bytes) => Pending::Ready(Some(bytes.into())),
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
