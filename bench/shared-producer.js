#!/usr/bin/env node
/**
 * `npm run bench:produce`: concurrent callers writing through one KafkaJS producer, each caller's
 * messages sent as its own request (what the gateway did per HTTP request) against the same
 * messages through `SharedProducer` (requests of the moment go together). Three loads: many
 * callers of one message (the single-event endpoint), of ten messages to a hundred topics (a
 * thousand tenants' small batches), and a few callers of a hundred messages to one topic (the
 * batch endpoint). Reports messages/s, CPU µs per message of this process and of the Kafka broker,
 * and p99 of a caller's wait, the median of three alternating rounds. Prints a Markdown table.
 *
 * A benchmark, not a test: it asserts nothing. Runs on the built dist/ against the local servers.
 */
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const { REPO, KAFKA_BROKERS, cpuSeconds, percentile, prepare, table } = require('./lib');

const { SharedProducer } = require(path.join(REPO, 'libs/kafka/dist'));

const ROUNDS = 3;
const VALUE = Buffer.alloc(1200, 'x');
const LOADS = [
  { name: '32 callers × 1 message, 1 topic', callers: 32, perSend: 1, topics: 1, sends: 6000 },
  { name: '32 callers × 10 messages, 100 topics', callers: 32, perSend: 10, topics: 100, sends: 3000 },
  { name: '8 callers × 100 messages, 1 topic', callers: 8, perSend: 100, topics: 1, sends: 600 },
];

/** The local broker's process, as deploy/local/infra.sh recorded it. */
const brokerPid = () => Number(readFileSync(path.join(REPO, '.data/run/kafka-1.pid'), 'utf8').trim());
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** One round of `load` through `send`: rate, CPU per message here and in the broker, p99 wait. */
async function round(load, topics, send, broker) {
  let left = load.sends;
  const waits = [];
  const cpuBefore = process.cpuUsage();
  const brokerBefore = cpuSeconds(broker);
  const started = Date.now();
  await Promise.all(
    Array.from({ length: load.callers }, async (_, caller) => {
      while (left-- > 0) {
        const sent = Date.now();
        await send(topics[(left + caller) % topics.length]);
        waits.push(Date.now() - sent);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const messages = load.sends * load.perSend;
  waits.sort((a, b) => a - b);
  return {
    rate: messages / seconds,
    cpuUs: ((cpu.user + cpu.system) / messages) | 0,
    brokerUs: (((cpuSeconds(broker) - brokerBefore) / messages) * 1e6) | 0,
    p99: percentile(waits, 99),
  };
}

async function main() {
  prepare();
  const kafka = new Kafka({ brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await Promise.all([admin.connect(), producer.connect()]);
  const broker = brokerPid();
  const rows = [];
  try {
    for (const load of LOADS) {
      const topics = Array.from({ length: load.topics }, (_, i) => `aispm-bench-produce-${process.pid}-${i}`);
      await admin.createTopics({
        topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
        waitForLeaders: true,
      });
      const messages = () => Array.from({ length: load.perSend }, () => ({ partition: 0, value: VALUE }));
      const shared = new SharedProducer(producer);
      const ways = {
        'one request per caller': (topic) => producer.send({ topic, acks: -1, messages: messages() }),
        SharedProducer: (topic) => shared.send(topic, messages()),
      };
      const results = new Map(Object.keys(ways).map((way) => [way, []]));
      for (let i = 0; i < ROUNDS; i++)
        for (const [way, send] of Object.entries(ways))
          results.get(way).push(await round(load, topics, send, broker));
      for (const [way, runs] of results)
        rows.push([
          load.name,
          way,
          Math.round(median(runs.map((r) => r.rate))),
          median(runs.map((r) => r.cpuUs)),
          median(runs.map((r) => r.brokerUs)),
          median(runs.map((r) => r.p99)),
        ]);
      await admin.deleteTopics({ topics });
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  process.stdout.write(
    `${table(['load', 'sent as', 'messages/s', 'CPU µs/message, producer', 'CPU µs/message, broker', 'p99 wait ms'], rows)}\n`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
