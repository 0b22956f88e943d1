//! The `TOPICS` actor: owns the topic registry of this node ([`TopicStore`], persisted before
//! every answer, by persist jobs the host runs off the actor) and runs topic administration
//! ([`Admin`]) one operation at a time.

use std::sync::Arc;

use super::admin::{Admin, AdminOp, AdminSettings};
use super::store::{TopicStore, TopicsError};
use super::topics::TopicRegistry;
use crate::actor::{Actor, Ctx, Input, NoTimer};
use crate::messages::{NodeMsg, Refusal, TopicsReply, TopicsRequest};
use crate::storage::Storage;
use crate::types::ErrorCode;

pub struct TopicsActor {
    store: TopicStore,
    settings: AdminSettings,
    admin: Admin,
}

impl TopicsActor {
    /// Loads the persisted registry (none yet = empty). `brokers` bounds the replication factor.
    pub fn open(
        storage: Arc<dyn Storage>,
        brokers: i16,
        settings: AdminSettings,
    ) -> Result<Self, TopicsError> {
        Ok(Self {
            store: TopicStore::open(storage, brokers)?,
            settings,
            admin: Admin::default(),
        })
    }

    pub fn registry(&self) -> &TopicRegistry {
        self.store.registry()
    }
}

impl Actor<NodeMsg> for TopicsActor {
    type Timer = NoTimer;

    fn handle(&mut self, ctx: &mut Ctx<'_, NodeMsg, NoTimer>, input: Input<NodeMsg, NoTimer>) {
        let (store, settings) = (&mut self.store, &self.settings);
        match input {
            Input::Request {
                id,
                msg: NodeMsg::Topics(request),
                ..
            } => {
                let op = match request {
                    // The committed registry: an administration in progress shows what it has
                    // registered so far, but never a change whose write has not completed.
                    TopicsRequest::List => {
                        let topics = store.registry().topics.clone();
                        ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::List(topics)));
                        return;
                    }
                    TopicsRequest::CreateTopics(r) => AdminOp::CreateTopics(r),
                    TopicsRequest::DeleteTopics(r) => AdminOp::DeleteTopics(r),
                    TopicsRequest::CreatePartitions(r) => AdminOp::CreatePartitions(r),
                    TopicsRequest::AlterConfigs(r) => AdminOp::AlterConfigs(r),
                    TopicsRequest::AutoCreate(r) => AdminOp::AutoCreate(r.name),
                    TopicsRequest::OpenAll => AdminOp::OpenAll,
                    TopicsRequest::EnsureInternal(r) => AdminOp::EnsureInternal(r.topic),
                };
                self.admin.submit(ctx, store, settings, id, op);
            }
            Input::Request { id, msg, .. } => {
                let refusal = Refusal {
                    code: ErrorCode::INVALID_CONFIG,
                    message: format!("not a topics request: {msg:?}"),
                };
                ctx.reply(id, NodeMsg::TopicsReply(TopicsReply::Refused(refusal)));
            }
            Input::Reply { call, msg } => self.admin.answered(ctx, store, settings, call, Ok(msg)),
            Input::CallFailed { call, why } => {
                self.admin.answered(ctx, store, settings, call, Err(why))
            }
            Input::Synced { token, result } => {
                self.admin.written(ctx, store, settings, token, result)
            }
            Input::Start | Input::Msg { .. } | Input::Timer { .. } => {}
        }
    }
}
