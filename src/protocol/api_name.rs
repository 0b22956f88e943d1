//! An API's name as Kafka spells it (`Produce`, `FetchRequest`'s `Fetch`, …), for metrics
//! labels and logs: a `&'static str`, so labelling a request allocates nothing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kafka_protocol::messages::ApiKey;

/// Past every key Kafka has defined (the largest is below 100).
const API_KEY_END: i16 = 200;

/// Kafka's name of API `key` (its `ApiKeys` enum's name in CamelCase, as the JMX `request`
/// label has it); "Unknown" for a key the protocol crate does not know.
pub fn api_name(key: i16) -> &'static str {
    static NAMES: OnceLock<BTreeMap<i16, &'static str>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        // The protocol crate names its keys only through `Debug`: each name is made once and
        // kept for the process (a few dozen short strings).
        (0..API_KEY_END)
            .filter_map(|k| ApiKey::try_from(k).ok().map(|key| (k, key)))
            .map(|(k, key)| (k, &*Box::leak(format!("{key:?}").into_boxed_str())))
            .collect()
    });
    names.get(&key).copied().unwrap_or("Unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafkas() {
        assert_eq!(api_name(0), "Produce");
        assert_eq!(api_name(1), "Fetch");
        assert_eq!(api_name(18), "ApiVersions");
        assert_eq!(api_name(68), "ConsumerGroupHeartbeat");
        assert_eq!(api_name(-1), "Unknown");
        assert_eq!(api_name(30_000), "Unknown");
    }
}
