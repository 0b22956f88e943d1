#!/usr/bin/env python3
"""The throughput/latency matrix of issue 4, against one running broker; `bench/run-bench.sh`
builds `rill`, starts the server and calls this. Prints one markdown table.

    .venv/bin/python bench/matrix.py --bootstrap 127.0.0.1:PORT --rill-bin target/release/rill
        [--secs 5] [--runs 3] [--e2e-secs 10] [--quick] [--server-pid PID]

Rows: record size (100 B, 1 KiB) x acks (1, all) x partitions (1, 6), each driven by three
load generators:

* `rill perf`        — our client (`rill perf produce` / `rill perf consume`);
* `confluent-kafka`  — librdkafka through Python, so the numbers do not depend on our client;
* `ck -> mock`       — the same confluent-kafka produce loop against librdkafka's built-in mock
                       broker (`test.mock.num.brokers=1`, in-process, nothing durable): the
                       ceiling of the load generator itself. `/mock` on the confluent-kafka row
                       is Rill's figure as a fraction of that ceiling.

Both clients use the same producer settings: linger.ms=5, batch.size=1000000 (librdkafka's
defaults), no compression, idempotence off, unkeyed records (sticky partitioning). Produce runs
~`--secs` seconds (rill perf is count-based: a short calibration run, not counted, sizes the
record count); consume reads back the first records of the same topic from the warm log (the
page cache), sized to take about `--secs`/2. Headline rows (the ones with a target) take the
median of `--runs` runs; the others run once. Then end-to-end latency at 10k records/s of
100 B with linger.ms=0, acks=1 and acks=all, by `rill perf e2e` and by a confluent-kafka
producer/consumer pair (separate processes; latency = consumer's wall clock - producer's wall
clock written into the record, microsecond resolution).

MB = 10^6 bytes of record values.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

PRODUCER_SETTINGS = {"linger.ms": "5", "batch.size": "1000000"}
SIZES = (100, 1024)
ACKS = ("1", "all")
PARTITIONS = (1, 6)
E2E_RATE = 10_000
E2E_SIZE = 100
E2E_WARMUP_S = 1.0
ADMIN_TIMEOUT_S = 15.0

# Rows whose produce/consume figures carry a target get the median of --runs runs.
HEADLINE = {(100, "1", 1), (1024, "1", 1), (1024, "all", 1)}


def produce_target(size, acks, partitions):
    """(description, check(records_per_s, mb_per_s)) or None."""
    if size == 100 and acks == "1" and partitions == 1:
        return ">=1,000,000 rec/s", lambda r, mb: r >= 1_000_000
    if size == 1024 and acks == "1":
        return ">=500 MB/s", lambda r, mb: mb >= 500
    if size == 1024 and acks == "all":
        return ">=300 MB/s", lambda r, mb: mb >= 300
    return None


def consume_target(size):
    if size == 100:
        return ">=1,500,000 rec/s", lambda r, mb: r >= 1_500_000
    return None


def e2e_target(acks):
    limit_ms = 5.0 if acks == "1" else 10.0
    return f"p99<={limit_ms:g} ms", lambda p99_ms: p99_ms <= limit_ms


# ---------------------------------------------------------------- topics

def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000, "log_level": 3})


# Set by --replication-factor / --min-insync-replicas (the cluster benchmark's topics).
TOPIC_SETTINGS = {"replication_factor": 1, "config": {}}


def create_topic(bootstrap, name, partitions):
    client = admin(bootstrap)  # kept alive until the future resolves
    futures = client.create_topics(
        [NewTopic(name, num_partitions=partitions, **TOPIC_SETTINGS)],
        operation_timeout=10,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    futures[name].result(timeout=ADMIN_TIMEOUT_S)


def delete_topic(bootstrap, name):
    """Frees the disk a cell wrote (a 1 KiB cell writes several GB)."""
    try:
        client = admin(bootstrap)
        futures = client.delete_topics([name], operation_timeout=10, request_timeout=ADMIN_TIMEOUT_S)
        futures[name].result(timeout=ADMIN_TIMEOUT_S)
    except Exception as e:  # a leftover topic only costs disk
        print(f"  (could not delete {name}: {e})", file=sys.stderr)


def new_topic_name(tag):
    return f"bench-{tag}-{uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------- rill perf

RATE_RE = re.compile(r"([\d.]+) records/sec")


def run_rill(args, argv, timeout_s):
    out = subprocess.run(
        [args.rill_bin, *argv], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"rill {' '.join(argv[:2])} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def rill_produce(args, topic, size, acks, records):
    """Records/s of one `rill perf produce` run (the final summary line)."""
    props = [f"acks={acks}"] + [f"{k}={v}" for k, v in PRODUCER_SETTINGS.items()]
    argv = [
        "perf", "produce", "--bootstrap-server", args.bootstrap, "--topic", topic,
        "--num-records", str(records), "--record-size", str(size), "--throughput", "-1",
        "--producer-property", *props,
    ]
    stdout = run_rill(args, argv, timeout_s=max(60, 8 * args.secs))
    last = stdout.strip().splitlines()[-1]
    return float(RATE_RE.search(last).group(1))


def rill_consume(args, topic, records):
    argv = [
        "perf", "consume", "--bootstrap-server", args.bootstrap, "--topic", topic,
        "--messages", str(records), "--timeout-ms", "10000",
    ]
    stdout = run_rill(args, argv, timeout_s=max(60, 8 * args.secs))
    return float(RATE_RE.search(stdout.strip().splitlines()[-1]).group(1))


# ---------------------------------------------------------------- confluent-kafka

def ck_producer(conf, acks):
    return Producer(
        {
            **conf,
            "acks": acks,
            "enable.idempotence": False,
            "compression.type": "none",
            **PRODUCER_SETTINGS,
            # Success reports would cost a Python callback per record; count failures only.
            "delivery.report.only.error": True,
            "queue.buffering.max.messages": 1_000_000,
            "message.timeout.ms": 60000,
        }
    )


def ck_produce_loop(p, topic, size, secs, partitions):
    """Produces unkeyed records for `secs`, then flushes. Returns records/s acknowledged.

    On one partition the records name partition 0 (the mock broker's auto-created topics have
    four partitions, see `mock_produce`); otherwise the sticky partitioner places them."""
    payload = os.urandom(size)
    failed = [0]

    def on_delivery(err, _msg):
        if err is not None:
            failed[0] += 1

    produce = p.produce
    kwargs = {"partition": 0} if partitions == 1 else {}
    sent = 0
    start = time.monotonic()
    deadline = start + secs
    while time.monotonic() < deadline:
        try:
            for _ in range(1000):
                produce(topic, payload, on_delivery=on_delivery, **kwargs)
                sent += 1
        except BufferError:
            p.poll(0.001)
        p.poll(0)
    remaining = p.flush(60)
    elapsed = time.monotonic() - start
    if remaining or failed[0]:
        raise RuntimeError(f"confluent-kafka: {remaining} undelivered, {failed[0]} failed")
    return sent / elapsed


def ck_produce(args, topic, size, acks, partitions):
    p = ck_producer({"bootstrap.servers": args.bootstrap}, acks)
    return ck_produce_loop(p, topic, size, args.secs, partitions)


def mock_produce(args, size, acks, partitions):
    """The same loop against librdkafka's mock broker (a new one per run, owned by the producer).

    The mock auto-creates topics with four partitions and the Python bindings cannot choose
    another count (its CreateTopics never finds a controller), so 1-partition rows write to
    partition 0 and 6-partition rows spread over four: with sticky partitioning the per-record
    cost of the generator, which is what this measures, does not depend on the count."""
    p = ck_producer({"test.mock.num.brokers": 1, "log_level": 3}, acks)
    rate = ck_produce_loop(p, new_topic_name("mock"), size, args.secs, partitions)
    del p
    return rate


def ck_consume(args, topic, partitions, records, timeout_s=60):
    c = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "bench",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            # librdkafka idles its fetcher fetch.queue.backoff.ms (default 1000) whenever
            # queued.min.messages wait for the application; 10 ms keeps it busy.
            "fetch.queue.backoff.ms": 10,
        }
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    # The clock starts when the first batch arrives (connection set-up and the first fetch's
    # round trip are not throughput); those first records are not counted.
    got, first_batch, counted = 0, None, 0
    opened = time.monotonic()
    last = opened
    try:
        while got < records and time.monotonic() - opened < timeout_s:
            msgs = c.consume(num_messages=10000, timeout=0.5)
            for msg in msgs:
                if msg.error():
                    raise RuntimeError(str(msg.error()))
            if not msgs:
                continue
            got += len(msgs)
            last = time.monotonic()
            if first_batch is None:
                first_batch = last
            else:
                counted += len(msgs)
    finally:
        c.close()
    if got < records or counted == 0:
        raise RuntimeError(f"confluent-kafka consumed {got} of {records} within {timeout_s}s")
    return counted / (last - first_batch)


# ---------------------------------------------------------------- cells

class Estimates:
    """Last measured rate per (client, kind, size): sizes count-based runs to ~secs."""

    def __init__(self):
        self.rates = {}

    def get(self, key, default):
        return self.rates.get(key, default)

    def put(self, key, rate):
        self.rates[key] = rate


def throughput_row(args, est, client, size, acks, partitions, runs):
    """Returns (produce rates, consume rates) of one client for one row.

    Every run gets a fresh topic, deleted after its consume: the next run then writes into
    page-cache memory just freed. On this VM, writing into memory the guest has not touched
    recently runs at ~250-300 MB/s even for `dd` (see RESULTS.md), so letting topics pile up
    would measure the hypervisor, not the broker."""
    produce, consume = [], []
    if client == "mock":
        for _ in range(runs):
            produce.append(mock_produce(args, size, acks, partitions))
        return produce, consume

    def with_topic(body):
        topic = new_topic_name(f"{client}-{size}-{acks}-{partitions}")
        create_topic(args.bootstrap, topic, partitions)
        try:
            return body(topic)
        finally:
            delete_topic(args.bootstrap, topic)

    if client == "rill":
        guess = est.get(("rill", "produce", size), 1_000_000 if size == 100 else 300_000)
        calibration = max(20_000, int(guess * min(1.0, args.secs / 2)))
        rate = with_topic(lambda t: rill_produce(args, t, size, acks, calibration))
        for _ in range(runs):
            records = max(20_000, int(rate * args.secs))

            def run(topic):
                r = rill_produce(args, topic, size, acks, records)
                guess = est.get(("rill", "consume", size), 3_000_000 if size == 100 else 1_000_000)
                return r, rill_consume(args, topic, min(records, max(20_000, int(guess * args.secs / 2))))

            rate, crate = with_topic(run)
            produce.append(rate)
            consume.append(crate)
            est.put(("rill", "produce", size), rate)
            est.put(("rill", "consume", size), crate)
    else:
        for _ in range(runs):

            def run(topic):
                r = ck_produce(args, topic, size, acks, partitions)
                written = int(r * args.secs)  # a lower bound: the flush time counts too
                guess = est.get(("ck", "consume", size), 1_000_000 if size == 100 else 500_000)
                return r, ck_consume(args, topic, partitions, min(written, max(20_000, int(guess * args.secs / 2))))

            rate, crate = with_topic(run)
            produce.append(rate)
            consume.append(crate)
            est.put(("ck", "consume", size), crate)
    return produce, consume


# ---------------------------------------------------------------- end-to-end

E2E_SUMMARY_RE = re.compile(r"end-to-end latency .*?p50 ([\d.]+) ms, p95 [\d.]+ ms, p99 ([\d.]+) ms, p99\.9 ([\d.]+) ms")


def rill_e2e(args, acks):
    topic = new_topic_name(f"e2e-rill-{acks}")
    create_topic(args.bootstrap, topic, 1)
    try:
        argv = [
            "perf", "e2e", "--bootstrap-server", args.bootstrap, "--topic", topic,
            "--rate", str(E2E_RATE), "--seconds", str(args.e2e_secs), "--record-size", str(E2E_SIZE),
            "--producer-property", f"acks={acks}",
        ]
        stdout = run_rill(args, argv, timeout_s=args.e2e_secs + 60)
        m = E2E_SUMMARY_RE.search(stdout)
        return tuple(float(x) for x in m.groups())
    finally:
        delete_topic(args.bootstrap, topic)


def percentile(sorted_values, q):
    i = min(len(sorted_values), max(1, int(-(-len(sorted_values) * q // 1))))
    return sorted_values[i - 1]


def e2e_consumer_main(args):
    """Child process: reads `--count` records, prints p50/p99/p99.9 (ms) of those past warm-up."""
    c = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "bench-e2e",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,  # as rill perf e2e's consumer
            "isolation.level": "read_uncommitted",  # as rill perf (librdkafka defaults to committed)
        }
    )
    c.assign([TopicPartition(args.topic, 0, OFFSET_BEGINNING)])
    latencies_us = []
    got = 0
    last = time.monotonic()
    print("ready", flush=True)
    while got < args.count and time.monotonic() - last < 10:
        msg = c.poll(0.1)
        if msg is None:
            continue
        now_ns = time.time_ns()
        if msg.error():
            raise RuntimeError(str(msg.error()))
        got += 1
        last = time.monotonic()
        value = msg.value()
        if value[0:1] == b"M":  # measured, not warm-up
            latencies_us.append((now_ns - int.from_bytes(value[1:9], "little")) / 1000)
    c.close()
    latencies_us.sort()
    print(json.dumps({
        "received": got,
        "measured": len(latencies_us),
        "p_ms": [percentile(latencies_us, q) / 1000 for q in (0.5, 0.99, 0.999)] if latencies_us else None,
    }), flush=True)


def ck_e2e(args, acks):
    """A paced confluent-kafka producer (linger.ms=0) here, its consumer in a child process."""
    topic = new_topic_name(f"e2e-ck-{acks}")
    create_topic(args.bootstrap, topic, 1)
    warm = int(E2E_RATE * E2E_WARMUP_S)
    total = warm + int(E2E_RATE * args.e2e_secs)
    child = subprocess.Popen(
        [sys.executable, __file__, "--e2e-consumer", "--bootstrap", args.bootstrap,
         "--topic", topic, "--count", str(total)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        child.stdout.readline()  # "ready": assigned; the warm-up covers its first fetches
        p = Producer({
            "bootstrap.servers": args.bootstrap, "acks": acks, "linger.ms": 0,
            "enable.idempotence": False, "delivery.report.only.error": True,
        })
        pad = b"x" * (E2E_SIZE - 9)
        start = time.monotonic()
        for i in range(total):
            due = start + i / E2E_RATE
            while True:
                ahead = due - time.monotonic()
                if ahead <= 0:
                    break
                p.poll(min(ahead, 0.0005))
            tag = b"W" if i < warm else b"M"
            p.produce(topic, tag + time.time_ns().to_bytes(8, "little") + pad)
            p.poll(0)
        if p.flush(30):
            raise RuntimeError("confluent-kafka e2e: undelivered records")
        out, _ = child.communicate(timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        if result["received"] < total or not result["p_ms"]:
            raise RuntimeError(f"confluent-kafka e2e: received {result['received']} of {total}")
        return tuple(result["p_ms"])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        delete_topic(args.bootstrap, topic)


# ---------------------------------------------------------------- table

COLUMNS = ["case", "client", "runs", "produce rec/s", "produce MB/s", "consume rec/s",
           "consume MB/s", "/mock", "e2e p50 / p99 / p99.9 ms", "target", "result"]


def fmt_rate(rates):
    return f"{statistics.median(rates):,.0f}" if rates else "-"


def fmt_mb(rates, size):
    return f"{statistics.median(rates) * size / 1e6:,.1f}" if rates else "-"


def verdict(target, *values):
    if target is None:
        return None
    desc, check = target
    return desc, "met" if check(*values) else "MISSED"


class Table:
    def __init__(self):
        self.rows = []

    def add(self, **cells):
        self.rows.append([str(cells.get(c, "")) for c in COLUMNS])
        # Progress on stderr so a long run shows life; the table itself is printed at the end.
        print("  " + " | ".join(self.rows[-1]), file=sys.stderr, flush=True)

    def markdown(self):
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(COLUMNS)]
        line = lambda cells: "| " + " | ".join(x.ljust(w) for x, w in zip(cells, widths)) + " |"
        out = [line(COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in self.rows]
        return "\n".join(out)


def size_label(size):
    return "1 KiB" if size == 1024 else f"{size} B"


def throughput_section(args, table, est):
    for size in SIZES:
        for acks in args.acks:
            for partitions in PARTITIONS:
                check_server(args)
                case = f"{size_label(size)} acks={acks} p={partitions}"
                if args.only and args.only not in case:
                    continue
                runs = args.runs if (size, acks, partitions) in HEADLINE else 1
                results = {}
                for client in ("rill", "ck", "mock"):
                    try:
                        results[client] = throughput_row(args, est, client, size, acks, partitions, runs)
                    except Exception as e:
                        results[client] = e
                for client, label in (("rill", "rill perf"), ("ck", "confluent-kafka"), ("mock", "ck -> mock")):
                    r = results[client]
                    if isinstance(r, Exception):
                        table.add(case=case, client=label, runs=runs, result=f"error: {r}")
                        continue
                    produce, consume = r
                    cells = dict(case=case, client=label, runs=runs,
                                 **{"produce rec/s": fmt_rate(produce), "produce MB/s": fmt_mb(produce, size),
                                    "consume rec/s": fmt_rate(consume), "consume MB/s": fmt_mb(consume, size)})
                    if client == "ck" and not isinstance(results["mock"], Exception):
                        mock = statistics.median(results["mock"][0])
                        cells["/mock"] = f"{statistics.median(produce) / mock:.2f}"
                    if client != "mock":
                        targets, outcomes = [], []
                        p, c = statistics.median(produce), statistics.median(consume)
                        for kind, t, rate in (("produce", produce_target(size, acks, partitions), p),
                                              ("consume", consume_target(size), c)):
                            v = verdict(t, rate, rate * size / 1e6)
                            if v:
                                targets.append(f"{kind} {v[0]}")
                                outcomes.append(v[1])
                        ratio = cells.get("/mock")
                        if outcomes[:1] == ["MISSED"] and produce_target(size, acks, partitions) and ratio \
                                and float(ratio) >= 0.9:
                            # Within 10% of what the generator reaches with a broker that does
                            # nothing: the client, not Rill, is the limit.
                            outcomes[0] += " (generator-bound)"
                        cells["target"] = "; ".join(targets)
                        cells["result"] = "; ".join(outcomes)
                    table.add(**cells)


def e2e_section(args, table):
    for acks in args.acks:
        check_server(args)
        case = f"e2e {E2E_RATE // 1000}k rec/s {E2E_SIZE} B acks={acks}"
        for label, fn in (("rill perf", rill_e2e), ("confluent-kafka", ck_e2e)):
            try:
                p50, p99, p999 = fn(args, acks)
            except Exception as e:
                table.add(case=case, client=label, runs=1, result=f"error: {e}")
                continue
            desc, outcome = verdict(e2e_target(acks), p99)
            table.add(case=case, client=label, runs=1,
                      **{"e2e p50 / p99 / p99.9 ms": f"{p50:.2f} / {p99:.2f} / {p999:.2f}"},
                      target=desc, result=outcome)


def check_server(args):
    if args.server_pid:
        try:
            os.kill(args.server_pid, 0)
        except OSError:
            sys.exit(f"the server (pid {args.server_pid}) is gone; see its log")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--rill-bin", default=None)
    ap.add_argument("--secs", type=float, default=5.0, help="seconds of produce per run (default 5)")
    ap.add_argument("--runs", type=int, default=3, help="runs of headline rows; median shown (default 3)")
    ap.add_argument("--e2e-secs", type=float, default=10.0, help="measured seconds per e2e cell (default 10)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 s cells, 1 run, 2 s e2e")
    ap.add_argument("--server-pid", type=int, default=None, help="stop early if this process dies")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--only", default=None, help="throughput rows whose case contains this, e.g. '1 KiB acks=1 p=1'")
    ap.add_argument("--acks", default=",".join(ACKS), help="the acks settings measured (default 1,all)")
    ap.add_argument("--replication-factor", type=int, default=1, help="the topics' replication factor")
    ap.add_argument("--min-insync-replicas", type=int, default=None, help="the topics' min.insync.replicas")
    # Internal: the e2e consumer child.
    ap.add_argument("--e2e-consumer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.e2e_consumer:
        return e2e_consumer_main(args)
    if args.quick:
        args.secs, args.runs, args.e2e_secs = 1.0, 1, 2.0
    args.acks = tuple(a.strip() for a in args.acks.split(",") if a.strip())
    TOPIC_SETTINGS["replication_factor"] = args.replication_factor
    if args.min_insync_replicas is not None:
        TOPIC_SETTINGS["config"] = {"min.insync.replicas": str(args.min_insync_replicas)}
    if not args.rill_bin or not os.path.exists(args.rill_bin):
        sys.exit(f"--rill-bin {args.rill_bin!r} is missing: cargo build --release --bin rill")

    import confluent_kafka

    started = time.monotonic()
    table = Table()
    est = Estimates()
    if not args.skip_throughput:
        throughput_section(args, table, est)
    if not args.skip_e2e:
        e2e_section(args, table)
    elapsed = time.monotonic() - started
    headline = ", ".join(f"{size_label(s)} acks={a} p={p}" for s, a, p in sorted(HEADLINE))
    print()
    print(table.markdown())
    print()
    print(f"confluent-kafka {confluent_kafka.__version__} / librdkafka {confluent_kafka.libversion()[0]}; "
          f"producers: linger.ms=5 batch.size=1000000 (e2e: linger.ms=0), no compression.")
    print(f"produce ~{args.secs:g} s per run; consume reads back ~{args.secs / 2:g} s worth from the warm log; "
          f"median of {args.runs} run(s) for the headline rows ({headline}), 1 run for the others; "
          f"e2e: {args.e2e_secs:g} s at {E2E_RATE} rec/s.")
    print("MB = 10^6 bytes of record values. `/mock` = confluent-kafka produce rate against Rill divided by "
          "the same loop against librdkafka's mock broker (the load generator's ceiling).")
    print("rill perf e2e latencies come from millisecond CreateTime stamps (1 ms resolution); "
          "confluent-kafka e2e uses microsecond wall-clock stamps in the record.")
    print(f"matrix took {elapsed:.0f} s.")


if __name__ == "__main__":
    main()
