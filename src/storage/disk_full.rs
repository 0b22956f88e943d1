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
