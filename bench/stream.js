#!/usr/bin/env node
/**
 * `npm run bench:stream`: latency from the gateway's 202 to the event's posture delta arriving on
 * the live stream (GET /enterprise/aispm/stream), p50 and p99 at a steady offered load. Beside it,
 * in the same run and for the same events, the latency to a bare KafkaJS consumer tailing the
 * posture topic: the difference is what the SSE hop costs; the rest is the pipeline (redactor,
 * normalizer, projector and its ClickHouse insert). Writes docs/benchmarks-stream.md.
 *
 * Starts its own four services (own groups, tenant and ClickHouse database) on the shared servers
 * and removes them afterwards. A benchmark, not a test: it asserts nothing. Runs on the built dist/.
 */
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');

const REPO = path.resolve(__dirname, '..');
const SHARED = process.env.AISPM_SHARED_DIR ?? path.resolve(REPO, '../shared');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const WARMUP_SECONDS = 5;
const CLI = path.join(REPO, 'libs/cli/bin/aispm.js');

const example = JSON.parse(
  readFileSync(
    path.join(SHARED, 'contracts/enterprise-live-ingestion-envelope-public-contract.example.json'),
    'utf8',
  ),
);
let counter = 0;
function envelope(tenantRef) {
  counter += 1;
  const id = `evt_sbench_${process.pid}_${counter}`;
  return {
    ...example,
    event: {
      ...example.event,
      event_id: id,
      session_id: `sess_${counter % 64}`,
      occurred_at: new Date().toISOString(),
    },
    tenant: { ...example.tenant, tenant_ref: tenantRef },
    integrity: { ...example.integrity, signature_required: false },
    transport: { ...example.transport, idempotency_key: id },
  };
}

function percentile(sorted, p) {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitReady(url) {
  for (let i = 0; i < 480; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} never became ready`);
}

/**
 * Calls `onEventIds(ids, at, producedMs)` for each overview delta read from the SSE stream. Reads
 * with node:http, which hands over each chunk as the socket delivers it.
 */
function openStream(url, key, onEventIds) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { authorization: `Bearer ${key}` } }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`stream answered ${response.statusCode}`));
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (chunk) => {
        const at = performance.now();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (!data || !block.includes('event: overview')) continue;
          const delta = JSON.parse(data.slice(6));
          onEventIds(delta.data.event_ids, at, delta.produced_ms);
        }
      });
      resolve(async () => {
        request.destroy();
      });
    });
    request.on('error', reject);
  });
}

async function main() {
  execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-b'], { cwd: REPO, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-sbench-'));
  const suffix = `${process.pid}`;
  const tenant = `sbench-${suffix}`;
  const tenantRef = `tenant:${tenant}`;
  const gatewayPort = await freePort();
  const base = `http://127.0.0.1:${gatewayPort}`;
  const env = {
    ...process.env,
    AISPM_LOG_LEVEL: 'warn',
    AISPM_GROUP_PREFIX: `sbench-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    AISPM_TENANT_PATTERN: `^${tenant}$`,
    AISPM_TOPIC_REFRESH_MS: '500',
    CLICKHOUSE_DATABASE: `aispm_sbench_${suffix}`,
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_QUOTA_EVENTS_PER_SECOND: '10000000',
    GATEWAY_QUOTA_EVENT_BURST: '10000000',
  };
  const services = [];
  for (const service of ['ingest-gateway', 'redactor', 'normalizer', 'projector']) {
    const port = service === 'ingest-gateway' ? gatewayPort : await freePort();
    const child = spawn(process.execPath, [path.join(REPO, 'services', service, 'dist/main.js')], {
      env: service === 'ingest-gateway' ? env : { ...env, AISPM_OPS_PORT: String(port) },
      stdio: 'inherit',
    });
    services.push({ service, child, ready: `http://127.0.0.1:${port}/readyz` });
  }
  let operator;
  try {
    await Promise.all(services.map((s) => waitReady(s.ready)));
    execFileSync(process.execPath, [CLI, 'bootstrap'], { env, stdio: 'ignore' });
    operator = readFileSync(env.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
    const admin = async (route, body) => {
      for (let attempt = 0; attempt < 40; attempt += 1) {
        const response = await fetch(`${base}/enterprise/aispm/admin${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        // The operator key reaches the gateway through the control topic, within a moment.
        if (response.status !== 401) return response.json();
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error('the gateway never accepted the operator key');
    };
    await admin('/tenants', { slug: tenant, tenant_ref: tenantRef });
    const { api_key: collectorKey } = await admin('/collectors', { tenant });
    const { api_key: readerKey } = await admin('/readers', { tenant, role: 'viewer' });

    const accepted = new Map(); // event id -> 202 time
    const viaSse = new Map();
    const viaKafka = new Map();
    const hop = { sse: [], bare: [] }; // the projector's publish to arrival, wall clock
    const record = (into, hops) => (ids, at, producedMs) => {
      if (ids.some((id) => accepted.has(id))) hops.push(Date.now() - producedMs);
      for (const id of ids) if (accepted.has(id) && !into.has(id)) into.set(id, at - accepted.get(id));
    };
    const closeStream = await openStream(
      `${base}/enterprise/aispm/stream`,
      readerKey,
      record(viaSse, hop.sse),
    );

    // The bare path: a KafkaJS consumer of the same posture topic, decoding the same messages.
    const { StageCodec } = require(path.join(REPO, 'libs/kafka/dist'));
    const codec = new StageCodec(process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7');
    const kafka = new Kafka({
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({ groupId: `sbench-${suffix}-bare`, maxWaitTimeInMs: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [`aispm.${tenant}.posture`], fromBeginning: false });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    const bareRecord = record(viaKafka, hop.bare);
    await consumer.run({
      eachMessage: async ({ message }) => {
        const at = performance.now();
        const delta = await codec.decode(message.value);
        if (delta.kind === 'overview') bareRecord(delta.data.event_ids, at, delta.produced_ms);
      },
    });
    await joined;

    const headers = { authorization: `Bearer ${collectorKey}`, 'content-type': 'application/json' };
    const postOne = async (measure) => {
      const body = envelope(tenantRef);
      const response = await fetch(`${base}/enterprise/aispm/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      const at = performance.now();
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`event answered ${response.status}`);
      if (measure) accepted.set(body.event.event_id, at);
    };
    let failed = 0;
    /** Offers RATE events per second for `seconds` (open loop). */
    const offer = async (seconds, measure) => {
      const inflight = [];
      const start = Date.now();
      for (let i = 0; Date.now() - start < seconds * 1000; i += 1) {
        const wait = start + (i * 1000) / RATE - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // A refused or failed post is counted, not measured; the run goes on.
        inflight.push(postOne(measure).catch(() => (failed += 1)));
      }
      await Promise.all(inflight);
    };
    await offer(WARMUP_SECONDS, false);
    await offer(SECONDS, true);
    // Let the tail drain.
    const deadline = Date.now() + 30_000;
    while ((viaSse.size < accepted.size || viaKafka.size < accepted.size) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    // How busy the gateway's event loop was: an SSE write waits for it, a bare consumer does not.
    const gatewayMetrics = await (await fetch(`${base}/metrics`)).text();
    const loopLag = (name) =>
      (Number(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(gatewayMetrics)?.[1]) * 1000).toFixed(
        0,
      );
    await closeStream();
    await consumer.disconnect();
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteGroups([`sbench-${suffix}-bare`]).catch(() => undefined);
    await kafkaAdmin.disconnect();

    const sse = [...viaSse.values()].sort((a, b) => a - b);
    const bare = [...viaKafka.values()].sort((a, b) => a - b);
    const cores = os.cpus().length;
    const row = (name, lat) =>
      `| ${name} | ${lat.length} / ${accepted.size} | ${percentile(lat, 50).toFixed(1)} | ${percentile(lat, 99).toFixed(1)} | ${lat.at(-1)?.toFixed(1)} |`;
    const hopRow = (name, values) => {
      const lat = [...values].sort((a, b) => a - b);
      return `| ${name} | ${lat.length} | ${percentile(lat, 50).toFixed(1)} | ${percentile(lat, 99).toFixed(1)} | ${lat.at(-1)?.toFixed(1)} |`;
    };
    const table = [
      `# Live stream latency`,
      ``,
      `Measured by \`npm run bench:stream\` on ${os.cpus()[0].model}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}. One tenant; single-event POSTs at a steady ${RATE} events/s (open loop) for ${SECONDS} s after ${WARMUP_SECONDS} s of warm-up (${failed} posts failed and are not measured). Load average at the end: ${os.loadavg()[0].toFixed(1)}. Latency runs from the gateway's 202 to the event's \`overview\` delta arriving. The four services, Kafka, ClickHouse, the registry and the load generator share the ${cores} cores, with other work on the machine.`,
      ``,
      `| Path | events seen | p50 ms | p99 ms | max ms |`,
      `| --- | --- | --- | --- | --- |`,
      row('202 → delta on the SSE stream (gateway)', sse),
      row('202 → delta read by a bare KafkaJS consumer of the posture topic', bare),
      ``,
      `From the projector's publish (the delta's \`produced_ms\`) to arrival, per overview delta:`,
      ``,
      `| Path | deltas | p50 ms | p99 ms | max ms |`,
      `| --- | --- | --- | --- | --- |`,
      hopRow('publish → SSE stream', hop.sse),
      hopRow('publish → bare KafkaJS consumer', hop.bare),
      ``,
      `Ratio SSE / bare consumer: p50 **${(percentile(sse, 50) / percentile(bare, 50)).toFixed(2)}**, p99 **${(percentile(sse, 99) / percentile(bare, 99)).toFixed(2)}**. The bare consumer measures the pipeline alone (redactor, normalizer, projector and its ClickHouse insert, then the posture publish); the difference is the SSE hop. Gateway event-loop lag at the end of the run: p50 ${loopLag('nodejs_eventloop_lag_p50_seconds')} ms, p99 ${loopLag('nodejs_eventloop_lag_p99_seconds')} ms (it also served the ${RATE} POSTs/s).`,
      ``,
    ].join('\n');
    const out = path.join(REPO, 'docs/benchmarks-stream.md');
    writeFileSync(out, table);
    execFileSync('npx', ['prettier', '--write', out], { cwd: REPO, stdio: 'ignore' });
    process.stdout.write(`${table}\n`);
  } finally {
    if (operator) {
      await fetch(`${base}/enterprise/aispm/admin/tenants/${tenant}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${operator}` },
      }).catch(() => undefined);
    }
    for (const { child } of services) child.kill('SIGTERM');
    await Promise.all(
      services.map(
        ({ child }) => new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r))),
      ),
    );
    await fetch(
      `${process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${env.CLICKHOUSE_DATABASE}`)}`,
      {
        method: 'POST',
      },
    ).catch(() => undefined);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
