"""Transactions (issue 15) with confluent-kafka (librdkafka) against a real `rill server`: a
transactional producer commits and aborts across partitions; read_committed consumers see only
the committed records and read_uncommitted ones see both, never a transaction marker; a second
producer of the same transactional id fences the first; a transaction left open is aborted when
its timeout ends; all of it survives a restart of the broker; and `rill transactions` lists and
describes a producer's open transaction."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

import ck
import kwire
from conftest import RILL_BIN

PARTITIONS = 3
TXN_TIMEOUT_S = 30.0


def txn_producer(rill, txn_id, extra=None):
    conf = {
        "bootstrap.servers": rill.bootstrap,
        "transactional.id": txn_id,
        "linger.ms": 5,
    }
    conf.update(extra or {})
    p = Producer(conf)
    p.init_transactions(TXN_TIMEOUT_S)
    return p


def send(p, topic, values):
    """Produces each value to partition i % PARTITIONS (so a transaction spans them all)."""
    for i, value in enumerate(values):
        p.produce(topic, value=value, partition=i % PARTITIONS)
    assert p.flush(TXN_TIMEOUT_S) == 0


def read(rill, topic, isolation, n, timeout_s=ck.CONSUME_TIMEOUT_S):
    c = ck.consumer(rill.bootstrap, {"isolation.level": isolation})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        return ck.poll_messages(c, n, timeout_s)
    finally:
        c.close()


def values(received):
    return sorted(v for _, _, _, v in received)


def test_committed_and_aborted_transactions(rill, topic_name):
    kwire.require_apis(rill.addr, "InitProducerId", "AddPartitionsToTxn", "EndTxn")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    p = txn_producer(rill, f"{topic_name}-tx")
    committed = [f"c{i}".encode() for i in range(12)]
    aborted = [f"a{i}".encode() for i in range(9)]
    p.begin_transaction()
    send(p, topic_name, committed[:6])
    p.commit_transaction(TXN_TIMEOUT_S)
    p.begin_transaction()
    send(p, topic_name, aborted)
    p.abort_transaction(TXN_TIMEOUT_S)
    p.begin_transaction()
    send(p, topic_name, committed[6:])
    p.commit_transaction(TXN_TIMEOUT_S)
    # Control records are never handed to the application: exactly the data records.
    assert values(read(rill, topic_name, "read_committed", len(committed))) == sorted(committed)
    everything = read(rill, topic_name, "read_uncommitted", len(committed) + len(aborted))
    assert values(everything) == sorted(committed + aborted)
    # Markers take offsets: each partition's offsets have gaps where they are.
    per_partition = {}
    for partition, offset, _, _ in everything:
        per_partition.setdefault(partition, []).append(offset)
    assert any(offsets != list(range(len(offsets))) for offsets in per_partition.values())

    # Restarted, the broker still knows what was committed and aborted, and the id.
    rill.restart()
    assert values(read(rill, topic_name, "read_committed", len(committed))) == sorted(committed)
    p2 = txn_producer(rill, f"{topic_name}-tx")
    p2.begin_transaction()
    send(p2, topic_name, [b"after-restart"])
    p2.commit_transaction(TXN_TIMEOUT_S)
    got = values(read(rill, topic_name, "read_committed", len(committed) + 1))
    assert got == sorted(committed + [b"after-restart"])


def test_an_open_transaction_holds_read_committed_back(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    p = txn_producer(rill, f"{topic_name}-tx")
    p.begin_transaction()
    send(p, topic_name, [b"open-0", b"open-1", b"open-2"])
    # Not committed yet: a read_committed consumer sees nothing, read_uncommitted sees it.
    assert read(rill, topic_name, "read_committed", 1, timeout_s=3.0) == []
    assert len(read(rill, topic_name, "read_uncommitted", 3)) == 3
    p.commit_transaction(TXN_TIMEOUT_S)
    assert values(read(rill, topic_name, "read_committed", 3)) == [b"open-0", b"open-1", b"open-2"]


def test_a_new_producer_of_the_id_fences_the_old_one(rill, topic_name):
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    txn_id = f"{topic_name}-zombie"
    old = txn_producer(rill, txn_id)
    old.begin_transaction()
    send(old, topic_name, [b"zombie-0", b"zombie-1"])
    new = txn_producer(rill, txn_id)  # aborts the old one's open transaction
    with pytest.raises(KafkaException) as err:
        old.commit_transaction(TXN_TIMEOUT_S)
    assert err.value.args[0].code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                        KafkaError.INVALID_PRODUCER_EPOCH), err.value
    new.begin_transaction()
    send(new, topic_name, [b"new-0"])
    new.commit_transaction(TXN_TIMEOUT_S)
    assert values(read(rill, topic_name, "read_committed", 1)) == [b"new-0"]
    # The zombie's records were aborted: there, but never committed.
    assert sorted(values(read(rill, topic_name, "read_uncommitted", 3))) == [b"new-0", b"zombie-0", b"zombie-1"]


def test_a_forgotten_transaction_is_aborted_at_its_timeout(rill_factory, topic_name):
    rill = rill_factory("--override", "transaction.abort.timed.out.transaction.cleanup.interval.ms=500")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    p = txn_producer(rill, f"{topic_name}-forgotten", {"transaction.timeout.ms": 2000})
    p.begin_transaction()
    send(p, topic_name, [b"forgotten"])
    # The producer never ends it: the coordinator aborts it, and read_committed moves past it.
    time.sleep(4.0)
    other = txn_producer(rill, f"{topic_name}-later")
    other.begin_transaction()
    send(other, topic_name, [b"later"])
    other.commit_transaction(TXN_TIMEOUT_S)
    assert values(read(rill, topic_name, "read_committed", 1)) == [b"later"]


CTP_INPUTS = 300


def test_consume_transform_produce_is_exactly_once_across_kill9(rill, topic_name):
    """The exactly-once loop (read_committed input, transactional output with the consumed
    offsets sent to the transaction) killed with -9 mid-transaction twice and restarted: the
    output, read with read_committed, holds each input record exactly once."""
    kwire.require_apis(rill.addr, "AddOffsetsToTxn", "TxnOffsetCommit")
    inp, out = f"{topic_name}-in", f"{topic_name}-out"
    ck.create_topic(rill.bootstrap, inp, PARTITIONS)
    ck.create_topic(rill.bootstrap, out, PARTITIONS)
    inputs = [f"v{i:04d}".encode() for i in range(CTP_INPUTS)]
    for p in range(PARTITIONS):
        ck.produce(rill.bootstrap, inp, [(None, v) for v in inputs[p::PARTITIONS]], "all", partition=p)
    worker = [sys.executable, str(Path(__file__).parent / "ctp_worker.py"), rill.bootstrap, inp, out,
              f"{topic_name}-g", f"{topic_name}-ctp", str(CTP_INPUTS)]
    for kill in (True, True, False):
        proc = subprocess.Popen(worker, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if kill:
            # Killed once it has committed a transaction, while it writes the next ones.
            seen = []
            while not (seen and seen[-1].startswith("committed")):
                line = proc.stdout.readline()
                assert line, "".join(seen)  # it ended without committing anything
                seen.append(line)
            time.sleep(0.3)
            proc.kill()
            proc.wait()
            continue
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output
    got = read(rill, out, "read_committed", CTP_INPUTS)
    assert sorted(values(got)) == sorted(v.upper() for v in inputs), "not exactly once"


def transactions_tool(rill, *args):
    """Runs `rill transactions` against the server: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [str(RILL_BIN), "transactions", "--bootstrap-server", rill.bootstrap, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def table(out):
    """The rows of a `rill transactions` table (Kafka's tab-ended, padded cells), header first."""
    return [[cell.strip() for cell in line.rstrip("\t").split("\t")] for line in out.splitlines()]


def test_rill_transactions_lists_and_describes_a_confluent_transaction(rill, topic_name):
    """`rill transactions list` and `describe` (kafka-transactions.sh's commands and columns)
    while a confluent-kafka producer's transaction is open, and after it commits."""
    kwire.require_apis(rill.addr, "InitProducerId", "AddPartitionsToTxn", "EndTxn")
    ck.create_topic(rill.bootstrap, topic_name, PARTITIONS)
    txn_id = f"{topic_name}-tool"
    p = txn_producer(rill, txn_id)
    p.begin_transaction()
    send(p, topic_name, [b"t0", b"t1", b"t2"])  # one record on each partition

    code, out, err = transactions_tool(rill, "list")
    assert code == 0, err
    rows = table(out)
    assert rows[0] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"], out
    mine = [r for r in rows[1:] if r[0] == txn_id]
    assert len(mine) == 1 and mine[0][3] == "Ongoing", out
    coordinator, producer_id = mine[0][1], mine[0][2]

    code, out, err = transactions_tool(rill, "describe", "--transactional-id", txn_id)
    assert code == 0, err
    header, row = table(out)
    assert header == ["CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch",
                      "TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs",
                      "TransactionDurationMs", "TopicPartitions"], out
    assert row[:3] == [coordinator, txn_id, producer_id], out
    assert row[4] == "Ongoing", out
    assert int(row[5]) > 0 and int(row[6]) > 0 and int(row[7]) >= 0, out
    expected = sorted(f"{topic_name}-{i}" for i in range(PARTITIONS))
    assert sorted(row[8].split(",")) == expected, out

    p.commit_transaction(TXN_TIMEOUT_S)
    deadline = time.time() + 30
    while True:
        code, out, err = transactions_tool(rill, "describe", "--transactional-id", txn_id)
        assert code == 0, err
        state = table(out)[1][4]
        if state == "CompleteCommit" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert state == "CompleteCommit", out

    code, _, err = transactions_tool(rill, "describe", "--transactional-id", f"{txn_id}-unknown")
    assert code == 1 and "TRANSACTIONAL_ID_NOT_FOUND" in err, err
