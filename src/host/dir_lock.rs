//! One server per log directory, as Kafka's `.lock` file enforces.
//!
//! Two servers on one directory both append to the same segment files, and the second one runs
//! crash recovery over the first one's live files (cutting what looks like a torn tail):
//! acknowledged records are lost. So `rill server` takes an exclusive OS lock (`flock` on Unix,
//! through `File::try_lock`) on `<log.dirs>/.lock` before anything reads the directory, and holds
//! it for the life of the process; a second server finds it held and refuses to start.
//!
//! The OS drops the lock when the process ends, however it ends (`kill -9` included), so a
//! crashed server never leaves a stale lock behind: the file's presence means nothing, only the
//! lock does. The holder writes its pid into the file so that a refused server can name it.
//!
//! Production only: the simulator runs `Server::start_on` on its own storage and never gets here.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::Path;

/// The lock file's name inside the log directory (Kafka's).
pub const LOCK_FILE: &str = ".lock";

#[derive(Debug, thiserror::Error)]
pub enum DirLockError {
    #[error(
        "log directory {dir} is in use by another process{holder}, which holds {dir}/{LOCK_FILE}; \
         two servers on one directory destroy each other's data: stop that one or give this one \
         another log.dirs"
    )]
    Held { dir: String, holder: String },
    #[error("cannot lock log directory {dir} ({dir}/{LOCK_FILE}): {source}")]
    Io { dir: String, source: io::Error },
}

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (which must exist) or says who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, DirLockError> {
        let shown = dir.display().to_string();
        let io = |source| DirLockError::Io {
            dir: shown.clone(),
            source,
        };
        // Not truncated on open: until we hold the lock, the file is the holder's, with its pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DirLockError::Held {
                    dir: shown.clone(),
                    holder: holder(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// " (pid N)" from the lock file, or "" if the holder has not written it (yet).
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    match file
        .read_to_string(&mut text)
        .map(|_| text.trim().parse::<u32>())
    {
        Ok(Ok(pid)) => format!(" (pid {pid})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let pid = std::process::id();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
            format!("{pid}\n")
        );
        // flock locks belong to an open file, so a second open in this process conflicts too.
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "log directory {} is in use by another process (pid {pid})",
                dir.path().display()
            )),
            "{err}"
        );
        drop(first);
        // The file is still there, but without its lock it stops nobody.
        let _again = DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = DirLock::acquire(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot lock log directory {}", missing.display())),
            "{err}"
        );
    }
}
