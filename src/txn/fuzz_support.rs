//! The body of the `txn_formats` fuzz target (`fuzz/`): untrusted bytes through every decoder
//! of the transactions formats, which must answer an error at worst and never panic nor
//! allocate by an unchecked count.

use crate::storage::log::txn_index;
use crate::storage::marker;

use super::records::{decode_key, decode_value};

/// Decodes `data` as a `__transaction_state` key and value (as written, and with the value
/// version forced to the flexible one), as a control batch's marker and as `.txnindex` bytes.
pub fn decode_arbitrary(data: &[u8]) {
    let _ = decode_key(data);
    let _ = decode_value(data);
    if data.len() >= 2 {
        let mut flexible = data.to_vec();
        flexible[..2].copy_from_slice(&1i16.to_be_bytes());
        let _ = decode_value(&flexible);
    }
    let _ = marker::read_control(data);
    let _ = txn_index::decode(data);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The fuzz body in plain `cargo test`.
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..400)) {
            super::decode_arbitrary(&data);
        }
    }
}
