//! The `TOPICS` actor: this node's view of the cluster's topics (the metadata log as its voter
//! applied it, [`TopicsRequest::MetadataApplied`]), topic administration ([`Admin`]: decided by
//! the controller quorum, one operation at a time), and this node's partition logs kept in line
//! with the metadata (start-up's `OpenAll`, then a reconciliation after each change).

use super::admin::{Admin, AdminOp, AdminSettings, TopicsState, TopicsTimer};
use super::metadata::broker_config::cluster_min_isr;
use crate::actor::{Actor, Addr, Ctx, Input};
use std::collections::BTreeMap;

use crate::messages::throttles::ThrottleSettings;
use crate::messages::txn::TxnEvent;
use crate::messages::{
    LeadersUpdate, NodeMsg, PartitionLeader, PartitionsRequest, Refusal, TopicsReply,
    TopicsRequest, PARTITIONS, TXN,
};
use crate::types::{ErrorCode, NodeId, TopicPartition};

/// Who leads each partition, as the transaction coordinator is told it.
type TxnLeaders = BTreeMap<TopicPartition, Option<NodeId>>;

pub struct TopicsActor {
    topics: TopicsState,
    settings: AdminSettings,
    admin: Admin,
    /// The replication throttles last sent to the partitions actor (sent again only changed).
    throttles: Option<ThrottleSettings>,
    /// The partition leaders last sent to the transaction coordinator (sent again only
    /// changed: its markers go to the leaders).
    txn_leaders: Option<TxnLeaders>,
    /// This node's static `min.insync.replicas`: the logs' default until the metadata log
    /// holds the cluster-wide one (`settings.log` then carries that).
    static_min_isr: u32,
}

impl TopicsActor {
    pub fn new(settings: AdminSettings) -> Self {
        Self {
            topics: TopicsState::default(),
            static_min_isr: settings.log.min_insync_replicas,
            settings,
            admin: Admin::default(),
            throttles: None,
            txn_leaders: None,
        }
    }
}

impl Actor<NodeMsg> for TopicsActor {
    type Timer = TopicsTimer;

    fn handle(
        &mut self,
        ctx: &mut Ctx<'_, NodeMsg, TopicsTimer>,
        input: Input<NodeMsg, TopicsTimer>,
    ) {
        let (topics, settings) = (&mut self.topics, &self.settings);
        match input {
            Input::Msg {
                msg: NodeMsg::Topics(TopicsRequest::MetadataApplied(applied)),
                ..
            } => {
                // Never backwards: a voter that reopened its files applies its log again
                // from the start, and an older view would delete logs of newer topics.
                if applied.index <= topics.applied.index {
                    return;
                }
                topics.applied = *applied;
                // One default for every log of the cluster (KIP-966's rule, so a leader's high
                // watermark freezes under the value the controller keeps ELRs by); a change
                // reconfigures the logs at the reconciliation below.
                self.settings.log.min_insync_replicas =
                    cluster_min_isr(&topics.applied.broker_configs).unwrap_or(self.static_min_isr);
                // Before any reconciliation's opens: a replica opens in its role.
                let leaders = LeadersUpdate {
                    partitions: topics.applied.leaders(),
                    brokers: topics.applied.brokers.clone(),
                };
                let txn_leaders: TxnLeaders = (leaders.partitions.iter())
                    .map(|(tp, PartitionLeader { leader, .. })| (tp.clone(), *leader))
                    .collect();
                if self.txn_leaders.as_ref() != Some(&txn_leaders) {
                    self.txn_leaders = Some(txn_leaders.clone());
                    let to = Addr {
                        node: ctx.me.node,
                        actor: TXN,
                    };
                    ctx.send(to, NodeMsg::TxnEvent(TxnEvent::Leaders(txn_leaders)));
                }
                let to = Addr {
                    node: ctx.me.node,
                    actor: PARTITIONS,
                };
                ctx.send(to, NodeMsg::Partitions(PartitionsRequest::Leaders(leaders)));
                let applied = &topics.applied;
                let throttles = ThrottleSettings::from_metadata(
                    ctx.me.node,
                    &applied.broker_configs,
                    (applied.topics.iter()).map(|(name, meta)| (name.as_str(), &meta.configs)),
                );
                if self.throttles.as_ref() != Some(&throttles) {
                    self.throttles = Some(throttles.clone());
                    let msg = PartitionsRequest::Throttles(throttles);
                    ctx.send(to, NodeMsg::Partitions(msg));
                }
                // Queued even while start-up opens the logs: it runs after `OpenAll` and takes
                // what changed meanwhile (before start-up it does nothing).
                self.admin
                    .submit(ctx, topics, &self.settings, None, AdminOp::Reconcile);
            }
            Input::Request {
                id,
                msg: NodeMsg::Topics(request),
                ..
            } => {
                let op = match request {
                    TopicsRequest::List => {
                        let topics = topics.applied.topics.clone();
                        ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::List(topics)));
                        return;
                    }
                    TopicsRequest::BrokerConfigs => {
                        let configs = topics.applied.broker_configs.clone();
                        let reply = TopicsReply::BrokerConfigs(configs);
                        ctx.reply(id, NodeMsg::TopicsReply(reply));
                        return;
                    }
                    TopicsRequest::CreateTopics(r) => AdminOp::CreateTopics(r),
                    TopicsRequest::DeleteTopics(r) => AdminOp::DeleteTopics(r),
                    TopicsRequest::CreatePartitions(r) => AdminOp::CreatePartitions(r),
                    TopicsRequest::AlterConfigs(r) => AdminOp::AlterConfigs(r),
                    TopicsRequest::AutoCreate(r) => AdminOp::AutoCreate(r.name),
                    TopicsRequest::OpenAll => AdminOp::OpenAll,
                    TopicsRequest::EnsureInternal(r) => AdminOp::EnsureInternal(r.topic),
                    TopicsRequest::MetadataApplied(_) => {
                        let refusal = Refusal::new(
                            ErrorCode::INVALID_REQUEST,
                            "the applied metadata is sent, not asked",
                        );
                        ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
                        return;
                    }
                };
                self.admin.submit(ctx, topics, settings, Some(id), op);
            }
            Input::Request { id, msg, .. } => {
                let refusal = Refusal {
                    code: ErrorCode::INVALID_CONFIG,
                    message: format!("not a topics request: {msg:?}"),
                };
                ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
            }
            Input::Reply { call, msg } => self.admin.answered(ctx, topics, settings, call, Ok(msg)),
            Input::CallFailed { call, why } => {
                self.admin.answered(ctx, topics, settings, call, Err(why))
            }
            Input::Timer {
                key: TopicsTimer::Retry,
            } => self.admin.retry(ctx),
            Input::Start | Input::Msg { .. } | Input::Synced { .. } => {}
        }
    }
}
