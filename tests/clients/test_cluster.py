"""Issue 13: three `rill server` processes on 127.0.0.1 form one cluster that real clients use
through any broker. Topics live in the controller quorum's metadata log: a topic created
through one broker is placed by the controller over all three (Kafka's round-robin), every
broker answers Metadata for the whole cluster (the live brokers, each partition's leader and
leader epoch), a broker refuses a partition it does not lead with NOT_LEADER_OR_FOLLOWER, and
FindCoordinator names the broker leading the group's `__consumer_offsets` partition. When a
broker dies (`kill -9`) the controller fences it and its partitions (one replica each, until
replication) show no leader until it is back, then it leads them again (in a newer leader
epoch: `tests/kafka_topics.rs` reads the epochs)."""

import json
import shutil
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

import kwire

# Fence a dead broker within a few seconds (Kafka's default session is 9 s).
FAST_SESSION = (
    "--override", "broker.session.timeout.ms=2000",
    "--override", "broker.heartbeat.interval.ms=200",
)
PARTITIONS = 6
TIMEOUT_S = 30
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
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
    """The topic's partition leaders in partition order and the listed brokers, as `node`
    tells them (None until it lists the topic)."""
    md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None and not t.partitions:
        return None
    return [t.partitions[p].leader for p in sorted(t.partitions)], sorted(md.brokers)


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


def kcat(*args, stdin=None):
    return subprocess.run([KCAT, *args], input=stdin, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=True).stdout


def test_a_topic_created_through_one_broker_is_spread_and_served_through_every_broker(
        rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION)
    admin = AdminClient({"bootstrap.servers": nodes[1].bootstrap})
    admin.create_topics([NewTopic(topic_name, PARTITIONS, 1)])[topic_name].result(TIMEOUT_S)

    # Every broker knows the topic and all three brokers, and they agree on the leaders:
    # round-robin over the three, two partitions each.
    placed = None
    for node in nodes:
        seen = wait_for(f"broker at {node.bootstrap} lists the topic and 3 brokers",
                        lambda: (lambda r: r if r and len(r[1]) == 3 else None)(leaders(node, topic_name)))
        placed = placed or seen[0]
        assert seen == (placed, [1, 2, 3]), seen
    assert sorted(placed) == [1, 1, 2, 2, 3, 3], placed

    # A broker asked for a partition another leads refuses it (clients then refresh their
    # metadata); the raw Produce v3 to broker 1 for a partition led by broker 2:
    elsewhere = placed.index(2)
    batch = kwire.record_batch([(None, b"misrouted")])
    with kwire.Conn(nodes[0].addr) as conn:
        error, _ = wait_for("broker 1 applied the topic",
                            lambda: (lambda r: r if r[0] != UNKNOWN_TOPIC_OR_PARTITION else None)(
                                conn.produce_v3(topic_name, elsewhere, batch)))
    assert error == NOT_LEADER_OR_FOLLOWER

    # confluent-kafka bootstrapped at broker 1 writes every partition (routed to leaders).
    failed = []
    producer = Producer({"bootstrap.servers": nodes[0].bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        producer.produce(topic_name, value=f"ck-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []
    # kafka-python bootstrapped at broker 2 and kcat at broker 3 write every partition too.
    kp = KafkaProducer(bootstrap_servers=nodes[1].bootstrap, acks="all")
    for p in range(PARTITIONS):
        kp.send(topic_name, value=f"kp-{p}".encode(), partition=p).get(timeout=TIMEOUT_S)
    kp.close()
    for p in range(PARTITIONS):
        kcat("-b", nodes[2].bootstrap, "-P", "-t", topic_name, "-p", str(p), stdin=f"kc-{p}\n")
    first = sorted((p, f"{who}-{p}".encode()) for p in range(PARTITIONS) for who in ("ck", "kp", "kc"))

    # kafka-python bootstrapped at broker 3 reads them all, and so does kcat at broker 1.
    assert consume_all(nodes[2].bootstrap, topic_name, len(first)) == first
    out = kcat("-b", nodes[0].bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e",
               "-f", "%p %s\n")
    read = sorted((int(p), v.encode()) for p, v in (line.split(" ", 1) for line in out.splitlines()))
    assert read == first

    # kcat sees the cluster the same way.
    listed = json.loads(kcat("-b", nodes[2].bootstrap, "-L", "-J", "-t", topic_name))
    assert sorted(b["id"] for b in listed["brokers"]) == [1, 2, 3]
    assert [p["leader"] for p in listed["topics"][0]["partitions"]] == placed

    # A consumer group: FindCoordinator names the broker that leads the group's offsets
    # partition, wherever that is; the commit is read back through another broker.
    group = f"{topic_name}-group"
    consumer = Consumer({"bootstrap.servers": nodes[0].bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic_name])
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < len(first) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append((msg.partition(), msg.value()))
    assert sorted(got) == first
    consumer.commit(asynchronous=False)
    consumer.close()
    reader = Consumer({"bootstrap.servers": nodes[1].bootstrap, "group.id": group})
    committed = reader.committed([TopicPartition(topic_name, p) for p in range(PARTITIONS)], timeout=TIMEOUT_S)
    reader.close()
    assert [tp.offset for tp in committed] == [3] * PARTITIONS

    # Broker 3 dies: the controller fences it and its partitions have no leader; the others
    # keep theirs.
    nodes[2].kill9()
    orphaned = [-1 if leader == 3 else leader for leader in placed]
    wait_for("the others show broker 3's partitions without a leader",
             lambda: leaders(nodes[0], topic_name) == (orphaned, [1, 2]))

    # Back: it leads them again, with every record, and every partition takes more.
    nodes[2].start()
    wait_for("broker 3 leads again", lambda: leaders(nodes[1], topic_name) == (placed, [1, 2, 3]))
    producer = Producer({"bootstrap.servers": nodes[1].bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        producer.produce(topic_name, value=f"second-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []
    second = sorted(first + [(p, f"second-{p}".encode()) for p in range(PARTITIONS)])
    assert consume_all(nodes[0].bootstrap, topic_name, len(second)) == second
