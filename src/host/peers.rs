//! How broker-only nodes find each other. Every node links to the configured voters, and a
//! voter learns each node that links to it from its hello; but two broker-only nodes never
//! link to each other that way, so a follower on one could not fetch from a leader on the
//! other. So each broker registers its inter-node address too (a listener named
//! [`INTER_NODE_LISTENER`], after its client listeners: clients only ever see the first), and
//! a broker-only node links to the other brokers at the addresses the metadata has.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;

use super::node::NodeHandle;
use crate::messages::call::ask;
use crate::messages::quorum::{DescribeRequest, Listener, QuorumReply};
use crate::messages::NodeMsg;
use crate::types::NodeId;

/// The registered listener that names a broker's inter-node address.
pub const INTER_NODE_LISTENER: &str = "RILL_INTER_NODE";

/// The registered listener that names a broker's admin endpoint.
pub use crate::messages::quorum::ADMIN_LISTENER;

/// How often a broker-only node looks for brokers registered at a new address.
const LOOK_EVERY_MS: u64 = 1_000;

/// The inter-node listener this node registers: where it listens, or, when that is a
/// wildcard address, at the host it advertises to clients.
pub fn inter_node_listener(listen: SocketAddr, advertised_host: Option<&str>) -> Listener {
    let host = match (listen.ip().is_unspecified(), advertised_host) {
        (true, Some(host)) => host.to_owned(),
        _ => listen.ip().to_string(),
    };
    Listener {
        name: INTER_NODE_LISTENER.to_owned(),
        host,
        port: listen.port(),
    }
}

/// The admin listener this node registers, advertised like the inter-node one.
pub fn admin_listener(listen: SocketAddr, advertised_host: Option<&str>) -> Listener {
    Listener {
        name: ADMIN_LISTENER.to_owned(),
        ..inter_node_listener(listen, advertised_host)
    }
}

/// Where `listeners` (a registration's) say the broker takes inter-node links.
fn inter_node_addr(listeners: &[Listener]) -> Option<SocketAddr> {
    let listener = listeners.iter().find(|l| l.name == INTER_NODE_LISTENER)?;
    let ip = listener.host.parse().ok()?;
    Some(SocketAddr::new(ip, listener.port))
}

/// Links `node` to every registered broker but itself and `voters` (linked already), again
/// whenever one registers at another address, until `stop`.
pub async fn link_registered_brokers(
    node: NodeHandle<NodeMsg>,
    me: NodeId,
    voters: Vec<NodeId>,
    mut stop: watch::Receiver<bool>,
) {
    let mut linked: BTreeMap<NodeId, SocketAddr> = BTreeMap::new();
    loop {
        if let Ok(QuorumReply::Described(state)) = ask(&node, DescribeRequest).await {
            for broker in &state.brokers {
                let other = broker.node_id != me && !voters.contains(&broker.node_id);
                let Some(addr) = inter_node_addr(&broker.listeners).filter(|_| other) else {
                    continue;
                };
                if linked.get(&broker.node_id) != Some(&addr) {
                    tracing::info!(peer = %broker.node_id, %addr, "linking to a registered broker");
                    node.add_peer(broker.node_id, addr);
                    linked.insert(broker.node_id, addr);
                }
            }
        }
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(LOOK_EVERY_MS)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inter_node_listener_names_a_reachable_address() {
        let named = inter_node_listener("127.0.0.3:9093".parse().unwrap(), Some("h"));
        assert_eq!((named.host.as_str(), named.port), ("127.0.0.3", 9093));
        let wildcard = inter_node_listener("0.0.0.0:9093".parse().unwrap(), Some("127.0.0.4"));
        assert_eq!(wildcard.host, "127.0.0.4");
        let client = Listener {
            name: "PLAINTEXT".into(),
            host: "127.0.0.9".into(),
            port: 9092,
        };
        assert_eq!(
            inter_node_addr(&[client.clone(), wildcard]),
            Some("127.0.0.4:9093".parse().unwrap())
        );
        assert_eq!(inter_node_addr(&[client]), None);
    }
}
