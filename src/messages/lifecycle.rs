//! What the node asks its broker lifecycle actor ([`super::LIFECYCLE`]): to start registering
//! with the controller quorum once its Kafka listeners are bound, and where the registration
//! stands.

use serde::{Deserialize, Serialize};

use super::quorum::Listener;
use crate::types::BrokerEpoch;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleRequest {
    /// Register with these listeners (where clients reach this broker), then heartbeat for as
    /// long as the node runs. Answered with the status at once.
    Start(StartLifecycleRequest),
    /// Where the registration stands.
    Status,
    /// The node is stopping: ask the quorum's leader to fence this broker now (Kafka's
    /// controlled shutdown) and heartbeat no more. Answered with the status once the leader
    /// confirmed (then `fenced`), or once the attempt gave up.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartLifecycleRequest {
    pub listeners: Vec<Listener>,
    pub rack: Option<String>,
    /// The node's data directory says its last run ended with a clean shutdown (the host's
    /// marker: every log synced and closed). Sent with the first registration (KIP-966).
    pub clean_shutdown: bool,
}

/// [`LifecycleRequest::Status`], as a typed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifecycleStatusRequest;

/// [`LifecycleRequest::Shutdown`], as a typed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlledShutdownRequest;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleReply {
    Status(BrokerStatus),
}

/// The broker's registration as its last answer from the quorum's leader had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerStatus {
    /// `None` until registered (and again while it registers anew).
    pub broker_epoch: Option<BrokerEpoch>,
    /// A fenced broker is no leader candidate (every registration starts fenced).
    pub fenced: bool,
}

impl Default for BrokerStatus {
    /// Not registered, so fenced.
    fn default() -> Self {
        Self {
            broker_epoch: None,
            fenced: true,
        }
    }
}
