"""The admin endpoint (`admin.listener`): Prometheus metrics read with Prometheus' own text
parser after real clients worked against the broker, liveness and readiness on one node and on a
cluster, structured (JSON) logs carrying a request's identity, and a busy configured port.
"""

import json
import os
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import RILL_BIN, RillServer, free_port
from kwire import Conn


def get(url, timeout_s=10):
    """(status, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(server):
    """Every sample of the server's /metrics, parsed by the Prometheus client's parser (which
    refuses text that is not the exposition format): {(name, frozenset(labels)): value}."""
    status, text = get(server.admin_url + "/metrics")
    assert status == 200, text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def values(samples, name, **labels):
    """Every sample of `name` whose labels include `labels`: {labels dict as tuple: value}."""
    wanted = set(labels.items())
    return {
        tuple(sorted(key[1])): v
        for key, v in samples.items()
        if key[0] == name and wanted <= set(key[1])
    }


def create(bootstrap, topic, partitions, replication=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, replication)])
    futures[topic].result(timeout=30)


def test_metrics_count_what_real_clients_did(rill, topic_name):
    create(rill.bootstrap, topic_name, 2)
    producer = Producer({"bootstrap.servers": rill.bootstrap, "linger.ms": 0})
    values_sent = [f"value-{i}".encode() for i in range(10)]
    for i, v in enumerate(values_sent):
        producer.produce(topic_name, value=v, partition=0)
    for v in values_sent[:3]:
        producer.produce(topic_name, value=v, partition=1)
    assert producer.flush(30) == 0
    # A group that consumed and committed 4 of partition 0's 10 records and 3 of partition 1's.
    consumer = Consumer({
        "bootstrap.servers": rill.bootstrap,
        "group.id": "metrics-group",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.assign([TopicPartition(topic_name, 0, 0), TopicPartition(topic_name, 1, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 13 and time.monotonic() < deadline:
        message = consumer.poll(1)
        if message is not None and message.error() is None:
            got.append(message)
    assert len(got) == 13
    consumer.commit(offsets=[TopicPartition(topic_name, 0, 4), TopicPartition(topic_name, 1, 3)],
                    asynchronous=False)
    consumer.close()

    samples = scrape(rill)
    # Bytes and messages in and out, per topic, Kafka's BrokerTopicMetrics names.
    assert value(samples, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic_name) == 13
    bytes_in = value(samples, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic_name)
    assert bytes_in >= sum(len(v) for v in values_sent) + 3 * 7
    bytes_out = value(samples, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic_name)
    assert bytes_out >= sum(len(v) for v in values_sent)
    assert value(samples, "kafka_server_brokertopicmetrics_bytesin_total") >= bytes_in
    # Requests by API, with their latency histogram.
    assert value(samples, "kafka_network_requestmetrics_requests_total", request="Produce") >= 1
    assert value(samples, "kafka_network_requestmetrics_requests_total", request="Fetch") >= 1
    produce_count = value(samples, "kafka_network_requestmetrics_totaltimems_count", request="Produce")
    assert produce_count >= 1
    inf = value(samples, "kafka_network_requestmetrics_totaltimems_bucket", request="Produce", le="+Inf")
    assert inf == produce_count
    # The logs: next offsets and sizes per partition.
    assert value(samples, "kafka_log_log_logendoffset", topic=topic_name, partition="0") == 10
    assert value(samples, "kafka_log_log_logendoffset", topic=topic_name, partition="1") == 3
    assert value(samples, "kafka_log_log_size", topic=topic_name, partition="0") > 0
    assert value(samples, "kafka_log_log_numlogsegments", topic=topic_name, partition="0") == 1
    # The group's lag, kafka_exporter's names.
    assert value(samples, "kafka_consumergroup_lag", consumergroup="metrics-group",
                 topic=topic_name, partition="0") == 6
    assert value(samples, "kafka_consumergroup_lag", consumergroup="metrics-group",
                 topic=topic_name, partition="1") == 0
    assert value(samples, "kafka_consumergroup_current_offset", consumergroup="metrics-group",
                 topic=topic_name, partition="0") == 4
    # The quorum of one: this node leads it and every partition.
    assert value(samples, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert value(samples, "kafka_server_raft_metrics_current_leader") == 1
    assert value(samples, "kafka_server_broker_metadata_metrics_last_applied_record_lag") == 0
    assert value(samples, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(samples, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    # Every partition led here is held here once its log opened (the offsets topic's open as
    # the group first needs them).
    deadline = time.monotonic() + 20
    while True:
        leaders = value(samples, "kafka_server_replicamanager_leadercount")
        held = value(samples, "kafka_server_replicamanager_partitioncount")
        if leaders == held or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        samples = scrape(rill)
    assert leaders == held >= 2
    # The fsyncs of acks=all appends.
    assert value(samples, "kafka_log_logflushstats_logflushrateandtimems_count") >= 1

    # A connection held open is counted on its listener; the counter of accepted ones grows.
    with Conn(rill.addr) as conn:
        conn.api_versions()
        held = scrape(rill)
        assert value(held, "kafka_server_socketservermetrics_connection_count", listener="PLAINTEXT") >= 1
    created = value(held, "kafka_server_socketservermetrics_connection_creation_total", listener="PLAINTEXT")
    assert created >= 3


def test_health_and_readiness_on_one_node(rill):
    status, body = get(rill.admin_url + "/healthz")
    assert (status, body) == (200, "ok\n")
    status, body = get(rill.admin_url + "/readyz")
    assert status == 200, body
    assert json.loads(body) == {"ready": True, "reasons": []}
    status, body = get(rill.admin_url + "/")
    assert status == 200 and "<title>Rill console</title>" in body and 'href="metrics"' in body
    assert get(rill.admin_url + "/nothing-here")[0] == 404


def test_a_node_waiting_for_its_quorum_is_live_but_not_ready(tmp_path):
    # Node 1 of a three-voter quorum, alone: it cannot be elected, so it never serves.
    voters = ",".join(f"{i}@127.0.0.1:{free_port()}" for i in (1, 2, 3))
    server = RillServer(tmp_path / "n1", ["--node-id", "1", "--override",
                                          f"controller.quorum.voters={voters}"],
                        controller_port=int(voters.split(",")[0].rsplit(":", 1)[1]))
    server.data_dir.mkdir()
    server._spawn()
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                status, body = get(server.admin_url + "/healthz", timeout_s=2)
                break
            except OSError:
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.1)
        assert status == 200, body
        status, body = get(server.admin_url + "/readyz")
        assert status == 503, body
        reasons = json.loads(body)["reasons"]
        assert any("not serving yet" in r for r in reasons), reasons
        assert any("has not named the cluster" in r for r in reasons), reasons
        samples = scrape(server)
        assert value(samples, "kafka_controller_kafkacontroller_activecontrollercount") == 0
        assert value(samples, "kafka_server_raft_metrics_current_leader") == -1
    finally:
        server.stop()


def test_cluster_metrics_name_one_controller_and_see_a_dead_replica(rill_cluster, topic_name):
    nodes = rill_cluster(3)
    create(nodes[0].bootstrap, topic_name, 3, replication=3)
    producer = Producer({"bootstrap.servers": nodes[0].bootstrap, "acks": "all"})
    for i in range(30):
        producer.produce(topic_name, value=b"x" * 10, partition=i % 3)
    assert producer.flush(30) == 0

    def all_scraped():
        return [scrape(node) for node in nodes if node.alive()]

    # One active controller, and every node names it (asked again while a change settles).
    deadline = time.monotonic() + 20
    while True:
        scraped = all_scraped()
        active = sorted(value(s, "kafka_controller_kafkacontroller_activecontrollercount") for s in scraped)
        leader_ids = {value(s, "kafka_server_raft_metrics_current_leader") for s in scraped}
        if (active == [0, 0, 1] and len(leader_ids) == 1) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert active == [0, 0, 1], active
    assert len(leader_ids) == 1 and leader_ids.pop() in (1, 2, 3)
    # Each partition of the topic is led by exactly one node, and held by all three.
    led = sum(len(values(s, "kafka_cluster_partition_underreplicated", topic=topic_name)) for s in scraped)
    assert led == 3
    for s in scraped:
        assert sum(values(s, "kafka_log_log_logendoffset", topic=topic_name).values()) == 30
    # A dead replica: the partitions it held become under-replicated where they are led.
    victim = nodes[2]
    victim.kill9()
    deadline = time.monotonic() + 60
    while True:
        scraped = all_scraped()
        under = sum(value(s, "kafka_server_replicamanager_underreplicatedpartitions") for s in scraped)
        if under >= 3:
            break
        assert time.monotonic() < deadline, f"under-replicated partitions: {under}"
        time.sleep(0.5)
    assert sum(value(s, "kafka_controller_kafkacontroller_activecontrollercount") for s in scraped) == 1
    assert sum(value(s, "kafka_controller_kafkacontroller_offlinepartitionscount") for s in scraped) == 0
    for s in scraped:
        status_ok = values(s, "kafka_cluster_partition_underreplicated", topic=topic_name)
        assert all(v == 1 for v in status_ok.values()), status_ok


def test_json_logs_carry_the_request_that_made_them(tmp_path):
    data = tmp_path / "json"
    data.mkdir()
    port, admin_port = free_port(), free_port()
    log_path = data / "server.stderr"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(RILL_BIN), "server", "--listeners", f"PLAINTEXT://127.0.0.1:{port}",
             "--log-dirs", str(data / "data"), "--override", "log.format=json",
             "--override", f"admin.listener=127.0.0.1:{admin_port}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"},
        )
    try:
        deadline = time.monotonic() + 15
        while b'"message":"serving"' not in log_path.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        # A Metadata v1 request whose topic count claims more topics than its bytes hold.
        with Conn(("127.0.0.1", port)) as conn:
            conn.client_id = "json-logs-client"
            conn.correlation_id = 76
            conn.send_request(3, 1, struct.pack(">i", 0x7FFFFFFF))
            assert conn.closed_by_peer()
        deadline = time.monotonic() + 10
        while True:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            flagged = [line for line in lines if any(
                span.get("correlation_id") == 77 for span in line.get("spans", []))]
            if flagged or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert flagged, "\n".join(json.dumps(line) for line in lines[-10:])
        line = flagged[0]
        assert line["level"] in ("WARN", "INFO", "DEBUG", "ERROR")
        spans = {span["name"]: span for span in line["spans"]}
        assert spans["request"]["api"] == "Metadata"
        assert spans["request"]["client_id"] == "json-logs-client"
        assert spans["conn"]["listener"] == "PLAINTEXT"
        assert spans["conn"]["client"].startswith("127.0.0.1:")
        # Every line is one JSON object.
        assert all(line.startswith("{") for line in log_path.read_text().splitlines() if line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_configured_admin_port_that_is_taken_stops_the_server(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    try:
        data = tmp_path / "busy"
        data.mkdir()
        run = subprocess.run(
            [str(RILL_BIN), "server", "--listeners", f"PLAINTEXT://127.0.0.1:{free_port()}",
             "--log-dirs", str(data / "data"), "--override", f"admin.listener=127.0.0.1:{taken}"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert run.returncode != 0
        assert f"127.0.0.1:{taken} (admin.listener)" in run.stderr.decode(), run.stderr.decode()
    finally:
        holder.close()


def test_a_bad_admin_listener_is_refused_up_front(tmp_path):
    run = subprocess.run(
        [str(RILL_BIN), "server", "--log-dirs", str(tmp_path / "d"),
         "--override", "admin.listener=admin.example:9644"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
    )
    assert run.returncode == 2
    assert "admin.listener" in run.stderr.decode() and "not host:port" in run.stderr.decode()
