//! Per-node request routing: decodes each Kafka request, answers it (directly, or by asking the
//! node's actors), and encodes the response. One file per API family as they land.
//!
//! Today only ApiVersions is served; every other API is answered like Kafka answers an API it
//! does not know — by closing the connection — and is not advertised.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use kafka_protocol::messages::ApiKey;

use crate::host::kafka::{KafkaRequest, KafkaService, Pending};
use crate::protocol::{api_versions, frame};

/// The broker's [`KafkaService`].
#[derive(Default)]
pub struct BrokerService {}

impl BrokerService {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {})
    }

    fn answer(&self, request: KafkaRequest) -> Pending {
        let prefix = request.prefix;
        match ApiKey::try_from(prefix.api_key) {
            Ok(ApiKey::ApiVersions) => {
                // The body is not needed to answer (client software name/version are optional
                // and informational), and a too-new version must be answered even if we could
                // not decode its body.
                let (body, version) = api_versions::answer(prefix.api_version);
                match frame::encode_response(
                    prefix.correlation_id,
                    api_versions::RESPONSE_HEADER_VERSION,
                    &body,
                    version,
                ) {
                    Ok(bytes) => Pending::Ready(Some(bytes)),
                    Err(e) => Pending::Close(e.to_string()),
                }
            }
            Ok(key) => Pending::Close(format!(
                "{key:?} (api key {}) is not served yet",
                prefix.api_key
            )),
            Err(_) => Pending::Close(format!("unknown api key {}", prefix.api_key)),
        }
    }
}

impl KafkaService for BrokerService {
    fn dispatch(&self, request: KafkaRequest) -> BoxFuture<'_, Pending> {
        let pending = self.answer(request);
        Box::pin(async move { pending })
    }
}
