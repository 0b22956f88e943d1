//! What the gateway reads of the server's settings, as plain values.
//!
//! The host builds it from its config (`config::ServerConfig::gateway_settings`), so the
//! gateway knows no config file, listener or command line: it gets the few numbers its
//! answers depend on, and the BROKER rows of DescribeConfigs already described.

use crate::storage::log::LogConfig;
use crate::types::NodeId;

use super::configs::ConfigEntry;

/// The settings the gateway answers with; fixed for the life of the broker.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewaySettings {
    /// `node.id`: the broker id Metadata names and DescribeConfigs answers for.
    pub node_id: NodeId,
    /// The cluster's id, as Metadata tells clients (named by the controller quorum's first
    /// leader; Kafka's text form).
    pub cluster_id: String,
    /// The controller quorum's voters and where they listen (DescribeQuorum v2's nodes).
    pub voters: Vec<(NodeId, BrokerAddress)>,
    /// Where clients reach this broker, as Metadata tells them: the first advertised listener
    /// (`advertised.listeners`, else `listeners`); `None` lists no broker.
    pub advertised: Option<BrokerAddress>,
    /// Where clients reach this broker on each listener, by listener name: Metadata answers a
    /// request with the endpoints on the listener it came in on.
    pub advertised_by_listener: std::collections::BTreeMap<String, BrokerAddress>,
    /// `num.partitions`: partitions of an auto-created topic or one created with -1.
    pub num_partitions: u32,
    /// `default.replication.factor`: of an auto-created topic or one created with -1.
    pub default_replication_factor: u16,
    /// `auto.create.topics.enable`: whether Metadata for an unknown topic creates it.
    pub auto_create_topics: bool,
    /// `fetch.max.bytes`: the most record bytes one Fetch response carries.
    pub fetch_max_bytes: usize,
    /// The broker's defaults for every partition log (`log.*`, `message.max.bytes`), on which
    /// topic overrides are resolved.
    pub log: LogConfig,
    /// The built-in defaults of `log` (what it is when no setting names a key): DescribeConfigs
    /// reports a broker value that differs from it as STATIC_BROKER_CONFIG.
    pub log_builtin: LogConfig,
    /// DescribeConfigs' rows for this broker, in their fixed order.
    pub broker_configs: Vec<ConfigEntry>,
    /// `log.dirs` as an absolute path: the log directory DescribeLogDirs names.
    pub log_dir: String,
    /// `authorizer.class.name` set: the ACL admin APIs answer, and the admin APIs Kafka
    /// checks on the CLUSTER resource are checked, with these `super.users` and
    /// `allow.everyone.if.no.acl.found`. `None`: no authorizer (the ACL APIs answer
    /// SECURITY_DISABLED; nothing is checked).
    pub authorizer: Option<crate::security::acl::AuthorizerSettings>,
    /// `quota.window.num` × `quota.window.size.seconds`: the client quotas' window.
    pub quota_window: crate::types::rate_bucket::QuotaWindow,
}

impl GatewaySettings {
    /// This broker's id as Kafka's wire carries it (an INT32; `node.id` is validated to fit).
    pub fn broker_id(&self) -> i32 {
        i32::try_from(self.node_id.0).unwrap_or(i32::MAX)
    }
}

/// A host and port clients connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
}
