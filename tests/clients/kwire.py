"""Hand-rolled Kafka wire helpers for the conformance suite: raw frames (over TCP or TLS),
ApiVersions v0, a RecordBatch v2 encoder with a correct (or deliberately wrong) CRC-32C, Produce
v3, Metadata v1, SaslHandshake v1 and SaslAuthenticate v0-v2 with PLAIN and SCRAM-SHA-256/512
(RFC 5802/7677) client messages, Java's murmur2 partitioner, and the delivery checks shared by
the client tests.

Everything here is written from the protocol spec with the standard library only, so the
wire tests do not depend on any client's internals.
"""

import base64
import hashlib
import hmac
import secrets
import socket
import ssl
import struct
import time
from collections import defaultdict

API_KEYS = {
    "Produce": 0,
    "Fetch": 1,
    "ListOffsets": 2,
    "Metadata": 3,
    "OffsetCommit": 8,
    "OffsetFetch": 9,
    "FindCoordinator": 10,
    "JoinGroup": 11,
    "Heartbeat": 12,
    "LeaveGroup": 13,
    "SyncGroup": 14,
    "DescribeGroups": 15,
    "ListGroups": 16,
    "SaslHandshake": 17,
    "ApiVersions": 18,
    "CreateTopics": 19,
    "DeleteTopics": 20,
    "DeleteRecords": 21,
    "InitProducerId": 22,
    "AddPartitionsToTxn": 24,
    "AddOffsetsToTxn": 25,
    "EndTxn": 26,
    "TxnOffsetCommit": 28,
    "DescribeConfigs": 32,
    "AlterConfigs": 33,
    "DescribeLogDirs": 35,
    "SaslAuthenticate": 36,
    "CreatePartitions": 37,
    "DeleteGroups": 42,
    "IncrementalAlterConfigs": 44,
    "OffsetDelete": 47,
    "DescribeQuorum": 55,
    "DescribeCluster": 60,
    "DescribeTopicPartitions": 75,
}

CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58
SOCKET_TIMEOUT_S = 10.0


# ---------------------------------------------------------------------------- primitives


def _string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _uvarint(n):
    """An unsigned varint (the lengths and tag counts of flexible versions)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _compact_bytes(b):
    """COMPACT_BYTES: unsigned varint length + 1, then the bytes."""
    return _uvarint(len(b) + 1) + b


def _zigzag_varint(n):
    """Kafka's signed varint (zigzag, 64-bit)."""
    z = (n << 1) ^ (n >> 63)
    z &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------- record batches


def record_batch(records, base_timestamp_ms=None, corrupt_crc=False):
    """An uncompressed RecordBatch v2 (magic 2) of `records`, a list of (key, value) bytes (key
    may be None). With `corrupt_crc` the stored CRC is off by one."""
    if base_timestamp_ms is None:
        base_timestamp_ms = int(time.time() * 1000)
    body = bytearray()
    for delta, (key, value) in enumerate(records):
        rec = bytearray()
        rec += struct.pack(">b", 0)  # attributes
        rec += _zigzag_varint(0)  # timestamp delta
        rec += _zigzag_varint(delta)  # offset delta
        if key is None:
            rec += _zigzag_varint(-1)
        else:
            rec += _zigzag_varint(len(key)) + key
        rec += _zigzag_varint(len(value)) + value
        rec += _zigzag_varint(0)  # headers
        body += _zigzag_varint(len(rec)) + rec
    after_crc = (
        struct.pack(
            ">hiqqqhii",
            0,  # attributes: no compression, create time, not transactional
            len(records) - 1,  # last offset delta
            base_timestamp_ms,
            base_timestamp_ms,  # max timestamp
            -1,  # producer id
            -1,  # producer epoch
            -1,  # base sequence
            len(records),
        )
        + bytes(body)
    )
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc = (crc + 1) & 0xFFFFFFFF
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc  # leader epoch, magic, crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def _xxh32(data, seed=0):
    """xxHash32 (the LZ4 frame's header checksum), for short inputs."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m  # noqa: E731
    assert len(data) < 16, "the 16-byte stripe loop is not needed for frame descriptors"
    h = (seed + p5 + len(data)) & m
    i = 0
    while i + 4 <= len(data):
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    for b in data[i:]:
        h = (rotl((h + b * p5) & m, 11) * p1) & m
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    return h ^ (h >> 16)


def lz4_frame(data, end_mark=True):
    """An LZ4 frame holding `data` (under 64 KiB) as one uncompressed block: magic, FLG (version
    01, independent blocks, no checksums), BD (64 KiB blocks), header checksum, the block (size
    with the top "uncompressed" bit), then the end mark (a zero size) unless told not to."""
    assert len(data) < 1 << 16
    descriptor = bytes([0x60, 0x40])
    out = struct.pack("<I", 0x184D2204) + descriptor + bytes([(_xxh32(descriptor) >> 8) & 0xFF])
    if data:
        out += struct.pack("<I", 0x80000000 | len(data)) + data
    return out + (struct.pack("<I", 0) if end_mark else b"")


def zstd_raw_frame(data):
    """A zstd frame holding `data` (under 256 bytes) as one raw (stored) block: magic, a frame
    header with the single-segment flag and a 1-byte content size, one last raw block."""
    assert len(data) < 256
    block_header = (len(data) << 3) | 1  # size, raw type (0), last block
    return (
        struct.pack("<I", 0xFD2FB528)
        + bytes([0x20, len(data)])
        + struct.pack("<I", block_header)[:3]
        + data
    )


# ---------------------------------------------------------------------------- connections


class Conn:
    """One raw Kafka connection. `request` uses request header v1 (non-flexible versions),
    `request_flexible` header v2 (flexible versions). With `tls` (an `ssl.SSLContext`) the
    socket is wrapped in TLS (the handshake runs here; its failure raises `ssl.SSLError`),
    checking the broker's certificate against `server_hostname` (default: the address's host)."""

    def __init__(self, addr, timeout_s=SOCKET_TIMEOUT_S, tls=None, server_hostname=None):
        sock = socket.create_connection(addr, timeout=timeout_s)
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=server_hostname or addr[0])
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.sock.settimeout(timeout_s)
        self.correlation_id = 0
        self.client_id = "kwire"

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_request(self, api_key, api_version, body, flexible=False):
        """Sends one request without reading the answer (header v2 when `flexible`, else v1)."""
        self.correlation_id += 1
        header = struct.pack(">hhi", api_key, api_version, self.correlation_id) + _string(self.client_id)
        if flexible:
            header += _uvarint(0)  # no tagged fields
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)

    def request(self, api_key, api_version, body):
        """Sends one request and returns the response body (after the v0 response header)."""
        self.send_request(api_key, api_version, body)
        response = self.read_frame()
        (correlation_id,) = struct.unpack_from(">i", response)
        assert correlation_id == self.correlation_id, (correlation_id, self.correlation_id)
        return response[4:]

    def request_flexible(self, api_key, api_version, body):
        """Sends one request of a flexible version (request header v2) and returns the response
        body (after the v1 response header and its tagged fields)."""
        self.send_request(api_key, api_version, body, flexible=True)
        r = _Reader(self.read_frame())
        correlation_id = r.i32()
        assert correlation_id == self.correlation_id, (correlation_id, self.correlation_id)
        r.skip_tagged_fields()
        return r.data[r.at :]

    def read_frame(self):
        (size,) = struct.unpack(">i", self._read_exact(4))
        return self._read_exact(size)

    def _read_exact(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError(f"closed by the broker after {len(data)} of {n} bytes")
            data += chunk
        return bytes(data)

    def closed_by_peer(self, timeout_s=5.0):
        """True when the broker closes this connection (EOF, reset, or a TLS alert or EOF)
        within `timeout_s` without sending anything more; False when it sends a byte or
        stays silent until then."""
        self.sock.settimeout(timeout_s)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        except ssl.SSLError:  # an alert, a close without close_notify: the TLS session is gone
            return True

    def api_versions(self):
        """ApiVersions v0: {api_key: (min, max)}."""
        body = self.request(API_KEYS["ApiVersions"], 0, b"")
        error, count = struct.unpack_from(">hi", body)
        assert error == 0, f"ApiVersions error {error}"
        out = {}
        for i in range(count):
            key, lo, hi = struct.unpack_from(">hhh", body, 6 + 6 * i)
            out[key] = (lo, hi)
        return out

    @staticmethod
    def _produce_body(topic, partition, batch, acks, timeout_ms):
        """The body of Produce v3–v8 (same layout) with one batch for one partition."""
        return (
            _string(None)  # transactional id
            + struct.pack(">hii", acks, timeout_ms, 1)
            + _string(topic)
            + struct.pack(">iii", 1, partition, len(batch))
            + batch
        )

    def produce_v3(self, topic, partition, batch, acks=-1, timeout_ms=10000):
        """Produce v3 of one batch to one partition: (error_code, base_offset)."""
        body = self._produce_body(topic, partition, batch, acks, timeout_ms)
        response = self.request(API_KEYS["Produce"], 3, body)
        (topics,) = struct.unpack_from(">i", response)
        assert topics == 1, response
        (name_len,) = struct.unpack_from(">h", response, 4)
        pos = 6 + name_len
        (partitions,) = struct.unpack_from(">i", response, pos)
        assert partitions == 1, response
        index, error, base_offset = struct.unpack_from(">ihq", response, pos + 4)
        assert index == partition
        return error, base_offset

    def produce_v8(self, topic, partition, batch, acks=-1, timeout_ms=10000):
        """Produce v8 (the last non-flexible version) of one batch to one partition: a dict of
        the partition's answer, with v8's `record_errors` [(batch_index, message)] and
        `error_message`."""
        body = self._produce_body(topic, partition, batch, acks, timeout_ms)
        r = _Reader(self.request(API_KEYS["Produce"], 8, body))
        assert r.i32() == 1
        r.string()
        assert r.i32() == 1
        out = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64()}
        out["log_append_time_ms"] = r.i64()
        out["log_start_offset"] = r.i64()
        out["record_errors"] = [(r.i32(), r.string()) for _ in range(r.i32())]
        out["error_message"] = r.string()
        assert out["index"] == partition
        return out

    def metadata_v1(self):
        """Metadata v1 for all topics: the brokers as [(node_id, host, port)]."""
        r = _Reader(self.request(API_KEYS["Metadata"], 1, struct.pack(">i", -1)))
        brokers = []
        for _ in range(r.i32()):
            node_id, host, port = r.i32(), r.string(), r.i32()
            r.string()  # rack
            brokers.append((node_id, host, port))
        return brokers

    def sasl_handshake(self, mechanism, version=1):
        """SaslHandshake (v1: the SASL tokens then travel in SaslAuthenticate):
        (error_code, [enabled mechanisms])."""
        r = _Reader(self.request(API_KEYS["SaslHandshake"], version, _string(mechanism)))
        error = r.i16()
        return error, [r.string() for _ in range(r.i32())]

    def sasl_authenticate(self, auth_bytes, version=2):
        """SaslAuthenticate v0-v2 (v2 is flexible): a dict of error_code, error_message,
        auth_bytes and (v1+) session_lifetime_ms."""
        key = API_KEYS["SaslAuthenticate"]
        if version >= 2:
            r = _Reader(self.request_flexible(key, version, _compact_bytes(auth_bytes) + _uvarint(0)))
            out = {"error_code": r.i16(), "error_message": r.compact_string(), "auth_bytes": r.compact_bytes()}
            out["session_lifetime_ms"] = r.i64()
            r.skip_tagged_fields()
            return out
        r = _Reader(self.request(key, version, struct.pack(">i", len(auth_bytes)) + auth_bytes))
        out = {"error_code": r.i16(), "error_message": r.string(), "auth_bytes": r.bytes()}
        if version >= 1:
            out["session_lifetime_ms"] = r.i64()
        return out

    def sasl_plain(self, user, password, version=2):
        """SaslHandshake PLAIN, then one SaslAuthenticate with the PLAIN token: the
        SaslAuthenticate answer (asserts the handshake accepted PLAIN)."""
        error, mechanisms = self.sasl_handshake("PLAIN")
        assert error == 0, f"SaslHandshake PLAIN: error {error}, enabled {mechanisms}"
        return self.sasl_authenticate(plain_token(user, password), version)

    def sasl_scram(self, mechanism, user, password, version=2, **final_options):
        """SaslHandshake then SCRAM's two SaslAuthenticate rounds. Returns (scram, answers):
        the `Scram` client state (its `server_first` fields) and the SaslAuthenticate answers
        in order (one when the first round failed, else two). On success the server's final
        message is checked (it proves the server knows the password's keys). `final_options`
        go to `Scram.client_final`."""
        error, mechanisms = self.sasl_handshake(mechanism)
        assert error == 0, f"SaslHandshake {mechanism}: error {error}, enabled {mechanisms}"
        scram = Scram(mechanism, user, password)
        first = self.sasl_authenticate(scram.client_first(), version)
        if first["error_code"] != 0:
            return scram, [first]
        final = self.sasl_authenticate(scram.client_final(first["auth_bytes"], **final_options), version)
        if final["error_code"] == 0:
            scram.check_server_final(final["auth_bytes"])
        return scram, [first, final]


def plain_token(user, password, authzid=""):
    """The PLAIN mechanism's one message (RFC 4616): authzid NUL authcid NUL passwd."""
    return f"{authzid}\0{user}\0{password}".encode()


class Scram:
    """A SCRAM-SHA-256/512 client (RFC 5802, RFC 7677) as Kafka clients speak it: no channel
    binding (gs2 header `n,,`), no authzid, no extensions."""

    HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}

    def __init__(self, mechanism, user, password, nonce=None):
        self.hash = self.HASHES[mechanism]
        self.user, self.password = user, password
        self.client_nonce = nonce or secrets.token_hex(16)
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.client_first_bare = f"n={name},r={self.client_nonce}"
        self.server_first = None  # dict of the server's first message: r, s, i
        self._server_signature = None

    def client_first(self):
        return ("n,," + self.client_first_bare).encode()

    def _hmac(self, key, msg):
        return hmac.new(key, msg, self.hash).digest()

    def client_final(self, server_first, tamper_nonce=False, librdkafka_nonce=False):
        """The client's final message for the server's first one (checked: the server's nonce
        extends ours, the salt decodes, the iteration count is a positive integer). With
        `tamper_nonce` the echoed nonce is altered (the server must refuse it). With
        `librdkafka_nonce` it is sent as librdkafka before 2.6.1 sends it: our nonce again in
        front of the server's whole nonce (librdkafka PR #4895)."""
        text = server_first.decode()
        fields = dict(part.split("=", 1) for part in text.split(","))
        nonce, salt, iterations = fields["r"], base64.b64decode(fields["s"]), int(fields["i"])
        assert nonce.startswith(self.client_nonce) and len(nonce) > len(self.client_nonce), (
            f"the server nonce {nonce!r} does not extend the client's {self.client_nonce!r}"
        )
        assert iterations > 0 and salt, text
        self.server_first = {"r": nonce, "s": salt, "i": iterations}
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(), salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self.hash, client_key).digest()
        sent_nonce = nonce + "x" if tamper_nonce else nonce
        if librdkafka_nonce:
            sent_nonce = self.client_nonce + sent_nonce
        without_proof = f"c=biws,r={sent_nonce}"  # biws = base64("n,,")
        auth_message = f"{self.client_first_bare},{text},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def check_server_final(self, server_final):
        expected = "v=" + base64.b64encode(self._server_signature).decode()
        assert server_final.decode() == expected, f"server signature {server_final!r}, want {expected!r}"


class _Reader:
    """Reads a non-flexible response body field by field."""

    def __init__(self, data):
        self.data, self.at = data, 0

    def _take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return v

    def i16(self):
        return self._take(">h")

    def i32(self):
        return self._take(">i")

    def i64(self):
        return self._take(">q")

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.data[self.at : self.at + n].decode()
        self.at += n
        return s

    def bytes(self):
        n = self.i32()
        if n < 0:
            return None
        b = self.data[self.at : self.at + n]
        self.at += n
        return b

    def uvarint(self):
        n, shift = 0, 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7

    def compact_bytes(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        b = self.data[self.at : self.at + n]
        self.at += n
        return b

    def compact_string(self):
        b = self.compact_bytes()
        return None if b is None else b.decode()

    def skip_tagged_fields(self):
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.at += self.uvarint()  # size, then the field


def advertised(addr):
    with Conn(addr) as c:
        return c.api_versions()


def require_apis(addr, *needs):
    """Fails (never skips) with a clear message when the broker does not advertise an API the
    test needs: `require_apis(addr, ("Produce", 3), "Fetch")`. Failing fast keeps a test for
    an API that has not landed from burning its whole timeout in client retries."""
    table = advertised(addr)
    missing = []
    for need in needs:
        name, version = need if isinstance(need, tuple) else (need, None)
        served = table.get(API_KEYS[name])
        if served is None or (version is not None and not served[0] <= version <= served[1]):
            missing.append(f"{name}" + (f" v{version}" if version is not None else ""))
    assert not missing, (
        f"the broker does not advertise {', '.join(missing)} (advertised: "
        + ", ".join(f"{k}:{v[0]}-{v[1]}" for k, v in sorted(table.items()))
        + ")"
    )


# ---------------------------------------------------------------------------- partitioning


def murmur2(data):
    """Java's `Utils.murmur2` (the Kafka default partitioner's hash), as an unsigned 32-bit int."""
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    extra = length % 4
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def murmur2_partition(key, partitions):
    """The partition Java's (and librdkafka's murmur2_random) partitioner picks for `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------------------- delivery checks


def messages(n, keyed, prefix="m"):
    """`n` (key, value) pairs with unique values; keys repeat over 7 distinct keys so several
    messages share each key."""
    out = []
    for i in range(n):
        key = f"key-{i % 7}".encode() if keyed else None
        out.append((key, f"{prefix}-{i:06d}".encode()))
    return out


def check_delivery(sent, received, partitions, keyed):
    """`sent`: (partition, key, value) in send order, as acknowledged by the client.
    `received`: (partition, offset, key, value) as consumed.

    Checks: every sent message arrives exactly once, on the partition it was acknowledged on,
    in send order per partition, with increasing offsets; keyed messages are on
    murmur2(key) % partitions, so the same key is always on the same partition."""
    values = [v for _, _, v in sent]
    assert len(set(values)) == len(values), "test bug: sent values must be unique"
    got = defaultdict(int)
    for _, _, _, v in received:
        got[v] += 1
    dupes = {v: c for v, c in got.items() if c > 1}
    assert not dupes, f"delivered more than once: {sorted(dupes.items())[:10]}"
    missing = [v for v in values if v not in got]
    assert not missing, f"{len(missing)} of {len(values)} acknowledged messages missing, e.g. {missing[:5]}"
    value_set = set(values)
    extra = [v for v in got if v not in value_set]
    assert not extra, f"unexpected messages {extra[:5]}"

    sent_by_partition = defaultdict(list)
    for p, k, v in sent:
        sent_by_partition[p].append(v)
    recv_by_partition = defaultdict(list)
    last_offset = {}
    for p, off, k, v in received:
        assert off > last_offset.get(p, -1), f"offsets not increasing on partition {p}: {last_offset[p]} then {off}"
        last_offset[p] = off
        recv_by_partition[p].append(v)
    for p in set(sent_by_partition) | set(recv_by_partition):
        assert recv_by_partition[p] == sent_by_partition[p], (
            f"partition {p}: consumed order differs from send order "
            f"(first sent {sent_by_partition[p][:3]}, first consumed {recv_by_partition[p][:3]})"
        )

    if keyed:
        key_partitions = defaultdict(set)
        for p, _, k, _ in received:
            key_partitions[k].add(p)
        for k, ps in key_partitions.items():
            assert ps == {murmur2_partition(k, partitions)}, (
                f"key {k!r} on partitions {sorted(ps)}, murmur2 says {murmur2_partition(k, partitions)}"
            )


class Collect:
    """When to stop collecting `n` messages: at `timeout_s`, or `settle_s` after the n-th arrived
    (the extra time catches duplicates). Shared by every client's poll loop:
    `while collect.more(len(out)): ...`."""

    def __init__(self, n, timeout_s, settle_s):
        self.n, self.settle_s = n, settle_s
        self.deadline = time.monotonic() + timeout_s
        self.settle_end = None

    def more(self, have):
        now = time.monotonic()
        if self.settle_end is None and have >= self.n:
            self.settle_end = now + self.settle_s
        return now < self.deadline and (self.settle_end is None or now < self.settle_end)
