"""The second wave of admin APIs from each client's admin API: CreatePartitions,
DescribeConfigs, IncrementalAlterConfigs / AlterConfigs (topic configs, persisted across
`kill -9`), DeleteRecords (the low watermark moves and consumption starts there)."""

import asyncio
import time

import pytest
from aiokafka import TopicPartition as AioTP
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions as AioNewPartitions, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource as AioConfigResource, ConfigResourceType as AioType
from confluent_kafka import TopicPartition
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    ResourceType,
)
from kafka import TopicPartition as KpTP
from kafka.admin import ConfigResource as KpConfigResource, KafkaAdminClient

import ck
import kwire

TIMEOUT_S = 15


def wait_all(futures):
    return {k: f.result(timeout=TIMEOUT_S) for k, f in futures.items()}


# ---------------------------------------------------------------------------- confluent-kafka


def test_confluent_create_partitions_then_keyed_produce(rill, topic_name):
    kwire.require_apis(rill.addr, "CreatePartitions", "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 2)
    a = ck.admin(rill.bootstrap)
    wait_all(a.create_partitions([NewPartitions(topic_name, 4)], request_timeout=TIMEOUT_S))
    assert ck.topic_partitions(rill.bootstrap, topic_name) == 4
    with pytest.raises(Exception) as err:  # shrinking is INVALID_PARTITIONS (37)
        wait_all(a.create_partitions([NewPartitions(topic_name, 3)], request_timeout=TIMEOUT_S))
    assert err.value.args[0].code() == 37, err.value
    sent, _, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(200, keyed=True), "all")
    received = ck.consume(rill.bootstrap, topic_name, 4, len(sent))
    kwire.check_delivery(sent, received, 4, keyed=True)


def describe_topic(admin, topic_name):
    """The topic's config entries, as DescribeConfigs returns them."""
    resource = ConfigResource(ResourceType.TOPIC, topic_name)
    (entries,) = wait_all(admin.describe_configs([resource], request_timeout=TIMEOUT_S)).values()
    return entries


def test_confluent_describe_and_incremental_alter_configs(rill, topic_name):
    kwire.require_apis(rill.addr, "DescribeConfigs", "IncrementalAlterConfigs")
    ck.create_topic(rill.bootstrap, topic_name, 1, config={"retention.ms": "86400000"})
    a = ck.admin(rill.bootstrap)

    def describe():
        return describe_topic(a, topic_name)

    entries = describe()
    assert entries["retention.ms"].value == "86400000"
    assert entries["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert entries["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value or entries[
        "segment.bytes"
    ].source == ConfigSource.STATIC_BROKER_CONFIG.value
    alter = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("max.message.bytes", "200000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    wait_all(a.incremental_alter_configs([alter], request_timeout=TIMEOUT_S))
    assert describe()["retention.ms"].value == "3600000"
    delete = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[ConfigEntry("max.message.bytes", None, incremental_operation=AlterConfigOpType.DELETE)],
    )
    wait_all(a.incremental_alter_configs([delete], request_timeout=TIMEOUT_S))
    assert describe()["max.message.bytes"].source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    rill.restart()
    a = ck.admin(rill.bootstrap)
    entries = describe()
    assert entries["retention.ms"].value == "3600000", "altered config survives kill -9"
    assert entries["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_confluent_topic_configs_kafka_accepts_are_stored_and_described(rill, topic_name):
    """Every topic config Kafka accepts is accepted here: the compaction keys are stored and
    described (honoured once Rill compacts), values are checked as Kafka checks them."""
    kwire.require_apis(rill.addr, "CreateTopics", "DescribeConfigs", "IncrementalAlterConfigs")
    config = {
        "delete.retention.ms": "3600000",
        "min.compaction.lag.ms": "1000",
        "max.compaction.lag.ms": "86400000",
        "min.cleanable.dirty.ratio": "0.25",
        "segment.jitter.ms": "500",
    }
    ck.create_topic(rill.bootstrap, topic_name, 1, config=config)
    a = ck.admin(rill.bootstrap)

    def describe():
        return describe_topic(a, topic_name)

    entries = describe()
    for key, value in config.items():
        assert (entries[key].value, entries[key].source) == (value, ConfigSource.DYNAMIC_TOPIC_CONFIG.value), key
    assert (entries["file.delete.delay.ms"].value, entries["file.delete.delay.ms"].source) == (
        "60000",
        ConfigSource.DEFAULT_CONFIG.value,
    )
    assert entries["remote.storage.enable"].value == "false"

    # librdkafka's admin test (0081) creates topics with delete.retention.ms=900 and
    # compression.type=lz4: the first is accepted, the second stays refused (no recompression).
    ck.create_topic(rill.bootstrap, topic_name + "-900", 1, config={"delete.retention.ms": "900"})
    for bad in (
        {"delete.retention.ms": "900", "compression.type": "lz4"},
        {"min.cleanable.dirty.ratio": "2"},
        {"min.compaction.lag.ms": "5000", "max.compaction.lag.ms": "1000"},
    ):
        with pytest.raises(Exception) as err:
            ck.create_topic(rill.bootstrap, topic_name + "-bad", 1, config=bad)
        assert err.value.args[0].code() == 40, (bad, err.value)  # INVALID_CONFIG
    assert ck.topic_partitions(rill.bootstrap, topic_name + "-bad") is None

    alter = ConfigResource(
        ResourceType.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("delete.retention.ms", "900", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("segment.jitter.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    wait_all(a.incremental_alter_configs([alter], request_timeout=TIMEOUT_S))
    rill.restart()
    a = ck.admin(rill.bootstrap)
    entries = describe()
    assert (entries["delete.retention.ms"].value, entries["delete.retention.ms"].source) == (
        "900",
        ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
    ), "altered config survives kill -9"
    assert entries["min.cleanable.dirty.ratio"].value == "0.25"
    assert entries["segment.jitter.ms"].source == ConfigSource.DEFAULT_CONFIG.value


def test_confluent_describe_broker_configs(rill):
    kwire.require_apis(rill.addr, "DescribeConfigs")
    a = ck.admin(rill.bootstrap)
    (broker_id,) = a.list_topics(timeout=TIMEOUT_S).brokers
    (entries,) = wait_all(
        a.describe_configs([ConfigResource(ResourceType.BROKER, str(broker_id))], request_timeout=TIMEOUT_S)
    ).values()
    assert "log.retention.ms" in entries or "log.retention.hours" in entries, sorted(entries)[:20]


def test_confluent_describe_cluster_lists_the_registered_broker(rill):
    """confluent-kafka's describe_cluster() (librdkafka answers it from Metadata, which lists
    the node asked): the cluster id, the controller and the broker where clients reach it."""
    kwire.require_apis(rill.addr, "DescribeCluster")
    a = ck.admin(rill.bootstrap)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        described = a.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
        if described.nodes or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # registered and unfenced a few milliseconds after serving
    metadata = a.list_topics(timeout=TIMEOUT_S)
    assert described.cluster_id == metadata.cluster_id
    assert [(n.id, n.host, n.port) for n in described.nodes] == [(1, "127.0.0.1", rill.port)]
    assert described.controller.id == 1


def test_confluent_delete_records(rill, topic_name):
    kwire.require_apis(rill.addr, "DeleteRecords", "Produce", "Fetch", "ListOffsets")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    msgs = kwire.messages(10, keyed=False)
    ck.produce(rill.bootstrap, topic_name, msgs, "all")
    a = ck.admin(rill.bootstrap)
    (deleted,) = wait_all(a.delete_records([TopicPartition(topic_name, 0, 4)], request_timeout=TIMEOUT_S)).values()
    assert deleted.low_watermark == 4
    c = ck.consumer(rill.bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (4, 10)
    finally:
        c.close()
    got = ck.consume(rill.bootstrap, topic_name, 1, 6)
    assert [(o, v) for _, o, _, v in got] == [(i, msgs[i][1]) for i in range(4, 10)]
    rill.restart()
    got = ck.consume(rill.bootstrap, topic_name, 1, 6)
    assert [o for _, o, _, _ in got] == list(range(4, 10)), "log start offset survives kill -9"


# ---------------------------------------------------------------------------- kafka-python


def kp_admin(rill):
    return KafkaAdminClient(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_S * 1000)


def test_kafka_python_describe_metadata_quorum_and_cluster(rill):
    """kafka-python's KRaft views: DescribeQuorum (55) through `describe_metadata_quorum()` and
    DescribeCluster (60, with fenced brokers) through `describe_cluster()`."""
    kwire.require_apis(rill.addr, "DescribeQuorum", "DescribeCluster")
    a = kp_admin(rill)
    try:
        quorum = a.describe_metadata_quorum()
        (topic,) = quorum["topics"]
        (partition,) = topic["partitions"]
        assert topic["topic_name"] == "__cluster_metadata"
        assert (partition["error"], partition["leader_id"]) == (None, 1), partition
        assert partition["leader_epoch"] >= 1 and partition["high_watermark"] >= 2, partition
        assert [v["replica_id"] for v in partition["current_voters"]] == [1], partition
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            cluster = a.describe_cluster()
            if cluster["brokers"] and not cluster["brokers"][0]["is_fenced"]:
                break
            assert time.monotonic() < deadline, cluster
            time.sleep(0.1)
        brokers = [(b["broker_id"], b["host"], b["port"], b["is_fenced"]) for b in cluster["brokers"]]
        assert brokers == [(1, "127.0.0.1", rill.port, False)], cluster
        assert cluster["controller_id"] == 1
        assert len(cluster["cluster_id"]) == 22, cluster
    finally:
        a.close()


def test_kafka_python_admin_partitions_configs_records(rill, topic_name):
    kwire.require_apis(rill.addr, "CreatePartitions", "DescribeConfigs", "IncrementalAlterConfigs", "DeleteRecords")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    a = kp_admin(rill)
    try:
        a.create_partitions({topic_name: 3})
        (described,) = a.describe_topics([topic_name])
        assert len(described["partitions"]) == 3

        # kafka-python picks IncrementalAlterConfigs when the broker advertises it.
        altered = a.alter_configs([KpConfigResource("TOPIC", topic_name, configs={"retention.ms": "7200000"})])
        assert altered == {"topic": {topic_name: "OK"}}
        modified = a.describe_configs([KpConfigResource("TOPIC", topic_name)])["topic"][topic_name]
        assert list(modified) == ["retention.ms"], "only the altered key is non-default"
        assert (modified["retention.ms"]["value"], modified["retention.ms"]["config_source"]) == (
            "7200000",
            "DYNAMIC_TOPIC_CONFIG",
        )
        everything = a.describe_configs([KpConfigResource("TOPIC", topic_name)], config_filter="all")
        assert everything["topic"][topic_name]["segment.bytes"]["config_source"] in {
            "DEFAULT_CONFIG",
            "STATIC_BROKER_CONFIG",
        }

        ck.produce(rill.bootstrap, topic_name, kwire.messages(10, keyed=False), "all", partition=0)
        result = a.delete_records({KpTP(topic_name, 0): 7})
        assert result[KpTP(topic_name, 0)]["low_watermark"] == 7
        assert result[KpTP(topic_name, 0)]["error_code"] == 0
    finally:
        a.close()
    got = ck.consume(rill.bootstrap, topic_name, 1, 3)
    assert [o for _, o, _, _ in got] == [7, 8, 9]


# ---------------------------------------------------------------------------- aiokafka


def test_aiokafka_admin_partitions_configs_records(rill, topic_name):
    kwire.require_apis(rill.addr, "CreatePartitions", "DescribeConfigs", "AlterConfigs", "DeleteRecords")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    ck.produce(rill.bootstrap, topic_name, kwire.messages(10, keyed=False), "all", partition=0)

    async def body():
        a = AIOKafkaAdminClient(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
        await a.start()
        try:
            await a.create_partitions({topic_name: AioNewPartitions(3)})
            (described,) = await a.describe_topics([topic_name])
            assert len(described["partitions"]) == 3

            await a.alter_configs([AioConfigResource(AioType.TOPIC, topic_name, configs={"retention.ms": "7200000"})])
            (response,) = await a.describe_configs([AioConfigResource(AioType.TOPIC, topic_name)])
            (resource,) = response.to_object()["resources"]
            assert resource["error_code"] == 0
            entries = {e["config_names"]: e for e in resource["config_entries"]}
            assert entries["retention.ms"]["config_value"] == "7200000"
            assert entries["retention.ms"]["config_source"] == 1, "DYNAMIC_TOPIC_CONFIG"

            low = await a.delete_records({AioTP(topic_name, 0): RecordsToDelete(before_offset=7)})
            assert low == {AioTP(topic_name, 0): 7}
        finally:
            await a.close()

    asyncio.run(asyncio.wait_for(body(), 60))
    got = ck.consume(rill.bootstrap, topic_name, 1, 3)
    assert [o for _, o, _, _ in got] == [7, 8, 9]


def test_kafka_python_describe_topic_partitions_pages_and_log_dirs(rill, topic_name):
    """DescribeTopicPartitions (75, KIP-966; kafka-python's describe_topic_partitions): topics
    sorted by name, at most `response_partition_limit` partitions a page, a cursor to the next
    one, an unknown topic UNKNOWN_TOPIC_OR_PARTITION; and DescribeLogDirs (35) lists what the
    broker's log directory holds."""
    kwire.require_apis(rill.addr, "DescribeTopicPartitions", "DescribeLogDirs")
    a, b = f"{topic_name}-a", f"{topic_name}-b"
    ck.create_topic(rill.bootstrap, b, 2)
    ck.create_topic(rill.bootstrap, a, 3)
    admin = KafkaAdminClient(bootstrap_servers=rill.bootstrap)
    try:
        first = admin.describe_topic_partitions([b, f"{topic_name}-missing", a],
                                                response_partition_limit=4)
        names = [t["name"] for t in first["topics"]]
        assert names == [a, b], first
        assert [p["partition_index"] for p in first["topics"][0]["partitions"]] == [0, 1, 2]
        assert [p["partition_index"] for p in first["topics"][1]["partitions"]] == [0]
        for t in first["topics"]:
            assert t["error_code"] == 0 and not t["is_internal"], t
            # Without an authorizer, every operation a topic supports (Kafka's bits READ 3 …
            # ALTER_CONFIGS 11, CLUSTER_ACTION 9 not among them).
            assert t["topic_authorized_operations"] == sum(1 << b for b in (3, 4, 5, 6, 7, 8, 10, 11)), t
            for p in t["partitions"]:
                assert p["error_code"] == 0, p
                assert p["leader_id"] == 1 and p["replica_nodes"] == [1], p
                assert p["isr_nodes"] == [1] and p["leader_epoch"] >= 0, p
        assert first["next_cursor"] == {"topic_name": b, "partition_index": 1}, first

        rest = admin.describe_topic_partitions([b, f"{topic_name}-missing", a],
                                               response_partition_limit=4,
                                               cursor=first["next_cursor"])
        by_name = {t["name"]: t for t in rest["topics"]}
        assert [p["partition_index"] for p in by_name[b]["partitions"]] == [1], rest
        # The unknown topic sorts after the cursor's: it is reported on this page.
        assert by_name[f"{topic_name}-missing"]["error_code"] == 3, rest
        assert a not in by_name and rest["next_cursor"] is None, rest

        [answer] = admin.describe_log_dirs()
        [log_dir] = answer["log_dirs"]
        held = {(t["name"], p["partition_index"]) for t in log_dir["topics"]
                for p in t["partitions"]}
        assert {(a, 0), (a, 1), (a, 2), (b, 0), (b, 1)} <= held, log_dir
    finally:
        admin.close()
