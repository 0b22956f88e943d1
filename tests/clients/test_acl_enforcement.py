"""Per-request ACL enforcement (issue 16) with real clients against a real `rill server`.

One server for the module, with Kafka's authorizer on
(`authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer`,
`super.users=User:admin`, `allow.everyone.if.no.acl.found=false`) and two listeners:

* SASL_PLAINTEXT offering PLAIN (`rill.sasl.plain.over.plaintext.enable=true`), JAAS users
  admin, alice and bob. Every client logs in here.
* PLAINTEXT: its clients are User:ANONYMOUS, which is NOT a super user and gets no ACL; it is
  only there to show that an unauthenticated client is refused like anyone else.

All set-up is done as the super user admin over SASL: topics through confluent-kafka's
AdminClient, ACLs with `rill acls --command-config` (kafka-acls' flags), checks of what was
written (high watermarks, committed offsets) with admin's clients. Each test makes its own
topics (and ACLs on them), so the tests are independent of each other and of their order.

What it proves, as Kafka's `KafkaApis` decides it (each test asserts what a broker without
enforcement would fail: it would accept the write, serve the read or list the topic):

* Produce needs WRITE and Fetch needs READ on the topic, for each of confluent-kafka,
  kafka-python, aiokafka and kcat (`test_produce_needs_write_and_fetch_needs_read`, one run
  per client). alice's ACLs on a topic go through four states:
  - none: her produce is refused with TOPIC_AUTHORIZATION_FAILED (29) and her consumer reads
    nothing (Metadata already refuses her the topic);
  - WRITE (which implies DESCRIBE): she produces; her consumer is refused by the Fetch itself
    (29 from poll(), kcat's "Fetch from broker 1 failed");
  - WRITE and READ: she reads admin's records and hers; bob, without ACLs, still cannot;
  - READ only (WRITE removed with `rill acls --remove --force`): the Produce itself refuses her.
  After every refused produce admin sees the high watermark unmoved. A raw Produce v8 on a
  logged-in connection gets 29 too, and User:ANONYMOUS (PLAINTEXT) is refused.
* Metadata lists only the topics the principal may DESCRIBE (READ and WRITE imply it); a
  topic asked for by name that it may not describe comes back with error 29 (AdminClient and
  kcat -L).
* A PREFIXED ACL covers every topic with the prefix (also one made later), and nothing else.
* DENY beats ALLOW: ALLOW User:* plus DENY User:bob lets alice in and keeps bob out, until the
  DENY is removed.
* The super user needs no ACL, and a DENY for User:* does not bind it.
* Consumer groups: a subscribed consumer needs READ on its group (else
  GROUP_AUTHORIZATION_FAILED, 30) and READ on the topic (else 29); with both it consumes and
  commits, and admin sees the offset (confluent-kafka and `rill consumer-groups --describe`).
* The idempotent producer's InitProducerId needs IDEMPOTENT_WRITE on the cluster or WRITE on
  some topic (KIP-679): WRITE on the topic is enough; READ alone gets the fatal
  CLUSTER_AUTHORIZATION_FAILED (31); IDEMPOTENT_WRITE alone gets a producer id, and then 29
  from the Produce.

How the clients report a refusal differs, and the tests check each one's own way: see
`ck_consume_refused`, `KpClient` and `KcatClient`. Refusals are bounded by short client
timeouts and resolve in seconds; the module runs in well under a minute.
"""

import asyncio
import json
import logging
import subprocess
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka import errors as aio_errors
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka import errors as kp_errors

import kwire
from conftest import RILL_BIN, RillServer, free_port
from test_kcat import KCAT, OUT_FORMAT, parse

pytestmark = pytest.mark.security

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
JAAS = f"{PLAIN_MODULE} required " + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";"

SETTINGS = {
    "authorizer.class.name": AUTHORIZER,
    "super.users": "User:admin",
    "allow.everyone.if.no.acl.found": "false",
    "sasl.enabled.mechanisms": "PLAIN",
    "rill.sasl.plain.over.plaintext.enable": "true",
    "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
}

# Kafka's error code on the wire (the clients' own names are used where they give one).
TOPIC_AUTHORIZATION_FAILED = 29

N = 20
# A produce that must be refused: the client gives up on its messages after this long...
REFUSED_MESSAGE_TIMEOUT_MS = 5000
# ... and a produce that must succeed has this long (a loaded 2-core CI machine).
OK_MESSAGE_TIMEOUT_MS = 30000
OK_FLUSH_S = 40
# ... and the test waits at most this long for the reports.
REFUSED_FLUSH_S = 15
# A consumer that must be refused polls this long for the error (and to see no record).
REFUSED_POLL_S = 10
# Requests of the Python clients.
REQUEST_TIMEOUT_MS = 10000
KCAT_TIMEOUT_S = 30
# How long an ACL change may take to be in force (it goes through the metadata log).
ACL_APPLY_S = 10

# Every assign()-based confluent-kafka consumer needs a group.id (librdkafka asks for its
# coordinator: FindCoordinator needs DESCRIBE on the group). These groups are never joined
# and get nothing committed; the module fixture lets everyone DESCRIBE them, which concerns
# no topic.
ASSIGN_GROUP_PREFIX = "acl-assign-"


# ---------------------------------------------------------------------------- the server


class AclServer(RillServer):
    """`rill server` with PLAINTEXT (`port`, the readiness probe) and SASL_PLAINTEXT."""

    def __init__(self, data_dir):
        args = [arg for key, value in SETTINGS.items() for arg in ("--override", f"{key}={value}")]
        super().__init__(data_dir, args)
        self.sasl_port = free_port()
        self.command_config = self.data_dir / "admin.properties"

    def _listeners(self):
        return f"PLAINTEXT://{self.bootstrap},SASL_PLAINTEXT://{self.sasl_bootstrap}"

    @property
    def sasl_bootstrap(self):
        return f"127.0.0.1:{self.sasl_port}"


_SERVERS = []


@pytest.fixture(autouse=True)
def _report_server_logs(request):
    """A failing test's report gets the server's stderr (conftest's hook)."""
    request.node._rill_servers = _SERVERS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AclServer(tmp_path_factory.mktemp("acl"))
    s.command_config.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        f'sasl.jaas.config={PLAIN_MODULE} required username="admin" password="admin-secret";\n'
    )
    _SERVERS.append(s)
    s.start()
    try:
        rill_acls(s, "--add", "--allow-principal", "User:*", "--operation", "Describe",
                  "--group", ASSIGN_GROUP_PREFIX, "--resource-pattern-type", "prefixed")
        yield s
    finally:
        s.stop()


def rill_acls(server, *args):
    """`rill acls` as admin over SASL (kafka-acls' --command-config)."""
    proc = subprocess.run(
        [str(RILL_BIN), "acls", "--bootstrap-server", server.sasl_bootstrap,
         "--command-config", str(server.command_config), *args],
        capture_output=True,
        timeout=30,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, f"rill acls {' '.join(args)} exited {proc.returncode}:\n{out}\n{proc.stderr.decode()}"
    return out


def allow(server, principal, topic, *operations, pattern="literal", group=None):
    """Adds ALLOW ACLs for `principal` on the topic (or, with `group=`, on that group)."""
    resource = ["--group", group] if group is not None else ["--topic", topic]
    ops = [arg for op in operations for arg in ("--operation", op)]
    rill_acls(server, "--add", "--allow-principal", principal, *ops, *resource, "--resource-pattern-type", pattern)


def unique(prefix="acl"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------- client settings


def ck_conf(server, user):
    if user is None:  # anonymous, over PLAINTEXT
        return {"bootstrap.servers": server.bootstrap}
    return {
        "bootstrap.servers": server.sasl_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": user,
        "sasl.password": USERS[user],
    }


# ---------------------------------------------------------------------------- admin's view


def create_topic(server, name=None, partitions=1):
    """A topic made by admin; its name."""
    name = name or unique()
    admin = AdminClient({**ck_conf(server, "admin"), "socket.timeout.ms": 10000})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)], operation_timeout=10, request_timeout=15
    )
    futures[name].result(timeout=15)
    return name


def high_watermark(server, topic, partition=0):
    c = Consumer({**ck_conf(server, "admin"), "group.id": ASSIGN_GROUP_PREFIX + "admin"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


def values(prefix, n=N):
    return [f"{prefix}-{i:04d}".encode() for i in range(n)]


# ---------------------------------------------------------------------------- confluent-kafka


class Lines(logging.Handler):
    """The messages a logger logs while this handler is attached (`with Lines(name) as l:`)."""

    def __init__(self, name, level=None):
        super().__init__(logging.DEBUG)
        self.logger, self.level_to_set, self.lines = logging.getLogger(name), level, []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def saw(self, text):
        return any(text in line for line in self.lines)

    def __enter__(self):
        self.logger.addHandler(self)
        if self.level_to_set is not None:
            self.logger.setLevel(self.level_to_set)
            self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


def ck_produce(server, user, topic, vals, flush_s=None, **extra):
    """Produces `vals` to partition 0 as `user`. Returns (delivered values, delivery errors,
    error_cb errors). `flush_s` bounds the wait for the delivery reports (default: a refusal's)."""
    flush_s = flush_s or REFUSED_FLUSH_S
    errors = []
    p = Producer({
        **ck_conf(server, user),
        "message.timeout.ms": REFUSED_MESSAGE_TIMEOUT_MS,
        "socket.timeout.ms": 5000,
        "error_cb": errors.append,
        **extra,
    })
    delivered, failed = [], []

    def on_delivery(err, msg):
        if err is None:
            delivered.append(msg.value())
        else:
            failed.append(err)

    try:
        for v in vals:
            p.produce(topic, value=v, partition=0, on_delivery=on_delivery)
        remaining = p.flush(flush_s)
        p.poll(0.2)
    except KafkaException as e:
        # A fatal error (the idempotent producer's) is raised by produce(), flush() and poll():
        # the messages not reported on are failed with it.
        errors.append(e.args[0])
        failed.extend([e.args[0]] * (len(vals) - len(delivered) - len(failed)))
        remaining = 0
    assert remaining == 0, f"{remaining} messages still queued after {flush_s} s"
    return delivered, failed, errors


def ck_produce_ok(server, user, topic, vals, **extra):
    # A produce that must succeed gets a loaded CI machine's time, not a refusal's.
    extra.setdefault("message.timeout.ms", OK_MESSAGE_TIMEOUT_MS)
    delivered, failed, errors = ck_produce(server, user, topic, vals, flush_s=OK_FLUSH_S, **extra)
    assert failed == [] and delivered == vals, f"{user}'s produce failed: {failed[:3]} {errors[:3]}"


def ck_produce_refused(server, user, topic, vals, **extra):
    delivered, failed, errors = ck_produce(server, user, topic, vals, **extra)
    assert delivered == [], f"{user} wrote {len(delivered)} records to {topic} without WRITE"
    assert len(failed) == len(vals)
    assert {e.code() for e in failed} == {KafkaError.TOPIC_AUTHORIZATION_FAILED}, (
        f"delivery errors {failed[:3]}, client errors {errors[:3]}"
    )
    return errors


def ck_consumer(server, user, group=None, extra=None):
    return Consumer({
        **ck_conf(server, user),
        "group.id": group or ASSIGN_GROUP_PREFIX + user,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "socket.timeout.ms": 5000,
        "session.timeout.ms": 6000,
        **(extra or {}),
    })


def ck_consume_ok(server, user, topic, expected, group=None, subscribe=False, commit=False):
    """Reads partition 0 of `topic` from offset 0 as `user` (assign(), or subscribe() in
    `group`) until the `expected` values arrived; with `commit`, commits them."""
    c = ck_consumer(server, user, group)
    got, errors = [], []
    try:
        if subscribe:
            c.subscribe([topic])
        else:
            c.assign([TopicPartition(topic, 0, 0)])
        collect = kwire.Collect(len(expected), 30, 0.3)
        while collect.more(len(got)):
            msg = c.poll(0.1)
            if msg is None:
                continue
            if msg.error():
                errors.append(msg.error())
            else:
                got.append(msg.value())
        if commit and got:
            c.commit(asynchronous=False)
    finally:
        c.close()
    assert got == expected, f"{user} read {len(got)} of {len(expected)} records; consumer errors {errors[:3]}"


# How a refused consumer learns it: the consumer error librdkafka hands to poll() (a Fetch
# answered 29, a subscribed topic Metadata refuses, a group refused with 30), or, for an
# assign()-ed partition of a topic Metadata refuses, only librdkafka's topic log (it reports
# nothing to poll() then: the partition just has no leader to fetch from).
TOPIC_ERROR = "consumer error 29"
GROUP_ERROR = "consumer error 30"
TOPIC_LOG = "Metadata refused the topic"


def ck_consume_refused(server, user, topic, expect, group=None, subscribe=False):
    """Polls `topic` (partition 0 from offset 0, or subscribed in `group`) as `user` until the
    refusal `expect` shows, then 1 s more; asserts nothing was read."""
    code = {TOPIC_ERROR: KafkaError.TOPIC_AUTHORIZATION_FAILED, GROUP_ERROR: KafkaError.GROUP_AUTHORIZATION_FAILED}
    logger = f"rdkafka.{uuid.uuid4().hex}"
    log_line = f"Topic {topic} has permanent error: Broker: Topic authorization failed"
    got, errors = [], []
    with Lines(logger, logging.DEBUG) as log:
        c = ck_consumer(server, user, group, {"logger": log.logger, "debug": "topic"})
        try:
            if subscribe:
                c.subscribe([topic])
            else:
                c.assign([TopicPartition(topic, 0, 0)])
            deadline, seen_at = time.monotonic() + REFUSED_POLL_S, None
            while time.monotonic() < (deadline if seen_at is None else min(deadline, seen_at + 1)):
                msg = c.poll(0.1)
                if msg is not None and msg.error():
                    errors.append(msg.error())
                elif msg is not None:
                    got.append(msg.value())
                if seen_at is None and (
                    log.saw(log_line) if expect == TOPIC_LOG else code[expect] in {e.code() for e in errors}
                ):
                    seen_at = time.monotonic()
        finally:
            c.close()
    assert got == [], f"{user} read {len(got)} records of {topic} (expected: {expect})"
    assert seen_at is not None, (
        f"{user}: no {expect} within {REFUSED_POLL_S} s; consumer errors {errors[:5]}, "
        f"topic log {[line for line in log.lines if topic in line][:5]}"
    )


def topic_visibility(server, user, topic):
    """As `user`: (listed among all topics, the error for the topic asked for by name)."""
    admin = AdminClient({**ck_conf(server, user), "socket.timeout.ms": 5000})
    listed = topic in admin.list_topics(timeout=10).topics
    named = admin.list_topics(topic=topic, timeout=10).topics.get(topic)
    return listed, named.error.code() if named is not None and named.error is not None else None


def wait_visible(server, user, topic):
    """Waits until `user` may DESCRIBE the topic (an ACL just added is in force)."""
    deadline = time.monotonic() + ACL_APPLY_S
    while topic_visibility(server, user, topic) != (True, None):
        assert time.monotonic() < deadline, f"{user} still cannot describe {topic} {ACL_APPLY_S} s after the ACL"
        time.sleep(0.2)


# ---------------------------------------------------------------------------- kafka-python


def kp_conf(server, user):
    return {
        "bootstrap_servers": server.sasl_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": user,
        "sasl_plain_password": USERS[user],
    }


def kp_send(server, user, topic, vals):
    """Sends `vals` to partition 0; the error of the first failed send, or None."""
    p = KafkaProducer(**kp_conf(server, user), acks="all", request_timeout_ms=REQUEST_TIMEOUT_MS,
                      max_block_ms=REFUSED_MESSAGE_TIMEOUT_MS, retries=0)
    try:
        futures = [p.send(topic, value=v, partition=0) for v in vals]
        p.flush(timeout=REFUSED_FLUSH_S)
        for f in futures:
            f.get(timeout=REFUSED_FLUSH_S)
        return None
    except kp_errors.KafkaError as e:
        return e
    finally:
        p.close(timeout=5)


def kp_read(server, user, topic, n, timeout_s, log=None, log_line=None):
    """Reads partition 0 from offset 0 until `n` records arrived, `timeout_s` passed, or (1 s
    after) `log` saw `log_line`. Returns (values, the error that stopped it or None)."""
    c = KafkaConsumer(**kp_conf(server, user), group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", request_timeout_ms=REQUEST_TIMEOUT_MS + 1000)
    got = []
    try:
        tp = KpTopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 0)
        collect, seen_at = kwire.Collect(n, timeout_s, 0.3), None
        while collect.more(len(got)) and (seen_at is None or time.monotonic() < seen_at + 1):
            for records in c.poll(timeout_ms=100).values():
                got.extend(r.value for r in records)
            if seen_at is None and log is not None and log.saw(log_line):
                seen_at = time.monotonic()
        return got, None
    except kp_errors.KafkaError as e:
        return got, e
    finally:
        c.close()


# ---------------------------------------------------------------------------- aiokafka


def aio_conf(server, user):
    return {
        "bootstrap_servers": server.sasl_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": user,
        "sasl_plain_password": USERS[user],
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
    }


async def aio_send(server, user, topic, vals):
    """Sends `vals` to partition 0; the error of the first failed send, or None."""
    p = AIOKafkaProducer(**aio_conf(server, user), acks="all")
    await p.start()
    try:
        for v in vals:
            await asyncio.wait_for(p.send_and_wait(topic, value=v, partition=0), REFUSED_FLUSH_S)
        return None
    except aio_errors.KafkaError as e:
        return e
    finally:
        await p.stop()


async def aio_read(server, user, topic, n, timeout_s, log=None, log_line=None):
    """kp_read's twin."""
    c = AIOKafkaConsumer(**aio_conf(server, user), group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest")
    await c.start()
    got = []
    try:
        tp = AioTopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, 0)
        collect, seen_at = kwire.Collect(n, timeout_s, 0.3), None
        while collect.more(len(got)) and (seen_at is None or time.monotonic() < seen_at + 1):
            for records in (await c.getmany(timeout_ms=100)).values():
                got.extend(r.value for r in records)
            if seen_at is None and log is not None and log.saw(log_line):
                seen_at = time.monotonic()
        return got, None
    except aio_errors.KafkaError as e:
        return got, e
    finally:
        await c.stop()


def run(coro, timeout_s=40):
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


# ---------------------------------------------------------------------------- kcat


def kcat_conf(server, user):
    return ["-b", server.sasl_bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
            "-X", f"sasl.username={user}", "-X", f"sasl.password={USERS[user]}"]


def kcat(server, user, *args, stdin=None):
    assert KCAT, "kcat is not installed (apt-get install -y kcat)"
    return subprocess.run([KCAT, *kcat_conf(server, user), "-m", "5", *args], input=stdin,
                          capture_output=True, timeout=KCAT_TIMEOUT_S)


def kcat_ok(server, user, *args, stdin=None):
    proc = kcat(server, user, *args, stdin=stdin)
    assert proc.returncode == 0, f"kcat {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-3000:]}"
    return proc.stdout


def kcat_produce(server, user, topic, vals):
    return kcat(server, user, "-P", "-t", topic, "-p", "0", "-X", "acks=all",
                "-X", f"message.timeout.ms={REFUSED_MESSAGE_TIMEOUT_MS}", stdin=b"".join(v + b"\n" for v in vals))


def kcat_consume(server, user, topic):
    return kcat(server, user, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-Z", "-f", OUT_FORMAT)


# ---------------------------------------------------------------------------- one client, four ACL states


class CkClient:
    """confluent-kafka (librdkafka 2.x)."""

    def __init__(self, server, user):
        self.server, self.user = server, user

    def produce_ok(self, topic, vals):
        ck_produce_ok(self.server, self.user, topic, vals)

    def produce_refused(self, topic, vals):
        ck_produce_refused(self.server, self.user, topic, vals)

    def consume_ok(self, topic, expected):
        ck_consume_ok(self.server, self.user, topic, expected)

    def consume_refused(self, topic, by_metadata):
        ck_consume_refused(self.server, self.user, topic, TOPIC_LOG if by_metadata else TOPIC_ERROR)


class KpClient:
    """kafka-python: a refused send raises TopicAuthorizationFailedError; an assign()-ed
    consumer raises it from poll() for a Fetch answered 29, and for a topic Metadata refuses
    logs "Topic T is not authorized for this client" (kafka.cluster) and reads nothing."""

    LOGGER = "kafka.cluster"

    def __init__(self, server, user):
        self.server, self.user = server, user

    def produce_ok(self, topic, vals):
        assert kp_send(self.server, self.user, topic, vals) is None

    def produce_refused(self, topic, vals):
        error = kp_send(self.server, self.user, topic, vals)
        assert isinstance(error, kp_errors.TopicAuthorizationFailedError), repr(error)

    def consume_ok(self, topic, expected):
        assert kp_read(self.server, self.user, topic, len(expected), 30) == (expected, None)

    def consume_refused(self, topic, by_metadata):
        line = f"Topic {topic} is not authorized for this client"
        with Lines(self.LOGGER) as log:
            got, error = kp_read(self.server, self.user, topic, 1, REFUSED_POLL_S, log, line)
        assert got == [], f"{self.user} read {len(got)} records without READ"
        if by_metadata:
            assert log.saw(line), (repr(error), log.lines[-5:])
        else:
            assert isinstance(error, kp_errors.TopicAuthorizationFailedError), repr(error)


class AioClient(KpClient):
    """aiokafka: as kafka-python (its cluster logger is aiokafka.cluster)."""

    LOGGER = "aiokafka.cluster"

    def produce_ok(self, topic, vals):
        assert run(aio_send(self.server, self.user, topic, vals)) is None

    def produce_refused(self, topic, vals):
        error = run(aio_send(self.server, self.user, topic, vals))
        assert isinstance(error, aio_errors.TopicAuthorizationFailedError), repr(error)

    def consume_ok(self, topic, expected):
        assert run(aio_read(self.server, self.user, topic, len(expected), 30)) == (expected, None)

    def consume_refused(self, topic, by_metadata):
        line = f"Topic {topic} is not authorized for this client"
        with Lines(self.LOGGER) as log:
            got, error = run(aio_read(self.server, self.user, topic, 1, REFUSED_POLL_S, log, line))
        assert got == [], f"{self.user} read {len(got)} records without READ"
        if by_metadata:
            assert log.saw(line), (repr(error), log.lines[-5:])
        else:
            assert isinstance(error, aio_errors.TopicAuthorizationFailedError), repr(error)


class KcatClient:
    """kcat (Debian's 1.7.1 on librdkafka 2.0.2): a refusal is exit code 1 and librdkafka's
    words on stderr."""

    def __init__(self, server, user):
        self.server, self.user = server, user

    def produce_ok(self, topic, vals):
        proc = kcat_produce(self.server, self.user, topic, vals)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]

    def produce_refused(self, topic, vals):
        proc = kcat_produce(self.server, self.user, topic, vals)
        assert proc.returncode != 0, proc.stderr.decode()[-2000:]
        assert b"% Delivery failed for message: Broker: Topic authorization failed" in proc.stderr, proc.stderr.decode()[-2000:]

    def consume_ok(self, topic, expected):
        proc = kcat_consume(self.server, self.user, topic)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        assert [v for _, _, _, v in parse(proc.stdout)] == expected

    def consume_refused(self, topic, by_metadata):
        proc = kcat_consume(self.server, self.user, topic)
        assert (proc.returncode, proc.stdout) == (1, b""), proc.stderr.decode()[-2000:]
        if by_metadata:
            expected = f"% ERROR: Topic {topic} error: Broker: Topic authorization failed"
        else:
            expected = f"% ERROR: Topic {topic} [0] error: Fetch from broker 1 failed: Broker: Topic authorization failed"
        assert expected in proc.stderr.decode(), proc.stderr.decode()[-2000:]


CLIENTS = {"confluent-kafka": CkClient, "kafka-python": KpClient, "aiokafka": AioClient, "kcat": KcatClient}


@pytest.mark.parametrize("client", CLIENTS)
def test_produce_needs_write_and_fetch_needs_read(server, client):
    """alice's ACLs on a topic go through four states; each client sees each one:

    * none: produce refused (Metadata already refuses the topic: 29), consume refused;
    * WRITE (implies DESCRIBE): produce allowed; consume refused by the Fetch itself (29);
    * WRITE and READ: consume allowed, admin's records and hers; bob still refused;
    * READ only (WRITE removed again): produce refused by the Produce itself (29).

    After each refused produce the high watermark (as admin sees it) has not moved."""
    alice, bob = CLIENTS[client](server, "alice"), CLIENTS[client](server, "bob")
    topic = create_topic(server)
    ck_produce_ok(server, "admin", topic, values("admin"))

    alice.produce_refused(topic, values("no-acl"))
    alice.consume_refused(topic, by_metadata=True)
    assert high_watermark(server, topic) == N, "a refused produce appended records"

    allow(server, "User:alice", topic, "Write")
    wait_visible(server, "alice", topic)
    alice.produce_ok(topic, values("alice"))
    assert high_watermark(server, topic) == 2 * N
    alice.consume_refused(topic, by_metadata=False)

    allow(server, "User:alice", topic, "Read")
    alice.consume_ok(topic, values("admin") + values("alice"))
    bob.produce_refused(topic, values("bob"))
    bob.consume_refused(topic, by_metadata=True)

    rill_acls(server, "--remove", "--force", "--allow-principal", "User:alice", "--operation", "Write", "--topic", topic)
    alice.produce_refused(topic, values("read-only"))
    assert high_watermark(server, topic) == 2 * N, "a refused produce appended records"
    alice.consume_ok(topic, values("admin") + values("alice"))


def test_raw_produce_refused_with_29(server):
    """Produce v8 on a logged-in connection, no client metadata involved: the partition's
    answer is 29 and nothing is appended."""
    topic = create_topic(server)
    batch = kwire.record_batch([(None, b"raw")])
    with kwire.Conn(("127.0.0.1", server.sasl_port)) as c:
        assert c.sasl_plain("bob", "bob-secret")["error_code"] == 0
        answer = c.produce_v8(topic, 0, batch)
    assert answer["error_code"] == TOPIC_AUTHORIZATION_FAILED, answer
    assert high_watermark(server, topic) == 0


def test_anonymous_plaintext_client_is_refused(server):
    """User:ANONYMOUS (the PLAINTEXT listener) is neither a super user nor in any ACL."""
    topic = create_topic(server)
    ck_produce_refused(server, None, topic, values("anonymous"))
    assert high_watermark(server, topic) == 0


# ---------------------------------------------------------------------------- metadata


def test_metadata_shows_only_describable_topics(server):
    hidden, described, read, written = (create_topic(server) for _ in range(4))
    allow(server, "User:alice", described, "Describe")
    allow(server, "User:alice", read, "Read")
    allow(server, "User:alice", written, "Write")
    wait_visible(server, "alice", described)
    # admin (a super user) sees every topic.
    for t in (hidden, described, read, written):
        assert topic_visibility(server, "admin", t) == (True, None)
    # bob has no ACL: not listed, and 29 when asked for by name.
    for t in (hidden, described, read, written):
        assert topic_visibility(server, "bob", t) == (False, TOPIC_AUTHORIZATION_FAILED), t
    # alice sees what she may DESCRIBE (READ and WRITE imply it), not the rest.
    for t in (described, read, written):
        assert topic_visibility(server, "alice", t) == (True, None), t
    assert topic_visibility(server, "alice", hidden) == (False, TOPIC_AUTHORIZATION_FAILED)
    # kcat -L says the same.
    listed = {t["topic"] for t in json.loads(kcat_ok(server, "bob", "-L", "-J"))["topics"]}
    assert not listed & {hidden, described, read, written}, listed
    listed = {t["topic"] for t in json.loads(kcat_ok(server, "alice", "-L", "-J"))["topics"]}
    assert {described, read, written} <= listed and hidden not in listed, listed
    md = json.loads(kcat_ok(server, "bob", "-L", "-J", "-t", hidden))
    assert [(t["topic"], t.get("error")) for t in md["topics"]] == [(hidden, "Broker: Topic authorization failed")], md


def test_authorized_operations_are_reported_for_topics_and_the_cluster(server):
    """Metadata's `topic_authorized_operations` (librdkafka's describe_topics) and
    DescribeCluster's `cluster_authorized_operations`, asked for: the supported operations the
    principal may do, READ and WRITE implying DESCRIBE as in Kafka's authorizer."""
    from confluent_kafka import TopicCollection

    topic = create_topic(server)
    allow(server, "User:alice", topic, "Read", "Write")
    wait_visible(server, "alice", topic)

    def topic_operations(user):
        admin = AdminClient(ck_conf(server, user))
        described = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True)
        return {op.name for op in described[topic].result(timeout=15).authorized_operations or []}

    def cluster_operations(user):
        admin = AdminClient(ck_conf(server, user))
        described = admin.describe_cluster(include_authorized_operations=True).result(timeout=15)
        return {op.name for op in described.authorized_operations or []}

    assert topic_operations("alice") == {"READ", "WRITE", "DESCRIBE"}
    assert topic_operations("admin") == {
        "READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
    }
    assert cluster_operations("alice") == set()
    assert cluster_operations("admin") == {
        "CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "ALTER", "DESCRIBE",
    }


# ---------------------------------------------------------------------------- patterns, deny, super user


def test_prefixed_acl_matches_by_prefix(server):
    prefix = unique("orders") + "-"
    orders_eu = create_topic(server, prefix + "eu")
    payments = create_topic(server, unique("payments"))
    # The prefix without its dash does not match a name that only shares that much.
    near_miss = create_topic(server, prefix[:-1] + "x")
    allow(server, "User:alice", prefix, "Write", "Read", pattern="prefixed")
    wait_visible(server, "alice", orders_eu)
    ck_produce_ok(server, "alice", orders_eu, values("eu"))
    ck_consume_ok(server, "alice", orders_eu, values("eu"))
    ck_produce_refused(server, "alice", payments, values("payments"))
    ck_produce_refused(server, "alice", near_miss, values("near-miss"))
    watermarks = [high_watermark(server, t) for t in (orders_eu, payments, near_miss)]
    assert watermarks == [N, 0, 0]
    # A topic made later under the prefix is covered by the same ACL.
    later = create_topic(server, prefix + "us")
    wait_visible(server, "alice", later)
    ck_produce_ok(server, "alice", later, values("us"))


def test_deny_beats_allow(server):
    topic = create_topic(server)
    allow(server, "User:*", topic, "Read", "Write")
    try:
        rill_acls(server, "--add", "--deny-principal", "User:bob", "--operation", "All", "--topic", topic)
        wait_visible(server, "alice", topic)
        ck_produce_ok(server, "alice", topic, values("alice"))
        ck_produce_refused(server, "bob", topic, values("bob"))
        ck_consume_ok(server, "alice", topic, values("alice"))
        # DENY All denies DESCRIBE too: Metadata refuses him the topic.
        ck_consume_refused(server, "bob", topic, TOPIC_LOG)
        assert topic_visibility(server, "bob", topic) == (False, TOPIC_AUTHORIZATION_FAILED)
        assert high_watermark(server, topic) == N
        # Removing the DENY lets bob in through the ALLOW for User:*.
        rill_acls(server, "--remove", "--force", "--deny-principal", "User:bob", "--operation", "All", "--topic", topic)
        wait_visible(server, "bob", topic)
        ck_produce_ok(server, "bob", topic, values("bob"))
        assert high_watermark(server, topic) == 2 * N
    finally:
        # An ALLOW WRITE for User:* would give everyone "WRITE on some topic", which is enough
        # for an idempotent producer id (test_idempotent_producer_needs_write_on_a_topic).
        rill_acls(server, "--remove", "--force", "--topic", topic)


def test_super_user_needs_no_acl(server):
    topic = create_topic(server)
    ck_produce_ok(server, "admin", topic, values("plain"))
    ck_produce_ok(server, "admin", topic, values("idempotent"), **{"enable.idempotence": True})
    ck_consume_ok(server, "admin", topic, values("plain") + values("idempotent"))
    # A DENY for everyone does not bind a super user (Kafka checks super.users first)...
    rill_acls(server, "--add", "--deny-principal", "User:*", "--operation", "All", "--topic", topic)
    ck_produce_ok(server, "admin", topic, values("after-deny"))
    # ... and does bind anyone else.
    ck_produce_refused(server, "alice", topic, values("alice"))
    assert high_watermark(server, topic) == 3 * N


# ---------------------------------------------------------------------------- consumer groups


def committed(server, group, topic):
    c = Consumer({**ck_conf(server, "admin"), "group.id": group, "enable.auto.commit": False})
    try:
        (tp,) = c.committed([TopicPartition(topic, 0)], timeout=10)
        return tp.offset
    finally:
        c.close()


def test_consumer_group_needs_read_on_group_and_topic(server):
    topic, other = create_topic(server), create_topic(server)
    group = unique("acl-group")
    written = values("admin")
    ck_produce_ok(server, "admin", topic, written)
    ck_produce_ok(server, "admin", other, written)
    allow(server, "User:alice", topic, "Read")
    wait_visible(server, "alice", topic)
    # READ on the topic, nothing on the group: the group refuses her.
    ck_consume_refused(server, "alice", topic, GROUP_ERROR, group=group, subscribe=True)
    assert committed(server, group, topic) < 0, "a refused member committed"
    # READ on the group and on the topic: she joins, reads and commits.
    allow(server, "User:alice", None, "Read", group=group)
    ck_consume_ok(server, "alice", topic, written, group=group, subscribe=True, commit=True)
    assert committed(server, group, topic) == N
    # READ on the group but not on the topic subscribed: Metadata refuses the topic, which
    # librdkafka reports to poll() for a subscription.
    ck_consume_refused(server, "alice", other, TOPIC_ERROR, group=group, subscribe=True)
    # bob, with no ACL, may not even look the group up (FindCoordinator needs DESCRIBE on it).
    ck_consume_refused(server, "bob", topic, GROUP_ERROR, group=group, subscribe=True)
    # The tool, as admin, sees the committed offset.
    proc = subprocess.run(
        [str(RILL_BIN), "consumer-groups", "--bootstrap-server", server.sasl_bootstrap,
         "--command-config", str(server.command_config), "--describe", "--group", group],
        capture_output=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [line.split() for line in proc.stdout.decode().splitlines()]
    assert any(row[:4] == [group, topic, "0", str(N)] for row in rows), proc.stdout.decode()


# ---------------------------------------------------------------------------- idempotent producer


def allowed_writes(server, principals):
    """`rill acls --list` lines of ALLOW WRITE or ALL ACLs for any of `principals`."""
    return [
        line.strip() for line in rill_acls(server, "--list").splitlines()
        if "permissionType=ALLOW" in line and any(f"principal={p}," in line for p in principals)
        and ("operation=WRITE," in line or "operation=ALL," in line)
    ]


def test_idempotent_producer_needs_write_on_a_topic(server):
    topic = create_topic(server)
    # What follows needs bob to have no WRITE anywhere (ACLs other tests left included).
    assert allowed_writes(server, ["User:bob", "User:*"]) == []
    allow(server, "User:alice", topic, "Write")
    allow(server, "User:bob", topic, "Read")
    wait_visible(server, "alice", topic)
    wait_visible(server, "bob", topic)
    # WRITE on a topic is enough for InitProducerId without IDEMPOTENT_WRITE on the cluster.
    ck_produce_ok(server, "alice", topic, values("idempotent"), **{"enable.idempotence": True})
    # bob may read, not write anywhere: InitProducerId is refused with
    # CLUSTER_AUTHORIZATION_FAILED, a fatal error for librdkafka's idempotent producer.
    delivered, failed, errors = ck_produce(server, "bob", topic, values("bob"), **{"enable.idempotence": True})
    assert delivered == [] and len(failed) == N
    fatal = {e.code() for e in errors + failed if e.fatal()}
    assert fatal == {KafkaError.CLUSTER_AUTHORIZATION_FAILED}, f"client errors {errors[:3]}, delivery errors {failed[:3]}"
    assert KafkaError.TOPIC_AUTHORIZATION_FAILED not in {e.code() for e in failed}, "InitProducerId was not refused"
    assert high_watermark(server, topic) == N
    # IDEMPOTENT_WRITE on the cluster (and no WRITE anywhere) is the other way to a producer
    # id: InitProducerId passes, and only the Produce is refused (29, no fatal error).
    rill_acls(server, "--add", "--allow-principal", "User:bob", "--operation", "IdempotentWrite", "--cluster")
    try:
        errors = ck_produce_refused(server, "bob", topic, values("bob"), **{"enable.idempotence": True})
        assert not [e for e in errors if e.fatal()], errors
        assert high_watermark(server, topic) == N
    finally:
        rill_acls(server, "--remove", "--force", "--allow-principal", "User:bob",
                  "--operation", "IdempotentWrite", "--cluster")
