"""Issue 14: replicated partitions on three `rill server` processes, with real clients.

* A topic with replication factor 3 and min.insync.replicas=2 keeps every record an
  idempotent confluent-kafka producer had acknowledged (acks=all) while the test `kill -9`s the
  leader of a partition again and again: the producer and the consumer fail over without being
  restarted, and every acknowledged record is read back exactly once, in order per partition.
* A follower that stops fetching (SIGSTOP) for longer than `replica.lag.time.max.ms` leaves the
  ISR (its leader asks the controller), and once it runs again it catches up and rejoins.
* With two of three brokers down, acks=all to a min.insync.replicas=2 topic is refused
  NOT_ENOUGH_REPLICAS, and acks=1 still works.
* After a leader's broker came back, `rill leader-election --election-type preferred` (and
  confluent-kafka's `elect_leaders`, ElectLeaders v2) moves leadership back to the first
  assigned replica.
* `kill -9` of the broker coordinating a group of two confluent-kafka consumers that commit
  synchronously as they read (`__consumer_offsets` has three partitions here, replicated three
  times): the group moves to a surviving broker, the commits the old coordinator had acknowledged
  are all there (and no record below one is delivered again), and the same consumers, never
  restarted, read on to the end and commit every partition's end offset.
"""

import json
import signal
import subprocess
import threading
import time

import pytest
from confluent_kafka import (Consumer, ElectionType, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

from conftest import RILL_BIN

TIMEOUT_S = 60
PARTITIONS = 3
# Fence a dead broker within a few seconds (Kafka's default session is 9 s).
FAST_SESSION = (
    "--override", "broker.session.timeout.ms=2000",
    "--override", "broker.heartbeat.interval.ms=200",
)


def wait_for(what, probe, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: still {last!r} after {timeout_s} s")


def partitions(node, topic, count=PARTITIONS):
    """{partition: (leader, replicas, isr)} as `node` tells it (None until it lists the topic
    with `count` partitions)."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(topic, timeout=5)
    except Exception:  # KafkaException: the broker is down or starting
        return None
    t = md.topics.get(topic)
    if t is None or t.error is not None or len(t.partitions) < count:
        return None
    return {p: (m.leader, list(m.replicas), sorted(m.isrs)) for p, m in t.partitions.items()}


def create_assigned(node, topic, replicas, min_isr="2"):
    """One partition on `replicas`, through kafka-python's admin client, which sends a manual
    assignment as given (confluent-kafka's `NewTopic` refuses one)."""
    admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
    try:
        new = KpNewTopic(topic, num_partitions=-1, replication_factor=-1,
                         replica_assignments={0: replicas},
                         topic_configs={"min.insync.replicas": min_isr})
        admin.create_topics([new], timeout_ms=TIMEOUT_S * 1000)
    finally:
        admin.close()


def create_replicated(node, topic, min_isr="2"):
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    new = NewTopic(topic, PARTITIONS, 3, config={"min.insync.replicas": min_isr})
    admin.create_topics([new])[topic].result(TIMEOUT_S)
    return wait_for("every replica in sync", lambda: (lambda ps: ps if ps and all(
        len(isr) == 3 and leader >= 0 for leader, _, isr in ps.values()) else None)(
            partitions(node, topic)))


def read_all(bootstrap, topic, expected, count=PARTITIONS):
    """Every record of the topic: {partition: [values in offset order]}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-check",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(count)])
    got = {p: [] for p in range(count)}
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while sum(map(len, got.values())) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got[msg.partition()].append(msg.value())
    finally:
        consumer.close()
    return got


def test_acknowledged_records_survive_repeated_leader_kills(rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION)
    create_replicated(nodes[0], topic_name)
    bootstrap = ",".join(n.bootstrap for n in nodes)
    acked = {p: [] for p in range(PARTITIONS)}
    failed = []
    stop = threading.Event()

    def produce():
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 5,
                             "message.timeout.ms": 120000})

        def delivered(err, msg):
            if err is None:
                acked[msg.partition()].append(msg.value())
            else:
                failed.append(err)

        sent = 0
        while not stop.is_set():
            producer.produce(topic_name, value=f"v{sent}".encode(), partition=sent % PARTITIONS,
                             on_delivery=delivered)
            sent += 1
            producer.poll(0)
            time.sleep(0.002)
        assert producer.flush(TIMEOUT_S * 2) == 0

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        for round_ in range(3):
            time.sleep(1.5)
            # Kill the leader of partition `round_`, then bring it back once another leads.
            before = wait_for("a leader", lambda: partitions(nodes[(round_ + 1) % 3], topic_name))
            leader = before[round_ % PARTITIONS][0]
            victim = nodes[leader - 1]
            survivor = nodes[leader % 3]
            victim.kill9()
            wait_for(f"partition {round_} led elsewhere than {leader}", lambda: (
                lambda ps: ps and ps[round_ % PARTITIONS][0] not in (-1, leader))(
                    partitions(survivor, topic_name)))
            time.sleep(1)
            victim.start()
            wait_for("the killed broker back in every ISR", lambda: (
                lambda ps: ps and all(len(isr) == 3 for _, _, isr in ps.values()))(
                    partitions(survivor, topic_name)))
    finally:
        stop.set()
        writer.join(TIMEOUT_S * 3)
    assert failed == []
    total = sum(map(len, acked.values()))
    assert total > 300, acked
    got = read_all(bootstrap, topic_name, total)
    for p in range(PARTITIONS):
        # Exactly once and in order: the idempotent producer's retries were deduplicated, and
        # no acknowledged record was lost by a failover.
        assert got[p] == acked[p], (p, len(got[p]), len(acked[p]))


def test_a_stopped_follower_leaves_the_isr_and_rejoins_once_caught_up(rill_cluster, topic_name):
    # The session outlasts the lag time, so the follower leaves by the leader's ISR shrink,
    # not by being fenced.
    nodes = rill_cluster(3, "--override", "replica.lag.time.max.ms=2000",
                         "--override", "broker.session.timeout.ms=30000")
    placed = create_replicated(nodes[0], topic_name)
    # A follower of partition 0 (not its leader).
    leader = placed[0][0]
    follower = next(r for r in placed[0][1] if r != leader)
    watcher = nodes[leader - 1]
    nodes[follower - 1].proc.send_signal(signal.SIGSTOP)
    try:
        producer = Producer({"bootstrap.servers": watcher.bootstrap, "acks": "all"})
        for i in range(20):
            producer.produce(topic_name, value=f"while-stopped-{i}".encode(), partition=0)
        assert producer.flush(TIMEOUT_S) == 0, "acks=all needs 2 of 3: it does not wait for it"
        wait_for(f"node {follower} out of partition 0's ISR", lambda: (
            lambda ps: ps and follower not in ps[0][2])(partitions(watcher, topic_name)))
    finally:
        nodes[follower - 1].proc.send_signal(signal.SIGCONT)
    wait_for(f"node {follower} back in partition 0's ISR", lambda: (
        lambda ps: ps and follower in ps[0][2])(partitions(watcher, topic_name)))
    got = read_all(watcher.bootstrap, topic_name, 20)
    assert got[0] == [f"while-stopped-{i}".encode() for i in range(20)]


def test_acks_all_is_refused_not_enough_replicas_with_two_of_three_down(rill_cluster, topic_name):
    # Three voters and two broker-only nodes; the topic's replicas are voter 3 and brokers 4
    # and 5, so killing both brokers leaves the controller quorum whole to shrink the ISR.
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=2)
    create_assigned(nodes[0], topic_name, [3, 4, 5])
    leader = nodes[2]
    wait_for("all three in sync", lambda: (lambda ps: ps and ps[0] == (3, [3, 4, 5], [3, 4, 5]))(
        partitions(leader, topic_name, 1)))

    def produce(acks):
        errors = []
        producer = Producer({"bootstrap.servers": leader.bootstrap, "acks": acks,
                             "message.timeout.ms": 10000, "retries": 0})
        producer.produce(topic_name, value=f"acks={acks}".encode(), partition=0,
                         on_delivery=lambda err, msg: errors.append(err))
        producer.flush(TIMEOUT_S)
        return errors

    nodes[3].kill9()
    wait_for("node 4 out of the ISR", lambda: (lambda ps: ps and ps[0][2] == [3, 5])(
        partitions(leader, topic_name, 1)))
    assert produce("all") == [None], "two of three in sync meet min.insync.replicas=2"
    nodes[4].kill9()
    wait_for("node 5 out of the ISR", lambda: (lambda ps: ps and ps[0][2] == [3])(
        partitions(leader, topic_name, 1)))
    errors = produce("all")
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() == KafkaError.NOT_ENOUGH_REPLICAS, errors
    assert produce("1") == [None], "acks=1 needs the leader only"
    # Under min.insync.replicas the high watermark stays (KAFKA-15583, as Kafka 3.7 on):
    # consumers do not see the acks=1 record while the leader alone holds it.
    consumer = Consumer({"bootstrap.servers": leader.bootstrap, "group.id": f"{topic_name}-hw"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, 0),
                                                   timeout=TIMEOUT_S)
    finally:
        consumer.close()
    assert (low, high) == (0, 1), (low, high)
    # Node 5 back in the ISR: both records are committed and read.
    nodes[4].start()
    wait_for("node 5 back in the ISR", lambda: (lambda ps: ps and ps[0][2] == [3, 5])(
        partitions(leader, topic_name, 1)))
    got = read_all(leader.bootstrap, topic_name, 2, 1)
    assert got[0] == [b"acks=all", b"acks=1"], got


def describe_partition(node, topic):
    """kafka-python's DescribeTopicPartitions (75) of `topic`'s partition 0 through `node`."""
    admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
    try:
        [described] = admin.describe_topic_partitions([topic])["topics"]
        return described["partitions"][0]
    finally:
        admin.close()


def test_an_eligible_leader_replica_leads_when_the_last_in_sync_replica_is_lost(
        rill_cluster, topic_name):
    """KIP-966: with min.insync.replicas=2, a replica that leaves an ISR of two (a clean stop)
    is an eligible leader replica: the high watermark no longer moves without it, so it holds
    every acknowledged record. When the last in-sync replica is then killed, the eligible one
    leads once it is back (Kafka before KIP-966 would wait for the killed one), with every
    acknowledged record; a replica back from a kill -9 (no clean-shutdown marker) is not
    eligible."""
    # Voters 1-3 keep the quorum; the topic lives on broker-only nodes 4 and 5 and voter 3.
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=2)
    create_assigned(nodes[0], topic_name, [4, 5, 3])
    watcher = nodes[0]
    wait_for("all three in sync", lambda: (lambda ps: ps and ps[0] == (4, [4, 5, 3], [3, 4, 5]))(
        partitions(watcher, topic_name, 1)))
    producer = Producer({"bootstrap.servers": nodes[3].bootstrap, "acks": "all",
                         "enable.idempotence": True, "message.timeout.ms": 10000})
    acked, errors = [], []
    for i in range(20):
        producer.produce(topic_name, value=f"v{i}".encode(), partition=0,
                         on_delivery=lambda err, msg: (errors if err else acked).append(
                             err or msg.value()))
    producer.flush(TIMEOUT_S)
    assert len(acked) == 20 and not errors, (acked, errors)

    nodes[2].stop()  # voter 3, cleanly: the ISR keeps min.insync.replicas, no ELR
    wait_for("node 3 out of the ISR", lambda: (lambda ps: ps and ps[0][2] == [4, 5])(
        partitions(watcher, topic_name, 1)))
    assert not describe_partition(watcher, topic_name)["eligible_leader_replicas"]
    nodes[4].stop()  # node 5, cleanly: the ISR falls below min.insync.replicas
    wait_for("node 5 eligible", lambda: (
        describe_partition(watcher, topic_name)["eligible_leader_replicas"] == [5]))
    # `rill topics --describe` shows it as Kafka 3.7+'s kafka-topics does.
    shown = subprocess.run([str(RILL_BIN), "topics", "--bootstrap-server", watcher.bootstrap,
                            "--describe", "--topic", topic_name],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
    assert shown.returncode == 0, shown
    assert "\tLeader: 4\tReplicas: 4,5,3\tIsr: 4\tElr: 5\tLastKnownElr: " in shown.stdout, shown.stdout
    nodes[2].start()  # voter 3 back (it catches up only from a leader: none will be there)
    nodes[3].kill9()  # the last in-sync replica, with everything acknowledged
    wait_for("no leader", lambda: (lambda ps: ps and ps[0][0] == -1)(
        partitions(watcher, topic_name, 1)))
    nodes[4].start()  # node 5, which shut down cleanly: elected from the ELR
    # (Voter 3, back, may join node 5's ISR at once: only the leader is waited for.)
    wait_for("node 5 leads", lambda: (lambda ps: ps and ps[0][0] == 5)(
        partitions(watcher, topic_name, 1)))
    got = read_all(nodes[4].bootstrap, topic_name, 20, 1)
    assert got[0] == acked, got
    # Node 4 back after its kill -9 follows node 5; nothing changes for the consumers.
    nodes[3].start()
    wait_for("node 4 in sync again", lambda: (lambda ps: ps and 4 in ps[0][2])(
        partitions(watcher, topic_name, 1)))
    assert read_all(nodes[3].bootstrap, topic_name, 20, 1)[0] == acked


def leader_election(node, *args):
    """`rill leader-election --election-type preferred` through `node`: (exit code, output)."""
    done = subprocess.run([str(RILL_BIN), "leader-election", "--bootstrap-server", node.bootstrap,
                           "--election-type", "preferred", *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


def preferred_leader_moved_away(nodes, topic):
    """Kills the preferred leader of `topic`'s partition 0 and starts it again once another
    replica leads: ({partition: preferred leader}, a broker that stayed up)."""
    placed = create_replicated(nodes[0], topic)
    preferred = {p: replicas[0] for p, (_, replicas, _) in placed.items()}
    victim = nodes[preferred[0] - 1]
    watcher = nodes[preferred[0] % 3]
    victim.kill9()
    wait_for("partition 0 led by another replica", lambda: (
        lambda ps: ps and ps[0][0] not in (-1, preferred[0]))(partitions(watcher, topic)))
    victim.start()
    return preferred, watcher


def test_a_preferred_election_moves_leadership_back_to_the_first_replica(rill_cluster,
                                                                        topic_name, tmp_path):
    nodes = rill_cluster(3, *FAST_SESSION, "--override", "auto.leader.rebalance.enable=false")
    # The preferred leader of partition 0 goes away, and comes back as a follower.
    preferred, watcher = preferred_leader_moved_away(nodes, topic_name)
    moved = wait_for("the killed broker back in every ISR", lambda: (
        lambda ps: ps if ps and all(len(isr) == 3 for _, _, isr in ps.values()) else None)(
            partitions(watcher, topic_name)))
    assert moved[0][0] != preferred[0], "nothing moves leadership back by itself here"

    code, out = leader_election(watcher, "--all-topic-partitions")
    assert code == 0, out
    assert "Successfully completed leader election (PREFERRED) for partitions" in out, out
    assert f"{topic_name}-0" in out, out
    wait_for("every partition led by its first replica", lambda: (
        lambda ps: ps and all(ps[p][0] == preferred[p] for p in ps))(
            partitions(watcher, topic_name)))
    # Nothing left to do: said so, for one partition named.
    code, out = leader_election(watcher, "--topic", topic_name, "--partition", "0")
    assert code == 0, out
    assert f"Valid replica already elected for partitions {topic_name}-0" in out, out
    # The same for partitions named in Kafka's JSON file.
    named = tmp_path / "election.json"
    named.write_text(json.dumps({"partitions": [{"topic": topic_name, "partition": p} for p in (1, 0)]}))
    code, out = leader_election(watcher, "--path-to-json-file", str(named))
    assert code == 0, out
    assert f"Valid replica already elected for partitions {topic_name}-1, {topic_name}-0" in out \
        or f"Valid replica already elected for partitions {topic_name}-0, {topic_name}-1" in out, out
    # An unknown partition fails the tool.
    code, out = leader_election(watcher, "--topic", topic_name, "--partition", "7")
    assert code == 1, out
    # librdkafka's electLeaders: nothing to elect for partition 1 either.
    admin = AdminClient({"bootstrap.servers": watcher.bootstrap})
    future = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic_name, 1)])
    results = future.result(TIMEOUT_S)
    errors = {tp.partition: err for tp, err in results.items()}
    assert list(errors) == [1], results
    assert errors[1] is not None and errors[1].code() == KafkaError.ELECTION_NOT_NEEDED, errors


def test_leadership_moves_back_to_the_preferred_replica_by_itself(rill_cluster, topic_name):
    # Kafka's auto.leader.rebalance.enable (on by default), checked every second here.
    nodes = rill_cluster(3, *FAST_SESSION,
                         "--override", "leader.imbalance.check.interval.seconds=1")
    preferred, watcher = preferred_leader_moved_away(nodes, topic_name)
    wait_for("every partition led by its first replica again", lambda: (
        lambda ps: ps and all(ps[p][0] == preferred[p] for p in ps))(
            partitions(watcher, topic_name)))


def coordinator_of(bootstrap, group):
    """The node id DescribeGroups through `bootstrap` names as `group`'s coordinator (None while
    no broker answers for it, e.g. while the group moves)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer is in
    try:
        described = admin.describe_consumer_groups([group], request_timeout=10)[group]
        return described.result(timeout=15).coordinator.id
    except Exception:  # KafkaException: no coordinator yet, or it is loading the group
        return None


def committed_offsets(bootstrap, group, topic):
    """{partition: the group's committed offset} (None while the coordinator cannot answer);
    `committed()` sends OffsetFetch without joining the group."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                       "enable.auto.commit": False})
    try:
        got = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    except KafkaException:
        return None
    finally:
        reader.close()
    if any(tp.error is not None for tp in got):
        return None
    return {tp.partition: tp.offset for tp in got}


class CommittingMember(threading.Thread):
    """A confluent-kafka group member in its own thread. It reads `topic` one record per `PACE_S`
    (so the reading spans a coordinator's failover) and commits what it read synchronously every
    `COMMIT_EVERY` records, whenever a poll comes back empty, and when partitions are revoked.
    A commit is acknowledged if it returned without an error; what it took is kept with whether
    it started after the kill."""

    COMMIT_EVERY = 20
    PACE_S = 0.01

    def __init__(self, bootstrap, group, topic, killed, halt, lock):
        super().__init__(daemon=True)
        self.topic = topic
        self.killed = killed
        self.halt = halt
        self.lock = lock
        self.consumed = []  # (partition, offset, value, polled after the kill)
        self.acked = []  # (started after the kill, {partition: committed offset})
        self.refused = []  # KafkaError of each commit that failed (not acknowledged)
        self.errors = []  # error_cb
        self.crash = None
        self.pending = {}  # {partition: offset after the last record read}, not yet committed
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                           "reconnect.backoff.max.ms": 200, "error_cb": self.errors.append})

    def run(self):
        try:
            self.c.subscribe([self.topic], on_revoke=self._revoked, on_lost=self._lost)
            since = 0
            while not self.halt.is_set():
                after = self.killed.is_set()
                msg = self.c.poll(0.2)
                if msg is None or msg.error() is not None:
                    self._commit()  # idle (or a transient error): hand over what was read
                    since = 0
                    continue
                with self.lock:
                    self.consumed.append((msg.partition(), msg.offset(), msg.value(), after))
                # What commit(message=msg) would commit: the offset after the record.
                self.pending[msg.partition()] = msg.offset() + 1
                since += 1
                if since >= self.COMMIT_EVERY:
                    self._commit()
                    since = 0
                time.sleep(self.PACE_S)
        except BaseException as e:  # reported by the test
            self.crash = e
        finally:
            try:
                self.c.close()
            except Exception as e:
                self.crash = self.crash or e

    def _commit(self, only=None):
        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(self.pending.items())
                   if only is None or p in only]
        if not offsets:
            return
        after = self.killed.is_set()
        try:
            done = self.c.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            # NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, REBALANCE_IN_PROGRESS, a broken
            # connection, ...: not acknowledged; what is pending is committed again later.
            self.refused.append(e.args[0])
            return
        self.refused.extend(tp.error for tp in done if tp.error is not None)
        ok = {tp.partition: tp.offset for tp in done if tp.error is None}
        if ok:
            with self.lock:
                self.acked.append((after, ok))
        for p, o in ok.items():
            if self.pending.get(p) == o:
                del self.pending[p]

    def _revoked(self, consumer, partitions):
        gone = {tp.partition for tp in partitions}
        self._commit(gone)  # so the next owner does not read it again
        for p in gone:
            self.pending.pop(p, None)

    def _lost(self, consumer, partitions):
        # No longer a member: a commit would be refused, and another owner commits these now.
        for tp in partitions:
            self.pending.pop(tp.partition, None)


@pytest.mark.timeout(240)
def test_a_group_moves_to_a_new_coordinator_when_its_broker_dies_and_keeps_its_commits(
        rill_cluster, topic_name):
    nodes = rill_cluster(3, *FAST_SESSION, "--override", "offsets.topic.num.partitions=3")
    create_replicated(nodes[0], topic_name)
    bootstrap = ",".join(n.bootstrap for n in nodes)
    records = 3000
    values = {f"v{i}".encode() for i in range(records)}
    ends = {p: 0 for p in range(PARTITIONS)}
    failed = []

    def delivered(err, msg):
        if err is None:
            ends[msg.partition()] = max(ends[msg.partition()], msg.offset() + 1)
        else:
            failed.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5})
    for i in range(records):
        producer.produce(topic_name, value=f"v{i}".encode(), partition=i % PARTITIONS,
                         on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0
    assert failed == []
    assert ends == {p: records // PARTITIONS for p in range(PARTITIONS)}, ends

    group = f"{topic_name}-group"
    killed, halt, lock = threading.Event(), threading.Event(), threading.Lock()
    # Bootstrapped at all three brokers: each survives the death of any one.
    members = [CommittingMember(bootstrap, group, topic_name, killed, halt, lock)
               for _ in range(2)]

    def read_values():
        with lock:
            return {v for m in members for _, _, v, _ in m.consumed}

    for m in members:
        m.start()
    try:
        wait_for("both members with an acknowledged commit",
                 lambda: all(m.acked for m in members))
        coordinator = wait_for("the group's coordinator", lambda: coordinator_of(bootstrap, group))
        victim = nodes[coordinator - 1]
        survivors = ",".join(n.bootstrap for n in nodes if n is not victim)
        with lock:
            acked_before = {}
            for m in members:
                for _, offsets in m.acked:
                    for p, o in offsets.items():
                        acked_before[p] = max(acked_before.get(p, -1), o)
            read_before = len({v for m in members for _, _, v, _ in m.consumed})
        victim.kill9()
        killed.set()
        assert read_before < records, "the kill came after the group had read everything"

        moved = wait_for(f"the group coordinated by a broker other than {coordinator}",
                         lambda: (lambda c: c if c not in (None, coordinator) else None)(
                             coordinator_of(survivors, group)))
        # Read once, as soon as the new coordinator answers: a lost commit would be made good
        # again later by the members' rereading and committing.
        now = wait_for("the group's commits from its new coordinator",
                       lambda: committed_offsets(survivors, group, topic_name))
        for p, offset in acked_before.items():
            assert now[p] >= offset, f"partition {p}: {now[p]} committed, {offset} acknowledged"

        # The same consumers read on to the end and commit it.
        wait_for("every record read by the group", lambda: read_values() >= values,
                 TIMEOUT_S * 2)
        wait_for("every partition's end committed",
                 lambda: committed_offsets(survivors, group, topic_name) == ends, TIMEOUT_S * 2)
    finally:
        halt.set()
        for m in members:
            m.join(TIMEOUT_S)
    for m in members:
        assert not m.is_alive(), "a member did not stop"
        assert m.crash is None, repr(m.crash)
        assert [e for e in m.errors if e.fatal()] == [], m.errors
    # The group kept committing across the failover, without a member restarted (a member
    # that was left one partition may have read it to the end before the kill).
    assert any(after for m in members for after, _ in m.acked), [m.refused[-5:] for m in members]
    assert read_values() == values
    # No record below an offset whose commit was acknowledged before the kill was delivered
    # again after it (a new owner starts from the group's commit).
    with lock:
        again = [(p, o) for m in members for p, o, _, after in m.consumed
                 if after and o < acked_before.get(p, -1)]
    assert again == [], (acked_before, again[:10])
    # From a fresh reader, after the members left: every partition's end, through the group's
    # new coordinator (the killed broker is still down).
    final = wait_for("the group's commits",
                     lambda: committed_offsets(survivors, group, topic_name))
    assert final == ends, (final, ends)
    still = wait_for("the group's coordinator", lambda: coordinator_of(survivors, group))
    assert still != coordinator, (coordinator, moved, still)
