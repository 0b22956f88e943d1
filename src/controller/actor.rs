//! The `TOPICS` actor: this node's view of the cluster's topics (the metadata log as its voter
//! applied it, [`TopicsRequest::MetadataApplied`]), topic administration ([`Admin`]: decided by
//! the controller quorum, one operation at a time), and this node's partition logs kept in line
//! with the metadata (start-up's `OpenAll`, then a reconciliation after each change).

use super::admin::{Admin, AdminOp, AdminSettings, TopicsState, TopicsTimer};
use super::metadata::broker_config::cluster_min_isr;
use crate::actor::{Actor, Addr, Ctx, Input};
use std::collections::BTreeMap;

use crate::messages::scram::{ScramCredential, ScramCredentials, ScramDescriptions};
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
                    TopicsRequest::ScramCredential(asked) => {
                        let credential = (topics.applied.scram_credentials.get(&asked.user))
                            .and_then(|credentials| credentials.get(&asked.mechanism))
                            .cloned();
                        let reply = TopicsReply::ScramCredential(credential);
                        ctx.reply(id, NodeMsg::TopicsReply(reply));
                        return;
                    }
                    TopicsRequest::Acls => {
                        let reply = TopicsReply::Acls(topics.applied.acls.clone());
                        ctx.reply(id, NodeMsg::TopicsReply(reply));
                        return;
                    }
                    TopicsRequest::DescribeScram(asked) => {
                        let described =
                            describe_scram(&topics.applied.scram_credentials, asked.users);
                        let reply = TopicsReply::ScramDescribed(described);
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

/// The mechanisms and iterations of `users` (`None`: every user with a credential); a user
/// without credentials is left out.
fn describe_scram(credentials: &ScramCredentials, users: Option<Vec<String>>) -> ScramDescriptions {
    let describe = |mechanisms: &std::collections::BTreeMap<_, ScramCredential>| {
        (mechanisms.iter())
            .map(|(mechanism, credential)| (*mechanism, credential.iterations))
            .collect()
    };
    match users {
        None => (credentials.iter())
            .map(|(user, mechanisms)| (user.clone(), describe(mechanisms)))
            .collect(),
        Some(users) => (users.into_iter())
            .filter_map(|user| {
                let described = describe(credentials.get(&user)?);
                Some((user, described))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;
    use crate::actor::{ActorId, Effect, Now, Origin, Outbox, RequestId};
    use crate::controller::admin::InternalTopicSpec;
    use crate::controller::metadata::{MetadataImage, MetadataRecord};
    use crate::controller::quorum::applied_topics;
    use crate::messages::scram::{DescribeScramRequest, ScramCredentialRequest, ScramMechanism};
    use crate::storage::log::LogConfig;

    fn actor() -> TopicsActor {
        let spec = InternalTopicSpec {
            partitions: 1,
            replication_factor: 1,
            configs: BTreeMap::new(),
        };
        TopicsActor::new(AdminSettings {
            node_id: NodeId(1),
            log: LogConfig::default(),
            num_partitions: 1,
            default_replication_factor: 1,
            offsets_topic: spec.clone(),
            txn_state_topic: spec,
        })
    }

    /// Runs `input` and returns the replies the actor recorded.
    fn step(actor: &mut TopicsActor, input: Input<NodeMsg, TopicsTimer>) -> Vec<NodeMsg> {
        let (mut rng, mut outbox) = (SmallRng::seed_from_u64(1), Outbox::default());
        let me = Addr {
            node: NodeId(1),
            actor: ActorId(1),
        };
        let now = Now {
            unix_ms: 0,
            mono_ms: 0,
        };
        actor.handle(&mut Ctx::new(now, me, &mut rng, &mut outbox), input);
        (outbox.take_effects().into_iter())
            .filter_map(|effect| match effect {
                Effect::Reply { msg, .. } => Some(msg),
                _ => None,
            })
            .collect()
    }

    fn ask(actor: &mut TopicsActor, msg: NodeMsg) -> NodeMsg {
        let input = Input::Request {
            id: RequestId(7),
            from: Origin::Host,
            msg,
        };
        let mut replies = step(actor, input);
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies.pop().unwrap()
    }

    /// The lookup a SCRAM login makes, through its typed call: the credential as the node's
    /// voter applied it, none for a user or mechanism without one; and the describe.
    #[test]
    fn scram_lookups_answer_from_the_applied_metadata() {
        let mut actor = actor();
        let sha256 = ScramMechanism::Sha256;
        let alice = ScramCredential::from_password(sha256, b"alice-secret", b"salt", 8192);
        let mut image = MetadataImage::default();
        let record = MetadataRecord::SetScramCredential {
            user: "alice".into(),
            mechanism: sha256,
            credential: Some(alice.clone()),
        };
        assert_eq!(image.apply_entry(1, &[record]), vec![]);
        let applied = Box::new(applied_topics(&image));
        let from = Addr {
            node: NodeId(1),
            actor: crate::messages::QUORUM,
        };
        let msg = NodeMsg::Topics(TopicsRequest::MetadataApplied(applied));
        step(&mut actor, Input::Msg { from, msg });
        let lookup = |actor: &mut TopicsActor, user: &str, mechanism| {
            let request = ScramCredentialRequest {
                user: user.into(),
                mechanism,
            };
            Option::<ScramCredential>::try_from(ask(actor, request.into())).unwrap()
        };
        assert_eq!(lookup(&mut actor, "alice", sha256), Some(alice));
        assert_eq!(lookup(&mut actor, "alice", ScramMechanism::Sha512), None);
        assert_eq!(lookup(&mut actor, "bob", sha256), None);
        let describe = |actor: &mut TopicsActor, users: Option<Vec<String>>| {
            let reply = ask(actor, DescribeScramRequest { users }.into());
            ScramDescriptions::try_from(reply).unwrap()
        };
        let alice_only = BTreeMap::from([("alice".to_string(), vec![(sha256, 8192)])]);
        assert_eq!(describe(&mut actor, None), alice_only);
        let named = Some(vec!["bob".to_string(), "alice".to_string()]);
        assert_eq!(describe(&mut actor, named), alice_only);
    }
}
