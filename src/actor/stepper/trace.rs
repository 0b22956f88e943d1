//! The stepper's run fingerprint: an order-sensitive FNV-1a 64 hash of everything it delivered.
//!
//! Written to through `fmt::Write`, so a delivered input is hashed straight from its `Debug`
//! form without building a string per event.

use std::fmt;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TraceHash {
    hash: u64,
    events: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        Self {
            hash: FNV_OFFSET,
            events: 0,
        }
    }
}

impl TraceHash {
    /// Folds one event (already written with `write!`) off: counts it and separates it from the
    /// next, so "ab","c" and "a","bc" hash differently.
    pub(super) fn end_event(&mut self) {
        self.events += 1;
        self.bytes(b"\n");
    }

    pub(super) fn hash(&self) -> u64 {
        self.hash
    }

    pub(super) fn events(&self) -> u64 {
        self.events
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.hash ^= u64::from(byte);
            self.hash = self.hash.wrapping_mul(FNV_PRIME);
        }
    }
}

impl fmt::Write for TraceHash {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;

    fn of(events: &[&str]) -> TraceHash {
        let mut trace = TraceHash::default();
        for event in events {
            let _ = write!(trace, "{event}");
            trace.end_event();
        }
        trace
    }

    #[test]
    fn order_and_event_boundaries_change_the_hash() {
        assert_eq!(of(&["a", "b"]), of(&["a", "b"]));
        assert_ne!(of(&["a", "b"]).hash(), of(&["b", "a"]).hash());
        assert_ne!(of(&["ab", "c"]).hash(), of(&["a", "bc"]).hash());
        assert_eq!(of(&["x", "y", "z"]).events(), 3);
    }
}
