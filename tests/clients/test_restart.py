"""Crash safety seen from real clients: `kill -9` between produce and consume, and `kill -9`
in the middle of an acks=all produce stream (confluent-kafka, delivery callbacks record what
the broker acknowledged): after the restart every acknowledged message is still there, at the
offset it was acknowledged with."""

import asyncio
import time
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

import ck
import kwire

PARTITIONS = 3


@pytest.mark.parametrize(
    "acks,idempotence", [("all", False), ("1", False), ("all", True)], ids=["acks_all", "acks_1", "idempotent"]
)
def test_kill9_between_produce_and_consume(rill, topic_name, acks, idempotence):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", *(["InitProducerId"] if idempotence else []))
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    first = kwire.messages(500, keyed=True, prefix="first")
    sent, offsets, errors = ck.produce(rill.bootstrap, topic_name, first, acks, idempotence)
    assert not errors and len(sent) == len(first)

    rill.restart()
    assert ck.topic_partitions(rill.bootstrap, topic_name) == PARTITIONS
    received = ck.consume(rill.bootstrap, topic_name, PARTITIONS, len(first))
    kwire.check_delivery(sent, received, PARTITIONS, keyed=True)
    assert {v: o for _, o, _, v in received} == offsets

    # The recovered logs take new appends after the old ones (a new producer, new ids).
    second = kwire.messages(300, keyed=True, prefix="second")
    sent2, offsets2, _ = ck.produce(rill.bootstrap, topic_name, second, acks, idempotence)
    received = ck.consume(rill.bootstrap, topic_name, PARTITIONS, len(first) + len(second))
    kwire.check_delivery(sent + sent2, received, PARTITIONS, keyed=True)
    assert {v: o for _, o, _, v in received} == {**offsets, **offsets2}


def test_kill9_cross_client_kafka_python_then_aiokafka(rill, topic_name):
    """Produced by kafka-python's default (idempotent) producer, read back after kill -9 by
    aiokafka, which checks every batch CRC."""
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", "InitProducerId")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    msgs = kwire.messages(400, keyed=True)
    p = KafkaProducer(bootstrap_servers=rill.bootstrap, request_timeout_ms=15000)
    try:
        futures = [(k, v, p.send(topic_name, key=k, value=v)) for k, v in msgs]
        p.flush(timeout=30)
        sent = [(f.get(timeout=30).partition, k, v) for k, v, f in futures]
    finally:
        p.close(timeout=10)
    rill.restart()

    async def read():
        c = AIOKafkaConsumer(
            bootstrap_servers=rill.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await c.start()
        out = []
        try:
            c.assign([TopicPartition(topic_name, p) for p in range(PARTITIONS)])
            deadline = time.monotonic() + 30
            while len(out) < len(msgs) and time.monotonic() < deadline:
                for _, records in (await c.getmany(timeout_ms=200)).items():
                    out.extend((r.partition, r.offset, r.key, r.value) for r in records)
        finally:
            await c.stop()
        return out

    received = asyncio.run(asyncio.wait_for(read(), 60))
    kwire.check_delivery(sent, received, PARTITIONS, keyed=True)


@pytest.mark.parametrize("idempotence", [False, True], ids=["plain", "idempotent"])
def test_kill9_during_acks_all_stream(rill, topic_name, idempotence):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", *(["InitProducerId"] if idempotence else []))
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    p = ck.producer(
        rill.bootstrap,
        "all",
        idempotence,
        {
            "message.timeout.ms": 60000,
            "linger.ms": 2,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 200,
            "retry.backoff.ms": 50,
        },
    )
    acked = {}  # value -> (partition, offset)
    errors = []

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            errors.append(err)

    produced = []
    killed_at = None
    acked_before_kill = None
    restarted = False
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if killed_at is None and len(acked) >= 3000:
            rill.kill9()
            killed_at = time.monotonic()
            acked_before_kill = len(acked)
        if killed_at is not None and not restarted and time.monotonic() - killed_at > 0.5:
            rill.start()
            restarted = True
        if restarted and len(produced) >= 9000:
            break
        for _ in range(100):
            i = len(produced)
            key = f"key-{i % 7}".encode()
            value = f"stream-{i:06d}".encode()
            try:
                p.produce(topic_name, key=key, value=value, on_delivery=on_delivery)
            except BufferError:
                break
            produced.append((key, value))
        p.poll(0.005)
    assert restarted, f"only {len(acked)} messages acknowledged in time; errors {errors[:3]}"
    remaining = p.flush(45)
    print(f"acknowledged before the kill: {acked_before_kill}; produced in all: {len(produced)}")
    assert acked_before_kill and acked_before_kill < len(produced)
    assert remaining == 0 and not errors, f"{remaining} undelivered, errors {errors[:5]}"

    received = ck.consume(rill.bootstrap, topic_name, PARTITIONS, len(acked), timeout_s=45)
    at = {(pt, o): v for pt, o, _, v in received}
    lost = [(v, po) for v, po in acked.items() if at.get(po) != v]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged messages not at their offset, e.g. {lost[:5]}"
    if idempotence:
        # No duplicates and the send order per partition: exactly-once per partition.
        sent = [(acked[v][0], k, v) for k, v in produced]
        kwire.check_delivery(sent, received, PARTITIONS, keyed=True)
    else:
        # Retries of a batch whose answer was lost may duplicate it, but never lose or reorder
        # what was acknowledged: per partition, acknowledged offsets follow the send order.
        by_partition = defaultdict(list)
        for k, v in produced:
            by_partition[acked[v][0]].append(acked[v][1])
        for pt, offsets in by_partition.items():
            assert offsets == sorted(offsets), f"partition {pt}: acknowledged offsets out of send order"
