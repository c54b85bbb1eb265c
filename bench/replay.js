/**
 * Replay into NDJSON next to its limit, in one run on the same servers (DESIGN §14: replay
 * reaches at least half of a bare KafkaJS consumer). A fresh raw topic (3 partitions) is filled
 * with BENCH_EVENTS wire-format envelopes; then, in alternating rounds, a bare KafkaJS consumer (a
 * new group, eachBatch, counting messages, no decoding) and the replay core the CLI runs (its
 * throwaway group with seeks, decryption, registry decoding, NDJSON lines into a file) read the same
 * partitions to the end. Raw values are encrypted as the gateway writes them (DESIGN §7), so
 * replay decrypts each one, as it does in production. Both run in this process, so CPU per event is this process's CPU time.
 */
const { createWriteStream, mkdtempSync, rmSync, statSync } = require('node:fs');
const { once } = require('node:events');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const bench = require('./lib');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 40_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PARTITIONS = 3;

const { NDJSON_BUFFER_BYTES, planReplay, runReplay, ndjsonSink } = require(
  path.join(bench.REPO, 'libs/replay/dist'),
);
const { StageCodec, tenantTopicConfigs, ensureTopics } = require(path.join(bench.REPO, 'libs/kafka/dist'));
const { tenantTopic, tenantTopics } = require(path.join(bench.REPO, 'libs/contracts/dist'));
const { LocalKms, RawEncryptor } = require(path.join(bench.REPO, 'libs/kms/dist'));

/** The raw stage is encrypted as the gateway writes it (DESIGN §7), under a throwaway KMS. */
const kms = LocalKms.fromFile(
  path.join(mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-kms-')), 'master.key'),
  {
    create: true,
  },
);
const encryptor = new RawEncryptor(kms);

const median = (values) =>
  bench.percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const cpuSince = (before) => {
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1e6;
};

async function fill(kafka, codec, tenant) {
  const producer = kafka.producer();
  await producer.connect();
  const topic = tenantTopic(tenant, 'raw');
  for (let sent = 0; sent < EVENTS; sent += 1000) {
    const messages = await Promise.all(
      Array.from({ length: Math.min(1000, EVENTS - sent) }, async () => {
        const envelope = bench.envelope(`tenant:${tenant}`);
        const id = envelope.event.event_id;
        const value = await codec.encode('envelope.v1', envelope);
        return {
          key: envelope.event.session_id,
          value: await encryptor.encrypt(tenant, value),
          headers: { 'aispm-tenant': tenant, 'aispm-event-id': id },
        };
      }),
    );
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
  return topic;
}

/** A bare KafkaJS consumer: new group, from the beginning, counts messages until it has them all. */
async function bareConsumer(kafka, topic) {
  const consumer = kafka.consumer({
    groupId: `bench-bare-${process.pid}-${Date.now()}`,
    maxWaitTimeInMs: 100,
  });
  const cpu = process.cpuUsage();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const started = process.hrtime.bigint();
  let first;
  let count = 0;
  let bytes = 0;
  await new Promise((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        first ??= process.hrtime.bigint();
        for (const message of batch.messages) bytes += message.value.length;
        count += batch.messages.length;
        if (count >= EVENTS) resolve();
      },
    });
  });
  const last = process.hrtime.bigint();
  await consumer.disconnect();
  const done = process.hrtime.bigint();
  return {
    count,
    bytes,
    cpu: cpuSince(cpu),
    total: Number(done - started) / 1e9,
    streaming: Number(last - first) / 1e9,
  };
}

/** The replay core as `aispm replay --stage raw --out FILE` runs it after its access check. */
async function replay(kafka, codec, tenant, dir) {
  const file = path.join(dir, `replay-${Date.now()}.ndjson`);
  const out = createWriteStream(file, { highWaterMark: NDJSON_BUFFER_BYTES });
  const spec = { tenant, stage: 'raw' };
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const plan = await planReplay(kafka, spec);
  let first;
  let last;
  const sink = ndjsonSink(spec, plan.topic, out);
  const result = await runReplay(
    kafka,
    codec,
    spec,
    plan,
    async (records) => {
      first ??= process.hrtime.bigint();
      const written = await sink(records);
      last = process.hrtime.bigint();
      return written;
    },
    { groupPrefix: 'bench', validate: false, kms },
  );
  out.end();
  await once(out, 'close');
  const done = process.hrtime.bigint();
  const size = statSync(file).size;
  rmSync(file);
  return {
    count: result.records,
    size,
    cpu: cpuSince(cpu),
    total: Number(done - started) / 1e9,
    streaming: Number(last - first) / 1e9,
  };
}

async function run() {
  const kafka = new Kafka({
    clientId: 'bench-replay',
    brokers: bench.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const codec = new StageCodec(bench.SCHEMA_REGISTRY_URL);
  await codec.register(['envelope.v1']);
  const tenant = bench.tenantPrefix('rp');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(
    admin,
    tenantTopicConfigs(tenant, { partitions: PARTITIONS, replicationFactor: 1, rawRetentionMs: 3600_000 }),
  );
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-replay-'));
  try {
    const topic = await fill(kafka, codec, tenant);
    process.stderr.write(`[bench] filled ${topic} with ${EVENTS} envelopes\n`);
    const bare = [];
    const replays = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const b = await bareConsumer(kafka, topic);
      // BENCH_PROFILE_DIR: the last round's replay is profiled (replay.cpuprofile).
      const r = await (round === ROUNDS - 1
        ? bench.profiled('replay', () => replay(kafka, codec, tenant, dir))
        : replay(kafka, codec, tenant, dir));
      if (b.count !== EVENTS || r.count !== EVENTS)
        throw new Error(`read ${b.count} and ${r.count} of ${EVENTS}`);
      process.stderr.write(
        `[bench] round ${round + 1}: bare ${Math.round(EVENTS / b.total)} events/s, ${((b.cpu / EVENTS) * 1e6).toFixed(1)} CPU µs/event; replay ${Math.round(EVENTS / r.total)} events/s, ${((r.cpu / EVENTS) * 1e6).toFixed(1)} CPU µs/event\n`,
      );
      bare.push(b);
      replays.push(r);
    }
    const rate = (runs, field) => Math.round(median(runs.map((one) => EVENTS / one[field])));
    const cpuPerEvent = (runs) => ((median(runs.map((one) => one.cpu)) / EVENTS) * 1e6).toFixed(1);
    // The machine is shared and its load swings within seconds: each round's two runs are next
    // to each other, so the per-round ratio is the figure to trust; the median is reported.
    const ratio = (field) => median(bare.map((b, i) => b[field] / replays[i][field])).toFixed(2);
    const perRound = bare.map((b, i) => (b.total / replays[i].total).toFixed(2)).join(', ');
    return [
      `## Replay (\`npm run bench:replay\`)`,
      ``,
      `${EVENTS} wire-format envelopes (${Math.round(bare[0].bytes / EVENTS)} bytes each) in one raw topic of ${PARTITIONS} partitions; ${ROUNDS} rounds, each running the two paths one after the other in the benchmark's own process.`,
      ``,
      bench.table(
        [
          'Path',
          'events/s, start to end (median)',
          'events/s, first record to end (median)',
          'CPU µs / event (median)',
        ],
        [
          [
            'bare KafkaJS consumer: new group, `eachBatch`, counts messages, decodes nothing (the limit)',
            rate(bare, 'total'),
            rate(bare, 'streaming'),
            cpuPerEvent(bare),
          ],
          [
            'replay core (`aispm replay --stage raw --out FILE`): throwaway group and seeks, end offsets captured at start, every value parsed, NDJSON lines into a file',
            rate(replays, 'total'),
            rate(replays, 'streaming'),
            cpuPerEvent(replays),
          ],
        ],
      ),
      ``,
      `Ratio replay / bare consumer, median of the per-round ratios: **${ratio('total')}** start to end, **${ratio('streaming')}** first record to end (per round: ${perRound}; DESIGN §14 target: at least 0.5). NDJSON written: ${Math.round(replays[0].size / EVENTS)} bytes per record. "Start to end" includes joining the group and, for replay, fetching the offsets it plans with and deleting its group; the CLI adds a fixed cost on top (loading the control plane to check the key, appending the audit event) that does not grow with the range. docs/performance.md says where the time goes.`,
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await admin.deleteTopics({ topics: tenantTopics(tenant) }).catch(() => undefined);
    await admin.disconnect();
    await bench.deleteGroups(`bench-bare-${process.pid}-`);
  }
}

module.exports = { run };
