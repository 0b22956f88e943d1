#!/usr/bin/env python3
"""The controller quorum's election time and the metadata's propagation, with real processes:
three combined `rill server` nodes on 127.0.0.1, `--rounds` times:

1. kill -9 the quorum's leader (found with `rill metadata-quorum describe --status`) and time
   until a survivor names another leader (**election time**);
2. wait until every survivor lists the killed broker as gone (DescribeCluster through
   confluent-kafka's `describe_cluster()`, which shows unfenced brokers only): the leader
   fenced it after `broker.session.timeout.ms`;
3. start the node again and time, per node, when it first lists the node again (registered and
   unfenced): **propagation** is the last node's time minus the first node's, i.e. how long
   the change takes to reach every broker once one has applied it; **rejoin** is from the
   restart to the last node listing it.

    flock /tmp/rill-cargo.lock cargo build --release --bin rill
    .venv/bin/python bench/cluster_failover.py [--rounds 20] [--session-ms 3000]

(`bash tests/clients/run.sh` creates .venv with the pinned clients; RILL_BIN picks another
binary, default target/release/rill.) Prints each round and the medians.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from confluent_kafka.admin import AdminClient

BIN = os.environ.get("RILL_BIN", "target/release/rill")
KAFKA = [29411, 29412, 29413]
CONTROLLER = [29421, 29422, 29423]
POLL_S = 0.005


def start(node, data, session_ms):
    voters = ",".join(f"{i + 1}@127.0.0.1:{p}" for i, p in enumerate(CONTROLLER))
    log = open(os.path.join(data, f"node{node}.log"), "ab")
    return subprocess.Popen(
        [
            BIN, "server", "--node-id", str(node),
            "--listeners", f"PLAINTEXT://127.0.0.1:{KAFKA[node - 1]},CONTROLLER://127.0.0.1:{CONTROLLER[node - 1]}",
            "--log-dirs", os.path.join(data, f"d{node}"),
            "--override", f"controller.quorum.voters={voters}",
            "--override", f"broker.session.timeout.ms={session_ms}",
            "--override", f"broker.heartbeat.interval.ms={max(session_ms // 6, 1)}",
        ],
        stdout=log, stderr=log,
    )


def leader_seen_by(node):
    out = subprocess.run(
        [BIN, "metadata-quorum", "--bootstrap-server", f"127.0.0.1:{KAFKA[node - 1]}", "describe", "--status"],
        capture_output=True, text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("LeaderId:"):
            return int(line.split()[1])
    return None


admins = {}


def live_brokers(node):
    """The broker ids `node` lists (unfenced), or None if it does not answer."""
    if node not in admins:
        admins[node] = AdminClient({"bootstrap.servers": f"127.0.0.1:{KAFKA[node - 1]}"})
    try:
        described = admins[node].describe_cluster(request_timeout=2).result(timeout=3)
        return sorted(n.id for n in described.nodes)
    except Exception:
        admins.pop(node, None)
        return None


def wait(what, check, within_s=60):
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(POLL_S)
    sys.exit(f"timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--session-ms", type=int, default=3000)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="rill-failover-")
    procs = {n: start(n, data, args.session_ms) for n in (1, 2, 3)}
    try:
        wait("three live brokers", lambda: all(live_brokers(n) == [1, 2, 3] for n in (1, 2, 3)))
        elections, propagations, rejoins = [], [], []
        for round_ in range(1, args.rounds + 1):
            leader = wait("a leader", lambda: leader_seen_by(1) or leader_seen_by(2))
            survivors = [n for n in (1, 2, 3) if n != leader]
            procs[leader].send_signal(signal.SIGKILL)
            procs[leader].wait()
            killed = time.monotonic()
            new = wait("a new leader", lambda: (l := leader_seen_by(survivors[0])) not in (None, leader) and l)
            elections.append(time.monotonic() - killed)
            wait("the killed broker fenced everywhere",
                 lambda: all((b := live_brokers(n)) is not None and leader not in b for n in survivors))
            procs[leader] = start(leader, data, args.session_ms)
            restarted = time.monotonic()
            seen = {}
            while len(seen) < 3:
                for n in (1, 2, 3):
                    if n not in seen and (b := live_brokers(n)) is not None and leader in b:
                        seen[n] = time.monotonic()
                time.sleep(POLL_S)
                if time.monotonic() - restarted > 60:
                    sys.exit("the restarted broker was not listed everywhere within 60 s")
            propagations.append(max(seen.values()) - min(seen.values()))
            rejoins.append(max(seen.values()) - restarted)
            print(f"round {round_}: killed leader {leader}, new leader {new} after {elections[-1] * 1000:.0f} ms; "
                  f"rejoined everywhere {rejoins[-1] * 1000:.0f} ms after restart, spread {propagations[-1] * 1000:.0f} ms",
                  flush=True)
        ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, max {max(xs) * 1000:.0f})"
        print(f"election after kill -9 of the leader: median {ms(elections)} over {len(elections)} kills")
        print(f"a restarted broker listed by every node: median {ms(rejoins)} after its restart")
        print(f"propagation (first node to last node listing it): median {ms(propagations)}")
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
