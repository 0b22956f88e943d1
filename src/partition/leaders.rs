//! Who leads each partition of the cluster, as this node's metadata says (the topics actor
//! sends it after every applied change, before the logs it reconciles): the replicas here take
//! their [`Role`] from it, and a request for a partition another broker leads — or none, while
//! its only replica is fenced — is refused NOT_LEADER_OR_FOLLOWER, so clients refresh their
//! metadata and go to the leader (Kafka's rule).
//!
//! Before the first update (a node's start-up, the harnesses of single-node tests) nothing is
//! known and every replica here leads alone, as a single node's always did.

use std::collections::{BTreeMap, BTreeSet};

use super::replica::Replica;
use super::role::Role;
use crate::messages::quorum::IsrState;
use crate::messages::{BrokerStatus, LeadersUpdate, PartitionLeader};
use crate::types::{BrokerEpoch, ErrorCode, LeaderEpoch, NodeId, Refusal, TopicPartition};

#[derive(Debug, Default)]
pub struct Leaders {
    partitions: BTreeMap<TopicPartition, PartitionLeader>,
    brokers: BTreeMap<NodeId, BrokerStatus>,
    gate: Gate,
}

/// Whether this node may take the leaderships the metadata gives it (KIP-903's concern, as
/// Kafka's brokers meet it by loading partitions only once their registration is caught up):
/// a process that restarted — perhaps with an empty disk — finds the metadata still naming
/// its previous incarnation as a leader until its new registration moves those leaderships
/// (the registration's entry fences the old one). Leading from its own log before then would
/// serve, and make followers truncate to, whatever the disk holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Gate {
    /// No gate (a node without a controller quorum's registration: the partition tests).
    #[default]
    Off,
    /// This process has not registered yet: it leads nothing.
    Waiting,
    /// This process registered in this broker epoch: it leads while the metadata has that
    /// registration.
    Registered(BrokerEpoch),
}

impl Leaders {
    /// The metadata's view after a change. A partition's state never goes back within a
    /// leadership: an entry of the same topic and leader epoch at an older partition epoch
    /// than this node's (the controller's answer to its own ISR change, taken before the
    /// metadata showed it) is not taken.
    pub fn replace(&mut self, update: LeadersUpdate) {
        let mut partitions = update.partitions;
        for (tp, new) in &mut partitions {
            if let Some(old) = self.partitions.get(tp) {
                let older = old.topic_id == new.topic_id
                    && old.epoch == new.epoch
                    && old.partition_epoch > new.partition_epoch;
                if older {
                    *new = old.clone();
                }
            }
        }
        self.partitions = partitions;
        self.brokers = update.brokers;
    }

    /// Leaderships wait for this process's registration ([`Self::registered`]).
    pub fn gated() -> Self {
        Self {
            gate: Gate::Waiting,
            ..Self::default()
        }
    }

    /// This process registered with the controller quorum in `epoch`.
    pub fn registered(&mut self, epoch: BrokerEpoch) {
        if self.gate != Gate::Off {
            self.gate = Gate::Registered(epoch);
        }
    }

    /// The broker epoch `me`'s follower fetches present: this process's own registration once
    /// the metadata has it, else 0 (which no leader takes into an ISR). The metadata's entry for
    /// `me` before then is the previous incarnation's: a process restarted with less on disk
    /// would otherwise re-enter ISRs under the epoch of a registration that held more (KIP-903).
    pub fn own_epoch(&self, me: NodeId) -> BrokerEpoch {
        match self.broker(me) {
            // The gate's own test: ungated, or the metadata has this registration.
            Some(known) if self.may_lead(me) => known.epoch,
            _ => BrokerEpoch(0),
        }
    }

    /// Whether `me` may lead what the metadata gives it (see [`Gate`]).
    fn may_lead(&self, me: NodeId) -> bool {
        match self.gate {
            Gate::Off => true,
            Gate::Waiting => false,
            Gate::Registered(epoch) => self.brokers.get(&me).is_some_and(|b| b.epoch == epoch),
        }
    }

    /// Whether the metadata has this process's registration (so every reassignment committed
    /// before it): never without a gate (no controller quorum).
    pub fn caught_up_with_registration(&self, me: NodeId) -> bool {
        matches!(self.gate, Gate::Registered(_)) && self.may_lead(me)
    }

    /// `tp`'s topic id when the metadata assigns `tp` to replicas other than `me`.
    pub fn assigned_elsewhere(&self, tp: &TopicPartition, me: NodeId) -> Option<[u8; 16]> {
        let known = self.partitions.get(tp)?;
        (!known.replicas.contains(&me)).then_some(known.topic_id)
    }

    /// The controller committed this node's ISR change of `tp` (see [`Self::replace`]).
    pub fn took_isr(&mut self, tp: &TopicPartition, state: &IsrState) {
        if let Some(known) = self.partitions.get_mut(tp) {
            if known.epoch == state.leader_epoch && known.partition_epoch < state.partition_epoch {
                known.partition_epoch = state.partition_epoch;
                known.isr = state.isr.clone();
            }
        }
    }

    /// `tp`'s topic id as the metadata has it.
    pub fn topic_id(&self, tp: &TopicPartition) -> Option<[u8; 16]> {
        self.partitions.get(tp).map(|p| p.topic_id)
    }

    /// `node`'s registration as the metadata has it, if it is registered.
    pub fn broker(&self, node: NodeId) -> Option<BrokerStatus> {
        self.brokers.get(&node).copied()
    }

    /// How many replicas `tp` has, as the metadata says (1 before it says anything).
    pub fn replication_factor(&self, tp: &TopicPartition) -> usize {
        self.partitions
            .get(tp)
            .map_or(1, |p| p.replicas.len().max(1))
    }

    /// The role of `me`'s replica of `tp`: the leader in the metadata's epoch with its ISR, or
    /// a follower; `None` for a partition the metadata does not name (yet).
    pub fn role_of(&self, tp: &TopicPartition, me: NodeId) -> Option<Role> {
        let known = self.partitions.get(tp)?;
        Some(match known.leader {
            // Not yet ours to lead: nobody leads here (no fetching from itself either).
            Some(leader) if leader == me && !self.may_lead(me) => Role::Follower {
                leader: None,
                epoch: known.epoch,
            },
            Some(leader) if leader == me => Role::Leader {
                epoch: known.epoch,
                partition_epoch: known.partition_epoch,
                isr: known
                    .isr
                    .iter()
                    .copied()
                    .chain([me])
                    .collect::<BTreeSet<_>>(),
            },
            leader => Role::Follower {
                leader,
                epoch: known.epoch,
            },
        })
    }

    /// Whether the metadata has `me` lead a partition with other replicas (one whose ISR a
    /// leader here keeps).
    pub fn leads_replicated(&self, me: NodeId) -> bool {
        (self.partitions.values()).any(|p| p.leader == Some(me) && p.replicas.len() > 1)
    }

    /// Whether the metadata gives `tp` other replicas than one.
    pub fn replicated(&self, tp: &TopicPartition) -> bool {
        self.partitions
            .get(tp)
            .is_some_and(|p| p.replicas.len() > 1)
    }

    /// Whether the metadata has `node` in `tp`'s ISR (a follower exempt from throttling).
    pub fn in_isr(&self, tp: &TopicPartition, node: NodeId) -> bool {
        (self.partitions.get(tp)).is_some_and(|p| p.isr.contains(&node))
    }

    /// Whether `node` is one of `tp`'s assigned replicas; `None` while the metadata does not
    /// name the partition (a single node's start-up: nothing to check against).
    pub fn is_replica(&self, tp: &TopicPartition, node: NodeId) -> Option<bool> {
        let known = self.partitions.get(tp)?;
        Some(known.replicas.contains(&node))
    }

    /// Why `me` refuses a client's request for `tp` it holds no replica of: another broker
    /// leads it, or nobody does. `None` for a partition the metadata does not name.
    pub fn refuse_elsewhere(&self, tp: &TopicPartition, me: NodeId) -> Option<Refusal> {
        let known = self.partitions.get(tp)?;
        (known.leader != Some(me)).then(|| not_leader(tp, known.leader))
    }
}

/// Where a partition stands on this node when it holds no open replica of it.
pub enum Absent {
    /// Its log failed (a storage error) and is offline here.
    Offline,
    /// The metadata says another broker leads it, or nobody does.
    Elsewhere(Refusal),
    /// The metadata does not name it.
    Unknown,
}

impl Absent {
    /// Kafka's answer for it: KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER or
    /// UNKNOWN_TOPIC_OR_PARTITION.
    pub fn code(&self) -> ErrorCode {
        match self {
            Absent::Offline => ErrorCode::KAFKA_STORAGE_ERROR,
            Absent::Elsewhere(refusal) => refusal.code,
            Absent::Unknown => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        }
    }
}

/// The replica that may answer a request naming `asked` as the leader epoch it knows, in
/// Kafka's order (`Partition.getLocalLog` with the leader required): no replica here (the
/// [`Absent`] code), the KIP-320 epoch check ([`check_epoch`]), then this replica leading
/// (NOT_LEADER_OR_FOLLOWER).
pub fn leading_replica(
    replica: Result<&Replica, Absent>,
    asked: LeaderEpoch,
) -> Result<&Replica, ErrorCode> {
    let replica = replica.map_err(|absent| absent.code())?;
    if let Some(code) = check_epoch(asked, replica.role().epoch()) {
        return Err(code);
    }
    if let Some(refusal) = replica.role().refuse_produce() {
        return Err(refusal.code);
    }
    Ok(replica)
}

/// NOT_LEADER_OR_FOLLOWER, saying who leads.
pub fn not_leader(tp: &TopicPartition, leader: Option<NodeId>) -> Refusal {
    let message = match leader {
        Some(leader) => format!("{tp:?} is led by node {leader}"),
        None => format!("{tp:?} has no leader (its replicas are offline)"),
    };
    Refusal::new(ErrorCode::NOT_LEADER_OR_FOLLOWER, message)
}

/// KIP-320's check of the leader epoch a client names (`UNKNOWN`: none named): older than
/// this leader's is FENCED_LEADER_EPOCH (the client's metadata is stale), newer is
/// UNKNOWN_LEADER_EPOCH (this broker has not applied the change yet; the client retries).
pub fn check_epoch(asked: LeaderEpoch, mine: LeaderEpoch) -> Option<ErrorCode> {
    if asked == LeaderEpoch::UNKNOWN || asked == mine {
        None
    } else if asked < mine {
        Some(ErrorCode::FENCED_LEADER_EPOCH)
    } else {
        Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition,
        }
    }

    fn leaders() -> Leaders {
        let mut leaders = Leaders::default();
        let led = |leader, epoch| PartitionLeader {
            topic_id: [0; 16],
            leader,
            epoch: LeaderEpoch(epoch),
            partition_epoch: 0,
            isr: leader.into_iter().collect(),
            replicas: leader.into_iter().collect(),
        };
        leaders.replace(LeadersUpdate {
            partitions: BTreeMap::from([
                (tp(0), led(Some(NodeId(1)), 3)),
                (tp(1), led(Some(NodeId(2)), 4)),
                (tp(2), led(None, 5)),
            ]),
            brokers: BTreeMap::new(),
        });
        leaders
    }

    /// The controller's answer to this leader's ISR change is kept over an older state of the
    /// same leadership that arrives after it (a reopen then opens in the newer one), but not
    /// over another topic of the same name or another leadership.
    #[test]
    fn the_table_never_goes_back_within_a_leadership() {
        let me = NodeId(1);
        let state = |topic_id, epoch, partition_epoch, isr: &[u64]| PartitionLeader {
            topic_id,
            leader: Some(me),
            epoch: LeaderEpoch(epoch),
            partition_epoch,
            isr: isr.iter().copied().map(NodeId).collect(),
            replicas: vec![NodeId(1), NodeId(2)],
        };
        let update = |p: PartitionLeader| LeadersUpdate {
            partitions: BTreeMap::from([(tp(0), p)]),
            brokers: BTreeMap::new(),
        };
        let isr_of = |leaders: &Leaders| match leaders.role_of(&tp(0), me) {
            Some(Role::Leader { isr, .. }) => isr.into_iter().map(|n| n.0).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let mut leaders = Leaders::default();
        leaders.replace(update(state([1; 16], 3, 7, &[1])));
        let committed = IsrState {
            leader: Some(me),
            leader_epoch: LeaderEpoch(3),
            partition_epoch: 8,
            isr: vec![NodeId(1), NodeId(2)],
        };
        leaders.took_isr(&tp(0), &committed);
        assert_eq!(isr_of(&leaders), vec![1, 2]);
        leaders.replace(update(state([1; 16], 3, 7, &[1])));
        assert_eq!(isr_of(&leaders), vec![1, 2], "the older state is not taken");
        leaders.replace(update(state([2; 16], 3, 0, &[1])));
        assert_eq!(isr_of(&leaders), vec![1], "another topic of that name");
        leaders.replace(update(state([2; 16], 3, 5, &[1, 2])));
        leaders.replace(update(state([2; 16], 4, 0, &[1])));
        assert_eq!(isr_of(&leaders), vec![1], "another leadership");
    }

    /// A follower's fetches present this process's own registration, never the previous
    /// incarnation's the metadata still has (seed 941: a process restarted with less on disk
    /// re-entered an ISR under the old epoch and a leader counted its empty log as caught up).
    #[test]
    fn a_follower_presents_its_own_registration_only() {
        let me = NodeId(1);
        let with = |broker_epoch| LeadersUpdate {
            partitions: BTreeMap::new(),
            brokers: BTreeMap::from([(
                me,
                BrokerStatus {
                    epoch: BrokerEpoch(broker_epoch),
                    fenced: false,
                },
            )]),
        };
        let mut open = Leaders::default();
        open.replace(with(75));
        assert_eq!(
            open.own_epoch(me),
            BrokerEpoch(75),
            "no gate: the metadata's"
        );
        let mut gated = Leaders::gated();
        gated.replace(with(75));
        assert_eq!(gated.own_epoch(me), BrokerEpoch(0), "not registered yet");
        gated.registered(BrokerEpoch(105));
        assert_eq!(
            gated.own_epoch(me),
            BrokerEpoch(0),
            "the metadata is behind"
        );
        gated.replace(with(105));
        assert_eq!(gated.own_epoch(me), BrokerEpoch(105));
        assert_eq!(Leaders::gated().own_epoch(me), BrokerEpoch(0));
    }

    /// A restarted process takes no leadership the metadata gives its node until it registered
    /// and the metadata has that registration (the previous incarnation's leaderships are not
    /// its own: its disk may hold less, or nothing).
    #[test]
    fn a_gated_node_leads_only_under_its_own_registration() {
        let me = NodeId(1);
        let status = |epoch| BrokerStatus {
            epoch: BrokerEpoch(epoch),
            fenced: false,
        };
        let table = |broker_epoch| {
            let mut update_of = leaders();
            let partitions = std::mem::take(&mut update_of.partitions);
            LeadersUpdate {
                partitions,
                brokers: BTreeMap::from([(me, status(broker_epoch))]),
            }
        };
        let mut gated = Leaders::gated();
        gated.replace(table(10));
        let not_led = Some(Role::Follower {
            leader: None,
            epoch: LeaderEpoch(3),
        });
        assert_eq!(gated.role_of(&tp(0), me), not_led, "not registered yet");
        gated.registered(BrokerEpoch(20));
        assert_eq!(
            gated.role_of(&tp(0), me),
            not_led,
            "the metadata still has the previous incarnation"
        );
        gated.replace(table(20));
        assert!(gated.role_of(&tp(0), me).unwrap().is_leader());
        // Another broker's leadership is unaffected by the gate.
        assert_eq!(
            gated.role_of(&tp(1), me),
            Some(Role::Follower {
                leader: Some(NodeId(2)),
                epoch: LeaderEpoch(4)
            })
        );
        // Without a gate (no registration at all), the metadata's word is taken.
        let mut open = Leaders::default();
        open.replace(table(10));
        assert!(open.role_of(&tp(0), me).unwrap().is_leader());
        // What was moved away while the node was down shows only past its registration.
        assert!(gated.caught_up_with_registration(me));
        assert_eq!(gated.assigned_elsewhere(&tp(1), me), Some([0; 16]));
        assert_eq!(gated.assigned_elsewhere(&tp(0), me), None, "assigned here");
        assert_eq!(gated.assigned_elsewhere(&tp(9), me), None, "not known");
        assert!(!open.caught_up_with_registration(me), "no gate: no sweep");
        let mut waiting = Leaders::gated();
        waiting.registered(BrokerEpoch(20));
        waiting.replace(table(10));
        assert!(!waiting.caught_up_with_registration(me));
    }

    #[test]
    fn roles_follow_the_metadata_and_unknown_partitions_have_none() {
        let leaders = leaders();
        let me = NodeId(1);
        assert_eq!(
            leaders.role_of(&tp(0), me),
            Some(Role::Leader {
                epoch: LeaderEpoch(3),
                partition_epoch: 0,
                isr: BTreeSet::from([me])
            })
        );
        assert_eq!(
            leaders.role_of(&tp(1), me),
            Some(Role::Follower {
                leader: Some(NodeId(2)),
                epoch: LeaderEpoch(4)
            })
        );
        assert_eq!(
            leaders.role_of(&tp(2), me).map(|r| r.epoch()),
            Some(LeaderEpoch(5))
        );
        assert_eq!(leaders.role_of(&tp(3), me), None);
    }

    #[test]
    fn only_partitions_led_elsewhere_or_by_nobody_are_refused() {
        let leaders = leaders();
        let me = NodeId(1);
        assert!(leaders.refuse_elsewhere(&tp(0), me).is_none());
        for p in [1, 2] {
            let refusal = leaders.refuse_elsewhere(&tp(p), me).expect("refused");
            assert_eq!(refusal.code, ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        assert!(leaders.refuse_elsewhere(&tp(3), me).is_none(), "unknown");
    }

    #[test]
    fn a_named_epoch_older_is_fenced_newer_is_unknown_none_passes() {
        let mine = LeaderEpoch(4);
        assert_eq!(check_epoch(LeaderEpoch::UNKNOWN, mine), None);
        assert_eq!(check_epoch(LeaderEpoch(4), mine), None);
        assert_eq!(
            check_epoch(LeaderEpoch(3), mine),
            Some(ErrorCode::FENCED_LEADER_EPOCH)
        );
        assert_eq!(
            check_epoch(LeaderEpoch(5), mine),
            Some(ErrorCode::UNKNOWN_LEADER_EPOCH)
        );
    }
}
