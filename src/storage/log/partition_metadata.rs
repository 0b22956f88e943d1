//! `partition.metadata`: which topic a partition directory belongs to, by topic id (Kafka's
//! file of KIP-516, in its text form: `version: 0` and `topic_id: <id>`, the id as Kafka prints
//! a `Uuid`), followed by a line Kafka's has not: `crc32c: <hex>` of the lines before it. A
//! directory that names another id is removed, so a flipped bit must not name one: a file whose
//! checksum does not match counts as absent (and the directory as the opening topic's).
//!
//! Directories are named `<topic>-<partition>`, so a topic deleted while a broker was down and
//! created again under its name would otherwise find the old topic's records there when the
//! broker opens its replica. The broker compares this file's id with the metadata's and
//! removes a directory of another topic before opening (`partition/actor.rs`).
//!
//! The file is written when the partition is first opened with a topic id, by a persist job
//! ([`replace_op`]: a temporary file, synced, renamed over, the directory synced), so it is
//! durable a moment after the open; a directory without it (from before topic ids, or a crash
//! in that moment) is taken as the opening topic's and labelled then. A file that does not
//! read as this module writes it counts as absent.

use std::io;
use std::path::{Path, PathBuf};

use crate::storage::persist::PersistOp;
use crate::storage::Storage;
use crate::types::cluster_id_text;

/// The file's name inside a partition directory.
pub const FILE_NAME: &str = "partition.metadata";

/// The most bytes read of the file (it holds ~40): a larger file is not ours.
const FILE_BYTES_MAX: u64 = 256;

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The file's bytes for topic `id`.
pub fn encode(id: &[u8; 16]) -> Vec<u8> {
    let body = format!("version: 0\ntopic_id: {}\n", cluster_id_text(id));
    format!("{body}crc32c: {:08x}\n", crc32c::crc32c(body.as_bytes())).into_bytes()
}

/// The topic id `dir`'s file names, as Kafka prints it; `None` when the directory or the file
/// does not exist, or the file is not one this module wrote (torn by a crash, say).
pub fn read(storage: &dyn Storage, dir: &Path) -> io::Result<Option<String>> {
    let path = path(dir);
    if !storage.exists(&path) {
        return Ok(None);
    }
    let file = storage.open(&path, false)?;
    let len = file.len_bytes()?;
    if len > FILE_BYTES_MAX {
        return Ok(None);
    }
    let mut bytes = vec![0; len as usize];
    crate::storage::read_exact_at(file.as_ref(), 0, &mut bytes)?;
    Ok(decode(&bytes))
}

fn decode(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (body, crc) = text.split_at(text.rfind("crc32c: ")?);
    let crc = crc.strip_prefix("crc32c: ")?.strip_suffix('\n')?;
    let lower_hex = (crc.bytes()).all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if crc.len() != 8 || !lower_hex {
        return None;
    }
    if u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
        return None;
    }
    let rest = body.strip_prefix("version: 0\ntopic_id: ")?;
    let id = rest.strip_suffix('\n')?;
    let well_formed =
        id.len() == 22 && (id.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| id.to_owned())
}

/// The persist op that writes `dir`'s file for topic `id`, atomically and durably.
pub fn replace_op(dir: &Path, id: &[u8; 16]) -> PersistOp {
    PersistOp::ReplaceFile {
        path: path(dir),
        bytes: encode(id),
        fence: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    const DIR: &str = "t-0";

    #[test]
    fn a_written_id_reads_back_as_kafka_prints_it() {
        let mem = MemStorage::new();
        mem.create_dir_all(Path::new(DIR)).unwrap();
        assert_eq!(read(&mem, Path::new(DIR)).unwrap(), None, "no file yet");
        let id = [7u8; 16];
        let write = |id: &[u8; 16]| {
            crate::storage::persist::replace_file(&mem, &path(Path::new(DIR)), &encode(id)).unwrap()
        };
        write(&id);
        assert_eq!(
            read(&mem, Path::new(DIR)).unwrap(),
            Some(cluster_id_text(&id))
        );
        // Written again for another id (a shorter write leaves no tail of the old one).
        write(&[0; 16]);
        assert_eq!(
            read(&mem, Path::new(DIR)).unwrap().as_deref(),
            Some("AAAAAAAAAAAAAAAAAAAAAA")
        );
    }

    #[test]
    fn a_torn_or_foreign_file_reads_as_absent() {
        let good = encode(&[9; 16]);
        assert!(decode(&good).is_some());
        for torn in 0..good.len() {
            assert_eq!(decode(&good[..torn]), None, "cut at {torn}");
        }
        let with_crc = |body: &str| {
            format!("{body}crc32c: {:08x}\n", crc32c::crc32c(body.as_bytes())).into_bytes()
        };
        let kafkas = "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n";
        assert!(decode(&with_crc(kafkas)).is_some());
        // Kafka's two lines alone, another version, a bad id: not ours.
        assert_eq!(decode(kafkas.as_bytes()), None);
        let other = "version: 1\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n";
        assert_eq!(decode(&with_crc(other)), None);
        let bad = "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAA!\n";
        assert_eq!(decode(&with_crc(bad)), None);
        // One flipped bit anywhere (an id character into another valid one, say) never names
        // another topic.
        for byte in 0..good.len() {
            for bit in 0..8 {
                let mut flipped = good.clone();
                flipped[byte] ^= 1 << bit;
                assert_eq!(decode(&flipped), None, "bit {bit} of byte {byte}");
            }
        }
        let mem = MemStorage::new();
        mem.create_dir_all(Path::new(DIR)).unwrap();
        let file = mem.open(&path(Path::new(DIR)), true).unwrap();
        file.append(&[b'x'; 300]).unwrap();
        assert_eq!(read(&mem, Path::new(DIR)).unwrap(), None, "too large");
    }
}
