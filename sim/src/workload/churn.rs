//! Topic churn: one topic name (`churn`) deleted and created again over and over, one partition
//! per broker, each generation written once to every partition (acks=1) before it is deleted.
//! Under the nemesis' kills a broker misses deletions and comes back to a topic of the same name
//! with another id; the checker (`checker::quorum::check_new_replicas_empty`) holds that it
//! never opens the earlier topic's records for it (the broker compares the topic id its
//! partition directory records), and (`check_no_strays`) that no deleted generation's
//! directory is left at the end. Three creation attempts in four place partition `p` on the
//! `p`-th broker by hand, so a broker that comes back gets its old partition's name again (refused
//! while it is fenced, so such a creation waits for its return); the others let the controller
//! place them. The workload asserts nothing itself.

use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rand::Rng;
use rill::types::ErrorCode;
use tokio::time::Instant;

use super::batch::{encode, Entry};
use super::route::try_connect_leader;
use super::{via_any_broker, Workload, CALL_TIMEOUT, RETRY_BACKOFF};
use crate::history::Event;

/// The topic deleted and created again.
pub const CHURN_TOPIC: &str = "churn";
/// The most one creation or deletion attempt takes before another broker is tried.
const STEP_FOR: Duration = Duration::from_secs(3);
/// Pause between one generation's deletion and the next one's creation.
const PAUSE_MS: std::ops::Range<u64> = 100..600;
/// How long a generation's write to one partition is tried.
const WRITE_FOR: Duration = Duration::from_millis(800);

fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str(CHURN_TOPIC))
}

/// Generations until `until`: create, write every partition once, delete. Each step goes to
/// a broker drawn afresh each try (a down bootstrap broker would stall it), within a bound.
pub async fn churn(w: Workload, brokers: Vec<u64>, until: Instant) {
    let mut generation = 0u32;
    while Instant::now() < until {
        generation += 1;
        loop {
            let w = via_any_broker(&w);
            let manual = madsim::rand::thread_rng().gen_bool(0.75);
            let placed = manual.then_some(brokers.as_slice());
            let created = create_once(&w, brokers.len() as i32, placed);
            if let Ok(true) = tokio::time::timeout(STEP_FOR, created).await {
                break;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        w.record(Event::ChurnCreated { generation });
        for partition in 0..brokers.len() as i32 {
            // Bounded as a whole: routing asks broker after broker, each with its own timeout.
            let _ = tokio::time::timeout(WRITE_FOR, write_once(&w, generation, partition)).await;
        }
        while Instant::now() < until {
            let w = via_any_broker(&w);
            if let Ok(true) = tokio::time::timeout(STEP_FOR, delete_once(&w)).await {
                w.record(Event::ChurnDeleted);
                break;
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        let pause = madsim::rand::thread_rng().gen_range(PAUSE_MS);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// One record `g{generation}` to the partition's leader, tried until it is written; its outcome
/// does not matter (a record written is what a later broker must not resurrect).
async fn write_once(w: &Workload, generation: u32, partition: i32) {
    let value = format!("g{generation}");
    loop {
        let Some(mut conn) = try_connect_leader(w, CHURN_TOPIC, partition).await else {
            tokio::time::sleep(RETRY_BACKOFF).await;
            continue;
        };
        let entry = Entry {
            key: b"churn",
            value: &value,
        };
        let records =
            encode(&[entry], None, Compression::None, w.now_ms() as i64).expect("a batch encodes");
        let data = PartitionProduceData::default()
            .with_index(partition)
            .with_records(Some(records));
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![data])]);
        let answer = conn
            .call::<_, ProduceResponse>(ApiKey::Produce, 7, &request, CALL_TIMEOUT)
            .await;
        let written = answer.is_ok_and(|response| {
            let code = response.responses[0].partition_responses[0].error_code;
            ErrorCode::from_wire(code) == ErrorCode::NONE
        });
        if written {
            return;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
    }
}

/// One CreateTopics through `w`'s broker, partition `p` on `placed[p]` if given: whether the
/// topic exists now, or may (the broker waited past the request's timeout for the new
/// partitions' leaders: Kafka's REQUEST_TIMED_OUT, the topic created).
async fn create_once(w: &Workload, partitions: i32, placed: Option<&[u64]>) -> bool {
    let topic = CreatableTopic::default().with_name(topic());
    let topic = match placed {
        None => topic
            .with_num_partitions(partitions)
            .with_replication_factor(1),
        Some(brokers) => {
            let assignments = (0..).zip(brokers).map(|(partition, &broker)| {
                CreatableReplicaAssignment::default()
                    .with_partition_index(partition)
                    .with_broker_ids(vec![BrokerId(broker as i32)])
            });
            topic
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_assignments(assignments.collect())
        }
    };
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(1_000);
    let mut conn = w.connect().await;
    let Ok(response) = conn
        .call::<_, CreateTopicsResponse>(ApiKey::CreateTopics, 5, &request, CALL_TIMEOUT)
        .await
    else {
        return false;
    };
    let code = ErrorCode::from_wire(response.topics[0].error_code);
    [
        ErrorCode::NONE,
        ErrorCode::TOPIC_ALREADY_EXISTS,
        ErrorCode::REQUEST_TIMED_OUT,
    ]
    .contains(&code)
}

/// One DeleteTopics through `w`'s broker: whether it says the topic is gone.
async fn delete_once(w: &Workload) -> bool {
    let request = DeleteTopicsRequest::default()
        .with_topics(vec![DeleteTopicState::default().with_name(Some(topic()))])
        .with_timeout_ms(5_000);
    let mut conn = w.connect().await;
    let Ok(response) = conn
        .call::<_, DeleteTopicsResponse>(ApiKey::DeleteTopics, 6, &request, CALL_TIMEOUT)
        .await
    else {
        return false;
    };
    let code = ErrorCode::from_wire(response.responses[0].error_code);
    code == ErrorCode::NONE || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
}
