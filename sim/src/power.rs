//! Power to a node's disk, switched per incarnation of the node.
//!
//! A crash point fires inside one of the node's own tasks, which keeps running until its next
//! `.await` (and the node's other tasks may run before the harness kills it). Cutting the
//! power first makes sure nothing the node does after the crash point becomes durable: every
//! write, sync, rename or removal of that incarnation fails (EIO), reads still answer from the
//! page cache. The harness then kills the node and crashes its disk (`SimDisks::crash` drops
//! what was not synced); the restarted node gets a fresh switch.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rill::storage::{Storage, StorageFile};

use crate::storage::NodeId;

/// The power switch of every node's current incarnation. Cloning shares them.
#[derive(Clone, Default)]
pub struct PowerSwitches {
    on: Arc<Mutex<BTreeMap<NodeId, Arc<AtomicBool>>>>,
}

impl PowerSwitches {
    fn switches(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, Arc<AtomicBool>>> {
        self.on
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A (re)started node's disk, powered until [`Self::cut`].
    pub fn powered(&self, node: NodeId, disk: Arc<dyn Storage>) -> PoweredStorage {
        let on = Arc::new(AtomicBool::new(true));
        self.switches().insert(node, on.clone());
        PoweredStorage { disk, on }
    }

    /// Cuts the power of `node`'s current incarnation: from now on its storage refuses writes.
    pub fn cut(&self, node: NodeId) {
        if let Some(on) = self.switches().get(&node) {
            on.store(false, Ordering::SeqCst);
        }
    }
}

fn check(on: &AtomicBool) -> io::Result<()> {
    if on.load(Ordering::SeqCst) {
        Ok(())
    } else {
        Err(io::Error::other("simulated power failure: the disk is off"))
    }
}

/// A node's storage behind its power switch.
pub struct PoweredStorage {
    disk: Arc<dyn Storage>,
    on: Arc<AtomicBool>,
}

impl Storage for PoweredStorage {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
        if create && !self.disk.exists(path) {
            check(&self.on)?;
        }
        let file = self.disk.open(path, create)?;
        Ok(Arc::new(PoweredFile {
            file,
            on: self.on.clone(),
        }))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.disk.list(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        if self.disk.exists(dir) {
            return Ok(());
        }
        check(&self.on)?;
        self.disk.create_dir_all(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        check(&self.on)?;
        self.disk.remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        check(&self.on)?;
        self.disk.remove_dir_all(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        check(&self.on)?;
        self.disk.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        check(&self.on)?;
        self.disk.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> bool {
        self.disk.exists(path)
    }
}

struct PoweredFile {
    file: Arc<dyn StorageFile>,
    on: Arc<AtomicBool>,
}

impl StorageFile for PoweredFile {
    fn len_bytes(&self) -> io::Result<u64> {
        self.file.len_bytes()
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read_at(pos, buf)
    }

    fn append(&self, data: &[u8]) -> io::Result<u64> {
        check(&self.on)?;
        self.file.append(data)
    }

    fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        check(&self.on)?;
        self.file.write_at(pos, data)
    }

    fn truncate(&self, len_bytes: u64) -> io::Result<()> {
        check(&self.on)?;
        self.file.truncate(len_bytes)
    }

    fn sync(&self) -> io::Result<()> {
        check(&self.on)?;
        self.file.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SimDisks;

    #[test]
    fn after_the_cut_nothing_becomes_durable_and_a_restart_powers_up() {
        let disks = SimDisks::new();
        let switches = PowerSwitches::default();
        let storage = switches.powered(1, Arc::new(disks.disk(1)));
        let file = storage.open(Path::new("f"), true).unwrap();
        file.append(b"synced").unwrap();
        file.sync().unwrap();
        file.append(b"-late").unwrap();
        switches.cut(1);
        assert!(file.sync().is_err(), "a sync after the cut fails");
        assert!(file.append(b"x").is_err());
        assert!(storage.rename(Path::new("f"), Path::new("g")).is_err());
        assert!(storage.open(Path::new("new"), true).is_err());
        let mut buf = [0u8; 6];
        assert_eq!(file.read_at(0, &mut buf).unwrap(), 6, "reads still answer");
        assert_eq!(
            disks.memory_of(1).durable_file(Path::new("f")).unwrap(),
            b"synced"
        );
        let restarted = switches.powered(1, Arc::new(disks.disk(1)));
        restarted
            .open(Path::new("new"), true)
            .unwrap()
            .sync()
            .unwrap();
    }
}
