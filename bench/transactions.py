#!/usr/bin/env python3
"""The cost of transactions against `rill server` (the release build): produce throughput and
latency with and without them, by two producers, alternated per run, median of `--runs`.

* **rill perf** (`rill perf produce`, acks=all, 100 B, as fast as it can, `--records` records):
  plain, then `--transactional-id` with `--transaction-duration-ms` 100 and 1000 (a commit
  every 100 ms / 1 s; each commit waits for every batch, then EndTxn, whose markers the
  coordinator writes). Records/s and the per-record latency percentiles rill perf prints.
* **confluent-kafka** (librdkafka, 100 B, for `--secs` seconds): idempotent
  (`enable.idempotence=true`, acks=all), then transactional, committing every 100 ms and
  every 1 s. Records/s, and for the transactional cases the `commit_transaction()` latency
  (median and p99 over the run's commits): the flush of what is buffered plus the EndTxn.

Every case of every run starts its own server on a fresh data directory (one node, one
topic of `--partitions` partitions, the default durable flush policy).

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/transactions.py [--runs 3] [--records 500000] [--secs 3]

(`bash tests/clients/run.sh` creates .venv with the pinned clients.)
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RILL_BIN", str(REPO / "target" / "release" / "rill"))
sys.path.insert(0, str(REPO / "tests" / "clients"))

from confluent_kafka import Producer  # noqa: E402

import ck  # noqa: E402
from conftest import RILL_BIN, RillServer  # noqa: E402

SIZE = 100


def rill_perf(bootstrap, topic, records, duration_ms):
    """One `rill perf produce` run: (records/s, record p99 ms, commit p50 ms, commit p99 ms)."""
    cmd = [
        str(RILL_BIN), "perf", "produce", "--bootstrap-server", bootstrap, "--topic", topic,
        "--num-records", str(records), "--record-size", str(SIZE), "--throughput", "-1",
        "--producer-property", "acks=all",
    ]
    if duration_ms:
        cmd += ["--transactional-id", f"bench-{topic}", "--transaction-duration-ms", str(duration_ms)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
    line = next(l for l in out.splitlines() if "records sent" in l)
    rate = float(re.search(r"([\d.]+) records/sec", line).group(1))
    p99 = float(re.search(r"p99 ([\d.]+) ms", line).group(1))
    commit_p50 = commit_p99 = float("nan")
    commits = [l for l in out.splitlines() if "transactions committed" in l]
    if commits:
        commit_p50 = float(re.search(r"p50 ([\d.]+) ms", commits[0]).group(1))
        commit_p99 = float(re.search(r"p99 ([\d.]+) ms", commits[0]).group(1))
    return rate, p99, commit_p50, commit_p99


def confluent(bootstrap, topic, secs, commit_every_s):
    """One confluent-kafka run: (records/s, nan, commit median ms, commit p99 ms); idempotent
    when `commit_every_s` is None, else transactional, committing that often."""
    config = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True}
    if commit_every_s is not None:
        config["transactional.id"] = f"bench-{topic}"
    p = Producer(config)
    failed = [0]

    def on_delivery(err, _msg):
        if err is not None:
            failed[0] += 1

    payload = os.urandom(SIZE)
    commits_ms = []
    sent = 0
    if commit_every_s is not None:
        p.init_transactions(30)
        p.begin_transaction()
    start = time.monotonic()
    txn_start = start
    deadline = start + secs
    while time.monotonic() < deadline:
        for _ in range(1000):
            try:
                p.produce(topic, payload, on_delivery=on_delivery)
                sent += 1
            except BufferError:
                p.poll(0.001)
                break
        p.poll(0)
        now = time.monotonic()
        if commit_every_s is not None and now - txn_start >= commit_every_s:
            p.commit_transaction(30)
            commits_ms.append((time.monotonic() - now) * 1000)
            p.begin_transaction()
            txn_start = time.monotonic()
    if commit_every_s is not None:
        now = time.monotonic()
        p.commit_transaction(30)
        commits_ms.append((time.monotonic() - now) * 1000)
    remaining = p.flush(60)
    elapsed = time.monotonic() - start
    if remaining or failed[0]:
        raise RuntimeError(f"{remaining} undelivered, {failed[0]} failed")
    if not commits_ms:
        return sent / elapsed, float("nan"), float("nan"), float("nan")
    commits_ms.sort()
    p99 = commits_ms[min(len(commits_ms) - 1, int(len(commits_ms) * 0.99))]
    return sent / elapsed, float("nan"), statistics.median(commits_ms), p99


CASES = [
    ("rill perf", "plain acks=all", lambda a, b, t: rill_perf(b, t, a.records, None)),
    ("rill perf", "txn, commit every 100 ms", lambda a, b, t: rill_perf(b, t, a.records, 100)),
    ("rill perf", "txn, commit every 1000 ms", lambda a, b, t: rill_perf(b, t, a.records, 1000)),
    ("confluent-kafka", "idempotent acks=all", lambda a, b, t: confluent(b, t, a.secs, None)),
    ("confluent-kafka", "txn, commit every 100 ms", lambda a, b, t: confluent(b, t, a.secs, 0.1)),
    ("confluent-kafka", "txn, commit every 1000 ms", lambda a, b, t: confluent(b, t, a.secs, 1.0)),
]


def one(args, run_case):
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        server = RillServer(tmp)
        server.start()
        try:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            ck.create_topic(server.bootstrap, topic, args.partitions)
            return run_case(args, server.bootstrap, topic)
        finally:
            server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=500_000, help="rill perf records per run")
    ap.add_argument("--secs", type=float, default=3.0, help="confluent-kafka seconds per run")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--dir", default=None, help="parent of the servers' data directories")
    args = ap.parse_args()
    results = {i: [] for i in range(len(CASES))}
    for run in range(args.runs):
        for i, (client, case, run_case) in enumerate(CASES):
            r = one(args, run_case)
            results[i].append(r)
            print(f"run {run + 1}: {client:15} {case:26} {r[0]:12,.0f} rec/s  {r[1]:8.2f}  {r[2]:8.2f}  {r[3]:8.2f}",
                  file=sys.stderr, flush=True)
    print(f"rill {RILL_BIN}; {args.runs} runs, median; {SIZE} B records, {args.partitions} partitions, one node\n")
    print("| client | case | records/s | vs first row of its client | record p99 ms | commit p50 ms | commit p99 ms |")
    print("|---|---|---|---|---|---|---|")
    base = {}
    for i, (client, case, _) in enumerate(CASES):
        rate, rec_p99, commit_p50, commit_p99 = (statistics.median(r[k] for r in results[i]) for k in range(4))
        base.setdefault(client, rate)
        print(f"| {client} | {case} | {rate:,.0f} | {rate / base[client]:.2f} | {rec_p99:.2f} | {commit_p50:.2f} | {commit_p99:.2f} |")
    print("\nrecord p99: rill perf's send-to-acknowledgement latency of each record; commit: the time of"
          " each commit (rill perf: flush + acknowledgements + EndTxn; confluent-kafka:"
          " commit_transaction()), nan where there is none.")


if __name__ == "__main__":
    main()
