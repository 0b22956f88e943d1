//! The cluster as seen from one bootstrap broker: Metadata, the broker list, and one pooled
//! connection per broker (requests for a partition go to its leader).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::connection::Connection;
use super::error::{ClientError, ClientResult};
use super::limits::REQUEST_TIMEOUT_MS_DEFAULT;
use super::security::ClientSecurity;
use crate::types::ErrorCode;

/// Settings shared by every connection of a client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub client_id: String,
    pub request_timeout_ms: u64,
    /// TLS and SASL (`security.protocol` and the `ssl.*`/`sasl.*` keys).
    pub security: ClientSecurity,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_id: "rill-cli".to_string(),
            request_timeout_ms: REQUEST_TIMEOUT_MS_DEFAULT,
            security: ClientSecurity::default(),
        }
    }
}

/// One broker from Metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl BrokerInfo {
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition from Metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// -1 when there is no leader.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
    pub error_code: ErrorCode,
}

/// One topic from Metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub error_code: ErrorCode,
    pub topic_id: uuid::Uuid,
    pub internal: bool,
    /// Sorted by partition id.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The topic-level error, if any (e.g. UNKNOWN_TOPIC_OR_PARTITION). Metadata carries no
    /// message per topic, so the message names the topic and, for an illegal name, says what
    /// is wrong with it.
    pub fn error(&self) -> Option<ClientError> {
        let message = match crate::types::topic_name::validate_name(&self.name) {
            Err(illegal) if self.error_code == ErrorCode::INVALID_TOPIC_EXCEPTION => {
                illegal.message
            }
            _ => format!("topic '{}' metadata", self.name),
        };
        ClientError::from_code(self.error_code, Some(&message))
    }
}

/// A Metadata answer in plain types.
#[derive(Debug, Clone, Default)]
pub struct ClusterMetadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: BTreeMap<String, TopicInfo>,
}

impl ClusterMetadata {
    fn from_response(response: MetadataResponse) -> Self {
        let brokers = response
            .brokers
            .into_iter()
            .map(|b| {
                let info = BrokerInfo {
                    node_id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.map(|r| r.to_string()),
                };
                (info.node_id, info)
            })
            .collect();
        let topics = response
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?.0.to_string();
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                        error_code: ErrorCode::from_wire(p.error_code),
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                let info = TopicInfo {
                    name: name.clone(),
                    error_code: ErrorCode::from_wire(t.error_code),
                    topic_id: t.topic_id,
                    internal: t.is_internal,
                    partitions,
                };
                Some((name, info))
            })
            .collect();
        Self {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller_id: response.controller_id.0,
            brokers,
            topics,
        }
    }

    /// The topic, or the error a caller should report (missing or with an error code).
    pub fn topic(&self, name: &str) -> ClientResult<&TopicInfo> {
        let topic = self.topics.get(name).ok_or_else(|| ClientError::Broker {
            code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            message: format!("topic '{name}' does not exist"),
        })?;
        if topic.error_code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
            return Err(ClientError::Broker {
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: format!("topic '{name}' does not exist"),
            });
        }
        match topic.error() {
            Some(e) => Err(e),
            None => Ok(topic),
        }
    }
}

/// A client of one cluster.
pub struct Client {
    config: ClientConfig,
    /// The bootstrap connection, replaced by a new one to the same address once it closes
    /// (the broker restarted).
    bootstrap: Mutex<Arc<Connection>>,
    /// node id → `host:port`, from the latest Metadata.
    brokers: Mutex<BTreeMap<i32, String>>,
    connections: tokio::sync::Mutex<BTreeMap<i32, Arc<Connection>>>,
}

impl Client {
    /// Connects to the first reachable broker of a comma-separated `host:port` list.
    pub async fn connect(bootstrap_servers: &str, config: ClientConfig) -> ClientResult<Self> {
        let mut last_error = ClientError::Invalid("--bootstrap-server is empty".into());
        for addr in bootstrap_servers
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Connection::connect(addr, &config).await {
                Ok(connection) => {
                    return Ok(Self {
                        config,
                        bootstrap: Mutex::new(Arc::new(connection)),
                        brokers: Mutex::new(BTreeMap::new()),
                        connections: tokio::sync::Mutex::new(BTreeMap::new()),
                    })
                }
                // A refused login is the same at every broker (Kafka's clients stop too).
                Err(e @ ClientError::Authentication { .. }) => return Err(e),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The bootstrap connection (metadata and admin requests that any broker answers).
    pub fn bootstrap(&self) -> Arc<Connection> {
        self.bootstrap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The bootstrap connection, connected again to the same broker if it closed.
    pub async fn live_bootstrap(&self) -> ClientResult<Arc<Connection>> {
        let current = self.bootstrap();
        if !current.is_closed() {
            return Ok(current);
        }
        let connection = Arc::new(Connection::connect(current.addr(), &self.config).await?);
        *self.bootstrap.lock().unwrap_or_else(|p| p.into_inner()) = connection.clone();
        Ok(connection)
    }

    /// Metadata for all topics (`None`) or the named ones; refreshes the broker list.
    /// `allow_auto_create` asks the broker to create missing topics (producers do, by default).
    pub async fn metadata(
        &self,
        topics: Option<&[&str]>,
        allow_auto_create: bool,
    ) -> ClientResult<ClusterMetadata> {
        let bootstrap = self.live_bootstrap().await?;
        let version = bootstrap.version(ApiKey::Metadata)?;
        let mut request = MetadataRequest::default().with_topics(topics.map(|names| {
            names
                .iter()
                .map(|n| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(n.to_string()))))
                })
                .collect()
        }));
        if version >= 4 {
            request.allow_auto_topic_creation = allow_auto_create;
        }
        let response: MetadataResponse =
            bootstrap.call(ApiKey::Metadata, version, &request).await?;
        let metadata = ClusterMetadata::from_response(response);
        let mut brokers = self.brokers.lock().unwrap_or_else(|p| p.into_inner());
        *brokers = metadata
            .brokers
            .values()
            .map(|b| (b.node_id, b.addr()))
            .collect();
        Ok(metadata)
    }

    /// The pooled connection to broker `node_id` (known from the latest Metadata).
    pub async fn broker(&self, node_id: i32) -> ClientResult<Arc<Connection>> {
        let mut connections = self.connections.lock().await;
        if let Some(connection) = connections.get(&node_id) {
            if !connection.is_closed() {
                return Ok(connection.clone());
            }
        }
        let addr = self
            .brokers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node_id)
            .cloned()
            .ok_or_else(|| {
                ClientError::Invalid(format!("broker {node_id} is not in the cluster metadata"))
            })?;
        let connection = Arc::new(Connection::connect(&addr, &self.config).await?);
        connections.insert(node_id, connection.clone());
        Ok(connection)
    }

    /// The controller's connection when Metadata names one (ZooKeeper-mode Kafka wants admin
    /// requests there), the bootstrap broker otherwise.
    pub async fn admin_connection(&self, metadata: &ClusterMetadata) -> Arc<Connection> {
        if metadata.controller_id >= 0 {
            if let Ok(connection) = self.broker(metadata.controller_id).await {
                return connection;
            }
        }
        self.bootstrap()
    }
}
