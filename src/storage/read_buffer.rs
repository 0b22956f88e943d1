//! The buffer a large log read lands in.
//!
//! A Fetch of `fetch.max.bytes` (55 MiB) reads into a fresh buffer on the partitions actor. The
//! allocator maps such a buffer anew each time, and filling it faulted in 4 KiB pages one by
//! one: under a stream of 50 MB Fetches about two thirds of the actor's read time was page
//! faults (bench/RESULTS.md, issue 9 item 4), time every other client's request waited for.
//! Asking for transparent huge pages on the buffer (when the kernel offers them, as with the
//! usual `madvise` setting) faults it in 2 MiB at a time. Only a hint: where huge pages are not
//! available the buffer is the same, in 4 KiB pages.

use crate::limits::READ_HUGE_PAGE_HINT_MIN_BYTES as HUGE_PAGE_HINT_MIN_BYTES;

/// A zeroed buffer of `len` bytes for a read to fill.
pub fn zeroed(len: usize) -> Vec<u8> {
    // `vec!` of zeros maps a large buffer without touching it, so the hint still applies to
    // every page: the faults come when the read writes into it.
    let buf = vec![0u8; len];
    if len >= HUGE_PAGE_HINT_MIN_BYTES {
        hint_huge_pages(&buf);
    }
    buf
}

#[cfg(target_os = "linux")]
fn hint_huge_pages(buf: &[u8]) {
    const HUGE: usize = 2 << 20;
    let start = (buf.as_ptr() as usize).next_multiple_of(HUGE);
    let end = (buf.as_ptr() as usize + buf.len()) / HUGE * HUGE;
    if end > start {
        // SAFETY: MADV_HUGEPAGE only changes how the kernel backs pages of this range, which
        // lies inside `buf`'s allocation; contents and validity are unaffected. A failure (no
        // THP support) leaves the buffer as it was.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn hint_huge_pages(_: &[u8]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_zeroed_and_sized_either_side_of_the_hint() {
        for len in [
            0,
            1,
            HUGE_PAGE_HINT_MIN_BYTES - 1,
            HUGE_PAGE_HINT_MIN_BYTES + 4097,
        ] {
            let buf = zeroed(len);
            assert_eq!(buf.len(), len);
            assert!(buf.iter().all(|&b| b == 0));
        }
    }
}
