//! Group consumers: members of one consumer group. In a classic group they speak the group
//! protocol as Kafka's clients do (FindCoordinator, JoinGroup with MEMBER_ID_REQUIRED, a range assignment
//! computed by the leader and handed out by SyncGroup, Heartbeat, OffsetFetch, OffsetCommit
//! with the generation, LeaveGroup), read the producers' topic from the committed offsets and
//! commit as they go. The group's requests go to the coordinator; fetches go to each
//! partition's leader ([`super::route`]). After a lost connection or a coordinator error they
//! reconnect, rediscover the coordinator and, when the group moved on, rejoin. Every successful
//! join, assignment, acknowledged commit and offset fetch goes to the history for
//! `checker::groups`.
//!
//! A member commits a partition only at or past the highest offset it knows committed (fetched or
//! acknowledged), so the group's commits of a partition never go down: that lets the checker
//! demand that a fetch returns at least every commit acknowledged before it was sent.
//!
//! Until healing a member now and then leaves (LeaveGroup) or crashes (drops its connection
//! and stays silent until its session expires) and comes back as a new member. Every other
//! member is static (`group.instance.id`, KIP-345): it comes back under the same instance id,
//! which in a Stable group hands it its old assignment in the same generation and fences the
//! old member id. After healing
//! it drains: once the producers stopped it reads every owned partition to its high watermark
//! and commits there, then leaves; the next members take its partitions over. When all are
//! gone, [`final_offsets`] records the group's commits (`GroupFinal`) for the checker's
//! at-least-once and liveness checks.
//!
//! In a run whose group uses the consumer protocol (KIP-848, [`GroupProtocol::Consumer`]) the
//! members join and heartbeat with ConsumerGroupHeartbeat instead, the coordinator assigns, and
//! they take and let go of partitions as its answers say ([`consumer_protocol`]); reading,
//! committing (OffsetCommit v9 with the member epoch), churn and draining are the same.
//!
//! Once a run, before healing, [`group_resetter`] moves the group's commits back the way
//! `rill consumer-groups --reset-offsets` does: it pauses the members (they leave and wait),
//! and once the group is Empty commits earlier offsets from outside the group (generation -1,
//! no member id), recorded as `GroupReset`; the members then rejoin and read again from there.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

mod consumer_protocol;

use super::consumer::fetch_once;
use super::{retriable, route, topic_name, Workload, CALL_TIMEOUT, RETRY_BACKOFF, TOPIC};
use crate::client::{CallError, Connection};
use crate::history::Event;

pub const GROUP: &str = "sim-group";
const SESSION_TIMEOUT_MS: i32 = 6000;
const REBALANCE_TIMEOUT_MS: i32 = 6000;
/// The coordinator's session timeout of consumer-protocol members
/// (`group.consumer.session.timeout.ms`): it expires a member no sooner than this after the
/// last heartbeat the member sent that was answered.
pub const CONSUMER_SESSION_TIMEOUT_MS: u64 = 6000;
/// The broker's offset retention in the simulator (`offsets.retention.minutes`, shortened):
/// a group Empty this long loses its commits, and is deleted.
pub const OFFSETS_RETENTION_MS: u64 = 5000;
/// How often the broker looks for expired offsets (`offsets.retention.check.interval.ms`).
pub const OFFSETS_RETENTION_CHECK_MS: u64 = 500;
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(1000);
/// As the Java consumer's auto-commit (every position, changed or not, each interval), but
/// often: the commits, most superseding the one before, fill `__consumer_offsets` segments
/// for the log cleaner to compact under the run's faults.
const COMMIT_INTERVAL: Duration = Duration::from_millis(100);
const FETCH_MAX_WAIT_MS: i32 = 50;
/// Simulated milliseconds between a member's leaves or crashes (before healing).
const CHURN_GAP_MS: std::ops::Range<u64> = 2_000..8_000;
/// How long a crashed member stays silent: sometimes past its session, sometimes not.
const CRASH_SILENCE_MS: std::ops::Range<u64> = 500..8_000;
/// When the resetter pauses the group, in percent of the time to healing.
const RESET_AT_PERCENT: std::ops::Range<u32> = 20..50;
/// Pause between the resetter's attempts while the group is not Empty yet.
const RESET_RETRY: Duration = Duration::from_millis(250);
/// OffsetCommit's generation for a commit from outside the group (Kafka's admin tools).
const GENERATION_NONE: i32 = -1;

/// The rebalance protocol of the run's group: one for all its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat; the leader member assigns.
    Classic,
    /// ConsumerGroupHeartbeat (KIP-848); the coordinator assigns.
    Consumer,
}

/// Set while [`group_resetter`] moves the group's commits back: members leave and wait.
#[derive(Clone, Default)]
pub struct GroupPause(Arc<AtomicBool>);

impl GroupPause {
    fn set(&self, paused: bool) {
        self.0.store(paused, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

fn group_id() -> GroupId {
    GroupId(StrBytes::from_static_str(GROUP))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Why the member must step back: drop the connection, or rejoin the group.
enum Step {
    Reconnect,
    Rejoin,
}

/// A call error or a coordinator error code: reconnect (and rediscover the coordinator).
fn transport(e: CallError) -> Step {
    tracing::debug!(?e, "group call failed");
    Step::Reconnect
}

/// What a group error code asks of the member.
fn on_code(code: ErrorCode, member: &mut Member) -> Step {
    if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::FENCED_INSTANCE_ID {
        // An older group record holding it may come back with a coordinator restart.
        let id = std::mem::take(&mut member.member_id);
        member.departed.push(id);
    }
    if [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::REQUEST_TIMED_OUT,
    ]
    .contains(&code)
    {
        Step::Reconnect
    } else {
        Step::Rejoin
    }
}

/// One member's view of the group.
struct Member {
    id: u32,
    protocol: GroupProtocol,
    /// The topic's id, from the consumer protocol's assignments (its heartbeats name the
    /// partitions they own by it).
    topic_id: uuid::Uuid,
    member_id: String,
    /// `group.instance.id` of a static member (KIP-345): after a crash it rejoins under the
    /// same instance id, taking a new member id and fencing the old one.
    instance: Option<String>,
    /// The generation it is in, with its partitions; `None` until a join and sync succeed.
    generation: Option<i32>,
    owned: Vec<i32>,
    /// Next offset to read, per owned partition.
    positions: BTreeMap<i32, i64>,
    /// The highest offset known committed, per owned partition (fetched or acknowledged).
    committed: BTreeMap<i32, i64>,
    /// Fetch the committed offsets again (after a reconnect: the coordinator may have
    /// restarted and reloaded them), without moving the positions.
    refetch: bool,
    /// The high watermark of each owned partition, with when the fetch that brought it was
    /// sent.
    high_watermarks: BTreeMap<i32, (i64, Instant)>,
    /// A connection to each owned partition's leader, for its fetches: the coordinator
    /// connection serves the group's requests only. Dropped on a transport error or a
    /// retriable code, so the next poll routes afresh.
    data: BTreeMap<i32, Connection>,
    /// Every member id it had: one that crashed, or whose LeaveGroup was lost, or that a
    /// coordinator restart brought back from the log, stays in the group until its session
    /// expires, which a coordinator that keeps restarting renews. A pause removes them all
    /// (LeaveGroup), as an operator stopping the group removes a crashed consumer's
    /// membership.
    departed: Vec<String>,
    /// A pause's LeaveGroup of every id it had was answered (recorded once until it joins).
    pause_left_recorded: bool,
}

/// A member's phases: churn (leave, crash, rejoin) until `healed`; drain once `drain_from`
/// is past (the producers stopped); give up at `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct MemberTimes {
    pub healed: Instant,
    pub drain_from: Instant,
    pub deadline: Instant,
}

/// Range assignment over members sorted by id: member `i` of `n` gets a contiguous run of
/// partitions, the first `partitions % n` members one more.
pub fn range_assign(members: &[String], partitions: i32) -> BTreeMap<String, Vec<i32>> {
    let mut sorted: Vec<&String> = members.iter().collect();
    sorted.sort();
    let n = sorted.len().max(1) as i32;
    let (per, extra) = (partitions / n, partitions % n);
    let mut next = 0;
    let mut out = BTreeMap::new();
    for (i, id) in sorted.into_iter().enumerate() {
        let count = per + i32::from((i as i32) < extra);
        out.insert(id.clone(), (next..next + count).collect());
        next += count;
    }
    out
}

/// Ascending offsets as runs `from..to` of consecutive ones: only records a fetch returned
/// count as polled, not the offsets between them.
fn contiguous_runs(offsets: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for offset in offsets {
        match runs.last_mut() {
            Some((_, to)) if *to == offset => *to += 1,
            _ => runs.push((offset, offset + 1)),
        }
    }
    runs
}

fn encode_partitions(partitions: &[i32]) -> Bytes {
    partitions.iter().flat_map(|p| p.to_be_bytes()).collect()
}

fn decode_partitions(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Asks the bootstrap broker for the group's coordinator and connects to the broker it names:
/// the group's requests go there, wherever its `__consumer_offsets` partition is led. The
/// connection asked on serves when the bootstrap names itself.
async fn coordinator(w: &Workload) -> Connection {
    loop {
        let mut conn = w.connect().await;
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_static_str(GROUP))
            .with_key_type(0);
        let answer: Result<FindCoordinatorResponse, _> = conn
            .call(ApiKey::FindCoordinator, 3, &request, CALL_TIMEOUT)
            .await;
        let named = match &answer {
            Ok(a) if a.error_code == 0 => route::broker_addr(&a.host, a.port),
            _ => None,
        };
        match named {
            Some(addr) if addr == w.broker => return conn,
            Some(addr) => match Connection::connect(addr, CALL_TIMEOUT).await {
                Ok(conn) => return conn,
                Err(e) => {
                    let node_id = answer.as_ref().map_or(-1, |a| a.node_id.0);
                    tracing::debug!(?e, node_id, %addr, "coordinator unreachable");
                }
            },
            None => {}
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

impl Member {
    fn instance(&self) -> Option<StrBytes> {
        self.instance.as_deref().map(str_bytes)
    }

    /// JoinGroup (again after MEMBER_ID_REQUIRED), SyncGroup (the leader assigns by range),
    /// then OffsetFetch for the partitions it got.
    async fn join(&mut self, w: &Workload, conn: &mut Connection) -> Result<(), Step> {
        if self.protocol == GroupProtocol::Consumer {
            return self.join_consumer(w, conn).await;
        }
        self.generation = None;
        let joined: JoinGroupResponse = loop {
            let request = JoinGroupRequest::default()
                .with_group_id(group_id())
                .with_session_timeout_ms(SESSION_TIMEOUT_MS)
                .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
                .with_member_id(str_bytes(&self.member_id))
                .with_group_instance_id(self.instance())
                .with_protocol_type(StrBytes::from_static_str("consumer"))
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(StrBytes::from_static_str("range"))
                    .with_metadata(Bytes::new())]);
            let answer: JoinGroupResponse = conn
                .call(ApiKey::JoinGroup, 5, &request, CALL_TIMEOUT * 5)
                .await
                .map_err(transport)?;
            match ErrorCode::from_wire(answer.error_code) {
                ErrorCode::NONE => break answer,
                ErrorCode::MEMBER_ID_REQUIRED => self.member_id = answer.member_id.to_string(),
                code => return Err(on_code(code, self)),
            }
        };
        self.member_id = joined.member_id.to_string();
        self.pause_left_recorded = false;
        let generation = joined.generation_id;
        w.record(Event::GroupJoined {
            member: self.id,
            member_id: self.member_id.clone(),
            generation,
        });
        let assignments = if joined.leader == joined.member_id {
            let ids: Vec<String> = joined
                .members
                .iter()
                .map(|m| m.member_id.to_string())
                .collect();
            range_assign(&ids, w.partitions)
                .into_iter()
                .map(|(id, parts)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(str_bytes(&id))
                        .with_assignment(encode_partitions(&parts))
                })
                .collect()
        } else {
            Vec::new()
        };
        let request = SyncGroupRequest::default()
            .with_group_id(group_id())
            .with_generation_id(generation)
            .with_member_id(str_bytes(&self.member_id))
            .with_group_instance_id(self.instance())
            .with_assignments(assignments);
        let synced: SyncGroupResponse = conn
            .call(ApiKey::SyncGroup, 3, &request, CALL_TIMEOUT * 5)
            .await
            .map_err(transport)?;
        let code = ErrorCode::from_wire(synced.error_code);
        if code != ErrorCode::NONE {
            return Err(on_code(code, self));
        }
        let owned = decode_partitions(&synced.assignment);
        self.alive(w);
        w.record(Event::GroupAssigned {
            member: self.id,
            generation,
            partitions: owned.clone(),
        });
        self.generation = Some(generation);
        self.owned = owned;
        self.positions.clear();
        self.committed.clear();
        self.high_watermarks.clear();
        self.fetch_committed(w, conn, true).await
    }

    /// OffsetFetch for the owned partitions; `start` also moves the positions there.
    async fn fetch_committed(
        &mut self,
        w: &Workload,
        conn: &mut Connection,
        start: bool,
    ) -> Result<(), Step> {
        self.refetch = false;
        let invoked_ms = w.now_ms();
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id())
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name())
                .with_partition_indexes(self.owned.clone())]));
        let answer: OffsetFetchResponse = conn
            .call(ApiKey::OffsetFetch, 5, &request, CALL_TIMEOUT)
            .await
            .map_err(transport)?;
        let code = ErrorCode::from_wire(answer.error_code);
        if code != ErrorCode::NONE {
            return Err(self.on_code(w, code));
        }
        for p in answer.topics.iter().flat_map(|t| &t.partitions) {
            let code = ErrorCode::from_wire(p.error_code);
            if code != ErrorCode::NONE {
                return Err(self.on_code(w, code));
            }
            w.record(Event::OffsetFetched {
                member: self.id,
                partition: p.partition_index,
                offset: p.committed_offset,
                invoked_ms,
            });
            // What the coordinator holds now: a commit lost in a crash (no durable promise)
            // is committed again.
            self.committed.insert(p.partition_index, p.committed_offset);
            // A consumer-protocol member is handed partitions one answer at a time: it
            // starts only those it has no position in.
            let new = self.protocol == GroupProtocol::Consumer
                && !self.positions.contains_key(&p.partition_index);
            if start || new {
                self.positions
                    .insert(p.partition_index, p.committed_offset.max(0));
            }
        }
        Ok(())
    }

    /// Reads each owned partition once from its position, on a connection to its leader. A
    /// partition whose leader is unknown or unreachable is skipped this time, as a consumer
    /// reads its other partitions meanwhile; the member keeps heartbeating either way.
    async fn poll(&mut self, w: &Workload) -> Result<(), Step> {
        let owned = &self.owned;
        self.data.retain(|p, _| owned.contains(p));
        // One fetch per partition, in turn: a caught-up partition's long poll would hold up
        // the others' reads while any is behind (a real consumer asks for all in one fetch).
        // Found by seed 301: a member that got a partition 10,000 records behind late read it
        // at a few hundred records a second, waiting out two idle partitions' polls each
        // round, and did not drain in time.
        let behind: Vec<i32> = (self.owned.iter().copied())
            .filter(|p| {
                let position = self.positions.get(p).copied().unwrap_or(0);
                (self.high_watermarks.get(p)).is_some_and(|(hw, _)| position < *hw)
            })
            .collect();
        for partition in self.owned.clone() {
            let next = self.positions.get(&partition).copied().unwrap_or(0);
            let max_wait_ms = match !behind.is_empty() && !behind.contains(&partition) {
                true => 0,
                false => FETCH_MAX_WAIT_MS,
            };
            if !self.data.contains_key(&partition) {
                let Some(conn) = route::try_connect_leader(w, TOPIC, partition).await else {
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                };
                self.data.insert(partition, conn);
            }
            let conn = self.data.get_mut(&partition).expect("connected above");
            let sent = Instant::now();
            let fetched = match fetch_once(conn, partition, next, max_wait_ms).await {
                Ok(fetched) => fetched,
                Err(e) => {
                    // The leader is gone or moved: only this partition's connection is
                    // suspect, not the coordinator's.
                    tracing::debug!(?e, partition, "group fetch failed");
                    self.data.remove(&partition);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
            };
            if retriable(fetched.code) {
                // The partition may have moved to another leader: route afresh next poll.
                self.data.remove(&partition);
            }
            let member = self.id;
            let to = if fetched.code == ErrorCode::NONE {
                let offsets = fetched
                    .records
                    .iter()
                    .map(|(o, _)| *o)
                    .filter(|o| *o >= next);
                for (from, to) in contiguous_runs(offsets) {
                    let polled = Event::GroupPolled {
                        member,
                        partition,
                        from,
                        to,
                    };
                    w.record(polled);
                }
                self.high_watermarks
                    .insert(partition, (fetched.high_watermark, sent));
                fetched.records.last().map_or(next, |(o, _)| o + 1)
            } else if fetched.code == ErrorCode::OFFSET_OUT_OF_RANGE {
                // The log moved (retention, or unsynced data lost): auto.offset.reset.
                if next < fetched.log_start {
                    let (from, to) = (next, fetched.log_start);
                    let skipped = Event::GroupSkipped {
                        member,
                        partition,
                        from,
                        to,
                    };
                    w.record(skipped);
                    fetched.log_start
                } else {
                    fetched.high_watermark.max(fetched.log_start)
                }
            } else {
                next
            };
            self.positions.insert(partition, to);
        }
        Ok(())
    }

    /// In a generation, every owned partition read to a high watermark fetched after `since`
    /// and committed there.
    fn drained(&self, since: Instant) -> bool {
        self.generation.is_some()
            && self.owned.iter().all(|p| {
                let position = self.positions.get(p).copied().unwrap_or(-1);
                let committed = self.committed.get(p).copied().unwrap_or(-1);
                self.high_watermarks
                    .get(p)
                    .is_some_and(|(hw, at)| *at >= since && position >= *hw)
                    && committed >= position
            })
    }

    /// Leaves (LeaveGroup) or crashes (drops the connection and stays silent), then comes
    /// back as a new member.
    async fn churn(&mut self, w: &Workload, conn: &mut Option<Connection>) {
        let leave = madsim::rand::thread_rng().gen_bool(0.5);
        self.departed.push(self.member_id.clone());
        self.release_all(w);
        match conn.as_mut() {
            Some(c) if leave => {
                self.leave(c, std::slice::from_ref(&self.member_id)).await;
            }
            _ => *conn = None,
        }
        if !leave {
            // A crashed consumer loses its fetch connections too.
            self.data.clear();
        }
        let how = if leave { "leave" } else { "crash" };
        w.record(Event::GroupLeft {
            member: self.id,
            how,
        });
        if !leave {
            let silence = madsim::rand::thread_rng().gen_range(CRASH_SILENCE_MS);
            tokio::time::sleep(Duration::from_millis(silence)).await;
        }
        self.member_id.clear();
        self.generation = None;
    }

    /// While the resetter works: leave the group with every member id it had, and wait.
    async fn pause(&mut self, w: &Workload, conn: &mut Option<Connection>) {
        self.release_all(w);
        if !self.member_id.is_empty() {
            w.record(Event::GroupLeft {
                member: self.id,
                how: "pause",
            });
            self.departed.push(std::mem::take(&mut self.member_id));
        }
        self.generation = None;
        // Again every time: a coordinator restart may bring a left member back from the log
        // (the empty group's record is written after the LeaveGroup answer).
        self.departed.sort();
        self.departed.retain(|id| !id.is_empty());
        self.departed.dedup();
        if self.departed.is_empty() {
            tokio::time::sleep(COMMIT_INTERVAL).await;
            return;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(coordinator(w).await),
        };
        match self.leave(c, &self.departed).await {
            // The coordinator may be gone: find it again next time.
            None => *conn = None,
            // Every id it had is out: the group may be Empty from here on (seed 934: a
            // crashed member's id left here unrecorded, the retention check deleted the
            // Empty group at once, and its generations started over unexcused).
            Some(true) if !self.pause_left_recorded => {
                self.pause_left_recorded = true;
                w.record(Event::GroupLeft {
                    member: self.id,
                    how: "pause",
                });
            }
            Some(_) => {}
        }
        tokio::time::sleep(COMMIT_INTERVAL).await;
    }

    /// Commits every position at or past the highest offset known committed (never lower).
    async fn commit(&mut self, w: &Workload, conn: &mut Connection) -> Result<(), Step> {
        let Some(generation) = self.generation else {
            return Ok(());
        };
        let ahead: Vec<(i32, i64)> = self
            .positions
            .iter()
            .filter(|(p, o)| self.committed.get(p).is_none_or(|c| *o >= c))
            .map(|(p, o)| (*p, *o))
            .collect();
        if ahead.is_empty() {
            return Ok(());
        }
        let who = (generation, self.member_id.as_str(), self.instance());
        // v9 is the first a consumer-protocol member may commit with (its epoch).
        let version = match self.protocol {
            GroupProtocol::Classic => 7,
            GroupProtocol::Consumer => 9,
        };
        let invoked_ms = w.now_ms();
        let answer = commit_offsets(conn, version, who, &ahead)
            .await
            .map_err(transport)?;
        for p in answer.topics.iter().flat_map(|t| &t.partitions) {
            let code = ErrorCode::from_wire(p.error_code);
            if code == ErrorCode::STALE_MEMBER_EPOCH {
                // Its epoch moved on in a heartbeat answer not read yet: the next heartbeat
                // brings it, and the next commit carries it.
                return Ok(());
            }
            if code != ErrorCode::NONE {
                return Err(self.on_code(w, code));
            }
            let Some((_, offset)) = ahead.iter().find(|(q, _)| *q == p.partition_index) else {
                continue;
            };
            w.record(Event::Committed {
                member: self.id,
                partition: p.partition_index,
                offset: *offset,
                generation,
                invoked_ms,
            });
            self.committed.insert(p.partition_index, *offset);
        }
        // The coordinator checked the generation (or epoch) and member id: it is in the group.
        self.alive(w);
        Ok(())
    }

    /// Records that an answer named this member in the group (for the retention checks).
    fn alive(&self, w: &Workload) {
        w.record(Event::GroupAlive {
            member: self.id,
            member_id: self.member_id.clone(),
        });
    }

    async fn heartbeat(&mut self, w: &Workload, conn: &mut Connection) -> Result<(), Step> {
        if self.protocol == GroupProtocol::Consumer {
            return self.heartbeat_consumer(w, conn).await;
        }
        let Some(generation) = self.generation else {
            return Ok(());
        };
        let request = HeartbeatRequest::default()
            .with_group_id(group_id())
            .with_generation_id(generation)
            .with_member_id(str_bytes(&self.member_id))
            .with_group_instance_id(self.instance());
        let answer: HeartbeatResponse = conn
            .call(ApiKey::Heartbeat, 3, &request, CALL_TIMEOUT)
            .await
            .map_err(transport)?;
        match ErrorCode::from_wire(answer.error_code) {
            ErrorCode::NONE => {
                self.alive(w);
                Ok(())
            }
            code => Err(on_code(code, self)),
        }
    }
}

impl Member {
    /// Leaves the group as each of `member_ids`: `None` when the coordinator did not answer,
    /// else whether it answered that they are out (no top-level error). (The future holds no
    /// `&self`: a member holds connections, which are not `Sync`.)
    fn leave<'c>(
        &self,
        conn: &'c mut Connection,
        member_ids: &[String],
    ) -> impl std::future::Future<Output = Option<bool>> + Send + use<'c> {
        let protocol = self.protocol;
        let member_ids = member_ids.to_vec();
        let conn: &mut Connection = conn;
        async move {
            match protocol {
                GroupProtocol::Classic => leave_group(conn, &member_ids).await,
                GroupProtocol::Consumer => consumer_protocol::leave(conn, &member_ids).await,
            }
        }
    }

    /// What a group error code asks of the member; a consumer-protocol member that is
    /// fenced lets its partitions go at once (another member may be handed them now).
    fn on_code(&mut self, w: &Workload, code: ErrorCode) -> Step {
        tracing::debug!(member = self.id, ?code, "group error");
        let step = on_code(code, self);
        if matches!(step, Step::Rejoin) {
            self.release_all(w);
        }
        step
    }
}

/// LeaveGroup for `member_ids`: `None` when the coordinator did not answer, else whether it
/// answered with no top-level error (each member is out then: removed, or unknown already).
async fn leave_group(conn: &mut Connection, member_ids: &[String]) -> Option<bool> {
    let members = member_ids
        .iter()
        .map(|id| MemberIdentity::default().with_member_id(str_bytes(id)))
        .collect();
    let request = LeaveGroupRequest::default()
        .with_group_id(group_id())
        .with_members(members);
    let answer: Result<LeaveGroupResponse, _> = conn
        .call(ApiKey::LeaveGroup, 3, &request, CALL_TIMEOUT)
        .await;
    let answer = answer.ok()?;
    Some(ErrorCode::from_wire(answer.error_code) == ErrorCode::NONE)
}

/// OffsetCommit of `offsets` (partition, offset) as (generation, member id, instance id).
async fn commit_offsets(
    conn: &mut Connection,
    version: i16,
    (generation, member_id, instance): (i32, &str, Option<StrBytes>),
    offsets: &[(i32, i64)],
) -> Result<OffsetCommitResponse, CallError> {
    let partitions = offsets
        .iter()
        .map(|(p, o)| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(*p)
                .with_committed_offset(*o)
                .with_committed_metadata(Some(StrBytes::from_string(commit_metadata(*o))))
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(group_id())
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(str_bytes(member_id))
        .with_group_instance_id(instance)
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name())
            .with_partitions(partitions)]);
    conn.call(ApiKey::OffsetCommit, version, &request, CALL_TIMEOUT)
        .await
}

/// A commit's metadata: applications keep state there (up to `offset.metadata.max.bytes`,
/// 4096 by default), and a kilobyte a commit fills `__consumer_offsets` segments within a
/// run, so the log cleaner compacts them under the run's faults and loads replay cleaned logs.
fn commit_metadata(offset: i64) -> String {
    format!("{offset:0>1000}")
}

/// OffsetFetch of every partition of the topic: (partition, committed offset), or `None`
/// when the call or any partition failed.
async fn fetch_all_committed(w: &Workload, conn: &mut Connection) -> Option<Vec<(i32, i64)>> {
    let request = OffsetFetchRequest::default()
        .with_group_id(group_id())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name())
            .with_partition_indexes((0..w.partitions).collect())]));
    let answer: OffsetFetchResponse = conn
        .call(ApiKey::OffsetFetch, 5, &request, CALL_TIMEOUT)
        .await
        .ok()?;
    let partitions: Vec<_> = answer.topics.iter().flat_map(|t| &t.partitions).collect();
    if answer.error_code != 0 || partitions.iter().any(|p| p.error_code != 0) {
        return None;
    }
    Some(
        partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset))
            .collect(),
    )
}

fn churn_gap() -> Duration {
    Duration::from_millis(madsim::rand::thread_rng().gen_range(CHURN_GAP_MS))
}

/// One group member: joins, reads its partitions from the committed offsets, commits and
/// heartbeats, leaves and crashes now and then until healing, drains after it (or records
/// that it could not), then leaves.
pub async fn group_member(
    w: Workload,
    id: u32,
    protocol: GroupProtocol,
    times: MemberTimes,
    pause: GroupPause,
) {
    let mut member = Member {
        id,
        protocol,
        topic_id: uuid::Uuid::nil(),
        member_id: String::new(),
        // Every other classic member is static.
        instance: (protocol == GroupProtocol::Classic && id % 2 == 0)
            .then(|| format!("sim-instance-{id}")),
        generation: None,
        owned: Vec::new(),
        positions: BTreeMap::new(),
        committed: BTreeMap::new(),
        refetch: false,
        high_watermarks: BTreeMap::new(),
        data: BTreeMap::new(),
        departed: Vec::new(),
        pause_left_recorded: false,
    };
    let mut conn: Option<Connection> = None;
    let mut last_commit = Instant::now();
    let mut last_heartbeat = Instant::now();
    let mut next_churn = Instant::now() + churn_gap();
    loop {
        let now = Instant::now();
        if now >= times.deadline {
            let detail = format!(
                "generation {:?}, owns {:?}, positions {:?}, committed {:?}, high watermarks \
                 {:?}",
                member.generation,
                member.owned,
                member.positions,
                member.committed,
                member.high_watermarks
            );
            w.record(Event::GroupStuck { member: id, detail });
            break;
        }
        let drained = now >= times.drain_from && member.drained(times.drain_from);
        if drained && member.protocol == GroupProtocol::Classic {
            break;
        }
        if now < times.healed && now >= next_churn && member.generation.is_some() {
            next_churn = now + churn_gap();
            member.churn(&w, &mut conn).await;
            continue;
        }
        if pause.is_set() {
            member.pause(&w, &mut conn).await;
            continue;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(coordinator(&w).await),
        };
        let step = if member.generation.is_none() {
            member.join(&w, c).await
        } else if member.refetch {
            member.fetch_committed(&w, c, false).await
        } else if last_heartbeat.elapsed() >= HEARTBEAT_INTERVAL {
            last_heartbeat = Instant::now();
            member.heartbeat(&w, c).await
        } else if last_commit.elapsed() >= COMMIT_INTERVAL {
            // Before the drain's checks too: a consumer-protocol group's commits age from
            // each commit once it has no members, so the last to leave leaves fresh ones.
            last_commit = Instant::now();
            member.commit(&w, c).await
        } else if drained && !member.departed.is_empty() {
            // Every member id it had leaves first: one a coordinator restart brought back
            // from the log holds its partitions in the consumer protocol until its session
            // ends, and the live members would otherwise leave before they got them.
            let departed = std::mem::take(&mut member.departed);
            if member.leave(c, &departed).await.is_some() {
                Ok(())
            } else {
                member.departed = departed;
                Err(Step::Reconnect)
            }
        } else if drained {
            // A consumer-protocol member leaves once it owns its whole target.
            match member.converged(c).await {
                Ok(true) => break,
                Ok(false) => {
                    tokio::time::sleep(COMMIT_INTERVAL).await;
                    Ok(())
                }
                Err(step) => Err(step),
            }
        } else if member.owned.is_empty() {
            tokio::time::sleep(COMMIT_INTERVAL).await;
            Ok(())
        } else {
            member.poll(&w).await
        };
        match step {
            Ok(()) => {}
            Err(Step::Reconnect) => {
                conn = None;
                member.refetch = true;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Err(Step::Rejoin) => {
                member.generation = None;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
    member.release_all(&w);
    if let Some(c) = conn.as_mut() {
        member
            .leave(c, std::slice::from_ref(&member.member_id))
            .await;
    }
}

/// After every member left: the group's committed offset of each partition (`GroupFinal`),
/// or a liveness failure when no OffsetFetch succeeds before `deadline`.
pub async fn final_offsets(w: &Workload, deadline: Instant) {
    let fetch = async {
        loop {
            let mut conn = coordinator(w).await;
            if let Some(offsets) = fetch_all_committed(w, &mut conn).await {
                for (partition, offset) in offsets {
                    w.record(Event::GroupFinal { partition, offset });
                }
                return;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if tokio::time::timeout(left, fetch).await.is_err() {
        w.record(Event::FinalReadTimedOut {
            partition: -1,
            detail: "the group's final OffsetFetch did not succeed".into(),
        });
    }
}

/// Once, at a random time before `healed`: pauses the members and, once the group is Empty,
/// moves every partition's commit back to half of it (`--reset-offsets` from outside the
/// group). Gives up at `healed`; the members resume either way.
pub async fn group_resetter(w: Workload, pause: GroupPause, healed: Instant) {
    let percent = madsim::rand::thread_rng().gen_range(RESET_AT_PERCENT);
    let to_healing = healed.saturating_duration_since(Instant::now());
    tokio::time::sleep(to_healing * percent / 100).await;
    pause.set(true);
    reset(&w, healed).await;
    pause.set(false);
}

/// The reset itself: the targets come from the first OffsetFetch; each commit answered NONE
/// is a `GroupReset`; one without an answer may have applied, so if none is answered before
/// `give_up` the targets are recorded as unacknowledged resets.
async fn reset(w: &Workload, give_up: Instant) {
    let mut conn: Option<Connection> = None;
    let mut targets: Option<Vec<(i32, i64)>> = None;
    let mut unanswered: Option<u64> = None;
    while Instant::now() < give_up {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => conn.insert(coordinator(w).await),
        };
        let Some(targets) = &targets else {
            match fetch_all_committed(w, c).await {
                Some(committed) => {
                    let back: Vec<(i32, i64)> = (committed.into_iter())
                        .filter(|(_, o)| *o > 0)
                        .map(|(p, o)| (p, o / 2))
                        .collect();
                    if back.is_empty() {
                        return;
                    }
                    targets = Some(back);
                }
                None => {
                    conn = None;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
            continue;
        };
        let invoked_ms = w.now_ms();
        let Ok(answer) = commit_offsets(c, 7, (GENERATION_NONE, "", None), targets).await else {
            unanswered.get_or_insert(invoked_ms);
            conn = None;
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let answered: Vec<_> = answer.topics.iter().flat_map(|t| &t.partitions).collect();
        // The group is not Empty yet (UNKNOWN_MEMBER_ID), or the coordinator is moving.
        if answered.is_empty() || answered.iter().any(|p| p.error_code != 0) {
            tokio::time::sleep(RESET_RETRY).await;
            continue;
        }
        record_resets(w, targets, invoked_ms, true);
        return;
    }
    if let (Some(targets), Some(invoked_ms)) = (&targets, unanswered) {
        record_resets(w, targets, invoked_ms, false);
    }
}

fn record_resets(w: &Workload, targets: &[(i32, i64)], invoked_ms: u64, acknowledged: bool) {
    for (partition, offset) in targets {
        w.record(Event::GroupReset {
            partition: *partition,
            offset: *offset,
            invoked_ms,
            acknowledged,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::contiguous_runs;

    #[test]
    fn only_the_offsets_a_fetch_returned_count_as_polled() {
        assert_eq!(
            contiguous_runs([5, 6, 7, 9, 12, 13]),
            [(5, 8), (9, 10), (12, 14)]
        );
        assert!(contiguous_runs([]).is_empty());
    }
}
