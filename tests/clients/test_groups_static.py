"""Static membership (KIP-345) with confluent-kafka: a consumer with `group.instance.id` that
stops and restarts within `session.timeout.ms` rejoins without a rebalance. librdkafka sends
no LeaveGroup when a static member closes; its restarted JoinGroup (no member id, the same
instance id) gets a new member id, the group's current generation and, through SyncGroup, the
partitions it had. The other member sees no rebalance at all.
"""

import re
import time

from confluent_kafka import ConsumerGroupState

import ck
import kwire
from test_groups_confluent import GROUP_APIS, GroupConsumer, keyed

PARTITIONS = 4
# A restart well within it; a rebalance would need the departed member's session to end.
SESSION_TIMEOUT_MS = 10000
# How long the staying member is watched for a rebalance after the restart (many heartbeats).
QUIET_S = 3.0
JOIN_RESPONSE = re.compile(r"JoinGroup response: GenerationId (-?\d+)")


def static_member(bootstrap, group, topic, instance):
    extra = {"group.instance.id": instance, "session.timeout.ms": SESSION_TIMEOUT_MS}
    return GroupConsumer(bootstrap, group, topic, extra)


def generations(member):
    """The generations of the member's successful JoinGroup answers, from librdkafka's log."""
    return [int(m.group(1)) for line in member.logs.lines if (m := JOIN_RESPONSE.search(line)) and int(m.group(1)) >= 0]


def poll_for(member, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = member.c.poll(0.1)
        assert msg is None or msg.error() is None or not msg.error().fatal(), msg.error()


def assigned_together(a, b):
    """Polls both until each has an assignment and together they hold every partition."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        a.c.poll(0.1)
        b.c.poll(0.1)
        if a.assigned and b.assigned and sorted(a.assigned[-1] + b.assigned[-1]) == list(range(PARTITIONS)):
            return
    raise AssertionError(f"never assigned together: {a.assigned} {b.assigned}; {a.errors[:3]} {b.errors[:3]}")


def produce_to(bootstrap, topic, partitions, prefix, each=5):
    """`each` records on every one of `partitions`; returns their values."""
    producer = ck.producer(bootstrap, "all")
    values = []
    for p in partitions:
        for i in range(each):
            value = f"{prefix}-{p}-{i}".encode()
            producer.produce(topic, value=value, partition=p)
            values.append(value)
    assert producer.flush(10) == 0
    return values


def describe(bootstrap, group):
    admin = ck.admin(bootstrap)  # kept alive until the answer is in
    futures = admin.describe_consumer_groups([group], request_timeout=10)
    return futures[group].result(timeout=15)


def test_a_restarted_static_member_keeps_its_partitions_without_a_rebalance(rill, topic_name):
    kwire.require_apis(rill.addr, *GROUP_APIS)
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-group"
    stays = static_member(rill.bootstrap, group, topic_name, "stays")
    restarts = static_member(rill.bootstrap, group, topic_name, "restarts")
    assigned_together(stays, restarts)
    poll_for(stays, 1.0)  # let a late rebalance (the second member's arrival) settle
    assigned_together(stays, restarts)
    mine = restarts.assigned[-1]
    generation = generations(restarts)[-1]
    rebalances_seen = len(stays.assigned)
    before = describe(rill.bootstrap, group)
    assert before.state == ConsumerGroupState.STABLE
    assert sorted(m.group_instance_id for m in before.members) == ["restarts", "stays"]
    old_id = next(m.member_id for m in before.members if m.group_instance_id == "restarts")

    # It reads and commits its records; then the process stops (no LeaveGroup).
    before_batch = produce_to(rill.bootstrap, topic_name, mine, "before")
    got = restarts.poll(len(before_batch))
    assert sorted(v for _, _, _, v in got) == sorted(before_batch)
    restarts.c.commit(asynchronous=False)
    committed = restarts.committed()
    restarts.c.close()

    again = static_member(rill.bootstrap, group, topic_name, "restarts")
    assert again.wait_assigned() == mine, "the restarted instance gets its partitions back"
    assert generations(again) == [generation], f"generation {generation} before, {generations(again)} after"
    poll_for(stays, QUIET_S)
    assert len(stays.assigned) == rebalances_seen, f"the other member rebalanced: {stays.assigned}"
    after = describe(rill.bootstrap, group)
    assert after.state == ConsumerGroupState.STABLE
    new_id = next(m.member_id for m in after.members if m.group_instance_id == "restarts")
    assert new_id != old_id, "a new member id for the new incarnation"
    assert again.committed() == committed

    # It resumes from its commit: only the records produced after the restart on its partitions.
    after_batch = produce_to(rill.bootstrap, topic_name, mine, "after")
    got = again.poll(len(after_batch))
    assert sorted(v for _, _, _, v in got) == sorted(after_batch)
    assert not again.fatal_errors() and not stays.fatal_errors(), (again.errors, stays.errors)
    again.c.close()
    stays.c.close()
