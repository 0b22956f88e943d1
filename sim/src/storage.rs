//! Simulated disks: one [`MemStorage`] per node, owned by the harness.
//!
//! madsim does not simulate disks (its `fs` keeps unsynced writes across a kill; see
//! `docs/architecture.md#determinism-rules`), so each node's data lives here, outside the
//! node's tasks. A simulated restart re-runs the
//! node's init, which asks [`SimDisks::disk`] for the same node id and gets the same bytes
//! back; a simulated power failure is [`SimDisks::crash`], which drops everything the node did
//! not sync and, driven by the seed, sometimes tears its last write.
//!
//! Under madsim everything runs on one thread, so the mutexes inside never contend; they exist
//! because `Storage` must be `Send + Sync`.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::Rng;
use rill::storage::mem::{MemStorage, TornWrite};
use rill::storage::{Storage, StorageFile};

/// A simulated node's number (the `u64` inside `rill::types::NodeId`).
pub type NodeId = u64;

/// Probability that a crash tears the node's last unsynced append instead of dropping it whole.
const TORN_WRITE_PROBABILITY: f64 = 0.5;

/// All nodes' disks. Cloning shares them; keep one in the harness for the whole run.
#[derive(Clone, Default)]
pub struct SimDisks {
    disks: Arc<Mutex<BTreeMap<NodeId, MemStorage>>>,
}

/// What a [`SimDisks::crash`] did to a node's disk, for the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashOutcome {
    /// Every unsynced byte and unsynced file creation was dropped.
    DroppedUnsynced,
    /// As above, but the last appended file kept a prefix of its unsynced bytes.
    Torn(TornWrite),
}

impl SimDisks {
    pub fn new() -> Self {
        Self::default()
    }

    fn memory(&self, node: NodeId) -> MemStorage {
        let mut disks = self
            .disks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        disks.entry(node).or_default().clone()
    }

    /// The disk of `node`, created empty on first use. Every call for the same node returns a
    /// view of the same bytes.
    pub fn disk(&self, node: NodeId) -> SimStorage {
        SimStorage {
            node,
            memory: self.memory(node),
        }
    }

    /// Power failure of `node`'s disk: unsynced bytes and creations are lost; with
    /// [`TORN_WRITE_PROBABILITY`] the most recent append survives partially. `rng` is the
    /// harness's seeded RNG, so the outcome is reproducible from the seed. Call it while the
    /// node is down (after `kill`, before `restart`): handles opened before fail afterwards.
    pub fn crash(&self, node: NodeId, rng: &mut impl Rng) -> CrashOutcome {
        let memory = self.memory(node);
        if rng.gen_bool(TORN_WRITE_PROBABILITY) {
            if let Some(torn) = memory.crash_torn(rng) {
                return CrashOutcome::Torn(torn);
            }
            return CrashOutcome::DroppedUnsynced;
        }
        memory.crash();
        CrashOutcome::DroppedUnsynced
    }

    /// Live bytes on `node`'s disk (for checks and traces).
    pub fn total_bytes(&self, node: NodeId) -> u64 {
        self.memory(node).total_bytes()
    }

    /// The underlying memory disk of `node`, for assertions in tests.
    pub fn memory_of(&self, node: NodeId) -> MemStorage {
        self.memory(node)
    }
}

/// One node's view of its simulated disk. Implements `Storage` by delegating to the node's
/// [`MemStorage`]; it is its own type so disk fault injection can be added here without touching
/// the in-memory backend.
#[derive(Clone, Debug)]
pub struct SimStorage {
    node: NodeId,
    memory: MemStorage,
}

impl SimStorage {
    pub fn node(&self) -> NodeId {
        self.node
    }
}

impl Storage for SimStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        self.memory.open(path, create)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.memory.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.memory.create_dir_all(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.memory.remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.memory.remove_dir_all(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.memory.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.memory.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        self.memory.exists(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn write(disk: &SimStorage, path: &str, data: &[u8], sync: bool) {
        let file = disk.open(Path::new(path), true).unwrap();
        file.append(data).unwrap();
        if sync {
            file.sync().unwrap();
        }
    }

    #[test]
    fn disks_survive_restart_and_crash_drops_unsynced() {
        let disks = SimDisks::new();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut torn_seen = false;
        let mut whole_seen = false;
        write(&disks.disk(2), "other", b"node2", true);
        for round in 0..32 {
            let node = 1;
            let disk = disks.disk(node);
            disk.create_dir_all(Path::new("log")).unwrap();
            let path = format!("log/{round}");
            write(&disk, &path, b"synced", true);
            write(&disk, &path, b"-unsynced", false);

            let outcome = disks.crash(node, &mut rng);
            // "Restart": a fresh view of the same node's disk.
            let bytes = disks.memory_of(node).read_file(Path::new(&path)).unwrap();
            assert!(b"synced-unsynced".starts_with(&bytes) && bytes.starts_with(b"synced"));
            match outcome {
                CrashOutcome::Torn(torn) => {
                    torn_seen = true;
                    assert_eq!(torn.kept_bytes as usize, bytes.len() - 6);
                }
                CrashOutcome::DroppedUnsynced => {
                    whole_seen = true;
                    assert_eq!(bytes, b"synced");
                }
            }
            assert_eq!(disks.disk(node).node(), node);
        }
        assert!(
            torn_seen && whole_seen,
            "both crash kinds should occur over 32 crashes"
        );
        assert_eq!(
            disks.memory_of(2).read_file(Path::new("other")).unwrap(),
            b"node2"
        );
    }

    #[test]
    fn same_seed_same_crash() {
        let run = |seed| {
            let disks = SimDisks::new();
            let disk = disks.disk(3);
            write(&disk, "f", b"a", true);
            write(&disk, "f", &[7u8; 1000], false);
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..4).map(|_| disks.crash(3, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
    }
}
