//! A member of a consumer-protocol group (KIP-848), as librdkafka's `group.protocol=consumer`
//! and Kafka's Java consumer do it: it joins with a ConsumerGroupHeartbeat at epoch 0 (naming
//! its own member id, v1; every other member subscribes with a pattern), then heartbeats with its epoch and every partition it owns; the
//! coordinator's answers hand it its assignment. A partition in an answer is read from then on;
//! a partition missing from it is let go at once, before the next heartbeat tells the
//! coordinator, which only then hands it to another member. Every change of what it owns is
//! a `GroupOwns` event and every answered heartbeat a `GroupHeartbeatAnswered`, for
//! `checker::consumer_group`.

use std::collections::BTreeSet;

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use rand::Rng;
use rill::types::ErrorCode;

use super::{
    group_id, str_bytes, topic_name, transport, Member, Step, Workload, CALL_TIMEOUT,
    REBALANCE_TIMEOUT_MS,
};
use crate::client::Connection;
use crate::history::Event;

/// The version librdkafka and the Java consumer send (the client names its member id).
const HEARTBEAT_VERSION: i16 = 1;
/// Member epoch of a ConsumerGroupHeartbeat that leaves the group.
const LEAVE_GROUP_MEMBER_EPOCH: i32 = -1;
/// The server assignors a member may ask for (`None`: the coordinator's default); members of
/// one group may differ, and the coordinator picks one.
const ASSIGNORS: [Option<&str>; 3] = [None, Some("uniform"), Some("range")];

/// The pattern of the members that subscribe by one: the producers' topic, `sim`, only.
const SUBSCRIBED_PATTERN: &str = "^si[m]$";

/// A new member id: 22 characters, as a client's base64 UUID.
fn new_member_id() -> String {
    let n: u64 = madsim::rand::thread_rng().gen();
    format!("sim{n:019}")
}

impl Member {
    /// Joins at epoch 0 (owning nothing), under a new member id if it has none.
    pub(super) async fn join_consumer(
        &mut self,
        w: &Workload,
        conn: &mut Connection,
    ) -> Result<(), Step> {
        self.release_all(w);
        self.generation = None;
        if self.member_id.is_empty() {
            self.member_id = new_member_id();
        }
        let assignor = ASSIGNORS[self.id as usize % ASSIGNORS.len()];
        let request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group_id())
            .with_member_id(str_bytes(&self.member_id))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
            .with_server_assignor(assignor.map(str_bytes))
            .with_topic_partitions(Some(Vec::new()));
        // Every other member subscribes by pattern, as librdkafka sends `subscribe(["^…"])`;
        // the pattern matches the producers' topic only (not the compacted topic nor
        // `__consumer_offsets`).
        let request = if self.id % 2 == 1 {
            request
                .with_subscribed_topic_names(Some(Vec::new()))
                .with_subscribed_topic_regex(Some(str_bytes(SUBSCRIBED_PATTERN)))
        } else {
            request.with_subscribed_topic_names(Some(vec![topic_name()]))
        };
        self.beat(w, conn, &request).await
    }

    /// A heartbeat with its epoch and every partition it owns.
    pub(super) async fn heartbeat_consumer(
        &mut self,
        w: &Workload,
        conn: &mut Connection,
    ) -> Result<(), Step> {
        let Some(epoch) = self.generation else {
            return Ok(());
        };
        let owned = (!self.owned.is_empty()).then(|| {
            TopicPartitions::default()
                .with_topic_id(self.topic_id)
                .with_partitions(self.owned.clone())
        });
        let request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group_id())
            .with_member_id(str_bytes(&self.member_id))
            .with_member_epoch(epoch)
            .with_topic_partitions(Some(owned.into_iter().collect()));
        self.beat(w, conn, &request).await
    }

    async fn beat(
        &mut self,
        w: &Workload,
        conn: &mut Connection,
        request: &ConsumerGroupHeartbeatRequest,
    ) -> Result<(), Step> {
        let sent_ms = w.now_ms();
        let answer: ConsumerGroupHeartbeatResponse = conn
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                HEARTBEAT_VERSION,
                request,
                CALL_TIMEOUT,
            )
            .await
            .map_err(transport)?;
        match ErrorCode::from_wire(answer.error_code) {
            ErrorCode::NONE => {}
            code => return Err(self.on_code(w, code)),
        }
        if let Some(id) = &answer.member_id {
            self.member_id = id.to_string();
        }
        let epoch = answer.member_epoch;
        w.record(Event::GroupHeartbeatAnswered {
            member: self.id,
            member_id: self.member_id.clone(),
            epoch,
            sent_ms,
        });
        self.generation = Some(epoch);
        if let Some(assignment) = &answer.assignment {
            let mut given = BTreeSet::new();
            for t in &assignment.topic_partitions {
                self.topic_id = t.topic_id;
                given.extend(t.partitions.iter().copied());
            }
            self.take(w, epoch, given);
        }
        Ok(())
    }

    /// Owns exactly `given` from now on: the partitions let go lose their positions, the new
    /// ones start from their committed offsets (fetched next).
    fn take(&mut self, w: &Workload, epoch: i32, given: BTreeSet<i32>) {
        let owned: BTreeSet<i32> = self.owned.iter().copied().collect();
        if owned == given {
            return;
        }
        for gone in owned.difference(&given) {
            self.positions.remove(gone);
            self.committed.remove(gone);
            self.high_watermarks.remove(gone);
        }
        self.refetch |= given.difference(&owned).next().is_some();
        self.owned = given.into_iter().collect();
        w.record(Event::GroupOwns {
            member: self.id,
            epoch,
            partitions: self.owned.clone(),
        });
    }

    /// Whether the coordinator's target for this member is what it owns (ConsumerGroupDescribe):
    /// only then may a drained member leave. A member owning less than its target waits for
    /// partitions another member (perhaps one gone for good, until its session ends) still
    /// holds; leaving then would leave those partitions undrained.
    pub(super) async fn converged(&mut self, conn: &mut Connection) -> Result<bool, Step> {
        let request = ConsumerGroupDescribeRequest::default().with_group_ids(vec![group_id()]);
        let answer: ConsumerGroupDescribeResponse = conn
            .call(ApiKey::ConsumerGroupDescribe, 0, &request, CALL_TIMEOUT)
            .await
            .map_err(transport)?;
        let Some(group) = answer.groups.first() else {
            return Ok(false);
        };
        if group.error_code != 0 || group.group_epoch != group.assignment_epoch {
            return Ok(false);
        }
        let Some(me) = (group.members.iter()).find(|m| m.member_id.as_str() == self.member_id)
        else {
            return Ok(false);
        };
        let set = |a: &kafka_protocol::messages::consumer_group_describe_response::Assignment| {
            (a.topic_partitions.iter())
                .flat_map(|t| t.partitions.iter().copied())
                .collect::<BTreeSet<i32>>()
        };
        let owned: BTreeSet<i32> = self.owned.iter().copied().collect();
        Ok(set(&me.target_assignment) == owned && set(&me.assignment) == owned)
    }

    /// Lets every partition go (fenced, leaving, crashing, pausing); nothing for a classic
    /// member, whose next join replaces what it owns.
    pub(super) fn release_all(&mut self, w: &Workload) {
        if self.protocol != super::GroupProtocol::Consumer || self.owned.is_empty() {
            return;
        }
        let epoch = self.generation.unwrap_or(0);
        self.take(w, epoch, BTreeSet::new());
    }
}

/// A leaving heartbeat (epoch -1) for each of `member_ids`: `None` when one was not answered,
/// else whether every one is out (answered NONE, or unknown or fenced already).
pub(super) async fn leave(conn: &mut Connection, member_ids: &[String]) -> Option<bool> {
    let mut out = true;
    for id in member_ids {
        let request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group_id())
            .with_member_id(str_bytes(id))
            .with_member_epoch(LEAVE_GROUP_MEMBER_EPOCH);
        let answer: Result<ConsumerGroupHeartbeatResponse, _> = conn
            .call(
                ApiKey::ConsumerGroupHeartbeat,
                HEARTBEAT_VERSION,
                &request,
                CALL_TIMEOUT,
            )
            .await;
        let code = ErrorCode::from_wire(answer.ok()?.error_code);
        out &= [
            ErrorCode::NONE,
            ErrorCode::UNKNOWN_MEMBER_ID,
            ErrorCode::FENCED_MEMBER_EPOCH,
        ]
        .contains(&code);
    }
    Some(out)
}
