//! One member of a classic group, and how member ids are made.

use rand::RngCore;

/// A classic group member as the coordinator keeps it. `W` is the waiter token of a request
/// parked on the member (the actor's `RequestId`, a test's `u32`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member<W> {
    pub id: String,
    /// Static membership (KIP-345), JoinGroup v5+.
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// (protocol name, metadata) in the member's preference order.
    pub protocols: Vec<(String, Vec<u8>)>,
    /// This generation's assignment (empty until the leader's SyncGroup is written).
    pub assignment: Vec<u8>,
    /// The session ends here unless a heartbeat, join or sync moves it (monotonic ms).
    pub session_deadline_ms: u64,
    /// A JoinGroup parked until the join phase completes.
    pub join_waiter: Option<W>,
    /// A SyncGroup parked until the assignment is written.
    pub sync_waiter: Option<W>,
}

impl<W> Member<W> {
    /// The member's metadata for `protocol` (empty if it does not support it).
    pub fn metadata(&self, protocol: &str) -> &[u8] {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map_or(&[][..], |(_, metadata)| metadata)
    }

    /// Whether the member lists `protocol`.
    pub fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(name, _)| name == protocol)
    }

    /// Its first choice among `candidates` (the protocols every member supports).
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Moves the session deadline to a full session from `now_ms`.
    pub fn touch(&mut self, now_ms: u64) {
        self.session_deadline_ms = now_ms + session_ms(self.session_timeout_ms);
    }
}

/// A validated timeout (never negative) as unsigned milliseconds.
pub fn session_ms(timeout_ms: i32) -> u64 {
    u64::try_from(timeout_ms).unwrap_or(0)
}

/// Kafka's member id: `"{client_id}-{uuid}"`, the UUID (v4) drawn from the actor's seeded RNG
/// so a simulation replays the same ids.
pub fn new_member_id(client_id: &str, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    format!("{client_id}-{uuid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, SeedableRng};

    #[test]
    fn member_ids_are_the_client_id_and_a_v4_uuid_from_the_rng() {
        let mut a = SmallRng::seed_from_u64(7);
        let mut b = SmallRng::seed_from_u64(7);
        let id = new_member_id("rdkafka", &mut a);
        assert_eq!(id, new_member_id("rdkafka", &mut b), "seeded: replays");
        let uuid = id.strip_prefix("rdkafka-").expect("client id prefix");
        let parsed = uuid::Uuid::parse_str(uuid).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(id, new_member_id("rdkafka", &mut a), "fresh draws differ");
    }
}
