"""Issue 14: partition reassignment (AlterPartitionReassignments 45, ListPartitionReassignments
46 and `rill reassign-partitions`) on real `rill server` processes, with real clients.

* Moving replicas from voter 3 to broker-only node 4 (partition 0 {1,2,3} -> [1,2,4], partition 1
  {2,3,1} -> [2,4,1]) while an idempotent acks=all confluent-kafka producer writes to every
  partition loses no acknowledged record: `--execute` starts it through a broker-only node (the
  request is forwarded to the controller quorum's leader), `--verify` reports it completed, the
  metadata then shows the target replicas with an ISR drawn from them alone (node 4 joins it),
  node 3 removes its logs of the two partitions, every acknowledged record is read back exactly
  once in order per partition, and node 4 leads partition 1 with all of them once its first
  replica (node 2) is killed.
* A move to a broker that is down (registered, fenced) cannot complete. The tool refuses to
  start it, as Kafka's does ("Unknown broker id(s) 4": it checks the brokers Metadata lists),
  but the controller takes it (kafka-python's `alter_partition_reassignments`, as Kafka's
  KRaft controller does); then `--verify` says it is still in progress, `--list` and
  kafka-python's `list_partition_reassignments` show the replicas being added and removed
  (replicas = target, then the old ones it drops), the partition keeps taking acks=all writes,
  and `--cancel` puts the replica set back as it was, with nothing listed any more.
* DescribeLogDirs (kafka-python's `describe_log_dirs`) names, per broker, the partitions its log
  directory holds once a move completed.
* `--generate` (a topics-to-move file and a broker list) prints the current assignment and a
  proposal in Kafka's format, keeping each partition's replication factor on the listed brokers
  only; the proposal is a file `--execute` carries out; an unknown broker, a list shorter than
  the replication factor and a missing topic are refused.
* The tool refuses (non-zero exit) an unknown broker and a partition the topic does not have;
  on the wire (kafka-python's `alter_partition_reassignments`) an unregistered broker or one
  broker named twice is INVALID_REPLICA_ASSIGNMENT, a partition or topic that does not exist
  UNKNOWN_TOPIC_OR_PARTITION, a cancel with nothing to cancel NO_REASSIGNMENT_IN_PROGRESS; and
  nothing changes.
"""

import json
import struct
import subprocess
import threading
import time

import kafka.errors as kerrors
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka import TopicPartition as KpTopicPartition
from kafka.admin import KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

import kwire
from conftest import RILL_BIN
from test_replication import FAST_SESSION, TIMEOUT_S, partitions, read_all, wait_for

ALTER_PARTITION_REASSIGNMENTS = 45
LIST_PARTITION_REASSIGNMENTS = 46


# ---------------------------------------------------------------------------- helpers


def require_reassignment_apis(node):
    """Fails fast (rather than burning the timeout in retries) when `node` does not advertise
    AlterPartitionReassignments v0-1 and ListPartitionReassignments v0."""
    table = kwire.advertised(node.addr)
    alter = table.get(ALTER_PARTITION_REASSIGNMENTS)
    listing = table.get(LIST_PARTITION_REASSIGNMENTS)
    assert alter is not None and alter[0] == 0 and alter[1] >= 1, (
        f"{node.bootstrap} advertises AlterPartitionReassignments {alter} (want v0-1)")
    assert listing is not None and listing[0] == 0, (
        f"{node.bootstrap} advertises ListPartitionReassignments {listing} (want v0)")


def brokers(node):
    """The broker ids `node`'s Metadata lists (None while it does not answer)."""
    try:
        md = AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=10)
    except Exception:  # KafkaException: the broker is down or starting
        return None
    return sorted(md.brokers)


def create_placed(node, topic, placement, configs=None):
    """Creates `topic` with the manual assignment `placement` (kafka-python sends one as given;
    confluent-kafka's `NewTopic` refuses one), retrying until the controller takes it."""
    def attempt():
        admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
        new = KpNewTopic(topic, num_partitions=-1, replication_factor=-1,
                         replica_assignments=dict(enumerate(placement)),
                         topic_configs=configs or {})
        try:
            admin.create_topics([new], timeout_ms=TIMEOUT_S * 1000)
            return True
        except kerrors.TopicAlreadyExistsError:
            return True  # an earlier attempt that timed out on the client's side created it
        except Exception as e:  # a refusal (a broker of the placement not registered yet)
            print("create refused:", e)
            return None
        finally:
            admin.close()
    wait_for(f"{topic} created", attempt)


def wait_placed_in_sync(node, topic, placement):
    """Waits until every partition of `topic` has the replicas `placement` gives it, a leader,
    and all of them in its ISR."""
    return wait_for("every replica in sync", lambda: (lambda ps: ps if ps and all(
        replicas == placement[p] and leader >= 0 and isr == sorted(placement[p])
        for p, (leader, replicas, isr) in ps.items()) else None)(
            partitions(node, topic, len(placement))))


def plan_file(tmp_path, name, moves):
    """A `--reassignment-json-file` moving each (topic, partition) to its replicas."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": t, "partition": p, "replicas": r} for (t, p), r in moves.items()]}))
    return path


def reassign(node, *args):
    """`rill reassign-partitions` through `node`: (exit code, stdout, stdout and stderr)."""
    done = subprocess.run([str(RILL_BIN), "reassign-partitions", "--bootstrap-server",
                           node.bootstrap, *args],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    return done.returncode, done.stdout, done.stdout + done.stderr


def wait_completed(node, plan):
    """Polls `--verify` until it exits 0 (every partition of the plan completed): its output."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        code, _, out = reassign(node, "--reassignment-json-file", str(plan), "--verify")
        if code == 0:
            return out
        assert time.monotonic() < deadline, (
            f"the reassignment is not completed after {TIMEOUT_S} s (exit {code}):\n{out}")
        time.sleep(0.5)


def topic_dirs(node, topic):
    """The names in `node`'s data directory that belong to `topic`: its partition directories
    (`<topic>-<partition>`) and any a removal has not finished with (`…-delete`)."""
    data = node.data_dir / "data"
    return sorted(d.name for d in data.iterdir() if d.name.startswith(f"{topic}-"))


def log_dir_partitions(node, topic):
    """kafka-python's DescribeLogDirs to every broker: {broker: {partition of `topic`: whether
    its size is positive}}, each broker's log directory checked to be its data directory."""
    admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
    try:
        answers = admin.describe_log_dirs()
    finally:
        admin.close()
    held = {}
    for answer in answers:
        [log_dir] = answer["log_dirs"]
        assert log_dir["error_code"] == 0, log_dir
        assert log_dir["log_dir"].endswith("/data"), log_dir
        held[answer["broker"]] = {
            p["partition_index"]: p["partition_size"] > 0
            for t in log_dir["topics"] if t["name"] == topic for p in t["partitions"]}
    return held


def list_reassignments(node):
    """kafka-python's ListPartitionReassignments: {TopicPartition: {replicas, adding_replicas,
    removing_replicas}}."""
    admin = KafkaAdminClient(bootstrap_servers=node.bootstrap)
    try:
        return admin.list_partition_reassignments(timeout_ms=TIMEOUT_S * 1000)
    finally:
        admin.close()


def read_partition(bootstrap, topic, partition, expected):
    """The values of one partition from offset 0, in offset order, until `expected` arrived."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-p{partition}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0)])
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
    finally:
        consumer.close()
    return got


# ---------------------------------------------------------------------------- tests


@pytest.mark.timeout(180)
def test_reassignment_moves_a_partition_to_another_broker_under_load_without_losing_a_record(
        rill_cluster, topic_name, tmp_path):
    # Voters 1, 2, 3 hold the topic; broker-only node 4 holds nothing of it yet.
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=1)
    require_reassignment_apis(nodes[0])
    require_reassignment_apis(nodes[3])
    wait_for("node 4 registered", lambda: brokers(nodes[0]) == [1, 2, 3, 4])
    placement = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
    count = len(placement)
    create_placed(nodes[0], topic_name, placement, {"min.insync.replicas": "2"})
    wait_placed_in_sync(nodes[0], topic_name, placement)
    every = [f"{topic_name}-{p}" for p in range(count)]
    # A new partition's ISR is every replica from its creation (as in Kafka): each broker
    # opens its logs as it applies the metadata.
    wait_for("node 3 holds every partition", lambda: topic_dirs(nodes[2], topic_name) == every)
    assert topic_dirs(nodes[3], topic_name) == []

    bootstrap = ",".join(n.bootstrap for n in nodes)
    acked = {p: [] for p in range(count)}
    failed = []
    unflushed = []
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
            producer.produce(topic_name, value=f"v{sent}".encode(), partition=sent % count,
                             on_delivery=delivered)
            sent += 1
            producer.poll(0)
            time.sleep(0.002)
        unflushed.append(producer.flush(TIMEOUT_S * 2))

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        wait_for("records acknowledged on every partition before the move",
                 lambda: all(len(acked[p]) >= 50 for p in range(count)))
        target = {0: [1, 2, 4], 1: [2, 4, 1]}
        plan = plan_file(tmp_path, "move", {(topic_name, p): r for p, r in target.items()})
        # Through the broker-only node: it forwards to the controller quorum's leader.
        code, stdout, out = reassign(nodes[3], "--reassignment-json-file", str(plan),
                                     "--execute")
        assert code == 0, out
        assert "Successfully started" in stdout, out

        out = wait_completed(nodes[0], plan)
        for p in target:
            assert f"Reassignment of partition {topic_name}-{p} is completed." in out, out
        moved = wait_for("the target replicas in the metadata", lambda: (
            lambda ps: ps if ps and all(ps[p][1] == r for p, r in target.items()) else None)(
                partitions(nodes[0], topic_name, count)))
        assert moved[2][1] == [3, 1, 2], moved
        for p, r in target.items():
            leader, _, isr = moved[p]
            # The completion takes node 3 out of the replicas and the ISR at once.
            assert set(isr) <= set(r), (p, moved)
            assert leader in r, (p, moved)
        wait_for("node 4 in the ISR of both moved partitions", lambda: (
            lambda ps: ps and all(ps[p][2] == sorted(r) for p, r in target.items()))(
                partitions(nodes[0], topic_name, count)))
        code, _, out = reassign(nodes[1], "--list")
        assert code == 0, out
        assert "No partition reassignments found." in out, out

        # Node 3 removes its logs of the partitions it no longer holds (after the metadata
        # said so); node 4 has them now.
        wait_for("node 3's directories of partitions 0 and 1 removed",
                 lambda: topic_dirs(nodes[2], topic_name) == [f"{topic_name}-2"])
        assert topic_dirs(nodes[3], topic_name) == [f"{topic_name}-0", f"{topic_name}-1"]
        assert topic_dirs(nodes[0], topic_name) == every
        assert topic_dirs(nodes[1], topic_name) == every
        # DescribeLogDirs (kafka-python's describe_log_dirs, asking each broker) says the same:
        # which partitions each broker's one log directory holds, with their sizes.
        held = log_dir_partitions(nodes[0], topic_name)
        assert held[3] == {2: True}, held
        assert held[4] == {0: True, 1: True}, held
        assert held[1] == held[2] == {0: True, 1: True, 2: True}, held

        at_completion = {p: len(acked[p]) for p in target}
        time.sleep(3)
    finally:
        stop.set()
        writer.join(TIMEOUT_S * 3)
    assert not writer.is_alive(), "the producer did not finish"
    assert unflushed == [0], unflushed
    assert failed == []
    for p in target:
        assert len(acked[p]) > at_completion[p], f"partition {p} took no writes after the move"
    total = sum(map(len, acked.values()))
    got = read_all(bootstrap, topic_name, total, count)
    for p in range(count):
        # Exactly once and in order: nothing acknowledged was lost by the move.
        assert got[p] == acked[p], (p, len(got[p]), len(acked[p]))

    # Node 4 holds all of partition 1: with its first replica (node 2) gone, it leads it (the
    # first replica in assignment order that is in the ISR) and serves every record.
    nodes[1].kill9()
    wait_for("node 4 leading partition 1", lambda: (lambda ps: ps and ps[1][0] == 4)(
        partitions(nodes[0], topic_name, count)))
    got = read_partition(nodes[3].bootstrap, topic_name, 1, len(acked[1]))
    assert got == acked[1], (len(got), len(acked[1]))


@pytest.mark.timeout(180)
def test_list_and_cancel_a_reassignment_that_cannot_complete(rill_cluster, topic_name,
                                                             tmp_path):
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=1)
    require_reassignment_apis(nodes[0])
    wait_for("node 4 registered", lambda: brokers(nodes[0]) == [1, 2, 3, 4])
    create_placed(nodes[0], topic_name, [[1, 2, 3]])
    wait_placed_in_sync(nodes[0], topic_name, [[1, 2, 3]])
    # Node 4 stays registered but fenced: a valid target that can never catch up.
    nodes[3].kill9()
    wait_for("node 4 fenced", lambda: brokers(nodes[0]) == [1, 2, 3])

    plan = plan_file(tmp_path, "move", {(topic_name, 0): [1, 2, 4]})
    # The tool, like Kafka's, refuses a broker the cluster does not list (a fenced one) before
    # it changes anything...
    code, _, out = reassign(nodes[1], "--reassignment-json-file", str(plan), "--execute")
    assert code != 0, out
    assert "Unknown broker id(s) 4" in out, out
    tp = KpTopicPartition(topic_name, 0)
    assert list_reassignments(nodes[1]) == {}
    # ...but the controller takes one that is registered, fenced or not (Kafka's KRaft check).
    admin = KafkaAdminClient(bootstrap_servers=nodes[1].bootstrap)
    try:
        results = admin.alter_partition_reassignments({tp: [1, 2, 4]},
                                                      timeout_ms=TIMEOUT_S * 1000)
    finally:
        admin.close()
    assert results == {tp: None}, results
    # Replicas are the target, then the old replicas it drops, while the move is going on.
    wait_for("the reassignment in the metadata", lambda: (
        lambda ps: ps and ps[0][1] == [1, 2, 4, 3] and ps[0][2] == [1, 2, 3])(
            partitions(nodes[0], topic_name, 1)))
    time.sleep(2)  # time enough to complete, were it to complete without node 4

    code, _, out = reassign(nodes[0], "--reassignment-json-file", str(plan), "--verify")
    assert code != 0, out
    assert "still in progress" in out, out
    assert f"{topic_name}-0" in out, out
    code, _, out = reassign(nodes[2], "--list")
    assert code == 0, out
    assert f"{topic_name}-0" in out, out
    assert "adding: 4" in out, out
    assert "removing: 3" in out, out
    assert list_reassignments(nodes[2]) == {tp: {"replicas": [1, 2, 4, 3],
                                                 "adding_replicas": [4],
                                                 "removing_replicas": [3]}}

    # The partition serves meanwhile: node 4 is not in the ISR, so acks=all needs 1, 2, 3.
    bootstrap = ",".join(n.bootstrap for n in nodes[:3])

    def produce_one(value):
        errors = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                             "message.timeout.ms": 30000})
        producer.produce(topic_name, value=value, partition=0,
                         on_delivery=lambda err, msg: errors.append(err))
        assert producer.flush(TIMEOUT_S) == 0
        assert errors == [None], errors

    produce_one(b"during")

    code, _, out = reassign(nodes[0], "--reassignment-json-file", str(plan), "--cancel")
    assert code == 0, out
    assert f"Successfully cancelled partition reassignments for: {topic_name}-0" in out, out
    code, _, out = reassign(nodes[1], "--list")
    assert code == 0, out
    assert "No partition reassignments found." in out, out
    assert f"{topic_name}-0" not in out, out
    assert list_reassignments(nodes[1]) == {}
    wait_for("the replicas back as they were", lambda: (
        lambda ps: ps and ps[0][0] in (1, 2, 3) and ps[0][1:] == ([1, 2, 3], [1, 2, 3]))(
            partitions(nodes[0], topic_name, 1)))

    produce_one(b"after-cancel")
    got = read_all(bootstrap, topic_name, 2, 1)
    assert got[0] == [b"during", b"after-cancel"], got


def test_reassignment_refuses_unknown_brokers_and_partitions(rill_cluster, topic_name, tmp_path):
    nodes = rill_cluster(3)
    require_reassignment_apis(nodes[0])
    create_placed(nodes[0], topic_name, [[1, 2, 3]])
    wait_placed_in_sync(nodes[0], topic_name, [[1, 2, 3]])

    # The tool: a broker nobody registered, then a partition the topic does not have.
    plan = plan_file(tmp_path, "unknown-broker", {(topic_name, 0): [1, 99]})
    code, _, out = reassign(nodes[1], "--reassignment-json-file", str(plan), "--execute")
    assert code != 0, out
    # Like Kafka's, the tool checks the brokers against Metadata before it asks for anything.
    assert "Unknown broker id(s) 99" in out, out
    plan = plan_file(tmp_path, "unknown-partition", {(topic_name, 7): [1, 2, 3]})
    code, _, out = reassign(nodes[1], "--reassignment-json-file", str(plan), "--execute")
    assert code != 0, out
    assert "UNKNOWN_TOPIC_OR_PARTITION" in out and f"{topic_name}-7" in out, out

    # The wire: each partition's own error code, and no top-level error.
    tp0 = KpTopicPartition(topic_name, 0)
    tp7 = KpTopicPartition(topic_name, 7)
    nowhere = KpTopicPartition(f"{topic_name}-missing", 0)
    admin = KafkaAdminClient(bootstrap_servers=nodes[2].bootstrap)
    try:
        results = admin.alter_partition_reassignments(
            {tp0: [1, 99], tp7: [1, 2, 3], nowhere: [1, 2, 3]}, timeout_ms=TIMEOUT_S * 1000)
        assert results == {tp0: kerrors.InvalidReplicationAssignmentError,
                           tp7: kerrors.UnknownTopicOrPartitionError,
                           nowhere: kerrors.UnknownTopicOrPartitionError}, results
        results = admin.alter_partition_reassignments({tp0: [2, 2, 3]},
                                                      timeout_ms=TIMEOUT_S * 1000)
        assert results == {tp0: kerrors.InvalidReplicationAssignmentError}, results
        # A cancel (replicas null) with no reassignment going on.
        results = admin.alter_partition_reassignments({tp0: None}, timeout_ms=TIMEOUT_S * 1000)
        assert results == {tp0: kerrors.NoReassignmentInProgressError}, results
        assert admin.list_partition_reassignments(timeout_ms=TIMEOUT_S * 1000) == {}
    finally:
        admin.close()

    # Nothing changed.
    code, _, out = reassign(nodes[0], "--list")
    assert code == 0, out
    assert "No partition reassignments found." in out, out
    placed = partitions(nodes[0], topic_name, 1)
    assert placed is not None and placed[0][1:] == ([1, 2, 3], [1, 2, 3]), placed


def test_generate_proposes_a_plan_that_execute_carries_out(rill_cluster, topic_name, tmp_path):
    nodes = rill_cluster(3)
    require_reassignment_apis(nodes[0])
    create_placed(nodes[0], topic_name, [[1, 2], [2, 3], [3, 1]])
    wait_placed_in_sync(nodes[0], topic_name, [[1, 2], [2, 3], [3, 1]])
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"topics": [{"topic": topic_name}], "version": 1}))

    code, stdout, out = reassign(nodes[1], "--generate", "--topics-to-move-json-file",
                                 str(topics), "--broker-list", "1,3")
    assert code == 0, out
    lines = stdout.splitlines()
    # Kafka's text: the current assignment, a blank line, the proposal.
    assert lines[0] == "Current partition replica assignment", stdout
    assert lines[2] == "" and lines[3] == "Proposed partition reassignment configuration", stdout
    current = json.loads(lines[1])
    assert [(p["partition"], p["replicas"]) for p in current["partitions"]] == [
        (0, [1, 2]), (1, [2, 3]), (2, [3, 1])], current
    proposal = json.loads(lines[4])
    assert proposal["version"] == 1
    placed = {p["partition"]: p["replicas"] for p in proposal["partitions"]
              if p["topic"] == topic_name}
    assert sorted(placed) == [0, 1, 2], proposal
    # Each partition keeps its replication factor, on the listed brokers only.
    assert all(sorted(r) == [1, 3] for r in placed.values()), placed
    # Generating changed nothing.
    assert partitions(nodes[0], topic_name, 3)[1][1] == [2, 3]

    # The proposal is a file --execute takes; --verify sees it complete.
    plan = tmp_path / "proposal.json"
    plan.write_text(lines[4])
    code, _, out = reassign(nodes[0], "--reassignment-json-file", str(plan), "--execute")
    assert code == 0, out
    wait_completed(nodes[0], plan)
    wait_placed_in_sync(nodes[0], topic_name, [placed[0], placed[1], placed[2]])

    # Refused as Kafka's tool refuses: a broker the cluster does not have, more replicas than
    # brokers listed, a topic that does not exist, --generate without its files.
    code, _, out = reassign(nodes[0], "--generate", "--topics-to-move-json-file", str(topics),
                            "--broker-list", "1,9")
    assert code != 0 and "Unknown broker id(s) 9" in out, out
    code, _, out = reassign(nodes[0], "--generate", "--topics-to-move-json-file", str(topics),
                            "--broker-list", "2")
    assert code != 0 and "Replication factor: 2 larger than available brokers: 1." in out, out
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"topics": [{"topic": f"{topic_name}-none"}], "version": 1}))
    code, _, out = reassign(nodes[0], "--generate", "--topics-to-move-json-file", str(missing),
                            "--broker-list", "1,2")
    assert code != 0 and "UNKNOWN_TOPIC_OR_PARTITION" in out, out
    code, _, out = reassign(nodes[0], "--generate", "--broker-list", "1,2")
    assert code == 2 and "--generate needs --topics-to-move-json-file" in out, out


@pytest.mark.timeout(180)
def test_a_replica_added_after_delete_records_starts_at_the_leaders_log_start(
        rill_cluster, topic_name, tmp_path):
    """A new replica of a partition whose records below offset 10 were deleted (DeleteRecords;
    retention does the same) cannot fetch from offset 0: it restarts its empty log at the
    leader's log start, catches up, joins the ISR, and the move completes. The partition then
    starts at 10 on the new broker too, and a restart of that broker keeps it so."""
    nodes = rill_cluster(3, *FAST_SESSION)
    require_reassignment_apis(nodes[0])
    create_placed(nodes[0], topic_name, [[1]])
    wait_placed_in_sync(nodes[0], topic_name, [[1]])
    producer = Producer({"bootstrap.servers": nodes[0].bootstrap, "acks": "all"})
    for i in range(20):
        producer.produce(topic_name, value=f"v{i}".encode(), partition=0)
    assert producer.flush(TIMEOUT_S) == 0
    admin = AdminClient({"bootstrap.servers": nodes[0].bootstrap})
    deleted = admin.delete_records([TopicPartition(topic_name, 0, 10)])
    for future in deleted.values():
        assert future.result(TIMEOUT_S).low_watermark == 10

    plan = plan_file(tmp_path, "move", {(topic_name, 0): [2, 1]})
    code, out, both = reassign(nodes[0], "--reassignment-json-file", str(plan), "--execute")
    assert code == 0 and "Successfully started" in out, both
    wait_completed(nodes[0], plan)
    wait_for("both replicas in sync", lambda: (lambda ps: ps if ps and ps[0][1] == [2, 1]
             and ps[0][2] == [1, 2] else None)(partitions(nodes[0], topic_name, 1)))

    def earliest_and_values(node):
        consumer = Consumer({"bootstrap.servers": node.bootstrap, "group.id": f"{topic_name}-e",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, 0),
                                                       timeout=10)
        finally:
            consumer.close()
        return low, high

    # Broker 2 leads once broker 1 stops: its log starts at 10 and holds 10..19.
    nodes[0].kill9()
    wait_for("broker 2 leads", lambda: (lambda ps: ps if ps and ps[0][0] == 2 else None)(
        partitions(nodes[1], topic_name, 1)))
    assert earliest_and_values(nodes[1]) == (10, 20)
    assert read_partition(nodes[1].bootstrap, topic_name, 0, 10) == [
        f"v{i}".encode() for i in range(10, 20)]
    nodes[1].restart()
    wait_for("broker 2 leads again", lambda: (lambda ps: ps if ps and ps[0][0] == 2 else None)(
        partitions(nodes[1], topic_name, 1)))
    assert earliest_and_values(nodes[1]) == (10, 20)


def described(node, kind, name):
    """confluent-kafka's DescribeConfigs of one resource (a broker's goes to that broker):
    {key: (value, source name)}."""
    from confluent_kafka.admin import ConfigResource
    admin = AdminClient({"bootstrap.servers": node.bootstrap})
    resource = ConfigResource(kind, name)
    [future] = admin.describe_configs([resource], request_timeout=TIMEOUT_S).values()
    return {k: (e.value, e.source) for k, e in future.result(timeout=TIMEOUT_S).items()}


@pytest.mark.timeout(240)
def test_a_throttled_move_is_paced_by_the_rate_and_verify_clears_the_throttles(
        rill_cluster, topic_name, tmp_path):
    from confluent_kafka.admin import ConfigResource, ConfigSource
    nodes = rill_cluster(3, *FAST_SESSION, broker_only=1)
    require_reassignment_apis(nodes[0])
    wait_for("node 4 registered", lambda: brokers(nodes[0]) == [1, 2, 3, 4])
    create_placed(nodes[0], topic_name, [[1, 2, 3]])
    wait_placed_in_sync(nodes[0], topic_name, [[1, 2, 3]])
    # About 4 MB to copy to node 4; nothing is written during the move.
    producer = Producer({"bootstrap.servers": nodes[0].bootstrap, "acks": "all",
                         "linger.ms": 20, "batch.size": 64 * 1024})
    value = b"x" * 1000
    for _ in range(4000):
        producer.produce(topic_name, value=value, partition=0)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0
    rate = 1_000_000
    plan = plan_file(tmp_path, "throttled", {(topic_name, 0): [1, 2, 4]})
    started = time.monotonic()
    code, stdout, out = reassign(nodes[0], "--reassignment-json-file", str(plan), "--execute",
                                 "--throttle", str(rate))
    assert code == 0, out
    assert f"The inter-broker throttle limit was set to {rate} B/s" in stdout, out
    assert "You must run --verify periodically" in stdout, out
    # Kafka's throttle configs: the move's sources lead throttled, its destination follows so.
    topic = described(nodes[0], ConfigResource.Type.TOPIC, topic_name)
    assert topic["leader.replication.throttled.replicas"][0] == "0:1,0:2,0:3", topic
    assert topic["follower.replication.throttled.replicas"][0] == "0:4", topic
    for node_id, node in enumerate(nodes, start=1):
        broker = described(node, ConfigResource.Type.BROKER, str(node_id))
        assert broker["leader.replication.throttled.rate"] == (
            str(rate), ConfigSource.DYNAMIC_BROKER_CONFIG.value), broker
        assert broker["follower.replication.throttled.rate"] == (
            str(rate), ConfigSource.DYNAMIC_BROKER_CONFIG.value), broker
    while True:
        code, _, out = reassign(nodes[0], "--reassignment-json-file", str(plan), "--verify")
        if code == 0:
            break
        # Still moving: the throttles stay until it completes.
        assert "Clearing" not in out, out
        assert time.monotonic() - started < 120, f"the throttled move did not complete:\n{out}"
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    print(f"the throttled move took {elapsed:.1f} s")
    # The quota lets one second of the rate through at once, then paces the rest: 4 MB at
    # 1 MB/s take at least about 3 s (an unthrottled move of 4 MB takes well under one).
    assert elapsed >= 2.5, f"the move took {elapsed:.1f} s: not paced by {rate} B/s"
    assert "Clearing broker-level throttles on brokers 1,2,3,4" in out, out
    assert f"Clearing topic-level throttles on topic {topic_name}" in out, out
    topic = described(nodes[0], ConfigResource.Type.TOPIC, topic_name)
    assert topic["leader.replication.throttled.replicas"][0] in ("", None), topic
    for node_id, node in enumerate(nodes, start=1):
        broker = described(node, ConfigResource.Type.BROKER, str(node_id))
        assert broker["leader.replication.throttled.rate"] == (
            str(2**63 - 1), ConfigSource.DEFAULT_CONFIG.value), broker
    got = read_partition(nodes[3].bootstrap, topic_name, 0, 4000)
    assert len(got) == 4000


@pytest.mark.timeout(180)
def test_dynamic_broker_configs_are_set_described_refused_and_survive_restarts(
        rill_cluster, tmp_path):
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       ConfigSource)
    from confluent_kafka import KafkaException
    nodes = rill_cluster(3, *FAST_SESSION)
    wait_for("three brokers", lambda: brokers(nodes[0]) == [1, 2, 3])
    admin = AdminClient({"bootstrap.servers": nodes[0].bootstrap})

    def alter(name, *ops):
        resource = ConfigResource(ConfigResource.Type.BROKER, name, incremental_configs=[
            ConfigEntry(key, value, incremental_operation=op) for key, value, op in ops])
        [future] = admin.incremental_alter_configs([resource]).values()
        return future.result(timeout=TIMEOUT_S)

    SET, DELETE = AlterConfigOpType.SET, AlterConfigOpType.DELETE
    # The cluster default, the BROKER resource "" (kafka-configs --entity-default), which
    # neither Python client names: IncrementalAlterConfigs v0 on the wire.
    assert alter_cluster_default(nodes[0], [("leader.replication.throttled.rate", 0, "5000"),
                                            ("follower.replication.throttled.rate", 0, "7000")]) == 0
    alter("2", ("leader.replication.throttled.rate", "9000", SET))
    # Only the throttle rates are dynamic; a bad value and a static key are INVALID_CONFIG.
    for key, value in [("leader.replication.throttled.rate", "-1"),
                       ("log.retention.ms", "1000")]:
        with pytest.raises(KafkaException) as refused:
            alter("1", (key, value, SET))
        assert refused.value.args[0].name() == "INVALID_CONFIG", refused.value
    dynamic = ConfigSource.DYNAMIC_BROKER_CONFIG.value
    default = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value

    def rates(node, node_id):
        got = described(node, ConfigResource.Type.BROKER, str(node_id))
        return (got["leader.replication.throttled.rate"],
                got["follower.replication.throttled.rate"])

    def expected():
        # Broker 2's own value wins over the cluster default; the others take the default.
        assert rates(nodes[1], 2) == (("9000", dynamic), ("7000", default))
        assert rates(nodes[0], 1) == (("5000", default), ("7000", default))
        assert rates(nodes[2], 3) == (("5000", default), ("7000", default))

    def described_as_expected():
        try:
            expected()
            return True
        except (AssertionError, KafkaException):
            return None

    # Each broker describes the metadata it applied: soon after the controller committed it.
    wait_for("the configs described", described_as_expected)
    # The metadata log keeps them: every node killed and started again still has them.
    for node in nodes:
        node.kill9()
    start_all(nodes)
    admin = AdminClient({"bootstrap.servers": nodes[0].bootstrap})

    wait_for("the configs described again", described_as_expected)
    expected()
    alter("2", ("leader.replication.throttled.rate", None, DELETE))
    assert rates(nodes[1], 2)[0] == ("5000", default)


def start_all(nodes):
    """Starts the stopped nodes at once (a voter serves only once the quorum is back) and waits
    until all three are listed."""
    starts = [threading.Thread(target=node.start) for node in nodes]
    for start in starts:
        start.start()
    for start in starts:
        start.join(TIMEOUT_S)
    wait_for("three brokers again", lambda: brokers(nodes[0]) == [1, 2, 3])


def alter_cluster_default(node, ops):
    """IncrementalAlterConfigs v0 of the BROKER resource "" (the cluster default, which
    neither Python client names) through `node`: its error code. `ops`: (key, op, value)."""
    def text(s):
        return struct.pack(">h", len(s)) + s.encode()

    body = struct.pack(">ib", 1, 4) + text("") + struct.pack(">i", len(ops))
    for key, op, value in ops:
        body += text(key) + struct.pack(">b", op)
        body += text(value) if value is not None else struct.pack(">h", -1)
    body += struct.pack(">b", 0)
    with kwire.Conn(node.addr) as conn:
        answer = conn.request(44, 0, body)
    (count,) = struct.unpack_from(">i", answer, 4)
    (code,) = struct.unpack_from(">h", answer, 8)
    assert count == 1, answer
    return code


@pytest.mark.timeout(240)
def test_the_cluster_wide_min_insync_replicas_is_kept_in_the_metadata_log(
        rill_cluster, topic_name):
    """KIP-966's rule, as Kafka keeps it with eligible leader replicas on: the first controller
    writes its static min.insync.replicas (1 here) into the metadata log as the cluster's; it is
    set only for the resource "" (a broker's own is INVALID_CONFIG), never removed, and every
    broker takes a new value at once, for every topic without its own: acks=all is refused
    NOT_ENOUGH_REPLICAS under it and accepted again when it is lowered. It survives restarts."""
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       ConfigSource)
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic
    nodes = rill_cluster(3, *FAST_SESSION)
    wait_for("three brokers", lambda: brokers(nodes[0]) == [1, 2, 3])
    admin = AdminClient({"bootstrap.servers": nodes[0].bootstrap})
    admin.create_topics([NewTopic(topic_name, 1, 3)])[topic_name].result(TIMEOUT_S)
    wait_for("all three in sync", lambda: (lambda ps: ps and len(ps[0][2]) == 3)(
        partitions(nodes[0], topic_name, 1)))
    default = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
    topic = ConfigResource.Type.TOPIC

    def topic_min_isr():
        return described(nodes[0], topic, topic_name)["min.insync.replicas"]

    assert topic_min_isr() == ("1", default), "seeded from the controller's static value"
    INVALID_CONFIG, SET, DELETE = 40, 0, 1
    assert alter_cluster_default(nodes[0], [("min.insync.replicas", DELETE, None)]) == \
        INVALID_CONFIG, "never removed"
    assert alter_cluster_default(nodes[0], [("min.insync.replicas", SET, "0")]) == \
        INVALID_CONFIG
    one_broker = ConfigResource(ConfigResource.Type.BROKER, "1", incremental_configs=[
        ConfigEntry("min.insync.replicas", "2", incremental_operation=AlterConfigOpType.SET)])
    [future] = admin.incremental_alter_configs([one_broker]).values()
    with pytest.raises(KafkaException) as refused:
        future.result(timeout=TIMEOUT_S)
    assert refused.value.args[0].name() == "INVALID_CONFIG", refused.value

    bootstrap = ",".join(n.bootstrap for n in nodes[:2])

    def produce(acks):
        errors = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": acks,
                             "message.timeout.ms": 10000, "retries": 0})
        producer.produce(topic_name, value=f"acks={acks}".encode(), partition=0,
                         on_delivery=lambda err, msg: errors.append(err))
        producer.flush(TIMEOUT_S)
        return errors

    assert alter_cluster_default(nodes[0], [("min.insync.replicas", SET, "3")]) == 0
    wait_for("3 described", lambda: topic_min_isr() == ("3", default))
    assert produce("all") == [None], "three of three in sync"
    nodes[2].kill9()
    wait_for("node 3 out of the ISR", lambda: (lambda ps: ps and ps[0][2] == [1, 2])(
        partitions(nodes[0], topic_name, 1)))
    errors = produce("all")
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() == KafkaError.NOT_ENOUGH_REPLICAS, errors
    assert produce("1") == [None], "acks=1 needs the leader only"
    # Lowered to 2: the brokers reconfigure their logs, and two in sync are enough again.
    assert alter_cluster_default(nodes[0], [("min.insync.replicas", SET, "2")]) == 0
    wait_for("acks=all accepted under the new value", lambda: produce("all") == [None])
    # The metadata log keeps it: every node killed and started again still has it.
    for node in nodes[:2]:
        node.kill9()
    start_all(nodes)
    wait_for("2 described after the restarts", lambda: topic_min_isr() == ("2", default))
    got = read_all(nodes[0].bootstrap, topic_name, 3, 1)
    assert got[0][0] == b"acks=all", got
    assert b"acks=1" in got[0], got
