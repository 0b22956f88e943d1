#!/usr/bin/env python3
"""How fast a metadata change reaches each broker, voters and a broker-only node (an observer of
the controller quorum) alike: three combined `rill server` nodes and one
`process.roles=broker` node on 127.0.0.1. `--topics` times:

1. create a topic of one partition through node 1 (a raw CreateTopics v2, which node 1 answers
   once its own view has the topic);
2. from that answer, ask every node in turn (starting at another node each time) (raw Metadata v4 on a kept connection, auto-creation
   off) until each lists the topic: that node's **lag** behind the answer.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/observer_propagation.py [--topics 30]

(RILL_BIN picks another binary, default target/release/rill.) Prints the median and maximum lag per node.
"""

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time


BIN = os.environ.get("RILL_BIN", "target/release/rill")
KAFKA = [29511, 29512, 29513, 29514]
CONTROLLER = [29521, 29522, 29523]


def start(node, data):
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(CONTROLLER))
    listeners = f"PLAINTEXT://127.0.0.1:{KAFKA[node - 1]}"
    extra = ["--override", "process.roles=broker"]
    if node <= len(CONTROLLER):
        listeners += f",CONTROLLER://127.0.0.1:{CONTROLLER[node - 1]}"
        extra = []
    log = open(os.path.join(data, f"node{node}.log"), "ab")
    return subprocess.Popen(
        [
            BIN, "server", "--node-id", str(node), "--listeners", listeners,
            "--log-dirs", os.path.join(data, f"d{node}"),
            "--override", f"controller.quorum.voters={voters}",
            "--override", "auto.create.topics.enable=false",
            *extra,
        ],
        stdout=log, stderr=log,
    )


class Conn:
    """A raw Kafka connection asking Metadata v4 (allow_auto_topic_creation false)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.correlation = 0

    def lists(self, topic):
        self.correlation += 1
        name = topic.encode()
        body = struct.pack(">i", 1) + struct.pack(">h", len(name)) + name + b"\x00"
        header = struct.pack(">hhih", 3, 4, self.correlation, 5) + b"bench"
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self._read(4))
        data = self._read(size)
        at = 4 + 4  # correlation id, throttle time
        (brokers,) = struct.unpack_from(">i", data, at)
        at += 4
        for _ in range(brokers):
            at += 4
            (n,) = struct.unpack_from(">h", data, at)
            at += 2 + n + 4
            (n,) = struct.unpack_from(">h", data, at)
            at += 2 + max(n, 0)
        (n,) = struct.unpack_from(">h", data, at)  # cluster id
        at += 2 + max(n, 0) + 4  # and the controller id
        (topics,) = struct.unpack_from(">i", data, at)
        (error,) = struct.unpack_from(">h", data, at + 4)
        return topics == 1 and error == 0

    def create(self, topic):
        """CreateTopics v2 of one partition, one replica: the error code."""
        self.correlation += 1
        name = topic.encode()
        body = (struct.pack(">i", 1) + struct.pack(">h", len(name)) + name
                + struct.pack(">ihii", 1, 1, 0, 0) + struct.pack(">i", 30000) + b"\x00")
        header = struct.pack(">hhih", 19, 2, self.correlation, 5) + b"bench"
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self._read(4))
        data = self._read(size)
        at = 4 + 4 + 4  # correlation id, throttle time, topic count
        (n,) = struct.unpack_from(">h", data, at)
        (error,) = struct.unpack_from(">h", data, at + 2 + n)
        return error

    def _read(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return bytes(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", type=int, default=30)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="rill-observer-")
    procs = [start(n, data) for n in (1, 2, 3, 4)]
    try:
        deadline = time.monotonic() + 60
        conns = {}
        while len(conns) < 4:
            if time.monotonic() > deadline:
                sys.exit(f"nodes not serving; logs in {data}")
            for node in (1, 2, 3, 4):
                if node not in conns:
                    try:
                        conn = Conn(KAFKA[node - 1])
                        conn.lists("warm-up")
                        conns[node] = conn
                    except OSError:
                        pass
            time.sleep(0.1)
        time.sleep(2)  # every broker registered and unfenced
        creator = Conn(KAFKA[0])
        lags = {node: [] for node in conns}
        creates = []
        for i in range(args.topics):
            topic = f"propagation-{i}"
            sent = time.monotonic()
            error = creator.create(topic)
            answered = time.monotonic()
            if error != 0:
                sys.exit(f"creating {topic}: error {error}")
            creates.append(answered - sent)
            waiting = set(conns)
            # Asked in turn from a different node each topic, so no node is always asked last.
            order = [1 + (i + k) % 4 for k in range(4)]
            while waiting:
                if time.monotonic() - answered > 30:
                    sys.exit(f"{topic} not listed by {sorted(waiting)} after 30 s; logs in {data}")
                for node in [n for n in order if n in waiting]:
                    if conns[node].lists(topic):
                        lags[node].append(time.monotonic() - answered)
                        waiting.discard(node)
        print(f"CreateTopics answered        median {statistics.median(creates) * 1000:6.1f} ms"
              f"  max {max(creates) * 1000:6.1f} ms")
        for node, seen in sorted(lags.items()):
            role = "broker-only (observer)" if node == 4 else "voter"
            print(f"node {node} {role:<24} median {statistics.median(seen) * 1000:6.1f} ms"
                  f"  max {max(seen) * 1000:6.1f} ms  ({len(seen)} topics)")
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
