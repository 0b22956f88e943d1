//! `rill server`: the production entry point. Starts the node's actors (topics, partitions,
//! groups and this node's voter of the controller quorum), waits until the quorum named the
//! cluster, binds the Kafka listeners and serves until asked to stop.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::admin::endpoint::Endpoint;
use super::admission::{Admission, AdmissionConfig};
use super::clean_shutdown;
use super::dir_lock::{DirLock, DirLockError};
use super::fd_limit::FdBudget;
use super::kafka;
use super::node::{Node, NodeActor, NodeConfig};
use super::peers;
use crate::broker::settings::BrokerAddress;
use crate::broker::BrokerService;
use crate::config::quorum::ProcessRoles;
use crate::config::security::TlsSettings;
use crate::config::ServerConfig;
use crate::controller::actor::TopicsActor;
use crate::controller::lifecycle::BrokerLifecycle;
use crate::controller::quorum::QuorumActor;
use crate::controller::topic_config;
use crate::group::actor::GroupsActor;
use crate::messages::acls::PublishedAcls;
use crate::messages::call::ask;
use crate::messages::lifecycle::{
    ControlledShutdownRequest, LifecycleStatusRequest, StartLifecycleRequest,
};
use crate::messages::quorum::{
    DescribeLeaderRequest, DescribeRequest, Listener, QuorumReply, QuorumState,
};
use crate::messages::quotas::PublishedQuotas;
use crate::messages::{
    CreateTopicsRequest, EnsureInternalRequest, InternalTopic, ListTopicsRequest, NewTopic,
    NodeMsg, OpenAllRequest, ShutdownRequest, GROUPS, LIFECYCLE, OFFSETS_TOPIC, PARTITIONS, QUORUM,
    TOPICS, TXN,
};
use crate::partition::actor::Partitions;
use crate::storage::file::FileStorage;
use crate::storage::Storage;
use crate::txn::actor::TxnActor;
use crate::types::{cluster_id_text, NodeId};

/// How often start-up logs that it still waits for the controller quorum.
const QUORUM_WAIT_LOG_MS: u64 = 5_000;
/// How often start-up asks its voter whether the cluster is named. (A quorum of one names it
/// within a few milliseconds, so this is most of a single node's wait; a shorter poll re-rolls
/// every simulated schedule, whose pinned seeds the scenario tests name.)
const QUORUM_POLL_MS: u64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create log directory {dir}: {source}")]
    LogDir { dir: String, source: std::io::Error },
    #[error(transparent)]
    DirLocked(#[from] DirLockError),
    #[error("cannot open metadata: {0}")]
    Metadata(String),
    #[error("listener security: {0}")]
    Security(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A started server: its bound addresses and the tasks serving them.
pub struct Server {
    pub kafka_addrs: Vec<std::net::SocketAddr>,
    node: Node<NodeMsg>,
    stop: watch::Sender<bool>,
    /// Closes when every accept loop and connection has finished (see [`kafka::Lifecycle`]).
    all_closed: mpsc::Receiver<()>,
    /// The log directory's lock (production only), held until the server is dropped.
    _dir_lock: Option<DirLock>,
    /// A broker (combined node): it asks for a controlled shutdown and closes its partition
    /// logs when it stops; a controller-only node has neither.
    broker: bool,
    /// Where the clean-shutdown marker goes once the logs are closed.
    storage: Arc<dyn Storage>,
    /// The admin endpoint (production only).
    admin: Endpoint,
}

/// How long a clean shutdown waits for connections to finish the answers they owe (a parked
/// fetch answers within its `max_wait_ms`; clients use 500 ms).
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

impl Server {
    /// Production: data in `log.dirs` on real files, locked against a second server (see
    /// [`super::dir_lock`]) before anything there is read or recovered.
    pub async fn start(config: &ServerConfig) -> Result<Self, ServerError> {
        let dir = std::path::absolute(&config.log_dir).unwrap_or_else(|_| config.log_dir.clone());
        std::fs::create_dir_all(&dir).map_err(|source| ServerError::LogDir {
            dir: dir.display().to_string(),
            source,
        })?;
        let lock = DirLock::acquire(&dir)?;
        tracing::info!(
            node_id = config.node_id,
            log_dir = %dir.display(),
            flush = %config.flush_summary(),
            "log directory locked"
        );
        let budget = FdBudget::raise_and_read();
        let storage =
            FileStorage::with_open_files_max(config.log_dir.clone(), budget.log_open_files());
        let admission = admission_for(config, &budget);
        tracing::info!(
            soft = budget.soft,
            hard = budget.hard,
            raised_from = ?budget.raised_from,
            log_files_open_max = storage.open_files_max(),
            max_connections = admission.config.max_connections,
            queued_max_request_bytes = ?admission.config.queued_request_bytes,
            "file descriptor limit"
        );
        let mut server = Self::start_with(config, Arc::new(storage), admission, true).await?;
        server._dir_lock = Some(lock);
        Ok(server)
    }

    /// The same server on any storage (the simulator passes its crash-modelling disk). There is
    /// no process descriptor limit to share there: a default `max.connections` comes from a
    /// typical one ([`FdBudget::raise_and_read`] under madsim).
    pub async fn start_on(
        config: &ServerConfig,
        storage: Arc<dyn Storage>,
    ) -> Result<Self, ServerError> {
        let admission = admission_for(config, &FdBudget::fixed(65_536));
        Self::start_with(config, storage, admission, false).await
    }

    async fn start_with(
        config: &ServerConfig,
        storage: Arc<dyn Storage>,
        admission: Arc<Admission>,
        with_admin: bool,
    ) -> Result<Self, ServerError> {
        if config.controller.roles == ProcessRoles::Controller {
            return Self::start_controller(config, storage, with_admin).await;
        }
        let clean_shutdown = clean_shutdown::take(storage.as_ref()).map_err(|e| {
            ServerError::Metadata(format!("cannot read the clean-shutdown marker: {e}"))
        })?;
        tracing::info!(clean_shutdown, "the last run's end");
        let mut admin_settings = config.admin_settings();
        // An offsets topic to import keeps its partition count: it places every group (Kafka
        // too ignores `offsets.topic.num.partitions` once the topic exists).
        if let Ok(Some(legacy)) = crate::controller::store::load_legacy(storage.as_ref()) {
            if let Some(offsets) = legacy.get(OFFSETS_TOPIC) {
                admin_settings.offsets_topic.partitions = offsets.partitions;
            }
        }
        let topics = TopicsActor::new(admin_settings);
        let partitions = Partitions::new(storage.clone())
            .gated()
            .with_transactional_writes()
            .with_transaction_verification(config.transaction_partition_verification)
            .with_replica_lag_time_max_ms(config.replica_lag_time_max_ms)
            .with_replication_quota_window(
                config.replication_quota_window_num,
                config.replication_quota_window_size_s,
            );
        // The ACLs the voter applies, read by the gateway for every request it authorizes.
        let acls = PublishedAcls::default();
        // The client quotas it applies, enforced and described by the gateway.
        let quotas = PublishedQuotas::default();
        let quorum = QuorumActor::new(config.quorum_settings(), storage.clone())
            .publishing_acls(acls.clone())
            .publishing_quotas(quotas.clone());
        let actors = vec![
            (TOPICS, NodeActor::new(topics)),
            (PARTITIONS, NodeActor::new(partitions)),
            (
                GROUPS,
                NodeActor::new(GroupsActor::new(config.group_settings())),
            ),
            (QUORUM, NodeActor::new(quorum)),
            (
                LIFECYCLE,
                NodeActor::new(BrokerLifecycle::new(config.lifecycle_settings())),
            ),
            (TXN, NodeActor::new(TxnActor::new(config.txn_settings()))),
        ];
        let node = start_node(config, actors).await?;
        let admin = admin_endpoint(config, &node, true, with_admin)?;
        let cluster_id = wait_for_cluster_id(&node).await?;
        tracing::info!(%cluster_id, "the controller quorum named the cluster");
        // The topics are the metadata log's: this node's logs open only once its voter
        // applied what the leader had committed (an older view would open, or later delete,
        // the wrong logs).
        let applied_index = wait_for_metadata(&node).await?;
        // Open this node's replica of every partition (recovering it) before taking clients. A
        // log that cannot open does not stop the broker (issue 9: one unopenable log made it
        // unrestartable): that partition answers KAFKA_STORAGE_ERROR and is retried.
        let opened = ask(&node.handle(), OpenAllRequest)
            .await
            .map_err(|e| ServerError::Metadata(format!("cannot open the partition logs: {e}")))?;
        tracing::info!(
            applied_index,
            topics = opened.topics,
            partitions = opened.partitions,
            topics_with_offline_partitions = opened.topics_with_offline_partitions,
            "partition logs recovered and open"
        );
        let mut kafka_addrs = Vec::new();
        let mut bound_listeners = Vec::new();
        // One secret per broker process for SCRAM's decoy credentials, drawn only when a
        // listener takes SASL (none reads it otherwise): under the simulator the draw comes
        // from the seed's RNG, and a draw at every start re-rolled every seed's schedule, SASL
        // or not (the canaries' seeds and the regression seeds with it).
        let sasl = (config.client_listeners().iter())
            .any(|l| config.security_protocol(l).is_some_and(|p| p.uses_sasl()));
        let mut decoy_key = vec![0u8; if sasl { 32 } else { 0 }];
        super::rng::secure_bytes(&mut decoy_key);
        let decoy_key: Arc<[u8]> = decoy_key.into();
        for listener in &config.client_listeners() {
            let (security, tls_settings) = listener_security(config, listener, &decoy_key)?;
            let addr = listener.socket_addr().expect("validated by ServerConfig");
            let bound = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: addr.to_string(),
                    source,
                })?;
            let local = bound.local_addr().map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
            // Logged so that an operator sees which protocol each port speaks.
            let protocol = config
                .security_protocol(listener)
                .map_or("unmapped", |p| p.name());
            let mechanisms: Vec<&str> = (security.sasl.iter())
                .flat_map(|s| s.mechanisms.iter().map(|m| m.name()))
                .collect();
            tracing::info!(
                listener = %listener.name,
                security_protocol = %protocol,
                addr = %local,
                sasl_mechanisms = %mechanisms.join(","),
                "kafka listener bound"
            );
            kafka_addrs.push(local);
            bound_listeners.push((bound, Arc::new(security), listener.clone(), tls_settings));
        }
        // Where clients reach this broker, as Metadata tells them and as it registers with the
        // quorum's leader (DescribeCluster): a listener configured on port 0 with the port it
        // bound, in both.
        let mut listeners = registered_listeners(config, &kafka_addrs);
        let advertised_host = listeners.first().map(|l| l.host.clone());
        listeners.push(peers::inter_node_listener(
            node.listen_addr(),
            advertised_host.as_deref(),
        ));
        // The admin endpoint too, so any node's console can reach every node's.
        if let Some(addr) = admin.addr() {
            listeners.push(peers::admin_listener(addr, advertised_host.as_deref()));
        }
        let mut settings = config.gateway_settings(cluster_id);
        settings.advertised = listeners.first().map(|l| BrokerAddress {
            host: l.host.clone(),
            port: l.port,
        });
        settings.advertised_by_listener = (listeners.iter())
            .map(|l| {
                let address = BrokerAddress {
                    host: l.host.clone(),
                    port: l.port,
                };
                (l.name.clone(), address)
            })
            .collect();
        let clock = Arc::new(node.clock());
        let service = BrokerService::with_views(node.handle(), settings, acls, quotas, clock);
        ask(
            &node.handle(),
            StartLifecycleRequest {
                listeners,
                rack: None,
                clean_shutdown,
            },
        )
        .await
        .map_err(|e| ServerError::Metadata(format!("the broker lifecycle: {e}")))?;
        // Clients are taken once the broker is unfenced: a topic created before would find no
        // live broker to place its replicas on. Connections made meanwhile wait in the
        // listener's backlog.
        wait_until_unfenced(&node).await?;
        import_legacy_topics(&node, storage.as_ref(), config).await?;
        let (stop, stop_rx) = watch::channel(false);
        let (alive, all_closed) = mpsc::channel(1);
        let life = kafka::Lifecycle {
            stop: stop_rx.clone(),
            alive,
        };
        // The console writes as a client of the first listener would (its name only matters
        // to answers that name brokers, which its requests do not read).
        if let Some((_, _, first, _)) = bound_listeners.first() {
            admin.accept_writes(service.clone(), first.name.clone());
        }
        for (bound, security, listener, tls_settings) in bound_listeners {
            if let (Some(tls), Some(served)) = (&security.tls, tls_settings) {
                let interval_ms = config.ssl_reload_interval_ms;
                if interval_ms > 0 {
                    tokio::spawn(super::tls_reload::reload_every(
                        config.clone(),
                        listener,
                        tls.clone(),
                        served,
                        std::time::Duration::from_millis(interval_ms),
                        stop_rx.clone(),
                    ));
                }
            }
            let kafka_service: Arc<dyn crate::broker::service::KafkaService> = service.clone();
            tokio::spawn(kafka::serve(
                bound,
                security,
                kafka_service,
                admission.clone(),
                life.clone(),
            ));
        }
        drop(life); // only the listeners and connections hold `alive` now
        if let Some(advertised) = &config.advertised_listeners {
            let shown: Vec<String> = advertised.iter().map(ToString::to_string).collect();
            tracing::info!(advertised = %shown.join(","), "advertised listeners");
        }
        let voters: Vec<NodeId> = (config.controller.voter_ids(config.node_id).into_iter())
            .map(NodeId)
            .collect();
        if !voters.contains(&NodeId(config.node_id)) {
            // A broker-only node: the other broker-only nodes are linked from the metadata.
            let me = NodeId(config.node_id);
            let link = peers::link_registered_brokers(node.handle(), me, voters, stop_rx.clone());
            tokio::spawn(link);
        }
        tracing::info!(node_id = config.node_id, "serving");
        admin.serving(true);
        Ok(Self {
            kafka_addrs,
            node,
            stop,
            all_closed,
            _dir_lock: None,
            broker: true,
            storage,
            admin,
        })
    }

    /// A controller-only node (`process.roles=controller`): its voter and nothing else, on the
    /// controller listener; no Kafka listener, no broker to register.
    async fn start_controller(
        config: &ServerConfig,
        storage: Arc<dyn Storage>,
        with_admin: bool,
    ) -> Result<Self, ServerError> {
        let quorum = QuorumActor::new(config.quorum_settings(), storage.clone());
        let node = start_node(config, vec![(QUORUM, NodeActor::new(quorum))]).await?;
        let admin = admin_endpoint(config, &node, false, with_admin)?;
        admin.serving(true);
        tracing::info!(node_id = config.node_id, "serving as a controller only");
        let (stop, _) = watch::channel(false);
        let (_, all_closed) = mpsc::channel(1);
        Ok(Self {
            kafka_addrs: Vec::new(),
            node,
            stop,
            all_closed,
            _dir_lock: None,
            broker: false,
            storage,
            admin,
        })
    }

    /// Clean shutdown: a controlled shutdown first (the quorum's leader fences this broker at
    /// once, while it still serves), then stop accepting, stop reading requests, let
    /// connections write what they owe (bounded by [`SHUTDOWN_GRACE_MS`]), then sync and close
    /// every partition log (clean markers and producer snapshots), then stop the node's actors.
    pub async fn shutdown(mut self) {
        self.admin.serving(false);
        if !self.broker {
            self.node.shutdown();
            self.admin.stop().await;
            return;
        }
        // The lifecycle answers within its own bound (SHUTDOWN_WAIT_MS) whatever happens.
        match ask(&self.node.handle(), ControlledShutdownRequest).await {
            Ok(status) if status.fenced => {
                tracing::info!(broker_epoch = ?status.broker_epoch, "controlled shutdown done")
            }
            Ok(status) => {
                tracing::warn!(broker_epoch = ?status.broker_epoch, "controlled shutdown not confirmed")
            }
            Err(error) => tracing::warn!(%error, "controlled shutdown failed"),
        }
        let _ = self.stop.send(true);
        let grace = std::time::Duration::from_millis(SHUTDOWN_GRACE_MS);
        if tokio::time::timeout(grace, self.all_closed.recv())
            .await
            .is_err()
        {
            tracing::warn!("connections still busy after the grace period; closing anyway");
        }
        match ask(&self.node.handle(), ShutdownRequest).await {
            Ok(done) => match done.into_result() {
                Ok(()) => match clean_shutdown::mark(self.storage.as_ref()) {
                    Ok(()) => tracing::info!("partition logs flushed and closed"),
                    Err(error) => tracing::warn!(%error, "cannot leave the clean-shutdown marker"),
                },
                Err(refusal) => tracing::error!(
                    code = %refusal.code,
                    error = %refusal.message,
                    "closing partition logs failed"
                ),
            },
            Err(error) => tracing::error!(%error, "closing partition logs failed"),
        }
        self.node.shutdown();
        self.admin.stop().await;
    }

    /// The admin endpoint's address, if it runs one.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin.addr()
    }
}

/// The admin endpoint of a production server (`with_admin`); none for the simulator's.
fn admin_endpoint(
    config: &ServerConfig,
    node: &Node<NodeMsg>,
    broker: bool,
    with_admin: bool,
) -> Result<Endpoint, ServerError> {
    #[cfg(not(madsim))]
    if with_admin {
        return Endpoint::start(config, node.handle(), broker);
    }
    let _ = (config, node, broker, with_admin);
    Ok(Endpoint::default())
}

/// Starts the node's actors on its inter-node listener: where the other voters reach this one
/// (its controller listener; a quorum of one without one binds any loopback port).
async fn start_node(
    config: &ServerConfig,
    actors: Vec<(crate::actor::ActorId, NodeActor<NodeMsg>)>,
) -> Result<Node<NodeMsg>, ServerError> {
    let node_config = NodeConfig {
        node_id: NodeId(config.node_id),
        listen: config.controller_listen(),
        peers: config
            .controller
            .peers(config.node_id)
            .into_iter()
            .map(|(id, addr)| (NodeId(id), addr))
            .collect(),
    };
    let node = Node::start(node_config, actors)
        .await
        .map_err(|source| ServerError::Bind {
            addr: "inter-node listener".into(),
            source,
        })?;
    tracing::info!(
        addr = %node.listen_addr(),
        voters = ?config.controller.voter_ids(config.node_id),
        "inter-node listener bound"
    );
    Ok(node)
}

/// A client listener's TLS acceptor and SASL settings, from the validated config, and the TLS
/// settings the acceptor was made from (what a certificate reload compares with).
fn listener_security(
    config: &ServerConfig,
    listener: &crate::config::Listener,
    decoy_key: &Arc<[u8]>,
) -> Result<(kafka::ListenerSecurity, Option<TlsSettings>), ServerError> {
    let bad = |key: String, problem: String| ServerError::Security(format!("{key}: {problem}"));
    let resolved = config
        .listener_security(listener)
        .map_err(|(key, problem)| bad(key, problem))?;
    let tls = match &resolved.tls {
        Some(settings) => Some(super::tls::SharedAcceptor::new(
            super::tls::acceptor(settings).map_err(|problem| {
                bad(
                    format!(
                        "listener {} (ssl.keystore.*, ssl.truststore.*)",
                        listener.name
                    ),
                    problem,
                )
            })?,
        )),
        None => None,
    };
    let security = kafka::ListenerSecurity {
        name: listener.name.clone(),
        tls,
        sasl: resolved.sasl.map(Arc::new),
        decoy_key: decoy_key.clone(),
        unauthenticated_frame_bytes_max: resolved.unauthenticated_frame_bytes_max,
    };
    Ok((security, resolved.tls))
}

/// The advertised listeners as the broker registers them: one bound on port 0 (the client
/// listener of the same name) with the port it got.
fn registered_listeners(config: &ServerConfig, bound: &[std::net::SocketAddr]) -> Vec<Listener> {
    let client = config.client_listeners();
    (config.advertised().into_iter())
        .map(|l| {
            let bound_port = (client.iter().position(|c| c.name == l.name))
                .and_then(|i| bound.get(i))
                .map(std::net::SocketAddr::port);
            let port = match (l.port, bound_port) {
                (0, Some(port)) => port,
                (port, _) => port,
            };
            Listener {
                name: l.name,
                host: l.host,
                port,
            }
        })
        .collect()
}

/// The listener bounds of `config`, `max.connections` defaulting to the descriptor budget's share.
fn admission_for(config: &ServerConfig, budget: &FdBudget) -> Arc<Admission> {
    let max_connections = config
        .max_connections
        .unwrap_or_else(|| budget.max_connections_default());
    Admission::new(AdmissionConfig {
        request_bytes_max: config.socket_request_max_bytes,
        max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
        max_connections_per_ip: config.max_connections_per_ip as usize,
        per_ip_overrides: config
            .max_connections_per_ip_overrides
            .iter()
            .map(|(address, count)| (*address, *count as usize))
            .collect(),
        idle_ms: config.connections_max_idle_ms,
        queued_request_bytes: config.queued_request_bytes(),
        frame_complete_ms: crate::limits::REQUEST_FRAME_COMPLETE_MS_MAX
            .min(config.connections_max_idle_ms),
    })
}

/// Waits until this node's voter has applied the cluster id (the quorum's first commit): a
/// broker serves no client before it knows the cluster it belongs to. A quorum of one names it
/// within milliseconds; a larger one once a majority of voters is up.
async fn wait_for_cluster_id(node: &Node<NodeMsg>) -> Result<String, ServerError> {
    let mut waited_ms = 0;
    loop {
        let asked = ask(&node.handle(), DescribeRequest)
            .await
            .map_err(|e| ServerError::Metadata(format!("the controller quorum's voter: {e}")))?;
        let log_now = waited_ms > 0 && waited_ms % QUORUM_WAIT_LOG_MS == 0;
        match asked {
            QuorumReply::Described(QuorumState {
                cluster_id: Some(id),
                ..
            }) => return Ok(cluster_id_text(&id)),
            QuorumReply::Described(state) if log_now => tracing::info!(
                term = state.term,
                leader = ?state.leader,
                waited_ms,
                "waiting for the controller quorum to elect a leader and name the cluster"
            ),
            // The voter reopens its files after a pause (a disk error may pass): wait on.
            QuorumReply::Failed(why) if log_now => {
                tracing::warn!(%why, waited_ms, "waiting for the controller quorum's voter to recover")
            }
            QuorumReply::Described(_) | QuorumReply::Failed(_) => {}
            other => {
                return Err(ServerError::Metadata(format!(
                    "the controller quorum's voter answered {other:?}"
                )))
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(QUORUM_POLL_MS)).await;
        waited_ms += QUORUM_POLL_MS;
    }
}

/// Upgrade in place: a data directory written by a single-node release keeps its topics in
/// `__rill_meta/topics.bin`. Each topic the metadata log does not have yet is created through
/// the normal administration (assigned to this broker, its logs opened as they are, its configs
/// kept where this release still accepts them), then the file is renamed `topics.bin.imported`
/// so that this happens once. The topic ids are new ones.
async fn import_legacy_topics(
    node: &Node<NodeMsg>,
    storage: &dyn Storage,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let legacy = crate::controller::store::load_legacy(storage)
        .map_err(|e| ServerError::Metadata(e.to_string()))?;
    let Some(legacy) = legacy else {
        return Ok(());
    };
    let known = ask(&node.handle(), ListTopicsRequest)
        .await
        .map_err(|e| ServerError::Metadata(format!("the topics actor: {e}")))?;
    let defaults = config.admin_settings().log;
    for (name, topic) in legacy {
        if known.contains_key(&name) {
            continue;
        }
        let outcome = if name == OFFSETS_TOPIC {
            let ensure = EnsureInternalRequest {
                topic: InternalTopic::ConsumerOffsetsImported,
            };
            ask(&node.handle(), ensure).await
        } else {
            let mut configs = BTreeMap::new();
            for (key, value) in topic.configs {
                configs.insert(key.clone(), value);
                if topic_config::resolve(&defaults, &configs).is_err() {
                    tracing::warn!(topic = %name, %key, "stored topic config no longer valid; not imported");
                    configs.remove(&key);
                }
            }
            let create = CreateTopicsRequest {
                topics: vec![NewTopic {
                    name: name.clone(),
                    partitions: -1,
                    replication_factor: -1,
                    configs,
                    // Its logs are here: every partition stays on this broker.
                    assignments: (0..topic.partitions)
                        .map(|p| (p, vec![i32::try_from(config.node_id).unwrap_or(i32::MAX)]))
                        .collect(),
                }],
                validate_only: false,
            };
            ask(&node.handle(), create).await
        };
        match outcome.map_err(|e| ServerError::Metadata(format!("the topics actor: {e}")))?[..] {
            [Ok(ref meta)] if meta.partitions != topic.partitions => {
                tracing::warn!(topic = %name, stored = topic.partitions, now = meta.partitions, "imported with another partition count")
            }
            [Ok(_)] => {
                tracing::info!(topic = %name, partitions = topic.partitions, "topic imported from the single-node registry")
            }
            ref other => {
                return Err(ServerError::Metadata(format!(
                    "cannot import topic '{name}' from {}: {other:?}",
                    crate::controller::store::legacy_path().display()
                )))
            }
        }
    }
    let from = crate::controller::store::legacy_path();
    let to = from.with_extension("bin.imported");
    storage
        .rename(&from, &to)
        .and_then(|()| storage.sync_dir(from.parent().unwrap_or(std::path::Path::new(""))))
        .map_err(|e| ServerError::Metadata(format!("cannot rename {}: {e}", from.display())))?;
    Ok(())
}

/// Waits until this node's voter applied every entry the quorum's leader had committed when
/// asked (the leader answers for itself; a follower forwards): the applied index.
async fn wait_for_metadata(node: &Node<NodeMsg>) -> Result<u64, ServerError> {
    let mut waited_ms = 0;
    let mut target = None;
    loop {
        if target.is_none() {
            match ask(&node.handle(), DescribeLeaderRequest).await {
                Ok(QuorumReply::Described(state)) => target = Some(state.commit_index),
                Ok(_) => {}
                Err(e) => {
                    return Err(ServerError::Metadata(format!(
                        "the controller quorum's voter: {e}"
                    )))
                }
            }
        }
        if let Some(target) = target {
            let asked = ask(&node.handle(), DescribeRequest).await.map_err(|e| {
                ServerError::Metadata(format!("the controller quorum's voter: {e}"))
            })?;
            if let QuorumReply::Described(state) = asked {
                if state.applied_index >= target {
                    return Ok(state.applied_index);
                }
            }
        }
        if waited_ms > 0 && waited_ms % QUORUM_WAIT_LOG_MS == 0 {
            tracing::info!(
                ?target,
                waited_ms,
                "waiting for this node to apply the metadata log"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(QUORUM_POLL_MS)).await;
        waited_ms += QUORUM_POLL_MS;
    }
}

/// Waits until the quorum's leader unfenced this broker (it registered and caught up).
async fn wait_until_unfenced(node: &Node<NodeMsg>) -> Result<(), ServerError> {
    let mut waited_ms = 0;
    loop {
        let status = ask(&node.handle(), LifecycleStatusRequest)
            .await
            .map_err(|e| ServerError::Metadata(format!("the broker lifecycle: {e}")))?;
        if !status.fenced {
            return Ok(());
        }
        if waited_ms > 0 && waited_ms % QUORUM_WAIT_LOG_MS == 0 {
            tracing::info!(
                ?status,
                waited_ms,
                "waiting for the controller to unfence this broker"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(QUORUM_POLL_MS)).await;
        waited_ms += QUORUM_POLL_MS;
    }
}

/// Runs until SIGINT or SIGTERM, then stops cleanly.
pub async fn run(config: ServerConfig) -> Result<(), ServerError> {
    let server = Server::start(&config).await?;
    wait_for_shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(not(madsim))]
async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(madsim)]
async fn wait_for_shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
