//! The node's clean-shutdown marker (Kafka's `.kafka_cleanshutdown`): a file in the storage
//! root written as the last step of a clean shutdown, once every partition log is synced and
//! closed, and taken away first thing at start. Found at start, the last run lost nothing it
//! wrote; missing (a crash, a kill, a new or wiped disk), it may have lost what it had not
//! synced, and the broker says so when it registers (KIP-966: the controller then no longer
//! counts it among a partition's eligible leader replicas).

use std::io;
use std::path::Path;

use crate::storage::Storage;

/// The marker's name in the storage root (not a partition directory's: no `-<number>` end).
pub const MARKER: &str = ".rill-clean-shutdown";

/// Whether the last run ended with a clean shutdown. Removes the marker, durably, so that a
/// crash of this run is seen as one at the next start.
pub fn take(storage: &dyn Storage) -> io::Result<bool> {
    let marker = Path::new(MARKER);
    if !storage.exists(marker) {
        return Ok(false);
    }
    storage.remove_file(marker)?;
    storage.sync_dir(Path::new(""))?;
    Ok(true)
}

/// Leaves the marker: every log is synced and closed.
pub fn mark(storage: &dyn Storage) -> io::Result<()> {
    storage.open(Path::new(MARKER), true)?.sync()?;
    storage.sync_dir(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    #[test]
    fn the_marker_is_taken_once() {
        let storage = MemStorage::new();
        assert!(!take(&storage).unwrap(), "a new disk");
        mark(&storage).unwrap();
        assert!(take(&storage).unwrap(), "after a clean shutdown");
        assert!(!take(&storage).unwrap(), "a crash of the run that took it");
    }
}
