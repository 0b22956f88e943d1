// kafkajs group consumer against rill server: it joins a group (FindCoordinator, JoinGroup with
// MEMBER_ID_REQUIRED, SyncGroup, Heartbeat), reads every message of the topic with `eachMessage`,
// commits, leaves, and reads the group's committed offsets back through the admin client.
// Prints one JSON line.
const { Kafka, logLevel } = require('kafkajs');

async function main(broker, topic, groupId, expected) {
  const kafka = new Kafka({ clientId: 'rill-kafkajs', brokers: [broker], logLevel: logLevel.ERROR, retry: { retries: 5 } });
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({ partition, offset: Number(message.offset), value: message.value.toString() });
      if (seen.length >= expected) done();
    },
  });
  await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${seen.length} of ${expected} messages`)), 40000))]);
  await consumer.commitOffsets([]); // eachMessage auto-commits; flush what is pending
  await consumer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({ seen, committed }));
}

main(process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5])).then(
  () => process.exit(0),
  (e) => { console.error('kafkajs failed:', e); process.exit(1); },
);
