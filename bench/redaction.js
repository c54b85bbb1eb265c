/**
 * `npm run bench:redaction`: the redactor's throughput, in one run on the same servers.
 *  1. The core alone: `redact` over envelopes carrying the labelled corpus's secrets, in this one
 *     thread, per CPU-second (per core) and per wall second; with the default profile, and with a tenant profile that
 *     tokenizes and adds a custom pattern; and decryption of the raw stage added on top.
 *  2. The service topic to topic: N encrypted envelopes are put on a tenant's raw topic, then
 *     (a) a bare pass-through consumer-producer copies them to the redacted topic with the same
 *     delivery semantics as the stage (a Kafka transaction per batch carrying the offsets) but no
 *     decode, decryption or redaction; (b) the real redactor service redacts them. Each is timed,
 *     in wall and CPU seconds, from its first committed offset to its last; events per CPU-second
 *     is the per-core figure.
 * Its section goes into docs/benchmarks.md (through bench/run.js). Asserts nothing; runs on dist/.
 */
const { mkdtempSync, readFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const bench = require('./lib');

const CORE_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const PORT = Number(process.env.BENCH_REDACTION_PORT ?? 18998);

const lib = (name) => require(path.join(bench.REPO, 'libs', name, 'dist'));
const corpus = readFileSync(path.join(bench.REPO, 'test/fixtures/redaction/positives.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line).text);

/**
 * Envelope `i`: the public example with realistic free text; every other event carries one of
 * the corpus's secrets in its summary, every fifth one a second in a evidence reference.
 */
function envelope(i, tenantRef) {
  const base = bench.envelope(tenantRef);
  const summary =
    i % 2 === 0 ? `ran tool, output: ${corpus[i % corpus.length]}` : 'edited src/index.ts (12 lines)';
  const refs =
    i % 5 === 0 ? [`cavra://evidence/${corpus[(i * 7) % corpus.length]}`] : base.event.evidence_refs;
  return { ...base, event: { ...base.event, target_summary: summary, evidence_refs: refs } };
}

/**
 * Calls `work` in a loop for `seconds`; returns calls per second of wall time and per CPU-second
 * of this one thread. On a shared machine the second is the per-core figure: the wall rate falls
 * with whatever else holds the cores.
 */
async function loop(seconds, work) {
  let n = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  while (elapsed() < seconds) {
    for (let k = 0; k < 50; k += 1) await work(n++);
  }
  const used = process.cpuUsage(cpu);
  return { wall: n / elapsed(), perCpu: n / ((used.user + used.system) / 1e6) };
}

async function coreBench() {
  const { compileProfile, redact } = lib('redaction');
  const { LocalKms, RawEncryptor, RawDecryptor } = lib('kms');
  const envelopes = Array.from({ length: 1000 }, (_, i) => envelope(i, 'tenant:bench'));
  const defaultProfile = compileProfile({});
  const tenantProfile = compileProfile({
    actions: { email: 'tokenize', github_token: 'tokenize', jwt: 'tokenize' },
    customPatterns: [{ kind: 'ticket_id', pattern: 'ACME-\\d{4,}' }],
    denyFields: ['/event/payload_ref'],
    tokenKey: Buffer.alloc(32, 1),
  });
  await loop(1, (i) => redact(envelopes[i % 1000], defaultProfile)); // warm-up
  const core = await loop(CORE_SECONDS, (i) => redact(envelopes[i % 1000], defaultProfile));
  const coreTenant = await loop(CORE_SECONDS, (i) => redact(envelopes[i % 1000], tenantProfile));
  const kms = LocalKms.fromFile(path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-kms-')), 'master.key'), {
    create: true,
  });
  const encryptor = new RawEncryptor(kms);
  const sealed = await Promise.all(
    envelopes.map((e) => encryptor.encrypt('bench', Buffer.from(JSON.stringify(e)))),
  );
  const decryptor = new RawDecryptor(kms);
  const decryptAndRedact = await loop(CORE_SECONDS, async (i) =>
    redact(JSON.parse((await decryptor.decrypt('bench', sealed[i % 1000])).toString('utf8')), defaultProfile),
  );
  return { core, coreTenant, decryptAndRedact };
}

/**
 * Polls the group's committed offsets on `topic` until they reach `total`. Returns events/s and
 * the events per CPU-second of `cpu()` (a reader of the consumer's CPU seconds), both from the
 * first committed offset to the last, so start-up and the group join count in neither.
 */
async function timeGroup(admin, groupId, topic, total, cpu) {
  let first;
  for (;;) {
    const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    const now = process.hrtime.bigint();
    if (first === undefined && done > 0) first = { done, at: now, cpu: cpu() };
    if (done >= total) {
      return {
        eps: (done - first.done) / (Number(now - first.at) / 1e9),
        perCpu: (done - first.done) / (cpu() - first.cpu),
      };
    }
    await bench.sleep(50);
  }
}

/** Copies raw to redacted as the stage does (transaction per batch with the offsets), nothing else. */
async function passThrough(kafka, groupId, from, to) {
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  const producer = kafka.producer({
    transactionalId: `${groupId}-tx`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topics: [from], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const transaction = await producer.transaction();
      await transaction.send({
        topic: to,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      const last = batch.messages[batch.messages.length - 1].offset;
      await transaction.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: String(BigInt(last) + 1n) }],
          },
        ],
      });
      await transaction.commit();
      resolveOffset(last);
      await heartbeat();
    },
  });
  return async () => {
    await consumer.disconnect();
    await producer.disconnect();
  };
}

async function run() {
  const core = await coreBench();
  const env = bench.benchEnv('rd', {
    AISPM_KMS_MASTER_KEY_FILE: path.join(
      mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-kms-')),
      'master.key',
    ),
  });
  const tenant = `${bench.tenantPrefix('rd')}-t`;
  const tenantRef = `tenant:${tenant}`;
  const apiUrl = `http://127.0.0.1:${PORT}`;
  const services = [];
  const kafka = new Kafka({
    clientId: 'bench-redaction',
    brokers: bench.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    // The API only makes the tenant: the raw topic is written below, without the gateway.
    services.push(bench.startService('api', env, PORT));
    await bench.waitReady(`${apiUrl}/readyz`);
    const operator = bench.bootstrap(env);
    await bench.awaitOperator(apiUrl, operator);
    await bench.admin(apiUrl, operator, 'POST', '/tenants', { slug: tenant, tenant_ref: tenantRef });

    // The raw topic as the gateway writes it: wire-format envelopes, encrypted for the tenant.
    const { StageCodec } = lib('kafka');
    const { LocalKms, RawEncryptor } = lib('kms');
    const codec = new StageCodec(bench.SCHEMA_REGISTRY_URL);
    await codec.register(['envelope.v1']);
    const encryptor = new RawEncryptor(LocalKms.fromFile(env.AISPM_KMS_MASTER_KEY_FILE, { create: false }));
    const raw = `aispm.${tenant}.raw`;
    const producer = kafka.producer();
    await Promise.all([producer.connect(), admin.connect()]);
    for (let i = 0; i < EVENTS; i += 500) {
      const messages = await Promise.all(
        Array.from({ length: Math.min(500, EVENTS - i) }, async (_, k) => {
          const value = await codec.encode('envelope.v1', envelope(i + k, tenantRef));
          return { key: `sess_${(i + k) % 512}`, value: await encryptor.encrypt(tenant, value) };
        }),
      );
      await producer.send({ topic: raw, acks: -1, messages });
    }
    await producer.disconnect();

    const passGroup = `${env.AISPM_GROUP_PREFIX}-passthrough`;
    const stopPass = await passThrough(kafka, passGroup, raw, `aispm.${tenant}.redacted`);
    const ownCpu = () => {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1e6;
    };
    const pass = await timeGroup(admin, passGroup, raw, EVENTS, ownCpu);
    await stopPass();

    const redactor = bench.startService('redactor', env, PORT + 1);
    services.push(redactor);
    const redaction = await timeGroup(admin, `${env.AISPM_GROUP_PREFIX}-redactor`, raw, EVENTS, () =>
      bench.cpuSeconds(redactor.child.pid),
    );
    const dlq = await admin.fetchTopicOffsets(`aispm.${tenant}.dlq`);
    const deadLetters = dlq.reduce((sum, p) => sum + Number(p.high), 0);
    await bench.admin(apiUrl, operator, 'DELETE', `/tenants/${tenant}`);

    const f = (n) => Math.round(n).toLocaleString('en-US');
    return [
      `## Redaction (\`npm run bench:redaction\`)`,
      ``,
      `Half the envelopes carry one of the labelled corpus's secrets in the summary, a fifth a second one in an evidence reference. Per core = per CPU-second of the one thread doing the work; the wall rate falls with whatever else holds the cores.`,
      ``,
      `The core alone, in one thread:`,
      ``,
      bench.table(
        ['Work', 'events per CPU-second (per core)', 'events/s (wall)'],
        [
          ['`redact`, default profile (every detector, mask)', f(core.core.perCpu), f(core.core.wall)],
          [
            '`redact`, tenant profile (tokenize three kinds, a custom pattern, a denied field)',
            f(core.coreTenant.perCpu),
            f(core.coreTenant.wall),
          ],
          [
            'decrypt the raw value + JSON parse + `redact` (default profile)',
            f(core.decryptAndRedact.perCpu),
            f(core.decryptAndRedact.wall),
          ],
        ],
      ),
      ``,
      `The service topic to topic, ${f(EVENTS)} encrypted events on the raw topic, timed from the first committed offset to the last:`,
      ``,
      bench.table(
        ['Consumer-producer on the same topics', 'events/s (wall)', 'events per CPU-second (per core)'],
        [
          [
            'pass-through: a transaction per batch with the offsets, no decode, decryption or redaction (the limit)',
            f(pass.eps),
            f(pass.perCpu),
          ],
          [
            'redactor service: decrypt, decode, tenant profile, redact, encode, same transactions',
            f(redaction.eps),
            f(redaction.perCpu),
          ],
        ],
      ),
      ``,
      `Ratio redactor / pass-through: **${(redaction.eps / pass.eps).toFixed(2)}** (wall), **${(redaction.perCpu / pass.perCpu).toFixed(2)}** (per CPU-second). Dead letters: ${deadLetters}. The pass-through runs in the benchmark's process, whose CPU-seconds include its offset polling.`,
    ].join('\n');
  } finally {
    await admin.disconnect().catch(() => undefined);
    await Promise.all(services.map(bench.stopService));
  }
}

module.exports = { run };
