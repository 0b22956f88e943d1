//! The request path as the fuzz target drives it (`fuzz/fuzz_targets/kafka_request.rs`): bytes
//! as they would arrive on a Kafka connection, split into frames and handled up to the point
//! where a decoded request would go to the actors. Must never panic nor allocate beyond the
//! bounds the frames justify (the fuzzer runs with a malloc limit).

use bytes::BytesMut;
use kafka_protocol::messages::ApiKey;

use super::{api_versions, frame, request, versions};

/// The largest frame the fuzz input may declare (the broker's default cap is 100 MiB; the
/// input is far shorter, so this only decides when "need more bytes" ends the stream).
const FRAME_BYTES_MAX: usize = 1024 * 1024;

/// Splits `data` into frames and handles each like the broker's router: ApiVersions answered
/// from the header, served APIs and versions decoded (bounds first), anything else refused. Each
/// frame is also decoded through [`request::decode_any`] whatever its key, so unadvertised APIs
/// and versions meet the bounds check too. Returns how many frames were decoded.
pub fn request_stream(data: &[u8]) -> usize {
    let mut buf = BytesMut::from(data);
    let mut decoded = 0;
    while let Ok(Some(frame)) = frame::split_frame(&mut buf, FRAME_BYTES_MAX) {
        let Ok(prefix) = frame::peek_header(&frame) else {
            continue;
        };
        if prefix.api_key == ApiKey::ApiVersions as i16 {
            let (body, version) = api_versions::answer(prefix.api_version);
            frame::encode_response(
                prefix.correlation_id,
                api_versions::RESPONSE_HEADER_VERSION,
                &body,
                version,
            )
            .expect("the ApiVersions answer always encodes");
            continue;
        }
        let served = versions::supported(prefix.api_key)
            .is_some_and(|s| (s.min..=s.max).contains(&prefix.api_version));
        let result = request::decode_any(&frame);
        if served && result.is_ok() {
            decoded += 1;
        }
    }
    decoded
}
