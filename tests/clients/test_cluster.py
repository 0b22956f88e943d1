"""Issue 13: three `rill server` processes on 127.0.0.1 form one cluster that real clients use
through any broker. Topics live in the controller quorum's metadata log: a topic created
through one broker is placed by the controller over all three (Kafka's round-robin), every
broker answers Metadata for the whole cluster (the live brokers, each partition's leader and
leader epoch), a broker refuses a partition it does not lead with NOT_LEADER_OR_FOLLOWER, and
FindCoordinator names the broker leading the group's `__consumer_offsets` partition. When a
broker dies (`kill -9`) the controller fences it and its partitions (one replica each: the
topic's replication factor is 1; `test_replication.py` has replicated ones) show no leader until it is back, then it leads them again (in a newer leader
epoch: `tests/kafka_topics.rs` reads the epochs).

A broker-only node (`process.roles=broker`) follows the metadata log as an observer of the quorum:
it is placed partitions like any broker, serves them, is listed by DescribeQuorum as an
observer, and keeps following across the controller leader's death and its own restart.

A topic deleted while a broker was down and created again under its name never serves the old
topic's records from that broker: partition directories record their topic id."""

import json
import shutil
import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

import kwire
from conftest import RILL_BIN

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


def quorum_rows(node):
    """`rill metadata-quorum describe --replication` at `node`: {node id: status}."""
    out = subprocess.run([str(RILL_BIN), "metadata-quorum", "--bootstrap-server", node.bootstrap,
                          "describe", "--replication"],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout
    return {int(row.split()[0]): row.split()[-1] for row in out.splitlines()[1:]}


def create(node, topic, partitions):
    """Creates the topic through `node`, again while the quorum has no leader to decide it."""
    def attempt():
        admin = AdminClient({"bootstrap.servers": node.bootstrap})
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(TIMEOUT_S)
            return True
        except Exception as e:  # KafkaException: the cause is in the message
            if "already exists" in str(e):
                return True
            print("create refused:", e)
            return None
    wait_for(f"{topic} created through {node.bootstrap}", attempt)


def test_a_broker_only_node_follows_the_metadata_log_and_serves_its_partitions(
        rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=1)
    observer = nodes[3]
    create(observer, topic_name, 8)

    # Every broker lists all four brokers and the same leaders; the broker-only node leads
    # two partitions like the others.
    placed = None
    for node in nodes:
        seen = wait_for(f"broker at {node.bootstrap} lists the topic and 4 brokers",
                        lambda: (lambda r: r if r and len(r[1]) == 4 else None)(leaders(node, topic_name)))
        placed = placed or seen[0]
        assert seen == (placed, [1, 2, 3, 4]), seen
    assert sorted(placed) == [1, 1, 2, 2, 3, 3, 4, 4], placed

    # DescribeQuorum (asked at the broker-only node, answered by the leader) names the three
    # voters and node 4 as an observer.
    rows = wait_for("node 4 listed as an observer", lambda: (lambda r: r if 4 in r else None)(quorum_rows(observer)))
    assert rows[4] == "Observer", rows
    assert sorted(r for r in rows if rows[r] in ("Leader", "Follower")) == [1, 2, 3], rows

    # confluent-kafka bootstrapped at the broker-only node writes every partition; kcat there
    # reads them all back.
    failed = []
    producer = Producer({"bootstrap.servers": observer.bootstrap, "acks": "all"})
    for p in range(8):
        producer.produce(topic_name, value=f"v-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []
    written = sorted((p, f"v-{p}".encode()) for p in range(8))

    def read_at(node, topic):
        out = kcat("-b", node.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%p %s\n")
        return sorted((int(p), v.encode()) for p, v in (line.split(" ", 1) for line in out.splitlines()))
    assert read_at(observer, topic_name) == written

    # The controller leader dies: the broker-only node finds the new leader and follows on. A
    # topic created through it afterwards is placed over the three live brokers, and it serves
    # its share.
    # (Metadata names the broker asked as the controller, as KRaft names a live broker: admin
    # requests go there and are forwarded to the quorum's leader.)
    # (librdkafka may ask any broker it has learned of, so the test holds the rule, not the id.)
    md = AdminClient({"bootstrap.servers": observer.bootstrap}).list_topics(timeout=10)
    assert md.controller_id in md.brokers, (md.controller_id, sorted(md.brokers))
    (controller,) = [n for n, status in rows.items() if status == "Leader"]
    assert controller in (1, 2, 3), rows
    nodes[controller - 1].kill9()
    live = sorted({1, 2, 3, 4} - {controller})
    # (Created before the dead broker is fenced, a partition would be placed on it.)
    wait_for("the dead broker fenced, as the broker-only node sees it",
             lambda: (leaders(observer, topic_name) or [None, None])[1] == live)
    later = f"{topic_name}-later"
    create(observer, later, 3)
    after = wait_for("the broker-only node lists the new topic over the live brokers",
                     lambda: (lambda r: r if r and r[1] == live and -1 not in r[0] else None)(leaders(observer, later)))
    assert sorted(after[0]) == live, after
    mine = after[0].index(4)
    kcat("-b", observer.bootstrap, "-P", "-t", later, "-p", str(mine), stdin="after-the-kill\n")
    assert read_at(observer, later) == [(mine, b"after-the-kill")]
    rows = wait_for("a new quorum leader lists node 4 as an observer",
                    lambda: (lambda r: r if r.get(4) == "Observer" and controller not in
                             [n for n in r if r[n] == "Leader"] else None)(quorum_rows(observer)))
    assert rows[4] == "Observer"

    # The broker-only node itself dies and comes back (on another inter-node port): it leads
    # its partitions again, with their records.
    nodes[controller - 1].start()
    observer.kill9()
    observer.start()
    wait_for("the broker-only node leads its partitions again",
             lambda: leaders(nodes[(controller % 3)], topic_name) == (placed, [1, 2, 3, 4]))
    assert read_at(observer, topic_name) == written


def create_placed(node, topic_name, placement):
    """Creates the topic with a manual assignment (kafka-python's admin client sends it as
    given; confluent-kafka's `NewTopic` refuses one), retrying until accepted."""
    def attempt():
        admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
        topic = KpNewTopic(topic_name, num_partitions=-1, replication_factor=-1,
                           replica_assignments={p: a for p, a in enumerate(placement)})
        try:
            response = admin.create_topics([topic], timeout_ms=TIMEOUT_S * 1000)
            errors = [e for (_, e, *_) in getattr(response, "topic_errors", [])]
            return True if not any(errors) else print("create refused:", errors)
        except Exception as e:  # a refusal raises with its error
            print("create refused:", e)
            return None
        finally:
            admin.close()
    wait_for(f"{topic_name} created", attempt)


def wait_led_as_placed(node, topic_name, placement):
    return wait_for("the topic led as placed",
                    lambda: (lambda r: r if r and r[0] == [p[0] for p in placement] else None)(
                        leaders(node, topic_name)))


def produce_each(node, topic_name, prefix):
    """One record `<prefix>-<p>` to every partition p, acks=all."""
    failed = []
    producer = Producer({"bootstrap.servers": node.bootstrap, "acks": "all"})
    for p in range(PARTITIONS):
        producer.produce(topic_name, value=f"{prefix}-{p}".encode(), partition=p,
                         on_delivery=lambda err, msg: err and failed.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []


def read_each(node, topic_name):
    out = kcat("-b", node.bootstrap, "-C", "-t", topic_name, "-o", "beginning", "-e",
               "-f", "%p %s\n")
    return sorted((int(p), v) for p, v in (line.split(" ", 1) for line in out.splitlines()))


def delete_while_down(first, third, topic_name):
    """Broker 3 dies; the topic is deleted meanwhile (broker 3 never hears the deletion)."""
    third.kill9()
    wait_for("broker 3 fenced", lambda: (leaders(first, topic_name) or [None, None])[1] == [1, 2])
    admin = AdminClient({"bootstrap.servers": first.bootstrap})
    admin.delete_topics([topic_name], operation_timeout=TIMEOUT_S)[topic_name].result(TIMEOUT_S)
    # (All topics asked, not this one: a Metadata request naming it could create it again.)
    wait_for("the topic gone", lambda: topic_name not in AdminClient(
        {"bootstrap.servers": first.bootstrap}).list_topics(timeout=10).topics)


def wait_all_brokers(first):
    wait_for("broker 3 back", lambda: sorted(
        AdminClient({"bootstrap.servers": first.bootstrap}).list_topics(timeout=10).brokers) == [1, 2, 3])


def partition_dirs(node, topic_name):
    """The topic's partition directories in `node`'s data directory, and any directory a
    removal left (`…-delete`)."""
    data = node.data_dir / "data"
    return sorted(d.name for d in data.iterdir()
                  if d.is_dir() and (d.name.rsplit("-", 1)[0] == topic_name
                                     or d.name.endswith("-delete")))


def test_a_broker_down_while_its_topic_was_deleted_removes_the_topics_directories_when_back(
        rill_cluster, topic_name):
    """Topic deletion removes the logs on every broker, the ones down at the time included:
    a broker that comes back finds its directories naming a deleted topic id (the metadata
    keeps those ids) and removes them (Kafka 3.7's stray logs), with nothing left over. A
    topic created again under the name, placed alike, serves only its own records (before
    stray directories were removed, broker 3 served the deleted topic's `old-2`; a directory
    that names another topic id is also removed before an open: `partition/tests.rs`)."""
    nodes = rill_cluster(3, *FAST_SESSION)
    first, third = nodes[0], nodes[2]
    placement = [[p % 3 + 1] for p in range(PARTITIONS)]
    create_placed(first, topic_name, placement)
    wait_led_as_placed(first, topic_name, placement)
    produce_each(first, topic_name, "old")
    assert partition_dirs(third, topic_name) == [f"{topic_name}-2", f"{topic_name}-5"]

    delete_while_down(first, third, topic_name)
    for number, node in enumerate(nodes[:2], start=1):
        wait_for(f"broker {number} removed its directories",
                 lambda: partition_dirs(node, topic_name) == [])
    assert partition_dirs(third, topic_name) == [f"{topic_name}-2", f"{topic_name}-5"]
    third.start()
    wait_all_brokers(first)
    wait_for("broker 3 removed the deleted topic's directories",
             lambda: partition_dirs(third, topic_name) == [])
    assert "removing the directory of a deleted topic" in third.log_path.read_text()
    # The name is free and new: a topic created again starts empty.
    create_placed(first, topic_name, placement)
    wait_led_as_placed(first, topic_name, placement)
    assert read_each(first, topic_name) == []
    produce_each(first, topic_name, "new")
    assert read_each(first, topic_name) == [(p, f"new-{p}") for p in range(PARTITIONS)]
