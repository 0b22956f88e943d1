//! Encoding a Fetch response without copying large record sets into it.
//!
//! The crate encodes a response into one buffer, copying every record set into it: for a
//! `fetch.max.bytes` (55 MiB) answer that was a fresh 55 MB buffer (page faults included) and a
//! 55 MB copy on a runtime worker, about half the broker's CPU under a stream of such Fetches
//! (bench/RESULTS.md). Here a record set of [`SPLICE_MIN_BYTES`] or more stays the `Bytes` read
//! from the log and becomes its own chunk of the [`Answer`]; the rest of the response is still
//! encoded by the crate, so the bytes on the wire are the crate's.
//!
//! How the crate's encoding is kept: the response is encoded twice with every record set left
//! out, once as null and once as empty. The two encodings have the same length and differ
//! exactly at each partition's records length prefix (null is `-1` / varint 0, empty is `0` /
//! varint 1), so comparing them finds where each record set goes, in encoding order. Each
//! prefix is then written for the real record set and the records spliced in after it.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse};

use super::codec;
use super::service::Answer;
use crate::protocol::frame::{HeaderPrefix, SIZE_BYTES};

/// See [`crate::limits::FETCH_SPLICE_MIN_BYTES`].
pub use crate::limits::FETCH_SPLICE_MIN_BYTES as SPLICE_MIN_BYTES;

/// First Fetch version whose records are compact (length as an unsigned varint of length + 1).
const FLEXIBLE_FROM: i16 = 12;

/// Encodes `response` as the answer to the Fetch with this header; record sets of
/// `splice_min` bytes or more are separate chunks.
pub fn encode(
    prefix: HeaderPrefix,
    mut response: FetchResponse,
    splice_min: usize,
) -> Result<Answer, String> {
    let large =
        records_mut(&mut response).any(|r| r.as_ref().is_some_and(|r| r.len() >= splice_min));
    if !large {
        return codec::encode(prefix, ApiKey::Fetch, &response).map(Answer::from);
    }
    let records: Vec<Option<Bytes>> = records_mut(&mut response).map(Option::take).collect();
    let as_null = codec::encode(prefix, ApiKey::Fetch, &response)?;
    for r in records_mut(&mut response) {
        *r = Some(Bytes::new());
    }
    let as_empty = codec::encode(prefix, ApiKey::Fetch, &response)?;
    let flexible = prefix.api_version >= FLEXIBLE_FROM;
    let marker_len = if flexible { 1 } else { 4 };
    let markers = differing_runs(&as_null, &as_empty);
    if markers.len() != records.len() || markers.iter().any(|&(_, len)| len != marker_len) {
        return Err(format!(
            "Fetch v{}: {} record sets but {} places for them in the encoding",
            prefix.api_version,
            records.len(),
            markers.len()
        ));
    }
    let size = records
        .iter()
        .try_fold(as_null.len() - SIZE_BYTES, |size, r| {
            let grown = size - marker_len
                + records_prefix_len(r, flexible)?
                + r.as_ref().map_or(0, Bytes::len);
            Ok::<_, String>(grown)
        })?;
    let size = i32::try_from(size).map_err(|_| format!("Fetch answer of {size} bytes"))?;
    let mut chunks = Vec::new();
    let mut out = BytesMut::with_capacity(as_null.len() + 64);
    out.put_i32(size);
    let mut at = SIZE_BYTES;
    for ((marker, _), r) in markers.into_iter().zip(records) {
        out.put_slice(&as_null[at..marker]);
        put_records_prefix(&mut out, &r, flexible)?;
        match r {
            Some(r) if r.len() >= splice_min => {
                chunks.push(out.split().freeze());
                chunks.push(r);
            }
            Some(r) => out.put_slice(&r),
            None => {}
        }
        at = marker + marker_len;
    }
    out.put_slice(&as_null[at..]);
    chunks.push(out.freeze());
    Ok(Answer::chunks(chunks))
}

/// Every partition's record set, in the order the crate encodes them.
fn records_mut(response: &mut FetchResponse) -> impl Iterator<Item = &mut Option<Bytes>> {
    response
        .responses
        .iter_mut()
        .flat_map(|topic| topic.partitions.iter_mut().map(|p| &mut p.records))
}

/// `(start, length)` of each maximal run of positions where `a` and `b` differ (same length).
fn differing_runs(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x == y {
            continue;
        }
        match runs.last_mut() {
            Some((start, len)) if *start + *len == i => *len += 1,
            _ => runs.push((i, 1)),
        }
    }
    runs
}

fn records_prefix_len(records: &Option<Bytes>, flexible: bool) -> Result<usize, String> {
    let mut sized = BytesMut::new();
    put_records_prefix(&mut sized, records, flexible)?;
    Ok(sized.len())
}

/// The length prefix the crate writes before a record set: `RECORDS` is an int32 length
/// (-1 for null), `COMPACT_RECORDS` an unsigned varint of length + 1 (0 for null). The crate's
/// encoders are private; the tests hold this to the crate's output.
fn put_records_prefix(
    out: &mut BytesMut,
    records: &Option<Bytes>,
    flexible: bool,
) -> Result<(), String> {
    let len = records.as_ref().map(Bytes::len);
    let too_long = || format!("a record set of {len:?} bytes is too long to encode");
    if flexible {
        let mut value = match len {
            None => 0,
            Some(len) => u32::try_from(len)
                .ok()
                .and_then(|len| len.checked_add(1))
                .ok_or_else(too_long)?,
        };
        while value >= 0x80 {
            out.put_u8((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.put_u8(value as u8);
    } else {
        let value = match len {
            None => -1,
            Some(len) => i32::try_from(len).map_err(|_| too_long())?,
        };
        out.put_i32(value);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
