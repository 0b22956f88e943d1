"""Record features that a pass-through broker must keep intact, seen by real clients:
compressed batches (every codec), headers, null keys and values (tombstones), records larger
than the consumer's per-partition fetch size (KIP-74), producer timestamps on CreateTime
topics and the broker's on LogAppendTime topics, both isolation levels, and produce errors for partitions that do not exist."""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTP

import ck
import kwire
from kwire import Conn


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_confluent_compressed_batches(rill, topic_name, codec):
    kwire.require_apis(rill.addr, ("Produce", 7), ("Fetch", 10))
    ck.create_topic(rill.bootstrap, topic_name, 2)
    msgs = kwire.messages(500, keyed=True)
    sent, offsets, _ = ck.produce(rill.bootstrap, topic_name, msgs, "all", extra={"compression.type": codec})
    received = ck.consume(rill.bootstrap, topic_name, 2, len(msgs))
    kwire.check_delivery(sent, received, 2, keyed=True)
    assert {v: o for _, o, _, v in received} == offsets


def test_kafka_python_reads_confluent_gzip_and_writes_gzip(rill, topic_name):
    """Compressed batches cross clients: kafka-python (which checks CRCs) reads librdkafka's
    gzip batches and its own."""
    kwire.require_apis(rill.addr, "Produce", "Fetch", "InitProducerId")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    first = kwire.messages(100, keyed=False, prefix="rdkafka")
    ck.produce(rill.bootstrap, topic_name, first, "all", extra={"compression.type": "gzip"})
    p = KafkaProducer(bootstrap_servers=rill.bootstrap, compression_type="gzip", request_timeout_ms=15000)
    second = kwire.messages(100, keyed=False, prefix="kafka-python")
    try:
        for _, v in second:
            p.send(topic_name, value=v)
        p.flush(timeout=30)
    finally:
        p.close(timeout=10)
    c = KafkaConsumer(bootstrap_servers=rill.bootstrap, group_id=None, enable_auto_commit=False, check_crcs=True)
    try:
        c.assign([KpTP(topic_name, 0)])
        c.seek_to_beginning()
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 200 and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=200).values():
                got.extend((r.offset, r.value) for r in records)
    finally:
        c.close()
    assert got == list(enumerate(v for _, v in first + second))


def test_headers_null_keys_and_tombstones(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    p = ck.producer(rill.bootstrap, "all")
    p.produce(topic_name, key=b"k1", value=b"v1", headers=[("h1", b"x"), ("h2", None), ("h1", b"again")])
    p.produce(topic_name, key=b"k1", value=None)  # tombstone
    p.produce(topic_name, key=None, value=b"")  # empty, not null
    p.produce(topic_name, key=b"", value=b"v4")
    assert p.flush(30) == 0
    c = ck.consumer(rill.bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 4 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append((m.key(), m.value(), m.headers()))
    finally:
        c.close()
    assert got == [
        (b"k1", b"v1", [("h1", b"x"), ("h2", None), ("h1", b"again")]),
        (b"k1", None, None),
        (None, b"", None),
        (b"", b"v4", None),
    ]


def test_record_larger_than_partition_fetch_size(rill, topic_name):
    """KIP-74: the first batch of a fetch is returned whole even when it is larger than
    max.partition.fetch.bytes / fetch.max.bytes, or the consumer would be stuck."""
    kwire.require_apis(rill.addr, "Produce", ("Fetch", 4))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    big = [(None, bytes([i]) * 600_000) for i in range(3)]
    ck.produce(rill.bootstrap, topic_name, big, "all", extra={"linger.ms": 0, "batch.size": 700_000})
    c = ck.consumer(
        rill.bootstrap, {"max.partition.fetch.bytes": 10_000, "fetch.max.bytes": 20_000, "message.max.bytes": 20_000}
    )
    try:
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        got = ck.poll_messages(c, 3)
    finally:
        c.close()
    assert [(o, v) for _, o, _, v in got] == [(i, v) for i, (_, v) in enumerate(big)]


def test_create_time_topic_keeps_producer_timestamps(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    old = int(time.time() * 1000) - 3_600_000
    ck.produce(rill.bootstrap, topic_name, kwire.messages(3, keyed=False), "all", timestamps=[old, old + 1, old + 2])
    c = ck.consumer(rill.bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.timestamp())
    finally:
        c.close()
    assert got == [(TIMESTAMP_CREATE_TIME, old + i) for i in range(3)]


def test_log_append_time_topic(rill, topic_name):
    """With message.timestamp.type=LogAppendTime the broker stamps every record with its own
    time; consumers see TIMESTAMP_LOG_APPEND_TIME and that time, not the producer's."""
    kwire.require_apis(rill.addr, "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1, config={"message.timestamp.type": "LogAppendTime"})
    old = int(time.time() * 1000) - 3_600_000
    before = int(time.time() * 1000)
    ck.produce(rill.bootstrap, topic_name, kwire.messages(5, keyed=False), "all", timestamps=[old] * 5)
    after = int(time.time() * 1000)
    c = ck.consumer(rill.bootstrap)
    try:
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.timestamp())
    finally:
        c.close()
    assert len(got) == 5
    for kind, ts in got:
        assert kind == TIMESTAMP_LOG_APPEND_TIME, (kind, ts)
        assert before - 1000 <= ts <= after + 1000, (ts - before, after - before)


@pytest.mark.parametrize("isolation", ["read_committed", "read_uncommitted"])
def test_isolation_levels_see_everything_without_transactions(rill, topic_name, isolation):
    kwire.require_apis(rill.addr, "Produce", ("Fetch", 4))
    ck.create_topic(rill.bootstrap, topic_name, 2)
    sent, _, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(200, keyed=True), "1")
    c = ck.consumer(rill.bootstrap, {"isolation.level": isolation})
    try:
        c.assign([TopicPartition(topic_name, p, OFFSET_BEGINNING) for p in range(2)])
        received = ck.poll_messages(c, len(sent))
        # The high watermark (and LSO) is visible right after acks=1 returns.
        for p in range(2):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic_name, p), timeout=10)
            assert (lo, hi) == (0, sum(1 for q, _, _ in sent if q == p))
    finally:
        c.close()
    kwire.check_delivery(sent, received, 2, keyed=True)


def test_produce_to_missing_partition_and_topic(rill, topic_name):
    kwire.require_apis(rill.addr, ("Produce", 3))
    ck.create_topic(rill.bootstrap, topic_name, 2)
    batch = kwire.record_batch([(None, b"x")])
    with Conn(rill.addr) as c:
        assert c.produce_v3(topic_name, 5, batch)[0] == 3, "UNKNOWN_TOPIC_OR_PARTITION"
        assert c.produce_v3(topic_name + "-absent", 0, batch)[0] == 3, "UNKNOWN_TOPIC_OR_PARTITION"
        assert c.produce_v3(topic_name, 1, batch) == (0, 0)


def test_recreated_topic_starts_empty(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "DeleteTopics")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    ck.produce(rill.bootstrap, topic_name, kwire.messages(10, keyed=False, prefix="old"), "all")
    ck.delete_topic(rill.bootstrap, topic_name)
    ck.create_topic(rill.bootstrap, topic_name, 1)
    sent, offsets, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(3, keyed=False, prefix="new"), "all")
    assert sorted(offsets.values()) == [0, 1, 2]
    got = ck.consume(rill.bootstrap, topic_name, 1, 3)
    assert [v for _, _, _, v in got] == [v for _, _, v in sent]


def test_long_poll_fetch_wakes_on_append(rill, topic_name):
    """A consumer waiting at the end (fetch.wait.max.ms=2000) gets a new message as soon as it
    is appended, not when its fetch times out."""
    kwire.require_apis(rill.addr, "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    p = ck.producer(rill.bootstrap, "1", extra={"linger.ms": 0})
    c = ck.consumer(rill.bootstrap, {"fetch.wait.max.ms": 2000})
    latencies = []
    try:
        c.assign([TopicPartition(topic_name, 0, OFFSET_BEGINNING)])
        assert ck.poll_messages(c, 1, timeout_s=1.5) == []  # now parked in a long poll
        for i in range(8):
            time.sleep(0.3)
            start = time.monotonic()
            p.produce(topic_name, value=f"ping-{i}".encode())
            p.flush(10)
            m = None
            while m is None and time.monotonic() - start < 10:
                m = c.poll(0.01)
            assert m is not None and not m.error() and m.value() == f"ping-{i}".encode()
            latencies.append(time.monotonic() - start)
    finally:
        c.close()
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.5, f"median produce-to-consume {latencies} s"
