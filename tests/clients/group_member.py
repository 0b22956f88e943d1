"""One confluent-kafka group member as its own process, so a test can `kill -9` it, stop it with
SIGSTOP or close it with SIGTERM (close(): revoke, then LeaveGroup).

It subscribes to one topic and writes every event as a JSON line to `--log` (one `os.write` per
line, so a `kill -9` loses at most the line being written and never a line already returned):

  {"ev": "gen", "gen": G, "owned": [...]}            the group generation changed
  {"ev": "assign"|"revoke"|"lost", "gen": G, "parts": [...], "owned": [...]}
  {"ev": "msg", "gen": G, "p": P, "o": O}             a record was processed (logged = processed)
  {"ev": "commit", "gen": G, "offsets": {P: O}}       a synchronous commit was acknowledged
  {"ev": "commit_failed", "gen": G, "error": "..."}
  {"ev": "closed"}

Records are committed after they are processed (logged): every `--commit-every` records, every
`COMMIT_INTERVAL_S`, and before partitions are revoked. The generation comes from
`consumer_group_metadata()`, librdkafka's serialized group metadata ("CGMDv2:", then the
generation id as a native int32).

Run by tests/clients/test_groups_rebalance.py and bench/groups.py.
"""

import argparse
import json
import os
import signal
import struct
import sys
import time

from confluent_kafka import Consumer, KafkaException

CGMD_MAGIC = b"CGMDv2:"
# Commit at least this often while records arrive.
COMMIT_INTERVAL_S = 0.2


def generation(consumer):
    """The member's current generation id (-1 before joining or after losing the group)."""
    raw = bytes(consumer.consumer_group_metadata())
    if not raw.startswith(CGMD_MAGIC):
        raise RuntimeError(f"unknown consumer group metadata layout: {raw[:16]!r}")
    return struct.unpack_from("=i", raw, len(CGMD_MAGIC))[0]


class Member:
    def __init__(self, args):
        self.log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.commit_every = args.commit_every
        self.owned = set()
        self.last_gen = None
        self.uncommitted = 0
        self.stopping = False
        conf = {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "partition.assignment.strategy": args.strategy,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "session.timeout.ms": args.session_timeout_ms,
            "heartbeat.interval.ms": 500,
            "reconnect.backoff.max.ms": 200,
            "error_cb": lambda err: self.write({"ev": "error", "error": str(err)}),
        }
        self.c = Consumer(conf)
        self.c.subscribe([args.topic], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost)

    def write(self, event):
        event["t"] = time.time()
        os.write(self.log_fd, (json.dumps(event) + "\n").encode())

    def gen(self):
        return generation(self.c)

    def note_generation(self):
        g = self.gen()
        if g != self.last_gen:
            self.last_gen = g
            self.write({"ev": "gen", "gen": g, "owned": sorted(self.owned)})

    def on_assign(self, consumer, partitions):
        parts = sorted(p.partition for p in partitions)
        self.owned |= set(parts)
        self.note_generation()
        self.write({"ev": "assign", "gen": self.gen(), "parts": parts, "owned": sorted(self.owned)})

    def on_revoke(self, consumer, partitions):
        parts = sorted(p.partition for p in partitions)
        self.note_generation()
        self.commit()  # hand over what was processed, so the next owner does not repeat it
        self.owned -= set(parts)
        self.write({"ev": "revoke", "gen": self.gen(), "parts": parts, "owned": sorted(self.owned)})

    def on_lost(self, consumer, partitions):
        parts = sorted(p.partition for p in partitions)
        self.owned -= set(parts)
        self.write({"ev": "lost", "gen": self.gen(), "parts": parts, "owned": sorted(self.owned)})

    def commit(self):
        if not self.uncommitted:
            return
        try:
            done = self.c.commit(asynchronous=False) or []
        except KafkaException as e:
            self.write({"ev": "commit_failed", "gen": self.gen(), "error": str(e)})
            return
        offsets = {tp.partition: tp.offset for tp in done if tp.error is None and tp.offset >= 0}
        self.uncommitted = 0
        self.write({"ev": "commit", "gen": self.gen(), "offsets": offsets})

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        last_commit = time.monotonic()
        while not self.stopping:
            msg = self.c.poll(0.05)
            self.note_generation()
            if msg is not None and not msg.error():
                self.write({"ev": "msg", "gen": self.last_gen, "p": msg.partition(), "o": msg.offset()})
                self.uncommitted += 1
            due = time.monotonic() - last_commit >= COMMIT_INTERVAL_S
            if self.uncommitted >= self.commit_every or (self.uncommitted and due):
                self.commit()
                last_commit = time.monotonic()
        self.commit()
        self.c.close()
        self.write({"ev": "closed"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--strategy", default="range")
    ap.add_argument("--commit-every", type=int, default=50)
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    Member(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
