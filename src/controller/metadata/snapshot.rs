//! The image as bytes (Kafka's metadata snapshot, `<offset>-<epoch>.checkpoint`): what lets
//! the Raft log be cut below the applied index, and what a new or lagging voter loads instead
//! of replaying the whole log.
//!
//! Layout: a format-version byte ([`SNAPSHOT_FORMAT_VERSION`]), then the postcard encoding of
//! the image without its derived name index, then (format 2 on) the postcard encoding of its
//! deleted topic ids, then (format 3 on) the ongoing reassignments (each partition's adding
//! and removing replicas, which the image's own layout skips), then (format 4 on) each
//! partition's eligible leader replicas, which it skips too. Format 1 (before deleted ids
//! were kept) still loads, with none (so a node that loaded one lists fewer deleted ids than
//! its peers until they are forgotten); formats 1 and 2 load with no reassignment under way
//! (none could be: they predate reassignment), and formats 1 to 3 with no eligible leader
//! replica (a node that wrote one kept none). Format 5 adds the dynamic broker configs after
//! them; formats 1 to 4 load with none (a node that wrote one had none). Format 6 adds the
//! SCRAM credentials (user → mechanism → credential) after those; formats 1 to 5 load with
//! none (a node that wrote one kept none). Format 7 adds the ACLs (`(id, binding)` in id
//! order) after them; formats 1 to 6 load with none (a node that wrote one kept none). Format 8
//! adds the client quotas after the ACLs; formats 1 to 7 load with none.
//!
//! A snapshot taken after entry `i` and followed by the entries after `i` gives the image of
//! the whole log: the snapshot holds the applied index, and [`MetadataImage::apply_entry`]
//! skips the entries it already covers.
//!
//! Loading checks every invariant `apply` keeps ([`MetadataImage::check`]), so a snapshot
//! written by a buggy node or damaged past its file's checksum is refused rather than served.

use std::sync::Arc;

use thiserror::Error;

use super::image::MetadataImage;
use super::records::TopicId;
use crate::messages::quotas::ClientQuotas;
use crate::messages::scram::ScramCredentials;
use crate::security::acl::Authorizer;
use crate::types::NodeId;

/// The first byte of a snapshot; bump it when the image's layout changes.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 8;
/// The format before the deleted topic ids, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_DELETED_IDS: u8 = 1;
/// The format before reassignments, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_REASSIGNMENTS: u8 = 2;
/// The format before eligible leader replicas, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_ELR: u8 = 3;
/// The format before dynamic broker configs, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_BROKER_CONFIGS: u8 = 4;
/// The format before SCRAM credentials, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_SCRAM: u8 = 5;
/// The format before ACLs, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_ACLS: u8 = 6;
/// The format before client quotas, which this node still reads.
const SNAPSHOT_FORMAT_WITHOUT_CLIENT_QUOTAS: u8 = 7;

/// An ongoing reassignment as a snapshot holds it: topic, partition, adding, removing.
type Reassigning = (TopicId, i32, Vec<NodeId>, Vec<NodeId>);

/// A partition's eligible leader replicas as a snapshot holds them: topic, partition, ELR.
type Eligible = (TopicId, i32, Vec<NodeId>);

/// Why bytes are not a snapshot.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SnapshotError {
    #[error("empty: no format version")]
    Empty,
    #[error("format version {0} is not known (this node reads {SNAPSHOT_FORMAT_VERSION})")]
    UnknownVersion(u8),
    #[error("not a metadata image: {0}")]
    Malformed(String),
    #[error("{0} bytes after the image")]
    TrailingBytes(usize),
    #[error("the image breaks an invariant: {0}")]
    Inconsistent(String),
}

impl MetadataImage {
    pub fn to_snapshot(&self) -> Vec<u8> {
        let out = vec![SNAPSHOT_FORMAT_VERSION];
        let out = postcard::to_extend(self, out).expect("a metadata image always encodes");
        let out = postcard::to_extend(&self.deleted_topics, out).expect("topic ids always encode");
        let reassigning: Vec<Reassigning> = (self.topics())
            .flat_map(|t| {
                (t.partitions.iter())
                    .filter(|(_, p)| p.reassigning())
                    .map(|(i, p)| (t.id, *i, p.adding.clone(), p.removing.clone()))
            })
            .collect();
        let out = postcard::to_extend(&reassigning, out).expect("reassignments always encode");
        let eligible: Vec<Eligible> = (self.topics())
            .flat_map(|t| {
                (t.partitions.iter())
                    .filter(|(_, p)| !p.elr.is_empty())
                    .map(|(i, p)| (t.id, *i, p.elr.clone()))
            })
            .collect();
        let out =
            postcard::to_extend(&eligible, out).expect("eligible leader replicas always encode");
        let out =
            postcard::to_extend(&self.broker_configs, out).expect("broker configs always encode");
        let out = postcard::to_extend(&*self.scram, out).expect("SCRAM credentials always encode");
        let out = postcard::to_extend(&*self.acls, out).expect("ACLs always encode");
        postcard::to_extend(&*self.client_quotas, out).expect("client quotas always encode")
    }

    pub fn from_snapshot(bytes: &[u8]) -> Result<MetadataImage, SnapshotError> {
        let (&version, body) = bytes.split_first().ok_or(SnapshotError::Empty)?;
        if !(SNAPSHOT_FORMAT_WITHOUT_DELETED_IDS..=SNAPSHOT_FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnknownVersion(version));
        }
        let malformed = |e: postcard::Error| SnapshotError::Malformed(e.to_string());
        let (mut image, mut rest) =
            postcard::take_from_bytes::<MetadataImage>(body).map_err(malformed)?;
        if version > SNAPSHOT_FORMAT_WITHOUT_DELETED_IDS {
            (image.deleted_topics, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_REASSIGNMENTS {
            let reassigning: Vec<Reassigning>;
            (reassigning, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            for (topic, index, adding, removing) in reassigning {
                let partition = (image.topics.get_mut(&topic))
                    .and_then(|t| t.partitions.get_mut(&index))
                    .ok_or_else(|| {
                        SnapshotError::Inconsistent(format!(
                            "a reassignment of partition {index} of a topic the image lacks"
                        ))
                    })?;
                partition.adding = adding;
                partition.removing = removing;
            }
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_ELR {
            let eligible: Vec<Eligible>;
            (eligible, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            for (topic, index, elr) in eligible {
                let partition = (image.topics.get_mut(&topic))
                    .and_then(|t| t.partitions.get_mut(&index))
                    .ok_or_else(|| {
                        SnapshotError::Inconsistent(format!(
                            "eligible leader replicas of partition {index} of a topic the image \
                             lacks"
                        ))
                    })?;
                partition.elr = elr;
            }
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_BROKER_CONFIGS {
            (image.broker_configs, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_SCRAM {
            let scram: ScramCredentials;
            (scram, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            image.scram = Arc::new(scram);
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_ACLS {
            let acls: Authorizer;
            (acls, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            image.acls = Arc::new(acls);
        }
        if version > SNAPSHOT_FORMAT_WITHOUT_CLIENT_QUOTAS {
            let quotas: ClientQuotas;
            (quotas, rest) = postcard::take_from_bytes(rest).map_err(malformed)?;
            image.client_quotas = Arc::new(quotas);
        }
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes(rest.len()));
        }
        image.index_names();
        image.check().map_err(SnapshotError::Inconsistent)?;
        Ok(image)
    }
}
