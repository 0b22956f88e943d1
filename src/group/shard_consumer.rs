//! The shard's KIP-848 consumer groups: ConsumerGroupHeartbeat, the groups' one timer each,
//! their records and their answers (Kafka's `GroupMetadataManager.consumerGroupHeartbeat` as
//! its coordinator runtime runs it).
//!
//! * **Answer after the write.** A step changes the group at once and writes the records of
//!   the change ([`persist::changes`]); its answer waits until that write and every earlier
//!   one is acknowledged. Kafka's runtime does the same (it reverts to a snapshot on failure);
//!   here a failed write drops the whole shard, so what a lost write changed is never served:
//!   the next load rebuilds every group from the log.
//! * **In order.** A step that writes nothing still answers only after the writes issued
//!   before it (a barrier in the write queue), so no answer reveals a change not yet durable.
//! * **One type per group id.** A ConsumerGroupHeartbeat for a classic group is refused
//!   GROUP_ID_NOT_FOUND, unless the classic group is empty and the member joins (epoch 0):
//!   the classic group is then replaced (its record gets a tombstone in the same batch).

use rand::RngCore;

use crate::group::consumer::persist::{changes, image, Replay};
use crate::group::consumer::{ConsumerGroup, TopicInfo, TopicView};
use crate::messages::groups::{
    ConsumerGroupDescription, ConsumerHeartbeatCall, ConsumerHeartbeatResult, GroupsReply,
    ListGroupsArgs, ListedGroup,
};
use crate::types::ErrorCode;

use super::{InFlight, Shard, ShardOut};
use crate::group::output::{
    client_code, AfterWrite, Clock, GroupOut, GroupTimer, OffsetsRecord, WriteKind,
};
use crate::group::settings::GroupSettings;
use crate::group::state::GroupState;

/// ListGroups' `group_type` of a KIP-848 group.
const CONSUMER_GROUP_TYPE: &str = "consumer";
/// The protocol type a consumer group reports (its members are consumers).
const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

impl<W: Copy> Shard<W> {
    /// One ConsumerGroupHeartbeat.
    pub(super) fn consumer_heartbeat(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        rng: &mut impl RngCore,
        call: ConsumerHeartbeatCall,
        w: W,
        out: &mut Vec<ShardOut<W>>,
    ) {
        let ConsumerHeartbeatCall {
            mut args,
            client_id,
            client_host,
            topics,
            assign_member_id,
        } = call;
        let id = args.group.clone();
        if self.consumer_deleting.contains(&id) {
            // Its deletion is being written; a group of that name may start once it is.
            let reply = refusal(ErrorCode::COORDINATOR_NOT_AVAILABLE, None);
            return self.answer_in_order(w, reply, out);
        }
        let mut records = Vec::new();
        let mut converted = None;
        if let Some(classic) = self.groups.get(&id) {
            if args.member_epoch != 0 || classic.state() != GroupState::Empty {
                let msg = format!("Group {id} is not a consumer group.");
                let reply = refusal(ErrorCode::GROUP_ID_NOT_FOUND, Some(msg));
                return self.answer_in_order(w, reply, out);
            }
            converted = self.groups.remove(&id);
            records.push(OffsetsRecord::Group {
                group: id.clone(),
                value: None,
            });
        }
        if assign_member_id && args.member_id.is_empty() && args.member_epoch == 0 {
            args.member_id = random_id(rng);
        }
        let view: TopicView = (topics.into_iter())
            .map(|(name, id, partitions)| (name, TopicInfo { id, partitions }))
            .collect();
        let is_new = !self.consumer.contains_key(&id);
        let group =
            (self.consumer.entry(id.clone())).or_insert_with(|| ConsumerGroup::new(id.clone()));
        let before = if is_new {
            Default::default()
        } else {
            image(group)
        };
        let client = (client_id.as_str(), client_host.as_str());
        let reply = group.heartbeat(now, &s.consumer, &view, client, &args);
        if is_new && group.members.is_empty() {
            // Refused before anything existed: no group is made, and an Empty classic group
            // it would have replaced stays (nor is its tombstone written).
            self.consumer.remove(&id);
            if let Some(classic) = converted {
                self.groups.insert(id.clone(), classic);
                records.clear();
            }
        } else {
            records.extend(changes(&before, &image(group)));
        }
        let mut outs = self.consumer_timer_outs(&id);
        if records.is_empty() {
            self.emit(now, &id, outs, out);
            return self.answer_in_order(w, reply, out);
        }
        let then = AfterWrite::ConsumerHeartbeat { waiter: w, reply };
        outs.push(GroupOut::Write { records, then });
        self.emit(now, &id, outs, out);
    }

    /// A consumer group's timer fired: members past their deadlines are fenced, and the
    /// change is written.
    pub fn consumer_timer(
        &mut self,
        now: Clock,
        s: &GroupSettings,
        group: &str,
        out: &mut Vec<ShardOut<W>>,
    ) {
        if self.is_loading() {
            return;
        }
        let Some(entry) = self.consumer.get_mut(group) else {
            return; // gone: a stale firing
        };
        let before = image(entry);
        let expired = entry.expire(now, &s.consumer);
        let mut outs = self.consumer_timer_outs(group);
        if !expired.is_empty() {
            tracing::info!(group, ?expired, "consumer group members' sessions expired");
            let entry = &self.consumer[group];
            let records = changes(&before, &image(entry));
            let then = AfterWrite::Membership { generation: -1 };
            outs.push(GroupOut::Write { records, then });
        }
        self.emit(now, group, outs, out);
    }

    /// The groups a load rebuilt from their records, each with its timer armed.
    pub(super) fn restore_consumer(
        &mut self,
        replay: Replay,
        now: Clock,
        out: &mut Vec<ShardOut<W>>,
    ) {
        for group in replay.finish(now, self.restored_session_ms) {
            let id = group.id.clone();
            self.consumer.insert(id.clone(), group);
            let outs = self.consumer_timer_outs(&id);
            self.emit(now, &id, outs, out);
        }
    }

    /// The write of a heartbeat is known: its answer goes out (the client's code on failure).
    pub(super) fn consumer_written(
        then: AfterWrite<W>,
        outcome: Result<(), ErrorCode>,
        outs: &mut Vec<GroupOut<W>>,
    ) {
        if let AfterWrite::ConsumerHeartbeat { waiter, reply } = then {
            let reply = match outcome {
                Ok(()) => reply,
                Err(append) => refusal(client_code(append, WriteKind::GroupMetadata), None),
            };
            outs.push(GroupOut::Answer(
                waiter,
                GroupsReply::ConsumerHeartbeat(reply),
            ));
        }
    }

    /// ConsumerGroupDescribe of one group (Kafka's answers for a missing or classic group).
    pub fn describe_consumer(&self, group: &str) -> ConsumerGroupDescription {
        let refused = |code: ErrorCode, message: String| ConsumerGroupDescription {
            group: group.to_owned(),
            error_code: code,
            error_message: Some(message),
            state: "Dead".to_owned(),
            group_epoch: -1,
            assignment_epoch: -1,
            assignor: String::new(),
            members: Vec::new(),
        };
        if self.is_loading() {
            let code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
            return refused(code, "The coordinator is loading.".to_owned());
        }
        match self.consumer.get(group) {
            // Being deleted: gone, as a Dead classic group is.
            Some(_) if self.consumer_deleting.contains(group) => refused(
                ErrorCode::GROUP_ID_NOT_FOUND,
                format!("Group {group} not found."),
            ),
            Some(g) => g.describe(),
            // A group with commits only is a classic (simple) group to Kafka too.
            None if self.groups.contains_key(group) || self.offsets.has_offsets(group) => refused(
                ErrorCode::GROUP_ID_NOT_FOUND,
                format!("Group {group} is not a consumer group."),
            ),
            None => refused(
                ErrorCode::GROUP_ID_NOT_FOUND,
                format!("Group {group} not found."),
            ),
        }
    }

    /// ListGroups rows of this shard's consumer groups that `filter` keeps.
    pub(super) fn list_consumer(&self, filter: &ListGroupsArgs, rows: &mut Vec<ListedGroup>) {
        let keeps = |wanted: &[String], value: &str| {
            wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value))
        };
        let listed =
            (self.consumer.iter()).filter(|(name, _)| !self.consumer_deleting.contains(*name));
        for (name, g) in listed {
            let row = ListedGroup {
                group: name.clone(),
                protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
                state: g.state_name().to_owned(),
                group_type: CONSUMER_GROUP_TYPE.to_owned(),
            };
            if keeps(&filter.states, &row.state) && keeps(&filter.types, &row.group_type) {
                rows.push(row);
            }
        }
    }

    /// Whether `group` is a consumer group of this shard.
    pub(super) fn is_consumer_group(&self, group: &str) -> bool {
        self.consumer.contains_key(group)
    }

    /// Arms the group's one timer for its earliest deadline (or cancels it).
    fn consumer_timer_outs(&self, group: &str) -> Vec<GroupOut<W>> {
        let deadline = self
            .consumer
            .get(group)
            .and_then(ConsumerGroup::next_deadline_ms);
        vec![match deadline {
            Some(at_mono_ms) => GroupOut::Wake {
                timer: GroupTimer::Consumer,
                at_mono_ms,
            },
            None => GroupOut::Cancel(GroupTimer::Consumer),
        }]
    }

    /// Answers `reply` once every write issued before it is acknowledged (at once if none is
    /// in flight).
    fn answer_in_order(
        &mut self,
        w: W,
        reply: ConsumerHeartbeatResult,
        out: &mut Vec<ShardOut<W>>,
    ) {
        if self.writes.is_empty() {
            return out.push(ShardOut::Answer(w, GroupsReply::ConsumerHeartbeat(reply)));
        }
        let write = self.next_write;
        self.next_write += 1;
        let barrier = InFlight {
            group: String::new(),
            then: AfterWrite::ConsumerHeartbeat { waiter: w, reply },
            outcome: Some(Ok(())),
        };
        self.writes.insert(write, barrier);
    }
}

/// A refused heartbeat.
fn refusal(code: ErrorCode, message: Option<String>) -> ConsumerHeartbeatResult {
    ConsumerHeartbeatResult {
        error_code: code,
        error_message: message,
        member_id: None,
        member_epoch: 0,
        heartbeat_interval_ms: 0,
        assignment: None,
    }
}

/// A member id the coordinator makes for a v0 member (Kafka: a random UUID).
fn random_id(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
#[path = "shard_consumer_tests.rs"]
mod tests;
