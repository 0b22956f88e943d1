//! KIP-890 part 1, the partition's side: a producer's first transactional batch at a partition
//! is appended only once the transaction coordinator confirmed that the partition is in the
//! producer's open transaction (Kafka's `ReplicaManager.appendRecordsWithTransactionVerification`
//! with its `VerificationGuard`). Without it, a batch delayed from an earlier transaction (a
//! retry that outlived its transaction, a zombie's write) would open a transaction here that
//! no coordinator knows: nothing ever ends it, and it holds the last stable offset, and every
//! read_committed consumer, for good (the hazard Jepsen found in another Kafka-compatible
//! broker).
//!
//! Pure bookkeeping, driven by the partitions actor:
//!
//! * [`Verifications::start`] parks a produce whose slots need verifying and gives one Verify
//!   per such slot; each slot takes the **guard** of its (partition, producer): the one in
//!   progress, or a new one.
//! * A marker appended for the producer at the partition drops the guard
//!   ([`Verifications::marker_appended`]): a verification still out then fails, so a write
//!   verified against a transaction that has since ended is never appended.
//! * [`Verifications::answered`] records each answer; once every slot has one, the produce is
//!   handed back with a refusal for each slot that failed (the coordinator said no, or the
//!   guard went). The actor appends the rest at once, in the same step, so no marker can come
//!   between the guard's check and the append; the guard goes when no produce uses it.
//!
//! The coordinator's answers map to the producer's codes as Kafka's do: fenced
//! (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH) → INVALID_PRODUCER_EPOCH; not in the transaction
//! (INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING) → INVALID_TXN_STATE; a coordinator moving,
//! loading, or the transaction ending (CONCURRENT_TRANSACTIONS) → NOT_ENOUGH_REPLICAS, which
//! every client retries (Kafka's choice, so that clients unaware of KIP-890 retry).

use std::collections::BTreeMap;

/// How long the partitions actor waits for a Verify: past it the write is refused as
/// retriable. Longer than the coordinator's own wait for an id coordinated elsewhere, so that
/// its answer comes first.
pub const VERIFY_CALL_TIMEOUT_MS: u64 = 15_000;

use crate::actor::RequestId;
use crate::messages::txn::VerifyArgs;
use crate::messages::ProduceRequest;
use crate::types::{ErrorCode, ProducerId, Refusal, TopicPartition};

/// A slot of a parked produce waiting for its answer.
#[derive(Debug)]
struct Slot {
    tp: TopicPartition,
    producer: ProducerId,
    guard: u64,
    answer: Option<ErrorCode>,
}

/// A produce parked until its verifications answer.
#[derive(Debug)]
struct Parked {
    id: RequestId,
    request: ProduceRequest,
    slots: BTreeMap<usize, Slot>,
}

/// One Verify to send: for slot `slot` of parked produce `produce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub produce: u64,
    pub slot: usize,
    pub args: VerifyArgs,
}

/// A slot to verify: its index in the produce, partition, producer id and epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub slot: usize,
    pub tp: TopicPartition,
    pub producer: ProducerId,
    pub epoch: i16,
}

/// A produce whose every verification answered: write it, refusing the `refused` slots.
#[derive(Debug)]
pub struct Verified {
    pub id: RequestId,
    pub request: ProduceRequest,
    pub refused: BTreeMap<usize, Refusal>,
}

/// Every verification in progress on this node.
#[derive(Debug, Default)]
pub struct Verifications {
    /// (partition, producer) → (guard, produces using it).
    guards: BTreeMap<(TopicPartition, ProducerId), (u64, usize)>,
    next_guard: u64,
    parked: BTreeMap<u64, Parked>,
    next_produce: u64,
}

impl Verifications {
    /// Parks `request` (from `id`) until `unverified`'s slots are verified for
    /// `transactional_id`; returns the Verify calls to make.
    pub fn start(
        &mut self,
        id: RequestId,
        request: ProduceRequest,
        transactional_id: &str,
        unverified: Vec<Unverified>,
    ) -> Vec<Ask> {
        let produce = self.next_produce;
        self.next_produce += 1;
        let mut slots = BTreeMap::new();
        let mut asks = Vec::with_capacity(unverified.len());
        for u in unverified {
            let key = (u.tp.clone(), u.producer);
            let next_guard = &mut self.next_guard;
            let (guard, users) = self.guards.entry(key).or_insert_with(|| {
                *next_guard += 1;
                (*next_guard, 0)
            });
            *users += 1;
            let args = VerifyArgs {
                transactional_id: transactional_id.to_owned(),
                producer_id: u.producer,
                producer_epoch: u.epoch,
                tp: u.tp.clone(),
                forwarded: false,
            };
            asks.push(Ask {
                produce,
                slot: u.slot,
                args,
            });
            let slot = Slot {
                tp: u.tp,
                producer: u.producer,
                guard: *guard,
                answer: None,
            };
            slots.insert(u.slot, slot);
        }
        self.parked.insert(produce, Parked { id, request, slots });
        asks
    }

    /// A marker of `producer` was appended at `tp`: its transaction there ended, and a
    /// verification still out is void.
    pub fn marker_appended(&mut self, tp: &TopicPartition, producer: ProducerId) {
        self.guards.remove(&(tp.clone(), producer));
    }

    /// The coordinator's `code` for slot `slot` of parked produce `produce` (a failed call:
    /// REQUEST_TIMED_OUT). Once every slot answered, the produce to write.
    pub fn answered(&mut self, produce: u64, slot: usize, code: ErrorCode) -> Option<Verified> {
        let parked = self.parked.get_mut(&produce)?;
        if let Some(s) = parked.slots.get_mut(&slot) {
            s.answer.get_or_insert(code);
        }
        if parked.slots.values().any(|s| s.answer.is_none()) {
            return None;
        }
        let parked = self.parked.remove(&produce)?;
        let mut refused = BTreeMap::new();
        for (index, s) in parked.slots {
            let key = (s.tp.clone(), s.producer);
            let held = self.guards.get(&key).map(|(guard, _)| *guard) == Some(s.guard);
            let refusal = match s.answer.unwrap_or(ErrorCode::REQUEST_TIMED_OUT) {
                ErrorCode::NONE if held => None,
                ErrorCode::NONE => Some(Refusal::new(
                    ErrorCode::INVALID_TXN_STATE,
                    "the producer's transaction ended at this partition while the write was verified",
                )),
                code => Some(refusal_for(code)),
            };
            if let Some(refusal) = refusal {
                refused.insert(index, refusal);
            }
            if held {
                self.release(&key);
            }
        }
        Some(Verified {
            id: parked.id,
            request: parked.request,
            refused,
        })
    }

    fn release(&mut self, key: &(TopicPartition, ProducerId)) {
        if let Some((_, users)) = self.guards.get_mut(key) {
            *users -= 1;
            if *users == 0 {
                self.guards.remove(key);
            }
        }
    }

    /// Produces parked (for tests and diagnostics).
    pub fn parked(&self) -> usize {
        self.parked.len()
    }
}

/// The producer's refusal for the coordinator's `code` (Kafka's mapping, see the module).
fn refusal_for(code: ErrorCode) -> Refusal {
    match code {
        ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH => Refusal::new(
            ErrorCode::INVALID_PRODUCER_EPOCH,
            "the transaction coordinator has a newer epoch for this producer",
        ),
        ErrorCode::INVALID_TXN_STATE | ErrorCode::INVALID_PRODUCER_ID_MAPPING => Refusal::new(
            ErrorCode::INVALID_TXN_STATE,
            "the partition is not in the producer's open transaction (KIP-890 verification)",
        ),
        other => Refusal::new(
            ErrorCode::NOT_ENOUGH_REPLICAS,
            format!("the transaction coordinator could not verify the write yet ({other:?})"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition,
        }
    }

    fn request() -> ProduceRequest {
        ProduceRequest {
            acks: -1,
            timeout_ms: 1000,
            partitions: vec![(tp(0), vec![1]), (tp(1), vec![2]), (tp(2), vec![3])],
            checked: Vec::new(),
            transactional_id: Some("x".into()),
        }
    }

    fn unverified(slot: usize, producer: i64) -> Unverified {
        Unverified {
            slot,
            tp: tp(slot as i32),
            producer: ProducerId(producer),
            epoch: 3,
        }
    }

    fn request_id(n: u64) -> RequestId {
        RequestId(n)
    }

    #[test]
    fn a_produce_waits_for_every_answer_and_refuses_the_failed_slots() {
        let mut v = Verifications::default();
        let asks = v.start(
            request_id(1),
            request(),
            "x",
            vec![unverified(0, 7), unverified(2, 7)],
        );
        assert_eq!(asks.len(), 2);
        assert_eq!(asks[0].args.tp, tp(0));
        assert_eq!(
            (asks[0].args.producer_id, asks[0].args.producer_epoch),
            (ProducerId(7), 3)
        );
        assert!(!asks[0].args.forwarded);
        assert!(
            v.answered(asks[0].produce, 0, ErrorCode::NONE).is_none(),
            "slot 2 is out"
        );
        let done = v
            .answered(asks[1].produce, 2, ErrorCode::INVALID_TXN_STATE)
            .expect("every slot answered");
        assert_eq!(done.id, request_id(1));
        assert_eq!(
            done.request.partitions.len(),
            3,
            "the whole produce comes back"
        );
        assert_eq!(done.refused.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(done.refused[&2].code, ErrorCode::INVALID_TXN_STATE);
        assert_eq!(v.parked(), 0);
        assert!(v.guards.is_empty(), "no produce uses a guard any more");
    }

    #[test]
    fn a_marker_while_verifying_voids_the_verification() {
        let mut v = Verifications::default();
        let asks = v.start(request_id(1), request(), "x", vec![unverified(0, 7)]);
        v.marker_appended(&tp(0), ProducerId(7));
        let done = v.answered(asks[0].produce, 0, ErrorCode::NONE).unwrap();
        assert_eq!(done.refused[&0].code, ErrorCode::INVALID_TXN_STATE);
        // Another producer's marker, or another partition's, leaves a guard be.
        let asks = v.start(request_id(2), request(), "x", vec![unverified(0, 7)]);
        v.marker_appended(&tp(0), ProducerId(8));
        v.marker_appended(&tp(1), ProducerId(7));
        let done = v.answered(asks[0].produce, 0, ErrorCode::NONE).unwrap();
        assert!(done.refused.is_empty());
    }

    #[test]
    fn two_produces_of_one_producer_share_its_guard() {
        let mut v = Verifications::default();
        let first = v.start(request_id(1), request(), "x", vec![unverified(0, 7)]);
        let second = v.start(request_id(2), request(), "x", vec![unverified(0, 7)]);
        let done = v.answered(first[0].produce, 0, ErrorCode::NONE).unwrap();
        assert!(done.refused.is_empty());
        let done = v.answered(second[0].produce, 0, ErrorCode::NONE).unwrap();
        assert!(
            done.refused.is_empty(),
            "the first's answer did not void the second's"
        );
        assert!(v.guards.is_empty());
    }

    #[test]
    fn coordinator_codes_map_to_kafka_s_producer_codes() {
        let cases = [
            (
                ErrorCode::PRODUCER_FENCED,
                ErrorCode::INVALID_PRODUCER_EPOCH,
            ),
            (
                ErrorCode::INVALID_PRODUCER_EPOCH,
                ErrorCode::INVALID_PRODUCER_EPOCH,
            ),
            (
                ErrorCode::INVALID_PRODUCER_ID_MAPPING,
                ErrorCode::INVALID_TXN_STATE,
            ),
            (ErrorCode::INVALID_TXN_STATE, ErrorCode::INVALID_TXN_STATE),
            (
                ErrorCode::CONCURRENT_TRANSACTIONS,
                ErrorCode::NOT_ENOUGH_REPLICAS,
            ),
            (ErrorCode::NOT_COORDINATOR, ErrorCode::NOT_ENOUGH_REPLICAS),
            (
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                ErrorCode::NOT_ENOUGH_REPLICAS,
            ),
            (ErrorCode::REQUEST_TIMED_OUT, ErrorCode::NOT_ENOUGH_REPLICAS),
        ];
        for (coordinator, producer) in cases {
            let mut v = Verifications::default();
            let asks = v.start(request_id(1), request(), "x", vec![unverified(1, 7)]);
            let done = v.answered(asks[0].produce, 1, coordinator).unwrap();
            assert_eq!(done.refused[&1].code, producer, "{coordinator:?}");
        }
    }
}
