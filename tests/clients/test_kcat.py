"""kcat (Debian's 1.7.1 on librdkafka 2.0.2: an old librdkafka, with its own version choices)
against a real `rill server`. kcat has no admin API: topics come from auto-creation on
produce (the broker's num.partitions) or from confluent-kafka's AdminClient. Consumption uses
kcat's simple consumer (-C with -p / -o), which needs no group APIs."""

import json
import shutil
import subprocess
import time

import pytest

import ck
import kwire

PARTITIONS = 3
N = 600
KCAT_TIMEOUT_S = 40
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def kcat(rill, *args, stdin=None, timeout_s=KCAT_TIMEOUT_S):
    assert KCAT, "kcat is not installed (apt-get install -y kcat)"
    proc = subprocess.run(
        [KCAT, "-b", rill.bootstrap, "-m", "10", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, f"kcat {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-3000:]}"
    return proc.stdout


OUT_FORMAT = "%p\t%o\t%k\t%s\n"


def parse(output):
    """Lines of OUT_FORMAT (-Z prints a null key as NULL) -> (partition, offset, key, value)."""
    out = []
    for line in output.decode().splitlines():
        p, o, k, v = line.split("\t")
        out.append((int(p), int(o), None if k == "NULL" else k.encode(), v.encode()))
    return out


def kcat_produce(rill, topic, msgs, acks, idempotent=False):
    keyed = msgs[0][0] is not None
    lines = b"".join((k + b"\t" + v if keyed else v) + b"\n" for k, v in msgs)
    args = ["-P", "-t", topic, "-X", f"acks={acks}", "-X", "partitioner=murmur2_random", "-X", "linger.ms=5"]
    if idempotent:
        args += ["-X", "enable.idempotence=true"]
    if keyed:
        args += ["-K", "\t"]
    kcat(rill, *args, stdin=lines)


def consume_all(rill, topic, partitions):
    out = []
    for p in range(partitions):
        out += parse(kcat(rill, "-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e", "-Z", "-q", "-f", OUT_FORMAT))
    return out


def sent_from(msgs, received):
    """kcat reports no per-message acknowledgement: every message counts as sent on the
    partition it was read from (check_delivery then checks count, order and murmur2)."""
    partition_of = {v: p for p, _, _, v in received}
    return [(partition_of.get(v), k, v) for k, v in msgs]


def test_version():
    out = subprocess.run([KCAT, "-V"], capture_output=True, timeout=10).stdout.decode()
    print(out)
    assert "kcat" in out and "librdkafka" in out


def test_metadata_list(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    md = json.loads(kcat(rill, "-L", "-J"))
    assert [b["name"] for b in md["brokers"]] == [rill.bootstrap]
    (topic,) = [t for t in md["topics"] if t["topic"] == topic_name]
    assert len(topic["partitions"]) == PARTITIONS


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
@pytest.mark.parametrize(
    "acks,idempotent", [("all", False), ("1", False), ("all", True)], ids=["acks_all", "acks_1", "idempotent"]
)
def test_auto_create_produce_consume(rill_factory, topic_name, acks, idempotent, keyed):
    rill = rill_factory("--override", f"num.partitions={PARTITIONS}")
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets", *(["InitProducerId"] if idempotent else []))
    msgs = kwire.messages(N, keyed)
    kcat_produce(rill, topic_name, msgs, acks, idempotent)
    assert ck.topic_partitions(rill.bootstrap, topic_name) == PARTITIONS, "auto-created with num.partitions"
    received = consume_all(rill, topic_name, PARTITIONS)
    kwire.check_delivery(sent_from(msgs, received), received, PARTITIONS, keyed)


def test_consume_from_latest(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    kcat_produce(rill, topic_name, kwire.messages(50, keyed=False, prefix="before"), "all")
    after = kwire.messages(40, keyed=False, prefix="after")
    tail = subprocess.Popen(
        [KCAT, "-b", rill.bootstrap, "-C", "-t", topic_name, "-p", "0", "-o", "end", "-c", str(len(after)), "-Z", "-q"]
        + ["-f", OUT_FORMAT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(2.0)  # lets kcat resolve the end offset before the new messages arrive
        kcat_produce(rill, topic_name, after, "all")
        out, err = tail.communicate(timeout=KCAT_TIMEOUT_S)
    finally:
        tail.kill()
        tail.wait()
    assert tail.returncode == 0, err.decode()
    received = parse(out)
    assert [(o, v) for _, o, _, v in received] == [(50 + i, v) for i, (_, v) in enumerate(after)]


def test_offsets_for_times(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", ("ListOffsets", 1))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    base = int(time.time() * 1000) - 60_000
    msgs = kwire.messages(10, keyed=False)
    for i, msg in enumerate(msgs):  # one batch per message, with its own timestamp
        ck.produce(rill.bootstrap, topic_name, [msg], "all", timestamps=[base + 1000 * i])
    query = kcat(rill, "-Q", "-t", f"{topic_name}:0:{base + 3500}").decode()
    assert "offset 4" in query, query
    got = parse(kcat(rill, "-C", "-t", topic_name, "-p", "0", "-o", f"s@{base + 6000}", "-e", "-Z", "-q", "-f", OUT_FORMAT))
    assert [(o, v) for _, o, _, v in got] == [(6 + i, msgs[6 + i][1]) for i in range(4)]


def test_delete_topic_seen_by_kcat(rill_factory, topic_name):
    rill = rill_factory("--override", "auto.create.topics.enable=false")
    ck.create_topic(rill.bootstrap, topic_name, 2)
    assert topic_name in [t["topic"] for t in json.loads(kcat(rill, "-L", "-J"))["topics"]]
    ck.delete_topic(rill.bootstrap, topic_name)
    assert topic_name not in [t["topic"] for t in json.loads(kcat(rill, "-L", "-J"))["topics"]]
