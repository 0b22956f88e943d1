//! What the Kafka listener admits: connections (`max.connections`), idle time
//! (`connections.max.idle.ms`), connections per client address (`max.connections.per.ip`) and bytes of request frames read but not yet handled
//! (`queued.max.request.bytes`), shared by every listener of a server.
//!
//! Issue 9: idle connections could take every descriptor (no cap, no idle timeout), and 20
//! connections each sending the first part of a 50 MB frame held 1.14 GB. Kafka bounds the
//! first two with `max.connections` and `connections.max.idle.ms`, and request memory with
//! `queued.max.request.bytes` (KIP-72, a memory pool: a connection whose frame does not fit
//! stops being read until memory frees up).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::limits::REQUEST_BYTES_UNPOOLED_MAX;

/// Settings of [`Admission`], from the server config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// `socket.request.max.bytes`
    pub request_bytes_max: usize,
    /// `max.connections` (resolved: the config's value or the descriptor-derived default).
    pub max_connections: usize,
    /// `max.connections.per.ip`
    pub max_connections_per_ip: usize,
    /// `max.connections.per.ip.overrides`
    pub per_ip_overrides: BTreeMap<IpAddr, usize>,
    /// `connections.max.idle.ms`
    pub idle_ms: u64,
    /// `queued.max.request.bytes`; `None` = unbounded (Kafka's -1).
    pub queued_request_bytes: Option<usize>,
    /// How long a started request frame may take to arrive completely
    /// ([`crate::limits::REQUEST_FRAME_COMPLETE_MS_MAX`], or `connections.max.idle.ms` when
    /// shorter: a frame trickling in slower than that is an idle connection in disguise).
    pub frame_complete_ms: u64,
}

/// Why a new connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// `max.connections` are open.
    MaxConnections,
    /// This address holds its `max.connections.per.ip` (the limit in force for it).
    PerIp(usize),
}

/// A connection's place: frees its slot (and its address's count) when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    _permit: OwnedSemaphorePermit,
    address: IpAddr,
    admission: Arc<Admission>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut per_ip = self.admission.lock_per_ip();
        if let Some(open) = per_ip.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                per_ip.remove(&self.address);
            }
        }
    }
}

/// Shared by every listener and connection of one server.
#[derive(Debug)]
pub struct Admission {
    pub config: AdmissionConfig,
    connections: Arc<Semaphore>,
    /// Open connections per client address; an address with none has no entry, so the map
    /// holds at most `max.connections` entries.
    per_ip: Mutex<BTreeMap<IpAddr, usize>>,
    queued_bytes: Option<Arc<Semaphore>>,
}

/// Why a connection could not get memory for its frame.
#[derive(Debug, PartialEq, Eq)]
pub enum QueueWait {
    /// The frame's deadline passed while waiting.
    TimedOut,
}

impl Admission {
    pub fn new(config: AdmissionConfig) -> Arc<Self> {
        Arc::new(Self {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            per_ip: Mutex::new(BTreeMap::new()),
            queued_bytes: config
                .queued_request_bytes
                .map(|bytes| Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)))),
            config,
        })
    }

    /// A slot for a connection from `address`, or why not (the caller closes the new socket at
    /// once). The slot frees when dropped.
    pub fn connection_slot(self: &Arc<Self>, address: IpAddr) -> Result<ConnectionSlot, Refused> {
        let limit = self.per_ip_limit(address);
        let mut per_ip = self.lock_per_ip();
        let open = per_ip.get(&address).copied().unwrap_or(0);
        if open >= limit {
            return Err(Refused::PerIp(limit));
        }
        let permit = match self.connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => {
                return Err(Refused::MaxConnections)
            }
        };
        per_ip.insert(address, open + 1);
        Ok(ConnectionSlot {
            _permit: permit,
            address,
            admission: self.clone(),
        })
    }

    /// `max.connections.per.ip`, or the override for `address`.
    fn per_ip_limit(&self, address: IpAddr) -> usize {
        self.config
            .per_ip_overrides
            .get(&address)
            .copied()
            .unwrap_or(self.config.max_connections_per_ip)
    }

    /// The counts are plain integers updated under the lock, so a panic elsewhere cannot leave
    /// them inconsistent: a poisoned lock is still usable.
    fn lock_per_ip(&self) -> std::sync::MutexGuard<'_, BTreeMap<IpAddr, usize>> {
        self.per_ip
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connections open now.
    pub fn connections_open(&self) -> usize {
        self.config.max_connections - self.connections.available_permits()
    }

    /// Memory for a frame of `frame_bytes` that is still arriving. Small frames (up to
    /// [`REQUEST_BYTES_UNPOOLED_MAX`]) need none, so a client sending ordinary requests is never
    /// held up by others' large ones. Waits up to `within` for the pool to have room.
    pub async fn frame_memory(
        &self,
        frame_bytes: usize,
        within: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, QueueWait> {
        let Some(pool) = &self.queued_bytes else {
            return Ok(None);
        };
        if frame_bytes <= REQUEST_BYTES_UNPOOLED_MAX {
            return Ok(None);
        }
        // Validated: queued.max.request.bytes >= socket.request.max.bytes >= frame_bytes, and
        // socket.request.max.bytes fits an i32.
        let permits = u32::try_from(frame_bytes).unwrap_or(u32::MAX);
        match tokio::time::timeout(within, pool.clone().acquire_many_owned(permits)).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_closed)) => Ok(None),
            Err(_elapsed) => Err(QueueWait::TimedOut),
        }
    }

    /// Bytes of the pool in use now (0 when unbounded).
    pub fn queued_bytes_in_use(&self) -> usize {
        match (&self.queued_bytes, self.config.queued_request_bytes) {
            (Some(pool), Some(max)) => max.min(Semaphore::MAX_PERMITS) - pool.available_permits(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn admission(max_connections: usize, queued: Option<usize>) -> Arc<Admission> {
        Admission::new(AdmissionConfig {
            request_bytes_max: 1 << 20,
            max_connections,
            max_connections_per_ip: usize::MAX,
            per_ip_overrides: BTreeMap::new(),
            idle_ms: 1000,
            queued_request_bytes: queued,
            frame_complete_ms: 1000,
        })
    }

    #[test]
    fn connection_slots_are_bounded_and_freed() {
        let admission = admission(2, None);
        let a = admission.connection_slot(A).expect("first");
        let _b = admission.connection_slot(B).expect("second");
        assert_eq!(
            admission.connection_slot(A).unwrap_err(),
            Refused::MaxConnections
        );
        assert_eq!(admission.connections_open(), 2);
        drop(a);
        assert!(
            admission.connection_slot(A).is_ok(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn each_address_is_bounded_by_its_own_limit() {
        let admission = Admission::new(AdmissionConfig {
            max_connections_per_ip: 2,
            per_ip_overrides: BTreeMap::from([(B, 0)]),
            ..admission(10, None).config.clone()
        });
        let first = admission.connection_slot(A).expect("first");
        let _second = admission.connection_slot(A).expect("second");
        assert_eq!(admission.connection_slot(A).unwrap_err(), Refused::PerIp(2));
        assert_eq!(admission.connection_slot(B).unwrap_err(), Refused::PerIp(0));
        assert_eq!(
            admission.connections_open(),
            2,
            "a refused address takes no slot"
        );
        drop(first);
        let _third = admission
            .connection_slot(A)
            .expect("a closed connection frees its count");
        assert_eq!(admission.lock_per_ip().get(&A), Some(&2));
        drop(_third);
        drop(_second);
        assert!(
            admission.lock_per_ip().is_empty(),
            "no entry for an address with none open"
        );
    }

    #[tokio::test]
    async fn large_frames_share_the_pool_and_small_ones_bypass_it() {
        let admission = admission(10, Some(1 << 20));
        let wait = Duration::from_millis(50);
        let big = admission.frame_memory(700 << 10, wait).await.unwrap();
        assert!(big.is_some());
        assert_eq!(admission.queued_bytes_in_use(), 700 << 10);
        // A second 700 KiB frame does not fit until the first is handled.
        assert_eq!(
            admission.frame_memory(700 << 10, wait).await.unwrap_err(),
            QueueWait::TimedOut
        );
        // Ordinary requests never wait for the pool.
        assert!(admission.frame_memory(1000, wait).await.unwrap().is_none());
        drop(big);
        assert!(admission
            .frame_memory(700 << 10, wait)
            .await
            .unwrap()
            .is_some());
    }
}
