//! The Jepsen-style history of one run: every fault, every send (invoke and outcome), every
//! poll, and the final drained read — with simulated timestamps. The checker reads only this.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// How a send ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Acknowledged at this offset (a batch's record `i` is recorded at its base offset + `i`).
    Ok { offset: i64 },
    /// Definitely not written (every attempt got an error answer).
    Fail { code: i16 },
    /// May or may not have been written (a timeout or a lost connection on some attempt).
    Unknown { why: String },
}

/// How a transaction ended, as its producer knows it (`workload::txn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOutcome {
    /// EndTxn answered NONE: the commit (or abort) is decided.
    Ok,
    /// EndTxn answered this error on every attempt: the end it asked for did not happen (a
    /// commit so refused never commits; the coordinator aborts the transaction).
    Fail { code: i16 },
    /// Some attempt had no answer (or an error came after such an attempt): the end asked for
    /// may or may not have happened.
    Unknown { why: String },
    /// No EndTxn was sent: the producer gave the transaction up (a write failed, it was
    /// fenced, or it stopped) and took a new epoch or left, which aborts it.
    Abandoned { why: String },
}

/// How one produce request (one attempt of its batches) ended, for the liveness check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestEnd {
    /// The broker answered with this error code (0: success).
    Answer { code: i16 },
    /// acks=0: no answer comes by design.
    NoAnswerExpected,
    /// The client closed the connection on purpose (chaos: mid-request or before the answer).
    ClientDropped,
    /// No answer: the call timed out or the connection failed.
    Lost { why: String },
}

/// What a SASL login (`crate::sasl`) proved with: the right name and password, a wrong one, or
/// nothing at all (a request sent without authenticating).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// A user the broker knows, with that user's password.
    Right,
    /// A user the broker knows (PLAIN's from the listener's JAAS users; SCRAM's once created),
    /// with a wrong password.
    WrongPassword,
    /// A user the broker does not know.
    UnknownUser,
    /// No SASL exchange: a Metadata request sent first, which the broker must not answer.
    Unauthenticated,
}

/// How a login ended, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The broker accepted (its last SaslAuthenticate answered NONE; SCRAM's server signature
    /// checked out). For [`Credentials::Unauthenticated`]: the request was answered.
    Ok,
    /// SCRAM: the broker accepted, but its server-final message does not prove it knew the
    /// credential (the signature differs, or it is not one).
    AcceptedUnproven,
    /// The broker answered this error code (SaslHandshake's or SaslAuthenticate's); the
    /// connection closes after it.
    Refused { code: i16 },
    /// A SASL answer that is not one (SCRAM's server-first message does not parse or fails
    /// the client's checks).
    Malformed { why: String },
    /// No answer: timed out, reset, or closed (a broker killed mid-exchange; for
    /// [`Credentials::Unauthenticated`] the broker closing the connection, as it must).
    NoAnswer { why: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A producer's settings, recorded before its first send. A producer without one is taken
    /// to have acks=all and the run's idempotence (hand-written histories).
    Producer {
        producer: u32,
        partition: i32,
        acks: i16,
        idempotent: bool,
    },
    /// A produce request was written; `request` numbers a producer's requests.
    Request {
        producer: u32,
        request: u64,
        acks: i16,
    },
    /// How that request ended.
    Answered {
        producer: u32,
        request: u64,
        end: RequestEnd,
    },
    /// A consumer moved back on purpose to re-read (log start or an offset it already read).
    Seek {
        consumer: u32,
        partition: i32,
        from: i64,
        to: i64,
    },
    /// An idempotent producer got a (new) identity from InitProducerId.
    Identity {
        producer: u32,
        producer_id: i64,
        epoch: i16,
    },
    Config(String),
    /// What the run's configuration claims to survive (`checker::claims`).
    Claims(String),
    Fault {
        kind: &'static str,
        detail: String,
    },
    /// A named fault point fired on broker `node` (`rill::faults::points`).
    FaultPoint {
        name: &'static str,
        node: u64,
        detail: String,
    },
    Send {
        producer: u32,
        partition: i32,
        value: String,
    },
    Sent {
        producer: u32,
        partition: i32,
        value: String,
        outcome: SendOutcome,
    },
    Poll {
        consumer: u32,
        partition: i32,
        offset: i64,
        value: String,
    },
    /// The consumer's position changed for a reason other than reading (offset out of range).
    Reset {
        consumer: u32,
        partition: i32,
        from: i64,
        to: i64,
    },
    Healed,
    /// A bit flip at rest destroyed this batch of a partition's log (disk faults): its
    /// records may be lost, and their offsets reused, without a violation.
    DamagedBatch {
        partition: i32,
        first_offset: i64,
        last_offset: i64,
    },
    FinalRead {
        partition: i32,
        log_start: i64,
        high_watermark: i64,
        records: Vec<(i64, String)>,
    },
    /// Liveness: the final read did not complete in time.
    FinalReadTimedOut {
        partition: i32,
        detail: String,
    },
    /// A group member's JoinGroup succeeded (`workload::groups`).
    GroupJoined {
        member: u32,
        member_id: String,
        generation: i32,
    },
    /// A group member's SyncGroup answered these partitions for `generation`.
    GroupAssigned {
        member: u32,
        generation: i32,
        partitions: Vec<i32>,
    },
    /// A member's Heartbeat (classic), SyncGroup or OffsetCommit was answered NONE: it is in
    /// the group as `member_id`.
    GroupAlive {
        member: u32,
        member_id: String,
    },
    /// A consumer-protocol member (KIP-848) got an error-free answer to the
    /// ConsumerGroupHeartbeat it sent at `sent_ms`: its member id and epoch now.
    GroupHeartbeatAnswered {
        member: u32,
        member_id: String,
        epoch: i32,
        sent_ms: u64,
    },
    /// A consumer-protocol member's partitions changed to `partitions` (at `epoch`): recorded
    /// when an answer hands it some (it reads them from then on) and as soon as it lets some
    /// go (before its next heartbeat says so), or all of them (fenced, leaving, crashing).
    GroupOwns {
        member: u32,
        epoch: i32,
        partitions: Vec<i32>,
    },
    /// An OffsetCommit of `offset` for `partition`, sent at `invoked_ms`, was answered NONE
    /// (the coordinator stamps a commit when it handles it: retention ages it from then).
    Committed {
        member: u32,
        partition: i32,
        offset: i64,
        generation: i32,
        invoked_ms: u64,
    },
    /// An OffsetFetch sent at `invoked_ms` answered `offset` (-1: nothing committed).
    OffsetFetched {
        member: u32,
        partition: i32,
        offset: i64,
        invoked_ms: u64,
    },
    /// A group member's fetch of `partition` returned the records `from..to` (the first at
    /// or after its position to one past the last).
    GroupPolled {
        member: u32,
        partition: i32,
        from: i64,
        to: i64,
    },
    /// A group member's position `from` was below the log start `to` (retention or
    /// DeleteRecords removed those records): it moved on to `to`.
    GroupSkipped {
        member: u32,
        partition: i32,
        from: i64,
        to: i64,
    },
    /// A group member left on purpose: `how` is "leave" (LeaveGroup), "crash" (its
    /// connection dropped, silent until its session expires) or "pause" (LeaveGroup while the
    /// resetter works); it comes back as a new member.
    GroupLeft {
        member: u32,
        how: &'static str,
    },
    /// Liveness: a group member did not drain its partitions in a Stable generation in time
    /// after healing.
    GroupStuck {
        member: u32,
        detail: String,
    },
    /// The resetter's OffsetCommit from outside the group (generation -1, sent at
    /// `invoked_ms` while the group was Empty) moved `partition`'s commit back to `offset`:
    /// answered NONE (`acknowledged`), or never answered (it may have applied).
    GroupReset {
        partition: i32,
        offset: i64,
        invoked_ms: u64,
        acknowledged: bool,
    },
    /// The group's committed offset of `partition` after every member drained and left.
    GroupFinal {
        partition: i32,
        offset: i64,
    },
    /// A write of the compacted topic (`workload::compacted`): `k{key}` set to `value`, or
    /// deleted (a tombstone) when `None`.
    CompactSent {
        key: u32,
        value: Option<String>,
        outcome: SendOutcome,
    },
    /// A read of the whole compacted log from offset 0, begun at `started_ms` (the event's
    /// time is its end): (offset, key, value) of every record. `last`: the pass after
    /// healing.
    CompactPass {
        started_ms: u64,
        records: Vec<(i64, u32, Option<String>)>,
        last: bool,
    },
    /// A bit flip at rest destroyed this batch of the compacted log: records from
    /// `first_offset` on may be lost.
    CompactDamaged {
        first_offset: i64,
        last_offset: i64,
    },
    /// The controller quorum as broker `asked` described it (DescribeQuorum, the leader's
    /// view) with the cluster id its Metadata reports (`workload::quorum`).
    QuorumSeen {
        asked: u64,
        leader: i32,
        epoch: i32,
        high_watermark: i64,
        /// The leader's own log end offset (its row of the voters).
        leader_log_end: i64,
        cluster_id: String,
    },
    /// The brokers broker `asked` lists (DescribeCluster with fenced ones, from the metadata
    /// it applied), by id, with whether each is fenced; `nodes` are every node of the run.
    BrokersSeen {
        asked: u64,
        brokers: Vec<(i32, bool)>,
        nodes: Vec<u64>,
    },
    /// Every metadata entry node `node`'s voter applied during the run, in order, as
    /// (index, term, digest of its bytes), recorded by the node itself (`rill::faults::observe`).
    MetadataApplied {
        node: u64,
        entries: Vec<(u64, u64, u64)>,
    },
    /// Every topic broker `asked` lists (Metadata for all topics, from the metadata it
    /// applied), by name, with each partition's leader (-1: none).
    TopicsSeen {
        asked: u64,
        topics: Vec<(String, Vec<i32>)>,
        /// Each partition's leadership as listed: (topic id, partition, leader epoch, leader,
        /// topic name).
        epochs: Vec<(String, i32, i32, i32, String)>,
    },
    /// Every (topic, partition, leader epoch) broker `node` appended client records to during
    /// the run (once each), recorded by the node itself (`rill::faults::observe`).
    AppendedAsLeader {
        node: u64,
        /// (topic, topic id (empty: none given), partition, leader epoch).
        appended: Vec<(String, String, i32, i32)>,
    },
    /// The churn workload created its topic anew (`workload::churn`).
    ChurnCreated {
        generation: u32,
    },
    /// The churn workload's topic was deleted.
    ChurnDeleted,
    /// The throttler set the data topic's follower throttles at `rate` bytes/s (`set`) or
    /// lifted them (`workload::throttle`), answered `outcome` (an error code's name or why
    /// no answer came).
    Throttled {
        set: bool,
        rate: u64,
        outcome: String,
    },
    /// The quota workload's AlterClientQuotas of `producer_byte_rate` = `rate` for its client
    /// id at `broker` (`workload::quota`), answered `outcome` ("NONE" when acknowledged: the
    /// broker had it published when it answered; else an error code's name or why no answer
    /// came).
    QuotaSet {
        broker: u64,
        rate: u64,
        outcome: String,
    },
    /// `broker` described the quota producer's quota at `rate` (DescribeClientQuotas on the
    /// connection it produces on, before its first produce): its gateway had it published.
    QuotaSeen {
        broker: u64,
        rate: u64,
    },
    /// After healing, `broker` was asked DescribeClientQuotas for the quota producer's client
    /// id (`workload::quota`): the keys and values it described for that entity (each value
    /// as `f64`'s `Display`: "4096"), none when it has no quota, or why no answer came (an
    /// error code's name, or the call's failure).
    QuotaDescribed {
        broker: u64,
        described: Result<Vec<(String, String)>, String>,
    },
    /// One produce request of the quota producer to `broker`, of `bytes` (header and body),
    /// invoked at `invoked_ms`: the error code answered and the throttle reported (which the
    /// producer ignores), or `None` when no answer came.
    QuotaProduce {
        broker: u64,
        invoked_ms: u64,
        bytes: u64,
        answer: Option<(i16, i32)>,
    },
    /// The reassigner asked to move the data topic's `partition` to `replicas`
    /// (`workload::reassign`), and was answered `outcome` (an error code's name, or why no
    /// answer came).
    ReassignAsked {
        partition: i32,
        replicas: Vec<u64>,
        outcome: String,
    },
    /// The data topic's partition `partition` as its replicas' disks hold it once they had time
    /// to agree after healing (`workload::replicas`): each replica as (broker, log start, log
    /// end), and the first offset two of them hold in different batches, if any.
    ReplicasCompared {
        partition: i32,
        replicas: Vec<(u64, i64, i64)>,
        difference: Option<String>,
    },
    /// Partition directories broker `node` still held [`crate::workload::strays::STRAY_BOUND`]
    /// after the final read, of topics no broker lists (or removals' leftovers).
    StrayDirs {
        node: u64,
        dirs: Vec<String>,
    },
    /// Broker `node`'s first open of each partition of each topic id during the run, as
    /// (topic, topic id, partition, log end offset it found), recorded by the node itself
    /// (`rill::faults::observe`).
    FirstOpens {
        node: u64,
        opens: Vec<(String, String, i32, i64)>,
    },
    /// Every term in which node `node`'s voter led the controller quorum during the run,
    /// recorded by the node itself (`rill::faults::observe`).
    QuorumLed {
        node: u64,
        terms: Vec<u64>,
    },
    /// Each time node `node`'s voter opened its files during the run: the last vote it had
    /// sent before, as (term, candidate), and the (term, vote) it read back. Recorded by the
    /// node itself (`rill::faults::observe`).
    QuorumOpened {
        node: u64,
        opened: Vec<(Option<(u64, u64)>, u64, Option<u64>)>,
    },
    /// Each commit index node `node` reached while leading, as (term, index, term of the
    /// entry at the index). Recorded by the node itself (`rill::faults::observe`).
    LeaderCommits {
        node: u64,
        commits: Vec<(u64, u64, u64)>,
    },
    /// A transactional producer (`workload::txn`) got an identity from InitProducerId with
    /// its transactional id: a new epoch (each one fences the ones before).
    TxnIdentity {
        producer: u32,
        producer_id: i64,
        epoch: i16,
    },
    /// Transactional producer `producer` began its transaction `txn` (numbered across its
    /// epochs) over `partitions` of `workload::txn::TXN_TOPIC`; its values are
    /// `x{producer}-{txn}-{n}`.
    TxnBegin {
        producer: u32,
        txn: u32,
        partitions: Vec<i32>,
    },
    /// The produce outcome of one value of transaction `txn`.
    TxnSent {
        producer: u32,
        txn: u32,
        partition: i32,
        value: String,
        outcome: SendOutcome,
    },
    /// How transaction `txn` ended: `commit` whether EndTxn asked to commit (false when it
    /// asked to abort, or was never sent), `invoked_ms` when its first attempt was sent (or
    /// the transaction was given up). Recorded once per transaction.
    TxnEnd {
        producer: u32,
        txn: u32,
        commit: bool,
        outcome: TxnOutcome,
        invoked_ms: u64,
    },
    /// A read_committed reader (`workload::txn`) returned this record of `partition` of the
    /// transactional topic, as a client returns it (aborted transactions and control batches
    /// dropped), from a fetch that answered last stable offset `lso` and high watermark `hw`.
    TxnPoll {
        consumer: u32,
        partition: i32,
        offset: i64,
        value: String,
        lso: i64,
        hw: i64,
    },
    /// The read_committed read of a partition of the transactional topic after the
    /// transactional producers stopped: every record a client returns below `lso`, which it
    /// waited (within a bound) to see reach `hw`.
    TxnFinalRead {
        partition: i32,
        lso: i64,
        hw: i64,
        records: Vec<(i64, String)>,
    },
    /// A bit flip at rest destroyed this batch of a partition of the transactional topic.
    TxnDamaged {
        partition: i32,
        first_offset: i64,
        last_offset: i64,
    },
    /// A consume-transform-produce worker (`workload::ctp`) got an identity from
    /// InitProducerId with its transactional id (each new epoch aborts its open round).
    CtpIdentity {
        worker: u32,
        producer_id: i64,
        epoch: i16,
    },
    /// One round of consume-transform-produce worker `worker`, recorded when it ended: it read
    /// `input_partition` of the transactional topic with read_committed from `from` (the
    /// group's committed offset; -1 without one, read from 0), consumed `inputs` (offset, value), wrote
    /// `c{value}` of each to `workload::ctp::CTP_OUT_TOPIC` and committed offset `to` in the
    /// same transaction. `offsets_invoked_ms`: when its TxnOffsetCommit was first sent (`None`:
    /// the round ended before); `commit`, `outcome`, `invoked_ms`: its EndTxn, as `TxnEnd`'s.
    CtpRound {
        worker: u32,
        round: u32,
        input_partition: i32,
        from: i64,
        to: i64,
        inputs: Vec<(i64, String)>,
        offsets_invoked_ms: Option<u64>,
        commit: bool,
        outcome: TxnOutcome,
        invoked_ms: u64,
    },
    /// A login on a workload connection to broker `broker` (`--sasl`, `crate::sasl`): its
    /// mechanism ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"; "NONE" for an unauthenticated
    /// request), the user it named, what it proved with, and how it ended; recorded when it
    /// ended, `invoked_ms` when its first request was written.
    Login {
        broker: u64,
        mechanism: &'static str,
        user: String,
        credentials: Credentials,
        invoked_ms: u64,
        outcome: LoginOutcome,
    },
    /// Broker `broker` acknowledged the workload's SCRAM user `user`'s credential for
    /// `mechanism` (AlterUserScramCredentials): it had applied it when it answered.
    ScramUserCreated {
        broker: u64,
        user: String,
        mechanism: &'static str,
    },
    /// A request of the intruder (`--sasl`, `workload::intruder`: the PLAIN user `eve`, logged
    /// in, with no ACL and not a super user) to broker `broker`, written at `invoked_ms`: `api`
    /// ("Produce", "Fetch", "JoinGroup", "InitProducerId") on `resource` (a partition of the
    /// data topic as `sim-<p>`, the workload's group, or `kafka-cluster` for an idempotent
    /// producer id); the error code answered (`None`: no answer, a lost
    /// connection or a timeout) and, for a Fetch, how many records the answer carried.
    Intrusion {
        broker: u64,
        api: &'static str,
        resource: String,
        invoked_ms: u64,
        error_code: Option<i16>,
        records_returned: u32,
    },
    /// The consume-transform-produce group's committed offset of each input partition after
    /// the workers stopped (OffsetFetch with require_stable; -1: none); empty when no answer
    /// was stable (a transaction's commit pending) in time.
    CtpFinalOffsets {
        offsets: Vec<(i32, i64)>,
    },
    /// The read_committed read of a partition of `workload::ctp::CTP_OUT_TOPIC` after the
    /// workers stopped, as `TxnFinalRead`.
    CtpFinalRead {
        partition: i32,
        lso: i64,
        hw: i64,
        records: Vec<(i64, String)>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct History {
    inner: Arc<Mutex<Vec<(u64, Event)>>>,
}

impl History {
    pub fn record(&self, at_ms: u64, event: Event) {
        self.inner
            .lock()
            .expect("history lock")
            .push((at_ms, event));
    }

    pub fn events(&self) -> Vec<(u64, Event)> {
        self.inner.lock().expect("history lock").clone()
    }

    /// Whether one of `producers` had a request acknowledged (error code 0) at `since_ms` or
    /// later.
    pub fn acked_since(&self, producers: &[u32], since_ms: u64) -> bool {
        let events = self.inner.lock().expect("history lock");
        (events.iter().rev())
            .take_while(|(at_ms, _)| *at_ms >= since_ms)
            .any(|(_, e)| match e {
                Event::Answered {
                    producer,
                    end: RequestEnd::Answer { code: 0 },
                    ..
                } => producers.contains(producer),
                _ => false,
            })
    }

    /// The quorum leader the observer saw last (`Event::QuorumSeen`), if any.
    pub fn last_seen_leader(&self) -> Option<u64> {
        let events = self.inner.lock().expect("history lock");
        events.iter().rev().find_map(|(_, e)| match e {
            Event::QuorumSeen { leader, .. } => u64::try_from(*leader).ok(),
            _ => None,
        })
    }

    /// The brokers leading a partition in the observer's last topics answer
    /// (`Event::TopicsSeen`), by id, each once.
    pub fn last_seen_partition_leaders(&self) -> Vec<u64> {
        let events = self.inner.lock().expect("history lock");
        let last = events.iter().rev().find_map(|(_, e)| match e {
            Event::TopicsSeen { epochs, .. } => Some(epochs),
            _ => None,
        });
        let mut leaders: Vec<u64> = (last.into_iter().flatten())
            .filter_map(|(_, _, _, leader, _)| u64::try_from(*leader).ok())
            .collect();
        leaders.sort_unstable();
        leaders.dedup();
        leaders
    }

    /// The data topic's partitions with the leader the last Metadata sample listed (none for
    /// a partition without one), by partition.
    pub fn last_seen_data_leaders(&self) -> Vec<(i32, u64)> {
        let events = self.inner.lock().expect("history lock");
        let last = events.iter().rev().find_map(|(_, e)| match e {
            Event::TopicsSeen { epochs, .. } => Some(epochs),
            _ => None,
        });
        (last.into_iter().flatten())
            .filter(|(_, _, _, _, name)| name == crate::workload::TOPIC)
            .filter_map(|(_, partition, _, leader, _)| {
                Some((*partition, u64::try_from(*leader).ok()?))
            })
            .collect()
    }

    /// Whether the run has healed (`Event::Healed` is recorded).
    pub fn healed(&self) -> bool {
        self.healed_ms().is_some()
    }

    /// When the run healed (`Event::Healed`'s time), once it has.
    pub fn healed_ms(&self) -> Option<u64> {
        let events = self.inner.lock().expect("history lock");
        (events.iter().rev()).find_map(|(at_ms, e)| matches!(e, Event::Healed).then_some(*at_ms))
    }

    /// One line per event, for the failure file and the trace hash.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (at_ms, event) in self.events() {
            let _ = writeln!(out, "{at_ms:>8} {event:?}");
        }
        out
    }

    /// FNV-1a over the rendered history: equal for two runs of one seed.
    pub fn hash(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in self.render().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}
