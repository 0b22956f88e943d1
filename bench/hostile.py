#!/usr/bin/env python3
"""Bystander latency under hostile requests (issue 9, items 2, 4 and 5).

For each attack, starts a fresh `rill server` (the binary given), lets a bystander do produce +
fetch round trips on its own connection (Produce v3 acks=-1 of one record, then Fetch v4 of
it, raw frames through tests/clients/kwire.py) while attacker threads repeat the attack, and
prints the bystander's p50 / p99 / max, the attack requests completed and their answer sizes,
and the server's peak RSS (VmHWM).

    python3 bench/hostile.py --binary target/release/rill [--seconds 6] [--attacks a,b] [--attack-rate R]

--attack-rate R: each attacker sends at most R requests a second (default: back to back). Back
to back, a faster broker is attacked harder; at a fixed rate both builds face the same load.

Attacks:
  none           no attack (the baseline)
  fetch-dup      Fetch listing a 50 MB partition 20 times, max_bytes 2^31-1 (the 369-byte
                 request that answered 990 MB), 2 connections
  produce-dup    Produce listing one partition 1,000,000 times (77 MB frame), 2 connections
  metadata-dup   Metadata naming one topic 1,000,000 times, 2 connections
  produce-cap    Produce listing one partition 199,999 times (15 MB): the most array entries
                 a request may hold (REQUEST_ENTRIES_MAX, 200,000, with its topic), 2 connections
  metadata-cap   Metadata naming one topic 200,000 times (REQUEST_ENTRIES_MAX), 2 connections
  roll-storm     2 connections producing 64 KiB batches (acks=1) to a topic created with the
                 smallest segment.bytes the broker accepts (1024, else Kafka 4's 1 MiB): every
                 roll syncs the finished segment on the partitions actor
  header-bomb    Produce of one ~250 KB gzip batch (under message.max.bytes) holding 1 record
                 with ~120 million empty headers (`00 01`: empty key, null value), 240 MB
                 decompressed, just under the 256 MiB decompression budget, 2 connections
  value-bomb     the same with one record whose value is 250 MB of zeros (~240 KB gzip): the
                 most inflating the decompression budget allows, few fields, 2 connections
  parked-dup     40 parked Fetches (min_bytes 2^31-1, 30 s wait), each listing the bystander's
                 partition 20,000 times: every bystander append re-read them
  idle-1000      (issue 16) 1,000 idle TCP connections opened before the bystander starts and
                 held for the run; at the end one ApiVersions round trip on every one of them
                 counts those the broker really admitted. Reports the idle broker's RSS, the
                 RSS with the connections open (never spoken / after one ApiVersions each) and
                 the cost per connection in KiB
  produce-flood  (issue 16) 50 connections (5 processes x 10; --flood-connections N) each pipelining Produce v3 acks=1
                 requests of one uncompressed 1 MiB batch (message.max.bytes is 1,048,588) to
                 one of 10 partitions of a topic of its own, up to 8 unanswered per connection
                 (--flood-inflight N),
                 answers read by a second thread
  produce-flood-big  (issue 16) the same, each request carrying 90 such batches, one per
                 partition of a 90-partition topic (a ~94 MB frame, under socket.request.max.bytes
                 100 MiB): the frames queued.max.request.bytes has to bound

Every attack also reports the server's RSS sampled every 100 ms (VmRSS: the largest sample, the
largest anonymous part (RssAnon), and the RSS 2 s after the attack stopped), next to VmHWM.
--json FILE appends each row, with every figure, as one JSON line.
"""

import argparse
import gzip
import io
import json
import multiprocessing
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "clients"))
import kwire  # noqa: E402

S = kwire._string


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_topic(conn, name, partitions=1, configs=()):
    """CreateTopics v2; returns the topic's error code."""
    body = struct.pack(">i", 1) + S(name) + struct.pack(">ihi", partitions, 1, 0) + struct.pack(">i", len(configs))
    for key, value in configs:
        body += S(key) + S(value)
    body += struct.pack(">ib", 5000, 0)
    answer = conn.request(kwire.API_KEYS["CreateTopics"], 2, body)
    # throttle_time_ms, topics count, name, error_code
    (name_len,) = struct.unpack_from(">h", answer, 8)
    (error,) = struct.unpack_from(">h", answer, 10 + name_len)
    return error


def create_small_segment_topic(conn, name):
    """The smallest segment.bytes accepted: the segment size used, in bytes."""
    for size in (1024, 1 << 20):
        if create_topic(conn, name, configs=[("segment.bytes", str(size))]) == 0:
            return size
    raise AssertionError("no small segment.bytes accepted")


def fetch_body(topic, listings, offset=0, max_bytes=0x7FFFFFFF, partition_max=0x7FFFFFFF, min_bytes=1, wait_ms=0):
    one = struct.pack(">iqi", 0, offset, partition_max)
    return (
        struct.pack(">iiiib", -1, wait_ms, min_bytes, max_bytes, 0)
        + struct.pack(">i", 1)
        + S(topic)
        + struct.pack(">i", listings)
        + one * listings
    )


def produce_body(topic, batch, listings, acks=-1):
    one = struct.pack(">ii", 0, len(batch)) + batch
    return S(None) + struct.pack(">hii", acks, 30000, 1) + S(topic) + struct.pack(">i", listings) + one * listings


def header_bomb_batch(headers=120_000_000, value_bytes=None):
    """A gzip v2 batch of one record carrying `headers` empty headers (`00 01` each): 2 bytes of
    walk per header, ~1000:1 under deflate, so 240 MB of walk arrive in a ~250 KB request.
    With `value_bytes`, the record has no headers and a value of that many zero bytes instead
    (as many bytes to inflate, few fields to walk)."""
    z = kwire._zigzag_varint
    if value_bytes is not None:
        body = b"\x00" + z(0) + z(0) + z(-1) + z(value_bytes)
        record_len = len(body) + value_bytes + 1
        return gzip_batch(z(record_len) + body, (b"\x00", value_bytes), z(0))
    body = b"\x00" + z(0) + z(0) + z(-1) + z(-1) + z(headers)  # attributes .. header count
    return gzip_batch(z(len(body) + 2 * headers) + body, (b"\x00\x01", headers), b"")


def gzip_batch(head, repeated, tail):
    """A one-record gzip v2 batch whose records section is `head`, then `repeated` = (unit, n)
    written n times, then `tail`."""
    unit, n = repeated
    out = io.BytesIO()  # streamed: the 240 MB section is never held whole
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as g:
        g.write(head)
        chunk = unit * (1 << 20)
        left = n
        while left:
            step = min(left, 1 << 20)
            g.write(chunk if step == 1 << 20 else chunk[: len(unit) * step])
            left -= step
        g.write(tail)
    section = out.getvalue()
    ts = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 1, 0, ts, ts, -1, -1, -1, 1) + section
    after_length = struct.pack(">ibI", -1, 2, kwire.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def metadata_body(topic, listings):
    return struct.pack(">i", listings) + S(topic) * listings


class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="rill-hostile-")
        self.addr = ("127.0.0.1", free_port())
        self.proc = subprocess.Popen(
            [binary, "server", "--listeners", f"PLAINTEXT://{self.addr[0]}:{self.addr[1]}", "--log-dirs", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "server.log"), "w"),
        )
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(self.addr, timeout=1).close()
                return
            except OSError:
                assert time.time() < deadline, "server did not start"
                time.sleep(0.05)

    def peak_rss_mb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            return -1

    def status_kib(self):
        """VmRSS, VmHWM, RssAnon, RssFile of the server in KiB ({} once it is gone)."""
        out = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    key = line.split(":", 1)[0]
                    if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                        out[key] = int(line.split()[1])
        except OSError:
            pass
        return out

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bystander(addr, stop, out):
    conn = kwire.Conn(addr, timeout_s=120)
    batch = kwire.record_batch([(None, b"bystander")])
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            err, offset = conn.produce_v3("shared", 0, batch, acks=-1)
            assert err == 0, err
            conn.request(kwire.API_KEYS["Fetch"], 4, fetch_body("shared", 1, offset, 1 << 20, 1 << 20))
        except Exception as e:  # a stalled or dropped bystander is the result, not a crash
            out.append(("error", str(e)))
            return
        out.append(time.perf_counter() - t0)
        time.sleep(0.01)


def read_answer(sock, buf):
    """Reads one answer frame into `buf` (grown as needed, reused); returns its size. recv_into
    a reused buffer: `kwire.Conn.read_frame` allocates and copies each 50 MB answer three times
    while holding the GIL, which an in-process bystander used to wait for."""
    view = memoryview(buf)
    got = 0
    while got < 4:
        n = sock.recv_into(view[got:4])
        if n == 0:
            raise ConnectionError("closed by the broker")
        got += n
    (size,) = struct.unpack_from(">i", buf)
    if size > len(buf):
        view.release()  # a bytearray with a live view cannot grow
        buf.extend(bytes(size - len(buf)))
        view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:size])
        if n == 0:
            raise ConnectionError(f"closed by the broker after {got} of {size} bytes")
        got += n
    return size


def attacker(addr, stop, frame_body, api, version, rate, results):
    """One attacking connection, in its own process: run in the bystander's process, the
    attacker's Python work (reading 50 MB answers) held the GIL and the bystander's latency
    measured that rather than the broker.

    A request the broker refuses closes the connection: count it and send it again on a new
    one, so a refused attack keeps costing the broker what refusing it costs. The frame is
    built once: concatenating a 77 MB frame per request held the GIL for tens of ms."""
    stats = {"requests": 0, "refused": 0, "answer_bytes_max": 0}
    header = struct.pack(">hhi", api, version, 1) + S("kwire")
    frame = struct.pack(">i", len(header) + len(frame_body)) + header + frame_body
    buf = bytearray(1 << 16)
    conn = None
    next_send = time.perf_counter()
    while not stop.is_set():
        if rate:
            stop.wait(max(0.0, next_send - time.perf_counter()))
            next_send = max(next_send + 1.0 / rate, time.perf_counter() - 1.0 / rate)
        try:
            if conn is None:
                conn = kwire.Conn(addr, timeout_s=120)
            conn.send_raw(frame)
            size = read_answer(conn.sock, buf)
            stats["requests"] += 1
            stats["answer_bytes_max"] = max(stats["answer_bytes_max"], size - 4)
        except (ConnectionError, EOFError, OSError, struct.error) as e:
            stats["refused"] += 1
            stats["last_refusal"] = str(e)[:80]
            try:
                conn.close()
            except Exception:
                pass
            conn = None
        except Exception as e:
            stats["error"] = str(e)[:80]
            break
    results.put(stats)


def parked(addr, stop, stats):
    conns = []
    body = fetch_body("shared", 20_000, 0, 1 << 20, 1, 0x7FFFFFFF, 30_000)
    try:
        for _ in range(40):
            c = kwire.Conn(addr, timeout_s=120)
            c.correlation_id += 1
            header = struct.pack(">hhi", kwire.API_KEYS["Fetch"], 4, c.correlation_id) + S("kwire")
            c.send_raw(struct.pack(">i", len(header) + len(body)) + header + body)
            conns.append(c)
            stats["requests"] += 1
    except Exception as e:
        stats["error"] = str(e)[:80]
    stop.wait()
    for c in conns:
        c.close()


class RssSampler(threading.Thread):
    """Samples the server's /proc status every `period_s`: the largest VmRSS and RssAnon seen."""

    def __init__(self, server, period_s=0.1):
        super().__init__(daemon=True)
        self.server = server
        self.period_s = period_s
        self.halt = threading.Event()
        self.max_rss_kib = 0
        self.max_anon_kib = 0
        self.samples = 0
        self.series = []  # (seconds since start, VmRSS MB), every 5th sample (0.5 s apart)

    def run(self):
        started = time.monotonic()
        while not self.halt.is_set():
            st = self.server.status_kib()
            if st:
                self.samples += 1
                self.max_rss_kib = max(self.max_rss_kib, st.get("VmRSS", 0))
                self.max_anon_kib = max(self.max_anon_kib, st.get("RssAnon", 0))
                if self.samples % 5 == 1:
                    self.series.append((round(time.monotonic() - started, 1), st.get("VmRSS", 0) // 1024))
            self.halt.wait(self.period_s)

    def stop(self):
        self.halt.set()
        self.join()


FLOOD_BATCH_BYTES = 1 << 20  # the whole batch, 12 bytes under message.max.bytes (1,048,588)


def max_size_batch(total=FLOOD_BATCH_BYTES):
    """An uncompressed v2 batch (correct CRC-32C) of one record, `total` bytes in all."""
    n = total - 72
    while True:
        batch = kwire.record_batch([(None, b"f" * n)])
        if len(batch) == total:
            return batch
        n += total - len(batch)


def produce_parts_body(topic, batch, partitions, acks=1):
    """Produce v3 body: one topic, `batch` once for each of `partitions`."""
    body = S(None) + struct.pack(">hii", acks, 30000, 1) + S(topic) + struct.pack(">i", len(partitions))
    return body + b"".join(struct.pack(">ii", p, len(batch)) + batch for p in partitions)


def produce_errors(answer):
    """Partitions answered with an error in a Produce v3 answer (after its size prefix):
    (count, first error code)."""
    pos = 4  # correlation id
    failed, first = 0, 0
    (topics,) = struct.unpack_from(">i", answer, pos)
    pos += 4
    for _ in range(topics):
        (name_len,) = struct.unpack_from(">h", answer, pos)
        pos += 2 + name_len
        (parts,) = struct.unpack_from(">i", answer, pos)
        pos += 4
        for _ in range(parts):
            (error,) = struct.unpack_from(">h", answer, pos + 4)
            pos += 22  # partition, error, base_offset, log_append_time
            if error:
                failed += 1
                first = first or error
    return failed, first


def flood_connection(addr, frame, inflight, stop, socks, lock, stats):
    """One flooding connection: a sender writing `frame` back to back while fewer than
    `inflight` answers are owed, a reader thread counting the answers. A connection the broker
    closes is counted refused and opened again."""
    while not stop.is_set():
        try:
            sock = socket.create_connection(addr, timeout=120)
        except OSError as e:
            with lock:
                stats["connect_failed"] += 1
                stats["last_refusal"] = str(e)[:80]
            stop.wait(0.1)
            continue
        with lock:
            socks.add(sock)
        owed = threading.Semaphore(inflight)
        dead = threading.Event()

        def reader():
            buf = bytearray(1 << 16)
            try:
                while True:
                    size = read_answer(sock, buf)
                    failed, first = produce_errors(bytes(buf[:size]))
                    owed.release()
                    with lock:
                        stats["requests"] += 1
                        if failed:
                            stats["errored"] += 1
                            stats["error_code"] = first
            except (OSError, ConnectionError, struct.error) as e:
                if not stop.is_set():
                    with lock:
                        stats["refused"] += 1
                        stats["last_refusal"] = str(e)[:80]
            finally:
                dead.set()
                owed.release()  # unblock the sender

        r = threading.Thread(target=reader, daemon=True)
        r.start()
        try:
            while not stop.is_set() and not dead.is_set():
                if not owed.acquire(timeout=0.2):
                    continue
                if dead.is_set() or stop.is_set():
                    break
                sock.sendall(frame)
                with lock:
                    stats["sent"] += 1
        except OSError:
            pass  # the reader counts the closure
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        r.join(timeout=30)
        with lock:
            socks.discard(sock)
        sock.close()


def flooder(addr, stop, frames, first, conns, inflight, results):
    """`conns` flooding connections in one process (connection i sends frames[i % len])."""
    stats = {"requests": 0, "sent": 0, "errored": 0, "refused": 0, "connect_failed": 0}
    socks, lock, halt = set(), threading.Lock(), threading.Event()
    threads = [
        threading.Thread(
            target=flood_connection,
            args=(addr, frames[(first + i) % len(frames)], inflight, halt, socks, lock, stats),
            daemon=True,
        )
        for i in range(conns)
    ]
    for t in threads:
        t.start()
    stop.wait()
    halt.set()
    with lock:
        for sock in socks:  # a sender blocked in sendall on a broker not reading
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    for t in threads:
        t.join(timeout=60)
    results.put(stats)


def api_versions_all(conns, timeout_s=30):
    """One ApiVersions v0 round trip on every connection (all sent first): how many answered."""
    header = struct.pack(">hhi", kwire.API_KEYS["ApiVersions"], 0, 7) + S("kwire")
    frame = struct.pack(">i", len(header)) + header
    sent = []
    for c in conns:
        try:
            c.settimeout(timeout_s)
            c.sendall(frame)
            sent.append(c)
        except OSError:
            pass
    answered = 0
    buf = bytearray(1 << 12)
    for c in sent:
        try:
            size = read_answer(c, buf)
            (corr, error) = struct.unpack_from(">ih", buf)
            if corr == 7 and error == 0 and size > 6:
                answered += 1
        except (OSError, ConnectionError, struct.error):
            pass
    return answered


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def run(binary, attack, seconds, rate=0, flood_connections=50, flood_inflight=8):
    server = Server(binary)
    addr = server.addr
    try:
        with kwire.Conn(addr) as c:
            create_topic(c, "shared")
            segment_bytes = create_small_segment_topic(c, "victim") if attack == "roll-storm" else None
            if segment_bytes is None:
                create_topic(c, "victim")
            flood_partitions = {"produce-flood": 10, "produce-flood-big": 90}.get(attack)
            if flood_partitions:
                assert create_topic(c, "flood", partitions=flood_partitions) == 0
            if attack == "fetch-dup":  # 50 MB in the victim partition
                big = kwire.record_batch([(None, b"v" * 1_000_000)])
                for _ in range(50):
                    assert c.produce_v3("victim", 0, big, acks=1)[0] == 0
        stop = threading.Event()
        stats = {"requests": 0, "refused": 0, "answer_bytes_max": 0}
        threads = []
        small = kwire.record_batch([(None, b"x")])
        if attack == "fetch-dup":
            args = (fetch_body("victim", 20), kwire.API_KEYS["Fetch"], 4)
        elif attack == "produce-dup":
            args = (produce_body("victim", small, 1_000_000), kwire.API_KEYS["Produce"], 3)
        elif attack == "metadata-dup":
            args = (metadata_body("victim", 1_000_000), kwire.API_KEYS["Metadata"], 1)
        elif attack == "produce-cap":
            args = (produce_body("victim", small, 199_999), kwire.API_KEYS["Produce"], 3)
        elif attack == "metadata-cap":
            args = (metadata_body("victim", 200_000), kwire.API_KEYS["Metadata"], 1)
        elif attack == "header-bomb":
            args = (produce_body("victim", header_bomb_batch(), 1), kwire.API_KEYS["Produce"], 3)
        elif attack == "value-bomb":
            batch = header_bomb_batch(value_bytes=250_000_000)
            args = (produce_body("victim", batch, 1), kwire.API_KEYS["Produce"], 3)
        elif attack == "roll-storm":
            batch = kwire.record_batch([(None, b"r" * 65_000)])
            args = (produce_body("victim", batch, 1, acks=1), kwire.API_KEYS["Produce"], 3)
        procs = []
        proc_stop = multiprocessing.Event()
        proc_results = multiprocessing.Queue()
        extra = {}
        idle_conns = []
        time.sleep(0.5)
        extra["rss_before_mb"] = round(server.status_kib().get("VmRSS", 0) / 1024, 1)
        if flood_partitions:
            batch = max_size_batch()
            if attack == "produce-flood":  # one 1 MiB batch a request, partitions taken in turn
                bodies = [produce_parts_body("flood", batch, [p]) for p in range(flood_partitions)]
            else:  # every partition's batch in each request
                bodies = [produce_parts_body("flood", batch, range(flood_partitions))]
            header = struct.pack(">hhi", kwire.API_KEYS["Produce"], 3, 1) + S("kwire")
            frames = [struct.pack(">i", len(header) + len(b)) + header + b for b in bodies]
            del bodies
            extra["request_bytes"] = len(frames[0])
            # forked after the frames are built: the children share them
            per_proc = max(1, flood_connections // 5)
            procs = [
                multiprocessing.Process(
                    target=flooder, args=(addr, proc_stop, frames, per_proc * i, per_proc, flood_inflight, proc_results)
                )
                for i in range(min(5, flood_connections))
            ]
            extra["flood_connections"] = per_proc * len(procs)
            extra["flood_inflight"] = flood_inflight
        elif attack == "idle-1000":
            for _ in range(1000):
                try:
                    idle_conns.append(socket.create_connection(addr, timeout=10))
                except OSError as e:
                    extra["connect_error"] = str(e)[:80]
                    break
            time.sleep(1.0)  # let the broker accept them all
            extra["connections_opened"] = len(idle_conns)
            extra["rss_idle_open_mb"] = round(server.status_kib().get("VmRSS", 0) / 1024, 1)
        elif attack not in ("none", "parked-dup"):
            procs = [
                multiprocessing.Process(target=attacker, args=(addr, proc_stop, *args, rate, proc_results))
                for _ in range(2)
            ]
        elif attack == "parked-dup":
            threads = [threading.Thread(target=parked, args=(addr, stop, stats))]
        sampler = RssSampler(server)
        sampler.start()
        for t in threads + procs:
            t.start()
        time.sleep(1.0)  # let the attack get going
        samples = []
        b = threading.Thread(target=bystander, args=(addr, stop, samples))
        b.start()
        time.sleep(seconds)
        if idle_conns:  # still open and idle: how many did the broker really admit?
            extra["connections_answered"] = api_versions_all(idle_conns)
            time.sleep(0.5)
            extra["rss_after_apiversions_mb"] = round(server.status_kib().get("VmRSS", 0) / 1024, 1)
            extra["alive_with_connections"] = server.alive()
        stop.set()
        proc_stop.set()
        b.join(timeout=150)
        for t in threads:
            t.join(timeout=150)
        for _ in procs:
            got = proc_results.get(timeout=150)
            stats["requests"] += got["requests"]
            stats["refused"] += got["refused"]
            stats["answer_bytes_max"] = max(stats["answer_bytes_max"], got.get("answer_bytes_max", 0))
            for key in ("sent", "errored", "connect_failed"):
                if key in got:
                    extra[key] = extra.get(key, 0) + got[key]
            for key in ("error_code", "last_refusal"):
                if key in got:
                    extra[key] = got[key]
            if "error" in got:
                stats["error"] = got["error"]
        for p in procs:
            p.join(timeout=150)
        for c in idle_conns:
            c.close()
        time.sleep(2.0)  # what the broker keeps once the attack is over
        sampler.stop()
        status = server.status_kib()
        extra["rss_sampled_max_mb"] = round(sampler.max_rss_kib / 1024, 1)
        extra["rss_anon_sampled_max_mb"] = round(sampler.max_anon_kib / 1024, 1)
        extra["rss_after_mb"] = round(status.get("VmRSS", 0) / 1024, 1)
        extra["rss_samples"] = sampler.samples
        extra["rss_series_mb"] = sampler.series
        if idle_conns:
            answered = extra["connections_answered"]
            if answered:
                extra["kib_per_connection_idle"] = round(
                    (extra["rss_idle_open_mb"] - extra["rss_before_mb"]) * 1024 / answered, 1
                )
                extra["kib_per_connection_after_apiversions"] = round(
                    (extra["rss_after_apiversions_mb"] - extra["rss_before_mb"]) * 1024 / answered, 1
                )
        log = server.log_text()
        for line in log.splitlines():
            if "file descriptor limit" in line:
                for word in line.split():
                    if word.startswith(("max_connections=", "queued_max_request_bytes=", "soft=")):
                        extra[word.split("=", 1)[0]] = word.split("=", 1)[1]
        extra["log_refusals"] = sum(
            1 for line in log.splitlines() if "closing kafka connection" in line or "max.connections" in line
        )
        lat = [s for s in samples if isinstance(s, float)]
        errors = [s for s in samples if not isinstance(s, float)]
        row = {
            "attack": attack,
            "round_trips": len(lat),
            "p50_ms": round(percentile(lat, 0.5) * 1000, 1) if lat else None,
            "p99_ms": round(percentile(lat, 0.99) * 1000, 1) if lat else None,
            "max_ms": round(max(lat) * 1000, 1) if lat else None,
            "attack_requests": stats["requests"],
            "attack_refused": stats["refused"],
            "attack_answer_mb": round(stats["answer_bytes_max"] / 1e6, 1),
            "peak_rss_mb": server.peak_rss_mb(),
            "alive": server.alive(),
            **extra,
        }
        if segment_bytes is not None:
            row["attack"] += f" (segment.bytes {segment_bytes})"
        if errors or "error" in stats:
            row["errors"] = (errors[:1], stats.get("error"))
        return row
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/rill")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument(
        "--attacks", default="none,fetch-dup,produce-dup,metadata-dup,produce-cap,metadata-cap,parked-dup"
    )
    ap.add_argument("--attack-rate", type=float, default=0, help="requests/s per attacker (0: back to back)")
    ap.add_argument("--json", help="append each row as a JSON line to this file")
    ap.add_argument("--flood-connections", type=int, default=50, help="produce-flood*: connections (5 processes)")
    ap.add_argument("--flood-inflight", type=int, default=8, help="produce-flood*: unanswered requests per connection")
    args = ap.parse_args()
    # idle-1000's connections, the flooders' and the bystander's (the server inherits the limit
    # and raises it to the hard one itself; max.connections is half of it less 64)
    raise_nofile(4096)
    print(f"binary: {args.binary}")
    print(
        "| attack | bystander round trips | p50 ms | p99 ms | max ms | attack requests answered | "
        "attack requests refused | largest attack answer MB | server peak RSS MB | alive | "
        "RSS before MB | RSS max (100 ms samples) MB | RSS 2 s after MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for attack in args.attacks.split(","):
        r = run(args.binary, attack, args.seconds, args.attack_rate, args.flood_connections, args.flood_inflight)
        detail = {
            k: v
            for k, v in r.items()
            if k not in ("attack", "round_trips", "p50_ms", "p99_ms", "max_ms", "attack_requests", "attack_refused",
                         "attack_answer_mb", "peak_rss_mb", "alive", "rss_before_mb", "rss_sampled_max_mb",
                         "rss_after_mb", "errors", "rss_series_mb")
        }
        print(
            f"| {r['attack']} | {r['round_trips']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
            f"{r['attack_requests']} | {r['attack_refused']} | {r['attack_answer_mb']} | {r['peak_rss_mb']} | {r['alive']} | "
            f"{r['rss_before_mb']} | {r['rss_sampled_max_mb']} | {r['rss_after_mb']} |"
            + (f" {r['errors']}" if "errors" in r else "")
            + (f" {detail}" if attack in ("idle-1000", "produce-flood", "produce-flood-big") else ""),
            flush=True,
        )
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps({"binary": args.binary, **r}) + "\n")


if __name__ == "__main__":
    main()
