#!/usr/bin/env python3
"""Produce and consume throughput of a real client (confluent-kafka / librdkafka) against
`rill server` (the release build), per message size and acks setting. Prints a table of the
median of `--runs` runs per cell.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/clients_throughput.py [--secs 3] [--runs 3] [--partitions 3]
        [--sizes 100,1024] [--acks 1,all] [--compression none,lz4,zstd] [--produce-only]
        [--binaries OLD,NEW]

(`bash tests/clients/run.sh` creates .venv with the pinned clients.)

`--compression` sets librdkafka's `compression.type`. Messages then come from a pool of 256
distinct payloads, each half random bytes and half a repeated text (about 2:1 for lz4 and
zstd), so a batch is neither incompressible (librdkafka would send it uncompressed) nor one
payload repeated. `--binaries A,B,...` compares builds: every run starts a fresh server of each
binary in turn (A, B, A, B, ...), so a noisy machine affects both alike; the table gets one
row per binary.

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
import conftest  # noqa: E402
from conftest import RILL_BIN, RillServer  # noqa: E402


def payloads(size, compression):
    """One random payload (the original bench), or a pool of half-compressible ones."""
    if compression == "none":
        return [os.urandom(size)]
    text = (b"rill bench: a log broker in Rust; " * (size // 34 + 1))[: size - size // 2]
    return [os.urandom(size // 2) + text for _ in range(256)]


def produce_run(bootstrap, topic, size, acks, secs, compression="none"):
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "enable.idempotence": False,
            "compression.type": compression,
        }
    )
    pool = payloads(size, compression)
    i = 0
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
            i += 1
            try:
                p.produce(topic, pool[i % len(pool)], on_delivery=on_delivery)
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


def cpu_seconds(pid):
    """User + system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(args, binary, size, acks, compression):
    """A fresh server of `binary`: one produce run (and consume run). Returns the rates and
    the broker's CPU microseconds per produced message (robust when the client, not the
    broker, limits the rate)."""
    conftest.RILL_BIN = Path(binary)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        server = RillServer(tmp)
        server.start()
        try:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            ck.create_topic(server.bootstrap, topic, args.partitions)
            cpu_before = cpu_seconds(server.proc.pid)
            n, secs = produce_run(server.bootstrap, topic, size, acks, args.secs, compression)
            cpu_us = (cpu_seconds(server.proc.pid) - cpu_before) * 1e6 / n
            produced = n / secs
            consumed = float("nan")
            if not args.produce_only:
                n, secs = consume_run(server.bootstrap, topic, args.partitions, n)
                consumed = n / secs
            return produced, consumed, cpu_us
        finally:
            server.stop()


def cell(args, size, acks, compression="none"):
    """Median produce and consume rates of the default binary (one server for all runs)."""
    produce_rates, consume_rates = [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        server = RillServer(tmp)
        server.start()
        try:
            for _ in range(args.runs):
                topic = f"bench-{uuid.uuid4().hex[:8]}"
                ck.create_topic(server.bootstrap, topic, args.partitions)
                n, secs = produce_run(server.bootstrap, topic, size, acks, args.secs, compression)
                produce_rates.append(n / secs)
                if args.produce_only:
                    consume_rates.append(float("nan"))
                    continue
                n, secs = consume_run(server.bootstrap, topic, args.partitions, n)
                consume_rates.append(n / secs)
        finally:
            server.stop()
    return statistics.median(produce_rates), statistics.median(consume_rates)


def alternated(args, size, acks, compression):
    """{binary: (median produce, median consume, all produce rates)}, runs alternating."""
    rates = {b: ([], [], []) for b in args.binaries}
    for _ in range(args.runs):
        for binary in args.binaries:
            for into, value in zip(rates[binary], one_run(args, binary, size, acks, compression)):
                into.append(value)
    return {
        b: (statistics.median(p), statistics.median(c), p, statistics.median(cpu))
        for b, (p, c, cpu) in rates.items()
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=float, default=3.0, help="produce seconds per run (default 3)")
    ap.add_argument("--runs", type=int, default=3, help="runs per cell; the median is shown (default 3)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--dir", default=None, help="parent of the server's data directory")
    ap.add_argument("--sizes", default="100,1024", help="message sizes in bytes (default 100,1024)")
    ap.add_argument("--acks", default="1,all", help="acks settings (default 1,all)")
    ap.add_argument(
        "--compression", default="none", help="compression.type values, e.g. none,lz4,zstd (default none)"
    )
    ap.add_argument("--produce-only", action="store_true", help="skip the consume runs")
    ap.add_argument("--binaries", default=None, help="comma-separated rill binaries to alternate")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    acks_list = args.acks.split(",")
    codecs = args.compression.split(",")
    if args.binaries:
        args.binaries = args.binaries.split(",")
        for b in args.binaries:
            if not Path(b).exists():
                sys.exit(f"{b} is missing")
        return compare(args, sizes, acks_list, codecs)
    if not RILL_BIN.exists():
        sys.exit(f"{RILL_BIN} is missing: cargo build --release --bin rill")

    print(f"rill: {RILL_BIN}; confluent-kafka {ck.confluent_kafka_version()}; {args.partitions} partitions;")
    print(f"median of {args.runs} runs, {args.secs:g} s of produce each; MB = 10^6 bytes of message values\n")
    header = f"{'size':>6} {'acks':>4} {'codec':>5} | {'produce msg/s':>13} {'MB/s':>7} | {'consume msg/s':>13} {'MB/s':>7}"
    print(header)
    print("-" * len(header))
    for size in sizes:
        for acks in acks_list:
            for codec in codecs:
                produce, consume = cell(args, size, acks, codec)
                print(
                    f"{size:>6} {acks:>4} {codec:>5} | {produce:>13,.0f} {produce * size / 1e6:>7.1f} | "
                    f"{consume:>13,.0f} {consume * size / 1e6:>7.1f}",
                    flush=True,
                )


def compare(args, sizes, acks_list, codecs):
    print(f"confluent-kafka {ck.confluent_kafka_version()}; {args.partitions} partitions;")
    print(f"median of {args.runs} runs alternating binaries, {args.secs:g} s of produce each\n")
    for i, b in enumerate(args.binaries):
        print(f"  [{i}] {b}")
    print()
    print(
        "| size | acks | codec | binary | produce msg/s (median) | MB/s | vs [0] | runs "
        "| broker CPU µs/msg (median) | CPU vs [0] | consume msg/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for acks in acks_list:
            for codec in codecs:
                result = alternated(args, size, acks, codec)
                base = result[args.binaries[0]][0]
                base_cpu = result[args.binaries[0]][3]
                for i, b in enumerate(args.binaries):
                    produce, consume, runs, cpu = result[b]
                    runs_text = " / ".join(f"{r:,.0f}" for r in runs)
                    print(
                        f"| {size} B | {acks} | {codec} | [{i}] | {produce:,.0f} | "
                        f"{produce * size / 1e6:.1f} | {100 * (produce / base - 1):+.1f} % | "
                        f"{runs_text} | {cpu:.2f} | {100 * (cpu / base_cpu - 1):+.1f} % | "
                        f"{consume:,.0f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
