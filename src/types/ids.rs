//! Identifiers that travel between the node's parts and over the node's wire.

use serde::{Deserialize, Serialize};

/// One partition of one topic: the unit a replica, a log directory and a produce or fetch slot
/// are keyed by. Its field order is part of the node's wire format (postcard).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// A numeric identifier with a meaning of its own: the serde form is the bare number (so the
/// node's wire bytes are those of the number), Display prints the number, and the type keeps
/// an id of one kind from being passed where another is meant.
macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident($int:ty)) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub $int);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        /// The bare number, for the kafka-protocol struct or the log API that carries it.
        impl From<$name> for $int {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_newtype! {
    /// A node of the cluster (Kafka's `node.id`).
    NodeId(u64)
}

id_newtype! {
    /// A producer's id (Kafka's `producerId`), handed out by InitProducerId.
    ProducerId(i64)
}

impl ProducerId {
    /// Kafka's "no producer": what a plain batch carries and a refused InitProducerId answers.
    pub const NONE: Self = Self(-1);
}

id_newtype! {
    /// A position in a partition's log: a record's offset, or a bound such as the log start,
    /// the log end or the high watermark (one past the last offset it covers).
    Offset(i64)
}

impl Offset {
    /// Kafka's -1 where there is no offset to give: a refused produce's base offset, a failed
    /// fetch's high watermark, a ListOffsets lookup that found nothing.
    pub const UNKNOWN: Self = Self(-1);
}

id_newtype! {
    /// A partition's leader epoch (Kafka's `leaderEpoch`): bumped each time leadership moves,
    /// and stamped into every batch the leader appends.
    LeaderEpoch(i32)
}

impl LeaderEpoch {
    /// The epoch of a partition's first leader.
    pub const INITIAL: Self = Self(0);
    /// Kafka's -1 where no epoch is known (`RecordBatch.NO_PARTITION_LEADER_EPOCH`).
    pub const UNKNOWN: Self = Self(-1);
}

id_newtype! {
    /// A broker registration's epoch (Kafka's `brokerEpoch`): the position of its registration
    /// in the metadata log (Kafka: the record's offset; Rill: the Raft index of the entry that
    /// holds it). A broker that registers again gets a larger one, so a request carrying an
    /// older epoch comes from a previous incarnation and is refused.
    BrokerEpoch(u64)
}

/// A cluster's id as Kafka prints it (`Uuid.toString`): the 16 bytes in URL-safe base64
/// without padding, 22 characters.
pub fn cluster_id_text(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::with_capacity(22);
    for chunk in id.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        // 3 bytes make 4 characters; a last chunk of one byte makes 2.
        for i in 0..=chunk.len() {
            let sextet = (bits >> (18 - 6 * i)) & 0x3f;
            text.push(ALPHABET[sextet as usize] as char);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `Uuid.toString` of the same bytes (Java's URL-safe encoder, no padding).
    #[test]
    fn a_cluster_id_prints_as_kafka_prints_a_uuid() {
        let id = [
            0x5c, 0x86, 0x4a, 0x07, 0xd4, 0x59, 0x4f, 0x4e, 0x8c, 0x2e, 0xbf, 0xbe, 0x9f, 0xa4,
            0xd6, 0xff,
        ];
        assert_eq!(cluster_id_text(&id), "XIZKB9RZT06MLr--n6TW_w");
        assert_eq!(cluster_id_text(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    fn bytes<T: Serialize>(value: &T) -> Vec<u8> {
        postcard::to_allocvec(value).unwrap()
    }

    /// The newtypes are invisible on the wire: postcard writes the bare number's bytes.
    #[test]
    fn ids_serialize_as_the_bare_number() {
        assert_eq!(bytes(&NodeId(300)), bytes(&300u64));
        assert_eq!(bytes(&ProducerId(-1)), bytes(&-1i64));
        assert_eq!(bytes(&Offset(1 << 40)), bytes(&(1i64 << 40)));
        assert_eq!(bytes(&Offset::UNKNOWN), bytes(&-1i64));
        assert_eq!(bytes(&LeaderEpoch(-7)), bytes(&-7i32));
        assert_eq!(
            postcard::from_bytes::<Offset>(&bytes(&300i64)).unwrap(),
            Offset(300)
        );
        assert_eq!(
            postcard::from_bytes::<NodeId>(&bytes(&7u64)).unwrap(),
            NodeId(7)
        );
    }

    #[test]
    fn display_is_the_number() {
        assert_eq!(format!("n{}", NodeId(3)), "n3");
        assert_eq!(ProducerId(-1).to_string(), "-1");
        assert_eq!(format!("{}@{}", Offset(42), LeaderEpoch(3)), "42@3");
    }

    #[test]
    fn the_number_comes_back_out() {
        assert_eq!(i64::from(Offset(9)), 9);
        assert_eq!(i32::from(LeaderEpoch::INITIAL), 0);
        assert!(Offset(2) < Offset(10) && Offset::UNKNOWN < Offset(0));
    }
}
