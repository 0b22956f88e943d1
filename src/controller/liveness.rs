//! The leader's view of which brokers are alive (Kafka's `BrokerHeartbeatManager`): when each
//! registered broker was last heard from, and which of them have been silent for longer than
//! `broker.session.timeout.ms` and are to be fenced.
//!
//! Pure bookkeeping on the leader's monotonic clock, nothing persisted: a new leader knows no
//! heartbeat, so it gives every broker a whole session from the moment it took over (as Kafka
//! does) rather than fencing the cluster for the time it had no leader.

use std::collections::BTreeMap;

use super::metadata::MetadataImage;
use crate::types::{BrokerEpoch, NodeId};

/// Kafka's default `broker.session.timeout.ms`.
pub const SESSION_TIMEOUT_MS_DEFAULT: u64 = 9_000;

#[derive(Clone, Debug)]
pub struct BrokerLiveness {
    session_timeout_ms: u64,
    /// The term these times belong to: a change of leadership starts them again.
    term: u64,
    /// When this voter started leading in `term` (every broker's grace starts there).
    since_ms: u64,
    /// The last heartbeat or registration heard from each broker in `term`.
    heard_ms: BTreeMap<NodeId, u64>,
    /// Fence or unfence records proposed and not yet applied, by broker: the entry's index.
    /// A broker with one in flight gets no second (a slow commit would otherwise propose the
    /// same change at every tick).
    in_flight: BTreeMap<NodeId, u64>,
}

impl BrokerLiveness {
    pub fn new(session_timeout_ms: u64) -> Self {
        Self {
            session_timeout_ms,
            term: 0,
            since_ms: 0,
            heard_ms: BTreeMap::new(),
            in_flight: BTreeMap::new(),
        }
    }

    /// This voter leads in `term` at `now_ms`: a term it did not lead before starts every
    /// broker's session afresh.
    pub fn lead(&mut self, term: u64, now_ms: u64) {
        if term != self.term {
            self.term = term;
            self.since_ms = now_ms;
            self.heard_ms.clear();
            self.in_flight.clear();
        }
    }

    /// A registration or heartbeat from `node` arrived at `now_ms`.
    pub fn heard(&mut self, node: NodeId, now_ms: u64) {
        self.heard_ms.insert(node, now_ms);
    }

    /// A fence or unfence of `node` was proposed at `index`.
    pub fn proposed(&mut self, node: NodeId, index: u64) {
        self.in_flight.insert(node, index);
    }

    /// Whether a fence or unfence of `node` waits to be applied.
    pub fn changing(&self, node: NodeId) -> bool {
        self.in_flight.contains_key(&node)
    }

    /// Entries through `index` are applied (or will never be: `index` is past them).
    pub fn applied(&mut self, index: u64) {
        self.in_flight.retain(|_, at| *at > index);
    }

    /// The unfenced brokers silent for longer than the session at `now_ms`, with the epoch a
    /// fence of each must carry, by id.
    pub fn expired(&self, image: &MetadataImage, now_ms: u64) -> Vec<(NodeId, BrokerEpoch)> {
        image
            .brokers()
            .filter(|(node, broker)| !broker.fenced && !self.changing(*node))
            .filter(|(node, _)| !self.heard_within_session(*node, now_ms))
            .map(|(node, broker)| (node, broker.epoch))
            .collect()
    }

    /// Whether the process holding `node`'s registration is alive at `now_ms`: its
    /// registration or a heartbeat of it was heard within the session (or, nothing heard in
    /// this term, the term's leadership began within it). Unlike Kafka's `hasValidSession` a
    /// fenced registration counts too: a process that registered and heartbeats is alive before
    /// its unfence is applied, and a broker it displaced must not take the node id back then.
    pub fn heard_within_session(&self, node: NodeId, now_ms: u64) -> bool {
        let last_ms = self.heard_ms.get(&node).copied().unwrap_or(self.since_ms);
        now_ms.saturating_sub(last_ms) <= self.session_timeout_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::metadata::{Listener, MetadataRecord};

    fn image_with(brokers: &[(u64, bool)]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for (index, &(node, fenced)) in brokers.iter().enumerate() {
            let at = 2 * index as u64 + 1;
            let register = MetadataRecord::RegisterBroker {
                node_id: NodeId(node),
                incarnation_id: [node as u8; 16],
                listeners: vec![Listener {
                    name: "PLAINTEXT".into(),
                    host: "127.0.0.1".into(),
                    port: 9092,
                }],
                rack: None,
            };
            image.apply(at, &register).unwrap();
            if !fenced {
                let unfence = MetadataRecord::UnfenceBroker {
                    node_id: NodeId(node),
                    broker_epoch: BrokerEpoch(at),
                };
                image.apply(at + 1, &unfence).unwrap();
            }
        }
        image
    }

    #[test]
    fn a_broker_silent_for_longer_than_the_session_expires_and_a_fenced_one_never_does() {
        let image = image_with(&[(1, false), (2, false), (3, true)]);
        let mut live = BrokerLiveness::new(1_000);
        live.lead(4, 10_000);
        live.heard(NodeId(1), 10_500);
        live.heard(NodeId(2), 10_900);
        // At the session's edge nothing expires; just past it, broker 1 does.
        assert_eq!(live.expired(&image, 11_500), vec![]);
        assert_eq!(
            live.expired(&image, 11_501),
            vec![(NodeId(1), BrokerEpoch(1))]
        );
        assert_eq!(
            live.expired(&image, 20_000),
            vec![(NodeId(1), BrokerEpoch(1)), (NodeId(2), BrokerEpoch(3))]
        );
    }

    #[test]
    fn a_broker_heard_within_the_session_is_alive_fenced_or_not() {
        let mut live = BrokerLiveness::new(1_000);
        live.lead(3, 10_000);
        live.heard(NodeId(1), 10_400);
        assert!(live.heard_within_session(NodeId(1), 11_400));
        assert!(
            !live.heard_within_session(NodeId(1), 11_401),
            "silent too long"
        );
        // Never heard in this term: the grace from the leadership's start.
        assert!(live.heard_within_session(NodeId(2), 11_000));
        assert!(!live.heard_within_session(NodeId(2), 11_001));
        live.lead(4, 20_000);
        assert!(live.heard_within_session(NodeId(1), 21_000));
        assert!(!live.heard_within_session(NodeId(1), 21_001));
    }

    #[test]
    fn a_new_leader_gives_every_broker_a_whole_session_from_when_it_took_over() {
        let image = image_with(&[(1, false)]);
        let mut live = BrokerLiveness::new(1_000);
        live.lead(2, 0);
        live.heard(NodeId(1), 100);
        // Leading again in a later term forgets the old heartbeat, and counts from then.
        live.lead(5, 50_000);
        assert_eq!(live.expired(&image, 51_000), vec![]);
        assert_eq!(
            live.expired(&image, 51_001),
            vec![(NodeId(1), BrokerEpoch(1))]
        );
        // The same term again changes nothing.
        live.heard(NodeId(1), 51_000);
        live.lead(5, 60_000);
        assert_eq!(
            live.expired(&image, 52_001),
            vec![(NodeId(1), BrokerEpoch(1))]
        );
    }

    #[test]
    fn a_broker_with_a_change_in_flight_is_not_fenced_again_until_it_is_applied() {
        let image = image_with(&[(1, false)]);
        let mut live = BrokerLiveness::new(1_000);
        live.lead(1, 0);
        live.proposed(NodeId(1), 7);
        assert!(live.changing(NodeId(1)));
        assert_eq!(live.expired(&image, 5_000), vec![]);
        live.applied(6);
        assert_eq!(live.expired(&image, 5_000), vec![]);
        live.applied(7);
        assert!(!live.changing(NodeId(1)));
        assert_eq!(
            live.expired(&image, 5_000),
            vec![(NodeId(1), BrokerEpoch(1))]
        );
    }
}
