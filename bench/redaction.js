#!/usr/bin/env node
/**
 * `npm run bench:redaction`: the redactor's throughput, in one run on the same servers.
 *  1. The core alone: `redact` over envelopes carrying the labelled corpus's secrets, in this one
 *     thread, per CPU-second (per core) and per wall second; with the default profile, and with a tenant profile that
 *     tokenizes and adds a custom pattern; and decryption of the raw stage added on top.
 *  2. The service topic to topic: N encrypted envelopes are put on a tenant's raw topic, then
 *     (a) a bare pass-through consumer-producer copies them to the redacted topic with the same
 *     delivery semantics as the stage (a Kafka transaction per batch carrying the offsets) but no
 *     decode, decryption or redaction; (b) the real redactor service redacts them. Each is timed
 *     from its first committed offset to its last, and its CPU seconds are read, so events per
 *     CPU-second is the per-core figure.
 * Writes docs/benchmarks-redaction.md. A benchmark, not a test: it asserts nothing. Runs on dist/.
 */
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');

const REPO = path.resolve(__dirname, '..');
const SHARED = process.env.AISPM_SHARED_DIR ?? path.resolve(REPO, '../shared');
const CORE_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const PORT = Number(process.env.BENCH_GATEWAY_PORT ?? 18998);
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const REGISTRY = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const base = `http://127.0.0.1:${PORT}`;

const lib = (name) => require(path.join(REPO, 'libs', name, 'dist'));
const example = JSON.parse(
  readFileSync(
    path.join(SHARED, 'contracts/enterprise-live-ingestion-envelope-public-contract.example.json'),
    'utf8',
  ),
);
const corpus = readFileSync(path.join(REPO, 'test/fixtures/redaction/positives.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line).text);

/**
 * Envelope `i`: the public example with realistic free text; every other event carries one of
 * the corpus's secrets in its summary, every fifth one a second in a evidence reference.
 */
function envelope(i, tenantRef) {
  const id = `evt_bench_${process.pid}_${i}`;
  const summary =
    i % 2 === 0 ? `ran tool, output: ${corpus[i % corpus.length]}` : 'edited src/index.ts (12 lines)';
  const refs =
    i % 5 === 0 ? [`cavra://evidence/${corpus[(i * 7) % corpus.length]}`] : example.event.evidence_refs;
  return {
    ...example,
    event: {
      ...example.event,
      event_id: id,
      session_id: `sess_${i % 512}`,
      target_summary: summary,
      evidence_refs: refs,
    },
    tenant: { ...example.tenant, tenant_ref: tenantRef },
    integrity: { ...example.integrity, signature_required: false },
    transport: { ...example.transport, idempotency_key: id },
  };
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

async function waitReady(url) {
  for (let i = 0; i < 240; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} never became ready`);
}

/** CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100 Hz).
}

/**
 * Polls the group's committed offsets on `topic` until they reach `total`; returns events/s from
 * the first committed offset to the last (start-up and group join excluded).
 */
async function timeGroup(admin, groupId, topic, total) {
  let first;
  for (;;) {
    const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    const now = process.hrtime.bigint();
    if (first === undefined && done > 0) first = { done, at: now };
    if (done >= total) return (done - first.done) / (Number(now - first.at) / 1e9);
    await new Promise((r) => setTimeout(r, 50));
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

async function main() {
  execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-b'], { cwd: REPO, stdio: 'inherit' });
  const core = await coreBench();
  process.stdout.write(`core: ${JSON.stringify(core)}\n`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-redaction-'));
  const suffix = `${process.pid}`;
  const tenant = `benchr-${suffix}`;
  const tenantRef = `tenant:${tenant}`;
  const env = {
    ...process.env,
    AISPM_LOG_LEVEL: 'warn',
    AISPM_GROUP_PREFIX: `benchr-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    AISPM_KMS_MASTER_KEY_FILE: path.join(dir, 'kms', 'master.key'),
    AISPM_TENANT_PATTERN: `^${tenant}$`,
    AISPM_OPS_PORT: String(PORT + 1),
    GATEWAY_PORT: String(PORT),
  };
  const children = [];
  const start = (service) => {
    const child = spawn(process.execPath, [path.join(REPO, 'services', service, 'dist/main.js')], {
      env,
      stdio: 'inherit',
    });
    children.push(child);
    return child;
  };
  const kafka = new Kafka({ clientId: 'bench-redaction', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let operator;
  try {
    start('ingest-gateway');
    await waitReady(`${base}/readyz`);
    execFileSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), 'bootstrap'], {
      env,
      stdio: 'ignore',
    });
    operator = readFileSync(env.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
    const call = (method, route, body) =>
      fetch(`${base}/enterprise/aispm/admin${route}`, {
        method,
        headers: {
          authorization: `Bearer ${operator}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      }).then((r) => r.json());
    await call('POST', '/tenants', { slug: tenant, tenant_ref: tenantRef });

    // The raw topic as the gateway writes it: wire-format envelopes, encrypted for the tenant.
    const { StageCodec } = lib('kafka');
    const { LocalKms, RawEncryptor } = lib('kms');
    const codec = new StageCodec(REGISTRY);
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

    const passGroup = `benchr-${suffix}-passthrough`;
    const cpu0 = process.cpuUsage();
    const stopPass = await passThrough(kafka, passGroup, raw, `aispm.${tenant}.redacted`);
    const passEps = await timeGroup(admin, passGroup, raw, EVENTS);
    const passCpu = process.cpuUsage(cpu0);
    await stopPass();
    const passPerCpu = EVENTS / ((passCpu.user + passCpu.system) / 1e6);

    const redactor = start('redactor');
    const redactorEps = await timeGroup(admin, `benchr-${suffix}-redactor`, raw, EVENTS);
    const redactorPerCpu = EVENTS / cpuSeconds(redactor.pid);
    const dlq = await admin.fetchTopicOffsets(`aispm.${tenant}.dlq`);
    const deadLetters = dlq.reduce((sum, p) => sum + Number(p.high), 0);
    await call('DELETE', `/tenants/${tenant}`);

    const cores = os.cpus().length;
    const f = (n) => Math.round(n).toLocaleString('en-US');
    const doc = [
      `# Redaction benchmarks`,
      ``,
      `Measured by \`npm run bench:redaction\` on ${os.cpus()[0].model}, ${cores} cores, Node ${process.version}, ${new Date().toISOString()}. The corpus's secrets are in half the envelopes (one in the summary) and a fifth carry a second one in an evidence reference. Noisy shared machine: read the ratios, measured side by side in one run.`,
      ``,
      `## The core alone (one thread)`,
      ``,
      `| Work | events per CPU-second (per core) | events/s (wall) |`,
      `| --- | --- | --- |`,
      `| \`redact\`, default profile (every detector, mask) | ${f(core.core.perCpu)} | ${f(core.core.wall)} |`,
      `| \`redact\`, tenant profile (tokenize three kinds, a custom pattern, a denied field) | ${f(core.coreTenant.perCpu)} | ${f(core.coreTenant.wall)} |`,
      `| decrypt the raw value + JSON parse + \`redact\` (default profile) | ${f(core.decryptAndRedact.perCpu)} | ${f(core.decryptAndRedact.wall)} |`,
      ``,
      `## The service, topic to topic (${f(EVENTS)} events, ${3} partitions)`,
      ``,
      `| Consumer-producer | events/s (wall) | events per CPU-second (per core) |`,
      `| --- | --- | --- |`,
      `| pass-through: same topics, a transaction per batch with the offsets, no decode, decryption or redaction | ${f(passEps)} | ${f(passPerCpu)} |`,
      `| redactor service: decrypt, decode, tenant profile, redact, encode, same transactions | ${f(redactorEps)} | ${f(redactorPerCpu)} |`,
      ``,
      `Ratio redactor / pass-through: **${(redactorEps / passEps).toFixed(2)}** (wall), **${(redactorPerCpu / passPerCpu).toFixed(2)}** (per CPU-second). Dead letters during the run: ${deadLetters}. The broker, the registry and the services share the ${cores} cores; the redactor's CPU-seconds include its start-up.`,
      ``,
    ].join('\n');
    writeFileSync(path.join(REPO, 'docs/benchmarks-redaction.md'), doc);
    process.stdout.write(`${doc}\n`);
  } finally {
    await admin.disconnect().catch(() => undefined);
    for (const child of children) child.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
