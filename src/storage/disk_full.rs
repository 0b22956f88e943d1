//! Recognising a full disk (ENOSPC) among I/O errors.
//!
//! Issue 11: a full disk is a fault the broker recovers from on its own once space is back
//! (a topic deleted, retention, an operator), so it is told apart from other I/O errors: the
//! partition logs it once when it fills and once when it recovers, and retries its log at the
//! offline interval instead of on every request. A persist job's error reaches the actor as its
//! message (`Input::Synced` carries a `String`), so both forms are recognised here.

use std::io;

/// The errno of "No space left on device" on Linux and the BSDs.
const ENOSPC: i32 = 28;

/// Whether `error` says the device is out of space.
pub fn is_storage_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull || error.raw_os_error() == Some(ENOSPC)
}

/// Whether a persist job's error message (an `io::Error` rendered with `to_string`, perhaps
/// wrapped in context) says the device is out of space.
pub fn is_storage_full_message(message: &str) -> bool {
    let os_error = format!("(os error {ENOSPC})");
    let kind = io::Error::from(io::ErrorKind::StorageFull).to_string();
    message.contains(&os_error) || message.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_recognised_in_both_forms() {
        let raw = io::Error::from_raw_os_error(ENOSPC);
        assert!(is_storage_full(&raw));
        assert!(is_storage_full(&io::Error::from(
            io::ErrorKind::StorageFull
        )));
        assert!(!is_storage_full(&io::Error::from_raw_os_error(5)), "EIO");
        assert!(is_storage_full_message(&format!(
            "sync of t-0/0.log: {raw}"
        )));
        let kind = io::Error::from(io::ErrorKind::StorageFull).to_string();
        assert!(is_storage_full_message(&kind));
        let eio = io::Error::from_raw_os_error(5).to_string();
        assert!(!is_storage_full_message(&eio));
        assert!(!is_storage_full_message("(os error 280)"), "another errno");
    }
}

/// Test storage whose disk can be "filled": while full, an append writes half its bytes and
/// fails with ENOSPC (a partial write, as a real `write` makes), and persist jobs' renames
/// fail too. Everything else is the wrapped [`MemStorage`](crate::storage::mem::MemStorage).
#[cfg(test)]
pub(crate) mod full_disk {
    use std::io;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use crate::storage::mem::MemStorage;
    use crate::storage::{Storage, StorageFile};

    #[derive(Clone, Default)]
    pub struct FullDisk {
        pub mem: MemStorage,
        full: Arc<AtomicBool>,
    }

    fn enospc() -> io::Error {
        io::Error::from_raw_os_error(28)
    }

    impl FullDisk {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn set_full(&self, full: bool) {
            self.full.store(full, Ordering::SeqCst);
        }

        fn check(&self) -> io::Result<()> {
            match self.full.load(Ordering::SeqCst) {
                true => Err(enospc()),
                false => Ok(()),
            }
        }
    }

    struct FullFile {
        inner: Arc<dyn StorageFile>,
        full: Arc<AtomicBool>,
    }

    impl StorageFile for FullFile {
        fn len_bytes(&self) -> io::Result<u64> {
            self.inner.len_bytes()
        }
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.inner.read_at(pos, buf)
        }
        fn append(&self, data: &[u8]) -> io::Result<u64> {
            if self.full.load(Ordering::SeqCst) {
                self.inner.append(&data[..data.len() / 2])?;
                return Err(enospc());
            }
            self.inner.append(data)
        }
        fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
            self.inner.write_at(pos, data)
        }
        fn truncate(&self, len_bytes: u64) -> io::Result<()> {
            self.inner.truncate(len_bytes)
        }
        fn sync(&self) -> io::Result<()> {
            self.inner.sync()
        }
    }

    impl Storage for FullDisk {
        fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StorageFile>> {
            let inner = self.mem.open(path, create)?;
            Ok(Arc::new(FullFile {
                inner,
                full: self.full.clone(),
            }))
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            self.mem.list(dir)
        }
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.mem.create_dir_all(dir)
        }
        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.mem.remove_file(path)
        }
        fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.mem.remove_dir_all(dir)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.check()?;
            self.mem.rename(from, to)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.mem.sync_dir(dir)
        }
        fn exists(&self, path: &Path) -> bool {
            self.mem.exists(path)
        }
    }
}
