//! The cleaner's way into compressed batches (Kafka's cleaner decompresses a batch, filters
//! its records and writes the ones it keeps compressed again with the batch's own codec): a
//! compressed batch is looked into through its uncompressed copy ([`inflated`]), filtered like
//! any batch, and what it keeps is compressed again ([`deflated`]). A batch that does not
//! decompress within [`CLEAN_DECOMPRESSED_BATCH_BYTES_MAX`] is one the cleaner cannot look into:
//! it stays whole, and the key map is then opaque (no tombstone may go).

use crate::limits::CLEAN_DECOMPRESSED_BATCH_BYTES_MAX;
use crate::storage::batch::{self, BatchHeader, HEADER_BYTES};
use crate::storage::records;

/// The uncompressed copy of the compressed `batch` (its codec bits cleared, the records
/// section decompressed), or `None` when the cleaner cannot look into it.
pub(super) fn inflated(batch: &[u8], header: &BatchHeader) -> Option<Vec<u8>> {
    let payload = &batch[HEADER_BYTES..];
    let bound = CLEAN_DECOMPRESSED_BATCH_BYTES_MAX;
    match records::decompress_all(header.compression(), payload, bound) {
        Ok(records) => Some(batch::with_records_section(
            batch,
            0,
            &records,
            header.records_count,
        )),
        Err(error) => {
            let offset = header.base_offset;
            tracing::warn!(offset, error = %error.message, "the log cleaner keeps a compressed batch whole");
            None
        }
    }
}

/// `kept` (the filtered uncompressed copy of the compressed batch `original`) compressed
/// again with `original`'s codec (snappy keeps its framing), or `None` if that fails. A batch
/// left without records (kept for its producer's header) stays uncompressed, as Kafka writes
/// such a header.
pub(super) fn deflated(original: &[u8], header: &BatchHeader, kept: &[u8]) -> Option<Vec<u8>> {
    let count = BatchHeader::parse(kept).ok()?.records_count;
    if count == 0 {
        return Some(kept.to_vec());
    }
    let codec = header.compression();
    let xerial = codec == 2 && records::is_xerial(&original[HEADER_BYTES..]);
    match records::encode(codec, &kept[HEADER_BYTES..], xerial) {
        Ok(compressed) => Some(batch::with_records_section(kept, codec, &compressed, count)),
        Err(error) => {
            let offset = header.base_offset;
            tracing::warn!(offset, %error, "the log cleaner cannot compress a batch again; kept whole");
            None
        }
    }
}
