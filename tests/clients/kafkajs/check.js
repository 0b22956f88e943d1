// kafkajs (pure JavaScript, its own protocol code) against rill server: admin create/list,
// an idempotent acks=all producer with keyed messages, and offsets. Prints one JSON line.
// Its group consumer is consume.js.
const { Kafka, logLevel } = require('kafkajs');

async function main(broker, topic) {
  const kafka = new Kafka({ clientId: 'rill-kafkajs', brokers: [broker], logLevel: logLevel.ERROR, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const topics = await admin.listTopics();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const messages = Array.from({ length: 40 }, (_, i) => ({ key: 'k' + (i % 4), value: 'v' + i }));
  const sent = await producer.send({ topic, acks: -1, messages });
  const offsets = await admin.fetchTopicOffsets(topic);
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  const after = await admin.listTopics();
  await admin.disconnect();
  console.log(JSON.stringify({ created, topics, sent, offsets, after }));
}

main(process.argv[2], process.argv[3]).then(
  () => process.exit(0),
  (e) => { console.error('kafkajs failed:', e); process.exit(1); },
);
