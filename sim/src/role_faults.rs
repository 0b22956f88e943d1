//! Faults aimed at a replicated partition's roles (issue 14), drawn by the nemesis in runs
//! whose data topic has replicas. Each picks a partition of the data topic and its leader as
//! the last Metadata sample listed them (`History::last_seen_data_leaders`), and records what
//! it does as `Event::Fault`s:
//! * `leader-isolated` — the leader hears no other broker and no other broker hears it, while
//!   its clients still reach it: it must not acknowledge acks=all for what its followers
//!   cannot fetch, and once the controller (which it cannot reach either) elects another
//!   leader, what it took is not committed;
//! * `follower-restart-leader-killed` — a follower is cut off from its leader, killed and
//!   restarted (it fetched records before, and may not know the high watermark past them), then
//!   the leader is killed: the follower, still in the ISR, may be elected, and must not have
//!   cut what it fetched (KAFKA-1211, KIP-101: truncation by epoch, never to the high
//!   watermark);
//! * `double-failover` — the leader is killed, comes back as soon as another leads, and the
//!   new leader is killed at once: leadership goes back to a replica that missed a leadership
//!   (A → B → A);
//! * `empty-disk` — once a run, a broker (a leader too) is killed and comes back with its data
//!   topic's partition directories gone (a replaced disk; the metadata log is kept, as Kafka's
//!   `metadata.log.dir` may be elsewhere): with a new incarnation it may not rejoin an ISR
//!   through its earlier one (KIP-903), and having no clean-shutdown marker it leaves the
//!   eligible leader replicas (KIP-966), so the last in-sync replica is not elected again
//!   empty while another replica holds what it acknowledged. Only in runs with
//!   `min.insync.replicas` >= 2, where every acknowledged acks=all record is on another disk
//!   (`checker::claims`);
//! * `min-isr-lowered` — in runs whose data topic reads the cluster-wide `min.insync.replicas`
//!   (three replicas, the run claiming 2): it is raised to 3, a follower in the ISR is paused
//!   until the controller fences it (out of an ISR below 3, it is an eligible leader replica:
//!   the high watermark froze), it is lowered to 2 again (the high watermark moves on without
//!   that follower, so every ELR must be emptied: Kafka's rule), the two other replicas are
//!   killed and the follower resumed: it must not be elected, lacking what was acknowledged
//!   meanwhile; they come back after the hold. The canary `elr-kept-on-min-isr-change` keeps
//!   the ELR and is caught as acknowledged records lost.

use std::path::Path;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::Handle;
use rand::Rng;
use rill::storage::Storage;
use tokio::time::Instant;

use crate::history::{Event, History};
use crate::run::{Broker, SimConfig};
use crate::storage::SimDisks;
use crate::workload::{min_isr, route, Workload, TOPIC};

/// `min-isr-lowered` starts only this long before the faults end; it pauses its follower
/// at the latest `MIN_ISR_PAUSE_BEFORE_END` before, gives each set of the value
/// `MIN_ISR_SET_BOUND`, and looks for a record acknowledged under the lowered value for
/// `MIN_ISR_ACKED_WAIT`: its restarts come at most ~5 s after the faults end.
const MIN_ISR_FAULT_SPAN: Duration = Duration::from_secs(14);
const MIN_ISR_PAUSE_BEFORE_END: Duration = Duration::from_secs(9);
const MIN_ISR_SET_BOUND: Duration = Duration::from_secs(3);
const MIN_ISR_ACKED_WAIT: Duration = Duration::from_secs(2);

/// How long a double failover waits for another broker to lead before it restarts the first.
const NEW_LEADER_WAIT: Duration = Duration::from_secs(5);

/// What a role fault needs of the harness.
pub(crate) struct RoleFaults<'a> {
    pub handle: &'a Handle,
    pub config: &'a SimConfig,
    pub disks: &'a SimDisks,
    pub history: &'a History,
    pub w: &'a Workload,
    pub brokers: &'a [Broker],
    pub node_faults: &'a tokio::sync::Mutex<()>,
    /// A client node for the faults that ask the brokers (`min-isr-lowered`).
    pub admin_node: Option<&'a madsim::runtime::NodeHandle>,
    /// When the faults end.
    pub until: Instant,
}

impl RoleFaults<'_> {
    pub async fn run(&self, kind: &'static str, hold: Duration, rng: &mut impl Rng) {
        let leaders = self.history.last_seen_data_leaders();
        if leaders.is_empty() {
            return self.fault(kind, "no leader seen yet: skipped".into());
        }
        let (partition, leader_id) = leaders[rng.gen_range(0..leaders.len())];
        let Some(leader) = self.broker(leader_id) else {
            return;
        };
        match kind {
            "leader-isolated" => self.leader_isolated(partition, leader, rng).await,
            "follower-restart-leader-killed" => {
                self.follower_restart_leader_killed(partition, leader, hold, rng)
                    .await
            }
            "double-failover" => self.double_failover(partition, leader, hold, rng).await,
            "empty-disk" => self.empty_disk(hold, rng).await,
            "min-isr-lowered" => self.min_isr_lowered(partition, rng).await,
            other => unreachable!("not a role fault: {other}"),
        }
    }

    async fn leader_isolated(&self, partition: i32, leader: &Broker, rng: &mut impl Rng) {
        let net = NetSim::current();
        let links: Vec<_> = (self.brokers.iter())
            .filter(|b| b.node != leader.node)
            .flat_map(|b| [(leader.node, b.node), (b.node, leader.node)])
            .collect();
        for &(from, to) in &links {
            net.clog_link(from, to);
        }
        let name = format!("broker {} (leads {TOPIC}-{partition})", leader.node_id);
        self.fault("leader-isolated", name.clone());
        // Often long enough for the controller to fence it and elect another leader, and at
        // most ~3.5 s, as the voter partitions: madsim's TCP retries a clogged link with a
        // backoff that doubles, so a longer cut delays the first message after healing by
        // seconds more.
        let session_ms = self.config.broker_session_timeout_ms;
        let cut_ms = rng.gen_range(session_ms / 2..=session_ms + 500).min(3_500);
        tokio::time::sleep(Duration::from_millis(cut_ms)).await;
        for &(from, to) in &links {
            net.unclog_link(from, to);
        }
        self.fault("leader-isolated-heal", name);
    }

    async fn follower_restart_leader_killed(
        &self,
        partition: i32,
        leader: &Broker,
        hold: Duration,
        rng: &mut impl Rng,
    ) {
        let followers: Vec<&Broker> = (self.brokers.iter())
            .filter(|b| b.node != leader.node && self.config.is_broker(b.node_id))
            .collect();
        if followers.is_empty() {
            return;
        }
        let follower = followers[rng.gen_range(0..followers.len())];
        let net = NetSim::current();
        let _one_at_a_time = self.node_faults.lock().await;
        let links = [(leader.node, follower.node), (follower.node, leader.node)];
        for &(from, to) in &links {
            net.clog_link(from, to);
        }
        let what = format!(
            "broker {} cut off from broker {} (leads {TOPIC}-{partition})",
            follower.node_id, leader.node_id
        );
        self.fault("follower-cut", what.clone());
        self.kill(follower, rng);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..500))).await;
        self.restart(follower);
        // Its registration and unfence take a few heartbeats.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1_500))).await;
        self.kill(leader, rng);
        tokio::time::sleep(hold + Duration::from_millis(self.config.broker_session_timeout_ms))
            .await;
        self.restart(leader);
        for &(from, to) in &links {
            net.unclog_link(from, to);
        }
        self.fault("follower-cut-heal", what);
    }

    async fn double_failover(
        &self,
        partition: i32,
        first: &Broker,
        hold: Duration,
        rng: &mut impl Rng,
    ) {
        let _one_at_a_time = self.node_faults.lock().await;
        self.kill(first, rng);
        let deadline = Instant::now() + NEW_LEADER_WAIT;
        let second = loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.history.last_seen_data_leaders();
            let next = (now.iter())
                .find(|(p, l)| *p == partition && *l != first.node_id)
                .map(|(_, l)| *l);
            if next.is_some() || Instant::now() >= deadline {
                break next;
            }
        };
        self.restart(first);
        let Some(second) = second.and_then(|id| self.broker(id)) else {
            return self.fault("double-failover", "no second leader seen".into());
        };
        self.fault(
            "double-failover",
            format!(
                "{TOPIC}-{partition}: broker {} then {}, which is killed at once",
                first.node_id, second.node_id
            ),
        );
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..200))).await;
        self.kill(second, rng);
        tokio::time::sleep(hold).await;
        self.restart(second);
    }

    /// Wipes a follower's data disk: a broker leading no partition of the data topic (the
    /// last in-sync replica of a partition is its leader, and Rill, keeping no eligible leader
    /// replicas (KIP-966), elects it again however empty its disk: that loss no claim covers).
    async fn empty_disk(&self, hold: Duration, rng: &mut impl Rng) {
        // The target is chosen under the lock: leaderships move while another fault holds it.
        let _one_at_a_time = self.node_faults.lock().await;
        // Any broker, a leader too: its ISR's other members, or the eligible leader replicas
        // (KIP-966) if it was the last, hold what it acknowledged.
        let brokers: Vec<&Broker> = (self.brokers.iter())
            .filter(|b| self.config.is_broker(b.node_id))
            .collect();
        if brokers.is_empty() {
            return self.fault("empty-disk", "no broker: skipped".into());
        }
        let target = brokers[rng.gen_range(0..brokers.len())];
        self.kill(target, rng);
        let disk = self.disks.memory_of(target.node_id);
        let names = disk.list(Path::new("")).unwrap_or_default();
        let wiped: Vec<String> = (names.into_iter())
            .filter(|name| name.starts_with(&format!("{TOPIC}-")))
            .collect();
        for name in &wiped {
            let _ = disk.remove_dir_all(Path::new(name));
        }
        let _ = disk.sync_dir(Path::new(""));
        self.fault(
            "empty-disk",
            format!("broker {}: removed {wiped:?}", target.node_id),
        );
        tokio::time::sleep(hold).await;
        self.restart(target);
    }

    async fn min_isr_lowered(&self, partition: i32, rng: &mut impl Rng) {
        let Some(node) = self.admin_node else {
            return self.fault("min-isr-lowered", "no client node: skipped".into());
        };
        // It must be over soon after the faults end: the groups drain and the claims are
        // checked a fixed time after that (seeds 437 and 1316: a fault still running long
        // after the end left the groups no time to drain). So it starts only with
        // `MIN_ISR_FAULT_SPAN` left, and each step has a bound.
        if Instant::now() + MIN_ISR_FAULT_SPAN > self.until {
            return self.fault("min-isr-lowered", "too late in the run: skipped".into());
        }
        let pause_by = self.until - MIN_ISR_PAUSE_BEFORE_END;
        let _one_at_a_time = self.node_faults.lock().await;
        let (low, high) = (
            self.config.min_insync_replicas,
            self.config.replication_factor as u8,
        );
        // A follower to fence and another replica in sync: waited for a while (a replica may
        // be catching up after an earlier fault).
        let mut state = None;
        while Instant::now() + MIN_ISR_SET_BOUND < pause_by {
            let w = self.w.clone();
            let asked =
                node.spawn(async move { route::partition_state(&w, TOPIC, partition).await });
            let left = (pause_by - MIN_ISR_SET_BOUND).saturating_duration_since(Instant::now());
            state = tokio::time::timeout(left, asked)
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten();
            if state.as_ref().is_some_and(|(_, _, isr)| isr.len() >= 3) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let Some((leader, _, isr)) = state else {
            return self.fault("min-isr-lowered", "no leader listed: skipped".into());
        };
        let mut others: Vec<u64> = (isr.iter().copied()).filter(|r| *r != leader).collect();
        if others.len() < 2 {
            return self.fault("min-isr-lowered", format!("ISR {isr:?}: skipped"));
        }
        let follower = others.remove(rng.gen_range(0..others.len()));
        let (Some(leader), Some(follower), Some(other)) = (
            self.broker(leader),
            self.broker(follower),
            self.broker(others[0]),
        ) else {
            return;
        };
        let detail = format!(
            "{TOPIC}-{partition}: broker {} paused while min.insync.replicas goes {high} → {low}, \
             then brokers {} and {} killed",
            follower.node_id, leader.node_id, other.node_id
        );
        self.fault("min-isr-lowered", detail);
        // Asked of the brokers that answer: not of the paused follower.
        let set = |value: u8, give_up: Instant| {
            let mut w = self.w.clone();
            w.brokers.retain(|addr| *addr != follower.addr());
            let set = node.spawn(async move { min_isr::set_until_done(&w, value, give_up).await });
            async move { set.await.unwrap_or(false) }
        };
        // The controller keeps the ELR by the value its log holds once the set is answered.
        let raised = set(high, pause_by).await;
        if !raised || Instant::now() > pause_by {
            // Too late to go on: the run ends with the run's value (a raise may have applied
            // even unanswered).
            set(low, Instant::now() + MIN_ISR_SET_BOUND).await;
            return;
        }
        self.handle.pause(follower.node);
        self.fault("pause", format!("broker {}", follower.node_id));
        let session_ms = self.config.broker_session_timeout_ms;
        tokio::time::sleep(Duration::from_millis(session_ms + 1_500)).await;
        let lowered = set(low, Instant::now() + MIN_ISR_SET_BOUND).await;
        if lowered {
            // Records committed by the leader and the other replica alone (once they applied
            // the new value): waited for, a while.
            let since_ms = self.w.now_ms();
            let ours: Vec<u32> = (self.config.producers.iter())
                .filter(|p| p.partition == partition)
                .map(|p| p.id)
                .collect();
            let acked_by = Instant::now() + MIN_ISR_ACKED_WAIT;
            while !self.history.acked_since(&ours, since_ms) && Instant::now() < acked_by {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.kill(leader, rng);
            self.kill(other, rng);
        }
        self.handle.resume(follower.node);
        self.fault("resume", format!("broker {}", follower.node_id));
        if !lowered {
            // Every broker answers again: the run ends with the run's value.
            set(low, Instant::now() + MIN_ISR_SET_BOUND).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(session_ms + 1_000)).await;
        self.restart(leader);
        self.restart(other);
    }

    fn broker(&self, node_id: u64) -> Option<&Broker> {
        self.brokers.iter().find(|b| b.node_id == node_id)
    }

    fn kill(&self, broker: &Broker, rng: &mut impl Rng) {
        self.handle.kill(broker.node);
        let outcome = self.disks.crash(broker.node_id, rng);
        self.fault(
            "kill",
            format!("broker {}; disk {outcome:?}", broker.node_id),
        );
    }

    fn restart(&self, broker: &Broker) {
        self.handle.restart(broker.node);
        self.fault("restart", format!("broker {}", broker.node_id));
    }

    fn fault(&self, kind: &'static str, detail: String) {
        self.history
            .record(self.w.now_ms(), Event::Fault { kind, detail });
    }
}
