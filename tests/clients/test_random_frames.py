"""Random Kafka frames at a real server while a real client produces and consumes (issue: a
21-byte CreateTopics frame made the broker abort on a 120 GB allocation).

A sender thread opens connection after connection and writes a few thousand random frames —
random bytes, well-formed headers of every API key and version (advertised or not) with random
bodies, bodies with huge array counts and string lengths, and the 21-byte frame from the issue —
while confluent-kafka (acks=all, idempotent) produces numbered messages and a consumer reads them
back. The client must see no error, every message must arrive once and in order, the broker
must stay up with a bounded peak memory and never log a panic."""

import random
import socket
import struct
import threading
import time

import ck

FRAMES = 3000
MESSAGES = 3000
# Peak resident memory the broker may reach under the barrage (debug build; it idles near 20 MB).
PEAK_RSS_MAX_BYTES = 512 << 20

KILLER = bytes.fromhex("00000011" "0013" "0004" "48dfe749" "0002" "667a" "403e5e9bfb")


def random_frame(rng):
    kind = rng.randrange(4)
    if kind == 0:  # raw garbage after a plausible size
        body = rng.randbytes(rng.randrange(0, 64))
        return struct.pack(">i", len(body)) + body
    key = rng.randrange(-1, 75)
    version = rng.randrange(-1, 16)
    client_id = b"fuzz"
    header = struct.pack(">hhih", key, version, rng.randrange(1 << 31), len(client_id)) + client_id
    if rng.random() < 0.5:
        header += b"\x00"  # empty tagged fields (header v2)
    body = rng.randbytes(rng.randrange(0, 48))
    if kind == 2 and len(body) >= 4:  # a huge non-compact count or length somewhere
        at = rng.randrange(len(body) - 3)
        body = body[:at] + rng.choice([b"\x7f\xff\xff\xff", b"\x40\x3e\x5e\x9b", b"\x7f\xff"]) + body[at + 4 :]
    if kind == 3:  # a huge compact (varint) count or length somewhere
        at = rng.randrange(len(body) + 1)
        body = body[:at] + b"\xff\xff\xff\xff\x0f" + body[at:]
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def barrage(addr, seed, stats, stop):
    """One connection per frame, so that every frame reaches the decoder (the broker closes a
    connection at its first malformed frame and would never read the ones behind it)."""
    rng = random.Random(seed)
    frames = [KILLER] + [random_frame(rng) for _ in range(FRAMES - 1)]
    for frame in frames:
        if stop.is_set():
            return
        try:
            s = socket.create_connection(addr, timeout=2)
        except OSError as e:
            stats["connect_errors"].append(repr(e))
            continue
        with s:
            try:
                s.sendall(frame)
                stats["sent"] += 1
                s.settimeout(0.1)
                s.recv(65536)  # an answer, the broker closing, or quiet (acks=0, long poll)
            except (socket.timeout, ConnectionResetError, BrokenPipeError):
                pass


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_random_frames_do_not_disturb_a_real_client(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, 2)
    stats = {"sent": 0, "connect_errors": []}
    stop = threading.Event()
    sender = threading.Thread(target=barrage, args=(rill.addr, 8, stats, stop), daemon=True)
    sender.start()
    try:
        msgs = [(None, f"m{i:05d}".encode()) for i in range(MESSAGES)]
        # Produce in slices so that the barrage overlaps the whole run.
        sent = []
        for start in range(0, MESSAGES, 300):
            part, _, errors = ck.produce(rill.bootstrap, topic_name, msgs[start : start + 300], acks="all", idempotence=True)
            assert errors == [], errors[:3]
            sent += part
            time.sleep(0.05)
        received = ck.consume(rill.bootstrap, topic_name, 2, MESSAGES)
    finally:
        sender.join(timeout=60)
        stop.set()
    assert stats["sent"] == FRAMES, f"the barrage stopped early: {stats['sent']} frames"
    assert stats["connect_errors"] == [], stats["connect_errors"][:3]
    assert len(sent) == MESSAGES
    got = sorted((p, o, v) for p, o, _, v in received)
    assert len(got) == MESSAGES, f"{len(got)} of {MESSAGES} messages came back"
    assert len({v for _, _, v in got}) == MESSAGES, "a message came back twice"
    for p in (0, 1):
        values = [v for q, _, v in got if q == p]
        assert values == sorted(values), f"partition {p} out of order"
    assert rill.alive(), rill.log()
    peak = peak_rss_bytes(rill.proc.pid)
    assert peak < PEAK_RSS_MAX_BYTES, f"broker peak RSS {peak >> 20} MiB"
    assert "panicked" not in rill.log()
