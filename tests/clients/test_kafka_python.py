"""kafka-python 3.x against a real `rill server`, in its default configuration: the default
producer is idempotent with acks=all (InitProducerId, sequence numbers) and checks CRCs on
fetch. Admin through KafkaAdminClient; consumption through assign() with group_id=None, and as a
consumer group member (subscribe)."""

import time

import kafka
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

import kwire

PARTITIONS = 3
N = 600
TIMEOUT_MS = 15000


def admin(rill):
    return KafkaAdminClient(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_MS)


def create_topic(rill, name, partitions):
    a = admin(rill)
    try:
        a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)], timeout_ms=TIMEOUT_MS)
    finally:
        a.close()


def producer(rill, **conf):
    return KafkaProducer(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_MS, **conf)


def produce(rill, topic, msgs, timestamps=None, **conf):
    """Returns (sent, offsets) like ck.produce; raises if any send failed."""
    p = producer(rill, **conf)
    try:
        futures = []
        for i, (k, v) in enumerate(msgs):
            ts = timestamps[i] if timestamps else None
            futures.append((k, v, p.send(topic, key=k, value=v, timestamp_ms=ts)))
        p.flush(timeout=30)
        sent, offsets = [], {}
        for k, v, f in futures:
            md = f.get(timeout=30)
            sent.append((md.partition, k, v))
            offsets[v] = md.offset
        return sent, offsets, p
    finally:
        p.close(timeout=10)


def consumer(rill):
    return KafkaConsumer(
        bootstrap_servers=rill.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=TIMEOUT_MS + 5000,
        check_crcs=True,
    )


def poll(c, n, timeout_s=30.0, settle_s=0.5):
    out = []
    collect = kwire.Collect(n, timeout_s, settle_s)
    while collect.more(len(out)):
        for tp, records in c.poll(timeout_ms=100).items():
            out.extend((r.partition, r.offset, r.key, r.value) for r in records)
    return out


def test_versions():
    assert kafka.__version__ == "3.0.12"


def test_admin_create_list_delete(rill, topic_name):
    a = admin(rill)
    try:
        a.create_topics([NewTopic(topic_name, num_partitions=PARTITIONS, replication_factor=1)], timeout_ms=TIMEOUT_MS)
        with pytest.raises(TopicAlreadyExistsError):
            a.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1)], timeout_ms=TIMEOUT_MS)
        assert topic_name in a.list_topics()
        (described,) = a.describe_topics([topic_name])
        assert described["error_code"] == 0
        assert len(described["partitions"]) == PARTITIONS
        a.delete_topics([topic_name], timeout_ms=TIMEOUT_MS)
        assert topic_name not in a.list_topics()
        with pytest.raises(UnknownTopicOrPartitionError):
            a.delete_topics([topic_name], timeout_ms=TIMEOUT_MS)
    finally:
        a.close()


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
@pytest.mark.parametrize("conf", [{}, {"acks": 1}], ids=["default_idempotent_acks_all", "acks_1"])
def test_produce_consume_from_beginning(rill, topic_name, conf, keyed):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", "InitProducerId")
    create_topic(rill, topic_name, PARTITIONS)
    msgs = kwire.messages(N, keyed)
    sent, offsets, p = produce(rill, topic_name, msgs, **conf)
    # The default producer really is idempotent (it got a producer id from the broker).
    if not conf:
        assert p.config["enable_idempotence"] and p.config["acks"] == -1
        assert p._transaction_manager.producer_id_and_epoch.producer_id >= 0
    else:
        assert not p.config["enable_idempotence"]
    c = consumer(rill)
    try:
        c.assign([TopicPartition(topic_name, p) for p in range(PARTITIONS)])
        c.seek_to_beginning()
        received = poll(c, N)
    finally:
        c.close()
    kwire.check_delivery(sent, received, PARTITIONS, keyed)
    assert {v: o for _, o, _, v in received} == offsets


def test_consume_from_latest(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", "InitProducerId")
    create_topic(rill, topic_name, PARTITIONS)
    before, _, _ = produce(rill, topic_name, kwire.messages(90, keyed=True, prefix="before"))
    tps = [TopicPartition(topic_name, p) for p in range(PARTITIONS)]
    c = consumer(rill)
    try:
        c.assign(tps)
        c.seek_to_end()
        ends = {tp.partition: c.position(tp, timeout_ms=TIMEOUT_MS) for tp in tps}  # resolves ListOffsets -1
        assert ends == {p: sum(1 for q, _, _ in before if q == p) for p in range(PARTITIONS)}
        sent, _, _ = produce(rill, topic_name, kwire.messages(90, keyed=True, prefix="after"))
        received = poll(c, len(sent))
    finally:
        c.close()
    kwire.check_delivery(sent, received, PARTITIONS, keyed=True)


def test_offsets_for_times_and_beginning_end(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", ("ListOffsets", 1), "InitProducerId")
    create_topic(rill, topic_name, 1)
    base = int(time.time() * 1000) - 60_000
    msgs = kwire.messages(10, keyed=False)
    for i, msg in enumerate(msgs):  # one batch per message
        produce(rill, topic_name, [msg], timestamps=[base + 1000 * i])
    tp = TopicPartition(topic_name, 0)
    c = consumer(rill)
    try:
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 10}
        for ts, want in {base - 5: 0, base + 3500: 4, base + 9000: 9}.items():
            found = c.offsets_for_times({tp: ts})[tp]
            assert found is not None and found.offset == want, (ts - base, found)
            assert found.timestamp == base + 1000 * want
        assert c.offsets_for_times({tp: base + 9001})[tp] is None
    finally:
        c.close()


def group_member(rill, topic, group):
    return KafkaConsumer(
        topic,
        bootstrap_servers=rill.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=TIMEOUT_MS + 5000,
    )


def test_group_consumer_commits_and_the_next_member_resumes(rill, topic_name):
    """subscribe() with a group_id: FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED first),
    SyncGroup with the range assignment of its leader, Heartbeat, OffsetCommit/OffsetFetch and
    LeaveGroup on close. A second member of the group resumes at the commit, after a restart."""
    create_topic(rill, topic_name, PARTITIONS)
    produce(rill, topic_name, [(f"k{i % 7}".encode(), f"v{i}".encode()) for i in range(90)])
    group = f"{topic_name}-group"
    c = group_member(rill, topic_name, group)
    got = poll(c, 90)
    assert sorted(v for _, _, _, v in got) == sorted(f"v{i}".encode() for i in range(90))
    assert len({(p, o) for p, o, _, _ in got}) == 90
    assert {tp.partition for tp in c.assignment()} == set(range(PARTITIONS))
    c.commit()
    ends = c.end_offsets([TopicPartition(topic_name, p) for p in range(PARTITIONS)])
    assert {tp: c.committed(tp) for tp in ends} == ends
    c.close()

    rill.restart()
    produce(rill, topic_name, [(b"k", f"new{i}".encode()) for i in range(6)])
    c = group_member(rill, topic_name, group)
    got = poll(c, 6)
    assert sorted(v for _, _, _, v in got) == sorted(f"new{i}".encode() for i in range(6))
    c.close()
