//! Request bounds (issue: a 21-byte request killed the broker): every layout agrees with the
//! `kafka-protocol` crate, and no frame the bounds walker lets through makes the crate allocate
//! more than a bound derived from the frame's own length.
//!
//! A counting global allocator records the largest single allocation made on the test's thread
//! while a frame is decoded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rill::protocol::layout::Request;
use rill::protocol::{bounds, layout_gen, layouts, request, versions};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

fn note(size: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation made while `f` runs on this thread.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.with(|l| l.set(0));
    f();
    LARGEST.with(|l| l.get())
}

/// What a frame of `len` bytes may make the decoder allocate at once: each element of an array
/// takes at least one byte on the wire and at most this many in memory (the crate's largest
/// request struct), plus a constant for fixed-size buffers.
const BYTES_IN_MEMORY_PER_WIRE_BYTE: usize = 512;
const FIXED_ALLOWANCE_BYTES: usize = 64 * 1024;

fn bound(len: usize) -> usize {
    len * BYTES_IN_MEMORY_PER_WIRE_BYTE + FIXED_ALLOWANCE_BYTES
}

fn frame(layout: &Request, version: i16, body: &[u8], rng: &mut SmallRng) -> Bytes {
    let header_version = layout.key.request_header_version(version);
    let mut frame = layout_gen::header(layout.key as i16, version, 7, header_version, rng);
    frame.extend_from_slice(body);
    Bytes::from(frame)
}

#[test]
fn the_21_byte_frame_from_the_issue_is_refused_without_allocating() {
    let frame = Bytes::from_static(&[
        0x00, 0x13, 0x00, 0x04, 0x48, 0xdf, 0xe7, 0x49, 0x00, 0x02, 0x66, 0x7a, 0x40, 0x3e, 0x5e,
        0x9b, 0xfb,
    ]);
    let mut result = Ok(());
    let largest = largest_allocation(|| result = request::decode_any(&frame));
    let err = result.unwrap_err();
    assert!(err.contains("CreateTopics.topics"), "{err}");
    assert!(largest < 4096, "allocated {largest} bytes");
}

#[test]
fn every_advertised_api_and_version_has_a_layout() {
    for s in versions::SUPPORTED {
        if s.key == ApiKey::ApiVersions {
            continue; // answered from the header alone; its body is never decoded
        }
        let layout = layouts::request(s.key).unwrap_or_else(|| panic!("{:?} has no layout", s.key));
        for v in s.min..=s.max {
            assert!(
                layout.versions.contains(v),
                "{:?} v{v} outside its layout",
                s.key
            );
        }
    }
}

/// The consumer-group layouts are checked like every other (the tests below walk
/// `layouts::REQUESTS`). A group API is advertised only from `versions::GROUP_VERSIONS`; the
/// others (KIP-848's) are refused by the gateway before decoding until their lane lands.
#[test]
fn every_group_api_has_a_layout_and_is_advertised_only_from_its_row() {
    assert_eq!(layouts::GROUP_REQUESTS.len(), 13);
    for key in layouts::GROUP_REQUESTS.iter().map(|r| r.key) {
        let layout = layouts::request(key).unwrap_or_else(|| panic!("{key:?} has no layout"));
        assert_eq!(layout.key, key);
        let planned = versions::GROUP_VERSIONS
            .iter()
            .copied()
            .find(|s| s.key == key);
        assert_eq!(versions::supported(key as i16), planned, "{key:?}");
    }
}

/// Requests generated from each layout decode with the crate and use every byte: the layout
/// says where the crate's bytes go, for every version.
#[test]
fn every_layout_agrees_with_the_crate_at_every_version() {
    let mut rng = SmallRng::seed_from_u64(1);
    for layout in layouts::REQUESTS {
        for version in layout.versions.min..=layout.versions.max {
            for case in 0..200 {
                let body = Bytes::from(layout_gen::body(layout, version, &mut rng));
                let left = request::crate_decode_unchecked(layout.key, version, &body)
                    .unwrap_or_else(|e| {
                        panic!(
                            "{:?} v{version} case {case}: crate refuses {body:02x?}: {e}",
                            layout.key
                        )
                    });
                assert_eq!(
                    left, 0,
                    "{:?} v{version}: crate left bytes of {body:02x?}",
                    layout.key
                );
                bounds::check_body(&body, layout, version).unwrap_or_else(|e| {
                    panic!(
                        "{:?} v{version}: walker refuses a valid body {body:02x?}: {e}",
                        layout.key
                    )
                });
            }
        }
    }
}

/// Valid requests with one thing broken — a byte changed, a length maximised, the frame cut —
/// and fully random bodies: whatever the walker lets through decodes within the bound.
#[test]
fn damaged_and_random_frames_never_allocate_beyond_the_bound() {
    let mut rng = SmallRng::seed_from_u64(2);
    let mut refused = 0u64;
    let mut decoded = 0u64;
    for layout in layouts::REQUESTS {
        for version in layout.versions.min..=layout.versions.max {
            for _ in 0..300 {
                let mut body = layout_gen::body(layout, version, &mut rng);
                match rng.gen_range(0..4) {
                    0 if !body.is_empty() => {
                        let at = rng.gen_range(0..body.len());
                        body[at] = rng.gen();
                    }
                    1 if body.len() >= 4 => {
                        let at = rng.gen_range(0..body.len() - 3);
                        body[at..at + 4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
                    }
                    2 => body.truncate(rng.gen_range(0..=body.len())),
                    _ => body = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect(),
                }
                let frame = frame(layout, version, &body, &mut rng);
                let mut result = Ok(());
                let largest = largest_allocation(|| result = request::decode_any(&frame));
                assert!(
                    largest <= bound(frame.len()),
                    "{:?} v{version}: {largest} bytes allocated for a {}-byte frame {frame:02x?}",
                    layout.key,
                    frame.len()
                );
                match result {
                    Ok(()) => decoded += 1,
                    Err(_) => refused += 1,
                }
            }
        }
    }
    // Both outcomes must be exercised for the test to mean anything.
    assert!(
        decoded > 1000 && refused > 1000,
        "decoded {decoded}, refused {refused}"
    );
}

/// Random frames with any API key and version, advertised or not.
#[test]
fn random_frames_of_any_api_and_version_never_allocate_beyond_the_bound() {
    let mut rng = SmallRng::seed_from_u64(3);
    for _ in 0..50_000 {
        let mut frame = Vec::new();
        frame.extend_from_slice(&rng.gen_range(-1i16..80).to_be_bytes());
        frame.extend_from_slice(&rng.gen_range(-1i16..20).to_be_bytes());
        frame.extend_from_slice(&rng.gen::<i32>().to_be_bytes());
        let len = rng.gen_range(0..48);
        frame.extend((0..len).map(|_| rng.gen::<u8>()));
        let frame = Bytes::from(frame);
        let largest = largest_allocation(|| {
            let _ = request::decode_any(&frame);
        });
        assert!(
            largest <= bound(frame.len()),
            "{largest} bytes for {frame:02x?}"
        );
    }
}
