//! The stray-directory sweep a reconciliation ends with: the partitions actor removes the
//! directories of topics deleted while this broker was down (their ids are in the metadata's
//! deleted list; see `partition::strays`). Asked at start-up with every deleted id (and for
//! what interrupted removals left), then whenever the metadata lists ids not asked about yet.

use std::collections::BTreeSet;

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
            asked: false,
        }
    }

    /// Nothing to ask (a reconciliation before start-up opened the logs).
    pub fn idle() -> Self {
        Self {
            ids: BTreeSet::new(),
            deleted: BTreeSet::new(),
            settled: BTreeSet::new(),
            always: false,
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
            asked: false,
        }
    }

    /// The request to send, or `None` when done. A successful answer adds the ids to `swept`;
    /// a failed one leaves them for the next change (logged).
    pub fn step(
        &mut self,
        answer: Option<Answer>,
        swept: &mut BTreeSet<[u8; 16]>,
    ) -> Option<NodeMsg> {
        if !self.asked {
            self.asked = true;
            swept.append(&mut self.settled);
            // Ids the metadata no longer keeps are never asked about again.
            swept.retain(|id| self.deleted.contains(id));
            if self.ids.is_empty() && !self.always {
                return None;
            }
            let request = RemoveStrayRequest {
                deleted_topic_ids: self.ids.clone(),
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
            Ok(()) => swept.extend(std::mem::take(&mut self.ids)),
            Err(error) => {
                tracing::warn!(%error, "could not look for the directories of deleted topics; tried again at the next change")
            }
        }
        None
    }
}
