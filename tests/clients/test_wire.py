"""Hostile and broken input on the Kafka port, sent with hand-built frames: malformed frames
and frames over socket.request.max.bytes close that one connection (and only it); a Produce
whose record batch has a wrong CRC-32C is answered CORRUPT_MESSAGE (2) and not stored; a batch
over message.max.bytes is answered MESSAGE_TOO_LARGE (10). A bystander connection opened
before the abuse keeps working throughout."""

import struct

import pytest

import ck
import kwire
from kwire import Conn


def assert_serving(rill, bystander):
    """The broker is alive, the old connection still answers, and new ones are accepted."""
    assert rill.alive(), rill.log()
    assert 18 in bystander.api_versions()
    with Conn(rill.addr) as fresh:
        assert 18 in fresh.api_versions()


def header(api_key, api_version, correlation_id=7, client_id="kwire"):
    cid = client_id.encode()
    return struct.pack(">hhih", api_key, api_version, correlation_id, len(cid)) + cid


MALFORMED = {
    # A size prefix only a few bytes long: shorter than any request header.
    "shorter_than_header": struct.pack(">i", 3) + b"\x00\x12\x00",
    "negative_size": struct.pack(">i", -5) + b"\x00" * 16,
    # A well-formed header for an API key that does not exist.
    "unknown_api_key": struct.pack(">i", 13) + header(9999, 0),
    # Metadata v1 whose topic array claims 5 entries but ends.
    "truncated_metadata_body": (lambda f: struct.pack(">i", len(f)) + f)(header(3, 1) + struct.pack(">i", 5)),
    # Metadata at a version nobody serves.
    "unserved_version": (lambda f: struct.pack(">i", len(f)) + f)(header(3, 999) + struct.pack(">i", -1)),
    # A client id whose length runs past the frame.
    "client_id_past_frame": (lambda f: struct.pack(">i", len(f)) + f)(struct.pack(">hhih", 3, 1, 7, 500) + b"ab"),
    "random_bytes": struct.pack(">i", 64) + bytes(range(7, 71)),
}


@pytest.mark.parametrize("frame", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_frame_closes_only_its_connection(rill, frame):
    with Conn(rill.addr) as bystander:
        assert_serving(rill, bystander)
        with Conn(rill.addr) as bad:
            bad.send_raw(frame)
            assert bad.closed_by_peer(timeout_s=5), "the broker kept a connection that sent a malformed frame"
        assert_serving(rill, bystander)


def test_oversized_frame_is_refused_before_its_body(rill_factory):
    cap = 2 << 20
    rill = rill_factory("--override", f"socket.request.max.bytes={cap}")
    with Conn(rill.addr) as bystander:
        for declared in [cap + 1, 64 << 20, 0x7FFFFFFF]:
            with Conn(rill.addr) as bad:
                # Only the size prefix and a header: the broker must not wait for the body.
                bad.send_raw(struct.pack(">i", declared) + header(18, 0))
                assert bad.closed_by_peer(timeout_s=5), f"frame of {declared} bytes was not refused"
        assert_serving(rill, bystander)
        # A frame just under the cap is read in full and answered (ApiVersions ignores its body).
        with Conn(rill.addr) as ok:
            filler = b"\x00" * (cap - 64)
            h = header(18, 0, correlation_id=1)
            ok.send_raw(struct.pack(">i", len(h) + len(filler)) + h + filler)
            frame = ok.read_frame()
            assert struct.unpack_from(">ih", frame) == (1, 0)


def test_corrupt_batch_crc_is_rejected_and_not_stored(rill, topic_name):
    kwire.require_apis(rill.addr, ("Produce", 3), "Fetch")
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as bystander, Conn(rill.addr) as c:
        good = kwire.record_batch([(b"k", b"good-0"), (None, b"good-1")])
        assert c.produce_v3(topic_name, 0, good) == (0, 0)
        bad = kwire.record_batch([(b"k", b"corrupt")], corrupt_crc=True)
        assert c.produce_v3(topic_name, 0, bad)[0] == kwire.CORRUPT_MESSAGE
        assert c.produce_v3(topic_name, 0, bad, acks=1)[0] == kwire.CORRUPT_MESSAGE
        # The same connection goes on working, and the bad batch took no offsets.
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"good-2")])) == (0, 2)
        assert_serving(rill, bystander)
    got = ck.consume(rill.bootstrap, topic_name, 1, 3)
    assert [(o, k, v) for _, o, k, v in got] == [(0, b"k", b"good-0"), (1, None, b"good-1"), (2, None, b"good-2")]


def test_truncated_batch_is_corrupt_message(rill, topic_name):
    """A batch whose batchLength promises more bytes than the records field holds."""
    kwire.require_apis(rill.addr, ("Produce", 3))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as c:
        batch = kwire.record_batch([(None, b"x" * 100)])
        assert c.produce_v3(topic_name, 0, batch[:-10])[0] == kwire.CORRUPT_MESSAGE
        assert c.produce_v3(topic_name, 0, batch) == (0, 0)


def test_batch_over_message_max_bytes(rill_factory, topic_name):
    rill = rill_factory("--override", "message.max.bytes=10000")
    kwire.require_apis(rill.addr, ("Produce", 3))
    ck.create_topic(rill.bootstrap, topic_name, 1)
    with Conn(rill.addr) as c:
        big = kwire.record_batch([(None, b"x" * 20000)])
        assert c.produce_v3(topic_name, 0, big)[0] == kwire.MESSAGE_TOO_LARGE
        assert c.produce_v3(topic_name, 0, kwire.record_batch([(None, b"small")])) == (0, 0)
