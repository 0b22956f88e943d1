"""Log compaction seen from confluent-kafka: a `cleanup.policy=compact` topic on a broker with
1 KiB segments and a 200 ms cleaner backoff shrinks many updates per key to the latest value
per key, drops tombstoned keys after `delete.retention.ms`, never serves an older value after
a newer one for a key, refuses keyless records (in compressed batches too), keeps the latest values across a kill -9
taken while it cleans, and compacts compressed batches of every codec."""

import time

import pytest

from confluent_kafka import KafkaError, KafkaException, TopicPartition

import ck

KEYS = 20
ROUNDS = 30
CLEANER = (
    "--override", "log.segment.bytes=1024",
    "--override", "log.cleaner.backoff.ms=200",
)
# Small batches, so the 1 KiB segments roll (a batch is never split across segments).
SMALL_BATCHES = {"batch.num.messages": 5}
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "1000",
}


def key(i):
    return f"key-{i:02}".encode()


def updates(first_round, rounds):
    return [(key(i), f"{i:02}:{r:04}".encode()) for r in range(first_round, first_round + rounds) for i in range(KEYS)]


def read_all(bootstrap, topic):
    """Every record from the log start, until nothing more comes: (offset, key, value)."""
    c = ck.consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        return [(o, k, v) for _, o, k, v in ck.poll_messages(c, 10**9, timeout_s=4, settle_s=0)]
    finally:
        c.close()


def check_never_older(records):
    """Per key, in offset order, values only go forward (tombstones are None)."""
    latest = {}
    for offset, k, v in sorted(records):
        if v is None:
            latest[k] = None
            continue
        prev = latest.get(k)
        assert prev is None or prev < v, f"{k} went from {prev} to {v} at {offset}"
        latest[k] = v
    return latest


def wait_until(predicate, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError("not reached in time")


def produce_tombstones(bootstrap, topic, keys):
    p = ck.producer(bootstrap, "all")
    for k in keys:
        p.produce(topic, key=k, value=None)
    assert p.flush(20) == 0


def test_updates_shrink_to_the_latest_value_and_tombstones_go(rill_factory, topic_name):
    rill = rill_factory(*CLEANER)
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    _, _, errors = ck.produce(rill.bootstrap, topic_name, updates(0, ROUNDS), "all", extra=SMALL_BATCHES)
    assert not errors
    produced = KEYS * ROUNDS

    def compacted():
        records = read_all(rill.bootstrap, topic_name)
        check_never_older(records)
        return records if len(records) < produced // 2 else None

    records = wait_until(compacted)
    latest = check_never_older(records)
    assert latest == {key(i): f"{i:02}:{ROUNDS - 1:04}".encode() for i in range(KEYS)}

    # Tombstones for five keys; once delete.retention.ms passed, more updates make the log
    # dirty again and the next clean drops the tombstoned keys entirely.
    gone = [key(i) for i in range(5)]
    produce_tombstones(rill.bootstrap, topic_name, gone)
    time.sleep(1.5)

    def tombstones_dropped():
        # Enough updates to roll the 1 KiB active segment: the cleaner never touches it.
        now_ms = int(time.time() * 1000)
        fresh = [(key(10), f"10:{now_ms}:{j:02}".encode()) for j in range(20)]
        ck.produce(rill.bootstrap, topic_name, fresh, "all", extra=SMALL_BATCHES)
        records = read_all(rill.bootstrap, topic_name)
        check_never_older(records)
        return records if not any(k in gone for _, k, _ in records) else None

    records = wait_until(tombstones_dropped)
    latest = check_never_older(records)
    for i in range(5, KEYS):
        assert latest[key(i)] is not None


def test_a_keyless_record_is_refused_with_invalid_record(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    p = ck.producer(rill.bootstrap, "all", extra={"message.timeout.ms": 5000})
    errors = []
    p.produce(topic_name, value=b"no key", on_delivery=lambda err, _: errors.append(err))
    p.flush(10)
    assert errors and errors[0] is not None and errors[0].code() == KafkaError.INVALID_RECORD, errors


def test_every_keyless_record_of_a_batch_is_named(rill, topic_name):
    """Kafka names each keyless record of a refused batch in `record_errors`; librdkafka then
    fails exactly those with INVALID_RECORD and the batch's other records with
    _INVALID_DIFFERENT_RECORD (librdkafka's own test 0011 checks this)."""
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    p = ck.producer(rill.bootstrap, "all", extra={"message.timeout.ms": 10000, "linger.ms": 2000})
    p.list_topics(topic_name, timeout=10)  # one batch: see the compressed test below
    results = {}
    for i in range(10):
        on_delivery = lambda err, _, i=i: results.__setitem__(i, err)  # noqa: E731
        k = None if i in (0, 4, 7) else b"k%d" % i
        p.produce(topic_name, key=k, value=b"v", partition=0, on_delivery=on_delivery)
    p.flush(10)
    codes = {i: err.code() if err else None for i, err in sorted(results.items())}
    assert codes == {
        i: KafkaError.INVALID_RECORD if i in (0, 4, 7) else KafkaError._INVALID_DIFFERENT_RECORD
        for i in range(10)
    }, codes


@pytest.mark.parametrize("codec", ["lz4", "gzip", "snappy", "zstd"])
def test_a_keyless_record_in_a_compressed_batch_is_refused(rill, topic_name, codec):
    """Kafka checks every record of a compressed batch for a key too: a keyless one among keyed
    ones fails the whole batch with INVALID_RECORD, and nothing of it is stored; a batch whose
    records all have keys is taken."""
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    extra = {"compression.type": codec, "message.timeout.ms": 10000, "linger.ms": 2000}
    p = ck.producer(rill.bootstrap, "all", extra=extra)
    # Connection and metadata first: a record produced before the producer knows the leader can
    # wait past linger.ms for the connection (a loaded machine) and go out alone, splitting the
    # three records below into two batches (seen once in CI).
    p.list_topics(topic_name, timeout=10)
    results = []
    on_delivery = lambda err, msg: results.append((err, msg.key()))  # noqa: E731
    # One batch (linger, a warm connection): keyed, keyless, keyed.
    for k in [b"k1", None, b"k2"]:
        p.produce(topic_name, key=k, value=b"v" * 100, partition=0, on_delivery=on_delivery)
    p.flush(10)
    assert len(results) == 3, results
    assert all(err is not None and err.code() == KafkaError.INVALID_RECORD for err, _ in results), results
    _, high = ck.consumer(rill.bootstrap).get_watermark_offsets(TopicPartition(topic_name, 0), timeout=10)
    assert high == 0, "nothing of the refused batch is stored"

    _, _, errors = ck.produce(rill.bootstrap, topic_name, [(b"k1", b"a"), (b"k2", b"b")], "all", extra=extra)
    assert not errors, errors
    records = read_all(rill.bootstrap, topic_name)
    assert [(k, v) for _, k, v in records] == [(b"k1", b"a"), (b"k2", b"b")]


def test_kill9_while_cleaning_keeps_the_latest_values(rill_factory, topic_name):
    rill = rill_factory(*CLEANER)
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    for batch in range(3):
        _, _, errors = ck.produce(rill.bootstrap, topic_name, updates(batch * 10, 10), "all", extra=SMALL_BATCHES)
        assert not errors
        time.sleep(0.1 * batch)  # kill at different points of the cleaner's cycle
        rill.kill9()
        rill.start()
    records = read_all(rill.bootstrap, topic_name)
    latest = check_never_older(records)
    assert latest == {key(i): f"{i:02}:{29:04}".encode() for i in range(KEYS)}


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_batches_are_compacted_and_recompressed(rill_factory, topic_name, codec):
    """librdkafka's compressed batches shrink to the latest value per key: the cleaner looks
    into them and writes what it keeps compressed again with the batch's codec, which
    librdkafka (and, for gzip, kafka-python) then reads."""
    rill = rill_factory(*CLEANER)
    ck.create_topic(rill.bootstrap, topic_name, 1, TOPIC_CONFIG)
    extra = dict(SMALL_BATCHES, **{"compression.type": codec})
    _, _, errors = ck.produce(rill.bootstrap, topic_name, updates(0, ROUNDS), "all", extra=extra)
    assert not errors
    produced = KEYS * ROUNDS
    want = {key(i): f"{i:02}:{ROUNDS - 1:04}".encode() for i in range(KEYS)}

    def compacted():
        records = read_all(rill.bootstrap, topic_name)
        check_never_older(records)
        return records if len(records) < produced // 2 else None

    latest = check_never_older(wait_until(compacted))
    assert latest == want
    if codec == "gzip":
        from kafka import KafkaConsumer

        c = KafkaConsumer(
            topic_name,
            bootstrap_servers=rill.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
        )
        try:
            seen = [(m.offset, m.key, m.value) for m in c]
        finally:
            c.close()
        assert check_never_older(seen) == want
