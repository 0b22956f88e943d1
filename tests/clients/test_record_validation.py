"""Issue 9, item 3: record contents were never validated. A batch whose records section was 70
bytes of 0xff, with a correct CRC, was stored (librdkafka consumers then spun at its offset
forever); garbage gzip/zstd payloads were stored; a 69-byte gzip batch claiming 2^31-1 records
moved the log end by 2^31; CreateTime timestamps of any value (i64 extremes, years ahead) were
stored and drove segment rolls.

Each attack below must get Kafka's error code, store nothing (the log end does not move), leave
the broker serving (a bystander connection answers and confluent-kafka reads the good records
around the attack), and a restart on the same data must work."""

import gzip
import struct
import time

import ck
import kwire
from kwire import Conn

INVALID_RECORD = 87
INVALID_TIMESTAMP = 32
CORRUPT_MESSAGE = kwire.CORRUPT_MESSAGE


def raw_batch(section, count, codec=0, base_ts=None, max_ts=None):
    """A v2 batch with `section` as its records bytes, claiming `count` records, CRC correct."""
    base_ts = int(time.time() * 1000) if base_ts is None else base_ts
    max_ts = base_ts if max_ts is None else max_ts
    after_crc = (
        struct.pack(">hiqqqhii", codec, count - 1, base_ts, max_ts, -1, -1, -1, count) + section
    )
    crc = kwire.crc32c(after_crc)
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def one_record_section(value=b"v"):
    """The records section of a valid one-record batch."""
    return kwire.record_batch([(None, value)])[61:]


def end_offset(bootstrap, topic):
    c = ck.consumer(bootstrap)
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


ATTACKS = {
    # The first probe: 70 bytes of 0xff after a valid header and CRC.
    "ff_records": (lambda: raw_batch(b"\xff" * 70, 1), INVALID_RECORD),
    "garbage_gzip": (lambda: raw_batch(b"\x1f\x8b" + b"\xff" * 40, 1, codec=1), CORRUPT_MESSAGE),
    "garbage_zstd": (lambda: raw_batch(b"\x28\xb5\x2f\xfd" + b"\xff" * 40, 1, codec=4), CORRUPT_MESSAGE),
    "garbage_snappy": (lambda: raw_batch(b"\xff" * 40, 1, codec=2), CORRUPT_MESSAGE),
    "garbage_lz4": (lambda: raw_batch(b"\xff" * 40, 1, codec=3), CORRUPT_MESSAGE),
    # The 69-byte request that moved the log end by 2^31: one gzip record claiming 2^31-1.
    "gzip_claims_2g_records": (
        lambda: raw_batch(gzip.compress(one_record_section()), 2**31 - 1, codec=1),
        INVALID_RECORD,
    ),
    # Review of item 3: compressed data after the records' stream was stored unchecked when the
    # decoder had ended (lz4_flex ends at the end mark, at an empty block, and at a missing
    # block header); consumers then failed on the batch forever. Kafka reads one lz4 frame.
    "lz4_garbage_after_end_mark": (
        lambda: raw_batch(kwire.lz4_frame(one_record_section()) + b"\xff" * 8, 1, codec=3),
        CORRUPT_MESSAGE,
    ),
    "lz4_without_end_mark": (
        lambda: raw_batch(kwire.lz4_frame(one_record_section(), end_mark=False), 1, codec=3),
        CORRUPT_MESSAGE,
    ),
    "lz4_empty_block_hides_bytes": (
        lambda: raw_batch(
            kwire.lz4_frame(one_record_section(), end_mark=False)
            + struct.pack("<I", 0x80000000)  # an empty block: Kafka's end mark
            + struct.pack("<I", 0x80000008)
            + b"\xff" * 8
            + struct.pack("<I", 0),
            1,
            codec=3,
        ),
        CORRUPT_MESSAGE,
    ),
    "lz4_second_frame": (
        lambda: raw_batch(kwire.lz4_frame(one_record_section()) + kwire.lz4_frame(b""), 1, codec=3),
        CORRUPT_MESSAGE,
    ),
    "zstd_garbage_after_frame": (
        lambda: raw_batch(kwire.zstd_raw_frame(one_record_section()) + b"\xff" * 8, 1, codec=4),
        CORRUPT_MESSAGE,
    ),
    "gzip_garbage_after_member": (
        lambda: raw_batch(gzip.compress(one_record_section()) + b"\xff" * 8, 1, codec=1),
        CORRUPT_MESSAGE,
    ),
    # An offset delta that is not the record's index.
    "offset_delta_gap": (
        lambda: raw_batch(one_record_section()[:3] + b"\x04" + one_record_section()[4:], 1),
        INVALID_RECORD,
    ),
    # The LogAppendTime bit (attributes 0x08) is the broker's to set; Kafka refuses it from a
    # producer (it was range-checked against maxTimestamp and stored).
    "log_append_time_bit": (lambda: raw_batch(one_record_section(), 1, codec=0x08), INVALID_TIMESTAMP),
    "far_future_timestamp": (
        lambda: kwire.record_batch([(None, b"future")], base_timestamp_ms=int(time.time() * 1000) + 8 * 86_400_000),
        INVALID_TIMESTAMP,
    ),
    "i64_max_timestamp": (
        lambda: kwire.record_batch([(None, b"max")], base_timestamp_ms=2**63 - 1),
        INVALID_TIMESTAMP,
    ),
    "i64_min_timestamp": (
        lambda: kwire.record_batch([(None, b"min")], base_timestamp_ms=-(2**63)),
        INVALID_TIMESTAMP,
    ),
}


def test_invalid_records_are_refused_and_nothing_is_stored(rill, topic_name):
    kwire.require_apis(rill.addr, ("Produce", 3), "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as bystander, Conn(rill.addr) as c:
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"good-0")])) == (0, 0)
        for name, (make, want) in ATTACKS.items():
            batch = make()
            for acks in (-1, 1):
                assert c.produce_v3(topic_name, 0, batch, acks=acks)[0] == want, name
            assert end_offset(rill.bootstrap, topic_name) == 1, f"{name} moved the log end"
            assert rill.alive(), rill.log()
            assert 18 in bystander.api_versions()
        # The same connection still appends right after the good record.
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"good-1")])) == (0, 1)
    # A librdkafka consumer reads both good records (it spun forever on the 0xff batch before).
    started = time.monotonic()
    got = ck.consume(rill.bootstrap, topic_name, 1, 2)
    assert [(o, v) for _, o, _, v in got] == [(0, b"good-0"), (1, b"good-1")]
    assert time.monotonic() - started < 15
    rill.restart()
    assert end_offset(rill.bootstrap, topic_name) == 2
    got = ck.consume(rill.bootstrap, topic_name, 1, 2)
    assert [v for _, _, _, v in got] == [b"good-0", b"good-1"]


def test_hand_built_lz4_and_zstd_frames_are_valid(rill, topic_name):
    """The frame builders behind the trailing-data attacks above make valid frames: refused
    with a tail, accepted without, and librdkafka reads them back."""
    kwire.require_apis(rill.addr, ("Produce", 3))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as c:
        assert c.produce_v3(topic_name, 0, raw_batch(kwire.lz4_frame(one_record_section(b"lz4")), 1, codec=3)) == (0, 0)
        assert c.produce_v3(topic_name, 0, raw_batch(kwire.zstd_raw_frame(one_record_section(b"zstd")), 1, codec=4)) == (0, 1)
    got = ck.consume(rill.bootstrap, topic_name, 1, 2)
    assert [v for _, _, _, v in got] == [b"lz4", b"zstd"]


def test_timestamp_bounds_follow_the_topic_configs(rill, topic_name):
    """message.timestamp.after.max.ms / before.max.ms are per-topic configs (KIP-937)."""
    kwire.require_apis(rill.addr, ("Produce", 3))
    ck.create_topic(
        rill.bootstrap,
        topic_name,
        1,
        config={"message.timestamp.after.max.ms": "86400000", "message.timestamp.before.max.ms": "60000"},
    )
    now = int(time.time() * 1000)
    with Conn(rill.addr) as c:
        # 12 h ahead is inside this topic's one-day bound (the default one hour would refuse it).
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"a")], base_timestamp_ms=now + 12 * 3_600_000)) == (0, 0)
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"b")], base_timestamp_ms=now + 2 * 86_400_000))[0] == INVALID_TIMESTAMP
        # Ten minutes old is beyond its one-minute "before" bound.
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"c")], base_timestamp_ms=now - 600_000))[0] == INVALID_TIMESTAMP
        # -1 ("no timestamp") is never range-checked, as in Kafka.
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"d")], base_timestamp_ms=-1)) == (0, 1)


def section_of(records):
    """A records section of (timestamp_delta, offset_delta, value) records."""
    out = b""
    for ts_delta, offset_delta, value in records:
        rec = (
            b"\x00"  # attributes
            + kwire._zigzag_varint(ts_delta)
            + kwire._zigzag_varint(offset_delta)
            + kwire._zigzag_varint(-1)  # null key
            + kwire._zigzag_varint(len(value))
            + value
            + kwire._zigzag_varint(0)  # no headers
        )
        out += kwire._zigzag_varint(len(rec)) + rec
    return out


def test_produce_v8_names_the_refused_record(rill, topic_name):
    """Produce v8+ answers carry `record_errors` (the index of the record at fault within its
    batch) and `error_message`, as Kafka's LogValidator fills them: before, a refused record
    was named only inside a free-text message, so a Java producer could not tell which record
    of its batch was bad. Faults of the whole payload (a codec that cannot decode it) name no
    record, as in Kafka."""
    kwire.require_apis(rill.addr, ("Produce", 8))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    now = int(time.time() * 1000)
    future = 2 * 86_400_000  # beyond the default message.timestamp.after.max.ms (one hour)
    cases = [
        # Record 1's offset delta skips to 2.
        ("offset_delta_gap", raw_batch(section_of([(0, 0, b"a"), (0, 2, b"b"), (0, 2, b"c")]), 3), INVALID_RECORD, [1]),
        # Record 2 is stamped two days ahead: only it is named.
        ("future_record", raw_batch(section_of([(0, 0, b"a"), (0, 1, b"b"), (future, 2, b"c")]), 3), INVALID_TIMESTAMP, [2]),
        ("log_append_time_bit", raw_batch(section_of([(0, 0, b"a")]), 1, codec=0x08), INVALID_TIMESTAMP, [0]),
        ("garbage_zstd", raw_batch(b"\x28\xb5\x2f\xfd" + b"\xff" * 40, 1, codec=4), CORRUPT_MESSAGE, []),
    ]
    with Conn(rill.addr) as bystander, Conn(rill.addr) as c:
        for name, batch, want, indexes in cases:
            r = c.produce_v8(topic_name, 0, batch)
            assert r["error_code"] == want, (name, r)
            assert [i for i, _ in r["record_errors"]] == indexes, (name, r)
            assert all(m for _, m in r["record_errors"]), (name, r)
            if indexes:
                assert r["error_message"].startswith("One or more records have been rejected"), (name, r)
            assert r["base_offset"] == -1, (name, r)
            assert 18 in bystander.api_versions()
        ok = c.produce_v8(topic_name, 0, raw_batch(section_of([(0, 0, b"good")]), 1, base_ts=now))
        assert (ok["error_code"], ok["base_offset"], ok["record_errors"], ok["error_message"]) == (0, 0, [], None)
    assert rill.alive(), rill.log()
    # confluent-kafka (librdkafka reads record_errors since Produce v8) still fails the
    # delivery with the partition's error code.
    _, offsets, errors = ck.produce(rill.bootstrap, topic_name, [(None, b"late")], acks=-1, timestamps=[now + future])
    assert offsets == {} and [e.code() for e in errors] == [INVALID_TIMESTAMP], errors
    rill.restart()
    assert end_offset(rill.bootstrap, topic_name) == 1
