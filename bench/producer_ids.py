#!/usr/bin/env python3
"""InitProducerId latency now that producer ids come from the controller quorum in blocks of
1000 (one committed metadata entry per block), on one real `rill server` (a quorum of one):

* **first id**: from the process start until the first InitProducerId answers with an id (it
  waits for the broker's registration and the first block; clients retry
  COORDINATOR_LOAD_IN_PROGRESS until then);
* **per call**: `--calls` InitProducerId calls on one connection, one after the other: the median
  and p99 of all, and the median of the calls that had to ask the quorum for a new block (every
  1000th) against the others.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    python3 bench/producer_ids.py [--calls 5000] [--runs 3]

RILL_BIN picks another binary (default target/release/rill). Raw Kafka protocol (InitProducerId
v1), so no client library is needed.
"""

import argparse
import os
import socket
import statistics
import struct
import subprocess
import tempfile
import time

BIN = os.environ.get("RILL_BIN", "target/release/rill")
PORT = 29431
INIT_PRODUCER_ID = 22
COORDINATOR_LOAD_IN_PROGRESS = 14


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.correlation = 0

    def init_producer_id(self):
        """InitProducerId v1 with no transactional id: (error code, producer id)."""
        self.correlation += 1
        header = struct.pack(">hhih", INIT_PRODUCER_ID, 1, self.correlation, 5) + b"bench"
        body = struct.pack(">hi", -1, 60_000)
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self.read(4))
        response = self.read(size)
        _, _, error, producer_id, _ = struct.unpack(">iihqh", response)
        return error, producer_id

    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data


def connect(deadline):
    while True:
        try:
            return Conn(PORT)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def run(calls):
    with tempfile.TemporaryDirectory() as data:
        log = open(os.path.join(data, "server.log"), "wb")
        started = time.monotonic()
        server = subprocess.Popen(
            [BIN, "server", "--listeners", f"PLAINTEXT://127.0.0.1:{PORT}", "--log-dirs", data],
            stdout=log, stderr=log,
        )
        try:
            conn = connect(started + 30)
            while True:
                error, _ = conn.init_producer_id()
                if error == 0:
                    break
                assert error == COORDINATOR_LOAD_IN_PROGRESS, error
                time.sleep(0.001)
            first_ms = (time.monotonic() - started) * 1000
            # Calls until the first block is used up, then `calls` more.
            latencies = []
            block_asks = []
            ids = set()
            for _ in range(calls):
                t0 = time.perf_counter()
                error, producer_id = conn.init_producer_id()
                elapsed_ms = (time.perf_counter() - t0) * 1000
                assert error == 0, error
                assert producer_id not in ids, producer_id
                ids.add(producer_id)
                latencies.append(elapsed_ms)
                # The first id of a block came from a fresh ask to the quorum.
                (block_asks if producer_id % 1000 == 0 else []).append(elapsed_ms)
            return first_ms, latencies, block_asks
        finally:
            server.terminate()
            server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    firsts, medians, p99s, asks = [], [], [], []
    for n in range(args.runs):
        first_ms, latencies, block_asks = run(args.calls)
        latencies.sort()
        median = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99)]
        ask = statistics.median(block_asks) if block_asks else float("nan")
        print(f"run {n + 1}: first id {first_ms:.1f} ms after start; per call median {median * 1000:.0f} us, "
              f"p99 {p99 * 1000:.0f} us; calls that asked for a block ({len(block_asks)}): median {ask:.2f} ms")
        firsts.append(first_ms)
        medians.append(median)
        p99s.append(p99)
        asks.append(ask)
    print(f"median of {args.runs} runs: first id {statistics.median(firsts):.1f} ms; per call median "
          f"{statistics.median(medians) * 1000:.0f} us, p99 {statistics.median(p99s) * 1000:.0f} us; "
          f"a block ask {statistics.median(asks):.2f} ms")


if __name__ == "__main__":
    main()
