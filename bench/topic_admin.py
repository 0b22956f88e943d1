#!/usr/bin/env python3
"""Topic administration latency now that topics live in the controller quorum's metadata log
(every CreateTopics and DeleteTopics is a committed, applied entry before its logs open), on
one real `rill server` (a quorum of one), through confluent-kafka's AdminClient:

* **start**: from the process start until a client's first Metadata answers (the broker waits
  for the leader's commit, opens its logs, registers and is unfenced before it takes clients);
* **create** / **delete**: `--topics` topics of `--partitions` partitions each, one request at a
  time: the median and p99 of each call.

    python3 bench/topic_admin.py [--topics 100] [--partitions 3] [--runs 3]

RILL_BIN picks the binary (default target/release/rill); run it with the tests' virtualenv
(`.venv/bin/python`, made by `tests/clients/run.sh`), which has confluent-kafka.
"""

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time

from confluent_kafka.admin import AdminClient, NewTopic

BIN = os.environ.get("RILL_BIN", "target/release/rill")
PORT = 29432


def run(topics, partitions):
    with tempfile.TemporaryDirectory() as data:
        log = open(os.path.join(data, "server.log"), "wb")
        started = time.monotonic()
        server = subprocess.Popen(
            [BIN, "server", "--listeners", f"PLAINTEXT://127.0.0.1:{PORT}", "--log-dirs", data],
            stdout=log, stderr=log,
        )
        try:
            admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{PORT}"})
            while True:
                try:
                    admin.list_topics(timeout=0.5)
                    break
                except Exception:
                    if time.monotonic() - started > 30:
                        raise
            start_ms = (time.monotonic() - started) * 1000
            creates, deletes = [], []
            names = [f"bench-{i}" for i in range(topics)]
            for name in names:
                t0 = time.perf_counter()
                admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
                creates.append((time.perf_counter() - t0) * 1000)
            for name in names:
                t0 = time.perf_counter()
                admin.delete_topics([name])[name].result(30)
                deletes.append((time.perf_counter() - t0) * 1000)
            return start_ms, sorted(creates), sorted(deletes)
        finally:
            server.terminate()
            server.wait(timeout=20)


def p99(values):
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    starts, creates, create_p99s, deletes, delete_p99s = [], [], [], [], []
    for n in range(args.runs):
        start_ms, c, d = run(args.topics, args.partitions)
        print(f"run {n + 1}: start {start_ms:.0f} ms; create median {statistics.median(c):.2f} ms, "
              f"p99 {p99(c):.2f} ms; delete median {statistics.median(d):.2f} ms, p99 {p99(d):.2f} ms")
        starts.append(start_ms)
        creates.append(statistics.median(c))
        create_p99s.append(p99(c))
        deletes.append(statistics.median(d))
        delete_p99s.append(p99(d))
    print(f"median of {args.runs} runs: start {statistics.median(starts):.0f} ms; create median "
          f"{statistics.median(creates):.2f} ms (p99 {statistics.median(create_p99s):.2f}); delete median "
          f"{statistics.median(deletes):.2f} ms (p99 {statistics.median(delete_p99s):.2f})")


if __name__ == "__main__":
    main()
