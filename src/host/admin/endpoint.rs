//! The server's admin endpoint (`admin.listener`, [`super`]): started with the node's
//! actors, so `/healthz` answers while the node waits for its quorum, and marked serving once
//! the Kafka listeners take clients (`/readyz`). Not under madsim: nothing scrapes a simulation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
#[cfg(not(madsim))]
use std::sync::OnceLock;

#[cfg(not(madsim))]
use crate::config::ServerConfig;
#[cfg(not(madsim))]
use crate::host::server::ServerError;

/// The endpoint of one server, if it runs one.
#[derive(Default)]
pub struct Endpoint {
    serving: Arc<AtomicBool>,
    #[cfg(not(madsim))]
    server: Option<super::http::AdminServer>,
    /// The gateway, handed over once the broker serves clients (the console's writes).
    #[cfg(not(madsim))]
    writer: Arc<OnceLock<super::actions::Writer>>,
}

impl Endpoint {
    /// Starts the endpoint `config` asks for on `node` (`broker`: a broker, not a
    /// controller-only node). A configured address that cannot be bound fails the start; the
    /// default one, busy, is logged and skipped (a second broker on one host).
    #[cfg(not(madsim))]
    pub fn start<C>(config: &ServerConfig, node: C, broker: bool) -> Result<Self, ServerError>
    where
        C: crate::actor::client::ActorClient<crate::messages::NodeMsg>,
    {
        use super::http::{AdminServer, AdminState};
        let serving = Arc::new(AtomicBool::new(false));
        let writer = Arc::new(OnceLock::new());
        let Some(addr) = config.admin_listener.addr else {
            return Ok(Self {
                serving,
                server: None,
                writer,
            });
        };
        let bind_error = |source| ServerError::Bind {
            addr: format!("{addr} (admin.listener)"),
            source,
        };
        let listener = match std::net::TcpListener::bind(addr) {
            Ok(listener) => listener,
            Err(error) if !config.admin_listener.explicit => {
                tracing::warn!(
                    %addr,
                    %error,
                    "the default admin.listener is busy; running without the admin endpoint \
                     (set admin.listener to another address, or empty to turn it off)"
                );
                return Ok(Self {
                    serving,
                    server: None,
                    writer,
                });
            }
            Err(error) => return Err(bind_error(error)),
        };
        let state = AdminState {
            node,
            me: crate::types::NodeId(config.node_id),
            broker,
            serving: serving.clone(),
            min_insync_default: config.log.min_insync_replicas,
            security: admin_security(config),
            writer: writer.clone(),
        };
        let server = AdminServer::start(listener, state).map_err(bind_error)?;
        tracing::info!(addr = %server.addr, "admin endpoint bound (/metrics, /healthz, /readyz)");
        Ok(Self {
            serving,
            server: Some(server),
            writer,
        })
    }

    /// The broker serves clients through `service` (its gateway): the console may write
    /// through it, as a client on `listener` would (a super user only, [`super::auth`]).
    #[cfg(not(madsim))]
    pub fn accept_writes(
        &self,
        service: Arc<dyn crate::broker::service::KafkaService>,
        listener: String,
    ) {
        let _ = self
            .writer
            .set(super::actions::Writer { service, listener });
    }

    /// Under madsim there is no endpoint to write through.
    #[cfg(madsim)]
    pub fn accept_writes(
        &self,
        _service: Arc<dyn crate::broker::service::KafkaService>,
        _listener: String,
    ) {
    }

    /// The endpoint's bound address, if it runs.
    pub fn addr(&self) -> Option<std::net::SocketAddr> {
        #[cfg(not(madsim))]
        return self.server.as_ref().map(|s| s.addr);
        #[cfg(madsim)]
        None
    }

    /// The Kafka listeners take clients (`true`) or no longer do.
    pub fn serving(&self, serving: bool) {
        self.serving.store(serving, Ordering::SeqCst);
    }

    /// Stops the endpoint (the server's last step).
    #[cfg_attr(madsim, allow(unused_mut))]
    pub async fn stop(mut self) {
        self.serving(false);
        #[cfg(not(madsim))]
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

/// What the console's logins are checked against: the authorizer's switch and super users,
/// and the PLAIN users of every SASL listener (SCRAM's are asked from the metadata at login).
#[cfg(not(madsim))]
fn admin_security(config: &ServerConfig) -> super::auth::AdminSecurity {
    let plain_users = (config.client_listeners().iter())
        .filter_map(|listener| config.listener_security(listener).ok())
        .filter_map(|security| security.sasl)
        .flat_map(|sasl| sasl.plain_users)
        .collect();
    super::auth::AdminSecurity {
        authorizer: config.authorizer_enabled,
        super_users: config.authorizer.super_users.clone(),
        plain_users,
    }
}
