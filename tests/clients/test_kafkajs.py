"""kafkajs 2.2.4 (Node.js; its own protocol implementation, which tries ApiVersions v2 -> v0 and
ignores the broker's minimum versions) against rill server: admin, idempotent acks=all produce,
offsets, delete; and its group consumer (`eachMessage`), which commits and resumes."""

import json
import pathlib
import shutil
import subprocess

import ck

HERE = pathlib.Path(__file__).parent / "kafkajs"


def node_script(*args):
    """Runs a script of kafkajs/ with Node.js (installing kafkajs once) and returns its JSON line."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed for the kafkajs tests"
    if not (HERE / "node_modules" / "kafkajs").exists():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True, timeout=120)
    out = subprocess.run([node, *args], cwd=HERE, capture_output=True, text=True, timeout=90)
    return out, (json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None)


def test_kafkajs_admin_and_idempotent_producer(rill, topic_name):
    out, result = node_script("check.js", rill.bootstrap, topic_name)
    assert out.returncode == 0, out.stderr + rill.log()
    assert result["created"] is True
    assert topic_name in result["topics"]
    assert {p["errorCode"] for p in result["sent"]} == {0}
    highs = {int(o["partition"]): int(o["high"]) for o in result["offsets"]}
    assert sum(highs.values()) == 40, highs
    # Same key, same partition: 4 keys x 10 messages, so every partition holds a multiple of 10.
    assert all(h % 10 == 0 for h in highs.values()), highs
    assert topic_name not in result["after"]


def test_kafkajs_group_consumer_reads_everything_once_commits_and_resumes(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, 3)
    ck.produce(rill.bootstrap, topic_name, [(f"k{i % 5}".encode(), f"v{i}".encode()) for i in range(60)], "all")
    group = f"{topic_name}-group"
    out, result = node_script("consume.js", rill.bootstrap, topic_name, group, "60")
    assert out.returncode == 0, out.stderr + rill.log()
    seen = {(m["partition"], m["offset"]) for m in result["seen"]}
    assert len(seen) == len(result["seen"]) == 60, result["seen"]
    assert sorted(m["value"] for m in result["seen"]) == sorted(f"v{i}" for i in range(60))
    ends = {p: 1 + max(o for q, o in seen if q == p) for p, _ in seen}
    [committed] = result["committed"]
    assert {int(p["partition"]): int(p["offset"]) for p in committed["partitions"]} == ends

    # The next member of the group starts at the commit: only the new messages.
    ck.produce(rill.bootstrap, topic_name, [(b"k", f"new{i}".encode()) for i in range(5)], "all")
    out, result = node_script("consume.js", rill.bootstrap, topic_name, group, "5")
    assert out.returncode == 0, out.stderr + rill.log()
    assert sorted(m["value"] for m in result["seen"]) == sorted(f"new{i}" for i in range(5))
