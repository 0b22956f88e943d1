//! What the Kafka listener admits: connections (`max.connections`), idle time
//! (`connections.max.idle.ms`) and bytes of request frames read but not yet handled
//! (`queued.max.request.bytes`), shared by every listener of a server.
//!
//! Issue 9: idle connections could take every descriptor (no cap, no idle timeout), and 20
//! connections each sending the first part of a 50 MB frame held 1.14 GB. Kafka bounds the
//! first two with `max.connections` and `connections.max.idle.ms`, and request memory with
//! `queued.max.request.bytes` (KIP-72, a memory pool: a connection whose frame does not fit
//! stops being read until memory frees up).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::limits::REQUEST_BYTES_UNPOOLED_MAX;

/// Settings of [`Admission`], from the server config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// `socket.request.max.bytes`
    pub request_bytes_max: usize,
    /// `max.connections` (resolved: the config's value or the descriptor-derived default).
    pub max_connections: usize,
    /// `connections.max.idle.ms`
    pub idle_ms: u64,
    /// `queued.max.request.bytes`; `None` = unbounded (Kafka's -1).
    pub queued_request_bytes: Option<usize>,
    /// How long a started request frame may take to arrive completely
    /// ([`crate::limits::REQUEST_FRAME_COMPLETE_MS_MAX`]).
    pub frame_complete_ms: u64,
}

/// Shared by every listener and connection of one server.
#[derive(Debug)]
pub struct Admission {
    pub config: AdmissionConfig,
    connections: Arc<Semaphore>,
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
            config,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            queued_bytes: config
                .queued_request_bytes
                .map(|bytes| Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS)))),
        })
    }

    /// A connection slot, or `None` when `max.connections` are open (the caller closes the
    /// new socket at once). The slot frees when the permit drops.
    pub fn connection_slot(&self) -> Option<OwnedSemaphorePermit> {
        match self.connections.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => None,
        }
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

    fn admission(max_connections: usize, queued: Option<usize>) -> Arc<Admission> {
        Admission::new(AdmissionConfig {
            request_bytes_max: 1 << 20,
            max_connections,
            idle_ms: 1000,
            queued_request_bytes: queued,
            frame_complete_ms: 1000,
        })
    }

    #[test]
    fn connection_slots_are_bounded_and_freed() {
        let admission = admission(2, None);
        let a = admission.connection_slot().expect("first");
        let _b = admission.connection_slot().expect("second");
        assert!(
            admission.connection_slot().is_none(),
            "over max.connections"
        );
        assert_eq!(admission.connections_open(), 2);
        drop(a);
        assert!(
            admission.connection_slot().is_some(),
            "a closed connection frees its slot"
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
