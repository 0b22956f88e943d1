#!/usr/bin/env python3
"""Consumer-group benchmarks with confluent-kafka (librdkafka) against `rill server` (the release
build): group consume throughput with 1 and 3 members, and the time a 10-member group takes to
rebalance.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/groups.py [--records 1500000] [--size 100] [--runs 3]
        [--members 1,3] [--rebalance-members 10] [--strategies range,cooperative-sticky]
        [--initial-rebalance-delays-ms 3000,0] [--heartbeat-intervals-ms 3000,300]
        [--only throughput|rebalance]

(`bash tests/clients/run.sh` creates .venv with the pinned clients; RILL_BIN picks another
binary.)

Throughput: one server, one 6-partition topic filled once with `--records` unkeyed records of
`--size` bytes (acks=1). Each run is a fresh group of N members, each its own process
(`subscribe()`, `auto.offset.reset=earliest`, auto-commit every 5 s as librdkafka's default,
`consume(10000)` batches and `fetch.queue.backoff.ms=10` as in bench/clients_throughput.py), so
Python's per-record cost is spread over processes as in a real deployment. A member exits 1.5 s
after its last record and reports its count and the wall-clock times of its first and last
batch. rate = records / (last batch of any member - first batch of any member): the steady
consume rate after the group formed (overstated by at most one 10,000-record batch per member);
`join s` is from the first subscribe to the first batch (FindCoordinator, JoinGroup incl.
`group.initial.rebalance.delay.ms`, SyncGroup, OffsetFetch). The first row is one member that
assign()s every partition instead (no group): the same loop's ceiling on this machine. Median of
`--runs` runs.

Rebalance: `--rebalance-members` consumers in one process (one polling thread each) subscribe
one after another to a fresh group; the time is from the last `subscribe()` until every member's
`on_assign` ran, median of `--runs` runs, per assignment strategy and per broker
`group.initial.rebalance.delay.ms` (Kafka's default 3000 ms holds the first rebalance of an
empty group open for latecomers; with 0 the first member's group forms at once and every later
JoinGroup starts another rebalance) and per client `heartbeat.interval.ms` (a member learns of a
rebalance from its next heartbeat's REBALANCE_IN_PROGRESS: librdkafka's default 3000 ms bounds
how soon the members already in the group rejoin).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("RILL_BIN", str(REPO / "target" / "release" / "rill"))
sys.path.insert(0, str(REPO / "tests" / "clients"))

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # noqa: E402

PARTITIONS = 6
# A member stops this long after its last record (every record has been produced beforehand).
MEMBER_IDLE_S = 1.5
# A member that never gets a record gives up after this long.
MEMBER_START_TIMEOUT_S = 60.0
REBALANCE_TIMEOUT_S = 60.0


def member_main(bootstrap, group, topic, mode):
    """One throughput member: consume until idle, print one JSON line. `mode` "assign" reads
    every partition without the group (the baseline for the same loop)."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "session.timeout.ms": 10000,
            # As bench/clients_throughput.py: librdkafka's default (1000 ms) idles the fetcher
            # whenever queued.min.messages wait for the application.
            "fetch.queue.backoff.ms": 10,
        }
    )
    if mode == "assign":
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    else:
        c.subscribe([topic])
    started = time.time()
    count = 0
    first = last = None
    while True:
        batch = [m for m in c.consume(num_messages=10000, timeout=0.1) if not m.error()]
        now = time.time()
        if not batch:
            idle_since = last if last is not None else started
            limit = MEMBER_IDLE_S if last is not None else MEMBER_START_TIMEOUT_S
            if now - idle_since > limit:
                break
            continue
        if first is None:
            first = now
        last = now
        count += len(batch)
    c.close()
    print(json.dumps({"subscribed": started, "count": count, "first": first, "last": last}))


def fill(bootstrap, topic, records, size):
    import ck

    ck.create_topic(bootstrap, topic, PARTITIONS)
    p = ck.producer(bootstrap, 1, extra={"batch.size": 1000000, "partitioner": "consistent_random"})
    value = os.urandom(size)
    for _ in range(records):
        while True:
            try:
                p.produce(topic, value)
                break
            except BufferError:
                p.poll(0.01)
    assert p.flush(60) == 0, "records left unacknowledged"


def throughput_run(bootstrap, topic, members, records, size, mode="subscribe"):
    group = f"bench-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--member", bootstrap, group, topic, mode], stdout=subprocess.PIPE, text=True
        )
        for _ in range(members)
    ]
    reports = [json.loads(p.communicate()[0]) for p in procs]
    got = sum(r["count"] for r in reports)
    assert got >= records, f"{got} of {records} records consumed"
    firsts = [r["first"] for r in reports if r["first"] is not None]
    span = max(r["last"] for r in reports if r["last"] is not None) - min(firsts)
    join = min(firsts) - min(r["subscribed"] for r in reports)
    return got / span, got * size / span / 1e6, join


def rebalance_run(bootstrap, topic, members, strategy, heartbeat_ms):
    """Seconds from the last subscribe() until every member's on_assign ran."""
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    assigned = [None] * members
    stop = threading.Event()
    consumers = []

    def poll(i, c):
        while not stop.is_set():
            c.poll(0.01)

    threads = []
    for i in range(members):
        c = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "partition.assignment.strategy": strategy,
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": heartbeat_ms,
                "enable.auto.commit": False,
            }
        )

        def on_assign(consumer, partitions, i=i):
            if assigned[i] is None:
                assigned[i] = time.monotonic()

        c.subscribe([topic], on_assign=on_assign)
        consumers.append(c)
        threads.append(threading.Thread(target=poll, args=(i, c), daemon=True))
        threads[-1].start()
    last_subscribe = time.monotonic()
    deadline = last_subscribe + REBALANCE_TIMEOUT_S
    while None in assigned and time.monotonic() < deadline:
        time.sleep(0.005)
    stop.set()
    for t in threads:
        t.join()
    for c in consumers:
        c.close()
    assert None not in assigned, f"{assigned.count(None)} members unassigned after {REBALANCE_TIMEOUT_S}s"
    return max(assigned) - last_subscribe


def server(data_dir, initial_delay_ms):
    from conftest import RillServer

    Path(data_dir).mkdir(parents=True)
    return RillServer(data_dir, ["--override", f"group.initial.rebalance.delay.ms={initial_delay_ms}"]).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--member", nargs=4, metavar=("BOOTSTRAP", "GROUP", "TOPIC", "MODE"), help=argparse.SUPPRESS)
    ap.add_argument("--records", type=int, default=1_500_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--members", default="1,3")
    ap.add_argument("--rebalance-members", type=int, default=10)
    ap.add_argument("--strategies", default="range,cooperative-sticky")
    ap.add_argument("--initial-rebalance-delays-ms", default="3000,0")
    ap.add_argument("--heartbeat-intervals-ms", default="3000,300")
    ap.add_argument("--only", choices=("throughput", "rebalance"), default=None)
    ap.add_argument("--dir", default=None, help="parent of the servers' data directories")
    args = ap.parse_args()
    if args.member:
        return member_main(*args.member)

    from conftest import RILL_BIN

    print(f"rill: {RILL_BIN}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.only in (None, "throughput"):
            throughput_table(args, Path(tmp))
        if args.only in (None, "rebalance"):
            rebalance_table(args, Path(tmp))


def throughput_table(args, tmp):
    import ck  # noqa: F401 (fill uses it)

    rill = server(tmp / "throughput", 3000)
    try:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        fill(rill.bootstrap, topic, args.records, args.size)
        print(f"\n{args.records} records of {args.size} B in {PARTITIONS} partitions; median of {args.runs} runs")
        print("| members | records/s | MB/s | join s | runs (records/s) |")
        print("|---|---|---|---|---|")
        rows = [("1, assign() (no group)", 1, "assign")]
        rows += [(str(n), n, "subscribe") for n in (int(m) for m in args.members.split(","))]
        for label, n, mode in rows:
            runs = [throughput_run(rill.bootstrap, topic, n, args.records, args.size, mode) for _ in range(args.runs)]
            rates = [r[0] for r in runs]
            print(
                f"| {label} | {statistics.median(rates):,.0f} | {statistics.median(r[1] for r in runs):.1f} "
                f"| {statistics.median(r[2] for r in runs):.2f} | {', '.join(f'{r:,.0f}' for r in rates)} |"
            )
    finally:
        rill.stop()


def rebalance_table(args, tmp):
    import ck

    print(f"\nrebalance of {args.rebalance_members} members (last subscribe -> all assigned), median of {args.runs} runs")
    print("| strategy | group.initial.rebalance.delay.ms | heartbeat.interval.ms | median s | runs (s) |")
    print("|---|---|---|---|---|")
    for delay in (int(d) for d in args.initial_rebalance_delays_ms.split(",")):
        rill = server(tmp / f"rebalance-{delay}", delay)
        try:
            topic = f"rebalance-{uuid.uuid4().hex[:8]}"
            ck.create_topic(rill.bootstrap, topic, PARTITIONS)
            for strategy in args.strategies.split(","):
                for hb in (int(h) for h in args.heartbeat_intervals_ms.split(",")):
                    times = [
                        rebalance_run(rill.bootstrap, topic, args.rebalance_members, strategy, hb)
                        for _ in range(args.runs)
                    ]
                    print(
                        f"| {strategy} | {delay} | {hb} | {statistics.median(times):.3f} "
                        f"| {', '.join(f'{t:.3f}' for t in times)} |"
                    )
        finally:
            rill.stop()

if __name__ == "__main__":
    sys.exit(main())
