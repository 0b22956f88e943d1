"""confluent-kafka (librdkafka inside the wheel) against a real `rill server`: admin, produce
with acks=all / acks=1 (and the idempotent producer), assign()-based consumption from the
beginning and from the end, offsets by timestamp, watermarks."""

import time

import confluent_kafka
import pytest
from confluent_kafka import OFFSET_END, KafkaError, KafkaException, TopicPartition

import ck
import kwire

PARTITIONS = 3
N = 600


def test_versions():
    assert confluent_kafka.version() == "2.16.1"
    assert confluent_kafka.libversion()[0].startswith("2.16")


def test_admin_create_list_delete(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    assert ck.topic_partitions(rill.bootstrap, topic_name) == PARTITIONS
    with pytest.raises(KafkaException) as err:
        ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    assert err.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    md = ck.admin(rill.bootstrap).list_topics(timeout=10)
    assert [b.port for b in md.brokers.values()] == [rill.port]
    (broker_id,) = md.brokers
    assert {p.leader for p in md.topics[topic_name].partitions.values()} == {broker_id}
    ck.delete_topic(rill.bootstrap, topic_name)
    assert ck.topic_partitions(rill.bootstrap, topic_name) is None
    with pytest.raises(KafkaException) as err:
        ck.delete_topic(rill.bootstrap, topic_name)
    assert err.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
@pytest.mark.parametrize(
    "acks,idempotence", [("all", False), ("1", False), ("all", True)], ids=["acks_all", "acks_1", "idempotent"]
)
def test_produce_consume_from_beginning(rill, topic_name, acks, idempotence, keyed):
    kwire.require_apis(rill.addr, ("Produce", 7), "Fetch", "ListOffsets", *(["InitProducerId"] if idempotence else []))
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    msgs = kwire.messages(N, keyed)
    sent, offsets, errors = ck.produce(rill.bootstrap, topic_name, msgs, acks, idempotence)
    assert not errors and len(sent) == N
    received = ck.consume(rill.bootstrap, topic_name, PARTITIONS, N)
    kwire.check_delivery(sent, received, PARTITIONS, keyed)
    assert {v: o for _, o, _, v in received} == offsets, "consumed offsets differ from acknowledged ones"


def test_consume_from_latest(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    before, _, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(90, keyed=True, prefix="before"), "all")
    end_offsets = {p: sum(1 for q, _, _ in before if q == p) for p in range(PARTITIONS)}
    c = ck.consumer(rill.bootstrap)
    try:
        c.assign([TopicPartition(topic_name, p, OFFSET_END) for p in range(PARTITIONS)])
        # Let the consumer resolve OFFSET_END (ListOffsets -1) before new messages arrive.
        assert ck.poll_messages(c, 1, timeout_s=2.0) == []
        sent, _, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(90, keyed=True, prefix="after"), "all")
        received = ck.poll_messages(c, len(sent))
    finally:
        c.close()
    kwire.check_delivery(sent, received, PARTITIONS, keyed=True)
    assert all(o >= end_offsets[p] for p, o, _, _ in received)


def test_watermarks_and_offsets_for_times_one_batch_per_message(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", ("ListOffsets", 1))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    base = int(time.time() * 1000) - 60_000
    msgs = kwire.messages(10, keyed=False)
    for i, msg in enumerate(msgs):  # one produce (and batch) per message
        ck.produce(rill.bootstrap, topic_name, [msg], "all", timestamps=[base + 1000 * i])
    c = ck.consumer(rill.bootstrap)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10) == (0, 10)
        queries = {base - 5: 0, base: 0, base + 3500: 4, base + 9000: 9, base + 9001: -1}
        for ts, want in queries.items():
            (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=10)
            assert tp.error is None, tp.error
            assert tp.offset == want, f"offsets_for_times({ts - base:+d} ms) = {tp.offset}, want {want}"
        # Consume from the looked-up offset: starts at the message with that timestamp.
        (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, base + 6000)], timeout=10)
        c.assign([tp])
        got = ck.poll_messages(c, 4)
        assert [(o, v) for _, o, _, v in got] == [(6 + i, msgs[6 + i][1]) for i in range(4)]
    finally:
        c.close()


def test_offsets_for_times_inside_one_batch(rill, topic_name):
    """ListOffsets by timestamp must return the first *record* whose timestamp is >= the target
    (Kafka's FileRecords.searchForTimestamp walks the records of the first batch whose max
    timestamp is >= target), not the batch's base offset."""
    kwire.require_apis(rill.addr, "Produce", "Fetch", ("ListOffsets", 1))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    base = int(time.time() * 1000) - 60_000
    msgs = kwire.messages(10, keyed=False)
    # linger.ms=1000: all ten records go out in one batch with timestamps base+0 .. base+9000.
    ck.produce(
        rill.bootstrap, topic_name, msgs, "all", timestamps=[base + 1000 * i for i in range(10)], extra={"linger.ms": 1000}
    )
    c = ck.consumer(rill.bootstrap)
    try:
        got = {}
        for ts in [base, base + 3500, base + 9000, base + 9001]:
            (tp,) = c.offsets_for_times([TopicPartition(topic_name, 0, ts)], timeout=10)
            got[ts - base] = tp.offset
    finally:
        c.close()
    assert got == {0: 0, 3500: 4, 9000: 9, 9001: -1}


def test_assign_needs_no_group_apis(rill, topic_name):
    """group.id is mandatory for librdkafka's consumer, but assign() with explicit offsets and
    enable.auto.commit=False must work whether or not FindCoordinator/OffsetFetch exist."""
    kwire.require_apis(rill.addr, "Produce", "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    sent, _, _ = ck.produce(rill.bootstrap, topic_name, kwire.messages(20, keyed=False), "all")
    errors = []
    c = ck.consumer(rill.bootstrap, {"error_cb": errors.append})
    try:
        c.assign([TopicPartition(topic_name, 0, 5)])
        got = ck.poll_messages(c, 15)
    finally:
        c.close()
    assert [v for _, _, _, v in got] == [v for _, _, v in sent[5:]]
    assert [e for e in errors if e.fatal()] == []
