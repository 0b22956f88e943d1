//! `rill server` stops cleanly on SIGTERM: in-flight answers are written, every partition log
//! is synced and closed with its clean-shutdown marker, the process exits 0, and the data is
//! all there after a restart.
#![cfg(not(madsim))]

mod common;

use common::{create_topic, fetch_all, produce, RillServer};

#[test]
fn sigterm_flushes_closes_and_exits_zero() {
    let mut server = RillServer::start(&["--override", "log.flush.interval.ms=600000"]);
    let mut s = server.connect();
    create_topic(&mut s, "life", 1);
    // With a 10-minute flush interval nothing is synced by the appends themselves: only the
    // clean shutdown makes these durable.
    for (i, value) in [b"one".as_slice(), b"two", b"three"]
        .into_iter()
        .enumerate()
    {
        assert_eq!(produce(&mut s, "life", value), i as i64);
    }
    let (hw_before, bytes_before) = fetch_all(&mut s, "life");
    assert_eq!(hw_before, 3);

    assert_eq!(server.terminate(), Some(0), "clean exit: {}", server.log());
    let log = server.log();
    assert!(log.contains("partition logs flushed and closed"), "{log}");
    let marker = server.data_dir.path().join("life-0").join("clean-shutdown");
    assert!(marker.exists(), "clean-shutdown marker written");

    let again = server.start_again(&[]);
    let mut s = again.connect();
    assert_eq!(
        fetch_all(&mut s, "life"),
        (hw_before, bytes_before),
        "everything is back after the restart"
    );
}
