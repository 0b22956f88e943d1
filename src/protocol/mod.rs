//! The Kafka wire adapter: frames, request headers, the advertised API versions.
//!
//! Request and response bodies are (de)coded by the `kafka-protocol` crate; this module does the
//! parts around it that must be right before any body is touched: the size cap on a frame
//! (checked before allocating), the header prefix every request version shares (so that an
//! unknown API key or version can still be answered with the right correlation id), and the
//! ApiVersions exchange including its UNSUPPORTED_VERSION fallback, and the bounds check that
//! runs before the crate decodes anything (the crate sizes allocations from wire counts):
//!
//! * [`frame`] — frame size cap, header prefix, response encoding.
//! * [`layout`] / [`layouts`] — every decoded request's wire layout, per version.
//! * [`bounds`] — walks a frame against its layout; refuses lengths the bytes cannot hold.
//! * [`request`] — the one decode entry point: bounds, header, body.
//! * [`layout_gen`] — random well-formed requests from a layout (tests and fuzzing).
//! * [`fuzz_support`] — the request path as the fuzz target drives it.
//! * [`throttle_field`] — where a response frame's `throttle_time_ms` is (request quotas).
//! * [`versions`], [`api_versions`] — the advertised table and the ApiVersions answer.
//! * [`api_name`] — an API's name (metrics labels).

pub mod api_name;
pub mod api_versions;
pub mod bounds;
pub mod frame;
pub mod fuzz_support;
pub mod layout;
pub mod layout_gen;
pub mod layouts;
pub mod request;
pub mod throttle_field;
pub mod versions;

/// `a` then `b`, in a const: the advertised versions and the request layouts are each a core
/// table followed by the consumer-group one. `N` must be `A + B` and `a` non-empty.
pub(crate) const fn concat<T: Copy, const A: usize, const B: usize, const N: usize>(
    a: [T; A],
    b: [T; B],
) -> [T; N] {
    assert!(A > 0 && A + B == N, "concat: N must be A + B");
    let mut all = [a[0]; N];
    let mut i = 0;
    while i < N {
        all[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    all
}
