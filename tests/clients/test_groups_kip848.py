"""KIP-848 consumer groups with confluent-kafka (librdkafka) and `group.protocol=consumer`: the
broker computes the assignment, members converge on it by ConsumerGroupHeartbeat (v1), and
commit with their member epoch (OffsetCommit v9).

Two, then three consumers share a 6-partition topic: at every stable point the members hold
disjoint shares covering every partition, and every record produced then is consumed exactly
once. A member that leaves hands its partitions to the others. After a `kill -9` of the broker
the group comes back from its `__consumer_offsets` records: the surviving members go on with
their epochs and shares, and a fresh member of the group resumes at the commits. A classic
group and a consumer group run side by side, and each protocol is refused on the other's group.
A regex subscription (`subscribe(["^rx-.*"])`) is resolved by the broker: the member gets the
matching topics, those created later too, before and after a broker kill.
"""

import time
from collections import Counter

from confluent_kafka import Consumer, KafkaException

import ck

PARTITIONS = 6
RECORDS_PER_ROUND = 60
# A short heartbeat interval so that assignments move quickly (Kafka's default is 5 s).
BROKER_ARGS = (
    "--override",
    "group.consumer.heartbeat.interval.ms=500",
    "--override",
    "group.consumer.session.timeout.ms=6000",
)
# How long the members may take to settle on disjoint shares after a join, leave or restart.
SETTLE_TIMEOUT_S = 40.0
CONSUME_TIMEOUT_S = 30.0


class Member:
    """A `subscribe()` consumer of the consumer protocol; it records what it consumed."""

    def __init__(self, bootstrap, group, topic, name):
        self.name = name
        self.records = []
        self.errors = []
        self.c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "group.protocol": "consumer",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "error_cb": self.errors.append,
            }
        )
        self.c.subscribe([topic])

    def poll(self):
        msg = self.c.poll(0.05)
        if msg is None:
            return
        assert msg.error() is None, f"{self.name}: {msg.error()}"
        self.records.append((msg.partition(), msg.offset()))

    def share(self):
        return sorted(tp.partition for tp in self.c.assignment())

    def commit(self):
        self.c.commit(asynchronous=False)


def poll_all(members, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for m in members:
            m.poll()


def settle(members, sizes):
    """Polls until the members' shares are disjoint, cover every partition and have `sizes`."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        poll_all(members, 0.2)
        shares = [m.share() for m in members]
        held = [p for s in shares for p in s]
        if sorted(held) == list(range(PARTITIONS)) and sorted(map(len, shares)) == sorted(sizes):
            # Still so a moment later: no revocation was in flight.
            poll_all(members, 1.0)
            if [m.share() for m in members] == shares:
                return shares
    errors = [m.errors[:3] for m in members]
    raise AssertionError(f"not settled on {sizes}: {[m.share() for m in members]}; errors {errors}")


def round_trip(bootstrap, topic, members, tag):
    """Produces a round of records and checks that the members consume each exactly once, from
    the partitions they hold; then everyone commits."""
    for m in members:
        m.records.clear()
    # Every partition gets records, so that every member has consumed something to commit
    # (librdkafka's sticky partitioner may put a whole unkeyed round in one or two partitions, and
    # a commit with nothing consumed fails locally with _NO_OFFSET).
    expected = Counter()
    per_partition = RECORDS_PER_ROUND // PARTITIONS
    for p in range(PARTITIONS):
        msgs = [(None, f"{tag}-{p}-{i}".encode()) for i in range(per_partition)]
        sent, offsets, errors = ck.produce(bootstrap, topic, msgs, acks="all", partition=p)
        assert not errors and len(sent) == per_partition, errors[:3]
        expected.update((q, offsets[v]) for q, _, v in sent)
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    while sum(len(m.records) for m in members) < RECORDS_PER_ROUND and time.monotonic() < deadline:
        poll_all(members, 0.2)
    poll_all(members, 0.5)  # a duplicate would arrive now
    got = Counter(r for m in members for r in m.records)
    assert got == expected, f"{tag}: missing {expected - got}, extra {got - expected}"
    for m in members:
        share = set(m.share())
        assert all(p in share for p, _ in m.records), f"{tag}: {m.name} read outside {share}"
        assert m.records, f"{tag}: {m.name} consumed nothing from {share}"
        m.commit()


def test_consumer_protocol_members_share_move_and_survive_a_broker_kill(rill_factory, topic_name):
    rill = rill_factory(*BROKER_ARGS)
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    group = f"{topic_name}-g"
    a = Member(rill.bootstrap, group, topic_name, "a")
    b = Member(rill.bootstrap, group, topic_name, "b")
    members = [a, b]
    try:
        settle(members, [3, 3])
        round_trip(rill.bootstrap, topic_name, members, "two")

        c = Member(rill.bootstrap, group, topic_name, "c")
        members.append(c)
        settle(members, [2, 2, 2])
        round_trip(rill.bootstrap, topic_name, members, "three")

        # c leaves: its partitions move to a and b.
        c.c.close()
        members.remove(c)
        settle(members, [3, 3])
        round_trip(rill.bootstrap, topic_name, members, "after-leave")

        # kill -9: the group and the commits come back from __consumer_offsets.
        shares = [m.share() for m in members]
        rill.restart()
        assert settle(members, [3, 3]) == shares, "the restored group moved partitions"
        round_trip(rill.bootstrap, topic_name, members, "after-restart")
    finally:
        for m in members:
            m.c.close()

    # A fresh member resumes at the commits: it reads only what is produced now.
    d = Member(rill.bootstrap, group, topic_name, "d")
    try:
        settle([d], [PARTITIONS])
        round_trip(rill.bootstrap, topic_name, [d], "fresh")
    finally:
        d.c.close()


def test_classic_and_consumer_groups_side_by_side(rill_factory, topic_name):
    rill = rill_factory(*BROKER_ARGS, "--override", "group.initial.rebalance.delay.ms=0")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    new = Member(rill.bootstrap, f"{topic_name}-new", topic_name, "new")
    classic = ck.consumer(
        rill.bootstrap,
        {"group.id": f"{topic_name}-classic", "enable.auto.commit": False},
    )
    classic.subscribe([topic_name])
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and not (
            len(new.share()) == PARTITIONS and len(classic.assignment()) == PARTITIONS
        ):
            new.poll()
            classic.poll(0.05)
        assert len(new.share()) == PARTITIONS and len(classic.assignment()) == PARTITIONS

        # Each protocol is refused on the other's group.
        admin = ck.admin(rill.bootstrap)  # kept alive until the future resolves
        listed = admin.list_consumer_groups(request_timeout=10).result()
        types = {g.group_id: g.type.name for g in listed.valid}
        assert types == {f"{topic_name}-new": "CONSUMER", f"{topic_name}-classic": "CLASSIC"}
        wrong = Member(rill.bootstrap, f"{topic_name}-classic", topic_name, "wrong")
        try:
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while time.monotonic() < deadline and not wrong.errors:
                try:
                    wrong.poll()
                except (AssertionError, KafkaException) as e:
                    wrong.errors.append(e)
            assert any("group id does not exist" in str(e) for e in wrong.errors), wrong.errors
            assert wrong.share() == []
        finally:
            wrong.c.close()
        # A classic member cannot join the consumer group.
        refused = []
        joiner = ck.consumer(
            rill.bootstrap, {"group.id": f"{topic_name}-new", "error_cb": refused.append}
        )
        joiner.subscribe([topic_name])
        try:
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while time.monotonic() < deadline and not refused:
                msg = joiner.poll(0.05)
                if msg is not None and msg.error() is not None:
                    refused.append(msg.error())
            assert any("INCONSISTENT_GROUP_PROTOCOL" in str(e) or "inconsistent" in str(e).lower() for e in refused), refused
            assert joiner.assignment() == []
        finally:
            joiner.close()
    finally:
        new.c.close()
        classic.close()


def test_a_regex_subscription_gets_the_matching_topics_new_ones_and_survives_a_restart(rill_factory):
    """`subscribe(["^rx-.*"])` with the consumer protocol: librdkafka sends the pattern as
    ConsumerGroupHeartbeat `SubscribedTopicRegex` (`(^rx-.*)`) and the broker resolves it. The
    member reads exactly the matching topics' records; a matching topic created later is
    assigned too; after a `kill -9` of the broker the member's pattern comes back with the group
    (it is in the member's record) and still follows the matching topics."""
    rill = rill_factory(*BROKER_ARGS)
    for name, partitions in [("rx-a", 2), ("rx-b", 1), ("other", 1)]:
        ck.create_topic(rill.bootstrap, name, partitions)

    def produce(topic, tag, n=10):
        msgs = [(None, f"{topic}:{tag}:{i}".encode()) for i in range(n)]
        sent, _, errors = ck.produce(rill.bootstrap, topic, msgs, acks="all")
        assert not errors and len(sent) == n, errors[:3]
        return {v for _, _, v in sent}

    got = []
    errors = []
    c = Consumer(
        {
            "bootstrap.servers": rill.bootstrap,
            "group.id": "rx-group",
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "error_cb": errors.append,
        }
    )

    def read_until(want, seconds=CONSUME_TIMEOUT_S):
        deadline = time.monotonic() + seconds
        while not want <= set(v for _, v in got) and time.monotonic() < deadline:
            msg = c.poll(0.1)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append((msg.topic(), msg.value()))
        # Anything else would arrive now.
        settle = time.monotonic() + 1.0
        while time.monotonic() < settle:
            msg = c.poll(0.1)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append((msg.topic(), msg.value()))
        assert want <= set(v for _, v in got), f"missing {sorted(want - set(v for _, v in got))[:5]}; errors {errors[:3]}"

    # The broker, not librdkafka, resolves the pattern, against whole names (RE2/J's
    # `matches`): `^rx` alone matches no topic here, where librdkafka's own (libc, `find`)
    # matching with the classic protocol would take rx-a and rx-b.
    prefix_only = Consumer(
        {
            "bootstrap.servers": rill.bootstrap,
            "group.id": "rx-prefix-group",
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )
    try:
        want = produce("rx-a", "first") | produce("rx-b", "first")
        produce("other", "first")
        c.subscribe(["^rx-.*"])
        prefix_only.subscribe(["^rx"])
        read_until(want)
        assert sorted(v for _, v in got) == sorted(want), "exactly the matching topics' records, once"
        assert {t for t, _ in got} == {"rx-a", "rx-b"}
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            msg = prefix_only.poll(0.1)
            assert msg is None or msg.error() is not None, (msg.topic(), msg.value())
        assert prefix_only.assignment() == []
        # It is a member all the same (its heartbeats were taken), subscribed to nothing yet.
        admin = ck.admin(rill.bootstrap)  # kept alive until the future resolves
        group = admin.describe_consumer_groups(["rx-prefix-group"], request_timeout=10)
        members = group["rx-prefix-group"].result().members
        assert len(members) == 1 and not members[0].assignment.topic_partitions, members
        prefix_only.close()

        # A matching topic created now joins the subscription.
        got.clear()
        ck.create_topic(rill.bootstrap, "rx-c", 2)
        want = produce("rx-c", "new")
        produce("other", "new")
        read_until(want, SETTLE_TIMEOUT_S)
        assert sorted(v for _, v in got) == sorted(want)
        c.commit(asynchronous=False)

        # kill -9: the group and the member's pattern come back from __consumer_offsets.
        rill.restart()
        got.clear()
        want = produce("rx-a", "after") | produce("rx-c", "after")
        produce("other", "after")
        read_until(want, SETTLE_TIMEOUT_S)
        assert {t for t, _ in got} <= {"rx-a", "rx-b", "rx-c"}, {t for t, _ in got}
        assert want <= {v for _, v in got}
        # And a matching topic created after the restart joins it too.
        got.clear()
        ck.create_topic(rill.bootstrap, "rx-d", 1)
        want = produce("rx-d", "after")
        read_until(want, SETTLE_TIMEOUT_S)
        assert {t for t, _ in got} <= {"rx-a", "rx-b", "rx-c", "rx-d"}
    finally:
        c.close()

