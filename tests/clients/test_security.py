"""TLS and SASL (issue 16) with real clients and raw frames against real `rill server` processes.

Two servers for the whole module (certificates from tests/fixtures/tls, made by its make.sh):

* `secure`: the four listeners SASL_SSL, SSL, SASL_PLAINTEXT and PLAINTEXT (Kafka's default
  listener.security.protocol.map), SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN enabled, PLAIN's users
  in the SASL_SSL listener's JAAS config; SASL_PLAINTEXT offers SCRAM only (its own
  `sasl.enabled.mechanisms`: Rill refuses to start with PLAIN there unless
  `rill.sasl.plain.over.plaintext.enable=true`). SCRAM users are made through
  the PLAINTEXT listener with `rill configs --alter --entity-type users` (kafka-configs' form):
  alice (SCRAM-SHA-512 and -256) and bob (SCRAM-SHA-512 only, 8192 iterations).
* `mtls`: an SSL listener with `ssl.client.auth=required` (the truststore is ca.pem), and a
  PLAINTEXT one for set-up and for checking from outside that nothing arrived.

Topics are made through the PLAINTEXT listener (except where the test makes them over the
secure login it checks); clients then bootstrap from the secure listener and must be sent
back to that same listener by Metadata. Failing logins use short client timeouts and finish
in a few seconds. Every test asserts something a broker without the feature would fail.
"""

import asyncio
import json
import logging
import ssl
import struct
import subprocess
import time
import uuid
from collections import namedtuple

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka.helpers import create_ssl_context
from confluent_kafka import KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

import ck
import kwire
from conftest import REPO, RILL_BIN, RillServer, free_port
from test_kcat import KCAT, OUT_FORMAT, parse, sent_from

pytestmark = pytest.mark.security

TLS = REPO / "tests" / "fixtures" / "tls"
CA = str(TLS / "ca.pem")

PARTITIONS = 3
N = 60
TIMEOUT_MS = 15000
KCAT_TIMEOUT_S = 40
# A login that must fail: the client gives up on its messages after this long...
FAIL_MESSAGE_TIMEOUT_MS = 3000
# ... and the test waits at most this long for it to report them.
FAIL_FLUSH_S = 10

# The broker's fixed texts for a failed SaslAuthenticate (Kafka's): the same for a wrong
# password, an unknown user and a bad SCRAM message, so the text tells an attacker nothing.
PLAIN_FAILED = "Authentication failed: Invalid username or password"


def scram_failed(mechanism):
    return f"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"


# SCRAM users: name -> (password, kafka-configs' --add-config).
SCRAM_USERS = {
    "alice": ("alice-secret", "SCRAM-SHA-512=[password=alice-secret],SCRAM-SHA-256=[password=alice-secret]"),
    "bob": ("bob-secret", "SCRAM-SHA-512=[iterations=8192,password=bob-secret]"),
}
# PLAIN users (the SASL_SSL listener's JAAS config): name -> password.
PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret"}
JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required " + " ".join(
    f'user_{user}="{password}"' for user, password in PLAIN_USERS.items()
) + ";"

# Mechanisms as sasl.enabled.mechanisms lists them; SASL_PLAINTEXT offers them without PLAIN.
ENABLED = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
ENABLED_WITHOUT_TLS = ["SCRAM-SHA-512", "SCRAM-SHA-256"]

TLS_SETTINGS = {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": str(TLS / "server.pem"),
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": CA,
}
SECURE_SETTINGS = {
    **TLS_SETTINGS,
    "sasl.enabled.mechanisms": ",".join(ENABLED),
    "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS,
    # PLAIN over SASL_PLAINTEXT is refused at start unless allowed: that listener offers SCRAM.
    "listener.name.sasl_plaintext.sasl.enabled.mechanisms": ",".join(ENABLED_WITHOUT_TLS),
    "rill.sasl.plain.over.plaintext.enable": "false",
}
MTLS_SETTINGS = {**TLS_SETTINGS, "ssl.client.auth": "required"}


# ---------------------------------------------------------------------------- servers


class SecureServer(RillServer):
    """`rill server` with the named listeners (each on its own port) and a PLAINTEXT one;
    `port` and `bootstrap` are PLAINTEXT's (the readiness probe, topic set-up, checks)."""

    def __init__(self, data_dir, listeners, settings):
        args = [arg for key, value in settings.items() for arg in ("--override", f"{key}={value}")]
        super().__init__(data_dir, args)
        self.ports = {name: free_port() for name in listeners}
        self.ports["PLAINTEXT"] = self.port

    def _listeners(self):
        return ",".join(f"{name}://127.0.0.1:{port}" for name, port in self.ports.items())

    def addr_of(self, listener):
        return ("127.0.0.1", self.ports[listener])

    def bootstrap_of(self, listener):
        return f"127.0.0.1:{self.ports[listener]}"


# Every server this module started, attached to the report of a failing test (conftest's hook).
_SERVERS = []


@pytest.fixture(autouse=True)
def _report_server_logs(request):
    request.node._rill_servers = _SERVERS


def start_server(data_dir, listeners, settings):
    server = SecureServer(data_dir, listeners, settings)
    _SERVERS.append(server)
    return server.start()


def rill_configs(server, *args):
    proc = subprocess.run(
        [str(RILL_BIN), "configs", "--bootstrap-server", server.bootstrap, *args],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, (
        f"rill configs {' '.join(args)} exited {proc.returncode}:\n{proc.stdout.decode()}\n{proc.stderr.decode()}"
    )
    return proc.stdout.decode()


def scram_login_works(server, user, password, mechanism):
    try:
        with kwire.Conn(server.addr_of("SASL_PLAINTEXT"), timeout_s=5) as c:
            _, answers = c.sasl_scram(mechanism, user, password)
            return [a["error_code"] for a in answers] == [0, 0]
    except OSError:
        return False


def create_scram_users(server):
    for user, (_, config) in SCRAM_USERS.items():
        rill_configs(server, "--alter", "--entity-type", "users", "--entity-name", user, "--add-config", config)
    # The credentials go through the metadata log: wait until the broker applied them.
    deadline = time.monotonic() + 10
    for user, (password, _) in SCRAM_USERS.items():
        while not scram_login_works(server, user, password, "SCRAM-SHA-512"):
            assert time.monotonic() < deadline, f"SCRAM user {user} cannot log in 10 s after rill configs made it"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("secure"), ["SASL_SSL", "SSL", "SASL_PLAINTEXT"], SECURE_SETTINGS)
    try:
        create_scram_users(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mtls(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("mtls"), ["SSL"], MTLS_SETTINGS)
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- logins per client

# How a client logs in: the listener (named as its protocol), the SASL mechanism and user, and
# the client certificate (a name in tests/fixtures/tls: client-NAME.pem, client-NAME-key.pem).
Login = namedtuple("Login", "listener mechanism user password cert", defaults=(None, None, None, None))

SSL_ONLY = Login("SSL")
SCRAM_512 = Login("SASL_SSL", "SCRAM-SHA-512", "alice", "alice-secret")
SCRAM_256 = Login("SASL_SSL", "SCRAM-SHA-256", "alice", "alice-secret")
PLAIN = Login("SASL_SSL", "PLAIN", "alice", "alice-secret")
SCRAM_512_NO_TLS = Login("SASL_PLAINTEXT", "SCRAM-SHA-512", "bob", "bob-secret")
MTLS_ALICE = Login("SSL", cert="alice")
MTLS_MALLORY = Login("SSL", cert="mallory")

LOGIN_IDS = {
    SSL_ONLY: "ssl",
    SCRAM_512: "sasl_ssl-scram-sha-512",
    SCRAM_256: "sasl_ssl-scram-sha-256",
    PLAIN: "sasl_ssl-plain",
    SCRAM_512_NO_TLS: "sasl_plaintext-scram-sha-512",
}


def login_id(login):
    return LOGIN_IDS[login]


def cert_files(name):
    return str(TLS / f"client-{name}.pem"), str(TLS / f"client-{name}-key.pem")


def uses_tls(login):
    return login.listener in ("SSL", "SASL_SSL")


def ck_conf(server, login):
    conf = {"bootstrap.servers": server.bootstrap_of(login.listener), "security.protocol": login.listener}
    if uses_tls(login):
        conf["ssl.ca.location"] = CA
    if login.mechanism:
        conf.update({"sasl.mechanisms": login.mechanism, "sasl.username": login.user, "sasl.password": login.password})
    if login.cert:
        conf["ssl.certificate.location"], conf["ssl.key.location"] = cert_files(login.cert)
    return conf


def kp_conf(server, login):
    conf = {"bootstrap_servers": server.bootstrap_of(login.listener), "security_protocol": login.listener}
    if uses_tls(login):
        conf["ssl_cafile"] = CA
    if login.mechanism:
        conf.update(
            {"sasl_mechanism": login.mechanism, "sasl_plain_username": login.user, "sasl_plain_password": login.password}
        )
    if login.cert:
        conf["ssl_certfile"], conf["ssl_keyfile"] = cert_files(login.cert)
    return conf


def aio_conf(server, login):
    conf = {"bootstrap_servers": server.bootstrap_of(login.listener), "security_protocol": login.listener}
    if uses_tls(login):
        certfile, keyfile = cert_files(login.cert) if login.cert else (None, None)
        conf["ssl_context"] = create_ssl_context(cafile=CA, certfile=certfile, keyfile=keyfile)
    if login.mechanism:
        conf.update(
            {"sasl_mechanism": login.mechanism, "sasl_plain_username": login.user, "sasl_plain_password": login.password}
        )
    return conf


def kcat_conf(server, login):
    args = ["-b", server.bootstrap_of(login.listener), "-X", f"security.protocol={login.listener}"]
    if uses_tls(login):
        args += ["-X", f"ssl.ca.location={CA}"]
    if login.mechanism:
        args += ["-X", f"sasl.mechanisms={login.mechanism}", "-X", f"sasl.username={login.user}"]
        args += ["-X", f"sasl.password={login.password}"]
    if login.cert:
        cert, key = cert_files(login.cert)
        args += ["-X", f"ssl.certificate.location={cert}", "-X", f"ssl.key.location={key}"]
    return args


def tls_context(cert=None):
    """A client TLS context trusting ca.pem (hostname checked), with a client certificate."""
    ctx = ssl.create_default_context(cafile=CA)
    if cert:
        ctx.load_cert_chain(*cert_files(cert))
    return ctx


def high_watermarks(server, topic, partitions):
    """The end offsets of the topic's partitions, read over PLAINTEXT."""
    c = ck.consumer(server.bootstrap)
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    finally:
        c.close()


# ---------------------------------------------------------------------------- confluent-kafka


def ck_create_topic(conf, name, partitions):
    admin = AdminClient({**conf, "socket.timeout.ms": 10000})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)], operation_timeout=10, request_timeout=15
    )
    futures[name].result(timeout=15)


def ck_roundtrip(conf, topic, n=N, partitions=PARTITIONS):
    """Produces n keyed messages with acks=all and reads them back with an assign()-ed consumer,
    both over `conf`; checks every message arrived once, in order, at its acknowledged offset."""
    msgs = kwire.messages(n, keyed=True)
    sent, offsets, errors = ck.produce(conf["bootstrap.servers"], topic, msgs, "all", extra=conf)
    assert not errors and len(sent) == n, errors[:3]
    c = ck.consumer(conf["bootstrap.servers"], conf)
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        received = ck.poll_messages(c, n)
    finally:
        c.close()
    kwire.check_delivery(sent, received, partitions, keyed=True)
    assert {v: o for _, o, _, v in received} == offsets


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def ck_failed_produce(conf, topic, n=5):
    """Produces n messages with a login that must fail. Returns (delivered, failed, errors,
    logs): delivery reports with and without an error, the client's error_cb errors, and its
    log lines."""
    logger = logging.getLogger(f"rdkafka.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    lines = _Lines()
    logger.addHandler(lines)
    errors = []
    p = Producer(
        {
            **conf,
            "message.timeout.ms": FAIL_MESSAGE_TIMEOUT_MS,
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 500,
            "error_cb": errors.append,
            "logger": logger,
        }
    )
    delivered, failed = [], []

    def on_delivery(err, msg):
        (failed if err else delivered).append(err or msg.value())

    for i in range(n):
        p.produce(topic, value=f"must-not-arrive-{i}".encode(), on_delivery=on_delivery)
    remaining = p.flush(FAIL_FLUSH_S)
    p.poll(0.2)  # serve the last error and log callbacks
    assert remaining == 0, f"{remaining} messages still queued after {FAIL_FLUSH_S} s (message.timeout.ms is 3 s)"
    return delivered, failed, errors, lines.lines


@pytest.mark.parametrize("login", [SSL_ONLY, SCRAM_512, SCRAM_256, PLAIN, SCRAM_512_NO_TLS], ids=login_id)
def test_confluent_kafka_produce_consume(secure, topic_name, login):
    conf = ck_conf(secure, login)
    ck_create_topic(conf, topic_name, PARTITIONS)  # admin over the secure login too
    ck_roundtrip(conf, topic_name)


@pytest.mark.parametrize(
    "login,expected",
    [
        (SCRAM_512._replace(password="wrong-secret"), scram_failed("SCRAM-SHA-512")),
        (SCRAM_512._replace(user="nobody"), scram_failed("SCRAM-SHA-512")),
        # bob has a SCRAM-SHA-512 credential only.
        (SCRAM_256._replace(user="bob", password="bob-secret"), scram_failed("SCRAM-SHA-256")),
        (PLAIN._replace(password="wrong-secret"), PLAIN_FAILED),
        (PLAIN._replace(user="nobody"), PLAIN_FAILED),
    ],
    ids=["scram-sha-512-wrong-password", "scram-sha-512-unknown-user", "scram-sha-256-no-credential",
         "plain-wrong-password", "plain-unknown-user"],
)
def test_confluent_kafka_bad_login_delivers_nothing(secure, topic_name, login, expected):
    ck.create_topic(secure.bootstrap, topic_name, 1)
    delivered, failed, errors, _ = ck_failed_produce(ck_conf(secure, login), topic_name)
    assert delivered == [] and len(failed) == 5
    auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, f"no authentication error reported; errors: {[e.str() for e in errors]}"
    # librdkafka: "SASL authentication error: <the broker's text> (after N ms in state AUTH_REQ)".
    assert all(expected in e.str() for e in auth), [e.str() for e in auth]
    assert high_watermarks(secure, topic_name, 1) == [0]


def test_confluent_kafka_mtls(mtls, topic_name):
    ck.create_topic(mtls.bootstrap, topic_name, PARTITIONS)
    ck_roundtrip(ck_conf(mtls, MTLS_ALICE), topic_name)


@pytest.mark.parametrize("login", [SSL_ONLY, MTLS_MALLORY], ids=["no-client-certificate", "certificate-of-another-ca"])
def test_confluent_kafka_mtls_refused(mtls, topic_name, login):
    ck.create_topic(mtls.bootstrap, topic_name, 1)
    delivered, failed, errors, logs = ck_failed_produce(ck_conf(mtls, login), topic_name)
    assert delivered == [] and len(failed) == 5
    said = [e.str() for e in errors] + logs
    # librdkafka's broker names are "ssl://...": the upper-case word is its TLS error's.
    assert any("SSL" in line for line in said), f"no SSL error reported: {said[:20]}"
    assert high_watermarks(mtls, topic_name, 1) == [0]


# ---------------------------------------------------------------------------- kafka-python


def kp_roundtrip(conf, topic, n=N, partitions=PARTITIONS):
    msgs = kwire.messages(n, keyed=True)
    p = KafkaProducer(**conf, request_timeout_ms=TIMEOUT_MS, max_block_ms=20000)
    try:
        futures = [(k, v, p.send(topic, key=k, value=v)) for k, v in msgs]
        p.flush(timeout=30)
        sent, offsets = [], {}
        for k, v, f in futures:
            md = f.get(timeout=30)
            sent.append((md.partition, k, v))
            offsets[v] = md.offset
    finally:
        p.close(timeout=10)
    c = KafkaConsumer(
        **conf, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", request_timeout_ms=TIMEOUT_MS + 5000
    )
    try:
        c.assign([KpTopicPartition(topic, q) for q in range(partitions)])
        c.seek_to_beginning()
        received = []
        collect = kwire.Collect(n, 30.0, 0.5)
        while collect.more(len(received)):
            for records in c.poll(timeout_ms=100).values():
                received.extend((r.partition, r.offset, r.key, r.value) for r in records)
    finally:
        c.close()
    kwire.check_delivery(sent, received, partitions, keyed=True)
    assert {v: o for _, o, _, v in received} == offsets


@pytest.mark.parametrize("login", [SSL_ONLY, SCRAM_512, PLAIN], ids=login_id)
def test_kafka_python_produce_consume(secure, topic_name, login):
    ck.create_topic(secure.bootstrap, topic_name, PARTITIONS)
    kp_roundtrip(kp_conf(secure, login), topic_name)


def test_kafka_python_mtls(mtls, topic_name):
    ck.create_topic(mtls.bootstrap, topic_name, PARTITIONS)
    kp_roundtrip(kp_conf(mtls, MTLS_ALICE), topic_name)


# ---------------------------------------------------------------------------- aiokafka


def aio_roundtrip(conf_of, topic, n=N, partitions=PARTITIONS):
    """`conf_of()` makes the client settings (an SSLContext per client)."""

    async def body():
        msgs = kwire.messages(n, keyed=True)
        p = AIOKafkaProducer(**conf_of(), request_timeout_ms=TIMEOUT_MS, acks="all")
        await p.start()
        try:
            futures = [(k, v, await p.send(topic, key=k, value=v)) for k, v in msgs]
            sent, offsets = [], {}
            for k, v, f in futures:
                md = await f
                sent.append((md.partition, k, v))
                offsets[v] = md.offset
        finally:
            await p.stop()
        c = AIOKafkaConsumer(
            **conf_of(), group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
            request_timeout_ms=TIMEOUT_MS,
        )
        await c.start()
        try:
            c.assign([AioTopicPartition(topic, q) for q in range(partitions)])
            await c.seek_to_beginning()
            received = []
            collect = kwire.Collect(n, 30.0, 0.5)
            while collect.more(len(received)):
                for records in (await c.getmany(timeout_ms=100)).values():
                    received.extend((r.partition, r.offset, r.key, r.value) for r in records)
        finally:
            await c.stop()
        kwire.check_delivery(sent, received, partitions, keyed=True)
        assert {v: o for _, o, _, v in received} == offsets

    asyncio.run(asyncio.wait_for(body(), 60))


@pytest.mark.parametrize("login", [SSL_ONLY, SCRAM_512, PLAIN], ids=login_id)
def test_aiokafka_produce_consume(secure, topic_name, login):
    ck.create_topic(secure.bootstrap, topic_name, PARTITIONS)
    aio_roundtrip(lambda: aio_conf(secure, login), topic_name)


def test_aiokafka_mtls(mtls, topic_name):
    ck.create_topic(mtls.bootstrap, topic_name, PARTITIONS)
    aio_roundtrip(lambda: aio_conf(mtls, MTLS_ALICE), topic_name)


# ---------------------------------------------------------------------------- kcat


def kcat(conf, *args, stdin=None):
    assert KCAT, "kcat is not installed (apt-get install -y kcat)"
    proc = subprocess.run([KCAT, *conf, "-m", "10", *args], input=stdin, capture_output=True, timeout=KCAT_TIMEOUT_S)
    assert proc.returncode == 0, f"kcat {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-3000:]}"
    return proc.stdout


def kcat_roundtrip(conf, topic, n=N, partitions=PARTITIONS):
    msgs = kwire.messages(n, keyed=True)
    lines = b"".join(k + b"\t" + v + b"\n" for k, v in msgs)
    kcat(conf, "-P", "-t", topic, "-K", "\t", "-X", "acks=all", "-X", "partitioner=murmur2_random", stdin=lines)
    received = []
    for p in range(partitions):
        received += parse(kcat(conf, "-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e", "-Z", "-q", "-f", OUT_FORMAT))
    kwire.check_delivery(sent_from(msgs, received), received, partitions, keyed=True)


def test_kcat_has_ssl_and_sasl():
    out = subprocess.run([KCAT, "-V"], capture_output=True, timeout=10).stdout.decode()
    features = out.split("builtin.features=")[1].split(")")[0].split(",")
    assert {"ssl", "sasl", "sasl_plain", "sasl_scram"} <= set(features), out


@pytest.mark.parametrize("login", [SSL_ONLY, SCRAM_512, PLAIN], ids=login_id)
def test_kcat_produce_consume(secure, topic_name, login):
    ck.create_topic(secure.bootstrap, topic_name, PARTITIONS)
    kcat_roundtrip(kcat_conf(secure, login), topic_name)


def test_kcat_mtls(mtls, topic_name):
    ck.create_topic(mtls.bootstrap, topic_name, PARTITIONS)
    kcat_roundtrip(kcat_conf(mtls, MTLS_ALICE), topic_name)


@pytest.mark.parametrize("login", [SSL_ONLY, SCRAM_512, SCRAM_512_NO_TLS], ids=login_id)
def test_kcat_metadata_names_the_listener_used(secure, topic_name, login):
    ck.create_topic(secure.bootstrap, topic_name, PARTITIONS)
    md = json.loads(kcat(kcat_conf(secure, login), "-L", "-J"))
    # Metadata gives the address of the listener the request came in on, not PLAINTEXT's.
    assert [b["name"] for b in md["brokers"]] == [secure.bootstrap_of(login.listener)]
    (topic,) = [t for t in md["topics"] if t["topic"] == topic_name]
    assert len(topic["partitions"]) == PARTITIONS


# ---------------------------------------------------------------------------- raw frames


def sasl_ssl_conn(server):
    return kwire.Conn(server.addr_of("SASL_SSL"), tls=tls_context())


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("user", sorted(PLAIN_USERS))
def test_raw_plain_login_then_metadata(secure, user, version):
    with sasl_ssl_conn(secure) as c:
        error, mechanisms = c.sasl_handshake("PLAIN")
        assert (error, mechanisms) == (0, ENABLED)
        answer = c.sasl_authenticate(kwire.plain_token(user, PLAIN_USERS[user]), version)
        assert (answer["error_code"], answer["error_message"], answer["auth_bytes"]) == (0, None, b"")
        # Authenticated: other requests are answered now, with this listener's address.
        assert [(host, port) for _, host, port in c.metadata_v1()] == [secure.addr_of("SASL_SSL")]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    "user,password", [("alice", "wrong-secret"), ("nobody", "alice-secret"), ("admin", "alice-secret")],
    ids=["wrong-password", "unknown-user", "another-users-password"],
)
def test_raw_plain_refused(secure, user, password, version):
    """The same code and fixed text whether the user exists or not; then the broker closes."""
    with sasl_ssl_conn(secure) as c:
        answer = c.sasl_plain(user, password, version)
        assert answer["error_code"] == kwire.SASL_AUTHENTICATION_FAILED
        assert answer["error_message"] == PLAIN_FAILED
        assert answer["auth_bytes"] == b""
        assert c.closed_by_peer(), "the connection stayed open after a failed login"


@pytest.mark.parametrize(
    "mechanism,user,iterations",
    [("SCRAM-SHA-512", "alice", 4096), ("SCRAM-SHA-256", "alice", 4096), ("SCRAM-SHA-512", "bob", 8192)],
)
def test_raw_scram_login_then_metadata(secure, mechanism, user, iterations):
    """SCRAM over SASL_PLAINTEXT (allowed without TLS): the server's nonce extends the
    client's, the iteration count is the credential's (kafka-configs' default 4096), and the
    server's final message proves it holds the password's keys (checked by kwire.Scram)."""
    with kwire.Conn(secure.addr_of("SASL_PLAINTEXT")) as c:
        scram, answers = c.sasl_scram(mechanism, user, SCRAM_USERS[user][0])
        assert [a["error_code"] for a in answers] == [0, 0], answers
        assert scram.server_first["i"] == iterations
        assert len(scram.server_first["s"]) >= 16, "a salt of at least 128 bits"
        assert [(host, port) for _, host, port in c.metadata_v1()] == [secure.addr_of("SASL_PLAINTEXT")]


@pytest.mark.parametrize(
    "password,tamper_nonce", [("wrong-secret", False), ("alice-secret", True)], ids=["wrong-password", "altered-nonce"]
)
def test_raw_scram_refused_at_the_final_message(secure, password, tamper_nonce):
    with kwire.Conn(secure.addr_of("SASL_PLAINTEXT")) as c:
        _, answers = c.sasl_scram("SCRAM-SHA-512", "alice", password, tamper_nonce=tamper_nonce)
        assert [a["error_code"] for a in answers] == [0, kwire.SASL_AUTHENTICATION_FAILED], answers
        assert answers[1]["error_message"] == scram_failed("SCRAM-SHA-512")
        assert answers[1]["auth_bytes"] == b""
        assert c.closed_by_peer(), "the connection stayed open after a failed login"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_raw_scram_accepts_old_librdkafkas_final_nonce(secure, mechanism):
    """librdkafka before 2.6.1 (Debian's kcat 1.7.1 is built on 2.0.2) sends in its final
    message `r=<client nonce><the server's whole nonce>`, the client nonce twice (librdkafka
    PR #4895). Kafka 3.8.1 to 3.9 accept that (their check is endsWith); Kafka 4 does not, and
    old librdkafka's SCRAM then fails. Rill must accept it or kcat cannot log in with SCRAM;
    the proof is over the message as sent, so it still proves the password and the server's
    nonce (a replay still fails: see the altered-nonce case)."""
    with kwire.Conn(secure.addr_of("SASL_PLAINTEXT")) as c:
        _, answers = c.sasl_scram(mechanism, "alice", "alice-secret", librdkafka_nonce=True)
        assert [a["error_code"] for a in answers] == [0, 0], answers
        assert [(host, port) for _, host, port in c.metadata_v1()] == [secure.addr_of("SASL_PLAINTEXT")]


@pytest.mark.parametrize(
    "mechanism,user", [("SCRAM-SHA-512", "nobody"), ("SCRAM-SHA-256", "bob")], ids=["unknown-user", "no-credential"]
)
def test_raw_scram_unknown_user_looks_like_a_known_one(secure, mechanism, user):
    """No user enumeration: a user without a credential for the mechanism gets a challenge
    like a real one (a salt that stays the same from one try to the next, a real iteration
    count) and fails only at the final message, with the same code and text as a wrong
    password."""
    salts = []
    for _ in range(2):
        with kwire.Conn(secure.addr_of("SASL_PLAINTEXT")) as c:
            scram, answers = c.sasl_scram(mechanism, user, "some-password")
            assert answers[0]["error_code"] == 0, (
                f"the first SCRAM message of an unknown user was refused ({answers[0]}): that tells "
                "an attacker the user does not exist"
            )
            assert [a["error_code"] for a in answers] == [0, kwire.SASL_AUTHENTICATION_FAILED], answers
            assert answers[1]["error_message"] == scram_failed(mechanism)
            assert scram.server_first["i"] >= 4096
            salts.append((scram.server_first["s"], scram.server_first["i"]))
            assert c.closed_by_peer(), "the connection stayed open after a failed login"
    assert salts[0] == salts[1], "the made-up salt changes between tries: the user is recognisably unknown"


@pytest.mark.parametrize("before", ["first-request", "after-api-versions", "after-handshake"])
def test_raw_nothing_but_sasl_before_authentication(secure, before):
    """Before authentication only ApiVersions, SaslHandshake and SaslAuthenticate are answered:
    a Metadata request closes the connection with no answer."""
    with kwire.Conn(secure.addr_of("SASL_PLAINTEXT")) as c:
        if before == "after-api-versions":
            versions = c.api_versions()
            assert versions[kwire.API_KEYS["SaslHandshake"]][1] >= 1, versions
            assert versions[kwire.API_KEYS["SaslAuthenticate"]][1] >= 2, versions
        if before == "after-handshake":
            assert c.sasl_handshake("SCRAM-SHA-512") == (0, ENABLED_WITHOUT_TLS)
        c.send_request(kwire.API_KEYS["Metadata"], 1, b"\xff\xff\xff\xff")
        assert c.closed_by_peer(), "Metadata before authentication was answered or the connection stayed open"


@pytest.mark.parametrize(
    "listener,mechanism,enabled",
    [
        ("SASL_PLAINTEXT", "GSSAPI", ENABLED_WITHOUT_TLS),
        # PLAIN would send the password in the clear: refused without TLS.
        ("SASL_PLAINTEXT", "PLAIN", ENABLED_WITHOUT_TLS),
        ("SASL_SSL", "GSSAPI", ENABLED),
        ("SASL_SSL", "OAUTHBEARER", ENABLED),
    ],
)
def test_raw_unsupported_mechanism(secure, listener, mechanism, enabled):
    tls = tls_context() if listener == "SASL_SSL" else None
    with kwire.Conn(secure.addr_of(listener), tls=tls) as c:
        assert c.sasl_handshake(mechanism) == (kwire.UNSUPPORTED_SASL_MECHANISM, enabled)


def test_raw_ssl_listener_needs_no_sasl(secure):
    with kwire.Conn(secure.addr_of("SSL"), tls=tls_context()) as c:
        assert [(host, port) for _, host, port in c.metadata_v1()] == [secure.addr_of("SSL")]


def answers_over_tls(addr, cert):
    """Whether a TLS connection with the client certificate `cert` (or none) gets ApiVersions
    answered; a refused handshake, an alert or a close is False."""
    try:
        with kwire.Conn(addr, timeout_s=5, tls=tls_context(cert)) as c:
            return bool(c.api_versions())
    except (ssl.SSLError, ConnectionError, OSError):
        return False


def answers_without_tls(addr):
    """Whether a plain TCP connection gets ApiVersions answered (a TLS listener reads the
    request as a broken TLS record: it answers with an alert, or nothing, and closes)."""
    try:
        with kwire.Conn(addr, timeout_s=5) as c:
            return bool(c.api_versions())
    except (ConnectionError, OSError, AssertionError, struct.error):
        return False


def test_raw_mtls(mtls):
    addr = mtls.addr_of("SSL")
    assert answers_over_tls(addr, "alice")
    assert not answers_over_tls(addr, None), "a client without a certificate was served under ssl.client.auth=required"
    assert not answers_over_tls(addr, "mallory"), "a certificate of another CA was accepted"


def test_custom_listener_name_mapped_to_ssl(tmp_path):
    """listener.security.protocol.map gives a listener of any name a protocol."""
    server = start_server(
        tmp_path,
        ["INTERNAL"],
        {**TLS_SETTINGS, "listener.security.protocol.map": "INTERNAL:SSL,PLAINTEXT:PLAINTEXT"},
    )
    try:
        with kwire.Conn(server.addr_of("INTERNAL"), tls=tls_context()) as c:
            assert [(host, port) for _, host, port in c.metadata_v1()] == [server.addr_of("INTERNAL")]
        # A client that does not speak TLS gets no Kafka answer there.
        assert not answers_without_tls(server.addr_of("INTERNAL"))
    finally:
        server.stop()


def served_certificate(addr):
    """The DER certificate a TLS listener serves a new connection (checked against the CA)."""
    with kwire.Conn(addr, tls=tls_context()) as c:
        der = c.sock.getpeercert(binary_form=True)
        assert c.api_versions()
        return der


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_certificates_renewed_on_disk_are_served_without_a_restart(tmp_path):
    """rill.ssl.reload.interval.ms: the keystore file rewritten with the renewed certificate
    is served to new connections; a connection opened before keeps working; a broken file is
    refused and the last good certificate kept."""
    keystore = tmp_path / "keystore.pem"
    keystore.write_text((TLS / "server.pem").read_text())
    (tmp_path / "data").mkdir()
    server = start_server(
        tmp_path / "data",
        ["SSL"],
        {**TLS_SETTINGS, "ssl.keystore.location": str(keystore), "rill.ssl.reload.interval.ms": "200"},
    )
    try:
        addr = server.addr_of("SSL")
        assert served_certificate(addr) == pem_der(TLS / "server-cert.pem")
        with kwire.Conn(addr, tls=tls_context()) as before:
            assert before.api_versions()
            renewed = (TLS / "server-renewed-key.pem").read_text() + (TLS / "server-renewed-cert.pem").read_text()
            keystore.write_text(renewed)
            deadline = time.monotonic() + 10
            while served_certificate(addr) != pem_der(TLS / "server-renewed-cert.pem"):
                assert time.monotonic() < deadline, "the renewed certificate was not served within 10 s"
                time.sleep(0.1)
            # The connection made before the renewal keeps its session.
            assert before.api_versions()
        # A key that does not match its certificate: not loaded, the renewed one stays.
        keystore.write_text((TLS / "server-key.pem").read_text() + (TLS / "server-renewed-cert.pem").read_text())
        time.sleep(1.0)
        assert served_certificate(addr) == pem_der(TLS / "server-renewed-cert.pem")
        assert "TLS certificates not reloaded" in server.log_path.read_text()
    finally:
        server.stop()
