//! Producer id allocation for `InitProducerId`.
//!
//! Ids must never repeat, across restarts too: a reused id would let a new producer's batches
//! be taken for retries of an old one's. So ids are reserved in blocks of
//! [`PRODUCER_ID_BLOCK_SIZE`]: before handing out the first id of a block, the block's end is
//! written to `producer-id-block.checkpoint` at the storage root (temp file, sync, rename, sync
//! dir). After a restart allocation continues at the persisted end; the unused rest of the
//! last block is skipped. A damaged file stops allocation (error) rather than risk reuse.
//!
//! The write is a persist job the host runs off the actor ([`InitStep::write`]); until its
//! completion ([`ProducerIds::block_written`]) requests wait in arrival order (at most
//! [`INIT_PRODUCER_ID_WAITING_MAX`]; past it COORDINATOR_LOAD_IN_PROGRESS, which Kafka's own
//! producer-id manager answers while it fetches a block, and clients retry). No id of a block
//! is handed out before the block is durable, so a crash can never reissue one. A failed write
//! answers the waiting requests COORDINATOR_NOT_AVAILABLE (as a failed inline write did); the
//! next request tries the block again.
//!
//! Like Kafka, a request without a transactional id always gets a fresh id with epoch 0 (the
//! producer's old id, if it sends one, is simply replaced). Transactional ids get their epoch
//! bumped on every call, but that mapping is kept in memory only (transactions are not
//! implemented yet) and bounded ([`super::transactional_ids`]).
//!
//! ```text
//! @0 magic "RLPI"  @4 version u16 (=1)  @6 block end i64  @14 crc32c u32 of @0..14
//! ```

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::transactional_ids::TransactionalIds;
use crate::actor::RequestId;
use crate::limits::{INIT_PRODUCER_ID_WAITING_MAX, PRODUCER_ID_BLOCK_SIZE};
use crate::storage::persist::{PersistJob, PersistOp};
use crate::storage::Storage;
use crate::types::{ErrorCode, ProducerId};

pub const BLOCK_FILE: &str = "producer-id-block.checkpoint";
const MAGIC: &[u8; 4] = b"RLPI";
const VERSION: u16 = 1;
const FILE_BYTES: usize = 18;

/// The ids of the current block not handed out yet: `next_id..block_end`.
#[derive(Debug, Clone, Copy)]
struct Block {
    next_id: i64,
    block_end: i64,
}

/// What `InitProducerId` answers: `(producer_id, epoch)` or a Kafka error code.
pub type InitOutcome = Result<(ProducerId, i16), ErrorCode>;

/// What the partitions actor does after [`ProducerIds::request`] or
/// [`ProducerIds::block_written`].
#[derive(Debug, Default)]
pub struct InitStep {
    /// Requests answered now, in the order they arrived.
    pub answers: Vec<(RequestId, InitOutcome)>,
    /// The next block's write, to run off the actor; its completion goes to
    /// [`ProducerIds::block_written`].
    pub write: Option<PersistJob>,
}

/// One request, as far as it could go without waiting.
enum Init {
    Ready(InitOutcome),
    /// The block is used up: the next one must be durable first (this job writes it).
    NeedsBlock(PersistJob),
}

/// Why an allocation cannot answer with an id now.
enum Blocked {
    Refused(ErrorCode),
    NeedsBlock(PersistJob),
}

impl From<ErrorCode> for Blocked {
    fn from(code: ErrorCode) -> Self {
        Blocked::Refused(code)
    }
}

pub struct ProducerIds {
    storage: Arc<dyn Storage>,
    /// `None` until the block file was read (lazily, at the first request).
    block: Option<Block>,
    /// The end of the block whose write is in flight.
    writing: Option<i64>,
    /// Requests waiting for that write, in arrival order, with their transactional ids.
    waiting: VecDeque<(RequestId, Option<String>)>,
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
            writing: None,
            waiting: VecDeque::new(),
            transactional: TransactionalIds::default(),
        }
    }

    /// An `InitProducerId` request (`id`) at `now_ms` (monotonic): answered now, or queued
    /// behind the write of the next block (which this request may start).
    pub fn request(
        &mut self,
        id: RequestId,
        transactional_id: Option<String>,
        now_ms: u64,
    ) -> InitStep {
        if self.waiting.len() >= INIT_PRODUCER_ID_WAITING_MAX {
            return InitStep {
                answers: vec![(id, Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))],
                write: None,
            };
        }
        self.waiting.push_back((id, transactional_id));
        self.drain(now_ms)
    }

    /// The completion of the block write [`InitStep::write`] asked for: the waiting requests
    /// are answered in order (from the now durable block; one may need yet another block), or,
    /// if the write failed, refused.
    pub fn block_written(&mut self, result: Result<(), String>, now_ms: u64) -> InitStep {
        let Some(block_end) = self.writing.take() else {
            return InitStep::default(); // no write in flight: nothing waits for this
        };
        match result {
            Ok(()) => {
                if let Some(block) = &mut self.block {
                    block.block_end = block_end;
                }
                self.drain(now_ms)
            }
            Err(error) => {
                tracing::error!(%error, "cannot persist the producer id block");
                let answers = self
                    .waiting
                    .drain(..)
                    .map(|(id, _)| (id, Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)))
                    .collect();
                InitStep {
                    answers,
                    write: None,
                }
            }
        }
    }

    /// Requests waiting for a block write.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Answers waiting requests in order until one needs a block that is not durable yet.
    fn drain(&mut self, now_ms: u64) -> InitStep {
        let mut step = InitStep::default();
        while self.writing.is_none() {
            let Some((id, transactional_id)) = self.waiting.pop_front() else {
                break;
            };
            match self.init(transactional_id.as_deref(), now_ms) {
                Init::Ready(outcome) => step.answers.push((id, outcome)),
                Init::NeedsBlock(job) => {
                    self.waiting.push_front((id, transactional_id));
                    step.write = Some(job);
                }
            }
        }
        step
    }

    /// One request's answer, or the block write it needs first.
    fn init(&mut self, transactional_id: Option<&str>, now_ms: u64) -> Init {
        match self.try_init(transactional_id, now_ms) {
            Ok(answer) => Init::Ready(Ok(answer)),
            Err(Blocked::Refused(code)) => Init::Ready(Err(code)),
            Err(Blocked::NeedsBlock(job)) => Init::NeedsBlock(job),
        }
    }

    fn try_init(
        &mut self,
        transactional_id: Option<&str>,
        now_ms: u64,
    ) -> Result<(ProducerId, i16), Blocked> {
        let Some(txn) = transactional_id else {
            return Ok((self.allocate()?, 0));
        };
        // Found by the simulator (seed 2): kafka-protocol's default request carries `Some("")`,
        // and treating "" as a transactional id handed every such producer the same id with a
        // bumped epoch, so they fenced each other. Kafka refuses an empty id.
        if txn.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST.into());
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

    /// The next id of the durable block; when it is used up, the job that makes the next
    /// block durable (and the block is marked as being written).
    fn allocate(&mut self) -> Result<ProducerId, Blocked> {
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
        self.block = Some(block);
        if block.next_id >= block.block_end {
            let end = block
                .next_id
                .checked_add(PRODUCER_ID_BLOCK_SIZE)
                .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
            self.writing = Some(end);
            let write = PersistOp::ReplaceFile {
                path: PathBuf::from(BLOCK_FILE),
                bytes: encode(end).to_vec(),
                fence: None,
            };
            return Err(Blocked::NeedsBlock(PersistJob::new(
                self.storage.clone(),
                vec![write],
            )));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::mem::MemStorage;

    /// Asks for an id as the actor would, running the block write (the host's part) if one is
    /// needed; the answer to this request.
    fn init(ids: &mut ProducerIds, transactional_id: Option<&str>) -> InitOutcome {
        let mut step = ids.request(RequestId(0), transactional_id.map(String::from), 0);
        if let Some(job) = step.write.take() {
            assert!(
                step.answers.is_empty(),
                "nothing answered before the block is durable"
            );
            step = ids.block_written(job.run().map_err(|e| e.to_string()), 0);
        }
        match step.answers.as_slice() {
            [(RequestId(0), outcome)] => *outcome,
            other => panic!("expected one answer, got {other:?}"),
        }
    }

    #[test]
    fn ids_are_unique_across_crashes_and_transactional_epochs_bump() {
        let mem = Arc::new(MemStorage::new());
        let mut ids = ProducerIds::new(mem.clone());
        assert_eq!(init(&mut ids, None), Ok((ProducerId(0), 0)));
        assert_eq!(init(&mut ids, None), Ok((ProducerId(1), 0)));
        mem.crash();
        let mut ids = ProducerIds::new(mem.clone());
        let (after_crash, _) = init(&mut ids, None).unwrap();
        assert_eq!(after_crash, ProducerId(PRODUCER_ID_BLOCK_SIZE));
        let (txn_id, epoch) = init(&mut ids, Some("t")).unwrap();
        assert_eq!(epoch, 0);
        assert_eq!(init(&mut ids, Some("t")), Ok((txn_id, 1)));
    }

    #[test]
    fn a_transactional_id_at_epoch_i16_max_minus_one_gets_a_new_producer_id_at_epoch_zero() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let (first, _) = init(&mut ids, Some("t")).unwrap();
        ids.transactional.put("t", first, i16::MAX - 2, 0);
        assert_eq!(init(&mut ids, Some("t")), Ok((first, i16::MAX - 1)));
        // Kafka never hands out epoch i16::MAX: the id is exhausted, a fresh one starts at 0.
        let (fresh, epoch) = init(&mut ids, Some("t")).unwrap();
        assert_ne!(fresh, first);
        assert_eq!(epoch, 0);
        assert_eq!(init(&mut ids, Some("t")), Ok((fresh, 1)));
    }

    #[test]
    fn an_empty_transactional_id_is_refused_not_shared() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        assert_eq!(init(&mut ids, Some("")), Err(ErrorCode::INVALID_REQUEST));
        assert_eq!(init(&mut ids, None), Ok((ProducerId(0), 0)));
        assert_eq!(
            init(&mut ids, None),
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
        assert_eq!(
            init(&mut ids, None),
            Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
    }

    /// A block file whose checksum holds but whose version is not ours is refused too: its
    /// block end may mean something else, and a misread one could hand out ids again.
    #[test]
    fn a_block_file_of_another_version_stops_allocation() {
        let with_version = |version: u16| {
            let mut bytes = encode(3 * PRODUCER_ID_BLOCK_SIZE);
            bytes[4..6].copy_from_slice(&version.to_be_bytes());
            let crc = crc32c::crc32c(&bytes[..14]);
            bytes[14..18].copy_from_slice(&crc.to_be_bytes());
            bytes
        };
        let mem = Arc::new(MemStorage::new());
        let file = mem.open(Path::new(BLOCK_FILE), true).unwrap();
        file.append(&with_version(VERSION)).unwrap();
        let mut ids = ProducerIds::new(mem);
        assert_eq!(
            init(&mut ids, None),
            Ok((ProducerId(3 * PRODUCER_ID_BLOCK_SIZE), 0)),
            "our own version is read"
        );
        let mem = Arc::new(MemStorage::new());
        let file = mem.open(Path::new(BLOCK_FILE), true).unwrap();
        file.append(&with_version(VERSION + 1)).unwrap();
        let mut ids = ProducerIds::new(mem);
        assert_eq!(
            init(&mut ids, None),
            Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
    }

    #[test]
    fn a_failed_block_write_refuses_the_waiting_requests_and_the_next_one_retries_it() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let first = ids.request(RequestId(1), None, 0);
        assert!(first.answers.is_empty() && first.write.is_some());
        // A transactional request needs no block of its own, but waits its turn all the same.
        let second = ids.request(RequestId(2), Some("t".into()), 0);
        assert!(second.answers.is_empty() && second.write.is_none());
        assert_eq!(ids.waiting(), 2);
        let failed = ids.block_written(Err("disk full".into()), 0);
        assert_eq!(
            failed.answers,
            [
                (RequestId(1), Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
                (RequestId(2), Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            ]
        );
        assert!(failed.write.is_none());
        let retry = ids.request(RequestId(3), None, 0);
        assert!(
            retry.answers.is_empty() && retry.write.is_some(),
            "{retry:?}"
        );
        let stale = ids.block_written(Ok(()), 0);
        assert_eq!(stale.answers, [(RequestId(3), Ok((ProducerId(0), 0)))]);
        assert!(
            ids.block_written(Ok(()), 0).answers.is_empty(),
            "no write in flight"
        );
    }

    #[test]
    fn the_requests_waiting_for_a_block_are_bounded() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let write = ids
            .request(RequestId(0), None, 0)
            .write
            .expect("first block");
        for n in 1..INIT_PRODUCER_ID_WAITING_MAX as u64 {
            assert!(ids.request(RequestId(n), None, 0).answers.is_empty());
        }
        let over = INIT_PRODUCER_ID_WAITING_MAX as u64;
        let refused = ids.request(RequestId(over), None, 0);
        assert_eq!(
            refused.answers,
            [(
                RequestId(over),
                Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
            )]
        );
        // More wait than a block holds: the first block's ids are handed out, then the rest
        // wait for the next block.
        let mut answers = Vec::new();
        let mut write = Some(write);
        while let Some(job) = write.take() {
            let step = ids.block_written(job.run().map_err(|e| e.to_string()), 0);
            assert!(step.answers.len() as i64 <= PRODUCER_ID_BLOCK_SIZE);
            answers.extend(step.answers);
            write = step.write;
        }
        let answered: Vec<_> = answers.iter().map(|(id, _)| id.0).collect();
        assert_eq!(answered, (0..over).collect::<Vec<_>>(), "in arrival order");
        let handed: Vec<_> = answers.iter().map(|(_, o)| o.unwrap().0 .0).collect();
        assert_eq!(handed, (0..over as i64).collect::<Vec<_>>(), "distinct ids");
    }

    #[test]
    fn transactional_ids_counts_the_ids_remembered_and_the_bytes_of_their_names() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        assert_eq!(ids.transactional_ids(), (0, 0));
        init(&mut ids, Some("t")).unwrap();
        init(&mut ids, Some("abc")).unwrap();
        init(&mut ids, Some("t")).unwrap();
        init(&mut ids, None).unwrap();
        assert_eq!(ids.transactional_ids(), (2, 4), "t and abc, once each");
    }
}
