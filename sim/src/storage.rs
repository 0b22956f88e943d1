//! Simulated disks: one [`MemStorage`] per node, owned by the harness.
//!
//! madsim does not simulate disks (its `fs` keeps unsynced writes across a kill; see
//! `docs/architecture.md#determinism-rules`), so each node's data lives here, outside the
//! node's tasks. A simulated restart re-runs the
//! node's init, which asks [`SimDisks::disk`] for the same node id and gets the same bytes
//! back; a simulated power failure is [`SimDisks::crash`], which drops everything the node did
//! not sync and, driven by the seed, sometimes tears its last write.
//!
//! # Disk errors
//! The harness can also make a node's disk misbehave ([`FaultWindow`], set per node with
//! [`SimDisks::set_window`]): writes fail with EIO, fsyncs fail with EIO, the disk runs out of
//! space (ENOSPC) above a byte count, and — fsyncgate — a failed fsync drops the file's dirty
//! bytes (they are not on disk and the file reads shorter; a later fsync succeeds). While a
//! node is down, [`SimDisks::flip_bit_at_rest`] flips one bit in a synced file. Every injected
//! error is reported to the sink installed with [`SimDisks::set_fault_sink`] (the run's
//! history). Decisions come from one RNG seeded by the run, and the node's file operations run
//! in a deterministic order, so a seed replays the same errors.
//!
//! Under madsim everything runs on one thread, so the mutexes inside never contend; they exist
//! because `Storage` must be `Send + Sync`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rill::storage::mem::{MemStorage, TornWrite};
use rill::storage::{Storage, StorageFile};

/// A simulated node's number (the `u64` inside `rill::types::NodeId`).
pub type NodeId = u64;

/// Probability that a crash tears the node's last unsynced append instead of dropping it whole.
const TORN_WRITE_PROBABILITY: f64 = 0.5;

/// Linux's ENOSPC, so the error looks like the real one (`io::ErrorKind::StorageFull`).
const ENOSPC: i32 = 28;
/// Linux's EIO.
const EIO: i32 = 5;
/// Size of a record batch's header before its CRC-covered part starts (`docs/log-format.md`:
/// baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8); the CRC is next.
const BATCH_CRC_AT: usize = 17;
/// Where a batch header holds `lastOffsetDelta` (i32).
const BATCH_LAST_OFFSET_DELTA_AT: usize = 23;
/// Bytes of baseOffset + batchLength, which frame every batch.
const BATCH_FRAME_BYTES: usize = 12;

/// Which disk errors a run may inject (drawn from the seed; part of the run's Config line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskFaults {
    /// Windows in which writes and fsyncs fail with EIO.
    pub eio: bool,
    /// A failed fsync drops the file's dirty bytes (fsyncgate); only with `eio`.
    pub fsyncgate: bool,
    /// Windows in which the disk is full (ENOSPC above a byte count).
    pub enospc: bool,
    /// One bit flipped in a synced file while a killed node is down.
    pub bit_flips: bool,
}

impl DiskFaults {
    pub fn any(&self) -> bool {
        self.eio || self.enospc || self.bit_flips
    }
}

/// What a node's disk does wrong right now (all off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultWindow {
    /// Probability that one append or write_at fails with EIO (nothing is written).
    pub write_eio: f64,
    /// Probability that one fsync (of a file or a directory) fails with EIO.
    pub fsync_eio: f64,
    /// A failed file fsync drops the file's unsynced bytes.
    pub fsyncgate: bool,
    /// Writes that would make the disk hold more than this many bytes fail with ENOSPC.
    pub capacity_bytes: Option<u64>,
}

/// One injected disk error, for the trace and the counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    pub node: NodeId,
    pub kind: DiskFaultKind,
    pub path: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskFaultKind {
    /// An append or write_at failed with EIO.
    WriteEio,
    /// An fsync failed with EIO; with fsyncgate, `dropped_bytes` unsynced bytes were lost.
    FsyncEio { dropped_bytes: u64 },
    /// A write failed with ENOSPC.
    NoSpace,
    /// One bit of a synced file flipped while the node was down.
    BitFlip { pos: u64, bit: u8 },
}

impl DiskFaultKind {
    /// The history's fault kind (`Event::Fault { kind, .. }`).
    pub fn name(&self) -> &'static str {
        match self {
            DiskFaultKind::WriteEio => "disk-write-eio",
            DiskFaultKind::FsyncEio { .. } => "disk-fsync-eio",
            DiskFaultKind::NoSpace => "disk-enospc",
            DiskFaultKind::BitFlip { .. } => "disk-bit-flip",
        }
    }
}

/// A bit flip in a segment destroys one batch: which records it held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedBatch {
    /// The partition directory (`<topic>-<partition>`).
    pub dir: PathBuf,
    pub first_offset: i64,
    pub last_offset: i64,
}

type FaultSink = Arc<dyn Fn(&InjectedFault) + Send + Sync>;

/// Fault decisions shared by every node's disk.
struct FaultState {
    windows: BTreeMap<NodeId, FaultWindow>,
    rng: SmallRng,
    sink: Option<FaultSink>,
    injected: Vec<InjectedFault>,
}

impl Default for FaultState {
    fn default() -> Self {
        Self {
            windows: BTreeMap::new(),
            rng: SmallRng::seed_from_u64(0),
            sink: None,
            injected: Vec::new(),
        }
    }
}

/// All nodes' disks. Cloning shares them; keep one in the harness for the whole run.
#[derive(Clone, Default)]
pub struct SimDisks {
    disks: Arc<Mutex<BTreeMap<NodeId, MemStorage>>>,
    faults: Arc<Mutex<FaultState>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// Disks whose injected errors are drawn from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        let disks = Self::default();
        lock(&disks.faults).rng = SmallRng::seed_from_u64(seed ^ 0xd15c_fa17_0000_0001);
        disks
    }

    fn memory(&self, node: NodeId) -> MemStorage {
        lock(&self.disks).entry(node).or_default().clone()
    }

    /// The disk of `node`, created empty on first use. Every call for the same node returns a
    /// view of the same bytes.
    pub fn disk(&self, node: NodeId) -> SimStorage {
        SimStorage {
            node,
            memory: self.memory(node),
            faults: self.faults.clone(),
        }
    }

    /// Where injected errors are reported (the run's history), besides [`SimDisks::injected`].
    pub fn set_fault_sink(&self, sink: impl Fn(&InjectedFault) + Send + Sync + 'static) {
        lock(&self.faults).sink = Some(Arc::new(sink));
    }

    /// What `node`'s disk does wrong from now on (`FaultWindow::default()` heals it).
    pub fn set_window(&self, node: NodeId, window: FaultWindow) {
        lock(&self.faults).windows.insert(node, window);
    }

    /// Every error injected so far, in order.
    pub fn injected(&self) -> Vec<InjectedFault> {
        lock(&self.faults).injected.clone()
    }

    /// Flips one bit in a synced file of `node` (call it while the node is down, after
    /// [`SimDisks::crash`], so every byte is synced). The victim is drawn from `rng` among the
    /// partition directories' indexes, checkpoints, epoch files, producer snapshots and the last batch of each
    /// partition's newest segment (a segment the next open re-validates, so the flip destroys
    /// that batch and nothing after it). Returns the fault and, for a segment, the batch lost.
    pub fn flip_bit_at_rest(
        &self,
        node: NodeId,
        rng: &mut impl Rng,
    ) -> Option<(InjectedFault, Option<DamagedBatch>)> {
        let memory = self.memory(node);
        let files = memory.file_names();
        let newest_segments: BTreeMap<&Path, &PathBuf> = files
            .iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .filter_map(|path| Some((path.parent()?, path)))
            .collect();
        let mut targets: Vec<(PathBuf, std::ops::Range<usize>, Option<DamagedBatch>)> = Vec::new();
        for path in &files {
            let Some(bytes) = memory.durable_file(path) else {
                continue;
            };
            if bytes.is_empty() {
                continue;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.unwrap_or_default();
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if dir.as_os_str().is_empty() {
                // Node-wide files (the topic registry, the producer id block) are not
                // targets: a damaged one is detected, but the broker cannot rebuild it yet.
                continue;
            }
            if name.ends_with(".log") {
                if newest_segments.get(dir.as_path()) != Some(&path) {
                    continue;
                }
                if let Some((range, first, last)) = last_batch(&bytes) {
                    let damaged = DamagedBatch {
                        dir,
                        first_offset: first,
                        last_offset: last,
                    };
                    targets.push((path.clone(), range, Some(damaged)));
                }
            } else if [
                ".index",
                ".timeindex",
                ".txnindex",
                ".checkpoint",
                ".snapshot",
            ]
            .iter()
            .any(|suffix| name.ends_with(suffix))
                || name == "leader-epoch-checkpoint"
            {
                targets.push((path.clone(), 0..bytes.len(), None));
            }
        }
        // Half the flips hit a segment when one has a whole batch: indexes and checkpoints
        // outnumber segments, and a destroyed batch is the harder case for the checker.
        let (mut segments, mut others): (Vec<_>, Vec<_>) = targets
            .into_iter()
            .partition(|(_, _, damaged)| damaged.is_some());
        let pool = match (segments.is_empty(), others.is_empty()) {
            (true, true) => return None,
            (false, true) => &mut segments,
            (true, false) => &mut others,
            (false, false) if rng.gen_bool(0.5) => &mut segments,
            (false, false) => &mut others,
        };
        let (path, range, damaged) = pool.swap_remove(rng.gen_range(0..pool.len()));
        let pos = rng.gen_range(range) as u64;
        let bit = rng.gen_range(0..8u8);
        let file = memory.open(&path, false).ok()?;
        let mut byte = [0u8];
        file.read_at(pos, &mut byte).ok()?;
        byte[0] ^= 1 << bit;
        file.write_at(pos, &byte).ok()?;
        file.sync().ok()?;
        let fault = InjectedFault {
            node,
            kind: DiskFaultKind::BitFlip { pos, bit },
            path,
        };
        report(&self.faults, fault.clone());
        Some((fault, damaged))
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

/// The bytes (from the CRC on, so the damage is always detected) of the last whole batch in a
/// segment's bytes, with its first and last offsets. `None` if no whole batch is there.
fn last_batch(bytes: &[u8]) -> Option<(std::ops::Range<usize>, i64, i64)> {
    let mut pos = 0usize;
    let mut last = None;
    while let Some(frame) = bytes.get(pos..pos + BATCH_FRAME_BYTES) {
        let base = i64::from_be_bytes(frame[..8].try_into().ok()?);
        let length = i32::from_be_bytes(frame[8..].try_into().ok()?);
        let end = pos + BATCH_FRAME_BYTES + usize::try_from(length).ok()?;
        if end > bytes.len() || end <= pos + BATCH_LAST_OFFSET_DELTA_AT + 4 {
            break;
        }
        let delta_at = pos + BATCH_LAST_OFFSET_DELTA_AT;
        let delta = i32::from_be_bytes(bytes[delta_at..delta_at + 4].try_into().ok()?);
        last = Some((pos + BATCH_CRC_AT..end, base, base + i64::from(delta)));
        pos = end;
    }
    last
}

/// Records an injected fault and tells the sink (outside the lock: the sink takes its own).
fn report(faults: &Mutex<FaultState>, fault: InjectedFault) {
    let sink = {
        let mut state = lock(faults);
        state.injected.push(fault.clone());
        state.sink.clone()
    };
    if let Some(sink) = sink {
        sink(&fault);
    }
}

/// One node's view of its simulated disk. Implements `Storage` by delegating to the node's
/// [`MemStorage`], injecting the errors its [`FaultWindow`] asks for.
#[derive(Clone)]
pub struct SimStorage {
    node: NodeId,
    memory: MemStorage,
    faults: Arc<Mutex<FaultState>>,
}

impl std::fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimStorage(node {}, {:?})", self.node, self.memory)
    }
}

/// What one file operation is, for the fault decision.
#[derive(Clone, Copy)]
enum Op {
    /// A write that grows the disk by this many bytes.
    Write {
        grows_bytes: u64,
    },
    Sync,
}

impl SimStorage {
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The error this operation gets, if the node's window injects one (and reports it).
    fn inject(&self, op: Op, path: &Path) -> Option<io::Error> {
        let kind = {
            let mut state = lock(&self.faults);
            let window = state.windows.get(&self.node).copied().unwrap_or_default();
            match op {
                Op::Write { grows_bytes } => {
                    let full = window.capacity_bytes.is_some_and(|capacity| {
                        grows_bytes > 0
                            && self.memory.total_bytes().saturating_add(grows_bytes) > capacity
                    });
                    if full {
                        Some(DiskFaultKind::NoSpace)
                    } else if window.write_eio > 0.0 && state.rng.gen_bool(window.write_eio) {
                        Some(DiskFaultKind::WriteEio)
                    } else {
                        None
                    }
                }
                Op::Sync if window.fsync_eio > 0.0 && state.rng.gen_bool(window.fsync_eio) => {
                    let dropped_bytes = if window.fsyncgate {
                        self.memory.drop_unsynced(path)
                    } else {
                        0
                    };
                    Some(DiskFaultKind::FsyncEio { dropped_bytes })
                }
                Op::Sync => None,
            }
        }?;
        let error = match kind {
            DiskFaultKind::NoSpace => io::Error::from_raw_os_error(ENOSPC),
            _ => io::Error::from_raw_os_error(EIO),
        };
        report(
            &self.faults,
            InjectedFault {
                node: self.node,
                kind,
                path: path.to_path_buf(),
            },
        );
        Some(error)
    }
}

/// A file on a [`SimStorage`]: the node's memory file plus fault injection.
struct SimFile {
    disk: SimStorage,
    /// The path it was opened at (for the trace and fsyncgate; a rename later is not followed,
    /// which only makes fsyncgate miss a file renamed after an unsynced write).
    path: PathBuf,
    inner: Arc<dyn StorageFile>,
}

impl StorageFile for SimFile {
    fn len_bytes(&self) -> io::Result<u64> {
        self.inner.len_bytes()
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_at(pos, buf)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let op = Op::Write {
            grows_bytes: data.len() as u64,
        };
        match self.disk.inject(op, &self.path) {
            Some(error) => Err(error),
            None => self.inner.append(data),
        }
    }

    fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        let end = pos.saturating_add(data.len() as u64);
        let grows_bytes = end.saturating_sub(self.inner.len_bytes()?);
        match self.disk.inject(Op::Write { grows_bytes }, &self.path) {
            Some(error) => Err(error),
            None => self.inner.write_at(pos, data),
        }
    }

    fn truncate(&self, len_bytes: u64) -> io::Result<()> {
        self.inner.truncate(len_bytes)
    }

    fn sync(&self) -> io::Result<()> {
        match self.disk.inject(Op::Sync, &self.path) {
            Some(error) => Err(error),
            None => self.inner.sync(),
        }
    }
}

impl Storage for SimStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        let inner = self.memory.open(path, create)?;
        Ok(Arc::new(SimFile {
            disk: self.clone(),
            path: path.to_path_buf(),
            inner,
        }))
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
        match self.inject(Op::Sync, dir) {
            Some(error) => Err(error),
            None => self.memory.sync_dir(dir),
        }
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

    /// A rename over a file's path leaves its open handles reading that file, as a POSIX
    /// descriptor does (the log cleaner's swap job renames each cleaned segment over the one
    /// the partition still reads from).
    #[test]
    fn an_open_file_renamed_over_stays_readable() {
        let disk = SimDisks::new().disk(1);
        disk.create_dir_all(Path::new("log")).unwrap();
        write(&disk, "log/s.log", b"old bytes", true);
        let old = disk.open(Path::new("log/s.log"), false).unwrap();
        write(&disk, "log/s.log.swap", b"new", true);
        disk.rename(Path::new("log/s.log.swap"), Path::new("log/s.log"))
            .unwrap();
        let mut buf = [0u8; 9];
        assert_eq!(old.read_at(0, &mut buf).unwrap(), 9);
        assert_eq!(&buf, b"old bytes");
        assert_eq!(old.len_bytes().unwrap(), 9);
        let new = disk.open(Path::new("log/s.log"), false).unwrap();
        assert_eq!(new.len_bytes().unwrap(), 3);
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

    fn window(write_eio: f64, fsync_eio: f64, fsyncgate: bool) -> FaultWindow {
        FaultWindow {
            write_eio,
            fsync_eio,
            fsyncgate,
            capacity_bytes: None,
        }
    }

    #[test]
    fn write_eio_writes_nothing_and_is_reported() {
        let disks = SimDisks::with_seed(1);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        disks.set_fault_sink(move |fault| lock(&sink).push(fault.clone()));
        let disk = disks.disk(1);
        let file = disk.open(Path::new("seg.log"), true).unwrap();
        disks.set_window(1, window(1.0, 0.0, false));
        let error = file.append(b"lost").unwrap_err();
        assert_eq!(error.raw_os_error(), Some(EIO));
        assert!(file.write_at(0, b"x").is_err());
        assert_eq!(file.len_bytes().unwrap(), 0);
        file.sync().unwrap(); // fsyncs are not affected by write errors
        disks.set_window(1, FaultWindow::default());
        file.append(b"ok").unwrap();
        let expected = InjectedFault {
            node: 1,
            kind: DiskFaultKind::WriteEio,
            path: PathBuf::from("seg.log"),
        };
        assert_eq!(lock(&seen).clone(), vec![expected.clone(), expected]);
        assert_eq!(disks.injected().len(), 2);
    }

    #[test]
    fn fsyncgate_drops_dirty_bytes_and_the_next_fsync_succeeds() {
        let disks = SimDisks::with_seed(2);
        let disk = disks.disk(1);
        let file = disk.open(Path::new("seg.log"), true).unwrap();
        file.append(b"synced").unwrap();
        file.sync().unwrap();
        file.append(b"-dirty").unwrap();
        disks.set_window(1, window(0.0, 1.0, true));
        assert_eq!(file.sync().unwrap_err().raw_os_error(), Some(EIO));
        assert_eq!(
            disks.injected()[0].kind,
            DiskFaultKind::FsyncEio { dropped_bytes: 6 }
        );
        // The dirty bytes are gone, not merely unsynced; the retried fsync "succeeds".
        disks.set_window(1, FaultWindow::default());
        file.sync().unwrap();
        assert_eq!(
            disks.memory_of(1).read_file(Path::new("seg.log")).unwrap(),
            b"synced"
        );
        // Without fsyncgate a failed fsync keeps the bytes (a crash may still lose them).
        file.append(b"-kept").unwrap();
        disks.set_window(1, window(0.0, 1.0, false));
        assert!(file.sync().is_err());
        assert!(disk.sync_dir(Path::new("")).is_err());
        assert_eq!(file.len_bytes().unwrap(), 11);
    }

    #[test]
    fn a_full_disk_refuses_growth_until_space_comes_back() {
        let disks = SimDisks::with_seed(3);
        let disk = disks.disk(1);
        write(&disk, "old", &[0u8; 100], true);
        let file = disk.open(Path::new("seg.log"), true).unwrap();
        disks.set_window(
            1,
            FaultWindow {
                capacity_bytes: Some(120),
                ..FaultWindow::default()
            },
        );
        file.append(&[1u8; 20]).unwrap();
        let error = file.append(b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(error.raw_os_error(), Some(ENOSPC));
        file.write_at(0, b"overwrite in place is fine").unwrap_err(); // grows past 120
        file.write_at(0, b"in place").unwrap();
        disk.remove_file(Path::new("old")).unwrap();
        file.append(b"space is back").unwrap();
        assert_eq!(disks.injected()[0].kind, DiskFaultKind::NoSpace);
    }

    /// A batch header with `base` and `last_offset_delta`, padded to `length` bytes after the
    /// frame (the simulator only reads the frame and the delta).
    fn batch(base: i64, last_offset_delta: i32, length: i32) -> Vec<u8> {
        let mut bytes = base.to_be_bytes().to_vec();
        bytes.extend(length.to_be_bytes());
        bytes.resize(BATCH_FRAME_BYTES + length as usize, 0xab);
        let delta_at = BATCH_LAST_OFFSET_DELTA_AT;
        bytes[delta_at..delta_at + 4].copy_from_slice(&last_offset_delta.to_be_bytes());
        bytes
    }

    #[test]
    fn bit_flips_hit_one_bit_of_a_synced_file_and_name_the_damaged_batch() {
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let disks = SimDisks::with_seed(seed);
            let disk = disks.disk(1);
            disk.create_dir_all(Path::new("t-0")).unwrap();
            let segment = [batch(0, 4, 80), batch(5, 2, 70), b"torn".to_vec()].concat();
            write(
                &disk,
                "t-0/00000000000000000000.log",
                &[batch(0, 0, 30)].concat(),
                true,
            );
            write(&disk, "t-0/00000000000000000010.log", &segment, true);
            write(&disk, "t-0/00000000000000000010.index", &[7u8; 16], true);
            write(&disk, "t-0/recovery-point.checkpoint", &[9u8; 20], true);
            write(&disk, "t-0/unknown.bin", &[9u8; 20], true);
            write(&disk, "producer-id-block.checkpoint", &[9u8; 18], true);
            let before = disks.memory_of(1);
            let snapshot: Vec<_> = before
                .file_names()
                .into_iter()
                .map(|path| before.read_file(&path).unwrap())
                .collect();
            let mut rng = SmallRng::seed_from_u64(seed);
            let (fault, damaged) = disks.flip_bit_at_rest(1, &mut rng).expect("targets exist");
            let DiskFaultKind::BitFlip { pos, bit } = fault.kind else {
                panic!("not a flip: {fault:?}");
            };
            let mut changed = 0;
            for (path, old) in before.file_names().into_iter().zip(snapshot) {
                let new = before.read_file(&path).unwrap();
                for (i, (a, b)) in old.iter().zip(&new).enumerate() {
                    if a != b {
                        changed += 1;
                        assert_eq!(
                            (path.clone(), i as u64, a ^ b),
                            (fault.path.clone(), pos, 1 << bit)
                        );
                    }
                }
            }
            assert_eq!(changed, 1);
            let name = fault.path.to_string_lossy().into_owned();
            assert!(!name.ends_with("unknown.bin") && !name.ends_with("0000.log"));
            assert!(
                name.starts_with("t-0/"),
                "node-wide files are not flipped: {name}"
            );
            if name.ends_with(".log") {
                // Only the last whole batch of the newest segment, from its CRC on.
                assert!((90 + BATCH_CRC_AT as u64..174).contains(&pos), "{pos}");
                let expected = DamagedBatch {
                    dir: PathBuf::from("t-0"),
                    first_offset: 5,
                    last_offset: 7,
                };
                assert_eq!(damaged, Some(expected));
            } else {
                assert_eq!(damaged, None);
            }
            kinds.insert(name);
        }
        assert_eq!(kinds.len(), 3, "every target kind is hit: {kinds:?}");
    }

    #[test]
    fn same_seed_same_disk_errors() {
        let run = |seed| {
            let disks = SimDisks::with_seed(seed);
            let disk = disks.disk(1);
            disks.set_window(1, window(0.3, 0.3, true));
            let file = disk.open(Path::new("f"), true).unwrap();
            for _ in 0..50 {
                let _ = file.append(b"data");
                let _ = file.sync();
            }
            (
                disks.injected(),
                disks.memory_of(1).read_file(Path::new("f")),
            )
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5).0, run(6).0);
        assert!(!run(5).0.is_empty());
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
