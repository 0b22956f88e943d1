"""Issue 13: three `rill server` processes on 127.0.0.1 form one cluster that real clients use
through any broker. Topics live in the controller quorum's metadata log: a topic created
through one broker is known to every broker, each answers Metadata for the whole cluster (the
live brokers and each partition's leader), and FindCoordinator names the broker leading the
group's `__consumer_offsets` partition. Until the simulator's clients route by leader
(docs/issue-13-brokers-plan.md, B9), a broker places the partitions it creates on itself (and
librdkafka sends CreateTopics to the controller Metadata names): when that broker dies
(`kill -9`) the controller fences it and its partitions show no leader (LEADER_NOT_AVAILABLE)
until it is back."""

import json
import shutil
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition

# Fence a dead broker within a few seconds (Kafka's default session is 9 s).
FAST_SESSION = (
    "--override", "broker.session.timeout.ms=2000",
    "--override", "broker.heartbeat.interval.ms=200",
)
PARTITIONS = 6
TIMEOUT_S = 30
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def wait_for(what, probe, timeout_s=TIMEOUT_S):
    """Calls `probe` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: still {last!r} after {timeout_s} s")


def leaders(node, topic):
    """The topic's partition leaders as `node` tells them (None until it lists the topic)."""
    md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None and not t.partitions:
        return None
    return sorted(p.leader for p in t.partitions.values()), sorted(md.brokers)


def consume_all(bootstrap, topic, expected):
    """Every record of the topic's partitions through kafka-python bootstrapped at `bootstrap`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             request_timeout_ms=15000)
    try:
        consumer.assign([KpTopicPartition(topic, p) for p in range(PARTITIONS)])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend((r.partition, r.value) for r in records)
        return sorted(got)
    finally:
        consumer.close()


def test_a_topic_created_through_one_broker_is_served_through_every_broker(rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION)
    admin = AdminClient({"bootstrap.servers": nodes[1].bootstrap})
    admin.create_topics([NewTopic(topic_name, PARTITIONS, 1)])[topic_name].result(TIMEOUT_S)

    # Every broker knows the topic and all three brokers; the broker that created it leads it.
    owner = None
    for node in nodes:
        seen = wait_for(f"broker at {node.bootstrap} lists the topic and 3 brokers",
                        lambda: (lambda r: r if r and len(r[1]) == 3 else None)(leaders(node, topic_name)))
        owner = owner or seen[0][0]
        assert seen == ([owner] * PARTITIONS, [1, 2, 3]), seen
    # Bootstrapped elsewhere, clients are routed to it.
    away = [n for i, n in enumerate(nodes) if i + 1 != owner]

    # confluent-kafka bootstrapped at another broker writes every partition.
    failed = []
    producer = Producer({"bootstrap.servers": away[0].bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        producer.produce(topic_name, value=f"first-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []

    # kafka-python bootstrapped at the third broker reads them all.
    first = [(p, f"first-{p}".encode()) for p in range(PARTITIONS)]
    assert consume_all(away[1].bootstrap, topic_name, PARTITIONS) == first

    # kcat sees the cluster the same way.
    out = subprocess.run([KCAT, "-b", away[1].bootstrap, "-L", "-J", "-t", topic_name],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout
    listed = json.loads(out)
    assert sorted(b["id"] for b in listed["brokers"]) == [1, 2, 3]
    assert [p["leader"] for p in listed["topics"][0]["partitions"]] == [owner] * PARTITIONS

    # A consumer group: FindCoordinator names the broker that leads the group's offsets
    # partition, wherever that is; the commit is read back through another broker.
    group = f"{topic_name}-group"
    consumer = Consumer({"bootstrap.servers": away[0].bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic_name])
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < PARTITIONS and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    assert sorted(got) == sorted(v for _, v in first)
    consumer.commit(asynchronous=False)
    consumer.close()
    reader = Consumer({"bootstrap.servers": away[1].bootstrap, "group.id": group})
    committed = reader.committed([TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=TIMEOUT_S)
    reader.close()
    assert [tp.offset for tp in committed] == [1] * PARTITIONS

    # The owner dies: the controller fences it and its partitions have no leader.
    nodes[owner - 1].kill9()
    live = sorted(i + 1 for i in range(3) if i + 1 != owner)
    wait_for("the others show the partitions without a leader",
             lambda: (lambda r: r and r[0] == [-1] * PARTITIONS and r[1] == live)(leaders(away[0], topic_name)))

    # Back: it leads them again, with every record, and takes more.
    nodes[owner - 1].start()
    wait_for("the owner leads again",
             lambda: leaders(away[1], topic_name) == ([owner] * PARTITIONS, [1, 2, 3]))
    producer = Producer({"bootstrap.servers": away[1].bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        producer.produce(topic_name, value=f"second-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []
    second = sorted(first + [(p, f"second-{p}".encode()) for p in range(PARTITIONS)])
    assert consume_all(away[0].bootstrap, topic_name, 2 * PARTITIONS) == second
