//! The partitions actor under the real host (tokio, real fsync on the blocking pool, real
//! files): requests through `NodeHandle::request`, an acks=-1 produce answered after the host
//! ran the group-commit sync, a long-poll fetch woken by a later produce, and the data still
//! there after the node is restarted over the same directory. The node runs its controller
//! quorum's voter and broker lifecycle too: producer ids come from the quorum.
#![cfg(not(madsim))]
#![allow(clippy::disallowed_methods)] // a test may spawn tasks

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rill::config::ServerConfig;
use rill::controller::lifecycle::BrokerLifecycle;
use rill::controller::quorum::{QuorumActor, QuorumSettings};
use rill::host::node::NodeHandle;
use rill::host::{Node, NodeActor, NodeConfig};
use rill::messages::lifecycle::{LifecycleRequest, StartLifecycleRequest};
use rill::messages::*;
use rill::partition::actor::Partitions;
use rill::storage::batch::{build_batch, build_idempotent_batch};
use rill::storage::file::FileStorage;
use rill::storage::log::{FlushPolicy, LogConfig, TimestampType};
use rill::storage::Storage;
use rill::types::{ErrorCode, LeaderEpoch, NodeId, Offset, ProducerId, TopicPartition};

fn tp() -> TopicPartition {
    TopicPartition {
        topic: "events".into(),
        partition: 0,
    }
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        segment_ms: 7 * 24 * 3600 * 1000,
        retention_ms: None,
        retention_bytes: None,
        index_interval_bytes: 4096,
        batch_bytes_max: 1 << 20,
        flush: FlushPolicy::EveryAppend,
        timestamp_type: TimestampType::CreateTime,
        ..LogConfig::default()
    }
}

async fn start(storage: Arc<dyn Storage>) -> Node<NodeMsg> {
    // A one-voter quorum with the server's defaults, and the broker registering with it.
    let server = ServerConfig::default();
    let actors = vec![
        (PARTITIONS, NodeActor::new(Partitions::new(storage.clone()))),
        (
            QUORUM,
            NodeActor::new(QuorumActor::new(
                QuorumSettings {
                    // No topics actor here.
                    feeds_topics: false,
                    ..server.quorum_settings()
                },
                storage,
            )),
        ),
        (
            LIFECYCLE,
            NodeActor::new(BrokerLifecycle::new(server.lifecycle_settings())),
        ),
    ];
    let node_config = NodeConfig {
        node_id: NodeId(1),
        listen: "127.0.0.1:0".parse().unwrap(),
        peers: BTreeMap::new(),
    };
    let node = Node::start(node_config, actors).await.expect("node starts");
    let start = LifecycleRequest::Start(StartLifecycleRequest {
        listeners: Vec::new(),
        rack: None,
        clean_shutdown: false,
    });
    node.handle()
        .request(LIFECYCLE, NodeMsg::Lifecycle(start))
        .await
        .expect("the lifecycle starts");
    node
}

/// A producer id from the quorum: asked until the broker's registration is committed (until
/// then InitProducerId answers Kafka's retriable COORDINATOR_LOAD_IN_PROGRESS).
async fn init_producer_id(handle: &NodeHandle<NodeMsg>) -> ProducerId {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let request = PartitionsRequest::InitProducerId(InitProducerIdRequest {
            transactional_id: None,
            producer_id: ProducerId::NONE,
            producer_epoch: -1,
        });
        match ask(handle, request).await {
            PartitionsReply::InitProducerId(InitProducerIdResult {
                error_code: ErrorCode::NONE,
                producer_id,
                ..
            }) => return producer_id,
            PartitionsReply::InitProducerId(InitProducerIdResult {
                error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
                ..
            }) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            other => panic!("{other:?}"),
        }
    }
}

async fn ask(handle: &NodeHandle<NodeMsg>, request: PartitionsRequest) -> PartitionsReply {
    match handle
        .request(PARTITIONS, NodeMsg::Partitions(request))
        .await
    {
        Ok(NodeMsg::PartitionsReply(reply)) => reply,
        other => panic!("unexpected answer {other:?}"),
    }
}

async fn ensure(handle: &NodeHandle<NodeMsg>) {
    let reply = ask(
        handle,
        PartitionsRequest::Ensure(EnsureRequest {
            tp: tp(),
            config: config(),
            topic_id: [0; 16],
        }),
    )
    .await;
    assert!(
        matches!(
            reply,
            PartitionsReply::Done(Done {
                error_code: ErrorCode::NONE,
                ..
            })
        ),
        "{reply:?}"
    );
}

fn fetch_from(offset: i64) -> PartitionsRequest {
    PartitionsRequest::Fetch(FetchRequest {
        max_wait_ms: 5_000,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level: 0,
        partitions: vec![FetchPartition {
            tp: tp(),
            fetch_offset: Offset(offset),
            partition_max_bytes: 1 << 20,
            current_leader_epoch: LeaderEpoch::UNKNOWN,
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_acks_all_long_poll_fetch_and_restart_through_the_real_host() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::new(dir.path().to_path_buf()));
    let node = start(storage.clone()).await;
    let handle = node.handle();
    ensure(&handle).await;

    let pid = init_producer_id(&handle).await;

    // A consumer waits at the log end; the acks=-1 produce below wakes it.
    let waiting = {
        let handle = handle.clone();
        tokio::spawn(async move { ask(&handle, fetch_from(0)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !waiting.is_finished(),
        "nothing to read yet: the fetch is parked"
    );

    let batch = build_idempotent_batch(&[(None, b"hello")], 1_700_000_000_000, pid.0, 0, 0);
    let produce = |records: Vec<u8>| {
        PartitionsRequest::Produce(ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            partitions: vec![(tp(), records)],
            checked: Vec::new(),
            transactional_id: None,
        })
    };
    match ask(&handle, produce(batch.clone())).await {
        PartitionsReply::Produce(results) => {
            assert_eq!(
                (results[0].1.error_code, results[0].1.base_offset.0),
                (ErrorCode::NONE, 0)
            )
        }
        other => panic!("{other:?}"),
    }
    let fetched = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the append wakes the fetch")
        .unwrap();
    match fetched {
        PartitionsReply::Fetch(results) => {
            assert_eq!(results[0].error_code, ErrorCode::NONE);
            assert_eq!(results[0].high_watermark.0, 1);
            assert!(!results[0].records.is_empty());
        }
        other => panic!("{other:?}"),
    }
    ask(&handle, produce(build_batch(&[(None, b"two")], 0))).await;
    node.shutdown();

    // Same directory, new node: the data and the producer state are back.
    let node = start(storage).await;
    let handle = node.handle();
    ensure(&handle).await;
    match ask(&handle, produce(batch)).await {
        PartitionsReply::Produce(results) => {
            assert_eq!(
                (results[0].1.error_code, results[0].1.base_offset.0),
                (ErrorCode::NONE, 0),
                "a retry after restart is recognised"
            )
        }
        other => panic!("{other:?}"),
    }
    let list = PartitionsRequest::ListOffsets(ListOffsetsRequest {
        isolation_level: 0,
        partitions: vec![(tp(), -1)],
        current_leader_epochs: Default::default(),
    });
    match ask(&handle, list).await {
        PartitionsReply::ListOffsets(results) => assert_eq!(results[0].1.offset.0, 2),
        other => panic!("{other:?}"),
    }
    node.shutdown();
}
