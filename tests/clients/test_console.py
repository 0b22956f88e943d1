"""The web console (`/` on the admin endpoint) in a real headless browser (Debian's chromium):
against a running 3-node cluster, the page shows every broker, the quorum's leader, a topic's
partitions with their offsets, and a consumer group with its lag per partition, joined in the
browser from every node's `/api/node.json`. A screenshot is saved as an artifact
(tests/clients/artifacts/console.png).
"""

import html
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")



def chromium(*args, timeout_s=60):
    """Runs headless chromium; its stdout."""
    assert CHROMIUM is not None, "chromium is not installed: bash tests/setup.sh installs it"
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--no-first-run", "--user-data-dir=/tmp/rill-console-chromium", *args],
        capture_output=True, timeout=timeout_s,
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    return run.stdout.decode(errors="replace")


def rendered(url):
    """The page's DOM after its scripts ran (chromium waits for the virtual time budget, which
    pauses while requests are in flight)."""
    return chromium("--virtual-time-budget=8000", "--dump-dom", url)


def cells(dom, css_class, **data):
    """The text of the <td> of `css_class` whose data-* attributes are `data`."""
    attrs = "".join(f'(?=[^>]*data-{k}="{re.escape(str(v))}")' for k, v in data.items())
    pattern = rf'<td class="[^"]*\b{css_class}\b[^"]*"{attrs}[^>]*>([^<]*)</td>'
    return [html.unescape(m) for m in re.findall(pattern, dom)]


def test_console_shows_the_cluster_a_topic_and_a_group_with_its_lag(rill_cluster, topic_name):
    nodes = rill_cluster(3)
    bootstrap = ",".join(n.bootstrap for n in nodes)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic_name, 3, 3)])[topic_name].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(60):
        producer.produce(topic_name, value=f"v{i}".encode(), partition=i % 3)
    assert producer.flush(30) == 0
    # The group read everything, and commits 5 of each partition's 20: a lag of 15 each.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-group",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    deadline = time.monotonic() + 30
    while True:
        try:
            consumer.commit(offsets=[TopicPartition(topic_name, p, 5) for p in range(3)],
                            asynchronous=False)
            break
        except KafkaException as e:  # the coordinator may still be loading its partition
            assert time.monotonic() < deadline, e
            time.sleep(0.5)
    consumer.close()
    # A group whose name is markup: shown as text, never run.
    hostile = '<img src=x onerror="document.title=1">'
    marked = Consumer({"bootstrap.servers": bootstrap, "group.id": hostile, "enable.auto.commit": False})
    deadline = time.monotonic() + 30
    while True:
        try:
            marked.commit(offsets=[TopicPartition(topic_name, 0, 1)], asynchronous=False)
            break
        except KafkaException as e:
            assert time.monotonic() < deadline, e
            time.sleep(0.5)
    marked.close()

    # The page is served by node 2, which holds no special role.
    url = nodes[1].admin_url + "/?expand=all"
    with urllib.request.urlopen(nodes[1].admin_url + "/api/cluster.json", timeout=10) as answer:
        cluster = json.load(answer)
    assert sorted(b["id"] for b in cluster["brokers"]) == [1, 2, 3]
    assert all(b["admin"] for b in cluster["brokers"]), cluster["brokers"]
    leader = cluster["quorum"]["leader"]
    assert leader in (1, 2, 3)

    deadline = time.monotonic() + 60
    while True:
        dom = rendered(url)
        lags = {p: cells(dom, "lag", group="console-group", topic=topic_name, partition=p) for p in range(3)}
        if all(lags[p] == ["15"] for p in range(3)) or time.monotonic() > deadline:
            break
        time.sleep(1)
    errors = re.findall(r'<div id="error">([^<]*)</div>', dom)
    assert errors == [""], errors
    # The cluster, its brokers and the quorum's leader.
    assert f"controller leader {leader}" in dom
    assert dom.count('<td><span class="ok">reachable</span></td>') == 3, dom[:3000]
    # The topic, with its partitions and their offsets (each partition's end is 20).
    assert f'data-topic="{topic_name}"' in dom and topic_name in dom
    assert "60 records" in dom
    # The group and its lag per partition (15 each), 45 in all.
    assert 'data-group="console-group"' in dom
    assert lags == {p: ["15"] for p in range(3)}, lags
    assert re.search(r'data-group="console-group".*?class="num total-lag">45<', dom, re.S)
    assert "&lt;img src=x" in dom and "<img src=x" not in dom
    assert "<title>Rill console</title>" in dom

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console.png"
    chromium("--virtual-time-budget=8000", "--window-size=1280,1100", f"--screenshot={shot}", url)
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
