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
    // v0-v3: librdkafka asks v3 first, aiokafka v0 only, kafkajs v2 then down.
    Supported {
        key: ApiKey::ApiVersions,
        min: 0,
        max: 3,
    },
    // v0-v12: v13 adds nothing any tested client needs.
    Supported {
        key: ApiKey::Metadata,
        min: 0,
        max: 12,
    },
    Supported {
        key: ApiKey::CreateTopics,
        min: 2,
        max: 7,
    },
    Supported {
        key: ApiKey::DeleteTopics,
        min: 1,
        max: 6,
    },
];

/// The served range for a raw API key, if the key is known and served.
pub fn supported(api_key: i16) -> Option<Supported> {
    SUPPORTED.iter().copied().find(|s| s.key as i16 == api_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_advertised_range_is_one_the_protocol_crate_can_decode() {
        for s in SUPPORTED {
            let valid = s.key.valid_versions();
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
