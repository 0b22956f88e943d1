//! IncrementalAlterConfigs as `kafka-configs` sends it, shared by the workloads that change
//! configs under faults (the throttler, the role fault that lowers the cluster-wide
//! `min.insync.replicas`).

use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use rill::types::ErrorCode;

use super::{Workload, CALL_TIMEOUT};

/// IncrementalAlterConfigs' resource types and operations.
pub const TOPIC_RESOURCE: i8 = 2;
pub const BROKER_RESOURCE: i8 = 4;
pub const SET: i8 = 0;
pub const DELETE: i8 = 1;

/// One config of a resource: SET to `Some(value)`, DELETE for `None`.
pub fn config(key: &str, value: Option<&str>) -> AlterableConfig {
    let (operation, value) = match value {
        Some(value) => (SET, Some(StrBytes::from_string(value.to_owned()))),
        None => (DELETE, None),
    };
    AlterableConfig::default()
        .with_name(StrBytes::from_string(key.to_owned()))
        .with_config_operation(operation)
        .with_value(value)
}

/// A resource (`kind`, `name`; `""` with [`BROKER_RESOURCE`] is the cluster default) with
/// its configs.
pub fn resource(kind: i8, name: &str, configs: Vec<AlterableConfig>) -> AlterConfigsResource {
    AlterConfigsResource::default()
        .with_resource_type(kind)
        .with_resource_name(StrBytes::from_string(name.to_owned()))
        .with_configs(configs)
}

/// One IncrementalAlterConfigs through `w`'s broker: taken whole, or the first refusal's error
/// code, or why no answer came.
pub async fn alter(w: &Workload, resources: Vec<AlterConfigsResource>) -> Result<(), String> {
    let request = IncrementalAlterConfigsRequest::default().with_resources(resources);
    let mut conn = w.connect().await;
    let answer = conn
        .call::<_, IncrementalAlterConfigsResponse>(
            ApiKey::IncrementalAlterConfigs,
            1,
            &request,
            CALL_TIMEOUT,
        )
        .await;
    let response = answer.map_err(|error| format!("{error:?}"))?;
    match (response.responses.iter()).find(|r| r.error_code != 0) {
        Some(refused) if refused.error_code == ErrorCode::UNKNOWN_SERVER_ERROR.wire() => {
            Err(format!(
                "UNKNOWN_SERVER_ERROR: {:?}",
                refused.error_message.as_deref()
            ))
        }
        Some(refused) => Err(format!("{:?}", ErrorCode::from_wire(refused.error_code))),
        None => Ok(()),
    }
}
