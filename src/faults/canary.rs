//! Planted bugs: the simulator switches one on to prove its checker catches it.

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canary {
    /// acks=all is answered right after the append, before the fsync that makes it durable.
    AckBeforeFsync,
    /// The first append after a partition is opened is acknowledged one offset too low,
    /// reusing an offset that already holds another record.
    ReuseOffsetAfterRecovery,
    /// Idempotent retries are appended again instead of being recognised as duplicates.
    SkipIdempotenceCheck,
    /// Opening a partition after a restart drops its last batch.
    DropLastBatchOnRestart,
    /// A produce waiting on a sync that failed is acknowledged anyway (as if the retried
    /// fsync, which succeeds after fsyncgate dropped the bytes, had made it durable).
    AckAfterFailedSync,
    /// Group commit: when a sync completes, a single one-record batch appended while it was in
    /// flight is acknowledged too, before its own bytes are synced (a hand-made bug that once
    /// survived 3,399 seeds of random crashes).
    AckUnsyncedSingleRecord,
    /// The group coordinator answers an OffsetCommit (and applies it) as soon as it issues
    /// the Append to `__consumer_offsets`, before the Append is acknowledged.
    AckCommitBeforeAppend,
    /// A classic group's join phase completes without moving the generation on, so after a
    /// member change two members can own one partition in one generation.
    GroupTwoOwnersOneGeneration,
    /// The coordinator's load of an `__consumer_offsets` partition starts at the log end
    /// instead of the log start: after a failover or a restart every commit is forgotten.
    GroupForgetOnFailover,
    /// The coordinator's load keeps the first commit of a group-partition it replays instead
    /// of the last (commits applied out of order): after a restart a committed offset goes
    /// back to an older one without any reset.
    GroupReplayOldestCommit,
    /// The log cleaner's key map keeps each key's first offset instead of its last, so a
    /// clean keeps an older value and removes the latest one.
    CleanKeepsOldestValue,
    /// A consumer-protocol (KIP-848) group hands a partition to its new owner while the
    /// previous owner has not revoked it yet: two members read it at once.
    ConsumerAssignUnreleased,
    /// Offset retention ages a classic group's offsets from its last state change as if it
    /// were Empty, members or not: a Stable group's commits expire under its members.
    RetentionIgnoresMembers,
    /// A controller quorum's candidate counts its own vote as a majority: every voter elects
    /// itself, so one epoch has several leaders and the cluster several ids.
    QuorumSelfMajority,
    /// The quorum's leader forgets every heartbeat: it fences each broker a session after it
    /// took over, however alive (and unfences it at its next heartbeat).
    HeartbeatsIgnored,
    /// A voter grants a second vote in a term it already voted in (the model checker's
    /// `PlantedBug::VoteTwice`).
    RaftVoteTwice,
    /// The quorum's leader starts every producer-id block at the applied image's next id,
    /// ignoring blocks still in flight, and answers a block whose record did not apply as
    /// granted: two brokers asking at once hand out the same producer ids.
    ProducerIdsReused,
    /// A voter feeds its broker's topics actor the applied topics only while it leads the
    /// quorum: a broker whose voter follows never learns a topic, and lists none.
    TopicsFeedSkipped,
    /// A leader change keeps the partition's leader epoch (`controller/metadata/apply.rs`),
    /// so one epoch names two leaderships: caught as two leaders in one partition epoch.
    LeaderEpochKept,
    /// Every voter takes the entries it has as committed before a majority has them: a
    /// leader its own proposals, a follower what the leader sent, whatever the leader's commit
    /// index says (`controller/raft/core.rs`); a leader cut off applies entries its successor
    /// replaces. Caught as two nodes that applied different entries at one index.
    RaftApplyUncommitted,
    /// The leader counts its observers (broker-only nodes, which hold no vote) as voters: in
    /// the commit majority and in check-quorum (`controller/raft/core.rs` `advance_commit`,
    /// `has_quorum_contact`). A leader cut off from the other voters but not from an observer
    /// stays leader, commits what only the two of them hold (fencing the brokers it no longer
    /// hears), and the leader the voters elect meanwhile commits other entries at those
    /// indexes. Caught as two nodes that applied different entries at one index.
    ObserverCountedInMajority,
    /// A replica takes client writes whatever its role (`partition/replica.rs` `produce`):
    /// a broker the controller fenced (its partitions led by nobody, in a new leader epoch)
    /// still appends what clients with an old Metadata send it. Caught as a broker that
    /// appended client records in a leader epoch it did not lead.
    WritesWithoutLeadership,
    /// A voter sends the vote it granted before the vote is synced (`controller/raft/node.rs`
    /// `sends_early`; the model checker's `PlantedBug::VoteBeforePersist`): a power failure
    /// right after forgets it, and the voter votes again in the same term for a rival
    /// candidate. Caught as two leaders of one epoch.
    RaftVoteUnsynced,
    /// A leader commits an entry of an earlier term by counting its replicas (Raft §5.4.2,
    /// Figure 8; `controller/raft/core.rs` `advance_commit`; the model checker's
    /// `PlantedBug::CommitOldTerm`).
    RaftCommitOldTerm,
    /// A broker ignores the topic ids its partition directories record: it opens a partition
    /// in whatever directory has its name (`partition/actor.rs` `foreign_dir`) and removes no
    /// stray directory (`remove_strays`), so a topic deleted while the broker was down and
    /// created again under its name opens with the deleted topic's records. Caught as a first
    /// open of a topic id that found records. (With the strays removed at start-up, the
    /// check at the open alone is rarely needed: 1 of seeds 1..=40.)
    TopicIdIgnored,
    /// A broker removes no stray directory (`partition/actor.rs` `remove_strays`): the
    /// partition directories of a topic deleted while it was down stay on its disk for good.
    /// Caught as a broker still holding a deleted topic's directories after the run.
    StrayDirsKept,
    /// A leader's high watermark ignores its followers (`partition/role.rs`
    /// `maybe_advance_hw`): it is the leader's own log end, so acks=all is answered before
    /// the in-sync followers have the record, and a failover to one of them loses it (issue 14:
    /// "advance the HW before a follower has the data"). Caught as an acknowledged record
    /// lost.
    HwIgnoresFollowers,
    /// The controller elects a partition leader outside the ISR although unclean election is
    /// off (`controller/metadata/election.rs` `choose_leader`): the first acceptable replica in
    /// assignment order leads, in sync or not, and the others truncate to its log (issue 14:
    /// "elect a leader outside the ISR"). Caught as an acknowledged record lost.
    LeaderOutsideIsr,
    /// A follower stamps the leader epoch it follows in onto the batches it copies
    /// (`partition/replica.rs` `append_as_follower`) instead of storing them as the leader
    /// wrote them: a batch of an earlier leadership, copied while catching up, names the wrong
    /// epoch, and truncation by epoch (KIP-101/279) goes by a history that never was. Caught
    /// as replicas that disagree after healing (nothing a client reads shows it).
    FollowerStampsItsEpoch,
    /// The controller completes a reassignment before its added replicas caught up
    /// (`controller/metadata/reassign.rs` `complete`): the target is taken as the ISR, so a
    /// leader that leaves hands over to a replica that lacks records (issue 14: "the new
    /// replicas catch up before the old ones are removed"). Caught as an acknowledged record
    /// lost.
    ReassignmentCompletesEarly,
    /// A follower cuts its log to its high watermark at every new leadership and after every
    /// open (`partition/actor.rs` `follow`), as followers did before KIP-101, instead of
    /// truncating by leader epoch: what it fetched past its high watermark goes, and if it is
    /// elected before it fetches again, acknowledged records go with it (issue 14: "truncate
    /// to the HW instead of by epoch"; KAFKA-1211). Caught as an acknowledged record lost.
    TruncateToHw,
    /// A leader acknowledges acks=all with fewer in-sync replicas than min.insync.replicas:
    /// it appends without NOT_ENOUGH_REPLICAS and its high watermark moves as if the ISR were
    /// enough (issue 14: "acknowledge acks=all with |ISR| < min.isr"; KAFKA-15583). A record
    /// so acknowledged is on the leader alone; when that leader loses it (a crash before its
    /// sync, its disk), the eligible leader replica elected instead lacks it. Caught as an
    /// acknowledged record lost with fewer than min.insync.replicas brokers crashed.
    AckUnderMinIsr,
    /// A broker keeps the replication throttles it had when the metadata clears them (each
    /// rate and each throttled topic; `partition/actor.rs` `set_throttles`; Kafka's
    /// `removeThrottle`): a follower out of the ISR keeps catching up at the throttle's rate
    /// after the move is over. Caught as replicas that still end apart after healing.
    ThrottleNotReleased,
    /// A write of the cluster-wide `min.insync.replicas` keeps every eligible leader replica
    /// (`controller/metadata/eligible.rs`; Kafka clears them all, KIP-966): a replica that
    /// became eligible while the high watermark was frozen under a larger value stays eligible
    /// after a smaller one lets it advance without that replica, and may be elected missing
    /// acknowledged records. Caught as an acknowledged record lost with no broker's data lost.
    ElrKeptOnMinIsrChange,
    /// The last stable offset is one past the first offset of the earliest open transaction
    /// instead of that offset (`partition/txn_state.rs` `last_stable_offset`; Redpanda #3036,
    /// the LSO taken as inclusive): a transaction's first batch, when it is a single record, is
    /// served to read_committed consumers before the transaction is decided. Caught as a
    /// read_committed read of a transaction that then aborted, or whose commit was not sent
    /// yet.
    LsoInclusive,
    /// The transaction coordinator completes a transaction with one partition's marker never
    /// sent (`txn/markers.rs`: the job's last partition is dropped when it is taken): that
    /// partition's transaction stays open (its LSO never passes it) while the coordinator
    /// moves on. Caught as a transaction left open after healing, or a committed one partly
    /// visible.
    MarkerSkipsPartition,
    /// A partition leader takes a transactional batch of a fenced (older) producer epoch: the
    /// epoch check lets it through (`partition/producer_state.rs` `check`) and, where the
    /// producer's newer transaction is open there, so does KIP-890's verification
    /// (`partition/actor.rs` `unverified`), as in a broker that fences zombies by neither.
    /// Caught as a zombie's write (a given-up transaction's, sent after its producer took a
    /// new epoch) read by read_committed consumers.
    FencedEpochAccepted,
    /// The group coordinator commits a TxnOffsetCommit's offsets as soon as they are written
    /// (`group/offsets.rs` `Offsets::written`) instead of keeping them pending in the
    /// transaction until its COMMIT marker: an aborted transaction's offsets stay committed.
    /// Caught as a consume-transform-produce worker's input skipped: an aborted round's
    /// offsets advance, and its records are never transformed (not exactly-once).
    TxnOffsetsAppliedEarly,
    /// A SASL/PLAIN login of a user the listener's JAAS config names is accepted whatever the
    /// password (`security/plain.rs` `check` compares nothing but the user name). Caught as
    /// an authentication bypass: a workload connection's login with a wrong password let in.
    SaslAnyPlainPassword,
    /// Every authorization check allows (`broker/authorize.rs` `Access::decide` and
    /// `allows_some`), as if no ACL ever denied anything: a principal without an ACL writes,
    /// reads and joins groups. Caught as an authorization bypass: the `--sasl` intruder's
    /// request (as a PLAIN user with no ACL, not a super user) answered as allowed.
    AclsIgnored,
    /// A Produce or Fetch over its client quota gets its throttle computed and reported in
    /// `throttle_time_ms`, but the connection is never muted (`broker/throttle.rs`
    /// `Throttle::muted`): a client that ignores the field (pre-KIP-219) is not held at all.
    /// Caught as the simulator's quota producer answered more bytes than its quota allows.
    QuotaChannelUnmuted,
    /// A voter applies the client quota records but never publishes the client quotas to its
    /// node's gateway (`controller/quorum.rs` `feed_topics`): the AlterClientQuotas is still
    /// acknowledged, but no broker enforces or describes the change. Caught as a broker
    /// describing the simulator's quota client without the quota well after healing.
    QuotaNotPublished,
}

impl Canary {
    pub const ALL: [Canary; 42] = [
        Canary::AckBeforeFsync,
        Canary::ReuseOffsetAfterRecovery,
        Canary::SkipIdempotenceCheck,
        Canary::DropLastBatchOnRestart,
        Canary::AckAfterFailedSync,
        Canary::AckUnsyncedSingleRecord,
        Canary::AckCommitBeforeAppend,
        Canary::GroupTwoOwnersOneGeneration,
        Canary::GroupForgetOnFailover,
        Canary::GroupReplayOldestCommit,
        Canary::CleanKeepsOldestValue,
        Canary::ConsumerAssignUnreleased,
        Canary::RetentionIgnoresMembers,
        Canary::QuorumSelfMajority,
        Canary::HeartbeatsIgnored,
        Canary::RaftVoteTwice,
        Canary::ProducerIdsReused,
        Canary::TopicsFeedSkipped,
        Canary::LeaderEpochKept,
        Canary::RaftApplyUncommitted,
        Canary::ObserverCountedInMajority,
        Canary::WritesWithoutLeadership,
        Canary::RaftVoteUnsynced,
        Canary::RaftCommitOldTerm,
        Canary::TopicIdIgnored,
        Canary::StrayDirsKept,
        Canary::HwIgnoresFollowers,
        Canary::LeaderOutsideIsr,
        Canary::FollowerStampsItsEpoch,
        Canary::ReassignmentCompletesEarly,
        Canary::TruncateToHw,
        Canary::AckUnderMinIsr,
        Canary::ThrottleNotReleased,
        Canary::ElrKeptOnMinIsrChange,
        Canary::LsoInclusive,
        Canary::MarkerSkipsPartition,
        Canary::FencedEpochAccepted,
        Canary::TxnOffsetsAppliedEarly,
        Canary::SaslAnyPlainPassword,
        Canary::AclsIgnored,
        Canary::QuotaChannelUnmuted,
        Canary::QuotaNotPublished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Canary::AckBeforeFsync => "ack-before-fsync",
            Canary::ReuseOffsetAfterRecovery => "reuse-offset-after-recovery",
            Canary::SkipIdempotenceCheck => "skip-idempotence-check",
            Canary::DropLastBatchOnRestart => "drop-last-batch-on-restart",
            Canary::AckAfterFailedSync => "ack-after-failed-sync",
            Canary::AckUnsyncedSingleRecord => "ack-unsynced-single-record",
            Canary::AckCommitBeforeAppend => "ack-commit-before-append",
            Canary::GroupTwoOwnersOneGeneration => "group-two-owners-one-generation",
            Canary::GroupForgetOnFailover => "group-forget-on-failover",
            Canary::GroupReplayOldestCommit => "group-replay-oldest-commit",
            Canary::CleanKeepsOldestValue => "clean-keeps-oldest-value",
            Canary::ConsumerAssignUnreleased => "consumer-assign-unreleased",
            Canary::RetentionIgnoresMembers => "retention-ignores-members",
            Canary::QuorumSelfMajority => "quorum-self-majority",
            Canary::HeartbeatsIgnored => "heartbeats-ignored",
            Canary::RaftVoteTwice => "raft-vote-twice",
            Canary::ProducerIdsReused => "producer-ids-reused",
            Canary::TopicsFeedSkipped => "topics-feed-skipped",
            Canary::LeaderEpochKept => "leader-epoch-kept",
            Canary::RaftApplyUncommitted => "raft-apply-uncommitted",
            Canary::ObserverCountedInMajority => "observer-counted-in-majority",
            Canary::WritesWithoutLeadership => "writes-without-leadership",
            Canary::RaftVoteUnsynced => "raft-vote-unsynced",
            Canary::RaftCommitOldTerm => "raft-commit-old-term",
            Canary::TopicIdIgnored => "topic-id-ignored",
            Canary::StrayDirsKept => "stray-dirs-kept",
            Canary::HwIgnoresFollowers => "hw-ignores-followers",
            Canary::LeaderOutsideIsr => "leader-outside-isr",
            Canary::FollowerStampsItsEpoch => "follower-stamps-its-epoch",
            Canary::ReassignmentCompletesEarly => "reassignment-completes-early",
            Canary::TruncateToHw => "truncate-to-hw",
            Canary::AckUnderMinIsr => "ack-under-min-isr",
            Canary::ThrottleNotReleased => "throttle-not-released",
            Canary::ElrKeptOnMinIsrChange => "elr-kept-on-min-isr-change",
            Canary::LsoInclusive => "lso-inclusive",
            Canary::MarkerSkipsPartition => "marker-skips-partition",
            Canary::FencedEpochAccepted => "fenced-epoch-accepted",
            Canary::TxnOffsetsAppliedEarly => "txn-offsets-applied-early",
            Canary::SaslAnyPlainPassword => "sasl-any-plain-password",
            Canary::AclsIgnored => "acls-ignored",
            Canary::QuotaChannelUnmuted => "quota-channel-unmuted",
            Canary::QuotaNotPublished => "quota-not-published",
        }
    }

    pub fn from_name(name: &str) -> Option<Canary> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// One bit of a `u64` each (a 33rd canary outgrew a `u32`).
    #[cfg(madsim)]
    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

#[cfg(madsim)]
thread_local! {
    /// One simulation runs on one thread, so a thread-local keeps parallel runs apart.
    static CANARIES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Switches the planted bug on for this simulation thread (simulation builds only).
#[cfg(madsim)]
pub fn set_canary(canary: Option<Canary>) {
    CANARIES.with(|c| c.set(canary.map_or(0, Canary::bit)));
}

/// Whether the planted bug is on. Always `false` outside simulation.
#[inline]
pub fn canary(canary: Canary) -> bool {
    #[cfg(madsim)]
    {
        CANARIES.with(|c| c.get() & canary.bit() != 0)
    }
    #[cfg(not(madsim))]
    {
        let _ = canary;
        false
    }
}
