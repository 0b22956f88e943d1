"""Settings and ids a careless or hostile client can send (issue: careless and hostile clients).

* Topic settings Rill would silently not honour are refused with INVALID_CONFIG (40):
  a `cleanup.policy` that is neither `delete` nor `compact`, `compression.type` other than `producer` (batches are never recompressed), out-of-range
  `min.insync.replicas`, `segment.ms` under a minute. `min.insync.replicas=2` on a one-replica
  topic is honoured like Kafka: acks=all gets NOT_ENOUGH_REPLICAS (19), acks=1 works.
* Transactional ids sent to InitProducerId are bounded: 100,000 ids of 1 KB used to hold
  106 MB forever. The transaction coordinator holds at most 16 MiB of id names (and 100,000
  ids); past it a new id is refused with COORDINATOR_NOT_AVAILABLE (retriable) while known ids
  carry on.

After each attack: the broker is alive, a bystander round trip works, and a restart on the same
data succeeds."""

import struct
import time

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

import ck
import kwire
from kwire import Conn

INVALID_CONFIG = 40
NOT_ENOUGH_REPLICAS = 19


def bystander_round_trip(rill, topic, value):
    """acks=all produce of one message and its read back, within the client timeouts."""
    started = time.monotonic()
    _, offsets, errors = ck.produce(rill.bootstrap, topic, [(None, value)], "all")
    assert errors == []
    got = ck.consume(rill.bootstrap, topic, 1, 1, start=offsets[value])
    assert value in [v for _, _, _, v in got]
    assert time.monotonic() - started < 20


def create_error(rill, name, config):
    client = ck.admin(rill.bootstrap)  # kept alive until the future resolves
    futures = client.create_topics([NewTopic(name, 1, 1, config=config)])
    try:
        futures[name].result(15)
        return None
    except KafkaException as e:
        return e.args[0]


@pytest.mark.parametrize(
    "config",
    [
        {"cleanup.policy": "shred"},
        {"compression.type": "gzip"},
        {"compression.type": "garbage"},
        {"min.insync.replicas": "-5"},
        {"segment.ms": "1"},
    ],
    ids=lambda c: "=".join(next(iter(c.items()))),
)
def test_settings_that_would_not_be_honoured_are_refused(rill, topic_name, config):
    err = create_error(rill, topic_name, config)
    assert err is not None and err.code() == KafkaError.INVALID_CONFIG, err
    key = next(iter(config))
    assert key in err.str(), err.str()
    assert ck.topic_partitions(rill.bootstrap, topic_name) is None, "the topic was created anyway"
    # Altering an existing topic to the same value is refused too, and changes nothing.
    ck.create_topic(rill.bootstrap, topic_name, 1)
    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic_name,
        incremental_configs=[ConfigEntry(key, config[key], incremental_operation=AlterConfigOpType.SET)],
    )
    client = ck.admin(rill.bootstrap)
    with pytest.raises(KafkaException) as refused:
        client.incremental_alter_configs([resource])[resource].result(15)
    assert refused.value.args[0].code() == KafkaError.INVALID_CONFIG
    bystander_round_trip(rill, topic_name, b"after-refusal")
    rill.restart()
    bystander_round_trip(rill, topic_name, b"after-restart")


def test_min_insync_replicas_above_the_replicas_counts_as_the_replication_factor(rill, topic_name):
    """Kafka's effective min ISR (3.7 on): min.insync.replicas counts at most the replication
    factor, so a topic with one replica takes acks=all whatever it says (refusing acks=all
    with fewer in-sync replicas than the replicas is `test_replication.py`'s)."""
    ck.create_topic(rill.bootstrap, topic_name, 1, config={"min.insync.replicas": "2"})
    _, offsets, errors = ck.produce(rill.bootstrap, topic_name, [(None, b"all")], "all",
                                    extra={"retries": 0})
    assert errors == [] and offsets[b"all"] == 0, errors
    _, offsets, errors = ck.produce(rill.bootstrap, topic_name, [(None, b"one")], 1)
    assert errors == [] and offsets[b"one"] == 1, errors


def init_producer_ids(conn, ids):
    """InitProducerId v1 for each transactional id, pipelined; returns (error, pid, epoch)s."""
    frames = []
    for i, txn in enumerate(ids):
        body = kwire._string(txn) + struct.pack(">i", 60000)
        header = struct.pack(">hhi", kwire.API_KEYS["InitProducerId"], 1, i) + kwire._string("kwire")
        frames.append(struct.pack(">i", len(header) + len(body)) + header + body)
    conn.send_raw(b"".join(frames))
    out = []
    for i in range(len(ids)):
        response = conn.read_frame()
        correlation_id, _throttle, error, pid, epoch = struct.unpack(">iihqh", response)
        assert correlation_id == i
        out.append((error, pid, epoch))
    return out


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


IDS = 100_000
ID_BYTES = 1000
COORDINATOR_NOT_AVAILABLE = 15
# The coordinator keeps at most 16 MiB of names (src/limits.rs); with the maps' own overhead
# the broker may grow by this much (it grew by 106 MB before the bound).
GROWTH_MAX_BYTES = 48 << 20


def find_transaction_coordinator(conn, txn_id, timeout_s=30.0):
    """FindCoordinator v1 for a transactional id until it answers (the first creates
    `__transaction_state`); returns the coordinator's node id."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = kwire._string(txn_id) + struct.pack(">b", 1)
        r = kwire._Reader(conn.request(kwire.API_KEYS["FindCoordinator"], 1, body))
        _throttle, error, _message, node_id = r.i32(), r.i16(), r.string(), r.i32()
        if error == 0:
            return node_id
        assert time.monotonic() < deadline, f"no transaction coordinator: error {error}"
        time.sleep(0.2)


def test_transactional_ids_are_bounded(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as conn:
        find_transaction_coordinator(conn, "first-id")
        first = init_producer_ids(conn, ["first-id"])
        assert first[0][0] == 0
        again = init_producer_ids(conn, ["first-id"])
        assert again[0][1:] == (first[0][1], first[0][2] + 1), "a known id gets its epoch bumped"
        before = rss_bytes(rill.proc.pid)
        pad = "x" * (ID_BYTES - 8)
        errors = []
        for start in range(0, IDS, 100):
            answers = init_producer_ids(conn, [f"{pad}{i:08d}" for i in range(start, start + 100)])
            errors += [error for error, _, _ in answers]
        grown = rss_bytes(rill.proc.pid) - before
        accepted = errors.count(0)
        print(f"broker grew by {grown >> 20} MiB for {IDS} transactional ids of {ID_BYTES} bytes; "
              f"{accepted} accepted")
        assert grown < GROWTH_MAX_BYTES, f"broker grew by {grown >> 20} MiB for {IDS} ids"
        assert set(errors) <= {0, COORDINATOR_NOT_AVAILABLE}, set(errors)
        # About 16 MiB of 1 KB names were taken, then every new id was refused.
        assert 15_000 < accepted < 18_000, accepted
        assert errors[:accepted] == [0] * accepted, "refused only past the bound"
        # Known ids carry on past the bound.
        third = init_producer_ids(conn, ["first-id"])
        assert third[0] == (0, first[0][1], first[0][2] + 2), third
    bystander_round_trip(rill, topic_name, b"after-ids")
    rill.restart()
    bystander_round_trip(rill, topic_name, b"after-restart")
