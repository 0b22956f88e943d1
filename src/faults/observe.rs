//! What the simulator's checker watches inside the nodes, where no client can see it: every
//! metadata entry each controller voter applies (index, term and a digest of its bytes), so
//! the checker can hold that every node's applied metadata is a prefix of the others' (Raft's
//! state machine safety); and each partition a broker appended client records to, with the
//! leader epoch it appended them in, so the checker can hold that no broker takes writes for a
//! partition in an epoch it did not lead. Recorded only under `--cfg madsim`, into a
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
/// (node, topic, partition, leader epoch).
pub type Appended = (u64, String, i32, i32);

#[cfg(madsim)]
thread_local! {
    static APPLIED: std::cell::RefCell<Option<Vec<AppliedEntry>>> =
        const { std::cell::RefCell::new(None) };
    /// Each (node, topic, partition, epoch) once.
    static APPENDED: std::cell::RefCell<Option<std::collections::BTreeSet<Appended>>> =
        const { std::cell::RefCell::new(None) };
}

/// Starts recording on this thread (the simulator, at the start of a run), dropping anything
/// recorded before.
#[cfg(madsim)]
pub fn start() {
    APPLIED.with(|a| *a.borrow_mut() = Some(Vec::new()));
    APPENDED.with(|a| *a.borrow_mut() = Some(Default::default()));
}

/// Every (node, topic, partition, leader epoch) a broker appended client records in since
/// [`start`], in order, and stops recording them.
#[cfg(madsim)]
pub fn take_appended() -> Vec<Appended> {
    APPENDED.with(|a| {
        a.borrow_mut()
            .take()
            .unwrap_or_default()
            .into_iter()
            .collect()
    })
}

/// Broker `node` appended a client's records to `topic`'s `partition` in leader `epoch`.
#[inline]
pub fn client_records_appended(node: u64, topic: &str, partition: i32, epoch: i32) {
    #[cfg(madsim)]
    APPENDED.with(|a| {
        if let Some(appended) = a.borrow_mut().as_mut() {
            let key = (node, topic.to_owned(), partition, epoch);
            if !appended.contains(&key) {
                appended.insert(key);
            }
        }
    });
    #[cfg(not(madsim))]
    let _ = (node, topic, partition, epoch);
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
