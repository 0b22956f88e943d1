#!/usr/bin/env python3
"""Produce and consume throughput of a real client (confluent-kafka / librdkafka) against
`rill server` (the release build), per message size and acks setting. Prints a table of the
median of `--runs` runs per cell.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/clients_throughput.py [--secs 3] [--runs 3] [--partitions 3]

(`bash tests/clients/run.sh` creates .venv with the pinned clients.)

Each run uses a fresh topic. Produce: one producer (librdkafka defaults: linger.ms=5, batches
up to 1 MB, no compression, idempotence off) sends unkeyed messages in a loop for `--secs`
seconds, then flushes; the rate counts acknowledged messages over the time including the
flush. Consume: one consumer assign()s every partition from the beginning and reads back what
that run produced; the rate is messages over the time to the last one. Every cell starts its
own server on a temporary data directory (the system temp dir: pass --dir to choose the disk).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RILL_BIN", str(REPO / "target" / "release" / "rill"))
sys.path.insert(0, str(REPO / "tests" / "clients"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402

import ck  # noqa: E402
from conftest import RILL_BIN, RillServer  # noqa: E402


def produce_run(bootstrap, topic, size, acks, secs):
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "enable.idempotence": False})
    payload = os.urandom(size)
    acked = [0]
    failed = [0]

    def on_delivery(err, _msg):
        if err is None:
            acked[0] += 1
        else:
            failed[0] += 1

    start = time.monotonic()
    deadline = start + secs
    while time.monotonic() < deadline:
        for _ in range(1000):
            try:
                p.produce(topic, payload, on_delivery=on_delivery)
            except BufferError:
                p.poll(0.001)
                break
        p.poll(0)
    remaining = p.flush(60)
    elapsed = time.monotonic() - start
    if remaining or failed[0]:
        raise RuntimeError(f"{remaining} undelivered, {failed[0]} failed")
    return acked[0], elapsed


def consume_run(bootstrap, topic, partitions, expected, timeout_s=60):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # librdkafka backs its fetcher off for fetch.queue.backoff.ms (default 1000) when
            # queued.min.messages (100k) are waiting for the application: with 100 B messages
            # that idles broker and client for most of every second. 10 ms keeps the fetcher busy.
            "fetch.queue.backoff.ms": 10,
        }
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = 0
    start = time.monotonic()
    last = start
    try:
        while got < expected and time.monotonic() - start < timeout_s:
            for msg in c.consume(num_messages=10000, timeout=0.5):
                if msg.error():
                    raise RuntimeError(str(msg.error()))
                got += 1
                last = time.monotonic()
    finally:
        c.close()
    if got < expected:
        raise RuntimeError(f"consumed {got} of {expected} within {timeout_s}s")
    return got, last - start


def cell(args, size, acks):
    produce_rates, consume_rates = [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        server = RillServer(tmp)
        server.start()
        try:
            for _ in range(args.runs):
                topic = f"bench-{uuid.uuid4().hex[:8]}"
                ck.create_topic(server.bootstrap, topic, args.partitions)
                n, secs = produce_run(server.bootstrap, topic, size, acks, args.secs)
                produce_rates.append(n / secs)
                n, secs = consume_run(server.bootstrap, topic, args.partitions, n)
                consume_rates.append(n / secs)
        finally:
            server.stop()
    return statistics.median(produce_rates), statistics.median(consume_rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=float, default=3.0, help="produce seconds per run (default 3)")
    ap.add_argument("--runs", type=int, default=3, help="runs per cell; the median is shown (default 3)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--dir", default=None, help="parent of the server's data directory")
    args = ap.parse_args()
    if not RILL_BIN.exists():
        sys.exit(f"{RILL_BIN} is missing: cargo build --release --bin rill")

    print(f"rill: {RILL_BIN}; confluent-kafka {ck.confluent_kafka_version()}; {args.partitions} partitions;")
    print(f"median of {args.runs} runs, {args.secs:g} s of produce each; MB = 10^6 bytes of message values\n")
    header = f"{'size':>6} {'acks':>4} | {'produce msg/s':>13} {'MB/s':>7} | {'consume msg/s':>13} {'MB/s':>7}"
    print(header)
    print("-" * len(header))
    for size in (100, 1024):
        for acks in ("1", "all"):
            produce, consume = cell(args, size, acks)
            print(
                f"{size:>6} {acks:>4} | {produce:>13,.0f} {produce * size / 1e6:>7.1f} | "
                f"{consume:>13,.0f} {consume * size / 1e6:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
