"""The web console's writes (issue 17): read-only, but for a super user when security is on.

One server for the module with Kafka's authorizer (`super.users=User:admin`) and PLAIN users
admin, alice and bob on a SASL_PLAINTEXT listener (test_acl_enforcement's `AclServer`), plus a
SCRAM user carol. The admin endpoint checks HTTP Basic credentials against those users and
writes, as Kafka requests through the broker's own gateway, only for a super user: creating,
growing and deleting a topic, and resetting an inactive group's offsets. Checked over HTTP
(what each answer says, and what confluent-kafka then sees) and in headless chromium (the
page's login and forms). A broker without security never writes through its console.
"""

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

from cdp import Browser
from test_acl_enforcement import USERS, AclServer, ck_conf

pytestmark = pytest.mark.security

ARTIFACTS = Path(__file__).parent / "artifacts"
CAROL = ("carol", "carol-secret")  # a SCRAM-SHA-512 user, not a super user
TIMEOUT_S = 30

_SERVERS = []


@pytest.fixture(autouse=True)
def _report_server_logs(request):
    request.node._rill_servers = _SERVERS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = AclServer(tmp_path_factory.mktemp("console-actions"))
    _SERVERS.append(s)
    s.start()
    try:
        admin = AdminClient(ck_conf(s, "admin"))
        upsert = UserScramCredentialUpsertion(
            CAROL[0], ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), CAROL[1].encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=TIMEOUT_S)
        wait_until_known([s], CAROL)
        yield s
    finally:
        s.stop()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def http(server, path, body=None, auth=None, headers=None):
    """(status, JSON answer) of GET `path` (or POST `body` as JSON) at the admin endpoint."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if auth is not None:
        headers["Authorization"] = basic(*auth)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.admin_url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_until_known(nodes, auth):
    """Waits until every node takes `auth`'s SCRAM password: a credential AlterUserScram-
    Credentials committed reaches each node with the metadata log, a moment later."""
    deadline = time.monotonic() + TIMEOUT_S
    for node in nodes:
        while True:
            status, reply = http(node, "/api/session", auth=auth)
            if status == 200:
                break
            assert status == 401 and time.monotonic() < deadline, (status, reply)
            time.sleep(0.2)


def admin_login():
    return ("admin", USERS["admin"])


def partitions_of(server, topic):
    """The topic's partition count as confluent-kafka's metadata has it; None when absent."""
    md = AdminClient(ck_conf(server, "admin")).list_topics(timeout=TIMEOUT_S)
    t = md.topics.get(topic)
    return None if t is None or t.error is not None else len(t.partitions)


def wait_partitions(server, topic, expected):
    deadline = time.monotonic() + TIMEOUT_S
    while (seen := partitions_of(server, topic)) != expected:
        assert time.monotonic() < deadline, f"{topic}: {seen} partitions, expected {expected}"
        time.sleep(0.3)


def wait_assigned(member):
    deadline = time.monotonic() + TIMEOUT_S
    while not member.assignment():
        assert time.monotonic() < deadline, "never assigned"
        member.poll(0.2)


def commit_from_outside(conf, group, offsets):
    """Commits `offsets` for `group` with a consumer that never joins it, retrying while the
    coordinator still loads its partition."""
    c = Consumer({**conf, "group.id": group})
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            try:
                c.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as e:
                assert time.monotonic() < deadline, e
                time.sleep(0.5)
    finally:
        c.close()


def committed(server, group, topic, partitions):
    c = Consumer({**ck_conf(server, "admin"), "group.id": group})
    try:
        got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=TIMEOUT_S)
        return [tp.offset for tp in got]
    finally:
        c.close()


def test_only_a_super_user_may_write(server):
    topic = unique("nobody")
    create = {"name": topic, "partitions": 1}
    # Nobody logged in; a PLAIN user who is not a super user; a wrong password.
    status, reply = http(server, "/api/topics/create", create)
    assert (status, reply["ok"]) == (401, False), reply
    status, reply = http(server, "/api/topics/create", create, auth=("bob", USERS["bob"]))
    assert status == 403 and "User:bob is not a super user" in reply["message"], reply
    status, reply = http(server, "/api/topics/create", create, auth=("admin", "wrong"))
    assert status == 401 and "Invalid username or password" in reply["message"], reply
    status, reply = http(server, "/api/session", auth=("nobody", "x"))
    assert status == 401, reply
    # The SCRAM user proves its password (and only its own), and is not a super user.
    status, reply = http(server, "/api/session", auth=CAROL)
    assert (status, reply["user"], reply["super_user"]) == (200, "User:carol", False), reply
    status, reply = http(server, "/api/session", auth=(CAROL[0], "carol-wrong"))
    assert status == 401, reply
    status, reply = http(server, "/api/topics/create", create, auth=CAROL)
    assert status == 403, reply
    status, reply = http(server, "/api/session", auth=admin_login())
    assert (status, reply["user"], reply["super_user"]) == (200, "User:admin", True), reply
    # Another site's page may not log in or write, even with the right password (its browser
    # sends its Origin); a write's body must be declared JSON (no preflight-free form post).
    evil = {"Origin": "https://evil.example"}
    status, reply = http(server, "/api/session", auth=admin_login(), headers=evil)
    assert status == 403 and "console pages" in reply["message"], reply
    status, reply = http(server, "/api/topics/create", create, auth=admin_login(), headers=evil)
    assert status == 403, reply
    rebound = {"Origin": f"http://evil.example:{server.admin_port}", "Host": f"evil.example:{server.admin_port}"}
    status, reply = http(server, "/api/topics/create", create, auth=admin_login(), headers=rebound)
    assert status == 403, reply
    status, reply = http(server, "/api/topics/create", create, auth=admin_login(),
                         headers={"Content-Type": "text/plain"})
    assert status == 415, reply
    # None of the refused writes happened.
    assert partitions_of(server, topic) is None


def test_a_super_user_creates_grows_and_deletes_a_topic(server):
    topic = unique("console")
    status, reply = http(server, "/api/topics/create",
                         {"name": topic, "partitions": 3, "replication_factor": 1}, auth=admin_login())
    assert status == 200 and reply["ok"], reply
    assert "3 partitions" in reply["message"], reply
    wait_partitions(server, topic, 3)
    # Kafka's answers come back with Kafka's names.
    status, reply = http(server, "/api/topics/create", {"name": topic}, auth=admin_login())
    assert status == 409 and "TOPIC_ALREADY_EXISTS" in reply["message"], reply
    status, reply = http(server, "/api/topics/create", {"name": "no spaces!"}, auth=admin_login())
    assert status == 400 and "INVALID_TOPIC_EXCEPTION" in reply["message"], reply
    status, reply = http(server, "/api/topics/create", {"partitions": 1}, auth=admin_login())
    assert status == 400 and "missing field `name`" in reply["message"], reply
    status, reply = http(server, "/api/topics/partitions", {"name": topic, "count": 2}, auth=admin_login())
    assert status == 400 and "INVALID_PARTITIONS" in reply["message"], reply
    status, reply = http(server, "/api/topics/partitions", {"name": topic, "count": 5}, auth=admin_login())
    assert status == 200 and reply["ok"], reply
    wait_partitions(server, topic, 5)
    status, reply = http(server, "/api/topics/delete", {"name": topic}, auth=admin_login())
    assert status == 200 and reply["ok"], reply
    wait_partitions(server, topic, None)
    status, reply = http(server, "/api/topics/delete", {"name": topic}, auth=admin_login())
    assert status == 400 and "UNKNOWN_TOPIC_OR_PARTITION" in reply["message"], reply


def test_a_super_user_resets_an_inactive_groups_offsets(server):
    topic, group = unique("reset"), unique("reset-group")
    status, reply = http(server, "/api/topics/create", {"name": topic, "partitions": 2}, auth=admin_login())
    assert status == 200, reply
    wait_partitions(server, topic, 2)
    producer = Producer(ck_conf(server, "admin"))
    for i in range(20):
        producer.produce(topic, value=b"v%d" % i, partition=i % 2)
    assert producer.flush(TIMEOUT_S) == 0
    member = Consumer({**ck_conf(server, "admin"), "group.id": group, "enable.auto.commit": False,
                       "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    member.subscribe([topic])
    wait_assigned(member)
    member.commit(offsets=[TopicPartition(topic, p, 7) for p in range(2)], asynchronous=False)
    reset = {"group": group, "offsets": [{"topic": topic, "partition": p, "offset": 2} for p in range(2)]}
    # While the group has a member, a reset is refused, as kafka-consumer-groups refuses it.
    status, reply = http(server, "/api/groups/reset-offsets", reset, auth=admin_login())
    assert status == 409 and "inactive" in reply["message"] and "Stable" in reply["message"], reply
    member.close()
    assert committed(server, group, topic, 2) == [7, 7]
    status, reply = http(server, "/api/groups/reset-offsets", reset, auth=("bob", USERS["bob"]))
    assert status == 403, reply
    status, reply = http(server, "/api/groups/reset-offsets", reset, auth=admin_login())
    assert status == 200 and reply["ok"], reply
    assert committed(server, group, topic, 2) == [2, 2]
    bad = {"group": group, "offsets": [{"topic": topic, "partition": 0, "offset": -5}]}
    status, reply = http(server, "/api/groups/reset-offsets", bad, auth=admin_login())
    assert status == 400, reply
    assert committed(server, group, topic, 2) == [2, 2]


def test_without_security_the_console_never_writes(rill):
    topic = unique("open")
    status, reply = http(rill, "/api/topics/create", {"name": topic}, auth=("admin", "anything"))
    assert status == 403 and "read-only" in reply["message"], reply
    status, reply = http(rill, "/api/session", auth=("admin", "anything"))
    assert status == 403, reply
    with urllib.request.urlopen(rill.admin_url + "/api/cluster.json", timeout=TIMEOUT_S) as answer:
        assert json.load(answer)["security"] == {"authorizer": False}
    md = AdminClient({"bootstrap.servers": rill.bootstrap}).list_topics(timeout=TIMEOUT_S)
    assert topic not in md.topics


def test_the_console_page_writes_for_a_super_user_only(server):
    topic, group = unique("page"), unique("page-group")
    # A group with committed offsets and no member, for the page's reset.
    producer = Producer(ck_conf(server, "admin"))
    http(server, "/api/topics/create", {"name": topic, "partitions": 1}, auth=admin_login())
    wait_partitions(server, topic, 1)
    for i in range(10):
        producer.produce(topic, value=b"%d" % i, partition=0)
    assert producer.flush(TIMEOUT_S) == 0
    commit_from_outside(ck_conf(server, "admin"), group, [TopicPartition(topic, 0, 4)])
    created = unique("made-in-page")
    with Browser() as page:
        page.goto(server.admin_url + "/?expand=all")
        page.wait_for(f"document.body.innerHTML.includes({json.dumps(topic)})")
        # Security is on: a login form, and no actions before a login.
        assert page.js("getComputedStyle(document.getElementById('login-form')).display") == "flex"
        assert page.js("getComputedStyle(document.getElementById('actions')).display") == "none"
        # bob is not a super user: still read-only.
        page.type("#login-user", "bob")
        page.type("#login-password", USERS["bob"])
        page.click("#login")
        page.wait_for("document.getElementById('session').textContent.includes('not a super user')")
        assert page.js("getComputedStyle(document.getElementById('actions')).display") == "none"
        # admin is: the actions appear, and the page's forms write.
        page.type("#login-user", "admin")
        page.type("#login-password", USERS["admin"])
        page.click("#login")
        page.wait_for("document.getElementById('session').textContent.includes('super user)')")
        page.wait_for("getComputedStyle(document.getElementById('actions')).display === 'block'")
        page.type("#create-name", created)
        page.type("#create-partitions", "2")
        page.click("#create-topic")
        page.wait_for("document.getElementById('action-status').textContent.includes('created topic')")
        page.wait_for(f"document.querySelector('tr.topic[data-topic={json.dumps(created)}]')")
        wait_partitions(server, created, 2)
        # A reset asks twice, then commits the log start (0) at the group's coordinator.
        page.type("#reset-group", group)
        page.js("document.getElementById('reset-to').value = 'earliest'")
        page.click("#reset-offsets")
        assert "confirm" in page.text("#reset-offsets")
        assert committed(server, group, topic, 1) == [4]
        page.click("#reset-offsets")
        page.wait_for("document.getElementById('action-status').textContent.includes('reset 1 partition')")
        assert committed(server, group, topic, 1) == [0]
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "console-actions.png"
        page.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # Deleting asks twice too.
        page.type("#delete-name", created)
        page.click("#delete-topic")
        assert partitions_of(server, created) == 2
        page.click("#delete-topic")
        page.wait_for("document.getElementById('action-status').textContent.includes('deleted topic')")
        wait_partitions(server, created, None)


def test_a_reset_from_any_nodes_page_goes_to_the_groups_coordinator(rill_cluster):
    """Three nodes; the page is loaded from a node that does not coordinate the group, so its
    reset is a cross-origin POST to the coordinator's endpoint (CORS preflight included).
    Security is on with the anonymous PLAINTEXT clients as super users (the test's clients need
    no SASL), and the console's login is a SCRAM user, root, made through them."""
    settings = {"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users": "User:ANONYMOUS;User:root"}
    nodes = rill_cluster(3, *[a for k, v in settings.items() for a in ("--override", f"{k}={v}")])
    bootstrap = ",".join(n.bootstrap for n in nodes)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsert = UserScramCredentialUpsertion(
        "root", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"root-secret")
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=TIMEOUT_S)
    wait_until_known(nodes, ("root", "root-secret"))
    topic, group = unique("far"), unique("far-group")
    status, reply = http(nodes[0], "/api/topics/create",
                         {"name": topic, "partitions": 3, "replication_factor": 3}, auth=("root", "root-secret"))
    assert status == 200, reply
    producer = Producer({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            for i in range(30):
                producer.produce(topic, value=b"%d" % i, partition=i % 3)
            assert producer.flush(TIMEOUT_S) == 0
            break
        except (KafkaException, BufferError) as e:  # metadata of the new topic still spreading
            assert time.monotonic() < deadline, e
            time.sleep(0.5)
    commit_from_outside({"bootstrap.servers": bootstrap}, group, [TopicPartition(topic, p, 6) for p in range(3)])
    coordinator = next(i for i, n in enumerate(nodes)
                       if any(g["group"] == group for g in http(n, "/api/node.json")[1]["groups"]))
    elsewhere = nodes[(coordinator + 1) % 3]
    # The preflight a browser sends before the cross-origin POST: allowed for the page of
    # another node of the cluster (its origin named back, never `*`), not for another site.
    def preflight(origin):
        asked = urllib.request.Request(
            nodes[coordinator].admin_url + "/api/groups/reset-offsets", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"})
        with urllib.request.urlopen(asked, timeout=TIMEOUT_S) as answer:
            assert answer.status == 204
            return answer.headers
    allowed = preflight(elsewhere.admin_url)
    assert allowed["Access-Control-Allow-Origin"] == elsewhere.admin_url
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert preflight("https://evil.example")["Access-Control-Allow-Origin"] is None

    # A reset sent to a node that does not coordinate the group is refused, saying so.
    reset = {"group": group, "offsets": [{"topic": topic, "partition": 0, "offset": 1}]}
    status, reply = http(elsewhere, "/api/groups/reset-offsets", reset, auth=("root", "root-secret"))
    # (Rill answers a group request at a node holding no shard for it COORDINATOR_LOAD_IN_PROGRESS:
    # that node cannot tell a partition it does not lead from one still opening.)
    assert status == 409 and "group's coordinator" in reply["message"], reply
    with Browser() as page:
        page.goto(elsewhere.admin_url + "/?expand=all")
        page.wait_for(f"document.body.innerHTML.includes({json.dumps(group)})")
        page.type("#login-user", "root")
        page.type("#login-password", "root-secret")
        page.click("#login")
        page.wait_for("getComputedStyle(document.getElementById('actions')).display === 'block'")
        page.type("#reset-group", group)
        page.js("document.getElementById('reset-to').value = 'latest'")
        page.click("#reset-offsets")
        page.click("#reset-offsets")
        page.wait_for("document.getElementById('action-status').textContent.includes('reset 3 partition')")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    got = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=TIMEOUT_S)
    c.close()
    assert [tp.offset for tp in got] == [10, 10, 10]


def test_a_reset_of_a_live_kip848_group_is_refused_and_changes_nothing(server):
    """A group of the consumer protocol (KIP-848) is Dead to DescribeGroups; its coordinator
    refuses the commit from outside it while it has a member, and the console says why."""
    topic, group = unique("kip848"), unique("kip848-group")
    status, reply = http(server, "/api/topics/create", {"name": topic, "partitions": 1}, auth=admin_login())
    assert status == 200, reply
    wait_partitions(server, topic, 1)
    producer = Producer(ck_conf(server, "admin"))
    for i in range(5):
        producer.produce(topic, value=b"%d" % i, partition=0)
    assert producer.flush(TIMEOUT_S) == 0
    member = Consumer({**ck_conf(server, "admin"), "group.id": group, "group.protocol": "consumer",
                       "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        member.subscribe([topic])
        wait_assigned(member)
        member.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        reset = {"group": group, "offsets": [{"topic": topic, "partition": 0, "offset": 0}]}
        status, reply = http(server, "/api/groups/reset-offsets", reset, auth=admin_login())
        assert status == 409 and "inactive" in reply["message"], reply
        assert "0 of 1 partition(s) committed" in reply["message"], reply
        assert committed(server, group, topic, 1) == [3]
    finally:
        member.close()
