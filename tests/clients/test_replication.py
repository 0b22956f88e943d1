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
"""

import signal
import subprocess
import threading
import time

from confluent_kafka import Consumer, ElectionType, KafkaError, Producer, TopicPartition
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
    # kafka-python's admin client sends a manual assignment as given (confluent-kafka's
    # `NewTopic` refuses one).
    admin = KafkaAdminClient(bootstrap_servers=nodes[0].bootstrap)
    new = KpNewTopic(topic_name, num_partitions=-1, replication_factor=-1,
                     replica_assignments={0: [3, 4, 5]},
                     topic_configs={"min.insync.replicas": "2"})
    admin.create_topics([new], timeout_ms=TIMEOUT_S * 1000)
    admin.close()
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
    got = read_all(leader.bootstrap, topic_name, 2, 1)
    assert got[0] == [b"acks=all", b"acks=1"], got


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
                                                                        topic_name):
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
