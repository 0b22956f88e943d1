//! Upgrade in place: a data directory written by a single-node release (topics in
//! `__rill_meta/topics.bin`, no metadata log) starts with its topics and their records. The
//! old directory is made from a real one: a topic is created and written, the server stops,
//! its metadata log is removed and the old registry file written in its place.

mod common;

use std::collections::BTreeMap;

use common::{create_topic, fetch_all, produce, RillServer};
use rill::controller::store::{encode_legacy, legacy_path, LegacyTopic, META_DIR};

#[test]
fn topics_of_the_single_node_registry_are_imported_once_with_their_records() {
    let mut server = RillServer::start(&[]);
    let mut s = server.connect();
    create_topic(&mut s, "kept", 2);
    for value in [b"one".as_slice(), b"two", b"three"] {
        produce(&mut s, "kept", value);
    }
    drop(s);
    assert_eq!(server.terminate(), Some(0), "{}", server.log());

    // What the previous release left: its registry file and the partition logs.
    let root = server.data_dir.path();
    std::fs::remove_dir_all(root.join("__cluster_metadata-0")).unwrap();
    // That release wrote no topic id into its partition directories.
    for partition in 0..2 {
        let label = root
            .join(format!("kept-{partition}"))
            .join("partition.metadata");
        std::fs::remove_file(label).unwrap();
    }
    std::fs::create_dir_all(root.join(META_DIR)).unwrap();
    let old = BTreeMap::from([(
        "kept".to_string(),
        LegacyTopic {
            id: [5; 16],
            partitions: 2,
            replication_factor: 1,
            configs: BTreeMap::from([("retention.ms".to_string(), "-1".to_string())]),
        },
    )]);
    std::fs::write(root.join(legacy_path()), encode_legacy(&old)).unwrap();

    let mut upgraded = server.start_again(&[]);
    let mut s = upgraded.connect();
    let (high_watermark, bytes) = fetch_all(&mut s, "kept");
    assert_eq!(high_watermark, 3, "{}", upgraded.log());
    assert!(bytes > 0);
    assert!(upgraded
        .log()
        .contains("topic imported from the single-node registry"));
    assert!(
        !root.join(legacy_path()).exists(),
        "the file is renamed once imported"
    );
    assert!(root.join(META_DIR).join("topics.bin.imported").exists());
    assert!(
        root.join("kept-0").join("partition.metadata").exists(),
        "the imported topic's directories are labelled with its id"
    );
    assert_eq!(
        produce(&mut s, "kept", b"four"),
        3,
        "it takes records again"
    );
    drop(s);
    assert_eq!(upgraded.terminate(), Some(0), "{}", upgraded.log());
    let earlier = upgraded.log().len();

    // The next start has it from the metadata log (and imports nothing).
    let again = upgraded.start_again(&[]);
    let mut s = again.connect();
    assert_eq!(fetch_all(&mut s, "kept").0, 4);
    let log = again.log();
    let this_run = log.get(earlier..).unwrap_or(&log);
    assert!(!this_run.contains("imported from"), "{this_run}");
}
