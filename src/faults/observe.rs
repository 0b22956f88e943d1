//! What the simulator's checker watches inside the nodes, where no client can see it: every
//! metadata entry each controller voter applies (index, term and a digest of its bytes), so
//! the checker can hold that every node's applied metadata is a prefix of the others' (Raft's
//! state machine safety); and each partition a broker appended client records to, with the
//! leader epoch it appended them in, so the checker can hold that no broker takes writes for a
//! partition in an epoch it did not lead; and each term a voter led the quorum in, so the
//! checker can hold election safety over every leadership, not only those its questions saw
//! (a leader deposed within a few milliseconds answers no question); each vote a voter sent
//! and what it remembered when its files were next opened, so the checker can hold that a vote
//! sent is never forgotten (Raft's persist-before-send rule, seen from outside); and each
//! commit index a leader reached with the term of the entry there, so the checker can hold
//! Raft's commit rule (a leader commits by counting replicas only an entry of its own term);
//! and the log end each broker found at the first open of a partition of a topic id, so the
//! checker can hold that a topic's replica starts empty (a topic created again under an earlier
//! one's name never opens that one's records). Recorded only under `--cfg madsim`, into a
//! thread-local (one simulation runs on one thread); a normal build compiles the calls to
//! nothing.

/// One applied entry as one node saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedEntry {
    pub node: u64,
    pub index: u64,
    pub term: u64,
    /// FNV-1a of the entry's payload (0 for a no-op).
    pub digest: u64,
}

/// FNV-1a, 64-bit: stable across runs and builds (the std hasher is not).
pub fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A broker appended a client's records to its replica of a partition in a leader epoch:
/// (node, topic, topic id (as [`id_text`] prints it; empty if unknown), partition, leader
/// epoch).
pub type Appended = (u64, String, String, i32, i32);

/// A topic id as the simulator's observer prints the ids Metadata gives (a hyphenated UUID).
pub fn id_text(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).hyphenated().to_string()
}

#[cfg(madsim)]
thread_local! {
    static APPLIED: std::cell::RefCell<Option<Vec<AppliedEntry>>> =
        const { std::cell::RefCell::new(None) };
    /// Each (node, topic, partition, epoch) once.
    static APPENDED: std::cell::RefCell<Option<std::collections::BTreeSet<Appended>>> =
        const { std::cell::RefCell::new(None) };
    /// Each (term, node) once.
    static LED: std::cell::RefCell<Option<std::collections::BTreeSet<(u64, u64)>>> =
        const { std::cell::RefCell::new(None) };
    /// Per voter: the last vote it sent (term, candidate).
    static PROMISED: std::cell::RefCell<std::collections::BTreeMap<u64, (u64, u64)>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    static OPENED: std::cell::RefCell<Option<Vec<Opened>>> = const { std::cell::RefCell::new(None) };
    static COMMITS: std::cell::RefCell<Option<Vec<LeaderCommit>>> =
        const { std::cell::RefCell::new(None) };
    /// The first open of each (node, topic id, partition): the topic's name and the log end.
    static FIRST_OPENS: std::cell::RefCell<Option<std::collections::BTreeMap<(u64, String, i32), (String, i64)>>> =
        const { std::cell::RefCell::new(None) };
}

/// A broker's first open of a partition of a topic id: (node, topic id as [`id_text`] prints
/// it, partition, topic name, log end offset found).
pub type FirstOpen = (u64, String, i32, String, i64);

/// A voter opened its files: the last vote it had sent before (term, candidate), if any, and
/// the term and vote it read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub node: u64,
    pub promised: Option<(u64, u64)>,
    pub term: u64,
    pub voted_for: Option<u64>,
}

/// A leader's commit index moved to `index`, whose entry is of `entry_term`, in `term`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderCommit {
    pub node: u64,
    pub term: u64,
    pub index: u64,
    pub entry_term: u64,
}

/// Starts recording on this thread (the simulator, at the start of a run), dropping anything
/// recorded before.
#[cfg(madsim)]
pub fn start() {
    APPLIED.with(|a| *a.borrow_mut() = Some(Vec::new()));
    APPENDED.with(|a| *a.borrow_mut() = Some(Default::default()));
    LED.with(|a| *a.borrow_mut() = Some(Default::default()));
    PROMISED.with(|a| a.borrow_mut().clear());
    OPENED.with(|a| *a.borrow_mut() = Some(Vec::new()));
    COMMITS.with(|a| *a.borrow_mut() = Some(Vec::new()));
    FIRST_OPENS.with(|a| *a.borrow_mut() = Some(Default::default()));
}

/// Each broker's first open of each partition of each topic id since [`start`], and stops
/// recording them.
#[cfg(madsim)]
pub fn take_first_opens() -> Vec<FirstOpen> {
    FIRST_OPENS.with(|a| {
        (a.borrow_mut().take().unwrap_or_default().into_iter())
            .map(|((node, id, partition), (topic, log_end))| (node, id, partition, topic, log_end))
            .collect()
    })
}

/// Broker `node` opened its replica of `tp` of topic id `topic_id`, finding its log to end at
/// `log_end`; only the first open of each (node, topic id, partition) is kept.
#[inline]
pub fn replica_opened(
    node: u64,
    tp: &crate::types::TopicPartition,
    topic_id: &[u8; 16],
    log_end: i64,
) {
    #[cfg(madsim)]
    FIRST_OPENS.with(|a| {
        if let Some(opens) = a.borrow_mut().as_mut() {
            let key = (node, id_text(topic_id), tp.partition);
            opens
                .entry(key)
                .or_insert_with(|| (tp.topic.clone(), log_end));
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, tp, topic_id, log_end);
}

/// Every opening of a voter's files since [`start`], in order, and stops recording them.
#[cfg(madsim)]
pub fn take_opened() -> Vec<Opened> {
    OPENED.with(|a| a.borrow_mut().take().unwrap_or_default())
}

/// Every commit index a leader reached since [`start`], in order, and stops recording them.
#[cfg(madsim)]
pub fn take_leader_commits() -> Vec<LeaderCommit> {
    COMMITS.with(|a| a.borrow_mut().take().unwrap_or_default())
}

/// Voter `node` sent `candidate` its vote in `term` (the message left the node).
#[inline]
pub fn vote_sent(node: u64, term: u64, candidate: u64) {
    #[cfg(madsim)]
    PROMISED.with(|a| {
        let mut promised = a.borrow_mut();
        let last = promised.entry(node).or_insert((term, candidate));
        if term >= last.0 {
            *last = (term, candidate);
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, term, candidate);
}

/// Voter `node` opened its files and read back `term` and `voted_for`.
#[inline]
pub fn quorum_opened(node: u64, term: u64, voted_for: Option<u64>) {
    #[cfg(madsim)]
    {
        let promised = PROMISED.with(|a| a.borrow().get(&node).copied());
        OPENED.with(|a| {
            if let Some(opened) = a.borrow_mut().as_mut() {
                opened.push(Opened {
                    node,
                    promised,
                    term,
                    voted_for,
                });
            }
        });
    }
    #[cfg(not(madsim))]
    let _ = (node, term, voted_for);
}

/// Leader `node` moved its commit index in `term` to `index`, an entry of `entry_term`.
#[inline]
pub fn leader_committed(node: u64, term: u64, index: u64, entry_term: u64) {
    #[cfg(madsim)]
    COMMITS.with(|a| {
        if let Some(commits) = a.borrow_mut().as_mut() {
            commits.push(LeaderCommit {
                node,
                term,
                index,
                entry_term,
            });
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, term, index, entry_term);
}

/// Every (term, node) a voter led the quorum in since [`start`], by term, and stops
/// recording them.
#[cfg(madsim)]
pub fn take_led() -> Vec<(u64, u64)> {
    take_set(&LED)
}

/// A recorded set, in order, and stops recording it.
#[cfg(madsim)]
fn take_set<T: Ord>(
    key: &'static std::thread::LocalKey<std::cell::RefCell<Option<std::collections::BTreeSet<T>>>>,
) -> Vec<T> {
    key.with(|a| {
        a.borrow_mut()
            .take()
            .unwrap_or_default()
            .into_iter()
            .collect()
    })
}

/// Voter `node` leads the controller quorum in `term`.
#[inline]
pub fn quorum_led(node: u64, term: u64) {
    #[cfg(madsim)]
    LED.with(|a| {
        if let Some(led) = a.borrow_mut().as_mut() {
            led.insert((term, node));
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, term);
}

/// Every (node, topic, partition, leader epoch) a broker appended client records in since
/// [`start`], in order, and stops recording them.
#[cfg(madsim)]
pub fn take_appended() -> Vec<Appended> {
    take_set(&APPENDED)
}

/// Broker `node` appended a client's records to `topic`'s `partition` in leader `epoch`.
#[inline]
pub fn client_records_appended(
    node: u64,
    topic: &str,
    topic_id: Option<&[u8; 16]>,
    partition: i32,
    epoch: i32,
) {
    #[cfg(madsim)]
    APPENDED.with(|a| {
        if let Some(appended) = a.borrow_mut().as_mut() {
            let id = topic_id.map(id_text).unwrap_or_default();
            let key = (node, topic.to_owned(), id, partition, epoch);
            if !appended.contains(&key) {
                appended.insert(key);
            }
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, topic, topic_id, partition, epoch);
}

/// What was recorded since [`start`], in order, and stops recording.
#[cfg(madsim)]
pub fn take() -> Vec<AppliedEntry> {
    APPLIED.with(|a| a.borrow_mut().take().unwrap_or_default())
}

/// A voter applied the entry at `index` (`digest` is only computed while recording).
#[inline]
pub fn metadata_applied(node: u64, index: u64, term: u64, digest: impl FnOnce() -> u64) {
    #[cfg(madsim)]
    APPLIED.with(|a| {
        if let Some(applied) = a.borrow_mut().as_mut() {
            applied.push(AppliedEntry {
                node,
                index,
                term,
                digest: digest(),
            });
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, index, term, digest);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_is_fnv1a() {
        assert_eq!(super::digest(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::digest(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
