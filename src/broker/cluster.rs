//! The cluster's brokers as this node's metadata has them, for the answers that name brokers:
//! Metadata's broker list and partition leaders, FindCoordinator's coordinator. Any broker
//! answers for the whole cluster (Kafka's broker discovery).

use std::collections::BTreeMap;

use super::BrokerService;
use crate::actor::client::ActorClient;
use crate::messages::call::ask;
use crate::messages::quorum::{DescribeRequest, QuorumReply};
use crate::messages::NodeMsg;

/// Where clients reach each live broker, by broker id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ClusterBrokers {
    /// The unfenced registered brokers with their endpoint on the request's listener (Kafka
    /// leaves out a broker without one), and this broker (it is answering, so it is
    /// reachable).
    pub by_id: BTreeMap<i32, (String, u16)>,
}

impl<C: ActorClient<NodeMsg>> BrokerService<C> {
    /// The live brokers' endpoints on `listener` (the one the request came in on): from this
    /// node's voter, which applied their registrations; this broker alone when the voter
    /// cannot answer.
    pub(super) async fn cluster_brokers(&self, listener: &str) -> ClusterBrokers {
        let mut cluster = ClusterBrokers::default();
        if let Ok(QuorumReply::Described(state)) = ask(&self.node, DescribeRequest).await {
            for broker in state.brokers.iter().filter(|b| !b.fenced) {
                let named = broker.listeners.iter().find(|l| l.name == listener);
                let (Some(listener), Ok(id)) = (named, i32::try_from(broker.node_id.0)) else {
                    continue;
                };
                cluster
                    .by_id
                    .insert(id, (listener.host.clone(), listener.port));
            }
        }
        // This broker on the request's listener; none when it has no such listener (Kafka
        // leaves it out rather than name an endpoint of another protocol). Settings without
        // listener names (tests) fall back to the first advertised address.
        let by_listener = &self.settings.advertised_by_listener;
        let mine = match by_listener.is_empty() {
            true => self.settings.advertised.as_ref(),
            false => by_listener.get(listener),
        };
        if let Some(me) = mine {
            (cluster.by_id)
                .entry(self.settings.broker_id())
                .or_insert_with(|| (me.host.clone(), me.port));
        }
        cluster
    }
}
