"""SASL re-authentication (KIP-368, `connections.max.reauth.ms`) against a real `rill server`:
a SASL_PLAINTEXT listener offering PLAIN, sessions of REAUTH_MS.

* SaslAuthenticate v1+ answers the session's lifetime; a client that does not authenticate
  again before it ends has its connection closed at its next request (raw wire).
* A client that authenticates again on the same connection (SaslHandshake + SaslAuthenticate)
  keeps it past the first session's end; as a different principal it is closed.
* librdkafka (confluent-kafka) re-authenticates by itself: a producer kept busy over several
  sessions delivers everything on its one connection to the broker.
* kafka-python, which may not re-authenticate, is disconnected when its session ends and
  reconnects: it delivers everything too.
"""

import json
import time

import pytest
from confluent_kafka import Producer
from kafka import KafkaProducer

import ck
import kwire
from conftest import RillServer, free_port

REAUTH_MS = 2000
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
USERS = {"alice": "alice-secret", "bob": "bob-secret"}
JAAS = f"{PLAIN_MODULE} required " + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";"
SETTINGS = {
    "sasl.enabled.mechanisms": "PLAIN",
    "rill.sasl.plain.over.plaintext.enable": "true",
    "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
    "connections.max.reauth.ms": str(REAUTH_MS),
}
METADATA_V1 = (kwire.API_KEYS["Metadata"], 1)


class ReauthServer(RillServer):
    """`rill server` with PLAINTEXT (`port`, the readiness probe) and SASL_PLAINTEXT."""

    def __init__(self, data_dir):
        args = [arg for key, value in SETTINGS.items() for arg in ("--override", f"{key}={value}")]
        super().__init__(data_dir, args)
        self.sasl_port = free_port()

    def _listeners(self):
        return f"PLAINTEXT://{self.bootstrap},SASL_PLAINTEXT://{self.sasl_bootstrap}"

    @property
    def sasl_bootstrap(self):
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def sasl_addr(self):
        return ("127.0.0.1", self.sasl_port)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ReauthServer(tmp_path_factory.mktemp("reauth"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def metadata(conn):
    """One Metadata v1: the brokers it lists (raises when the broker closed the connection)."""
    return conn.metadata_v1()


def test_a_session_that_is_not_renewed_ends_with_its_connection(server):
    with kwire.Conn(server.sasl_addr) as conn:
        answer = conn.sasl_plain("alice", USERS["alice"], version=1)
        assert (answer["error_code"], answer["session_lifetime_ms"]) == (0, REAUTH_MS)
        assert metadata(conn)
        time.sleep(REAUTH_MS / 1000 + 0.5)
        conn.send_request(*METADATA_V1, b"\xff\xff\xff\xff")
        assert conn.closed_by_peer(timeout_s=5), "an expired session must not be served"
    # v0 has no lifetime field: its clients cannot renew, and are closed all the same.
    with kwire.Conn(server.sasl_addr) as conn:
        answer = conn.sasl_plain("alice", USERS["alice"], version=0)
        assert answer["error_code"] == 0 and "session_lifetime_ms" not in answer
        time.sleep(REAUTH_MS / 1000 + 0.5)
        conn.send_request(*METADATA_V1, b"\xff\xff\xff\xff")
        assert conn.closed_by_peer(timeout_s=5)


def test_authenticating_again_on_the_connection_renews_the_session(server):
    with kwire.Conn(server.sasl_addr) as conn:
        assert conn.sasl_plain("alice", USERS["alice"])["error_code"] == 0
        for _ in range(3):
            # Renewed before each session ends: served well past the first one's end.
            time.sleep(REAUTH_MS / 1000 * 0.6)
            answer = conn.sasl_plain("alice", USERS["alice"])
            assert (answer["error_code"], answer["session_lifetime_ms"]) == (0, REAUTH_MS)
            assert metadata(conn)
    # Another principal on the same connection: Kafka's rule, a failed login, then closed.
    with kwire.Conn(server.sasl_addr) as conn:
        assert conn.sasl_plain("alice", USERS["alice"])["error_code"] == 0
        answer = conn.sasl_plain("bob", USERS["bob"])
        assert answer["error_code"] == 58, answer
        assert "Cannot change principals during re-authentication" in answer["error_message"], answer
        assert conn.closed_by_peer(timeout_s=5)
    # A wrong password when renewing: answered as a failed login, then closed.
    with kwire.Conn(server.sasl_addr) as conn:
        assert conn.sasl_plain("alice", USERS["alice"])["error_code"] == 0
        assert conn.sasl_plain("alice", "wrong")["error_code"] == 58
        assert conn.closed_by_peer(timeout_s=5)


def test_librdkafka_renews_its_session_and_keeps_its_connection(server, topic_name):
    ck.create_topic(server.bootstrap, topic_name, 1)
    stats = []
    producer = Producer({
        "bootstrap.servers": server.sasl_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": USERS["alice"],
        "statistics.interval.ms": 500,
        "stats_cb": stats.append,
    })
    delivered, failed = [], []

    def on_delivery(err, msg):
        (failed if err else delivered).append(err or msg.offset())

    deadline = time.monotonic() + 4 * REAUTH_MS / 1000
    sent = 0
    while time.monotonic() < deadline:
        producer.produce(topic_name, f"v{sent}".encode(), on_delivery=on_delivery)
        sent += 1
        producer.poll(0.1)
    assert producer.flush(15) == 0
    assert not failed, failed
    assert len(delivered) == sent
    producer.poll(1.0)
    # The broker's one connection (node 1) was never closed: re-authenticated in place.
    brokers = json.loads(stats[-1])["brokers"]
    node = [b for b in brokers.values() if b["nodeid"] == 1]
    assert node and node[0]["connects"] == 1 and node[0]["disconnects"] == 0, node


def test_kafka_python_delivers_across_sessions(server, topic_name):
    ck.create_topic(server.bootstrap, topic_name, 1)
    producer = KafkaProducer(
        bootstrap_servers=server.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        sasl_plain_password=USERS["alice"],
        retries=5,
    )
    try:
        futures = []
        deadline = time.monotonic() + 3 * REAUTH_MS / 1000
        while time.monotonic() < deadline:
            futures.append(producer.send(topic_name, f"v{len(futures)}".encode()))
            time.sleep(0.1)
        offsets = [f.get(timeout=20).offset for f in futures]
        assert len(set(offsets)) == len(futures)
    finally:
        producer.close()
