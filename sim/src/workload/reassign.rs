//! Partition reassignment under load (issue 14's "moving replicas"): every few seconds one
//! partition of the data topic is moved to as many brokers as its replication factor, drawn
//! afresh, through AlterPartitionReassignments at a broker drawn afresh (it forwards to the
//! controller quorum's leader). Under the nemesis' kills and partitions a move waits for its
//! new replicas to catch up, or is replaced by the next one.
//!
//! The checker's claims stay as they are: a move never lowers the copies of a committed
//! record (the new replicas join the ISR before an old one leaves), so every acknowledged
//! record must survive it, and the replicas left must agree; the canary
//! `reassignment-completes-early` shows the checker holds a move to that.

use std::time::Duration;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rand::seq::SliceRandom;
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::{via_any_broker, Workload, CALL_TIMEOUT, TOPIC};
use crate::history::Event;

/// Pause between two moves.
const EVERY_MS: std::ops::Range<u64> = 1_500..4_000;

/// Moves until `until`, each a partition to `replication_factor` of `brokers`.
pub async fn reassigner(w: Workload, brokers: Vec<u64>, until: Instant) {
    loop {
        let pause = madsim::rand::thread_rng().gen_range(EVERY_MS);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if Instant::now() >= until {
            return;
        }
        let (partition, target) = {
            let mut rng = madsim::rand::thread_rng();
            let mut target = brokers.clone();
            target.shuffle(&mut rng);
            target.truncate(w.replication_factor as usize);
            (rng.gen_range(0..w.partitions), target)
        };
        let w = via_any_broker(&w);
        let outcome = reassign_once(&w, partition, &target).await;
        w.record(Event::ReassignAsked {
            partition,
            replicas: target,
            outcome,
        });
    }
}

/// One AlterPartitionReassignments: the partition's error code's name, or why none came.
async fn reassign_once(w: &Workload, partition: i32, target: &[u64]) -> String {
    let replicas = target.iter().map(|&b| BrokerId(b as i32)).collect();
    let request = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(5_000)
        .with_topics(vec![ReassignableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partitions(vec![ReassignablePartition::default()
                .with_partition_index(partition)
                .with_replicas(Some(replicas))])]);
    let mut conn = w.connect().await;
    let answer = conn
        .call::<_, AlterPartitionReassignmentsResponse>(
            ApiKey::AlterPartitionReassignments,
            0,
            &request,
            CALL_TIMEOUT,
        )
        .await;
    match answer {
        Err(error) => format!("{error:?}"),
        Ok(response) if response.error_code != 0 => {
            format!("{:?}", ErrorCode::from_wire(response.error_code))
        }
        Ok(response) => (response.responses.first())
            .and_then(|t| t.partitions.first())
            .map_or("no answer for the partition".into(), |p| {
                format!("{:?}", ErrorCode::from_wire(p.error_code))
            }),
    }
}
