//! A consumer group: the group epoch, the target assignment, the members, and the heartbeat
//! that moves them (Kafka's `GroupMetadataManager.consumerGroupHeartbeat` and its timers).
//!
//! The group epoch goes up whenever what the assignment depends on changes: a member joins or
//! leaves, a subscription changes, or a subscribed topic's partitions change. The target
//! assignment is recomputed at once (the assignors are fast and pure), so the target epoch is
//! always the group epoch after a step; members then reconcile toward it one heartbeat at a
//! time (see [`super::reconcile`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::group::assign::{
    AssignInput, Assignment, MemberSpec, ServerAssignor, TargetAssignment, TopicId,
};
use crate::group::delete::Subscribed;
use crate::group::output::Clock;
use crate::limits::CONSUMER_SUBSCRIPTION_BYTES_MAX;
use crate::messages::groups::{
    ConsumerGroupDescription, ConsumerHeartbeatArgs, ConsumerHeartbeatResult,
    ConsumerMemberDescription,
};
use crate::types::ErrorCode;

use super::member::{ConsumerMember, MemberState};
use super::reconcile::reconcile;
use super::settings::ConsumerSettings;
use super::topic_regex::RegexCache;
use super::{LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH};

/// A topic as the group sees it: its id and partition count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub id: TopicId,
    pub partitions: i32,
}

/// The cluster's topics by name, as the heartbeat is given them.
pub type TopicView = BTreeMap<String, TopicInfo>;

/// A refused heartbeat: the code and Kafka's message.
type Refused = (ErrorCode, String);

/// The wire form of an assignment: (topic id, partitions) in topic id order.
pub type WireAssignment = Vec<([u8; 16], Vec<i32>)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub id: String,
    /// The group epoch.
    pub epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// The subscribed topics' metadata the target was computed from (Kafka's
    /// `ConsumerGroupPartitionMetadata`).
    pub subscribed_metadata: BTreeMap<String, TopicInfo>,
    /// The epoch of `target` (Kafka's assignment epoch).
    pub target_epoch: i32,
    pub target: BTreeMap<String, Assignment>,
    /// Which member holds each partition (assigned or revoking): derived from `members`.
    owners: BTreeMap<(TopicId, i32), String>,
    /// The assignor that computed `target` (`None` before the first, or after a load).
    last_assignor: Option<ServerAssignor>,
    /// Restored by a load, its topics' metadata not read yet (it is not a record).
    metadata_after_load: bool,
    /// The members' `SubscribedTopicRegex`es compiled, and the topics each matches.
    regexes: RegexCache,
}

impl ConsumerGroup {
    pub fn new(id: String) -> Self {
        Self {
            id,
            epoch: 0,
            members: BTreeMap::new(),
            subscribed_metadata: BTreeMap::new(),
            target_epoch: 0,
            target: BTreeMap::new(),
            owners: BTreeMap::new(),
            last_assignor: None,
            metadata_after_load: false,
            regexes: RegexCache::default(),
        }
    }

    /// A group rebuilt from its records (the owner index is derived again).
    pub fn restore(
        id: String,
        epoch: i32,
        target_epoch: i32,
        target: BTreeMap<String, Assignment>,
        members: Vec<ConsumerMember>,
    ) -> Self {
        let mut group = Self {
            epoch,
            target_epoch,
            target,
            metadata_after_load: true,
            ..Self::new(id)
        };
        for m in members {
            group.set_member(m);
        }
        group
    }

    /// Whether a commit with `member_epoch` from `member_id` may be stored (Kafka's
    /// `ConsumerGroup.validateOffsetCommit`): a commit from outside the group (epoch < 0, no
    /// member id) always; a member's only at its current epoch (a newer one is fenced, an older
    /// one stale: the member retries after its next heartbeat).
    pub fn commit_allowed(
        &self,
        member_epoch: i32,
        member_id: &str,
        api_version: i16,
    ) -> Result<(), ErrorCode> {
        if member_epoch < 0 && member_id.is_empty() && self.members.is_empty() {
            return Ok(()); // a tool's commit (a reset) to a group without members
        }
        let member = self
            .members
            .get(member_id)
            .ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
        if api_version < 9 {
            return Err(ErrorCode::UNSUPPORTED_VERSION);
        }
        self.epoch_matches(member, member_epoch)
    }

    /// OffsetFetch v9's check (Kafka's `ConsumerGroup.validateOffsetFetch`): an admin (no
    /// member id, a negative epoch; an empty id is taken as none) may fetch; a member must
    /// be one at its current epoch.
    pub fn fetch_allowed(
        &self,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        let member_id = member_id.filter(|id| !id.is_empty());
        let Some(member_id) = member_id else {
            return if member_epoch < 0 {
                Ok(())
            } else {
                Err(ErrorCode::UNKNOWN_MEMBER_ID)
            };
        };
        let member = (self.members.get(member_id)).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
        self.epoch_matches(member, member_epoch)
    }

    /// Kafka's `validateMemberEpoch`: any other epoch than the member's is stale.
    fn epoch_matches(&self, member: &ConsumerMember, member_epoch: i32) -> Result<(), ErrorCode> {
        if member_epoch == member.epoch {
            Ok(())
        } else {
            Err(ErrorCode::STALE_MEMBER_EPOCH)
        }
    }

    /// ConsumerGroupDescribe of this group.
    pub fn describe(&self) -> ConsumerGroupDescription {
        let members = (self.members.values())
            .map(|m| ConsumerMemberDescription {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                member_epoch: m.epoch,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.subscribed.iter().cloned().collect(),
                subscribed_topic_regex: m.subscribed_regex.clone(),
                assignment: to_wire(&m.assigned),
                target_assignment: to_wire(&self.target.get(&m.id).cloned().unwrap_or_default()),
            })
            .collect();
        ConsumerGroupDescription {
            group: self.id.clone(),
            error_code: ErrorCode::NONE,
            error_message: None,
            state: self.state_name().to_owned(),
            group_epoch: self.epoch,
            assignment_epoch: self.target_epoch,
            assignor: (self.last_assignor)
                .map_or("", ServerAssignor::name)
                .to_owned(),
            members,
        }
    }

    /// Kafka's consumer group state name, as ListGroups and describe report it.
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.target_epoch != self.epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.target_epoch || m.state != MemberState::Stable)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The patterns the group keeps compiled (for tests of its cache).
    #[cfg(test)]
    pub fn regexes_kept(&self) -> Vec<&str> {
        self.regexes.patterns()
    }

    /// The member holding a partition now, if any.
    pub fn owner(&self, topic: TopicId, partition: i32) -> Option<&str> {
        self.owners.get(&(topic, partition)).map(String::as_str)
    }

    /// The earliest member deadline (session or revocation), for the group's one timer.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.members.values().map(ConsumerMember::deadline_ms).min()
    }

    /// The group's timer fired: members past their session or revocation deadline are
    /// removed (fenced; their next heartbeat gets UNKNOWN_MEMBER_ID). Returns their ids.
    pub fn expire(&mut self, now: Clock, s: &ConsumerSettings) -> Vec<String> {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.deadline_ms() <= now.mono_ms)
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id);
        }
        if !expired.is_empty() {
            self.bump(s);
        }
        expired
    }

    /// One ConsumerGroupHeartbeat. `topics` is the cluster's topics now.
    pub fn heartbeat(
        &mut self,
        now: Clock,
        s: &ConsumerSettings,
        topics: &TopicView,
        client: (&str, &str),
        req: &ConsumerHeartbeatArgs,
    ) -> ConsumerHeartbeatResult {
        let result = validate(s, req).and_then(|()| match req.member_epoch {
            LEAVE_GROUP_MEMBER_EPOCH | LEAVE_GROUP_STATIC_MEMBER_EPOCH => {
                self.leave(s, topics, req)
            }
            _ => self.join_or_heartbeat(now, s, topics, client, req),
        });
        result.unwrap_or_else(|(code, message)| ConsumerHeartbeatResult {
            error_code: code,
            error_message: Some(message),
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    fn leave(
        &mut self,
        s: &ConsumerSettings,
        topics: &TopicView,
        req: &ConsumerHeartbeatArgs,
    ) -> Result<ConsumerHeartbeatResult, Refused> {
        let member = self.members.get_mut(&req.member_id).ok_or_else(|| {
            let msg = format!(
                "Member {} is not a member of group {}.",
                req.member_id, self.id
            );
            (ErrorCode::UNKNOWN_MEMBER_ID, msg)
        })?;
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH && member.instance_id.is_some() {
            // A static member away for now: its partitions wait for it (or for its session to
            // end); nothing the assignment depends on changed.
            if member.epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
                member.previous_epoch = member.epoch;
                member.epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
            }
        } else {
            self.remove_member(&req.member_id);
            // The new target is computed from the topics as they are now (Kafka's leave reads
            // its metadata image), not from what a load left unknown.
            self.refresh_metadata(s, topics);
            self.bump(s);
        }
        Ok(ConsumerHeartbeatResult {
            error_code: ErrorCode::NONE,
            error_message: None,
            member_id: Some(req.member_id.clone()),
            member_epoch: req.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        })
    }

    fn join_or_heartbeat(
        &mut self,
        now: Clock,
        s: &ConsumerSettings,
        topics: &TopicView,
        client: (&str, &str),
        req: &ConsumerHeartbeatArgs,
    ) -> Result<ConsumerHeartbeatResult, Refused> {
        let owned = req.owned.as_ref().map(|o| to_assignment(o));
        // A pattern new to the group must compile (Kafka's `throwIfRegularExpressionIsInvalid`),
        // checked before the member is touched: a refusal changes nothing.
        let regex = (req.subscribed_topic_regex.as_deref()).map(|r| (!r.is_empty()).then_some(r));
        if let Some(Some(pattern)) = regex {
            // A pattern no member holds now is new to the group again (Kafka drops a regex's
            // resolution with its last member): matched from the next heartbeat on.
            // The member's own steady heartbeat is the common case: no scan of the group.
            let holds = |m: &ConsumerMember| m.subscribed_regex.as_deref() == Some(pattern);
            let in_use = self.members.get(&req.member_id).is_some_and(holds)
                || self.members.values().any(holds);
            if !in_use {
                self.regexes.forget(pattern);
            }
        }
        let compiled = match regex {
            Some(Some(pattern)) => (self.regexes.admit(pattern))
                .map_err(|msg| (ErrorCode::INVALID_REGULAR_EXPRESSION, msg))?
                .map(|compiled| (pattern, compiled)),
            _ => None,
        };
        let (before, mut member) = self.member_for(s, req, owned.as_ref())?;
        if let Some((pattern, compiled)) = compiled {
            self.regexes.keep(pattern, compiled);
        }
        let mut changed = before.is_none();
        if let Some(inst) = &req.instance_id {
            member.instance_id = Some(inst.clone());
        }
        if req.rack_id.is_some() {
            member.rack_id = req.rack_id.clone();
        }
        member.client_id = client.0.to_string();
        member.client_host = client.1.to_string();
        if req.rebalance_timeout_ms >= 0 {
            member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        if let Some(names) = &req.subscribed_topic_names {
            let names: BTreeSet<String> = names.iter().cloned().collect();
            changed |= names != member.subscribed;
            member.subscribed = names;
        }
        if let Some(pattern) = regex {
            changed |= member.subscribed_regex.as_deref() != pattern;
            member.subscribed_regex = pattern.map(str::to_owned);
        }
        if let Some(assignor) = &req.server_assignor {
            changed |= member.server_assignor.as_deref() != Some(assignor.as_str());
            member.server_assignor = Some(assignor.clone());
        }
        let id = member.id.clone();
        self.members.insert(id.clone(), member);
        changed |= self.refresh_metadata(s, topics);
        if changed || self.target_epoch != self.epoch {
            self.bump(s);
        }

        let current = self.members[&id].clone();
        let target = self.target.get(&id).cloned().unwrap_or_default();
        let mut next = reconcile(
            &current,
            self.target_epoch,
            &target,
            owned.as_ref(),
            |t, p| self.owners.get(&(t, p)).is_none_or(|o| *o == id),
        );
        next.session_deadline_ms = now.mono_ms + s.session_timeout_ms;
        next.revocation_deadline_ms = match next.state {
            MemberState::UnrevokedPartitions
                if current.state == MemberState::UnrevokedPartitions
                    && current.pending_revocation == next.pending_revocation =>
            {
                current.revocation_deadline_ms
            }
            MemberState::UnrevokedPartitions => {
                Some(now.mono_ms + next.rebalance_timeout_ms.max(0) as u64)
            }
            _ => None,
        };
        let full = req.member_epoch == 0 || owned.as_ref().is_some_and(|o| *o != next.assigned);
        let send = full
            || before
                .as_ref()
                .is_none_or(|b| b.assigned != next.assigned || b.epoch != next.epoch)
            || current.assigned != next.assigned;
        let reply = ConsumerHeartbeatResult {
            error_code: ErrorCode::NONE,
            error_message: None,
            member_id: Some(id.clone()),
            member_epoch: next.epoch,
            heartbeat_interval_ms: s.heartbeat_interval_ms,
            assignment: send.then(|| to_wire(&next.assigned)),
        };
        self.set_member(next);
        Ok(reply)
    }

    /// The member a heartbeat is for, checked against its epoch, and the member as it was
    /// (`None`: new to the group).
    fn member_for(
        &mut self,
        s: &ConsumerSettings,
        req: &ConsumerHeartbeatArgs,
        owned: Option<&Assignment>,
    ) -> Result<(Option<ConsumerMember>, ConsumerMember), Refused> {
        let epoch = req.member_epoch;
        let existing = self.members.get(&req.member_id).cloned();
        match existing {
            None if epoch == 0 => {
                if let Some(old) = self.static_member(req.instance_id.as_deref()) {
                    return self.replace_static(old, req);
                }
                if self.members.len() >= s.max_size {
                    let msg = format!(
                        "The consumer group has reached its maximum capacity of {} members.",
                        s.max_size
                    );
                    return Err((ErrorCode::GROUP_MAX_SIZE_REACHED, msg));
                }
                Ok((None, ConsumerMember::new(req.member_id.clone())))
            }
            None => Err((
                ErrorCode::UNKNOWN_MEMBER_ID,
                format!(
                    "Member {} is not a member of group {}.",
                    req.member_id, self.id
                ),
            )),
            Some(m) if epoch == 0 => {
                // A (re)join: the member says it owns nothing, so nothing is held for it.
                let mut m2 = m.clone();
                m2.previous_epoch = m.epoch.max(0);
                m2.epoch = 0;
                m2.state = MemberState::Stable;
                m2.assigned = Assignment::new();
                m2.pending_revocation = Assignment::new();
                m2.revocation_deadline_ms = None;
                self.set_member(m2.clone());
                Ok((Some(m), m2))
            }
            Some(m) => {
                let retry =
                    epoch == m.previous_epoch && owned.is_some_and(|o| is_subset(o, &m.assigned));
                if epoch > m.epoch || (epoch < m.epoch && !retry) {
                    let relation = if epoch > m.epoch {
                        "greater"
                    } else {
                        "smaller"
                    };
                    let msg = format!(
                        "The consumer group member has a {relation} member epoch ({epoch}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                        m.epoch
                    );
                    return Err((ErrorCode::FENCED_MEMBER_EPOCH, msg));
                }
                Ok((Some(m.clone()), m))
            }
        }
    }

    /// The static member with `instance_id`, if any.
    fn static_member(&self, instance_id: Option<&str>) -> Option<ConsumerMember> {
        let inst = instance_id?;
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(inst))
            .cloned()
    }

    /// A static member back under a new member id: it takes over the old one's epoch and
    /// partitions, unless the old one is still active (UNRELEASED_INSTANCE_ID).
    fn replace_static(
        &mut self,
        old: ConsumerMember,
        req: &ConsumerHeartbeatArgs,
    ) -> Result<(Option<ConsumerMember>, ConsumerMember), Refused> {
        if old.epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH {
            let msg = format!(
                "Static member {} with instance id {} is not released yet.",
                old.id,
                old.instance_id.as_deref().unwrap_or("")
            );
            return Err((ErrorCode::UNRELEASED_INSTANCE_ID, msg));
        }
        self.remove_member(&old.id);
        let mut m = old.clone();
        m.id = req.member_id.clone();
        m.epoch = old.previous_epoch;
        if let Some(t) = self.target.remove(&old.id) {
            self.target.insert(m.id.clone(), t);
        }
        self.set_member(m.clone());
        let before = Some(m.clone());
        Ok((before, m))
    }

    /// Stores `member`, moving its partitions in the owner index.
    fn set_member(&mut self, member: ConsumerMember) {
        self.owners.retain(|_, o| *o != member.id);
        for tp in member.held() {
            self.owners.insert(tp, member.id.clone());
        }
        self.members.insert(member.id.clone(), member);
    }

    fn remove_member(&mut self, id: &str) {
        self.owners.retain(|_, o| o != id);
        self.members.remove(id);
        self.target.remove(id);
    }

    /// Re-reads the subscribed topics' metadata; whether it changed. The first read after a
    /// load has nothing to compare with (Kafka keeps a hash of it in the group epoch record; this
    /// coordinator does not write that tagged field), so it counts as a change only if the
    /// target it gives differs from the restored one: a restart alone starts no new epoch.
    fn refresh_metadata(&mut self, s: &ConsumerSettings, topics: &TopicView) -> bool {
        let patterns = (self.members.values()).filter_map(|m| m.subscribed_regex.as_deref());
        self.regexes.resolve(patterns, topics);
        let subscribed: BTreeSet<&String> = (self.members.values())
            .flat_map(|m| self.member_topics(m))
            .collect();
        let now: BTreeMap<String, TopicInfo> = subscribed
            .into_iter()
            .filter_map(|name| topics.get(name).map(|t| (name.clone(), *t)))
            .collect();
        let changed = now != self.subscribed_metadata;
        self.subscribed_metadata = now;
        if std::mem::take(&mut self.metadata_after_load) {
            return self.compute_target(s).1 != self.target;
        }
        changed
    }

    /// A new group epoch and its target assignment. Since a load, until a heartbeat has read
    /// the subscribed topics' metadata (a session that expires first, say), the target waits:
    /// computed from no metadata it would assign nothing, and every member would give up its
    /// partitions for a heartbeat (seed 1595). The epoch moves on alone (Kafka writes the two
    /// epochs as separate records, and a group epoch ahead of the assignment epoch is what it
    /// shows between a change and its target), and the next heartbeat computes the target.
    fn bump(&mut self, s: &ConsumerSettings) {
        self.epoch += 1;
        if self.metadata_after_load {
            return;
        }
        let (assignor, target) = self.compute_target(s);
        self.last_assignor = Some(assignor);
        self.target = target;
        self.target_epoch = self.epoch;
    }

    /// The target assignment of the members and metadata as they are, and its assignor.
    fn compute_target(&self, s: &ConsumerSettings) -> (ServerAssignor, TargetAssignment) {
        let assignor = self.assignor(s);
        let input = AssignInput {
            members: self
                .members
                .iter()
                .map(|(id, m)| {
                    let subscribed = (self.member_topics(m))
                        .filter_map(|n| self.subscribed_metadata.get(n).map(|t| t.id))
                        .collect();
                    let current = self.target.get(id).cloned().unwrap_or_default();
                    (
                        id.clone(),
                        MemberSpec {
                            subscribed,
                            current,
                        },
                    )
                })
                .collect(),
            partitions: self
                .subscribed_metadata
                .values()
                .map(|t| (t.id, t.partitions))
                .collect(),
        };
        (assignor, assignor.assign(&input))
    }

    /// The assignor the members ask for most (ties in the configured order), else the first
    /// configured (Kafka's `ConsumerGroup.computePreferredServerAssignor`).
    pub fn assignor(&self, s: &ConsumerSettings) -> ServerAssignor {
        let mut votes: BTreeMap<ServerAssignor, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m
                .server_assignor
                .as_deref()
                .and_then(ServerAssignor::from_name)
            {
                *votes.entry(a).or_default() += 1;
            }
        }
        let default = s
            .assignors
            .first()
            .copied()
            .unwrap_or(ServerAssignor::Uniform);
        let mut best: Option<(usize, ServerAssignor)> = None;
        for &a in &s.assignors {
            let n = votes.get(&a).copied().unwrap_or(0);
            if n > 0 && best.is_none_or(|(m, _)| n > m) {
                best = Some((n, a));
            }
        }
        best.map_or(default, |(_, a)| a)
    }
}

impl ConsumerGroup {
    /// Every topic some member subscribes to (what retention and OffsetDelete leave alone):
    /// by name, or matched by its pattern at the last heartbeat. A group just loaded has
    /// matched nothing yet (its members' next heartbeats resolve their patterns): until then a
    /// member with a pattern may subscribe to anything, so nothing of the group expires and
    /// OffsetDelete is refused as for a subscribed topic.
    pub fn subscribed(&self) -> Subscribed {
        let unresolved = (self.members.values())
            .filter_map(|m| m.subscribed_regex.as_deref())
            .any(|p| !self.regexes.is_resolved(p));
        if unresolved {
            return Subscribed::Everything;
        }
        Subscribed::Topics(self.subscribed_topics())
    }

    /// The topics of [`Self::subscribed`], patterns as matched at the last heartbeat.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        (self.members.values())
            .flat_map(|m| self.member_topics(m))
            .cloned()
            .collect()
    }

    /// The topics `m` subscribes to: its names and what its pattern matched (Kafka's
    /// subscription is their union), possibly with repeats.
    fn member_topics<'a>(&'a self, m: &'a ConsumerMember) -> impl Iterator<Item = &'a String> {
        let matched = (m.subscribed_regex.as_deref()).map(|p| self.regexes.topics(p));
        m.subscribed.iter().chain(matched.into_iter().flatten())
    }
}

/// Kafka's request checks (`throwIfConsumerGroupHeartbeatRequestIsInvalid`).
fn validate(s: &ConsumerSettings, req: &ConsumerHeartbeatArgs) -> Result<(), Refused> {
    let invalid = |m: &str| Err((ErrorCode::INVALID_REQUEST, m.to_string()));
    if req.member_id.is_empty() {
        return invalid("MemberId can't be empty.");
    }
    // The group's records hold these as strings with an i16 length (the request's are
    // flexible, longer): one that does not fit could not be written after the group changed.
    let fields = [
        Some(&req.group),
        Some(&req.member_id),
        req.instance_id.as_ref(),
    ];
    let fields = fields.into_iter().chain([
        req.rack_id.as_ref(),
        req.server_assignor.as_ref(),
        req.subscribed_topic_regex.as_ref(),
    ]);
    let names = req.subscribed_topic_names.iter().flatten();
    if fields
        .flatten()
        .chain(names)
        .any(|f| f.len() > i16::MAX as usize)
    {
        return invalid("A string field is longer than 32767 bytes.");
    }
    let subscription_bytes: usize = req
        .subscribed_topic_names
        .iter()
        .flatten()
        .map(String::len)
        .sum();
    if subscription_bytes > CONSUMER_SUBSCRIPTION_BYTES_MAX {
        return invalid("SubscribedTopicNames is too large.");
    }
    match req.member_epoch {
        0 => {
            if req.rebalance_timeout_ms < 0 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            // Kafka 4.x takes an empty list of names or an empty pattern: a member subscribed
            // to nothing yet.
            if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                return invalid(
                    "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
                );
            }
            if req
                .owned
                .as_ref()
                .is_some_and(|o| o.iter().any(|(_, ps)| !ps.is_empty()))
            {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
        }
        LEAVE_GROUP_STATIC_MEMBER_EPOCH if req.instance_id.is_none() => {
            return invalid("InstanceId can't be null.");
        }
        e if e < LEAVE_GROUP_STATIC_MEMBER_EPOCH => return invalid("MemberEpoch is invalid."),
        _ => {}
    }
    if let Some(name) = req.server_assignor.as_deref() {
        let known = ServerAssignor::from_name(name).is_some_and(|a| s.assignors.contains(&a));
        if !known {
            let msg = format!("ServerAssignor {name} is not supported.");
            return Err((ErrorCode::UNSUPPORTED_ASSIGNOR, msg));
        }
    }
    Ok(())
}

fn to_assignment(wire: &[([u8; 16], Vec<i32>)]) -> Assignment {
    let mut a = Assignment::new();
    for (t, ps) in wire {
        if !ps.is_empty() {
            a.entry(*t).or_default().extend(ps.iter().copied());
        }
    }
    a
}

pub fn to_wire(a: &Assignment) -> WireAssignment {
    a.iter()
        .map(|(t, ps)| (*t, ps.iter().copied().collect()))
        .collect()
}

fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .all(|(t, ps)| b.get(t).is_some_and(|bs| ps.is_subset(bs)))
}
