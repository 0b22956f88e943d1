//! ApiVersions: how every client learns what this broker speaks.
//!
//! A client may ask at a version newer than ours (librdkafka asks v3, newer clients v4). Kafka's
//! rule: answer UNSUPPORTED_VERSION (35) *encoded as v0* with the full key list, so the client can
//! pick a version from it and ask again. The response header is always v0, even for v3+.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiVersionsResponse;

use super::versions::{Supported, SUPPORTED};
use crate::types::ErrorCode;

/// ApiVersions responses use header v0 at every version.
pub const RESPONSE_HEADER_VERSION: i16 = 0;

/// The response body and the version to encode it at, for a request at `requested_version`.
pub fn answer(requested_version: i16) -> (ApiVersionsResponse, i16) {
    let ours = super::versions::supported(kafka_protocol::messages::ApiKey::ApiVersions as i16)
        .expect("ApiVersions is always served");
    let api_keys = SUPPORTED.iter().map(api_version_entry).collect();
    let body = ApiVersionsResponse::default().with_api_keys(api_keys);
    if (ours.min..=ours.max).contains(&requested_version) {
        (body, requested_version)
    } else {
        (
            body.with_error_code(ErrorCode::UNSUPPORTED_VERSION.wire()),
            0,
        )
    }
}

fn api_version_entry(s: &Supported) -> ApiVersion {
    ApiVersion::default()
        .with_api_key(s.key as i16)
        .with_min_version(s.min)
        .with_max_version(s.max)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::{Decodable, Encodable};

    use super::*;

    fn roundtrip(body: &ApiVersionsResponse, version: i16) -> ApiVersionsResponse {
        let mut buf = bytes::BytesMut::new();
        body.encode(&mut buf, version).unwrap();
        ApiVersionsResponse::decode(&mut buf.freeze(), version).unwrap()
    }

    #[test]
    fn supported_versions_answer_at_the_requested_version() {
        for v in 0..=3 {
            let (body, version) = answer(v);
            assert_eq!(
                (ErrorCode::from_wire(body.error_code), version),
                (ErrorCode::NONE, v)
            );
            assert_eq!(roundtrip(&body, version).api_keys.len(), SUPPORTED.len());
        }
    }

    #[test]
    fn too_new_a_version_gets_unsupported_version_as_v0_with_the_full_list() {
        let (body, version) = answer(9);
        assert_eq!(
            (ErrorCode::from_wire(body.error_code), version),
            (ErrorCode::UNSUPPORTED_VERSION, 0)
        );
        let decoded = roundtrip(&body, 0);
        let keys: Vec<i16> = decoded.api_keys.iter().map(|k| k.api_key).collect();
        assert_eq!(
            keys,
            SUPPORTED.iter().map(|s| s.key as i16).collect::<Vec<_>>()
        );
    }
}
