#!/usr/bin/env node
/**
 * `npm run bench:gateway`: the gateway's throughput next to its limit, in one run on the same
 * servers. The limit is a bare KafkaJS producer writing the same wire-format bytes to the same
 * topic with acks=all and no HTTP, auth or validation. Then latency percentiles at a fixed
 * offered load (half the measured batch throughput). Writes docs/benchmarks.md.
 *
 * A benchmark, not a test: it asserts nothing and prints figures. Runs on the built dist/.
 */
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');

const REPO = path.resolve(__dirname, '..');
const SHARED = process.env.AISPM_SHARED_DIR ?? path.resolve(REPO, '../shared');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = 100;
const CONCURRENCY = 8;
const PORT = Number(process.env.BENCH_GATEWAY_PORT ?? 18999);
const base = `http://127.0.0.1:${PORT}`;

const example = JSON.parse(
  readFileSync(
    path.join(SHARED, 'contracts/enterprise-live-ingestion-envelope-public-contract.example.json'),
    'utf8',
  ),
);
let counter = 0;
function envelope(tenantRef) {
  counter += 1;
  const id = `evt_bench_${process.pid}_${counter}`;
  return {
    ...example,
    event: { ...example.event, event_id: id, session_id: `sess_${counter % 512}` },
    tenant: { ...example.tenant, tenant_ref: tenantRef },
    integrity: { ...example.integrity, signature_required: false },
    transport: { ...example.transport, idempotency_key: id },
  };
}

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
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

/** Runs `send` from `concurrency` loops for `seconds`; returns events/s and per-call latencies. */
async function saturate(send, perCall, seconds, concurrency) {
  const deadline = Date.now() + seconds * 1000;
  const latencies = [];
  let events = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const t0 = process.hrtime.bigint();
        await send();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        events += perCall;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { eps: events / elapsed, latencies: latencies.sort((a, b) => a - b) };
}

/** Offers `rate` calls per second for `seconds` (open loop), returns latency percentiles. */
async function fixedLoad(send, rate, seconds) {
  const latencies = [];
  const inflight = [];
  const interval = 1000 / rate;
  const start = Date.now();
  for (let i = 0; Date.now() - start < seconds * 1000; i += 1) {
    const due = start + i * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = process.hrtime.bigint();
    inflight.push(send().then(() => latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)));
  }
  await Promise.all(inflight);
  return latencies.sort((a, b) => a - b);
}

async function main() {
  execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-b'], { cwd: REPO, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-'));
  const suffix = `${process.pid}`;
  const env = {
    ...process.env,
    AISPM_LOG_LEVEL: 'warn',
    AISPM_GROUP_PREFIX: `bench-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    GATEWAY_PORT: String(PORT),
    GATEWAY_QUOTA_EVENTS_PER_SECOND: '10000000',
    GATEWAY_QUOTA_EVENT_BURST: '10000000',
  };
  // The gateway reads the events table for idempotency; make sure its schema is current.
  execFileSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), 'migrate'], {
    env,
    stdio: 'ignore',
  });
  const gateway = spawn(process.execPath, [path.join(REPO, 'services/ingest-gateway/dist/main.js')], {
    env,
    stdio: 'inherit',
  });
  try {
    await waitReady(`${base}/readyz`);
    execFileSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), 'bootstrap'], {
      env,
      stdio: 'ignore',
    });
    const operator = readFileSync(env.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
    const admin = async (route, body) =>
      (
        await fetch(`${base}/enterprise/aispm/admin${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json();
    const tenant = `bench-${suffix}`;
    const tenantRef = `tenant:bench-${suffix}`;
    await admin('/tenants', { slug: tenant, tenant_ref: tenantRef });
    const { api_key: key } = await admin('/collectors', { tenant });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const postBatch = async () => {
      const response = await fetch(`${base}/enterprise/aispm/events/batch`, {
        method: 'POST',
        headers,
        body: JSON.stringify(Array.from({ length: BATCH }, () => envelope(tenantRef))),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`batch answered ${response.status}`);
    };
    const postOne = async () => {
      const response = await fetch(`${base}/enterprise/aispm/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify(envelope(tenantRef)),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`single answered ${response.status}`);
    };

    // The limit: the same wire-format bytes, straight to Kafka with acks=all.
    const { StageCodec } = require(path.join(REPO, 'libs/kafka/dist'));
    const codec = new StageCodec(process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7');
    await codec.register(['envelope.v1']);
    const kafka = new Kafka({
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    const payloads = await Promise.all(
      Array.from({ length: BATCH }, () => codec.encode('envelope.v1', envelope(tenantRef))),
    );
    const bare = await saturate(
      () =>
        producer.send({
          topic: `aispm.${tenant}.raw`,
          acks: -1,
          messages: payloads.map((value, i) => ({ key: `sess_${i}`, value })),
        }),
      BATCH,
      SECONDS,
      CONCURRENCY,
    );
    await producer.disconnect();

    await saturate(postBatch, BATCH, 2, CONCURRENCY); // warm-up
    const batch = await saturate(postBatch, BATCH, SECONDS, CONCURRENCY);
    const single = await saturate(postOne, 1, SECONDS, CONCURRENCY * 4);
    const batchRate = Math.max(1, Math.floor(batch.eps / 2 / BATCH));
    const singleRate = Math.max(1, Math.floor(single.eps / 2));
    const batchFixed = await fixedLoad(postBatch, batchRate, SECONDS);
    const singleFixed = await fixedLoad(postOne, singleRate, SECONDS);
    const rss =
      Number(execFileSync('ps', ['-o', 'rss=', '-p', String(gateway.pid)], { encoding: 'utf8' }).trim()) /
      1024;

    const row = (name, eps, lat) =>
      `| ${name} | ${Math.round(eps)} | ${percentile(lat, 50).toFixed(1)} | ${percentile(lat, 99).toFixed(1)} | ${percentile(lat, 99.9).toFixed(1)} |`;
    const cores = os.cpus().length;
    const table = [
      `# Benchmarks`,
      ``,
      `Measured by \`npm run bench:gateway\` on ${os.cpus()[0].model}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}; ${SECONDS} s per phase, batches of ${BATCH}, ${CONCURRENCY} concurrent clients. Noisy machine: read the ratios, measured side by side in one run.`,
      ``,
      `| Path | events/s (saturated) | p50 ms | p99 ms | p99.9 ms |`,
      `| --- | --- | --- | --- | --- |`,
      row('bare KafkaJS producer, same bytes, acks=all (the limit)', bare.eps, bare.latencies),
      row('gateway batch endpoint', batch.eps, batch.latencies),
      row('gateway single-event endpoint', single.eps, single.latencies),
      ``,
      `Latency at a fixed offered load of half the saturated rate (open loop):`,
      ``,
      `| Path | offered | p50 ms | p99 ms | p99.9 ms |`,
      `| --- | --- | --- | --- | --- |`,
      `| gateway batch endpoint | ${batchRate} req/s (${batchRate * BATCH} events/s) | ${percentile(batchFixed, 50).toFixed(1)} | ${percentile(batchFixed, 99).toFixed(1)} | ${percentile(batchFixed, 99.9).toFixed(1)} |`,
      `| gateway single-event endpoint | ${singleRate} req/s | ${percentile(singleFixed, 50).toFixed(1)} | ${percentile(singleFixed, 99).toFixed(1)} | ${percentile(singleFixed, 99.9).toFixed(1)} |`,
      ``,
      `Ratios: batch endpoint / bare producer = **${(batch.eps / bare.eps).toFixed(2)}**; single-event endpoint / bare producer = **${(single.eps / bare.eps).toFixed(2)}**. The gateway, the broker, the registry and the load generator share the ${cores} cores. Gateway resident memory after the run: ${rss.toFixed(0)} MiB.`,
      ``,
    ].join('\n');
    writeFileSync(path.join(REPO, 'docs/benchmarks.md'), table);
    process.stdout.write(`${table}\n`);
  } finally {
    gateway.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
