//! Producer id allocation for `InitProducerId`.
//!
//! Ids must never repeat, across brokers and restarts: a reused id would let a new producer's
//! batches be taken for retries of an old one's. So ids come in blocks of
//! [`PRODUCER_ID_BLOCK_SIZE`] from the controller quorum (Kafka's AllocateProducerIds): the
//! leader commits each block to the metadata log before the broker hands out its first id, and
//! every block starts after every block committed before it. After a restart the broker asks
//! for a new block; the unused rest of the last one is skipped.
//!
//! The ask is a call the partitions actor makes to its node's voter ([`InitStep::ask`]); until
//! its answer ([`ProducerIds::block_granted`]) requests wait in arrival order (at most
//! [`INIT_PRODUCER_ID_WAITING_MAX`]; past it COORDINATOR_LOAD_IN_PROGRESS, which Kafka's own
//! producer-id manager answers while it fetches a block, and clients retry). A quorum that
//! gives no block (no leader yet, a timeout) answers the waiting requests
//! COORDINATOR_LOAD_IN_PROGRESS too; the next request asks again.
//!
//! Before ids came from the quorum, a single-node broker reserved them itself and kept the end
//! of its last block in `producer-id-block.checkpoint` at the storage root. That file is only
//! read now: its end is the least id the next block may start at ([`BlockAsk::at_least`]), so
//! an upgraded node never reissues an id it handed out. A damaged file stops allocation
//! (error) rather than risk reuse.
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
use std::path::Path;
use std::sync::Arc;

use super::transactional_ids::TransactionalIds;
use crate::actor::RequestId;
use crate::limits::INIT_PRODUCER_ID_WAITING_MAX;
#[cfg(test)]
use crate::limits::PRODUCER_ID_BLOCK_SIZE;
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

/// The next block, as the partitions actor asks the quorum for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockAsk {
    /// The block starts here or later.
    pub at_least: i64,
}

/// What the partitions actor does after [`ProducerIds::request`] or
/// [`ProducerIds::block_granted`].
#[derive(Debug, Default)]
pub struct InitStep {
    /// Requests answered now, in the order they arrived.
    pub answers: Vec<(RequestId, InitOutcome)>,
    /// Ask the quorum for the next block; its answer goes to [`ProducerIds::block_granted`].
    pub ask: Option<BlockAsk>,
}

/// One request, as far as it could go without waiting.
enum Init {
    Ready(InitOutcome),
    /// The block is used up: the next one must be granted first.
    NeedsBlock(BlockAsk),
}

/// Why an allocation cannot answer with an id now.
enum Blocked {
    Refused(ErrorCode),
    NeedsBlock(BlockAsk),
}

impl From<ErrorCode> for Blocked {
    fn from(code: ErrorCode) -> Self {
        Blocked::Refused(code)
    }
}

pub struct ProducerIds {
    storage: Arc<dyn Storage>,
    /// The block ids come from; `None` before the first one is granted.
    block: Option<Block>,
    /// The end of the legacy block file (0 without one), once read (at the first block ask).
    legacy_end: Option<i64>,
    /// The `at_least` of the block ask in flight, while one is.
    asking: Option<i64>,
    /// Requests waiting for that block, in arrival order, with their transactional ids.
    waiting: VecDeque<(RequestId, Option<String>)>,
    /// Transactional id → (producer id, epoch). In memory only and bounded; see the module docs.
    transactional: TransactionalIds,
}

#[cfg(test)]
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
            legacy_end: None,
            asking: None,
            waiting: VecDeque::new(),
            transactional: TransactionalIds::default(),
        }
    }

    /// An `InitProducerId` request (`id`) at `now_ms` (monotonic): answered now, or queued
    /// behind the ask for the next block (which this request may start).
    pub fn request(
        &mut self,
        id: RequestId,
        transactional_id: Option<String>,
        now_ms: u64,
    ) -> InitStep {
        if self.waiting.len() >= INIT_PRODUCER_ID_WAITING_MAX {
            return InitStep {
                answers: vec![(id, Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))],
                ask: None,
            };
        }
        self.waiting.push_back((id, transactional_id));
        self.drain(now_ms)
    }

    /// The quorum's answer to the ask [`InitStep::ask`] made: the block
    /// `first_id..first_id + count`, or the error the waiting requests get. The waiting
    /// requests are answered in order (one may need yet another block). An answer with no ask
    /// in flight is ignored.
    pub fn block_granted(
        &mut self,
        granted: Result<(i64, i32), ErrorCode>,
        now_ms: u64,
    ) -> InitStep {
        let Some(at_least) = self.asking.take() else {
            return InitStep::default();
        };
        // The ask's `at_least` covers the last block's end and the legacy file's.
        let previous_end = self.block.map_or(0, |b| b.block_end).max(at_least);
        let block = granted.and_then(|(first_id, count)| {
            let block_end = first_id.checked_add(i64::from(count));
            match block_end {
                // Blocks only move on: one that does not is a controller's bug, never used.
                Some(block_end) if count > 0 && first_id >= previous_end => Ok(Block {
                    next_id: first_id,
                    block_end,
                }),
                _ => {
                    tracing::error!(first_id, count, previous_end, "the quorum granted a producer id block that does not follow the last one; refused");
                    Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)
                }
            }
        });
        match block {
            Ok(block) => {
                self.block = Some(block);
                self.drain(now_ms)
            }
            Err(code) => {
                tracing::warn!(error = ?code, "no producer id block from the quorum yet");
                let answers = (self.waiting.drain(..))
                    .map(|(id, _)| (id, Err(code)))
                    .collect();
                InitStep { answers, ask: None }
            }
        }
    }

    /// Requests waiting for a block.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Answers waiting requests in order until one needs a block that is not granted yet.
    fn drain(&mut self, now_ms: u64) -> InitStep {
        let mut step = InitStep::default();
        while self.asking.is_none() {
            let Some((id, transactional_id)) = self.waiting.pop_front() else {
                break;
            };
            match self.init(transactional_id.as_deref(), now_ms) {
                Init::Ready(outcome) => step.answers.push((id, outcome)),
                Init::NeedsBlock(ask) => {
                    self.waiting.push_front((id, transactional_id));
                    step.ask = Some(ask);
                }
            }
        }
        step
    }

    /// One request's answer, or the block it needs first.
    fn init(&mut self, transactional_id: Option<&str>, now_ms: u64) -> Init {
        match self.try_init(transactional_id, now_ms) {
            Ok(answer) => Init::Ready(Ok(answer)),
            Err(Blocked::Refused(code)) => Init::Ready(Err(code)),
            Err(Blocked::NeedsBlock(ask)) => Init::NeedsBlock(ask),
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

    /// The next id of the granted block; when it is used up, the ask for the next block (and
    /// the ask is marked in flight).
    fn allocate(&mut self) -> Result<ProducerId, Blocked> {
        if let Some(block) = self.block.as_mut().filter(|b| b.next_id < b.block_end) {
            let id = ProducerId(block.next_id);
            block.next_id += 1;
            return Ok(id);
        }
        let legacy_end = match self.legacy_end {
            Some(end) => end,
            None => {
                let end = self.read_block_end().map_err(|e| {
                    tracing::error!(error = %e, "cannot read the producer id block file");
                    ErrorCode::COORDINATOR_NOT_AVAILABLE
                })?;
                *self.legacy_end.insert(end)
            }
        };
        let at_least = legacy_end.max(self.block.map_or(0, |b| b.block_end));
        self.asking = Some(at_least);
        Err(Blocked::NeedsBlock(BlockAsk { at_least }))
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

    /// The quorum's part, as its leader does it: every block after the last one granted, and
    /// at `at_least` or later.
    #[derive(Default)]
    struct Quorum {
        next: i64,
    }

    impl Quorum {
        fn grant(&mut self, ask: BlockAsk) -> Result<(i64, i32), ErrorCode> {
            let first = self.next.max(ask.at_least);
            self.next = first + PRODUCER_ID_BLOCK_SIZE;
            Ok((first, PRODUCER_ID_BLOCK_SIZE as i32))
        }
    }

    /// Asks for an id as the actor would, asking `quorum` for a block if one is needed; the
    /// answer to this request.
    fn init_from(
        ids: &mut ProducerIds,
        quorum: &mut Quorum,
        transactional_id: Option<&str>,
    ) -> InitOutcome {
        let mut step = ids.request(RequestId(0), transactional_id.map(String::from), 0);
        if let Some(ask) = step.ask.take() {
            assert!(
                step.answers.is_empty(),
                "nothing answered before the block is granted"
            );
            step = ids.block_granted(quorum.grant(ask), 0);
        }
        match step.answers.as_slice() {
            [(RequestId(0), outcome)] => *outcome,
            other => panic!("expected one answer, got {other:?}"),
        }
    }

    fn init(ids: &mut ProducerIds, transactional_id: Option<&str>) -> InitOutcome {
        init_from(ids, &mut Quorum::default(), transactional_id)
    }

    #[test]
    fn ids_are_unique_across_restarts_and_brokers_and_transactional_epochs_bump() {
        let mem = Arc::new(MemStorage::new());
        let mut quorum = Quorum::default();
        let mut ids = ProducerIds::new(mem.clone());
        assert_eq!(
            init_from(&mut ids, &mut quorum, None),
            Ok((ProducerId(0), 0))
        );
        assert_eq!(
            init_from(&mut ids, &mut quorum, None),
            Ok((ProducerId(1), 0))
        );
        let mut other_broker = ProducerIds::new(Arc::new(MemStorage::new()));
        assert_eq!(
            init_from(&mut other_broker, &mut quorum, None),
            Ok((ProducerId(PRODUCER_ID_BLOCK_SIZE), 0))
        );
        mem.crash();
        let mut ids = ProducerIds::new(mem.clone());
        let (after_crash, _) = init_from(&mut ids, &mut quorum, None).unwrap();
        assert_eq!(after_crash, ProducerId(2 * PRODUCER_ID_BLOCK_SIZE));
        let (txn_id, epoch) = init_from(&mut ids, &mut quorum, Some("t")).unwrap();
        assert_eq!(epoch, 0);
        assert_eq!(init_from(&mut ids, &mut quorum, Some("t")), Ok((txn_id, 1)));
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

    /// An upgraded single node's own block file is the least id its first block starts at; a
    /// file whose checksum holds but whose version is not ours is refused: its block end may
    /// mean something else, and a misread one could hand out ids again.
    #[test]
    fn the_legacy_block_file_bounds_the_first_block_and_another_version_stops_allocation() {
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
        let asked = ids.request(RequestId(0), None, 0).ask;
        assert_eq!(
            asked,
            Some(BlockAsk {
                at_least: 3 * PRODUCER_ID_BLOCK_SIZE
            }),
            "our own version is read"
        );
        let granted = ids.block_granted(Quorum::default().grant(asked.unwrap()), 0);
        assert_eq!(
            granted.answers,
            [(
                RequestId(0),
                Ok((ProducerId(3 * PRODUCER_ID_BLOCK_SIZE), 0))
            )]
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
    fn no_block_from_the_quorum_refuses_the_waiting_requests_and_the_next_one_asks_again() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let first = ids.request(RequestId(1), None, 0);
        assert!(first.answers.is_empty() && first.ask.is_some());
        // A transactional request needs no block of its own, but waits its turn all the same.
        let second = ids.request(RequestId(2), Some("t".into()), 0);
        assert!(second.answers.is_empty() && second.ask.is_none());
        assert_eq!(ids.waiting(), 2);
        let failed = ids.block_granted(Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS), 0);
        assert_eq!(
            failed.answers,
            [
                (RequestId(1), Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)),
                (RequestId(2), Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)),
            ]
        );
        assert!(failed.ask.is_none());
        let retry = ids.request(RequestId(3), None, 0);
        assert!(retry.answers.is_empty() && retry.ask.is_some(), "{retry:?}");
        let granted = ids.block_granted(Ok((0, 10)), 0);
        assert_eq!(granted.answers, [(RequestId(3), Ok((ProducerId(0), 0)))]);
        assert!(
            ids.block_granted(Ok((10, 10)), 0).answers.is_empty(),
            "no ask in flight"
        );
    }

    /// A block that starts before the end of the last one (a controller's bug) is never used.
    #[test]
    fn a_block_that_goes_back_is_refused() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let mut quorum = Quorum::default();
        for _ in 0..PRODUCER_ID_BLOCK_SIZE {
            init_from(&mut ids, &mut quorum, None).unwrap();
        }
        let step = ids.request(RequestId(7), None, 0);
        assert_eq!(
            step.ask,
            Some(BlockAsk {
                at_least: PRODUCER_ID_BLOCK_SIZE
            })
        );
        let back = ids.block_granted(Ok((PRODUCER_ID_BLOCK_SIZE - 1, 1000)), 0);
        assert_eq!(
            back.answers,
            [(RequestId(7), Err(ErrorCode::COORDINATOR_NOT_AVAILABLE))]
        );
    }

    #[test]
    fn the_requests_waiting_for_a_block_are_bounded() {
        let mut ids = ProducerIds::new(Arc::new(MemStorage::new()));
        let mut quorum = Quorum::default();
        let ask = ids.request(RequestId(0), None, 0).ask.expect("first block");
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
        let mut ask = Some(ask);
        while let Some(next) = ask.take() {
            let step = ids.block_granted(quorum.grant(next), 0);
            assert!(step.answers.len() as i64 <= PRODUCER_ID_BLOCK_SIZE);
            answers.extend(step.answers);
            ask = step.ask;
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
