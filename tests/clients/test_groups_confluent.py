"""Consumer groups with confluent-kafka (librdkafka): one `subscribe()` consumer is assigned
every partition through FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED first, as librdkafka
sends v5), SyncGroup and Heartbeat, commits, and its group resumes from the commit, in a
second consumer and after a `kill -9` of the broker. A commit acknowledged while the broker is
being killed is never lost.
"""

import logging
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

import ck
import kwire

GROUP_APIS = ("FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "LeaveGroup", "OffsetCommit", "OffsetFetch")
PARTITIONS = 3
# How long a consumer may take to be assigned its partitions (coordinator creation, join, sync).
ASSIGN_TIMEOUT_S = 30.0
COMMITTED_TIMEOUT_S = 30.0
# close() sends LeaveGroup and must be answered promptly.
CLOSE_WITHIN_S = 2.0


class Logs(logging.Handler):
    """Keeps librdkafka's log lines (delivered through the consumer's `logger`)."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class GroupConsumer:
    """A `subscribe()` consumer that records its assignments, errors and debug log."""

    def __init__(self, bootstrap, group, topic, extra=None):
        self.assigned = []
        self.errors = []
        self.logs = Logs()
        logger = logging.getLogger(f"rdkafka-{group}-{id(self)}")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self.logs)
        conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "debug": "cgrp,protocol",
            "error_cb": self.errors.append,
        }
        conf.update(extra or {})
        if not conf["debug"]:
            del conf["debug"]  # librdkafka refuses an empty value; "" here means no debug log
        self.c = Consumer(conf, logger=logger)
        self.c.subscribe([topic], on_assign=self._on_assign)
        self.topic = topic

    def _on_assign(self, consumer, partitions):
        self.assigned.append(sorted(p.partition for p in partitions))

    def wait_assigned(self, timeout_s=ASSIGN_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while not self.assigned and time.monotonic() < deadline:
            msg = self.c.poll(0.1)
            assert msg is None, f"a message before the assignment was recorded: {msg}"
        assert self.assigned, f"not assigned within {timeout_s}s; errors {self.errors[:3]}"
        return self.assigned[-1]

    def poll(self, n, timeout_s=ASSIGN_TIMEOUT_S + ck.CONSUME_TIMEOUT_S):
        return ck.poll_messages(self.c, n, timeout_s)

    def committed(self):
        tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        return {tp.partition: tp.offset for tp in self.c.committed(tps, timeout=COMMITTED_TIMEOUT_S)}

    def fatal_errors(self):
        return [e for e in self.errors if e.fatal()]

    def close_promptly(self):
        started = time.monotonic()
        self.c.close()
        took = time.monotonic() - started
        assert took < CLOSE_WITHIN_S, f"close() took {took:.1f}s: its LeaveGroup was not answered"


def log_ends(bootstrap, topic):
    """Each partition's high watermark."""
    c = ck.consumer(bootstrap)
    try:
        return {
            p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        }
    finally:
        c.close()


def keyed(prefix, n):
    return [(f"key-{i % 11}".encode(), f"{prefix}-{i:04d}".encode()) for i in range(n)]


def test_subscribe_one_consumer_commits_and_resumes(rill, topic_name):
    kwire.require_apis(rill.addr, *GROUP_APIS)
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-group"
    first_batch = keyed("first", 300)
    ck.produce(rill.bootstrap, topic_name, first_batch, "all")

    # 1. One member gets every partition and reads each record once.
    one = GroupConsumer(rill.bootstrap, group, topic_name)
    got = one.poll(300)
    assert one.assigned and one.assigned[0] == list(range(PARTITIONS)), one.assigned
    positions = [(p, o) for p, o, _, _ in got]
    assert len(positions) == len(set(positions)) == 300, f"{len(got)} polled, {len(set(positions))} distinct"
    assert sorted(v for _, _, _, v in got) == sorted(v for _, v in first_batch)
    assert not one.fatal_errors(), one.errors
    # librdkafka's first JoinGroup (v5) has no member id: it is answered MEMBER_ID_REQUIRED.
    # librdkafka logs it as "JoinGroup response: ...: Broker: Group member needs a valid member ID".
    required = [line for line in one.logs.lines if "needs a valid member id" in line.lower()]
    assert required, "no MEMBER_ID_REQUIRED answer in librdkafka's cgrp log"

    # 2. The commit is what OffsetFetch returns: the log end of every partition.
    one.c.commit(asynchronous=False)
    ends = log_ends(rill.bootstrap, topic_name)
    assert one.committed() == ends
    one.close_promptly()

    # 3. The next member of the group starts from the commit: exactly the 30 new records.
    second_batch = keyed("second", 30)
    ck.produce(rill.bootstrap, topic_name, second_batch, "all")
    two = GroupConsumer(rill.bootstrap, group, topic_name)
    got = two.poll(30)
    assert sorted(v for _, _, _, v in got) == sorted(v for _, v in second_batch)
    two.c.commit(asynchronous=False)
    committed_before_kill = two.committed()
    assert committed_before_kill == log_ends(rill.bootstrap, topic_name)
    assert not two.fatal_errors(), two.errors
    two.close_promptly()

    # 4. kill -9: the commit was durable; a third member resumes from it.
    rill.restart()
    three = GroupConsumer(rill.bootstrap, group, topic_name)
    assert three.committed() == committed_before_kill
    assert three.wait_assigned() == list(range(PARTITIONS))
    third_batch = keyed("third", 10)
    ck.produce(rill.bootstrap, topic_name, third_batch, "all")
    got = three.poll(10)
    assert sorted(v for _, _, _, v in got) == sorted(v for _, v in third_batch)
    assert not three.fatal_errors(), three.errors
    three.close_promptly()


def test_commit_survives_kill9_midstream(rill, topic_name):
    kwire.require_apis(rill.addr, *GROUP_APIS)
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-group"
    total = 3000
    ck.produce(rill.bootstrap, topic_name, keyed("m", total), "all")

    member = GroupConsumer(
        rill.bootstrap,
        group,
        topic_name,
        {"debug": "", "max.poll.interval.ms": 60000, "reconnect.backoff.max.ms": 200},
    )
    member.wait_assigned()
    # partition -> the highest offset a commit acknowledged (commit() returned without error).
    acknowledged = {}
    failed_commits = 0
    killer = threading.Timer(1.0, rill.restart)
    killer.start()
    try:
        consumed = 0
        deadline = time.monotonic() + 60
        while consumed < total and time.monotonic() < deadline:
            msg = member.c.poll(0.1)
            if msg is None or msg.error():
                continue
            consumed += 1
            if consumed % 20:
                continue
            try:
                for tp in member.c.commit(asynchronous=False) or []:
                    if tp.error is None and tp.offset >= 0:
                        acknowledged[tp.partition] = max(acknowledged.get(tp.partition, -1), tp.offset)
            except KafkaException:
                failed_commits += 1
    finally:
        killer.join()
    assert rill.alive(), "the broker did not come back after the kill"
    assert rill.starts >= 2, "the broker was not killed while the member committed"
    member.c.close()
    assert acknowledged, f"no commit was acknowledged ({failed_commits} failed)"
    print(f"acknowledged commits: {acknowledged}; failed commits: {failed_commits}")

    reader = GroupConsumer(rill.bootstrap, group, topic_name, {"debug": ""})
    committed = reader.committed()
    reader.c.close()
    lost = {p: (o, committed.get(p)) for p, o in acknowledged.items() if committed.get(p, -1) < o}
    assert not lost, f"acknowledged commits lost across kill -9 (partition: (acked, now)): {lost}"
