#!/usr/bin/env python3
"""The controller quorum's election time and the metadata's propagation, with real processes:
three combined `rill server` nodes on 127.0.0.1, `--rounds` times:

1. kill -9 the quorum's leader (found with `rill metadata-quorum describe --status`) and time
   until a survivor names another leader (**election time**, give or take the 20 ms between
   questions; see `new_leader`);
2. wait until every survivor lists the killed broker as fenced (DescribeCluster through
   kafka-python's `describe_cluster()`): the leader fenced it after
   `broker.session.timeout.ms`;
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from kafka.admin import KafkaAdminClient

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


def new_leader(survivors, old):
    """The first leader other than `old` a survivor names, and when. A survivor that still
    believes in the dead leader forwards DescribeQuorum to it and answers only when that times
    out, so a question is started every 20 ms (each its own `rill metadata-quorum` process) and
    the first answer naming another leader counts."""
    running = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for node in survivors:
            running.append(subprocess.Popen(
                [BIN, "metadata-quorum", "--bootstrap-server", f"127.0.0.1:{KAFKA[node - 1]}", "describe", "--status"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            ))
        time.sleep(0.02)
        for p in [p for p in running if p.poll() is not None]:
            running.remove(p)
            for line in p.stdout.read().splitlines():
                if line.startswith("LeaderId:") and int(line.split()[1]) != old:
                    at = time.monotonic()
                    for q in running:
                        q.kill()
                        q.wait()
                    return int(line.split()[1]), at
    sys.exit("no new leader within 60 s")


admins = {}


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
        return True
    except OSError:
        return False


def live_brokers(node):
    """The unfenced broker ids `node` lists, or None if it does not answer."""
    try:
        if node not in admins:
            admins[node] = KafkaAdminClient(
                bootstrap_servers=f"127.0.0.1:{KAFKA[node - 1]}", request_timeout_ms=2000
            )
        described = admins[node].describe_cluster()
        return sorted(b["broker_id"] for b in described["brokers"] if not b["is_fenced"])
    except Exception:
        dead = admins.pop(node, None)
        if dead is not None:
            try:
                dead.close()
            except Exception:
                pass
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
            new, elected = new_leader(survivors, leader)
            elections.append(elected - killed)
            wait("the killed broker fenced everywhere",
                 lambda: all((b := live_brokers(n)) is not None and leader not in b for n in survivors))
            procs[leader] = start(leader, data, args.session_ms)
            restarted = time.monotonic()
            seen = {}
            while len(seen) < 3:
                for n in (1, 2, 3):
                    # A client of a node not listening yet would stall the loop for the others.
                    if n == leader and n not in admins and not accepts(KAFKA[n - 1]):
                        continue
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
