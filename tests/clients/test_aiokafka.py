"""aiokafka against a real `rill server`. aiokafka negotiates with ApiVersions v0 only and
speaks only non-flexible versions (Produce <= 7, Fetch <= 11, Metadata <= 5, ListOffsets <= 3),
so this checks that those stay advertised and served. Admin through AIOKafkaAdminClient,
consumption through assign() with group_id=None, and as a consumer group member."""

import asyncio
import time

import aiokafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import kwire

PARTITIONS = 3
N = 600
TIMEOUT_MS = 15000
TEST_TIMEOUT_S = 60


def run(coro):
    """Runs one test coroutine with a hard deadline."""
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


async def create_topic(rill, name, partitions):
    a = AIOKafkaAdminClient(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_MS)
    await a.start()
    try:
        response = await a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        return response
    finally:
        await a.close()


async def produce(rill, topic, msgs, timestamps=None, **conf):
    p = AIOKafkaProducer(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_MS, **conf)
    await p.start()
    try:
        futures = []
        for i, (k, v) in enumerate(msgs):
            ts = timestamps[i] if timestamps else None
            futures.append((k, v, await p.send(topic, key=k, value=v, timestamp_ms=ts)))
        sent, offsets = [], {}
        for k, v, f in futures:
            md = await f
            sent.append((md.partition, k, v))
            offsets[v] = md.offset
        return sent, offsets
    finally:
        await p.stop()


def consumer(rill):
    return AIOKafkaConsumer(
        bootstrap_servers=rill.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=TIMEOUT_MS,
        check_crcs=True,
    )


async def poll(c, n, timeout_s=30.0, settle_s=0.5):
    out = []
    collect = kwire.Collect(n, timeout_s, settle_s)
    while collect.more(len(out)):
        for tp, records in (await c.getmany(timeout_ms=100)).items():
            out.extend((r.partition, r.offset, r.key, r.value) for r in records)
    return out


def test_versions():
    assert aiokafka.__version__ == "0.14.0"


def test_admin_create_list_delete(rill, topic_name):
    async def body():
        a = AIOKafkaAdminClient(bootstrap_servers=rill.bootstrap, request_timeout_ms=TIMEOUT_MS)
        await a.start()
        try:
            new = [NewTopic(topic_name, num_partitions=PARTITIONS, replication_factor=1)]
            created = await a.create_topics(new)
            assert [t[1] for t in created.topic_errors] == [0]
            again = await a.create_topics(new)
            assert [t[1] for t in again.topic_errors] == [36], "TOPIC_ALREADY_EXISTS"
            assert topic_name in await a.list_topics()
            (described,) = (await a.describe_topics([topic_name]))
            assert described["error_code"] == 0 and len(described["partitions"]) == PARTITIONS
            deleted = await a.delete_topics([topic_name])
            assert [t[1] for t in deleted.topic_error_codes] == [0]
            assert topic_name not in await a.list_topics()
        finally:
            await a.close()

    run(body())


@pytest.mark.parametrize("keyed", [True, False], ids=["keyed", "unkeyed"])
@pytest.mark.parametrize(
    "conf",
    [{"acks": "all"}, {"acks": 1}, {"acks": "all", "enable_idempotence": True}],
    ids=["acks_all", "acks_1", "idempotent"],
)
def test_produce_consume_from_beginning(rill, topic_name, conf, keyed):
    kwire.require_apis(
        rill.addr, ("Produce", 7), ("Fetch", 11), ("ListOffsets", 1), *(["InitProducerId"] if len(conf) > 1 else [])
    )

    async def body():
        await create_topic(rill, topic_name, PARTITIONS)
        msgs = kwire.messages(N, keyed)
        sent, offsets = await produce(rill, topic_name, msgs, **conf)
        c = consumer(rill)
        await c.start()
        try:
            c.assign([TopicPartition(topic_name, p) for p in range(PARTITIONS)])
            await c.seek_to_beginning()
            received = await poll(c, N)
        finally:
            await c.stop()
        kwire.check_delivery(sent, received, PARTITIONS, keyed)
        assert {v: o for _, o, _, v in received} == offsets

    run(body())


def test_consume_from_latest(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", "ListOffsets")

    async def body():
        await create_topic(rill, topic_name, PARTITIONS)
        before, _ = await produce(rill, topic_name, kwire.messages(90, keyed=True, prefix="before"), acks="all")
        tps = [TopicPartition(topic_name, p) for p in range(PARTITIONS)]
        c = consumer(rill)
        await c.start()
        try:
            c.assign(tps)
            await c.seek_to_end()
            ends = {tp.partition: await c.position(tp) for tp in tps}  # resolves ListOffsets -1
            assert ends == {p: sum(1 for q, _, _ in before if q == p) for p in range(PARTITIONS)}
            sent, _ = await produce(rill, topic_name, kwire.messages(90, keyed=True, prefix="after"), acks="all")
            received = await poll(c, len(sent))
        finally:
            await c.stop()
        kwire.check_delivery(sent, received, PARTITIONS, keyed=True)

    run(body())


def test_offsets_for_times_and_beginning_end(rill, topic_name):
    kwire.require_apis(rill.addr, "Produce", "Fetch", ("ListOffsets", 1))

    async def body():
        await create_topic(rill, topic_name, 1)
        base = int(time.time() * 1000) - 60_000
        msgs = kwire.messages(10, keyed=False)
        for i, msg in enumerate(msgs):  # one batch per message
            await produce(rill, topic_name, [msg], timestamps=[base + 1000 * i], acks="all")
        tp = TopicPartition(topic_name, 0)
        c = consumer(rill)
        await c.start()
        try:
            assert await c.beginning_offsets([tp]) == {tp: 0}
            assert await c.end_offsets([tp]) == {tp: 10}
            for ts, want in {base - 5: 0, base + 3500: 4, base + 9000: 9}.items():
                found = (await c.offsets_for_times({tp: ts}))[tp]
                assert found is not None and found.offset == want, (ts - base, found)
                assert found.timestamp == base + 1000 * want
            assert (await c.offsets_for_times({tp: base + 9001}))[tp] is None
        finally:
            await c.stop()

    run(body())


def test_group_consumer_commits_and_the_next_member_resumes(rill, topic_name):
    """subscribe() with a group_id (aiokafka's JoinGroup v5, SyncGroup v3, OffsetCommit v2 and
    OffsetFetch v1 within the advertised ranges): every message once, the commit read back, and
    a second member resuming at it after a restart."""
    group = f"{topic_name}-group"

    def member():
        return AIOKafkaConsumer(
            topic_name,
            bootstrap_servers=rill.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=TIMEOUT_MS,
        )

    async def first():
        await create_topic(rill, topic_name, 3)
        await produce(rill, topic_name, [(f"k{i % 7}".encode(), f"v{i}".encode()) for i in range(90)])
        c = member()
        await c.start()
        try:
            got = await poll(c, 90)
            assert sorted(v for _, _, _, v in got) == sorted(f"v{i}".encode() for i in range(90))
            assert len({(p, o) for p, o, _, _ in got}) == 90
            await c.commit()
            ends = await c.end_offsets(list(c.assignment()))
            assert {tp.partition for tp in ends} == {0, 1, 2}
            assert {tp: await c.committed(tp) for tp in ends} == ends
        finally:
            await c.stop()

    async def second():
        await produce(rill, topic_name, [(b"k", f"new{i}".encode()) for i in range(6)])
        c = member()
        await c.start()
        try:
            got = await poll(c, 6)
            assert sorted(v for _, _, _, v in got) == sorted(f"new{i}".encode() for i in range(6))
        finally:
            await c.stop()

    run(first())
    rill.restart()
    run(second())


def test_transactional_producer_commits_and_aborts(rill, topic_name):
    """aiokafka's transactional producer (InitProducerId, AddPartitionsToTxn and EndTxn v0, as
    aiokafka sends them): a read_committed consumer sees the committed transaction only, a
    read_uncommitted one both."""
    kwire.require_apis(rill.addr, "AddPartitionsToTxn", "EndTxn")

    async def body():
        await create_topic(rill, topic_name, 2)
        p = AIOKafkaProducer(bootstrap_servers=rill.bootstrap, transactional_id=f"{topic_name}-aio")
        await p.start()
        try:
            async with p.transaction():
                for i in range(4):
                    await p.send_and_wait(topic_name, f"committed-{i}".encode(), partition=i % 2)
            await p.begin_transaction()
            await p.send_and_wait(topic_name, b"aborted", partition=0)
            await p.abort_transaction()
        finally:
            await p.stop()
        got = {}
        for isolation in ("read_committed", "read_uncommitted"):
            c = AIOKafkaConsumer(bootstrap_servers=rill.bootstrap, isolation_level=isolation,
                                 auto_offset_reset="earliest")
            await c.start()
            try:
                c.assign([TopicPartition(topic_name, p) for p in range(2)])
                await c.seek_to_beginning()
                want = 4 if isolation == "read_committed" else 5
                got[isolation] = sorted(value for _, _, _, value in await poll(c, want))
            finally:
                await c.stop()
        return got

    got = run(body())
    committed = sorted(f"committed-{i}".encode() for i in range(4))
    assert got["read_committed"] == committed
    assert got["read_uncommitted"] == sorted(committed + [b"aborted"])
