//! The API versions this broker advertises. Every advertised version must really work, so an API
//! appears here only together with its handler.

use kafka_protocol::messages::ApiKey;

/// One advertised API: its key and the inclusive range of versions served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supported {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

/// The advertised table, by API key.
pub const SUPPORTED: &[Supported] = &[
    // Produce >= 3 and Fetch >= 4 carry RecordBatch v2, the only format stored.
    s(ApiKey::Produce, 3, 9),
    // v4-v12 name topics (13+ uses topic ids only); no fetch sessions (id 0 = full fetches).
    s(ApiKey::Fetch, 4, 12),
    s(ApiKey::ListOffsets, 1, 7),
    s(ApiKey::Metadata, 0, 12),
    // v0-v3: librdkafka asks v3 first, aiokafka v0 only, kafkajs v2 then down.
    s(ApiKey::ApiVersions, 0, 3),
    s(ApiKey::CreateTopics, 2, 7),
    s(ApiKey::DeleteTopics, 1, 6),
    s(ApiKey::InitProducerId, 0, 4),
    s(ApiKey::CreatePartitions, 0, 3),
    // v1+ (v0 has is_default instead of config_source; the protocol crate starts at 1).
    s(ApiKey::DescribeConfigs, 1, 4),
    s(ApiKey::IncrementalAlterConfigs, 0, 1),
    s(ApiKey::AlterConfigs, 0, 2),
    s(ApiKey::DeleteRecords, 0, 2),
];

const fn s(key: ApiKey, min: i16, max: i16) -> Supported {
    Supported { key, min, max }
}

/// The served range for a raw API key, if the key is known and served.
pub fn supported(api_key: i16) -> Option<Supported> {
    SUPPORTED.iter().copied().find(|s| s.key as i16 == api_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the request type's own range (`request::request_versions`), not
    /// `ApiKey::valid_versions()`: that is the response's, which for OffsetCommit and
    /// OffsetFetch says 10 while their requests decode only up to 9.
    #[test]
    fn every_advertised_range_is_one_the_protocol_crate_can_decode() {
        for s in SUPPORTED {
            let valid = crate::protocol::request::request_versions(s.key)
                .unwrap_or_else(|| panic!("{s:?}: no request type listed"));
            assert!(s.min <= s.max, "{s:?}");
            assert!(
                valid.min <= s.min && s.max <= valid.max,
                "{s:?} outside {valid}"
            );
        }
    }

    #[test]
    fn keys_are_unique() {
        for (i, a) in SUPPORTED.iter().enumerate() {
            assert!(
                SUPPORTED[i + 1..].iter().all(|b| b.key != a.key),
                "{a:?} twice"
            );
        }
    }
}
