"""kafkajs 2.2.4 (Node.js; its own protocol implementation, which tries ApiVersions v2 -> v0 and
ignores the broker's minimum versions) against rill server: admin, idempotent acks=all produce,
offsets, delete. Its consumer needs consumer groups, which are not served yet."""

import json
import pathlib
import shutil
import subprocess

HERE = pathlib.Path(__file__).parent / "kafkajs"


def test_kafkajs_admin_and_idempotent_producer(rill, topic_name):
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed for the kafkajs test"
    if not (HERE / "node_modules" / "kafkajs").exists():
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=HERE, check=True, timeout=120)
    out = subprocess.run(
        [node, "check.js", rill.bootstrap, topic_name], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr + rill.log()
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["created"] is True
    assert topic_name in result["topics"]
    assert {p["errorCode"] for p in result["sent"]} == {0}
    highs = {int(o["partition"]): int(o["high"]) for o in result["offsets"]}
    assert sum(highs.values()) == 40, highs
    # Same key, same partition: 4 keys x 10 messages, so every partition holds a multiple of 10.
    assert all(h % 10 == 0 for h in highs.values()), highs
    assert topic_name not in result["after"]
