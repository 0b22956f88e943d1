//! The same behavioural checks against every `Storage` backend, so the in-memory backend the
//! unit tests and the simulator use cannot drift from what real files do.

use std::io;
use std::path::Path;

use rill::storage::file::FileStorage;
use rill::storage::mem::MemStorage;
use rill::storage::{read_exact_at, Storage};

fn p(path: &str) -> &Path {
    Path::new(path)
}

fn read_all(storage: &dyn Storage, path: &str) -> Vec<u8> {
    let file = storage.open(p(path), false).expect("open for read");
    let mut buf = vec![0u8; file.len_bytes().unwrap() as usize];
    read_exact_at(file.as_ref(), 0, &mut buf).unwrap();
    buf
}

/// Everything a log relies on, checked through the trait only.
fn exercise(storage: &dyn Storage) {
    storage.create_dir_all(p("")).unwrap();
    storage.create_dir_all(p("topic-0")).unwrap();
    storage.create_dir_all(p("topic-0")).unwrap(); // idempotent
    assert!(storage.exists(p("topic-0")));
    assert!(!storage.exists(p("topic-1")));

    // open without create on a missing file
    let err = storage
        .open(p("topic-0/missing.log"), false)
        .err()
        .expect("missing");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    // create below a missing directory
    let err = storage
        .open(p("nope/x.log"), true)
        .err()
        .expect("missing parent");
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    // append / read_at / write_at / truncate
    let seg = storage
        .open(p("topic-0/00000000000000000000.log"), true)
        .unwrap();
    assert_eq!(seg.len_bytes().unwrap(), 0);
    assert_eq!(seg.append(b"abc").unwrap(), 0);
    assert_eq!(seg.append(b"defg").unwrap(), 3);
    let mut buf = [0u8; 10];
    assert_eq!(seg.read_at(5, &mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"fg");
    assert_eq!(seg.read_at(7, &mut buf).unwrap(), 0);
    assert_eq!(seg.read_at(100, &mut buf).unwrap(), 0);
    let mut exact = [0u8; 8];
    let err = read_exact_at(seg.as_ref(), 0, &mut exact).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    seg.write_at(1, b"XY").unwrap();
    seg.write_at(9, b"!").unwrap(); // extends with zeros
    assert_eq!(seg.len_bytes().unwrap(), 10);
    assert_eq!(
        read_all(storage, "topic-0/00000000000000000000.log"),
        b"aXYdefg\0\0!"
    );
    seg.truncate(4).unwrap();
    assert_eq!(seg.append(b"Z").unwrap(), 4);
    seg.sync().unwrap();
    assert_eq!(
        read_all(storage, "topic-0/00000000000000000000.log"),
        b"aXYdZ"
    );

    // A second handle sees the same bytes and length.
    let again = storage
        .open(p("topic-0/00000000000000000000.log"), true)
        .unwrap();
    assert_eq!(again.len_bytes().unwrap(), 5);

    // list is sorted, covers files and directories, fails on a missing dir
    storage.open(p("topic-0/b.index"), true).unwrap();
    storage.open(p("topic-0/a.timeindex"), true).unwrap();
    storage.create_dir_all(p("topic-0/sub")).unwrap();
    assert_eq!(
        storage.list(p("topic-0")).unwrap(),
        vec!["00000000000000000000.log", "a.timeindex", "b.index", "sub"]
    );
    assert_eq!(storage.list(p("")).unwrap(), vec!["topic-0"]);
    assert_eq!(
        storage.list(p("absent")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );

    // rename replaces the target atomically; remove_file
    let tmp = storage.open(p("topic-0/checkpoint.tmp"), true).unwrap();
    tmp.append(b"v2").unwrap();
    tmp.sync().unwrap();
    storage
        .open(p("topic-0/checkpoint"), true)
        .unwrap()
        .append(b"v1")
        .unwrap();
    storage
        .rename(p("topic-0/checkpoint.tmp"), p("topic-0/checkpoint"))
        .unwrap();
    storage.sync_dir(p("topic-0")).unwrap();
    assert_eq!(read_all(storage, "topic-0/checkpoint"), b"v2");
    assert!(!storage.exists(p("topic-0/checkpoint.tmp")));
    assert_eq!(
        storage
            .rename(p("topic-0/none"), p("topic-0/x"))
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );
    storage.remove_file(p("topic-0/b.index")).unwrap();
    assert_eq!(
        storage
            .remove_file(p("topic-0/b.index"))
            .unwrap_err()
            .kind(),
        io::ErrorKind::NotFound
    );

    // remove_dir_all removes a tree and tolerates absence
    storage.remove_dir_all(p("topic-0")).unwrap();
    storage.remove_dir_all(p("topic-0")).unwrap();
    assert!(!storage.exists(p("topic-0/checkpoint")));
    assert_eq!(storage.list(p("")).unwrap(), Vec::<String>::new());

    // paths must stay below the root
    for bad in ["/abs", "../up", "a/../../up"] {
        let err = storage.open(p(bad), true).err().expect("rejected");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
        assert_eq!(
            storage.create_dir_all(p(bad)).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(!storage.exists(p(bad)));
    }
}

#[test]
fn file_storage_behaves() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&FileStorage::new(dir.path().join("data")));
}

#[test]
fn mem_storage_behaves() {
    exercise(&MemStorage::new());
}

#[test]
fn file_storage_survives_reopen_of_the_storage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    {
        let storage = FileStorage::new(root.clone());
        storage.create_dir_all(p("t")).unwrap();
        let file = storage.open(p("t/f"), true).unwrap();
        file.append(b"persisted").unwrap();
        file.sync().unwrap();
        storage.sync_dir(p("t")).unwrap();
    }
    let storage = FileStorage::new(root);
    assert_eq!(read_all(&storage, "t/f"), b"persisted");
}
