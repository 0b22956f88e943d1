"""confluent-kafka (librdkafka) helpers shared by the client, restart, kcat and wire tests:
admin create/delete, a producer that records what was acknowledged, and an assign()-based
consumer (no consumer group APIs are needed: `group.id` is set because librdkafka requires it,
but nothing is committed and no offsets are fetched)."""

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kwire

ADMIN_TIMEOUT_S = 15.0
FLUSH_TIMEOUT_S = 30.0
CONSUME_TIMEOUT_S = 30.0
# After the expected count arrived, keep polling this long to catch duplicates.
SETTLE_S = 0.5


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_topic(bootstrap, name, partitions, config=None):
    client = admin(bootstrap)  # kept alive until the future resolves
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    futures[name].result(timeout=ADMIN_TIMEOUT_S)


def delete_topic(bootstrap, name):
    client = admin(bootstrap)  # kept alive until the future resolves
    futures = client.delete_topics([name], operation_timeout=10, request_timeout=ADMIN_TIMEOUT_S)
    futures[name].result(timeout=ADMIN_TIMEOUT_S)


def topic_partitions(bootstrap, name):
    """Partition count from Metadata, or None when the topic is absent."""
    md = admin(bootstrap).list_topics(timeout=ADMIN_TIMEOUT_S)
    t = md.topics.get(name)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def producer(bootstrap, acks, idempotence=False, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": str(acks),
        "enable.idempotence": idempotence,
        # Java's partitioner, so keyed placement can be checked against murmur2.
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "message.timeout.ms": 20000,
    }
    conf.update(extra or {})
    return Producer(conf)


def produce(bootstrap, topic, msgs, acks, idempotence=False, timestamps=None, partition=None, extra=None):
    """Produces (key, value) pairs; returns (sent, offsets, errors): `sent` = (partition, key,
    value) of the acknowledged ones in send order, `offsets` = value -> acknowledged offset."""
    p = producer(bootstrap, acks, idempotence, extra)
    acked = {}
    errors = []

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            errors.append(err)

    for i, (key, value) in enumerate(msgs):
        kwargs = {"key": key, "value": value, "on_delivery": on_delivery}
        if timestamps is not None:
            kwargs["timestamp"] = timestamps[i]
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    remaining = p.flush(FLUSH_TIMEOUT_S)
    assert remaining == 0, f"{remaining} messages not delivered within {FLUSH_TIMEOUT_S}s; errors {errors[:3]}"
    sent = [(acked[v][0], k, v) for k, v in msgs if v in acked]
    offsets = {v: o for v, (_, o) in acked.items()}
    return sent, offsets, errors


def consumer(bootstrap, extra=None):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "rill-conformance",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "check.crcs": True,
    }
    conf.update(extra or {})
    return Consumer(conf)


def poll_messages(c, n, timeout_s=CONSUME_TIMEOUT_S, settle_s=SETTLE_S):
    """Polls until `n` messages arrived (then `settle_s` more for duplicates) or the deadline.
    Returns (partition, offset, key, value) tuples; raises on a consumer error."""
    out = []
    collect = kwire.Collect(n, timeout_s, settle_s)
    while collect.more(len(out)):
        msg = c.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        out.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
    return out


def consume(bootstrap, topic, partitions, n, start=OFFSET_BEGINNING, timeout_s=CONSUME_TIMEOUT_S):
    """Assigns every partition at `start` and reads `n` messages (and any extra that come)."""
    c = consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, p, start) for p in range(partitions)])
        return poll_messages(c, n, timeout_s)
    finally:
        c.close()


def confluent_kafka_version():
    """'2.16.1 (librdkafka 2.16.0)'."""
    import confluent_kafka

    return f"{confluent_kafka.version()} (librdkafka {confluent_kafka.libversion()[0]})"
