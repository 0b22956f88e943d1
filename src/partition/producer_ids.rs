//! Producer id allocation for `InitProducerId`.
//!
//! Ids must never repeat, across restarts too: a reused id would let a new producer's batches
//! be taken for retries of an old one's. So ids are reserved in blocks of
//! [`PRODUCER_ID_BLOCK_SIZE`]: before handing out the first id of a block, the block's end is
//! written to `producer-id-block.checkpoint` at the storage root (temp file, sync, rename, sync
//! dir). After a restart allocation continues at the persisted end; the unused rest of the
//! last block is skipped. A damaged file stops allocation (error) rather than risk reuse.
//!
//! Like Kafka, a request without a transactional id always gets a fresh id with epoch 0 (the
//! producer's old id, if it sends one, is simply replaced). Transactional ids get their epoch
//! bumped on every call, but that mapping is kept in memory only (transactions are not
//! implemented yet) and bounded ([`super::transactional_ids`]).
//!
//! ```text
//! @0 magic "RLPI"  @4 version u16 (=1)  @6 block end i64  @14 crc32c u32 of @0..14
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::transactional_ids::TransactionalIds;
use crate::limits::PRODUCER_ID_BLOCK_SIZE;
use crate::storage::Storage;
use crate::types::{ErrorCode, ProducerId};

pub const BLOCK_FILE: &str = "producer-id-block.checkpoint";
const TMP_FILE: &str = "producer-id-block.checkpoint.tmp";
const MAGIC: &[u8; 4] = b"RLPI";
const VERSION: u16 = 1;
const FILE_BYTES: usize = 18;

/// The ids of the current block not handed out yet: `next_id..block_end`.
#[derive(Debug, Clone, Copy)]
struct Block {
    next_id: i64,
    block_end: i64,
}

pub struct ProducerIds {
    storage: Arc<dyn Storage>,
    /// `None` until the block file was read (lazily, at the first request).
    block: Option<Block>,
    /// Transactional id → (producer id, epoch). In memory only and bounded; see the module docs.
    transactional: TransactionalIds,
}

fn encode(block_end: i64) -> [u8; FILE_BYTES] {
    let mut out = [0u8; FILE_BYTES];
    out[0..4].copy_from_slice(MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_be_bytes());
    out[6..14].copy_from_slice(&block_end.to_be_bytes());
    let crc = crc32c::crc32c(&out[..14]);
    out[14..18].copy_from_slice(&crc.to_be_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != FILE_BYTES || &bytes[0..4] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes(bytes[14..18].try_into().ok()?);
    let version = u16::from_be_bytes([bytes[4], bytes[5]]);
    if crc != crc32c::crc32c(&bytes[..14]) || version != VERSION {
        return None;
    }
    let block_end = i64::from_be_bytes(bytes[6..14].try_into().ok()?);
    (block_end >= 0).then_some(block_end)
}

impl ProducerIds {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            block: None,
            transactional: TransactionalIds::default(),
        }
    }

    /// Answers `InitProducerId` at `now_ms` (monotonic): `(producer_id, epoch)` or a Kafka
    /// error code.
    pub fn init(
        &mut self,
        transactional_id: Option<&str>,
        now_ms: u64,
    ) -> Result<(ProducerId, i16), ErrorCode> {
        let Some(txn) = transactional_id else {
            return Ok((self.allocate()?, 0));
        };
        // Found by the simulator (seed 2): kafka-protocol's default request carries `Some("")`,
        // and treating "" as a transactional id handed every such producer the same id with a
        // bumped epoch, so they fenced each other. Kafka refuses an empty id.
        if txn.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        let next = match self.transactional.get(txn) {
            Some((id, epoch)) if epoch < i16::MAX - 1 => (id, epoch + 1),
            _ => (self.allocate()?, 0),
        };
        self.transactional.put(txn, next.0, next.1, now_ms);
        Ok(next)
    }

    /// Forgets transactional ids unused for `transactional.id.expiration.ms` (housekeeping).
    pub fn expire(&mut self, now_ms: u64) {
        self.transactional.expire(now_ms);
    }

    /// How many transactional ids are remembered, and the bytes of their names.
    pub fn transactional_ids(&self) -> (usize, usize) {
        (self.transactional.len(), self.transactional.name_bytes())
    }

    fn allocate(&mut self) -> Result<ProducerId, ErrorCode> {
        let mut block = match self.block {
            Some(block) => block,
            None => {
                let persisted_end = self.read_block_end().map_err(|e| {
                    tracing::error!(error = %e, "cannot read the producer id block file");
                    ErrorCode::COORDINATOR_NOT_AVAILABLE
                })?;
                Block {
                    next_id: persisted_end,
                    block_end: persisted_end,
                }
            }
        };
        if block.next_id >= block.block_end {
            let end = block
                .next_id
                .checked_add(PRODUCER_ID_BLOCK_SIZE)
                .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
            self.write_block_end(end).map_err(|e| {
                tracing::error!(error = %e, "cannot persist the producer id block");
                ErrorCode::COORDINATOR_NOT_AVAILABLE
            })?;
            block.block_end = end;
        }
        let id = ProducerId(block.next_id);
        block.next_id += 1;
        self.block = Some(block);
        Ok(id)
    }

    fn read_block_end(&self) -> io::Result<i64> {
        let path = Path::new(BLOCK_FILE);
        if !self.storage.exists(path) {
            return Ok(0);
        }
        let file = self.storage.open(path, false)?;
        let len = file.len_bytes()?;
        let mut bytes = vec![0u8; len.min(FILE_BYTES as u64 + 1) as usize];
        let read = file.read_at(0, &mut bytes)?;
        decode(&bytes[..read]).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "damaged producer id block file")
        })
    }

    fn write_block_end(&self, block_end: i64) -> io::Result<()> {
        let tmp = Path::new(TMP_FILE);
        let file = self.storage.open(tmp, true)?;
        file.truncate(0)?;
        file.append(&encode(block_end))?;
        file.sync()?;
        self.storage.rename(tmp, Path::new(BLOCK_FILE))?;
        self.storage.sync_dir(Path::new(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    #[test]
    fn ids_are_unique_across_crashes_and_transactional_epochs_bump() {
        let mem = Arc::new(MemStorage::new());
        let mut ids = ProducerIds::new(mem.clone());
        assert_eq!(ids.init(None, 0), Ok((ProducerId(0), 0)));
        assert_eq!(ids.init(None, 0), Ok((ProducerId(1), 0)));
        mem.crash();
        let mut ids = ProducerIds::new(mem.clone());
        let (after_crash, _) = ids.init(None, 0).unwrap();
        assert_eq!(after_crash, ProducerId(PRODUCER_ID_BLOCK_SIZE));
        let (txn_id, epoch) = ids.init(Some("t"), 0).unwrap();
        assert_eq!(epoch, 0);
        assert_eq!(ids.init(Some("t"), 0), Ok((txn_id, 1)));
    }

    #[test]
    fn an_empty_transactional_id_is_refused_not_shared() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        assert_eq!(ids.init(Some(""), 0), Err(ErrorCode::INVALID_REQUEST));
        assert_eq!(ids.init(None, 0), Ok((ProducerId(0), 0)));
        assert_eq!(
            ids.init(None, 0),
            Ok((ProducerId(1), 0)),
            "idempotent producers never share an id"
        );
    }

    #[test]
    fn a_damaged_block_file_stops_allocation() {
        let mem = Arc::new(MemStorage::new());
        let file = mem.open(Path::new(BLOCK_FILE), true).unwrap();
        file.append(b"garbage").unwrap();
        let mut ids = ProducerIds::new(mem.clone());
        assert_eq!(ids.init(None, 0), Err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    }
}
