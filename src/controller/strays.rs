//! The stray-directory sweep a reconciliation ends with: the partitions actor removes the
//! directories of topics deleted while this broker was down (their ids are in the metadata's
//! deleted list; see `partition::strays`). Asked at start-up with every deleted id (and for
//! what interrupted removals left), then whenever the metadata lists ids not asked about yet;
//! and once the view has reached this process's registration, with where the live topics'
//! partitions are placed here (the replicas moved away while it was down).

use std::collections::{BTreeMap, BTreeSet};

use super::admin::TopicsState;
use super::sweep::Answer;
use crate::actor::client::WrongReply;
use crate::messages::{Done, NodeMsg, RemoveStrayRequest};

/// One ask to the partitions actor and its answer.
pub struct StraySweep {
    ids: BTreeSet<[u8; 16]>,
    /// Every deleted id the metadata keeps now.
    deleted: BTreeSet<[u8; 16]>,
    /// Deleted ids known swept without asking.
    settled: BTreeSet<[u8; 16]>,
    /// Asked even with no id (start-up: leftovers of interrupted removals).
    always: bool,
    /// After the view reached this registration (its epoch): every live topic's partitions
    /// placed on this broker (their other partitions' directories are strays: moved away
    /// while this broker was down).
    placed_here: Option<(u64, BTreeMap<String, BTreeSet<i32>>)>,
    asked: bool,
}

impl StraySweep {
    /// At start-up: every deleted id the metadata keeps.
    pub fn at_start(deleted: &BTreeSet<[u8; 16]>) -> Self {
        Self {
            ids: deleted.clone(),
            deleted: deleted.clone(),
            settled: BTreeSet::new(),
            always: true,
            placed_here: None,
            asked: false,
        }
    }

    /// Also asks for the replicas moved away: the view has reached the registration of
    /// `epoch`, and places the live topics' partitions here as `placed_here` says.
    pub fn with_moved_away(
        mut self,
        epoch: u64,
        placed_here: BTreeMap<String, BTreeSet<i32>>,
    ) -> Self {
        self.placed_here = Some((epoch, placed_here));
        self
    }

    /// Nothing to ask (a reconciliation before start-up opened the logs).
    pub fn idle() -> Self {
        Self {
            ids: BTreeSet::new(),
            deleted: BTreeSet::new(),
            settled: BTreeSet::new(),
            always: false,
            placed_here: None,
            // Done before it starts: `swept` is left as it is.
            asked: true,
        }
    }

    /// After a change: the deleted ids not asked about before. The ids of topics this node
    /// had reconciled are taken as swept without asking: the reconciliation's own Deletes
    /// remove their directories (and a failed one keeps the topic to delete again).
    pub fn after_change(
        deleted: &BTreeSet<[u8; 16]>,
        reconciled: &BTreeSet<[u8; 16]>,
        swept: &BTreeSet<[u8; 16]>,
    ) -> Self {
        let (settled, ids) = (deleted.difference(swept)).partition(|id| reconciled.contains(*id));
        Self {
            ids,
            deleted: deleted.clone(),
            settled,
            always: false,
            placed_here: None,
            asked: false,
        }
    }

    /// The request to send, or `None` when done. A successful answer adds the ids to
    /// `topics.strays_swept` (and ends the registration's pending sweep of moved replicas); a
    /// failed one leaves them for the next change (logged).
    pub fn step(&mut self, answer: Option<Answer>, topics: &mut TopicsState) -> Option<NodeMsg> {
        let swept = &mut topics.strays_swept;
        if !self.asked {
            self.asked = true;
            swept.append(&mut self.settled);
            // Ids the metadata no longer keeps are never asked about again.
            swept.retain(|id| self.deleted.contains(id));
            if self.ids.is_empty() && !self.always && self.placed_here.is_none() {
                return None;
            }
            let request = RemoveStrayRequest {
                deleted_topic_ids: self.ids.clone(),
                placed_here: self.placed_here.as_ref().map(|(_, placed)| placed.clone()),
            };
            return Some(request.into());
        }
        let outcome = match answer {
            Some(Ok(msg)) => Done::try_from(msg)
                .map_err(|wrong: WrongReply| wrong.to_string())
                .and_then(|done| done.into_result().map_err(|r| r.message)),
            Some(Err(why)) => Err(format!("the partitions actor did not answer ({why:?})")),
            None => Err("no answer".to_string()),
        };
        match outcome {
            Ok(()) => {
                swept.extend(std::mem::take(&mut self.ids));
                if let Some((epoch, _)) = self.placed_here.take() {
                    // A newer registration asks again.
                    if topics.moved_away_pending == Some(epoch) {
                        topics.moved_away_pending = None;
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not look for the directories of deleted topics; tried again at the next change")
            }
        }
        None
    }
}
