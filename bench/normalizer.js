#!/usr/bin/env node
/**
 * `npm run bench:normalizer`: events/s through the normalizer with Kafka transactions on and off,
 * next to a pass-through consumer-producer (the same bytes copied, no decoding, normalizing or
 * hashing) on the same topics, with and without transactions. Every run reads the same
 * BENCH_EVENTS redacted envelopes in a fresh consumer group and is timed from its first committed
 * offset to its last, so group joins and start-up do not count. Writes docs/benchmarks-normalizer.md.
 *
 * A benchmark, not a test: it asserts nothing and prints figures. Runs on the built dist/.
 */
const net = require('node:net');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const {
  REPO,
  KAFKA_BROKERS,
  SCHEMA_REGISTRY_URL,
  envelope,
  machine,
  prepare,
  startService,
  stopService,
  writeMarkdown,
} = require('./lib');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20000);
const PARTITIONS = 3;

const { StageCodec, tenantTopicConfigs, produceChunks } = require(path.join(REPO, 'libs/kafka/dist'));
const { SCHEMA_NAMES } = require(path.join(REPO, 'libs/contracts/dist'));

/** The redacted-stage message the redactor would write for a fresh envelope. */
function redacted(tenant, i) {
  return {
    schema_version: 'aispm.redacted_envelope.v1',
    envelope: envelope(`tenant:${tenant}`),
    report: { redactor: 'aispm-redactor-v1', counts: {}, pointers: [] },
    source: { topic: `aispm.${tenant}.raw`, partition: i % PARTITIONS, offset: String(i) },
    received_ms: Date.now(),
    content_hash: 'bench',
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Polls the committed offsets of `groupId` on `topic` until all EVENTS are committed; the rate
 * counts from the first poll that saw progress to the last.
 */
async function timeGroup(admin, groupId, topic, label) {
  let first;
  const deadline = Date.now() + 15 * 60 * 1000;
  while (Date.now() < deadline) {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = entry.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    const now = process.hrtime.bigint();
    if (committed > 0 && !first) first = { at: now, committed };
    if (committed >= EVENTS) {
      const seconds = Number(now - first.at) / 1e9;
      return { label, eps: (EVENTS - first.committed) / seconds, seconds };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${label} did not finish`);
}

async function runNormalizer(admin, tenant, transactions) {
  const prefix = `nbench-${process.pid}-${transactions}`;
  const port = await freePort();
  const service = startService(
    'normalizer',
    {
      ...process.env,
      AISPM_LOG_LEVEL: 'warn',
      AISPM_GROUP_PREFIX: prefix,
      AISPM_TENANT_PATTERN: `^${tenant}$`,
      NORMALIZER_TRANSACTIONS: transactions,
    },
    port,
  );
  try {
    return await timeGroup(
      admin,
      `${prefix}-normalizer`,
      `aispm.${tenant}.redacted`,
      `normalizer, transactions ${transactions}`,
    );
  } finally {
    await stopService(service);
  }
}

/** Copies the redacted topic's bytes to the normalized topic, committing as the normalizer does. */
async function runPassThrough(kafka, admin, tenant, transactional) {
  const groupId = `nbench-${process.pid}-pass-${transactional ? 'on' : 'off'}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    ...(transactional ? { transactionalId: `${groupId}-0` } : {}),
  });
  await Promise.all([consumer.connect(), producer.connect()]);
  const input = `aispm.${tenant}.redacted`;
  const output = `aispm.${tenant}.normalized`;
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (batch.messages.length === 0) return;
      const messages = batch.messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: m.headers,
        partition: batch.partition,
      }));
      const offsets = [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }];
      const transaction = transactional ? await producer.transaction() : undefined;
      for (const topicMessages of produceChunks([{ topic: output, messages }])) {
        await (transaction ?? producer).sendBatch({ topicMessages, acks: -1 });
      }
      if (transaction) {
        await transaction.sendOffsets({
          consumerGroupId: groupId,
          topics: [{ topic: input, partitions: offsets }],
        });
        await transaction.commit();
      } else {
        await consumer.commitOffsets(offsets.map((o) => ({ topic: input, ...o })));
      }
      resolveOffset(batch.lastOffset());
    },
  });
  try {
    return await timeGroup(
      admin,
      groupId,
      input,
      `pass-through, transactions ${transactional ? 'on' : 'off'}`,
    );
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
}

async function main() {
  prepare();
  const tenant = `nbench-${process.pid}`;
  const kafka = new Kafka({
    clientId: 'bench-normalizer',
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const topics = tenantTopicConfigs(tenant, {
    partitions: PARTITIONS,
    replicationFactor: 1,
    rawRetentionMs: 3600000,
  });
  await admin.createTopics({ topics, waitForLeaders: true });
  try {
    const codec = new StageCodec(SCHEMA_REGISTRY_URL);
    await codec.register(SCHEMA_NAMES);
    const producer = kafka.producer();
    await producer.connect();
    for (let from = 0; from < EVENTS; from += 500) {
      const messages = await Promise.all(
        Array.from({ length: Math.min(500, EVENTS - from) }, async (_, j) => {
          const value = redacted(tenant, from + j);
          return {
            key: value.envelope.event.session_id,
            value: await codec.encode('redacted-envelope.v1', value),
          };
        }),
      );
      for (const topicMessages of produceChunks([{ topic: `aispm.${tenant}.redacted`, messages }])) {
        await producer.sendBatch({ topicMessages, acks: -1 });
      }
    }
    await producer.disconnect();

    const results = [];
    results.push(await runPassThrough(kafka, admin, tenant, true));
    results.push(await runNormalizer(admin, tenant, 'on'));
    results.push(await runPassThrough(kafka, admin, tenant, false));
    results.push(await runNormalizer(admin, tenant, 'off'));
    const by = Object.fromEntries(results.map((r) => [r.label, r.eps]));
    const table = [
      `# Normalizer benchmark`,
      ``,
      `Measured by \`npm run bench:normalizer\` on ${machine()}: ${EVENTS} redacted envelopes (the public example, ${PARTITIONS} partitions), each run a fresh consumer group reading them all, timed from its first committed offset to its last. Noisy shared machine: read the ratios, measured side by side in one run.`,
      ``,
      `| Path | events/s | seconds |`,
      `| --- | --- | --- |`,
      ...results.map((r) => `| ${r.label} | ${Math.round(r.eps)} | ${r.seconds.toFixed(1)} |`),
      ``,
      `Ratios: normalizer / pass-through with transactions = **${(by['normalizer, transactions on'] / by['pass-through, transactions on']).toFixed(2)}**; without = **${(by['normalizer, transactions off'] / by['pass-through, transactions off']).toFixed(2)}**; normalizer with / without transactions = **${(by['normalizer, transactions on'] / by['normalizer, transactions off']).toFixed(2)}**. The pass-through copies bytes: no schema decoding or validation, no normalizing, no hash chain.`,
      ``,
    ].join('\n');
    await writeMarkdown(path.join(REPO, 'docs/benchmarks-normalizer.md'), table);
    process.stdout.write(`${table}\n`);
  } finally {
    await admin.deleteTopics({ topics: topics.map((t) => t.topic) }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
