//! One `__transaction_state` partition's coordinator: its transactional ids, its load, its
//! leadership term and its writes in flight (Kafka's `TransactionStateManager` for one
//! partition, with `TransactionCoordinator`'s request handling).
//!
//! * **Loading → Loaded.** A shard is made when its partition is led here and replays it below
//!   the durable log end it was given ([`super::load`]); meanwhile every request gets
//!   COORDINATOR_LOAD_IN_PROGRESS.
//! * **One write per id, applied on ack.** A decision of [`super::transitions`] that changes an
//!   id's metadata becomes one record appended under the shard's term; the id takes the new
//!   metadata, and the request its answer, only once the append is acknowledged. Meanwhile the
//!   id answers CONCURRENT_TRANSACTIONS (Kafka's `pendingTransitionInProgress`).
//! * **Any failed write ends the shard**, as a group shard's: the failed record may still be in
//!   the log, so the shard's memory is no longer the log's. The caller drops it
//!   ([`Shard::abandon`]) and loads again.
//! * **Producer ids** come from outside (the quorum's blocks, through the partitions actor): an
//!   InitProducerId that needs a new one waits for [`Shard::producer_id`], the shard asking
//!   with [`ShardOut::NeedProducerId`].
//!
//! * **Markers, then completion.** Once a PrepareCommit/PrepareAbort is acknowledged (or a
//!   load finds one), the shard hands the transaction's markers to its actor
//!   ([`ShardOut::Markers`]); when every partition has its marker the actor says so
//!   ([`Shard::markers_written`]) and the shard writes CompleteCommit/CompleteAbort. Until that
//!   is acknowledged the id answers CONCURRENT_TRANSACTIONS (Kafka's rule, which clients
//!   retry).
//!
//! Pure: it takes the time and returns [`ShardOut`]s; the actor turns them into effects.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::limits::{TXN_RECORD_BYTES_MAX, TXN_WAITING_FOR_ID_MAX};
use crate::messages::groups::LeaderTerm;
use crate::messages::partitions::FetchPartitionResult;
use crate::messages::txn::{
    AddPartitionsArgs, EndTxnArgs, InitTxnArgs, ListTxnArgs, ListedTxn, TxnDescription, TxnReply,
    TxnRequest, VerifyArgs,
};
use crate::storage::batch::build_batch_records;
use crate::types::{ErrorCode, Offset, ProducerId, TopicPartition};

use super::load::{Load, LoadStep};
use super::markers::MarkerJob;
use super::records::{encode_key, encode_value};
use super::state::TxnState;
use super::transitions::{self, InitDecision, TxnMetadata};

/// What a shard asks of its actor, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum ShardOut<W> {
    /// Answer the request `W`.
    Answer(W, TxnReply),
    /// Append `batch` under the shard's term; feed the outcome to [`Shard::appended`].
    Append { write: u64, batch: Vec<u8> },
    /// Read the partition from `from` for the load; feed the answer to [`Shard::fetched`].
    Read { from: Offset },
    /// A new producer id is wanted; feed it to [`Shard::producer_id`].
    NeedProducerId,
    /// Write these markers; once all are written, call [`Shard::markers_written`].
    Markers(MarkerJob),
}

/// Why a shard must be dropped and loaded again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unload(pub String);

/// ListTransactions' filters, read once for every shard (Kafka's `listTransactionStates`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListFilter {
    /// `None`: every state. `Some`: only these; empty when every name given was unknown, and
    /// then nothing matches (Kafka filters by the names given, known or not).
    states: Option<BTreeSet<TxnState>>,
    /// Empty: every producer id.
    producer_ids: BTreeSet<i64>,
    /// Only transactions started more than this long ago; negative: no filter.
    duration_ms: i64,
}

impl ListFilter {
    /// The filter `args` asks for, and the state names among them that name no state (Kafka
    /// answers them in `unknown_state_filters`). Names are Kafka's, matched exactly.
    pub fn new(args: &ListTxnArgs) -> (Self, Vec<String>) {
        let mut unknown = Vec::new();
        let states = (!args.states.is_empty()).then(|| {
            let mut states = BTreeSet::new();
            for name in &args.states {
                match TxnState::ALL
                    .into_iter()
                    .find(|s| s.name() == name.as_str())
                {
                    Some(state) => {
                        states.insert(state);
                    }
                    None => unknown.push(name.clone()),
                }
            }
            states
        });
        let filter = Self {
            states,
            producer_ids: args.producer_ids.iter().map(|p| p.0).collect(),
            duration_ms: args.duration_filter_ms,
        };
        (filter, unknown)
    }

    /// Whether the id with `meta` is listed at `now_ms`. A Dead id never is: it is on its
    /// way out (Kafka's rule).
    fn includes(&self, meta: &TxnMetadata, now_ms: i64) -> bool {
        meta.state != TxnState::Dead
            && (self.producer_ids.is_empty() || self.producer_ids.contains(&meta.producer_id))
            && (self.states.as_ref()).is_none_or(|states| states.contains(&meta.state))
            && (self.duration_ms < 0 || now_ms.saturating_sub(meta.start_ms) > self.duration_ms)
    }
}

/// What a write's acknowledgement answers.
#[derive(Debug)]
enum After<W> {
    /// Answer the request with this.
    Answer(W, TxnReply),
    /// Nothing: the coordinator's own write (a timed-out transaction's abort).
    Nothing,
}

/// A write in flight: whose id, the metadata it writes (`None`: the id's tombstone), and what
/// its ack answers.
#[derive(Debug)]
struct InFlight<W> {
    id: String,
    next: Option<TxnMetadata>,
    after: After<W>,
}

#[derive(Debug)]
enum Phase {
    Loading(Load),
    Loaded,
}

#[derive(Debug)]
pub struct Shard<W> {
    partition: i32,
    term: LeaderTerm,
    /// Unique per shard made by the actor: answers to an older shard's calls are told apart.
    id: u64,
    /// `transaction.max.timeout.ms`: a longer transaction timeout is refused.
    max_timeout_ms: i32,
    phase: Phase,
    ids: BTreeMap<String, TxnMetadata>,
    /// The bytes of the ids' names (the node's bound counts them).
    id_bytes: usize,
    writes: BTreeMap<u64, InFlight<W>>,
    /// How many of `writes` each id has (so that a request's check is no scan of them).
    writes_by_id: BTreeMap<String, usize>,
    next_write: u64,
    /// Producer ids granted and not used yet.
    spare_producer_ids: Vec<i64>,
    /// InitProducerId requests waiting for a producer id, in arrival order.
    waiting_for_id: VecDeque<(W, InitTxnArgs)>,
}

impl<W: Copy> Shard<W> {
    /// The shard of `partition` under `term`, loading everything below `log_end`.
    pub fn new(
        partition: i32,
        term: LeaderTerm,
        log_end: Offset,
        id: u64,
        max_timeout_ms: i32,
        out: &mut Vec<ShardOut<W>>,
    ) -> Self {
        let load = Load::new(log_end);
        let mut shard = Self {
            partition,
            term,
            id,
            max_timeout_ms,
            phase: Phase::Loading(load),
            ids: BTreeMap::new(),
            id_bytes: 0,
            writes: BTreeMap::new(),
            writes_by_id: BTreeMap::new(),
            next_write: 0,
            spare_producer_ids: Vec::new(),
            waiting_for_id: VecDeque::new(),
        };
        shard.next_load_step(out);
        shard
    }

    pub fn term(&self) -> LeaderTerm {
        self.term
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn is_loading(&self) -> bool {
        matches!(self.phase, Phase::Loading(_))
    }

    /// The transactional ids this shard coordinates.
    pub fn id_count(&self) -> usize {
        self.ids.len()
    }

    /// The bytes of the names of the ids this shard coordinates.
    pub fn id_bytes(&self) -> usize {
        self.id_bytes
    }

    /// `transactional_id`'s metadata, as last acknowledged.
    pub fn metadata(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.ids.get(transactional_id)
    }

    /// ListTransactions: the ids `filter` includes at `now_ms`, as last acknowledged, added to
    /// `out` in id order; COORDINATOR_LOAD_IN_PROGRESS while loading (nothing added).
    pub fn list(
        &self,
        filter: &ListFilter,
        now_ms: i64,
        out: &mut Vec<ListedTxn>,
    ) -> Result<(), ErrorCode> {
        if self.is_loading() {
            return Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        }
        let listed = (self.ids.iter())
            .filter(|(_, meta)| filter.includes(meta, now_ms))
            .map(|(id, meta)| ListedTxn {
                transactional_id: id.clone(),
                producer_id: ProducerId(meta.producer_id),
                state: meta.state.name().to_owned(),
            });
        out.extend(listed);
        Ok(())
    }

    /// DescribeTransactions of one of this shard's ids, as last acknowledged (Kafka's
    /// `handleDescribeTransactions`): COORDINATOR_LOAD_IN_PROGRESS while loading,
    /// TRANSACTIONAL_ID_NOT_FOUND for an id it does not have or one that is Dead.
    pub fn describe(&self, transactional_id: &str) -> TxnDescription {
        if self.is_loading() {
            let code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
            return TxnDescription::refused(transactional_id, code);
        }
        match self.ids.get(transactional_id) {
            Some(meta) if meta.state != TxnState::Dead => TxnDescription {
                transactional_id: transactional_id.to_owned(),
                error_code: ErrorCode::NONE,
                state: meta.state.name().to_owned(),
                producer_id: ProducerId(meta.producer_id),
                producer_epoch: meta.epoch,
                timeout_ms: meta.timeout_ms,
                start_ms: meta.start_ms,
                partitions: meta.partitions.clone(),
            },
            _ => {
                let code = ErrorCode::TRANSACTIONAL_ID_NOT_FOUND;
                TxnDescription::refused(transactional_id, code)
            }
        }
    }

    fn next_load_step(&mut self, out: &mut Vec<ShardOut<W>>) {
        let Phase::Loading(load) = &self.phase else {
            return;
        };
        match load.step() {
            LoadStep::Read(from) => out.push(ShardOut::Read { from }),
            LoadStep::Done => self.finish_load(out),
        }
    }

    fn finish_load(&mut self, out: &mut Vec<ShardOut<W>>) {
        let Phase::Loading(load) = std::mem::replace(&mut self.phase, Phase::Loaded) else {
            return;
        };
        let replayed = load.finish();
        if replayed.skipped > 0 {
            tracing::warn!(
                partition = self.partition,
                skipped = replayed.skipped,
                "__transaction_state records the coordinator could not read were skipped"
            );
        }
        self.ids = replayed.ids;
        self.id_bytes = self.ids.keys().map(String::len).sum();
        // Prepared transactions finish: their markers are sent again (Kafka's load does the
        // same); an open one is left to the timeout scan.
        for (id, meta) in &self.ids {
            if let Some(job) = marker_job(id, meta) {
                out.push(ShardOut::Markers(job));
            }
        }
    }

    /// A load read's answer.
    pub fn fetched(
        &mut self,
        read: &FetchPartitionResult,
        out: &mut Vec<ShardOut<W>>,
    ) -> Result<(), Unload> {
        let Phase::Loading(load) = &mut self.phase else {
            return Ok(()); // an answer of an older load
        };
        load.fetched(read).map_err(Unload)?;
        self.next_load_step(out);
        Ok(())
    }

    /// A client's request for one of this shard's ids.
    pub fn request(&mut self, now_ms: i64, w: W, request: TxnRequest, out: &mut Vec<ShardOut<W>>) {
        if self.is_loading() {
            let reply = TxnReply::refused(&request, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
            return out.push(ShardOut::Answer(w, reply));
        }
        let Some(id) = request.transactional_id().map(str::to_owned) else {
            // List and Describe are answered by the actor over every shard.
            let reply = TxnReply::refused(&request, ErrorCode::INVALID_REQUEST);
            return out.push(ShardOut::Answer(w, reply));
        };
        let current = self.ids.get(&id);
        if self.writing(&id) {
            // Kafka checks the producer first: a fenced or foreign producer learns that
            // rather than to retry (InitProducerId has no producer to check).
            let code = match &request {
                TxnRequest::AddPartitions(AddPartitionsArgs {
                    producer_id,
                    producer_epoch,
                    ..
                })
                | TxnRequest::EndTxn(EndTxnArgs {
                    producer_id,
                    producer_epoch,
                    ..
                })
                | TxnRequest::Verify(VerifyArgs {
                    producer_id,
                    producer_epoch,
                    ..
                }) => {
                    transitions::check_known_producer(current, producer_id.0, *producer_epoch).err()
                }
                _ => None,
            };
            let code = code.unwrap_or(ErrorCode::CONCURRENT_TRANSACTIONS);
            let reply = TxnReply::refused(&request, code);
            return out.push(ShardOut::Answer(w, reply));
        }
        match &request {
            TxnRequest::InitProducerId(args) => self.init(now_ms, w, args.clone(), out),
            TxnRequest::AddPartitions(args) => {
                let decided = transitions::add_partitions(
                    current,
                    args.producer_id.0,
                    args.producer_epoch,
                    &args.partitions,
                    now_ms,
                );
                let answer = |code| TxnReply::AddPartitions(code);
                self.write_or_answer(now_ms, w, id, decided, answer, out);
            }
            TxnRequest::EndTxn(args) => {
                let decided = transitions::end_txn(
                    current,
                    args.producer_id.0,
                    args.producer_epoch,
                    args.commit,
                    now_ms,
                );
                let answer = |code| TxnReply::EndTxn(code);
                self.write_or_answer(now_ms, w, id, decided, answer, out);
            }
            TxnRequest::Verify(args) => {
                let code =
                    transitions::verify(current, args.producer_id.0, args.producer_epoch, &args.tp);
                out.push(ShardOut::Answer(w, TxnReply::Verified(code)));
            }
            TxnRequest::List(_) | TxnRequest::Describe(_) => {
                let reply = TxnReply::refused(&request, ErrorCode::INVALID_REQUEST);
                out.push(ShardOut::Answer(w, reply));
            }
        }
    }

    /// Whether `id` has a write in flight.
    fn writing(&self, id: &str) -> bool {
        self.writes_by_id.contains_key(id)
    }

    /// AddPartitions and EndTxn: new metadata to write (answered NONE once acknowledged), an
    /// answer with nothing to write, or a refusal.
    fn write_or_answer(
        &mut self,
        now_ms: i64,
        w: W,
        id: String,
        decided: Result<Option<TxnMetadata>, ErrorCode>,
        answer: impl Fn(ErrorCode) -> TxnReply,
        out: &mut Vec<ShardOut<W>>,
    ) {
        match decided {
            Ok(Some(next)) => self.write(
                now_ms,
                id,
                next,
                After::Answer(w, answer(ErrorCode::NONE)),
                out,
            ),
            Ok(None) => out.push(ShardOut::Answer(w, answer(ErrorCode::NONE))),
            Err(code) => out.push(ShardOut::Answer(w, answer(code))),
        }
    }

    fn init(&mut self, now_ms: i64, w: W, args: InitTxnArgs, out: &mut Vec<ShardOut<W>>) {
        let current = self.ids.get(&args.transactional_id);
        let expected = args.expected.map(|(pid, epoch)| (pid.0, epoch));
        // A decision that needs a new producer id while none is spare waits for one.
        let mut spare = self.spare_producer_ids.last().copied();
        let mut needed = false;
        let mut new_id = || {
            debug_assert!(!needed, "one producer id per decision");
            needed = true;
            spare.take().unwrap_or(-1)
        };
        let decided = transitions::init_producer_id(
            current,
            args.timeout_ms,
            self.max_timeout_ms,
            expected,
            now_ms,
            &mut new_id,
        );
        if needed && self.spare_producer_ids.is_empty() && decided.is_ok() {
            if self.waiting_for_id.len() >= TXN_WAITING_FOR_ID_MAX {
                let refused = TxnReply::InitProducerId(Err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
                return out.push(ShardOut::Answer(w, refused));
            }
            if self.waiting_for_id.is_empty() {
                out.push(ShardOut::NeedProducerId);
            }
            return self.waiting_for_id.push_back((w, args));
        }
        if needed && decided.is_ok() {
            self.spare_producer_ids.pop();
        }
        let id = args.transactional_id;
        match decided {
            Ok(InitDecision::Write(next)) => {
                let reply =
                    TxnReply::InitProducerId(Ok((ProducerId(next.producer_id), next.epoch)));
                self.write(now_ms, id, next, After::Answer(w, reply), out);
            }
            // An open transaction is aborted under a bumped epoch first; the producer retries.
            Ok(InitDecision::FenceOpen(fenced)) => {
                let reply = TxnReply::InitProducerId(Err(ErrorCode::CONCURRENT_TRANSACTIONS));
                self.write(now_ms, id, fenced, After::Answer(w, reply), out);
            }
            Err(code) => out.push(ShardOut::Answer(w, TxnReply::InitProducerId(Err(code)))),
        }
    }

    /// A producer id for the InitProducerId requests waiting for one: they are decided again
    /// in arrival order (the first that needs an id takes it; the next asks for another).
    pub fn producer_id(
        &mut self,
        now_ms: i64,
        producer_id: ProducerId,
        out: &mut Vec<ShardOut<W>>,
    ) {
        self.spare_producer_ids.push(producer_id.0);
        let waiting = std::mem::take(&mut self.waiting_for_id);
        for (w, args) in waiting {
            let request = TxnRequest::InitProducerId(args);
            self.request(now_ms, w, request, out);
        }
    }

    /// No producer id could be had (`code`, retriable): the requests waiting for one get it.
    pub fn producer_id_failed(&mut self, code: ErrorCode, out: &mut Vec<ShardOut<W>>) {
        for (w, _) in std::mem::take(&mut self.waiting_for_id) {
            out.push(ShardOut::Answer(w, TxnReply::InitProducerId(Err(code))));
        }
    }

    /// Writes `next` as `id`'s record; `after` is done once it is acknowledged.
    fn write(
        &mut self,
        now_ms: i64,
        id: String,
        next: TxnMetadata,
        after: After<W>,
        out: &mut Vec<ShardOut<W>>,
    ) {
        self.write_record(now_ms, id, Some(next), after, out)
    }

    /// Writes `id`'s record: `next`, or its tombstone for `None`.
    fn write_record(
        &mut self,
        now_ms: i64,
        id: String,
        next: Option<TxnMetadata>,
        after: After<W>,
        out: &mut Vec<ShardOut<W>>,
    ) {
        let encoded = encode_key(&id).and_then(|key| {
            let value = next
                .as_ref()
                .map(|n| encode_value(&n.to_record()))
                .transpose()?;
            Ok((key, value))
        });
        let (key, value) = match encoded {
            Ok(encoded) => encoded,
            Err(error) => {
                // An id too long for the record's string (Kafka's is the same int16 length).
                tracing::warn!(%error, "transactional id not written");
                if let After::Answer(w, reply) = after {
                    let refused = reply.with_error(ErrorCode::INVALID_REQUEST);
                    out.push(ShardOut::Answer(w, refused));
                }
                return;
            }
        };
        let batch = build_batch_records(&[(Some(&key[..]), value.as_deref())], now_ms);
        if batch.len() > TXN_RECORD_BYTES_MAX {
            // A transaction of too many partitions: refused before the append would fail (and
            // with it the shard).
            tracing::warn!(
                bytes = batch.len(),
                "transaction record too large, not written"
            );
            if let After::Answer(w, reply) = after {
                out.push(ShardOut::Answer(
                    w,
                    reply.with_error(ErrorCode::INVALID_REQUEST),
                ));
            }
            return;
        }
        let write = self.next_write;
        self.next_write += 1;
        *self.writes_by_id.entry(id.clone()).or_default() += 1;
        self.writes.insert(write, InFlight { id, next, after });
        out.push(ShardOut::Append { write, batch });
    }

    /// The outcome of write `write`: acknowledged, the id takes its metadata and the request
    /// its answer; failed, the shard must go ([`Unload`]).
    pub fn appended(
        &mut self,
        write: u64,
        outcome: Result<(), ErrorCode>,
        out: &mut Vec<ShardOut<W>>,
    ) -> Result<(), Unload> {
        let Some(in_flight) = self.writes.remove(&write) else {
            return Ok(());
        };
        if let Err(code) = outcome {
            // Answered with the rest by `abandon`.
            self.writes.insert(write, in_flight);
            return Err(Unload(format!("write {write} failed: {code:?}")));
        }
        if let Some(count) = self.writes_by_id.get_mut(&in_flight.id) {
            *count -= 1;
            if *count == 0 {
                self.writes_by_id.remove(&in_flight.id);
            }
        }
        let name_bytes = in_flight.id.len();
        match in_flight.next {
            Some(next) => {
                if let Some(job) = marker_job(&in_flight.id, &next) {
                    out.push(ShardOut::Markers(job));
                }
                if self.ids.insert(in_flight.id, next).is_none() {
                    self.id_bytes += name_bytes;
                }
            }
            None => {
                if self.ids.remove(&in_flight.id).is_some() {
                    self.id_bytes -= name_bytes;
                }
            }
        }
        if let After::Answer(w, reply) = in_flight.after {
            out.push(ShardOut::Answer(w, reply));
        }
        Ok(())
    }

    /// Every marker of `id`'s transaction under (`producer_id`, `epoch`) is written: the
    /// transaction completes (CompleteCommit/CompleteAbort is written). Nothing happens if the
    /// id has moved on since the markers were asked for (an older load's job).
    pub fn markers_written(
        &mut self,
        now_ms: i64,
        id: &str,
        producer_id: i64,
        epoch: i16,
        out: &mut Vec<ShardOut<W>>,
    ) {
        let Some(meta) = self.ids.get(id) else {
            return;
        };
        if meta.producer_id != producer_id || meta.epoch != epoch || self.writing(id) {
            return;
        }
        if let Some(next) = transitions::complete(meta, now_ms) {
            self.write(now_ms, id.to_owned(), next, After::Nothing, out);
        }
    }

    /// The open transactions past their timeout are aborted under a bumped epoch (Kafka's
    /// `abortTimedOutTransactions`), one write each; ids with a write in flight wait for the
    /// next scan.
    pub fn abort_timed_out(&mut self, now_ms: i64, out: &mut Vec<ShardOut<W>>) -> Vec<String> {
        if self.is_loading() {
            return Vec::new();
        }
        let due: Vec<(String, TxnMetadata)> = (self.ids.iter())
            .filter(|(id, _)| !self.writing(id))
            .filter_map(|(id, meta)| {
                Some((id.clone(), transitions::abort_timed_out(meta, now_ms)?))
            })
            .collect();
        let mut aborted = Vec::with_capacity(due.len());
        for (id, next) in due {
            aborted.push(id.clone());
            self.write(now_ms, id, next, After::Nothing, out);
        }
        aborted
    }

    /// Ids with no transaction in flight (Empty, or the last one complete) unused for
    /// `expiration_ms` are forgotten (Kafka's `transactional.id.expiration.ms`): a tombstone
    /// each, the id gone once it is acknowledged. Returns how many.
    pub fn expire_ids(
        &mut self,
        now_ms: i64,
        expiration_ms: i64,
        out: &mut Vec<ShardOut<W>>,
    ) -> usize {
        if self.is_loading() {
            return 0;
        }
        let idle = |meta: &TxnMetadata| {
            !meta.state.is_in_flight()
                && meta.state != TxnState::Dead
                && meta.last_update_ms.saturating_add(expiration_ms) < now_ms
        };
        let due: Vec<String> = (self.ids.iter())
            .filter(|(id, meta)| idle(meta) && !self.writing(id))
            .map(|(id, _)| id.clone())
            .collect();
        let count = due.len();
        for id in due {
            self.write_record(now_ms, id, None, After::Nothing, out);
        }
        count
    }

    /// The shard is dropped (its term ended, or its memory can no longer be trusted): every
    /// request waiting on it is answered NOT_COORDINATOR, so the client finds the coordinator
    /// again.
    pub fn abandon(self, out: &mut Vec<ShardOut<W>>) {
        for (_, in_flight) in self.writes {
            if let After::Answer(w, reply) = in_flight.after {
                out.push(ShardOut::Answer(
                    w,
                    reply.with_error(ErrorCode::NOT_COORDINATOR),
                ));
            }
        }
        for (w, _) in self.waiting_for_id {
            out.push(ShardOut::Answer(
                w,
                TxnReply::InitProducerId(Err(ErrorCode::NOT_COORDINATOR)),
            ));
        }
    }
}

/// The markers a prepared transaction still needs, if `meta` is one.
fn marker_job(id: &str, meta: &TxnMetadata) -> Option<MarkerJob> {
    let commit = match meta.state {
        TxnState::PrepareCommit => true,
        TxnState::PrepareAbort => false,
        _ => return None,
    };
    let partitions = (meta.partitions.iter())
        .flat_map(|(topic, ids)| {
            ids.iter().map(|&partition| TopicPartition {
                topic: topic.clone(),
                partition,
            })
        })
        .collect();
    Some(MarkerJob {
        id: id.to_owned(),
        producer_id: meta.producer_id,
        epoch: meta.epoch,
        commit,
        partitions,
    })
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
