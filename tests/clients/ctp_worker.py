"""A consume-transform-produce worker (the exactly-once loop of confluent-kafka's docs), run as
a subprocess by test_transactions.py so it can be killed with -9 mid-transaction:

    python ctp_worker.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID EXPECTED

It reads INPUT with read_committed in group GROUP, writes each value upper-cased to OUTPUT in a
transaction that also commits the consumed offsets (send_offsets_to_transaction), and exits 0
once the group's committed offsets cover EXPECTED input records. Each transaction takes up to 7
records and pauses a little before committing, so a kill lands inside one."""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TXN_TIMEOUT_S = 30.0


def main():
    bootstrap, input_topic, output_topic, group, txn_id, expected = sys.argv[1:7]
    expected = int(expected)
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
        # A killed worker's membership ends this soon, so its successor's join completes.
        "session.timeout.ms": 6000,
    })
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "transactional.id": txn_id,
        "transaction.timeout.ms": 10000,
    })
    producer.init_transactions(TXN_TIMEOUT_S)
    consumer.subscribe([input_topic])
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        msgs = consumer.consume(num_messages=7, timeout=0.5)
        msgs = [m for m in msgs if m.error() is None]
        if not msgs:
            committed = consumer.committed(consumer.assignment(), timeout=10) if consumer.assignment() else []
            done = sum(max(tp.offset, 0) for tp in committed)
            if done >= expected:
                break
            continue
        producer.begin_transaction()
        for m in msgs:
            producer.produce(output_topic, key=m.key(), value=m.value().upper(), partition=m.partition())
        producer.flush(TXN_TIMEOUT_S)
        time.sleep(0.05)  # a window for the kill
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), TXN_TIMEOUT_S)
        producer.commit_transaction(TXN_TIMEOUT_S)
        print(f"committed {len(msgs)}", flush=True)
    consumer.close()
    if done < expected:
        print(f"only {done} of {expected} consumed", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        print(f"kafka error: {e}", flush=True)
        sys.exit(2)
