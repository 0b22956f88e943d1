//! The `LIFECYCLE` actor: this node's broker as a member of the cluster (Kafka's
//! `BrokerLifecycleManager`). Once the node's Kafka listeners are bound it registers with the
//! controller quorum's leader (through this node's voter, which forwards), then heartbeats every
//! `broker.heartbeat.interval.ms`. The leader unfences it once it has applied its own
//! registration, and fences it when heartbeats stop for `broker.session.timeout.ms`; a
//! heartbeat refused as stale (the registration is gone or newer) makes it register again.
//!
//! One call to the voter is in flight at a time; a failed one (no leader, a timeout, a leader
//! still applying its log) is tried again after a pause that doubles up to the heartbeat
//! interval, and so is a heartbeat answered "fenced" (the broker is not caught up yet, and
//! being unfenced soon is what start-up waits for).
//!
//! When the node stops, it asks for a controlled shutdown (Kafka's heartbeat with
//! `wantShutDown`): the leader fences the broker at once, so the cluster stops counting on it
//! without waiting a session; then it heartbeats no more. It gives up after
//! [`SHUTDOWN_WAIT_MS`] (no leader to ask), and the session timeout fences it instead.

use crate::actor::{Actor, Addr, CallId, Ctx, Input, RequestId};
use crate::messages::lifecycle::{
    BrokerStatus, LifecycleReply, LifecycleRequest, StartLifecycleRequest,
};
use crate::messages::quorum::{LeaderRequest, QuorumReply};
use crate::messages::{NodeMsg, PartitionsRequest, PARTITIONS, QUORUM};
use crate::types::NodeId;

/// How long one call to the voter may take: longer than the voter's own forwarding timeout
/// (2 s), so that a lost forward comes back as the voter's answer rather than as this call's
/// timeout.
const CALL_TIMEOUT_MS: u64 = 3_000;

/// The first pause after a failed call.
const RETRY_FIRST_MS: u64 = 50;

/// How long a controlled shutdown tries before the node stops anyway.
pub const SHUTDOWN_WAIT_MS: u64 = 5_000;

#[derive(Clone, Debug)]
pub struct LifecycleSettings {
    pub node_id: NodeId,
    /// Kafka's `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LifecycleTimer {
    /// The next registration or heartbeat is due.
    Next,
    /// A controlled shutdown ran out of time.
    GiveUp,
}

/// Where the broker is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// A controlled shutdown is asked for; `waiter` is answered when it ends.
    Stopping {
        waiter: RequestId,
    },
    /// Nothing more is sent.
    Stopped,
}

pub struct BrokerLifecycle {
    settings: LifecycleSettings,
    /// Drawn when the actor starts: each process run is a new incarnation.
    incarnation_id: [u8; 16],
    /// Set by [`LifecycleRequest::Start`]; nothing is sent before.
    registration: Option<StartLifecycleRequest>,
    status: BrokerStatus,
    in_flight: Option<CallId>,
    retry_ms: u64,
    phase: Phase,
    /// A registration of this process was committed: any later one holds all it wrote.
    registered_once: bool,
    /// Another incarnation's registration displaced this process's: it registers again only
    /// once that one is not alive (its registration says `displaced`).
    displaced: bool,
}

impl BrokerLifecycle {
    pub fn new(settings: LifecycleSettings) -> Self {
        Self {
            settings,
            incarnation_id: [0; 16],
            registration: None,
            status: BrokerStatus::default(),
            in_flight: None,
            retry_ms: RETRY_FIRST_MS,
            phase: Phase::Running,
            registered_once: false,
            displaced: false,
        }
    }

    /// Registers, or heartbeats once registered.
    fn send_next(&mut self, ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>) {
        if self.in_flight.is_some() || self.phase == Phase::Stopped {
            return;
        }
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        if stopping && self.status.broker_epoch.is_none() {
            // Nothing registered to fence.
            return self.stopped(ctx);
        }
        let Some(registration) = &self.registration else {
            return;
        };
        let node_id = self.settings.node_id;
        let request = match self.status.broker_epoch {
            Some(broker_epoch) if stopping => LeaderRequest::ControlledShutdown {
                node_id,
                broker_epoch,
            },
            None => LeaderRequest::RegisterBroker {
                node_id,
                incarnation_id: self.incarnation_id,
                listeners: registration.listeners.clone(),
                rack: registration.rack.clone(),
                // Only this process's first registration can follow a crash: registering
                // again (a stale heartbeat), it still holds everything it wrote.
                clean_shutdown: registration.clean_shutdown || self.registered_once,
                displaced: self.displaced,
            },
            Some(broker_epoch) => LeaderRequest::BrokerHeartbeat {
                node_id,
                broker_epoch,
                // The voter fills in how far this node applied the metadata.
                applied_index: 0,
            },
        };
        let to = Addr {
            node: ctx.me.node,
            actor: QUORUM,
        };
        self.in_flight = Some(ctx.call(to, request.to_own_voter(), CALL_TIMEOUT_MS));
    }

    fn status_reply(&self) -> NodeMsg {
        NodeMsg::LifecycleReply(LifecycleReply::Status(self.status))
    }

    /// The controlled shutdown is over (done or given up): its waiter is answered and nothing
    /// more is sent.
    fn stopped(&mut self, ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>) {
        if let Phase::Stopping { waiter } = self.phase {
            ctx.reply(waiter, self.status_reply());
        }
        self.phase = Phase::Stopped;
    }

    /// The voter's answer to the call in flight (`None`: the call failed).
    fn answered(&mut self, ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>, reply: Option<QuorumReply>) {
        let interval_ms = self.settings.heartbeat_interval_ms;
        if self.phase == Phase::Stopped {
            return;
        }
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        match reply {
            Some(QuorumReply::ShutdownReady) => {
                tracing::info!(broker_epoch = ?self.status.broker_epoch, "controlled shutdown: the controller fenced the broker");
                self.status.fenced = true;
                self.stopped(ctx);
            }
            // A heartbeat or registration answered while the shutdown was asked for: ask now.
            Some(QuorumReply::Registered { broker_epoch }) if stopping => {
                self.registered_once = true;
                self.status.broker_epoch = Some(broker_epoch);
                self.send_next(ctx);
            }
            Some(QuorumReply::Heartbeat { .. }) if stopping => self.send_next(ctx),
            Some(QuorumReply::Registered { broker_epoch }) => {
                tracing::info!(%broker_epoch, "the broker registered with the controller quorum");
                self.registered_once = true;
                self.displaced = false;
                let to = Addr {
                    node: ctx.me.node,
                    actor: PARTITIONS,
                };
                let registered = PartitionsRequest::Registered(broker_epoch);
                ctx.send(to, NodeMsg::Partitions(registered));
                self.status = BrokerStatus {
                    broker_epoch: Some(broker_epoch),
                    fenced: true,
                };
                self.retry_ms = RETRY_FIRST_MS;
                // The first heartbeat at once: it is what unfences the broker.
                self.send_next(ctx);
            }
            Some(QuorumReply::Heartbeat { fenced }) => {
                if fenced != self.status.fenced {
                    let epoch = self.status.broker_epoch;
                    tracing::info!(fenced, broker_epoch = ?epoch, "the controller changed the broker's fencing");
                }
                self.status.fenced = fenced;
                if fenced {
                    // Not caught up yet (its voter had not applied the registration when it
                    // asked): ask again soon, not a whole interval later.
                    self.retry_later(ctx);
                } else {
                    self.retry_ms = RETRY_FIRST_MS;
                    ctx.set_timer(LifecycleTimer::Next, interval_ms);
                }
            }
            Some(QuorumReply::Displaced) if stopping => {
                // Nothing of this process's left to fence.
                self.status.fenced = true;
                self.stopped(ctx);
            }
            Some(QuorumReply::Displaced) => {
                tracing::warn!(node_id = %self.settings.node_id, broker_epoch = ?self.status.broker_epoch, "another process registered this node.id (a later broker epoch); registering again once it is not alive");
                self.displaced = true;
                self.register_again(ctx);
            }
            Some(QuorumReply::DuplicateRegistration) => {
                tracing::warn!(node_id = %self.settings.node_id, "another process with this node.id is registered and heartbeating (DUPLICATE_BROKER_REGISTRATION): waiting for its session to end; two live processes must never share a node.id");
                self.retry_later(ctx);
            }
            Some(QuorumReply::StaleBrokerEpoch) => {
                tracing::warn!(broker_epoch = ?self.status.broker_epoch, "the controller no longer knows this registration; registering again");
                self.register_again(ctx);
            }
            other => {
                tracing::debug!(answer = ?other, "no answer from the controller quorum's leader; trying again");
                self.retry_later(ctx);
            }
        }
    }

    /// This process's registration is gone (stale or displaced): fenced, it registers anew
    /// after the retry delay.
    fn register_again(&mut self, ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>) {
        self.status = BrokerStatus {
            broker_epoch: None,
            fenced: true,
        };
        self.retry_later(ctx);
    }

    fn retry_later(&mut self, ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>) {
        ctx.set_timer(LifecycleTimer::Next, self.retry_ms);
        self.retry_ms = (self.retry_ms * 2).min(self.settings.heartbeat_interval_ms.max(1));
    }
}

impl Actor<NodeMsg> for BrokerLifecycle {
    type Timer = LifecycleTimer;

    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, LifecycleTimer>,
        input: Input<NodeMsg, LifecycleTimer>,
    ) {
        match input {
            Input::Start => rand::RngCore::fill_bytes(ctx.rng, &mut self.incarnation_id),
            Input::Request {
                id,
                msg: NodeMsg::Lifecycle(LifecycleRequest::Shutdown),
                ..
            } => {
                if self.phase != Phase::Running {
                    return ctx.reply(id, self.status_reply());
                }
                self.phase = Phase::Stopping { waiter: id };
                ctx.cancel_timer(LifecycleTimer::Next);
                ctx.set_timer(LifecycleTimer::GiveUp, SHUTDOWN_WAIT_MS);
                // With a call in flight, its answer sends the shutdown.
                self.send_next(ctx);
            }
            Input::Request {
                id,
                msg: NodeMsg::Lifecycle(request),
                ..
            } => {
                if let LifecycleRequest::Start(start) = request {
                    if self.registration.is_none() && self.phase == Phase::Running {
                        self.registration = Some(start);
                        self.send_next(ctx);
                    }
                }
                ctx.reply(id, self.status_reply());
            }
            Input::Request { id, msg, .. } => {
                tracing::warn!(?msg, "not a lifecycle request");
                ctx.reply(id, self.status_reply());
            }
            Input::Reply { call, msg } if self.in_flight == Some(call) => {
                self.in_flight = None;
                let reply = match msg {
                    NodeMsg::QuorumReply(reply) => Some(reply),
                    _ => None,
                };
                self.answered(ctx, reply);
            }
            Input::CallFailed { call, .. } if self.in_flight == Some(call) => {
                self.in_flight = None;
                self.answered(ctx, None);
            }
            Input::Timer {
                key: LifecycleTimer::Next,
            } => self.send_next(ctx),
            Input::Timer {
                key: LifecycleTimer::GiveUp,
            } => {
                if matches!(self.phase, Phase::Stopping { .. }) {
                    tracing::warn!(after_ms = SHUTDOWN_WAIT_MS, "controlled shutdown: no answer from the controller; stopping anyway (the session timeout fences the broker)");
                    self.stopped(ctx);
                }
            }
            Input::Reply { .. }
            | Input::CallFailed { .. }
            | Input::Msg { .. }
            | Input::Synced { .. } => {}
        }
    }
}
