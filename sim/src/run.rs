//! One seeded run: a broker node running the production server (`host::server`) on a simulated
//! disk, workload clients on other nodes, a nemesis, healing, a final drained read, and the
//! checker's verdict. Everything random comes from the seed, so a run replays exactly.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::{Handle, Runtime};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rill::config::ServerConfig;
use rill::faults::Canary;
use rill::host::server::Server;
use tokio::time::Instant;

use crate::checker::{self, Promises, Verdict};
use crate::fault_points::{self, Brokers, Harness};
use crate::history::{Event, History};
use crate::power::PowerSwitches;
use crate::role_faults::RoleFaults;
use crate::schedule::{self, NemesisRng, Recorded, Replay, StepPlan};
use crate::storage::{DiskFaults, FaultWindow, SimDisks};
use crate::workload::{
    self, GroupProtocol, MemberTimes, ProducerSpec, Workload, CONSUMER_SESSION_TIMEOUT_MS,
    OFFSETS_RETENTION_CHECK_MS, OFFSETS_RETENTION_MS,
};

/// Broker `n` (node.id `n`, from 1) lives at 10.0.1.n; its disk is `SimDisks` node `n`.
fn broker_ip(node_id: u64) -> IpAddr {
    IpAddr::from([10, 0, 1, node_id as u8])
}
const KAFKA_PORT: u16 = 9092;
/// Where a broker's voter listens for the other voters (`controller.quorum.voters`).
const CONTROLLER_PORT: u16 = 9093;
/// After healing, the workload must finish and the final read complete within this much
/// simulated time, or the run is a liveness failure.
const LIVENESS_BOUND: Duration = Duration::from_secs(60);
/// `broker.session.timeout.ms` of a cluster of voters (Kafka's default is 9 s).
const BROKER_SESSION_TIMEOUT_MS: u64 = 3_000;
/// `replica.lag.time.max.ms` of a quorum run (see `SimConfig::server_config`).
const REPLICA_LAG_TIME_MAX_MS: u64 = 4_000;
/// The client quota drawn for the quota workload (bytes/s): 4–32 KB/s, in whole KB.
const QUOTA_KB_PER_S: std::ops::RangeInclusive<u64> = 4..=32;
/// How long producers keep producing after the nemesis' last fault: past the checker's settle
/// time, so some requests are written on a healthy cluster.
const PRODUCING_AFTER_HEALING: Duration = Duration::from_secs(8);
/// The follower throttle rates drawn (bytes/s): below the data topic's write rate, so a
/// follower out of the ISR falls further behind until the throttle is lifted at healing.
const THROTTLE_BYTES_PER_S: std::ops::Range<u64> = 2_000..16_000;
/// The canary `throttle-not-released`'s rate: so slow that any follower behind at the lift by
/// more than a few batches is still behind when the replicas are compared.
const THROTTLE_NOT_RELEASED_BYTES_PER_S: u64 = 200;

/// How a run ended, most severe last. The runner's exit code is the worst one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Pass,
    Liveness,
    Safety,
    Crash,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Pass => 0,
            Kind::Safety => 1,
            Kind::Liveness => 2,
            Kind::Crash => 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// fsync before acknowledging acks=all (the default).
    EveryAppend,
    IntervalMs(u64),
    Os,
}

/// The canaries planted in the group coordinator: their runs have group members.
const GROUP_CANARIES: [Canary; 6] = [
    Canary::AckCommitBeforeAppend,
    Canary::GroupTwoOwnersOneGeneration,
    Canary::GroupForgetOnFailover,
    Canary::GroupReplayOldestCommit,
    Canary::ConsumerAssignUnreleased,
    Canary::RetentionIgnoresMembers,
];
/// After the producers stop, a group member waits this long for their last requests before
/// it drains to the high watermark.
const GROUP_DRAIN_AFTER_PRODUCING: Duration = Duration::from_secs(2);
/// The compacted topic's last read pass starts this long after its writer stopped.
const COMPACTED_LAST_PASS_AFTER_PRODUCING: Duration = Duration::from_secs(1);
/// A group member that has not drained this long after healing is stuck (within
/// [`LIVENESS_BOUND`], which the harness waits for every task).
const GROUP_DRAIN_BOUND: Duration = Duration::from_secs(40);
/// The transactional producers stop retrying this long after they stop producing: past the
/// transaction timeout, within [`LIVENESS_BOUND`] (their last transaction ends, or the
/// coordinator aborts it, before the final read's wait for a stable log ends).
const TXN_GIVE_UP_AFTER_PRODUCING: Duration = Duration::from_secs(25);
/// The transactional readers poll this long after the producers stop.
const TXN_READING_AFTER_PRODUCING: Duration = Duration::from_secs(2);

/// How many transactional producers a run with transactions has: 1 or 2, drawn apart so
/// every other draw keeps its meaning for every seed.
fn txn_producers_for(seed: u64) -> u32 {
    let mut apart = SmallRng::seed_from_u64(seed ^ 0x7a11_5ac7_0000_0008);
    apart.gen_range(1..=2)
}

/// The consume-transform-produce workers of a run with transactions: each one's input
/// partition of the transactional topic (1 or 2 workers, on different partitions), drawn apart
/// so every other draw keeps its meaning for every seed.
fn ctp_inputs_for(seed: u64) -> Vec<i32> {
    let mut apart = SmallRng::seed_from_u64(seed ^ 0x7a11_5ac7_0000_0c7b);
    let first = apart.gen_range(0..workload::txn::TXN_PARTITIONS);
    let workers = apart.gen_range(1..=2);
    (0..workers)
        .map(|k| (first + k) % workload::txn::TXN_PARTITIONS)
        .collect()
}

/// The run's configuration, drawn from the seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub partitions: i32,
    pub flush: Flush,
    pub segment_bytes: u64,
    pub retention_bytes: Option<u64>,
    /// Several per partition (producer `i` writes partition `i % partitions`), each with its
    /// own acks and idempotence.
    pub producers: Vec<ProducerSpec>,
    /// Broker nodes; the harness, disks and nemesis take any. The workload uses broker 1.
    pub brokers: u64,
    /// Voters of the controller quorum: 1 (each broker alone), 3 or 5 (the brokers form one
    /// quorum, with `workload::quorum` observing it and voter partitions in the nemesis).
    pub voters: u64,
    /// Broker-only nodes (`process.roles=broker`: observers of the quorum, no vote) after the
    /// voters, ids `voters + 1..`; only with a quorum of voters.
    pub broker_only: u64,
    /// Voters that are controller-only nodes (`process.roles=controller`: no Kafka listener,
    /// no broker): the last ones, ids `voters - controller_only + 1..=voters`.
    pub controller_only: u64,
    /// `broker.session.timeout.ms` of a quorum run.
    pub broker_session_timeout_ms: u64,
    /// `controller.quorum.election.timeout.ms` of a quorum run: short ones make elections
    /// (and candidates that run at once) frequent.
    pub election_timeout_ms: u64,
    /// The most metadata entries one Append of the quorum carries (64 in production): 1 or 2
    /// in some quorum runs, so that a follower that lacks entries of an earlier term
    /// acknowledges them apart from the new leader's no-op (what Raft's Figure 8 is made of).
    pub append_max_entries: usize,
    /// A topic deleted and created again under one name all run long (`workload::churn`);
    /// quorum runs only.
    pub topic_churn: bool,
    /// The data topic's partitions are moved between brokers all run long
    /// (`workload::reassign`); quorum runs with more brokers than replicas only.
    pub reassignments: bool,
    /// The data topic's followers are throttled at this many bytes/s until the producers stop
    /// (`workload::throttle`, KIP-73: `*` on the topic, the cluster-default rates); half the
    /// quorum runs with replicas.
    pub throttle_bytes_per_s: Option<u64>,
    pub kills: bool,
    pub pauses: bool,
    pub network: bool,
    pub buggify: bool,
    /// Disk errors the nemesis may inject (EIO, fsyncgate, ENOSPC, bit flips at rest).
    pub disk_faults: DiskFaults,
    /// Members of the consumer group `workload::groups::GROUP`, each on its own client node.
    pub group_members: u32,
    /// The group's rebalance protocol: classic, or the consumer protocol (KIP-848).
    pub group_protocol: GroupProtocol,
    /// The data topic's replication factor, and its `min.insync.replicas`: above 1 only in
    /// clean runs of a quorum (issue 14).
    pub replication_factor: i16,
    pub min_insync_replicas: u8,
    /// `min.insync.replicas` is every node's broker-level default rather than the data topic's
    /// own (so the controller's elections and eligible replicas read the broker default, and
    /// `__consumer_offsets` gets it too).
    pub min_isr_broker_level: bool,
    /// The role fault `min-isr-lowered` runs (three replicas, min.insync.replicas 2 at broker
    /// level): the cluster-wide value goes to 3 and back while a follower is fenced, then the
    /// two other replicas die. The nodes' static values differ (every other node's is 3), so
    /// which the first controller writes into the metadata log varies.
    pub min_isr_lowered: bool,
    /// A compacted topic with its writer and reader (`workload::compacted`), cleaned by the
    /// broker all along.
    pub compacted: bool,
    /// Transactional producers (`workload::txn`), with a read_committed reader per partition
    /// of their topic: 0 unless the run asks for transactions (`RunOptions::transactions`) or
    /// its canary needs them.
    pub txn_producers: u32,
    /// A `producer_byte_rate` quota of this many bytes/s for the quota workload's client id,
    /// and its producer that ignores the throttle (`workload::quota`); half the runs without
    /// a canary, and the runs of the canaries `quota-channel-unmuted` and
    /// `quota-not-published`.
    pub quota_bytes_per_s: Option<u64>,
}

impl SimConfig {
    pub fn for_seed(seed: u64, canary: Option<Canary>) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0001);
        let mut config = SimConfig {
            partitions: rng.gen_range(1..=3),
            flush: match rng.gen_range(0..4) {
                0 => Flush::IntervalMs(rng.gen_range(20..200)),
                1 => Flush::Os,
                _ => Flush::EveryAppend,
            },
            segment_bytes: rng.gen_range(4..=32) * 1024,
            retention_bytes: rng.gen_bool(0.2).then(|| rng.gen_range(32..=128) * 1024),
            producers: Vec::new(),
            brokers: 1,
            voters: 1,
            broker_only: 0,
            controller_only: 0,
            broker_session_timeout_ms: BROKER_SESSION_TIMEOUT_MS,
            election_timeout_ms: 1000,
            append_max_entries: 64,
            topic_churn: false,
            reassignments: false,
            throttle_bytes_per_s: None,
            kills: rng.gen_bool(0.8),
            pauses: rng.gen_bool(0.5),
            network: rng.gen_bool(0.5),
            buggify: rng.gen_bool(0.5),
            disk_faults: DiskFaults::default(),
            group_members: 0,
            group_protocol: GroupProtocol::Classic,
            replication_factor: 1,
            min_insync_replicas: 1,
            min_isr_broker_level: false,
            min_isr_lowered: false,
            compacted: false,
            txn_producers: 0,
            quota_bytes_per_s: None,
        };
        let producers = rng.gen_range(config.partitions as u32..=6);
        config.producers = (0..producers)
            .map(|id| {
                let idempotent = rng.gen_bool(0.6);
                ProducerSpec {
                    id,
                    partition: id as i32 % config.partitions,
                    // Idempotent producers use acks=all, as Kafka's clients require.
                    acks: match rng.gen_range(0..20) {
                        _ if idempotent => -1,
                        0..=9 => -1,
                        10..=16 => 1,
                        _ => 0,
                    },
                    idempotent,
                }
            })
            .collect();
        // Drawn last, so the draws above keep their meaning for every seed.
        if rng.gen_bool(0.6) {
            config.disk_faults = DiskFaults {
                eio: rng.gen_bool(0.6),
                fsyncgate: rng.gen_bool(0.7),
                enospc: rng.gen_bool(0.5),
                bit_flips: rng.gen_bool(0.5),
            };
        }
        config.group_members = rng.gen_range(0..=3);
        config.compacted = rng.gen_bool(0.7);
        if rng.gen_bool(0.5) {
            config.group_protocol = GroupProtocol::Consumer;
        }
        // Half the seeds run one voter per broker; the others a quorum of three or five.
        config.voters = match rng.gen_range(0..10) {
            0..=4 => 1,
            5..=7 => 3,
            _ => 5,
        };
        if let Some(canary) = canary {
            // Only the quorum's canaries run a cluster of voters, so the other canaries keep
            // the seeds they are caught at.
            config.voters = match canary {
                Canary::QuorumSelfMajority
                | Canary::HeartbeatsIgnored
                | Canary::RaftVoteTwice
                | Canary::ProducerIdsReused
                | Canary::TopicsFeedSkipped
                | Canary::LeaderEpochKept
                | Canary::RaftApplyUncommitted
                | Canary::ObserverCountedInMajority
                | Canary::WritesWithoutLeadership
                | Canary::RaftVoteUnsynced
                | Canary::RaftCommitOldTerm
                | Canary::TopicIdIgnored
                | Canary::StrayDirsKept
                | Canary::HwIgnoresFollowers
                | Canary::LeaderOutsideIsr
                | Canary::FollowerStampsItsEpoch
                | Canary::ReassignmentCompletesEarly
                | Canary::TruncateToHw
                | Canary::AckUnderMinIsr
                | Canary::ThrottleNotReleased
                // Its brokers must learn the quota from the metadata log, not only from the
                // alteration they answered.
                | Canary::QuotaNotPublished => 3,
                // Two replicas die while a third is fenced: a quorum must outlive them.
                Canary::ElrKeptOnMinIsrChange => 5,
                _ => 1,
            };
        }
        if config.voters > 1 {
            config.election_timeout_ms = [150, 400, 1000][rng.gen_range(0..3)];
            // Drawn apart, so the draws above and below keep their meaning for every seed.
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x0b5e_47e4_0000_0002);
            config.broker_only = match canary {
                Some(Canary::ObserverCountedInMajority) => 1,
                // The other canaries keep their configurations.
                Some(_) => 0,
                // Two broker-only nodes replicate between themselves (`host::peers`).
                None => apart.gen_range(0..=2),
            };
            // A third of the clean quorum runs make their last voter a controller only.
            config.controller_only = u64::from(canary.is_none() && apart.gen_bool(1.0 / 3.0));
            config.append_max_entries = match canary {
                Some(Canary::RaftCommitOldTerm) => 1,
                // The other canaries keep their configurations.
                Some(_) => 64,
                None => [1, 2, 64, 64][apart.gen_range(0..4)],
            };
            config.topic_churn = match canary {
                Some(canary) => matches!(canary, Canary::TopicIdIgnored | Canary::StrayDirsKept),
                None => apart.gen_bool(0.5),
            };
        }
        config.brokers = config.voters + config.broker_only;
        if matches!(
            canary,
            Some(
                Canary::HwIgnoresFollowers
                    | Canary::FollowerStampsItsEpoch
                    | Canary::TruncateToHw
                    | Canary::AckUnderMinIsr
            )
        ) {
            // Their bugs need three replicas: a record acknowledged before the followers have
            // it, then a failover; followers catching up on an earlier leadership's batches; a
            // follower that cut what it fetched, elected; a leader alone in its ISR.
            config.replication_factor = 3;
            config.min_insync_replicas = 2;
        }
        if canary == Some(Canary::LeaderOutsideIsr) {
            // Its bug needs a replica left out of the ISR (killed and fenced, while the leader
            // took acknowledged writes) to be elected.
            config.replication_factor = 2;
            config.min_insync_replicas = 1;
        }
        if canary.is_none() && config.voters > 1 {
            // Drawn apart, so every other draw keeps its meaning for every seed.
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0003);
            let kafka_brokers = (config.brokers - config.controller_only).min(3) as i16;
            config.replication_factor = apart.gen_range(1..=kafka_brokers);
            config.min_insync_replicas = match config.replication_factor {
                1 => 1,
                _ => apart.gen_range(1..=2),
            };
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0005);
            config.min_isr_broker_level = config.min_insync_replicas > 1 && apart.gen_bool(0.5);
            // Drawn apart again: half the runs where the cluster-wide value is the data
            // topic's lower it under a fenced follower.
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0007);
            config.min_isr_lowered = config.min_isr_broker_level
                && config.replication_factor == 3
                && config.kills
                && apart.gen_bool(0.5);
            // Drawn apart again, likewise: half the runs with room to move replicas do.
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0004);
            let room = (config.brokers - config.controller_only) as i16 > config.replication_factor;
            config.reassignments = room && apart.gen_bool(0.5);
            // Drawn apart again: half the runs with replicas throttle their followers, at a
            // rate the data topic's followers feel (its records are small).
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0006);
            config.throttle_bytes_per_s = (config.replication_factor > 1 && apart.gen_bool(0.5))
                .then(|| apart.gen_range(THROTTLE_BYTES_PER_S));
        }
        if canary == Some(Canary::ThrottleNotReleased) {
            // Its bug needs followers throttled, then released: replicas, and a rate slow
            // enough that a follower left behind cannot catch up at it in the end's bound.
            config.replication_factor = 3;
            config.min_insync_replicas = 1;
            config.throttle_bytes_per_s = Some(THROTTLE_NOT_RELEASED_BYTES_PER_S);
        }
        if canary == Some(Canary::ReassignmentCompletesEarly) {
            // Its bug needs moves, and a leader moved away to a replica that has not caught
            // up: two replicas of three brokers, acks=all binding with one in sync.
            config.reassignments = true;
            config.replication_factor = 2;
            config.min_insync_replicas = 1;
        }
        if matches!(
            canary,
            Some(Canary::ObserverCountedInMajority | Canary::WritesWithoutLeadership)
        ) {
            // Fences within the nemesis' partitions: the leader its observer keeps in office
            // must propose something while cut off from the voters (the fences of the brokers
            // it stops hearing); a broker fenced while its clients still reach it must be
            // sent writes.
            config.broker_session_timeout_ms = 1_000;
        }
        if canary.is_some() {
            // A canary needs the conditions its bug shows under: durable acks (so losing one is
            // a violation), idempotence, crashes and retries.
            config.flush = Flush::EveryAppend;
            for spec in &mut config.producers {
                spec.acks = -1;
                spec.idempotent = true;
            }
            config.kills = true;
            config.buggify = true;
            config.retention_bytes = None;
        }
        if canary == Some(Canary::ElrKeptOnMinIsrChange) {
            // Its bug needs the cluster-wide value lowered while a fenced follower is eligible,
            // then the other replicas gone: the role fault `min-isr-lowered` and no other
            // brokers' faults, with acks that survive a kill (so the claim covers the run).
            // After the canaries' common draw, which turns kills on (until session 35 it
            // undid this block's, and the fault ran in 1 of 4 runs amid kills).
            config.replication_factor = 3;
            config.min_insync_replicas = 2;
            config.min_isr_broker_level = true;
            config.min_isr_lowered = true;
            config.kills = false;
            config.pauses = false;
            config.network = false;
            config.disk_faults = DiskFaults::default();
            config.flush = Flush::EveryAppend;
        }
        if canary == Some(Canary::AckUnderMinIsr) {
            // What its leader acknowledges alone is in that leader's memory only, lost when
            // it crashes; durable acks would need its disk wiped.
            config.flush = Flush::Os;
            // Every replica must be in sync: any follower behind (killed, paused, cut off)
            // opens the bug's window, not only a leader left alone, and two crashes before
            // their syncs stay within what the run claims to survive.
            config.min_insync_replicas = 3;
        }
        if let Some(canary) = canary {
            // Group members change the schedule: only the group canaries' runs have them, so
            // the other canaries keep the seeds they are caught at.
            config.group_members = if GROUP_CANARIES.contains(&canary) {
                2
            } else {
                0
            };
        }
        if let Some(canary) = canary {
            // The classic group canaries keep their classic group; the consumer protocol's
            // canary needs it.
            config.group_protocol = if canary == Canary::ConsumerAssignUnreleased {
                GroupProtocol::Consumer
            } else {
                GroupProtocol::Classic
            };
        }
        if let Some(canary) = canary {
            // Likewise the compacted topic: only its canary's runs have it.
            config.compacted = canary == Canary::CleanKeepsOldestValue;
        }
        if canary == Some(Canary::GroupTwoOwnersOneGeneration) {
            // Two owners show when a member change moves a partition: give each member some.
            config.partitions = 3;
            for spec in &mut config.producers {
                spec.partition = spec.id as i32 % config.partitions;
            }
        }
        if canary == Some(Canary::AckAfterFailedSync) {
            // Its bug needs failing fsyncs that drop the dirty bytes.
            config.disk_faults.eio = true;
            config.disk_faults.fsyncgate = true;
        }
        if matches!(
            canary,
            Some(
                Canary::LsoInclusive
                    | Canary::MarkerSkipsPartition
                    | Canary::FencedEpochAccepted
                    | Canary::TxnOffsetsAppliedEarly
            )
        ) {
            // Its bug shows to read_committed readers of transactions.
            config.txn_producers = txn_producers_for(seed);
        }
        {
            // Drawn apart, so every other draw keeps its meaning for every seed; the other
            // canaries' runs have no quota, so they keep the seeds they are caught at.
            let mut apart = SmallRng::seed_from_u64(seed ^ 0x4e91_1ca7_0000_0009);
            let on = match canary {
                None => apart.gen_bool(0.5),
                Some(canary) => {
                    matches!(
                        canary,
                        Canary::QuotaChannelUnmuted | Canary::QuotaNotPublished
                    )
                }
            };
            let kb = apart.gen_range(QUOTA_KB_PER_S);
            config.quota_bytes_per_s = on.then_some(kb * 1024);
        }
        if canary == Some(Canary::AckUnsyncedSingleRecord) {
            // The bug needs an append to arrive while another's fsync is in flight: every
            // producer on one partition.
            config.partitions = 1;
            for spec in &mut config.producers {
                spec.partition = 0;
            }
        }
        config
    }

    /// Whether node `node_id` runs a broker (every node but the controller-only ones).
    pub fn is_broker(&self, node_id: u64) -> bool {
        node_id <= self.voters - self.controller_only || node_id > self.voters
    }

    fn promises(&self) -> Promises {
        Promises {
            durable_acks: self.flush == Flush::EveryAppend,
            // Every producer records its own idempotence (`Event::Producer`).
            idempotent: false,
            replicated: self.replication_factor > 1,
            min_insync_replicas: self.min_insync_replicas,
        }
    }

    /// Node `node_id`'s settings; `sasl`: its Kafka listener is `SASL_PLAINTEXT` (`crate::sasl`).
    fn server_config(&self, node_id: u64, sasl: bool) -> ServerConfig {
        // The client listener's protocol (the controller listener stays PLAINTEXT: Rill's own
        // inter-node protocol).
        let kafka = if sasl { "SASL_PLAINTEXT" } else { "PLAINTEXT" };
        let mut overrides = vec![
            format!("node.id={node_id}"),
            format!("listeners={kafka}://{}:{KAFKA_PORT}", broker_ip(node_id)),
            format!("log.segment.bytes={}", self.segment_bytes),
            "auto.create.topics.enable=false".to_string(),
            // Few offsets partitions keep the coordinator's log small and its crashes likely
            // to hit a commit; the short delay lets the group form quickly.
            "offsets.topic.num.partitions=2".to_string(),
            // `__consumer_offsets` is compacted; segments as small as the data topics' roll
            // often, so its partitions are cleaned under the run's crashes and replayed
            // cleaned.
            format!("offsets.topic.segment.bytes={}", self.segment_bytes),
            "group.initial.rebalance.delay.ms=100".to_string(),
            // The consumer protocol's session is the coordinator's: as short as the classic
            // members' own, with heartbeats as often.
            format!("group.consumer.session.timeout.ms={CONSUMER_SESSION_TIMEOUT_MS}"),
            "group.consumer.heartbeat.interval.ms=1000".to_string(),
            // The compacted topic is cleaned many times a run (Kafka's default is 15 s).
            "log.cleaner.backoff.ms=300".to_string(),
            // Likewise `__transaction_state` (made only by a run with transactions): few
            // partitions, small segments, and timed-out transactions looked for every second
            // (Kafka's 10 s would outlast the producers' transaction timeout by as much).
            "transaction.state.log.num.partitions=2".to_string(),
            format!("transaction.state.log.segment.bytes={}", self.segment_bytes),
            "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000".to_string(),
        ];
        if self.voters > 1 && node_id > self.voters {
            // A broker-only node: no controller listener (it tells the voters where it
            // listens for them when it connects).
            overrides.push("process.roles=broker".to_string());
        } else if !self.is_broker(node_id) {
            // A controller-only node: its controller listener and nothing else.
            overrides[1] = format!(
                "listeners=CONTROLLER://{}:{CONTROLLER_PORT}",
                broker_ip(node_id)
            );
            overrides.push("process.roles=controller".to_string());
        } else if self.voters > 1 {
            // Brokers 1..=voters form one quorum; each listens for the others on its
            // controller listener.
            overrides[1] = format!(
                "listeners={kafka}://{ip}:{KAFKA_PORT},CONTROLLER://{ip}:{CONTROLLER_PORT}",
                ip = broker_ip(node_id)
            );
        }
        if self.voters > 1 {
            let voters: Vec<String> = (1..=self.voters)
                .map(|id| format!("{id}@{}:{CONTROLLER_PORT}", broker_ip(id)))
                .collect();
            overrides.push(format!("controller.quorum.voters={}", voters.join(",")));
            // Sessions short enough that a pause or a partition of a few seconds fences a
            // broker, and the run sees it come back.
            overrides.push(format!(
                "broker.session.timeout.ms={}",
                self.broker_session_timeout_ms
            ));
            overrides.push("broker.heartbeat.interval.ms=500".to_string());
            overrides.push(format!(
                "controller.quorum.election.timeout.ms={}",
                self.election_timeout_ms
            ));
            // Leaderships move back to preferred replicas within a run (Kafka's 300 s would
            // never come), under the faults that moved them away.
            overrides.push("leader.imbalance.check.interval.seconds=3".to_string());
            // A follower that stops fetching (its log failed, its broker is cut off) leaves
            // the ISR within a run, so the high watermark it held moves on before the liveness
            // bound after healing (Kafka's 30 s would outlast it).
            overrides.push(format!("replica.lag.time.max.ms={REPLICA_LAG_TIME_MAX_MS}"));
        }
        if self.min_isr_broker_level {
            // With `min-isr-lowered`, every other node's static value is the replication
            // factor: the metadata log's value is the first active controller's (KIP-966).
            let value = match self.min_isr_lowered && node_id % 2 == 0 {
                true => self.replication_factor as u8,
                false => self.min_insync_replicas,
            };
            overrides.push(format!("min.insync.replicas={value}"));
        }
        // SASL is the Kafka listener's: a controller-only node has none, and a
        // `listener.name.<l>.` key for a listener it lacks is refused at start.
        if sasl && self.is_broker(node_id) {
            overrides.extend(crate::sasl::server_overrides());
        }
        match self.flush {
            Flush::EveryAppend => overrides.push("log.flush.policy=always".into()),
            Flush::IntervalMs(ms) => overrides.push(format!("log.flush.interval.ms={ms}")),
            Flush::Os => overrides.push("log.flush.policy=os".into()),
        }
        let mut config =
            ServerConfig::load(None, &overrides).expect("the simulator's server config is valid");
        config.controller.append_max_entries = self.append_max_entries;
        // Offsets of a group Empty this long expire (and the group goes): seconds, where
        // `offsets.retention.minutes` cannot go below a minute, so a run's pauses and
        // member-less stretches outlast it (`checker::groups` excuses only those).
        config.groups.offsets_retention_ms = OFFSETS_RETENTION_MS as i64;
        config.groups.offsets_retention_check_interval_ms = OFFSETS_RETENTION_CHECK_MS;
        config
    }
}

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub sim_secs: u64,
    pub canary: Option<Canary>,
    /// The named fault points (`rill::faults::points`) may fire; off, every point is `false`.
    pub fault_points: bool,
    /// Transactional producers and read_committed readers run (`workload::txn`), 1 or 2
    /// producers by the seed. Off by default, so the seeds' schedules stay as they were;
    /// the canary `lso-inclusive` turns them on by itself.
    pub transactions: bool,
    /// Every broker's Kafka listener takes SASL (PLAIN and SCRAM) and its authorizer is on,
    /// every workload connection logs in first, now and then after a wrong login
    /// (`crate::sasl`), and an intruder allowed nothing asks all run long
    /// (`workload::intruder`). Off by default, so the seeds' schedules stay as they were; the
    /// canaries `sasl-any-plain-password` and `acls-ignored` turn it on by themselves.
    pub sasl: bool,
}

impl RunOptions {
    /// `sim_secs` of workload, no canary, fault points on, no transactions, no SASL.
    pub fn new(sim_secs: u64) -> Self {
        Self {
            sim_secs,
            canary: None,
            fault_points: true,
            transactions: false,
            sasl: false,
        }
    }

    /// Whether the run's listeners take SASL: asked for, or its canary's bug is in a login or
    /// in the authorizer (which only SASL runs turn on).
    pub fn sasl(&self) -> bool {
        self.sasl
            || matches!(
                self.canary,
                Some(Canary::SaslAnyPlainPassword | Canary::AclsIgnored)
            )
    }
}

pub struct RunResult {
    pub seed: u64,
    pub kind: Kind,
    pub verdict: Verdict,
    pub panic: Option<String>,
    pub sim_ms: u64,
    pub wall_ms: u64,
    pub hash: u64,
    pub history: String,
    /// "acked=… unknown=… failed=… polled=… faults=…", to see that the run did something.
    /// `cargo sim --help` (`rill_sim_runner::args::HELP`) says what each count means.
    pub stats: String,
    /// Per named fault point: how often it was reached and fired, in `FaultPoint::ALL` order.
    pub points: Vec<(rill::faults::FaultPoint, rill::faults::points::PointCount)>,
    /// The history's events (empty after a panic), for the timeline (`crate::timeline`).
    pub events: Vec<(u64, Event)>,
    /// The run's configuration.
    pub config: SimConfig,
    /// The faults and client operations the run did, and its nemesis' plan, for a shrink
    /// (`crate::schedule`; empty after a panic).
    pub schedule: Recorded,
}

fn stats(events: &[(u64, Event)]) -> String {
    use crate::history::SendOutcome;
    let (mut acked, mut unknown, mut failed, mut polled, mut faults) = (0, 0, 0, 0, 0);
    let mut points = 0;
    for (_, event) in events {
        match event {
            Event::Sent {
                outcome: SendOutcome::Ok { .. },
                ..
            } => acked += 1,
            Event::Sent {
                outcome: SendOutcome::Unknown { .. },
                ..
            } => unknown += 1,
            Event::Sent {
                outcome: SendOutcome::Fail { .. },
                ..
            } => failed += 1,
            Event::Poll { .. } => polled += 1,
            Event::Fault { .. } => faults += 1,
            Event::FaultPoint { .. } => points += 1,
            _ => {}
        }
    }
    let line = format!(
        "acked={acked} unknown={unknown} failed={failed} polled={polled} faults={faults} \
         points={points}"
    );
    match login_stats(events) {
        Some(logins) => format!("{line} {logins}"),
        None => line,
    }
}

/// "logins=… scram=… wrong=… refused=… intrusions=…" of a run with SASL (`None` without a
/// login).
fn login_stats(events: &[(u64, Event)]) -> Option<String> {
    use crate::history::{Credentials, LoginOutcome};
    let (mut logins, mut scram, mut wrong, mut refused, mut any) = (0, 0, 0, 0, false);
    let mut intrusions = 0;
    for (_, event) in events {
        if let Event::Intrusion {
            error_code: Some(_),
            ..
        } = event
        {
            intrusions += 1;
        }
        let Event::Login {
            mechanism,
            credentials,
            outcome,
            ..
        } = event
        else {
            continue;
        };
        any = true;
        match (credentials, outcome) {
            (Credentials::Right, LoginOutcome::Ok) => {
                logins += 1;
                scram += u32::from(mechanism.starts_with("SCRAM"));
            }
            (Credentials::Right, LoginOutcome::Refused { .. }) => refused += 1,
            (Credentials::Right, _) => {}
            _ => wrong += 1,
        }
    }
    any.then(|| {
        format!(
            "logins={logins} scram={scram} wrong={wrong} refused={refused} intrusions={intrusions}"
        )
    })
}

/// Runs one seed on a fresh thread (madsim's runtime and our canary switch are per thread, and
/// std's hash seeds must not leak between runs).
pub fn run_seed(seed: u64, options: RunOptions) -> RunResult {
    run_seed_with(seed, options, None)
}

/// Runs one seed; with `replay`, only the kept items of a recorded run's schedule
/// (`crate::schedule`).
pub fn run_seed_with(seed: u64, options: RunOptions, replay: Option<Replay>) -> RunResult {
    #[allow(clippy::disallowed_methods)]
    let wall = std::time::Instant::now();
    let outcome = std::thread::spawn(move || {
        rill::faults::set_canary(options.canary);
        rill::faults::observe::start();
        schedule::install(replay);
        let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        let outcome = runtime.block_on(scenario(seed, options));
        (outcome, fault_points::counts(), schedule::take())
    })
    .join();
    let wall_ms = wall.elapsed().as_millis() as u64;
    let config = config_for(seed, options);
    match outcome {
        Ok(((history, verdict, sim_ms), points, recorded)) => {
            let kind = if !verdict.safety.is_empty() {
                Kind::Safety
            } else if !verdict.liveness.is_empty() {
                Kind::Liveness
            } else {
                Kind::Pass
            };
            RunResult {
                seed,
                kind,
                verdict,
                panic: None,
                sim_ms,
                wall_ms,
                hash: history.hash(),
                history: history.render(),
                stats: stats(&history.events()),
                points,
                events: history.events(),
                config,
                schedule: recorded,
            }
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            RunResult {
                seed,
                kind: Kind::Crash,
                verdict: Verdict::default(),
                panic: Some(message),
                sim_ms: 0,
                wall_ms,
                hash: 0,
                history: String::new(),
                stats: String::new(),
                points: Vec::new(),
                events: Vec::new(),
                config,
                schedule: Recorded::default(),
            }
        }
    }
}

/// The configuration a run of `seed` with `options` has.
fn config_for(seed: u64, options: RunOptions) -> SimConfig {
    let mut config = SimConfig::for_seed(seed, options.canary);
    if options.transactions && config.txn_producers == 0 {
        config.txn_producers = txn_producers_for(seed);
    }
    config
}

async fn scenario(seed: u64, options: RunOptions) -> (History, Verdict, u64) {
    let config = config_for(seed, options);
    if config.buggify {
        madsim::buggify::enable();
    }
    let handle = Handle::current();
    let history = History::default();
    let started = Instant::now();
    let sasl = options.sasl();
    // Named only when on, so the histories of runs without it stay as they were.
    let sasl_words = if sasl { " sasl=true" } else { "" };
    history.record(
        0,
        Event::Config(format!(
            "seed={seed} canary={:?} fault_points={} transactions={}{sasl_words} {config:?}",
            options.canary.map(Canary::name),
            options.fault_points,
            options.transactions
        )),
    );
    let empty_disks = config.replication_factor > 1 && config.kills;
    history.record(
        0,
        Event::Claims(checker::claims(
            config.promises(),
            config.min_insync_replicas,
            empty_disks && config.min_insync_replicas >= 2,
        )),
    );

    let disks = SimDisks::with_seed(seed);
    {
        let history = history.clone();
        disks.set_fault_sink(move |fault| {
            history.record(
                started.elapsed().as_millis() as u64,
                Event::Fault {
                    kind: fault.kind.name(),
                    detail: format!(
                        "broker {} {} {:?}",
                        fault.node,
                        fault.path.display(),
                        fault.kind
                    ),
                },
            )
        });
    }
    let power = PowerSwitches::default();
    let brokers: Vec<Broker> = (1..=config.brokers)
        .map(|node_id| start_broker(&handle, &config, sasl, &disks, &power, node_id))
        .collect();
    crate::sasl::start(sasl.then(|| crate::sasl::SaslRun {
        history: history.clone(),
        started,
        brokers: brokers.iter().map(|b| (b.addr, b.node_id)).collect(),
    }));
    let crasher = options.fault_points.then(|| {
        let by_node: Brokers = brokers.iter().map(|b| (b.node, b.node_id)).collect();
        fault_points::install(history.clone(), started, by_node, power.clone())
    });
    let producers_node = handle
        .create_node()
        .name("producers")
        .ip([10, 0, 2, 1].into())
        .build();
    let consumers_node = handle
        .create_node()
        .name("consumers")
        .ip([10, 0, 2, 2].into())
        .build();

    // The nodes Kafka clients reach (the controller-only ones take no client).
    let kafka: Vec<&Broker> = (brokers.iter())
        .filter(|b| config.is_broker(b.node_id))
        .collect();
    let workload = Workload {
        broker: kafka[0].addr,
        brokers: kafka.iter().map(|b| b.addr).collect(),
        partitions: config.partitions,
        replication_factor: config.replication_factor,
        history: history.clone(),
        started,
    };
    let mut topic_configs: Vec<(&'static str, String)> = vec![];
    if config.replication_factor > 1 && !config.min_isr_broker_level {
        let min_isr = config.min_insync_replicas.to_string();
        topic_configs.push(("min.insync.replicas", min_isr));
    }
    // The transactional topic: the data topic's replication, no retention (the final read
    // must find every committed transaction whole).
    let txn_topic_configs = topic_configs.clone();
    if let Some(bytes) = config.retention_bytes {
        topic_configs.push(("retention.bytes", bytes.to_string()));
    }
    {
        let w = workload.clone();
        let compacted = config.compacted;
        let transactions = config.txn_producers > 0;
        let quota = config.quota_bytes_per_s.is_some();
        producers_node
            .spawn(async move {
                workload::create_topic(&w, &topic_configs).await;
                if quota {
                    workload::admin::create_replicated_topic(
                        &w,
                        workload::quota::topic(),
                        1,
                        w.replication_factor,
                        &workload::quota::topic_configs(),
                    )
                    .await;
                }
                if transactions {
                    workload::admin::create_replicated_topic(
                        &w,
                        workload::txn::topic(),
                        workload::txn::TXN_PARTITIONS,
                        w.replication_factor,
                        &txn_topic_configs,
                    )
                    .await;
                    workload::admin::create_replicated_topic(
                        &w,
                        workload::ctp::out_topic(),
                        workload::ctp::CTP_OUT_PARTITIONS,
                        w.replication_factor,
                        &txn_topic_configs,
                    )
                    .await;
                }
                if compacted {
                    let configs = workload::compacted::topic_configs();
                    workload::admin::create_topic_named(
                        &w,
                        workload::compacted::topic(),
                        1,
                        &configs,
                    )
                    .await;
                }
            })
            .await
            .expect("create topic");
    }

    let until = Instant::now() + Duration::from_secs(options.sim_secs);
    // Producers go on past healing, so requests written on a healthy cluster meet the
    // checker's liveness bound (`checker::SETTLE_MS`, `PRODUCE_ANSWER_BOUND_MS`).
    let producing_until = until + PRODUCING_AFTER_HEALING;
    // One node (one IP) per client, as real clients are separate hosts. It also keeps madsim's
    // port table sane: `reset` clears a node's bindings while its streams live on, so a stale
    // stream dropped later would unbind the port a newer connection of *another* client on the
    // same node reuses, and that connection's packets would stall for seconds.
    // Every node made here, killed when the run ends (see its end).
    let made = std::cell::RefCell::new(vec![producers_node.id(), consumers_node.id()]);
    let client_node = |name: String, ip: [u8; 4]| {
        let node = handle.create_node().name(name).ip(ip.into()).build();
        made.borrow_mut().push(node.id());
        node
    };
    let mut tasks = Vec::new();
    let mut clients = vec![producers_node.id(), consumers_node.id()];
    if sasl {
        // The workload's SCRAM user, created while the producers start (through PLAIN).
        let node = client_node("scram-admin".into(), [10, 0, 9, 5]);
        clients.push(node.id());
        let w = workload.clone();
        tasks.push(node.spawn(async move { workload::sasl::create_scram_user(&w).await }));
        // The intruder: logged in, allowed nothing, asking as long as the producers write.
        let node = client_node("intruder".into(), [10, 0, 9, 6]);
        clients.push(node.id());
        tasks.push(node.spawn(workload::intruder::intruder(
            workload.clone(),
            producing_until,
        )));
    }
    for spec in &config.producers {
        let node = client_node(
            format!("producer-{}", spec.id),
            [10, 0, 3, spec.id as u8 + 1],
        );
        clients.push(node.id());
        tasks.push(node.spawn(workload::producer(workload.clone(), *spec, producing_until)));
    }
    for partition in 0..config.partitions {
        let node = client_node(
            format!("consumer-{partition}"),
            [10, 0, 4, partition as u8 + 1],
        );
        clients.push(node.id());
        tasks.push(node.spawn(workload::consumer(
            workload.clone(),
            partition as u32,
            partition,
            until,
        )));
    }
    let pause = workload::GroupPause::default();
    let resetter_node = (config.group_members > 0).then(|| {
        let node = client_node("group-resetter".into(), [10, 0, 6, 1]);
        clients.push(node.id());
        let (w, pause) = (workload.clone(), pause.clone());
        tasks.push(node.spawn(workload::group_resetter(w, pause, until)));
        node
    });
    let mut member_tasks = Vec::new();
    for member in 0..config.group_members {
        let node = client_node(
            format!("group-member-{member}"),
            [10, 0, 5, member as u8 + 1],
        );
        clients.push(node.id());
        let times = MemberTimes {
            healed: until,
            drain_from: producing_until + GROUP_DRAIN_AFTER_PRODUCING,
            deadline: until + GROUP_DRAIN_BOUND,
        };
        let (w, pause) = (workload.clone(), pause.clone());
        let protocol = config.group_protocol;
        member_tasks.push(node.spawn(workload::group_member(w, member, protocol, times, pause)));
    }
    if let Some(node) = resetter_node {
        // The group's final commits are fetched as soon as its last member left: later, the
        // Empty group's commits would be gone by retention (`OFFSETS_RETENTION_MS`).
        let w = workload.clone();
        tasks.push(node.spawn(async move {
            for member in member_tasks {
                let _ = member.await;
            }
            workload::final_offsets(&w, Instant::now() + LIVENESS_BOUND).await;
        }));
    }

    let mut txn_final = None;
    let mut ctp_final = None;
    if config.txn_producers > 0 {
        let give_up = producing_until + TXN_GIVE_UP_AFTER_PRODUCING;
        let mut txn_tasks = Vec::new();
        for producer in 0..config.txn_producers {
            let node = client_node(
                format!("txn-producer-{producer}"),
                [10, 0, 10, producer as u8 + 1],
            );
            clients.push(node.id());
            txn_tasks.push(node.spawn(workload::txn::txn_producer(
                workload.clone(),
                producer,
                producing_until,
                give_up,
            )));
        }
        for partition in 0..workload::txn::TXN_PARTITIONS {
            let node = client_node(
                format!("txn-reader-{partition}"),
                [10, 0, 10, partition as u8 + 11],
            );
            clients.push(node.id());
            tasks.push(node.spawn(workload::txn::txn_reader(
                workload.clone(),
                partition,
                producing_until + TXN_READING_AFTER_PRODUCING,
            )));
        }
        // The final read_committed read once every transactional producer stopped, within
        // the liveness bound the harness waits for every task.
        let node = client_node("txn-final-reader".into(), [10, 0, 10, 20]);
        let w = workload.clone();
        let deadline = until + LIVENESS_BOUND - Duration::from_secs(5);
        // Awaited after the data topic's final read, not before it: both read within the
        // liveness bound, side by side (seed 403: waiting for a hanging transaction here left
        // the data read too little of it).
        txn_final = Some(node.spawn(async move {
            for task in txn_tasks {
                let _ = task.await;
            }
            workload::txn::final_read(&w, deadline).await;
        }));
        // Consume-transform-produce workers, reading the transactional topic until its
        // readers stop, and the group's final offsets and their output's final read.
        let inputs = ctp_inputs_for(seed);
        let mut ctp_tasks = Vec::new();
        for (worker, &input) in inputs.iter().enumerate() {
            let node = client_node(
                format!("ctp-worker-{worker}"),
                [10, 0, 11, worker as u8 + 1],
            );
            clients.push(node.id());
            ctp_tasks.push(node.spawn(workload::ctp::ctp_worker(
                workload.clone(),
                worker as u32,
                input,
                producing_until + TXN_READING_AFTER_PRODUCING,
                give_up,
            )));
        }
        let node = client_node("ctp-final-reader".into(), [10, 0, 11, 20]);
        let w = workload.clone();
        ctp_final = Some(node.spawn(async move {
            for task in ctp_tasks {
                let _ = task.await;
            }
            workload::ctp::final_read(&w, &inputs, deadline).await;
        }));
    }

    if config.compacted {
        let node = client_node("compacted-writer".into(), [10, 0, 7, 1]);
        clients.push(node.id());
        tasks.push(node.spawn(workload::compacted::compacted_writer(
            workload.clone(),
            producing_until,
        )));
        let node = client_node("compacted-reader".into(), [10, 0, 7, 2]);
        clients.push(node.id());
        tasks.push(node.spawn(workload::compacted::compacted_reader(
            workload.clone(),
            producing_until + COMPACTED_LAST_PASS_AFTER_PRODUCING,
            until + LIVENESS_BOUND,
        )));
    }

    if config.topic_churn {
        let node = client_node("churn".into(), [10, 0, 9, 1]);
        clients.push(node.id());
        let brokers = kafka.iter().map(|b| b.node_id).collect();
        tasks.push(node.spawn(workload::churn::churn(workload.clone(), brokers, until)));
    }

    if let Some(rate) = config.quota_bytes_per_s {
        let node = client_node("quota-producer".into(), [10, 0, 9, 7]);
        clients.push(node.id());
        // It describes the quota at every broker after producing, within the liveness bound
        // the harness waits for every task.
        tasks.push(node.spawn(workload::quota::quota_producer(
            workload.clone(),
            rate,
            producing_until,
            until + LIVENESS_BOUND - Duration::from_secs(5),
        )));
    }

    if let Some(rate) = config.throttle_bytes_per_s {
        let node = client_node("throttler".into(), [10, 0, 9, 3]);
        clients.push(node.id());
        tasks.push(node.spawn(workload::throttle::throttler(workload.clone(), rate, until)));
    }

    if config.reassignments {
        let node = client_node("reassigner".into(), [10, 0, 9, 2]);
        clients.push(node.id());
        let brokers = kafka.iter().map(|b| b.node_id).collect();
        tasks.push(node.spawn(workload::reassign::reassigner(
            workload.clone(),
            brokers,
            producing_until,
        )));
    }

    if config.voters > 1 {
        let node = client_node("quorum-observer".into(), [10, 0, 8, 1]);
        let voters: Vec<(u64, SocketAddr)> = kafka.iter().map(|b| (b.node_id, b.addr)).collect();
        tasks.push(node.spawn(workload::quorum::observer(
            workload.clone(),
            voters.clone(),
            producing_until,
        )));
        let node = client_node("producer-id-prober".into(), [10, 0, 8, 2]);
        tasks.push(node.spawn(workload::quorum::producer_ids(
            workload.clone(),
            voters,
            producing_until,
        )));
    }

    // The node `min-isr-lowered` asks the brokers from (the nemesis has no address).
    let admin_node = (config.min_isr_lowered).then(|| client_node("min-isr".into(), [10, 0, 9, 4]));
    let node_faults = tokio::sync::Mutex::new(());
    let point_crashes = async {
        if let Some(crasher) = crasher {
            let harness = Harness {
                handle: &handle,
                disks: &disks,
                history: &history,
                started,
                node_faults: &node_faults,
            };
            crasher.run(harness, until).await;
        }
    };
    tokio::join!(
        nemesis(
            &handle,
            &config,
            &disks,
            &history,
            &workload,
            &brokers,
            &clients,
            admin_node.as_ref(),
            &node_faults,
            until,
        ),
        point_crashes
    );
    // Healed means no injected fault of any kind any more, buggify's included (it resets
    // connections and slows the disk): the liveness check holds requests after this.
    madsim::buggify::disable();
    history.record(workload.now_ms(), Event::Healed);

    // Liveness: the workload finishes its last sends and the final read completes in time.
    let deadline = Instant::now() + LIVENESS_BOUND;
    for task in tasks {
        if tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), task)
            .await
            .is_err()
        {
            history.record(
                workload.now_ms(),
                Event::FinalReadTimedOut {
                    partition: -1,
                    detail: "a workload task did not finish after healing".into(),
                },
            );
        }
    }
    let w = workload.clone();
    let reader = consumers_node.spawn(async move { workload::final_read(&w, deadline).await });
    let _ = reader.await;
    if let Some(txn_final) = txn_final {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, txn_final).await.is_err() {
            history.record(
                workload.now_ms(),
                Event::FinalReadTimedOut {
                    partition: -1,
                    detail: "the transactional final read did not finish after healing".into(),
                },
            );
        }
    }
    if let Some(ctp_final) = ctp_final {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, ctp_final).await.is_err() {
            history.record(
                workload.now_ms(),
                Event::FinalReadTimedOut {
                    partition: -1,
                    detail: "the consume-transform-produce final read did not finish after \
                             healing"
                        .into(),
                },
            );
        }
    }
    // Deleted topics' directories are gone from every broker's disk.
    let (w, d) = (workload.clone(), disks.clone());
    let nodes: Vec<u64> = kafka.iter().map(|b| b.node_id).collect();
    let strays =
        consumers_node.spawn(async move { workload::strays::settle(&w, &d, &nodes).await });
    for (node, dirs) in strays.await.unwrap_or_default() {
        history.record(workload.now_ms(), Event::StrayDirs { node, dirs });
    }
    if config.replication_factor > 1 {
        // The data topic's replicas hold the same batches once the followers had time to
        // fetch.
        let (d, partitions) = (disks.clone(), config.partitions);
        let nodes: Vec<u64> = kafka.iter().map(|b| b.node_id).collect();
        let compared = consumers_node
            .spawn(async move { workload::replicas::settle(&d, &nodes, partitions).await });
        for event in compared.await.unwrap_or_default() {
            history.record(workload.now_ms(), event);
        }
    }

    // What each voter applied of the metadata log, as the nodes recorded it.
    let mut applied: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
    for entry in rill::faults::observe::take() {
        (applied.entry(entry.node).or_default()).push((entry.index, entry.term, entry.digest));
    }
    for (node, entries) in applied {
        history.record(workload.now_ms(), Event::MetadataApplied { node, entries });
    }
    // Where each broker appended client records, and in which leader epochs.
    let mut appended: BTreeMap<u64, Vec<(String, String, i32, i32)>> = BTreeMap::new();
    for (node, topic, id, partition, epoch) in rill::faults::observe::take_appended() {
        (appended.entry(node).or_default()).push((topic, id, partition, epoch));
    }
    for (node, appended) in appended {
        history.record(
            workload.now_ms(),
            Event::AppendedAsLeader { node, appended },
        );
    }
    // Each broker's first open of each partition of each topic id, with the log end it found.
    let mut opens: BTreeMap<u64, Vec<(String, String, i32, i64)>> = BTreeMap::new();
    for (node, id, partition, topic, log_end) in rill::faults::observe::take_first_opens() {
        (opens.entry(node).or_default()).push((topic, id, partition, log_end));
    }
    for (node, opens) in opens {
        history.record(workload.now_ms(), Event::FirstOpens { node, opens });
    }
    // Every term each voter led the quorum in.
    let mut led: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (term, node) in rill::faults::observe::take_led() {
        led.entry(node).or_default().push(term);
    }
    for (node, terms) in led {
        history.record(workload.now_ms(), Event::QuorumLed { node, terms });
    }
    // What each voter read back of its term and vote at each start, after the votes it sent.
    let mut opened: BTreeMap<u64, Vec<_>> = BTreeMap::new();
    for o in rill::faults::observe::take_opened() {
        (opened.entry(o.node).or_default()).push((o.promised, o.term, o.voted_for));
    }
    for (node, opened) in opened {
        history.record(workload.now_ms(), Event::QuorumOpened { node, opened });
    }
    // Every commit index a leader reached, with the term of its entry.
    let mut commits: BTreeMap<u64, Vec<_>> = BTreeMap::new();
    for c in rill::faults::observe::take_leader_commits() {
        (commits.entry(c.node).or_default()).push((c.term, c.index, c.entry_term));
    }
    for (node, commits) in commits {
        history.record(workload.now_ms(), Event::LeaderCommits { node, commits });
    }
    let verdict = checker::check(&history.events(), config.promises());
    let sim_ms = started.elapsed().as_millis() as u64;
    // madsim never frees a task still pending when its runtime is dropped (a task's info holds
    // the task's own waker, madsim#242), and each broker's server waits forever holding its
    // disk and, through the fault sink, the whole history: ~20 MB a seed, never freed in a
    // process that runs many seeds. Killing every node makes the executor drop their tasks.
    for broker in &brokers {
        handle.kill(broker.node);
    }
    for &node in made.borrow().iter() {
        handle.kill(node);
    }
    tokio::task::yield_now().await;
    (history, verdict, sim_ms)
}

/// Injects faults until `until`, then heals everything.
#[allow(clippy::too_many_arguments)]
async fn nemesis(
    handle: &Handle,
    config: &SimConfig,
    disks: &SimDisks,
    history: &History,
    w: &Workload,
    brokers: &[Broker],
    clients: &[madsim::task::NodeId],
    admin_node: Option<&madsim::runtime::NodeHandle>,
    node_faults: &tokio::sync::Mutex<()>,
    until: Instant,
) {
    let net = NetSim::current();
    // Each step's draws recorded, or replayed by a shrink (`crate::schedule`).
    let mut rng = NemesisRng::new();
    let fault = |kind: &'static str, detail: String| {
        history.record(w.now_ms(), Event::Fault { kind, detail })
    };
    let mut kinds = Vec::new();
    if config.kills {
        kinds.push("kill");
    }
    if config.pauses {
        kinds.push("pause");
    }
    if config.network {
        kinds.extend(["clog", "net", "reset"]);
    }
    if config.disk_faults.eio {
        kinds.push("disk-eio");
    }
    if config.disk_faults.enospc {
        kinds.push("disk-full");
    }
    if config.voters > 1 {
        kinds.extend(["voter-partition", "voter-one-way"]);
    }
    if config.voters > 1 && config.kills {
        // It kills the voter in the middle.
        kinds.push("voter-bridge");
    }
    // Faults aimed at a replicated partition's roles (issue 14): its leader cut off from the
    // other brokers but not from clients; a follower cut off from its leader, restarted, then
    // the leader killed (KAFKA-1211: the follower must not cut what it fetched); a failover
    // and back at once; and once a run, a broker back with an empty data disk (KIP-903), only
    // where the configuration claims to survive it (min.insync.replicas >= 2).
    let replicated = config.replication_factor > 1;
    if replicated && config.network {
        kinds.push("leader-isolated");
    }
    if replicated && config.kills {
        kinds.extend(["follower-restart-leader-killed", "double-failover"]);
    }
    if config.min_isr_lowered {
        // Twice the weight: it runs only in the first half of a run (`role_faults`).
        kinds.extend(["min-isr-lowered", "min-isr-lowered"]);
    }
    let mut empty_disk_left = replicated && config.kills && config.min_insync_replicas >= 2;
    if empty_disk_left {
        kinds.push("empty-disk");
    }
    // madsim's TCP retries a message refused on a clogged link after 1, 3, 7, … ms (doubling,
    // at most 10 s apart), in order with everything sent after it: a link clogged again before
    // that retry lands holds the message, and all behind it, for seconds after the last heal
    // (seed 854: three cuts of one link in a row kept a follower's fetch, and the partition's
    // high watermark, stuck 10 s past the healing). So a clogging fault waits until the links
    // have been quiet as long as the last one was cut.
    const CLOGGING: [&str; 6] = [
        "voter-partition",
        "voter-bridge",
        "voter-one-way",
        "clog",
        "leader-isolated",
        "follower-restart-leader-killed",
    ];
    let mut links_quiet_until = Instant::now();
    let mut step = 0;
    while !kinds.is_empty() {
        let plan = rng.begin_step(step);
        let this_step = step;
        step += 1;
        let wait = Duration::from_millis(rng.gen_range(300..2500));
        // A replay starts each step when the recorded run did, whatever it left out before.
        let start = match plan {
            StepPlan::Draw => Instant::now() + wait,
            StepPlan::Replay { start, .. } => w.started + start,
            StepPlan::End => break,
        };
        rng.started(start - w.started);
        if start >= until {
            break;
        }
        tokio::time::sleep_until(start).await;
        if matches!(plan, StepPlan::Replay { kept: false, .. }) {
            continue;
        }
        let hold = Duration::from_millis(rng.gen_range(50..1500));
        // Half the faults of a quorum run aim at the controller leader the observer saw last
        // (its loss is what elections, and their bugs, are made of), a quarter at a broker
        // leading a partition (its fence takes the partition's leadership away).
        let aim = if config.voters > 1 {
            rng.gen_range(0..4)
        } else {
            3
        };
        let aimed = match aim {
            0 | 1 => history.last_seen_leader(),
            2 => {
                let leaders = history.last_seen_partition_leaders();
                (!leaders.is_empty()).then(|| leaders[rng.gen_range(0..leaders.len())])
            }
            _ => None,
        };
        let leader = aimed.and_then(|id| brokers.iter().find(|b| b.node_id == id));
        let target = leader.unwrap_or_else(|| &brokers[rng.gen_range(0..brokers.len())]);
        let (broker, name) = (target.node, format!("broker {}", target.node_id));
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let clogging = CLOGGING.contains(&kind);
        if clogging && Instant::now() < links_quiet_until {
            if links_quiet_until >= until {
                break;
            }
            tokio::time::sleep_until(links_quiet_until).await;
        }
        if kind == "empty-disk" {
            if !empty_disk_left {
                continue;
            }
            empty_disk_left = false;
        }
        // The step in the run's schedule, in words (the history has the details).
        let what = match kind {
            "net" => "net (loss and latency on every link)".to_string(),
            "reset" => "reset (a client's connections)".to_string(),
            "clog" => format!("clog (a client's link to {name})"),
            "voter-bridge" => format!("voter-bridge (around {name})"),
            "leader-isolated"
            | "follower-restart-leader-killed"
            | "double-failover"
            | "empty-disk"
            | "min-isr-lowered" => format!("{kind} (a data partition's roles)"),
            _ => format!("{kind} {name}"),
        };
        schedule::acts(this_step, w.now_ms(), what);
        let started = Instant::now();
        match kind {
            "kill" => {
                let _one_at_a_time = node_faults.lock().await;
                handle.kill(broker);
                let outcome = disks.crash(target.node_id, &mut rng);
                fault("kill", format!("{name}; disk {outcome:?}"));
                if config.disk_faults.bit_flips && rng.gen_bool(0.5) {
                    flip_bit(disks, target.node_id, history, w, &mut rng);
                }
                tokio::time::sleep(hold).await;
                handle.restart(broker);
                fault("restart", name.clone());
            }
            "pause" => {
                let _one_at_a_time = node_faults.lock().await;
                handle.pause(broker);
                fault("pause", name.clone());
                tokio::time::sleep(hold).await;
                handle.resume(broker);
                fault("resume", name.clone());
            }
            "voter-partition" => {
                // The target hears no other voter and no other voter hears it (its clients,
                // and the broker-only nodes, still do): a leader cut off steps down, a
                // follower cannot depose anyone.
                let others: Vec<_> = (brokers.iter())
                    .filter(|b| b.node != broker && b.node_id <= config.voters)
                    .collect();
                for other in &others {
                    net.clog_link(broker, other.node);
                    net.clog_link(other.node, broker);
                }
                fault("voter-partition", name.clone());
                tokio::time::sleep(hold * 2).await;
                for other in &others {
                    net.unclog_link(broker, other.node);
                    net.unclog_link(other.node, broker);
                }
                fault("voter-heal", name.clone());
            }
            "voter-bridge" => {
                // Jepsen's bridge: the other voters split in two halves that hear each other
                // only through the target, which is killed and restarted meanwhile. Each half
                // can elect a leader only with the target's vote, so after its restart both
                // ask it in the same term, and a vote it forgot would elect both.
                let voters: Vec<&Broker> = (brokers.iter())
                    .filter(|b| b.node_id <= config.voters)
                    .collect();
                let middle = match target.node_id <= config.voters {
                    true => target,
                    false => voters[rng.gen_range(0..voters.len())],
                };
                let mut others: Vec<&Broker> = (voters.iter().copied())
                    .filter(|b| b.node != middle.node)
                    .collect();
                others.shuffle(&mut rng);
                let (left, right) = others.split_at(others.len() / 2);
                let links: Vec<_> = (left.iter())
                    .flat_map(|l| {
                        right
                            .iter()
                            .flat_map(|r| [(l.node, r.node), (r.node, l.node)])
                    })
                    .collect();
                for &(from, to) in &links {
                    net.clog_link(from, to);
                }
                let half = |h: &[&Broker]| {
                    let ids: Vec<String> = h.iter().map(|b| b.node_id.to_string()).collect();
                    ids.join(",")
                };
                let middle_name = format!("broker {}", middle.node_id);
                fault(
                    "voter-bridge",
                    format!("{} | {} through {middle_name}", half(left), half(right)),
                );
                {
                    let _one_at_a_time = node_faults.lock().await;
                    handle.kill(middle.node);
                    let outcome = disks.crash(middle.node_id, &mut rng);
                    fault("kill", format!("{middle_name}; disk {outcome:?}"));
                    tokio::time::sleep(hold).await;
                    handle.restart(middle.node);
                    fault("restart", middle_name.clone());
                }
                // At most ~3.5 s cut in all, as a voter partition: madsim's TCP retries a
                // clogged link with a backoff that doubles, so a longer cut delays the first
                // message after healing by seconds more.
                tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2_000))).await;
                for &(from, to) in &links {
                    net.unclog_link(from, to);
                }
                fault("voter-bridge-heal", middle_name);
            }
            "voter-one-way" => {
                // Half a partition: the target's messages to the other voters are lost, or
                // theirs to it, but not both. A leader nobody hears is replaced while it still
                // hears them (and must step down when it hears the new term); a leader that
                // hears no acknowledgement must step down by itself (check-quorum) while its
                // followers still hear it (and pre-vote keeps them from deposing it before).
                let outbound = rng.gen_bool(0.5);
                let links: Vec<_> = (brokers.iter())
                    .filter(|b| b.node != broker && b.node_id <= config.voters)
                    .map(|b| {
                        if outbound {
                            (broker, b.node)
                        } else {
                            (b.node, broker)
                        }
                    })
                    .collect();
                for &(from, to) in &links {
                    net.clog_link(from, to);
                }
                let direction = if outbound { "unheard" } else { "deaf" };
                fault("voter-one-way", format!("{name} {direction}"));
                tokio::time::sleep(hold * 2).await;
                for &(from, to) in &links {
                    net.unclog_link(from, to);
                }
                fault("voter-one-way-heal", name.clone());
            }
            "clog" => {
                let client = clients[rng.gen_range(0..clients.len())];
                net.clog_link(client, broker);
                net.clog_link(broker, client);
                fault("clog", format!("{client} <-> {name}"));
                tokio::time::sleep(hold).await;
                net.unclog_link(client, broker);
                net.unclog_link(broker, client);
                fault("unclog", format!("{client} <-> {name}"));
            }
            "net" => {
                let loss = rng.gen_range(0.0..0.05);
                let latency_ms = rng.gen_range(1..40);
                net.update_config(|c| {
                    c.packet_loss_rate = loss;
                    c.send_latency =
                        Duration::from_millis(1)..Duration::from_millis(latency_ms + 1);
                });
                fault("net", format!("loss {loss:.3}, latency 1..{latency_ms} ms"));
                tokio::time::sleep(hold).await;
                net.update_config(|c| *c = madsim::net::Config::default());
                fault("net-heal", String::new());
            }
            "reset" => {
                let client = clients[rng.gen_range(0..clients.len())];
                net.reset_node(client);
                fault("reset", format!("connections of {client}"));
            }
            "disk-eio" => {
                // Each injected error is recorded by the disks' fault sink.
                let window = FaultWindow {
                    write_eio: rng.gen_range(0.0..0.05),
                    fsync_eio: rng.gen_range(0.05..0.5),
                    fsyncgate: config.disk_faults.fsyncgate,
                    capacity_bytes: None,
                };
                disks.set_window(target.node_id, window);
                fault("disk-eio-window", format!("{name} {window:?}"));
                tokio::time::sleep(hold).await;
                disks.set_window(target.node_id, FaultWindow::default());
                fault("disk-heal", name.clone());
            }
            "disk-full" => {
                let used = disks.total_bytes(target.node_id);
                let capacity = used + rng.gen_range(0..16 * 1024);
                disks.set_window(
                    target.node_id,
                    FaultWindow {
                        capacity_bytes: Some(capacity),
                        ..FaultWindow::default()
                    },
                );
                fault(
                    "disk-full",
                    format!("{name} capacity {capacity} bytes, {used} used"),
                );
                tokio::time::sleep(hold).await;
                disks.set_window(target.node_id, FaultWindow::default());
                fault("disk-heal", name.clone());
            }
            kind @ ("leader-isolated"
            | "follower-restart-leader-killed"
            | "double-failover"
            | "empty-disk"
            | "min-isr-lowered") => {
                let roles = RoleFaults {
                    handle,
                    config,
                    disks,
                    history,
                    w,
                    brokers,
                    node_faults,
                    admin_node,
                    until,
                };
                roles.run(kind, hold, &mut rng).await;
            }
            other => unreachable!("unknown fault kind {other}"),
        }
        if clogging {
            let now = Instant::now();
            links_quiet_until = now + (now - started);
        }
    }
    let remaining = until.saturating_duration_since(Instant::now());
    tokio::time::sleep(remaining).await;
}

/// Flips a bit in a synced file of a node that is down; a flip in a segment records the batch
/// it destroyed, which the checker excuses (the flip itself is recorded by the fault sink).
fn flip_bit(disks: &SimDisks, node_id: u64, history: &History, w: &Workload, rng: &mut impl Rng) {
    let Some((_, Some(damaged))) = disks.flip_bit_at_rest(node_id, rng) else {
        return;
    };
    let dir_name = damaged
        .dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let txn_partition = (dir_name.strip_prefix(workload::txn::TXN_TOPIC))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<i32>().ok());
    if let Some(partition) = txn_partition {
        history.record(
            w.now_ms(),
            Event::TxnDamaged {
                partition,
                first_offset: damaged.first_offset,
                last_offset: damaged.last_offset,
            },
        );
        return;
    }
    if dir_name == format!("{}-0", workload::compacted::COMPACTED_TOPIC) {
        history.record(
            w.now_ms(),
            Event::CompactDamaged {
                first_offset: damaged.first_offset,
                last_offset: damaged.last_offset,
            },
        );
        return;
    }
    // Partition directories are `<topic>-<partition>`.
    let partition = damaged
        .dir
        .to_string_lossy()
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok());
    if let Some(partition) = partition {
        history.record(
            w.now_ms(),
            Event::DamagedBatch {
                partition,
                first_offset: damaged.first_offset,
                last_offset: damaged.last_offset,
            },
        );
    }
}

/// One broker node of the simulated cluster.
pub(crate) struct Broker {
    /// Kafka `node.id`, also its disk in `SimDisks`.
    pub(crate) node_id: u64,
    pub(crate) node: madsim::task::NodeId,
    addr: SocketAddr,
}

impl Broker {
    /// Its Kafka listener.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Starts broker `node_id`: the production server on its simulated disk. On a restart madsim
/// runs `init` again, which opens the same disk (what survived the crash).
fn start_broker(
    handle: &Handle,
    config: &SimConfig,
    sasl: bool,
    disks: &SimDisks,
    power: &PowerSwitches,
    node_id: u64,
) -> Broker {
    let server_config = config.server_config(node_id, sasl);
    let disks = disks.clone();
    let power = power.clone();
    let node = handle
        .create_node()
        .name(format!("broker-{node_id}"))
        .ip(broker_ip(node_id))
        .init(move || {
            let config = server_config.clone();
            let storage: Arc<dyn rill::storage::Storage> =
                Arc::new(power.powered(node_id, Arc::new(disks.disk(node_id))));
            async move {
                match Server::start_on(&config, storage).await {
                    Ok(_server) => std::future::pending::<()>().await,
                    Err(error) => panic!("broker {node_id} failed to start: {error}"),
                }
            }
        })
        .build();
    Broker {
        node_id,
        node: node.id(),
        addr: SocketAddr::new(broker_ip(node_id), KAFKA_PORT),
    }
}
