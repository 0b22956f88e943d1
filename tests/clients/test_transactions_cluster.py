"""Transactions on three `rill server` processes with replication factor 3 (issue 15): the broker
coordinating a transactional id (the leader of its `__transaction_state` partition) is killed
with -9 right after the producer sent its commit. The transaction then ends the same way on
every partition — all of its records visible to read_committed consumers, or none — and the
transactional id works again (its next producer fences whatever was left and commits)."""

import struct
import threading
import time

from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import ck
import kwire

PARTITIONS = 6
TIMEOUT_S = 60
# Fence a dead broker within a few seconds (Kafka's default session is 9 s).
FAST_SESSION = (
    "--override", "broker.session.timeout.ms=2000",
    "--override", "broker.heartbeat.interval.ms=200",
)


def transaction_coordinator(node, txn_id):
    """The node id FindCoordinator (v1, key type 1) names for `txn_id`, once it names one."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        with kwire.Conn(node.addr) as conn:
            body = kwire._string(txn_id) + struct.pack(">b", 1)
            r = kwire._Reader(conn.request(kwire.API_KEYS["FindCoordinator"], 1, body))
            _throttle, error, _message, node_id = r.i32(), r.i16(), r.string(), r.i32()
        if error == 0:
            return node_id
        assert time.monotonic() < deadline, f"no transaction coordinator: error {error}"
        time.sleep(0.2)


def producer(bootstrap, txn_id):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": 10000})
    p.init_transactions(TIMEOUT_S)
    return p


def send_each(p, topic, prefix):
    for partition in range(PARTITIONS):
        p.produce(topic, value=f"{prefix}-{partition}".encode(), partition=partition)
    assert p.flush(TIMEOUT_S) == 0


def read_committed(bootstrap, topic, until_prefix):
    """Every record read_committed consumers see, once `until_prefix`'s record of every
    partition arrived (what is before it is decided by then)."""
    c = ck.consumer(bootstrap, {"isolation.level": "read_committed"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while sum(v.startswith(until_prefix.encode()) for v in got) < PARTITIONS:
            assert time.monotonic() < deadline, f"read_committed saw only {sorted(got)}"
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
        return got
    finally:
        c.close()


def test_killing_the_coordinator_mid_commit_ends_the_transaction_alike_everywhere(rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION)
    bootstrap = ",".join(n.bootstrap for n in nodes)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic_name, PARTITIONS, 3)])[topic_name].result(TIMEOUT_S)
    txn_id = f"{topic_name}-tx"
    p = producer(bootstrap, txn_id)
    coordinator = nodes[transaction_coordinator(nodes[0], txn_id) - 1]
    p.begin_transaction()
    send_each(p, topic_name, "before")
    p.commit_transaction(TIMEOUT_S)

    p.begin_transaction()
    send_each(p, topic_name, "racing")
    outcome = {}

    def commit():
        try:
            p.commit_transaction(TIMEOUT_S)
            outcome["committed"] = True
        except KafkaException as e:
            outcome["error"] = e

    committing = threading.Thread(target=commit)
    committing.start()
    time.sleep(0.01)
    coordinator.kill9()
    committing.join(TIMEOUT_S + 10)
    coordinator.restart()

    # The id's next producer: its InitProducerId waits for the racing transaction to end
    # (completed by the new coordinator, or aborted), then commits after it.
    p2 = producer(bootstrap, txn_id)
    p2.begin_transaction()
    send_each(p2, topic_name, "after")
    p2.commit_transaction(TIMEOUT_S)
    got = read_committed(bootstrap, topic_name, "after")
    racing = sorted(v for v in got if v.startswith(b"racing"))
    print(f"commit outcome: {outcome}; racing records visible: {len(racing)}")
    assert len(racing) in (0, PARTITIONS), f"a transaction half visible: {racing}"
    if outcome.get("committed"):
        assert len(racing) == PARTITIONS, "a commit answered NONE must be visible in full"
    assert sorted(v for v in got if v.startswith(b"before")) == sorted(
        f"before-{p}".encode() for p in range(PARTITIONS))
    assert len(got) == 2 * PARTITIONS + len(racing), "nothing else, nothing twice"
