#!/usr/bin/env node
/**
 * `npm run bench:projection`: latency from the gateway's 202 to the row being queryable in
 * ClickHouse, through all four services, at a steady offered load (open loop, single-event
 * endpoint). A poller asks ClickHouse every BENCH_POLL_MS which of the accepted events are
 * visible, so each figure is too high by at most one poll interval plus one query.
 * Writes docs/benchmarks-projection.md.
 *
 * A benchmark, not a test: it asserts nothing and prints figures. Runs on the built dist/.
 */
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync } = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const { PUBLIC_EXAMPLE_PATH } = require('@aispm/contracts');
const { writeMarkdown } = require('./lib');

const REPO = path.resolve(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_SECONDS = 3;
const RATES = (process.env.BENCH_RATES ?? '20,100').split(',').map(Number);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 20);
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const SERVICES = ['ingest-gateway', 'api', 'redactor', 'normalizer', 'projector'];

const example = JSON.parse(readFileSync(PUBLIC_EXAMPLE_PATH, 'utf8'));

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
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

async function waitReady(url) {
  for (let i = 0; i < 480; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} never became ready`);
}

async function clickhouse(query) {
  const response = await fetch(CLICKHOUSE_URL, { method: 'POST', body: query });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse: ${text}`);
  return text;
}

/**
 * Offers `rate` events per second for `seconds`; returns, per event accepted after the warm-up,
 * the milliseconds from its 202 to the poller first seeing its row.
 */
async function measure({ base, key, tenant, tenantRef, database }, rate, seconds) {
  const accepted = new Map(); // event id -> 202 time (ms, high resolution)
  const latencies = [];
  const refused = new Map(); // status -> count: not accepted, so not measured
  const stages = { normalized: [], projecting: [], visible: [] };
  let stopPolling = false;
  const poller = (async () => {
    while (!stopPolling || accepted.size > 0) {
      // At most 500 ids per query (ClickHouse caps a query's size); a failed poll is retried.
      const pending = [...accepted.keys()].slice(0, 500);
      if (pending.length > 0) {
        const ids = pending.map((id) => `'${id}'`).join(',');
        const seen = await clickhouse(
          `SELECT event_id, received_ms, ingested_ms, projected_ms FROM ${database}.events WHERE tenant = '${tenant}' AND event_id IN (${ids}) FORMAT TSV`,
        ).catch((error) => {
          process.stderr.write(`poll failed, retrying: ${error.message}\n`);
          return '';
        });
        const now = performance.now();
        const wall = Date.now();
        for (const line of seen.split('\n').filter(Boolean)) {
          const [id, received, ingested, projected] = line.split('\t');
          const at = accepted.get(id);
          if (at === undefined) continue;
          accepted.delete(id);
          if (!at.counted) continue;
          latencies.push(now - at.t);
          // Where the time goes, from the rows' own clocks (one host, so comparable).
          stages.normalized.push(Number(ingested) - Number(received));
          stages.projecting.push(Number(projected) - Number(ingested));
          stages.visible.push(wall - Number(projected));
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  const start = Date.now();
  const inflight = [];
  for (let i = 0; Date.now() - start < seconds * 1000; i += 1) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `evt_lat_${process.pid}_${rate}_${i}`;
    const counted = Date.now() - start >= WARMUP_SECONDS * 1000;
    const envelope = {
      ...example,
      event: { ...example.event, event_id: id, session_id: `sess_${i % 64}` },
      tenant: { ...example.tenant, tenant_ref: tenantRef },
      integrity: { ...example.integrity, signature_required: false },
      transport: { ...example.transport, idempotency_key: id },
    };
    inflight.push(
      fetch(`${base}/enterprise/aispm/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(envelope),
      }).then(
        async (response) => {
          await response.arrayBuffer();
          if (response.status === 202) accepted.set(id, { t: performance.now(), counted });
          else refused.set(response.status, (refused.get(response.status) ?? 0) + 1);
        },
        (error) => {
          const reason = `network: ${error.cause?.code ?? error.message}`;
          refused.set(reason, (refused.get(reason) ?? 0) + 1);
        },
      ),
    );
  }
  await Promise.all(inflight);
  stopPolling = true;
  const deadline = Date.now() + 60_000;
  while (accepted.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const lost = accepted.size;
  accepted.clear();
  await poller;
  for (const list of Object.values(stages)) list.sort((a, b) => a - b);
  return { latencies: latencies.sort((a, b) => a - b), lost, refused: Object.fromEntries(refused), stages };
}

async function main() {
  execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-b'], { cwd: REPO, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-bench-'));
  const suffix = `${process.pid}`;
  const tenant = `benchlat-${suffix}`;
  const tenantRef = `tenant:${tenant}`;
  const database = `aispm_bench_${suffix}`;
  const gatewayPort = await freePort();
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${gatewayPort}`;
  const apiBase = `http://127.0.0.1:${apiPort}`;
  // Where each HTTP service answers, /readyz included; the workers answer on their ops port alone.
  const publicPorts = { 'ingest-gateway': gatewayPort, api: apiPort };
  const env = {
    ...process.env,
    AISPM_LOG_LEVEL: 'warn',
    AISPM_GROUP_PREFIX: `benchlat-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    AISPM_TENANT_PATTERN: `^${tenant}`,
    AISPM_TOPIC_REFRESH_MS: '500',
    CLICKHOUSE_DATABASE: database,
    GATEWAY_PORT: String(gatewayPort),
    API_PORT: String(apiPort),
  };
  const children = [];
  try {
    for (const service of SERVICES) {
      const port = publicPorts[service] ?? (await freePort());
      const child = spawn(process.execPath, [path.join(REPO, 'services', service, 'dist/main.js')], {
        env: { ...env, AISPM_OPS_PORT: publicPorts[service] ? '0' : String(port) },
        stdio: 'inherit',
      });
      children.push(child);
      await waitReady(`http://127.0.0.1:${port}/readyz`);
    }
    execFileSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), 'bootstrap'], {
      env,
      stdio: 'ignore',
    });
    const operator = readFileSync(env.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
    const admin = async (method, route, body) => {
      const response = await fetch(`${apiBase}/enterprise/aispm/admin${route}`, {
        method,
        headers: {
          authorization: `Bearer ${operator}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, body: await response.json() };
    };
    for (let i = 0; (await admin('GET', '/tenants')).status !== 200; i += 1) {
      if (i > 120) throw new Error('the API never learned the operator key');
      await new Promise((r) => setTimeout(r, 250));
    }
    await admin('POST', '/tenants', { slug: tenant, tenant_ref: tenantRef });
    const { body: collector } = await admin('POST', '/collectors', { tenant });
    const target = { base, key: collector.api_key, tenant, tenantRef, database };
    // Until every stage has subscribed to the new tenant's topics, rows cannot arrive.
    await measure(target, 5, 10);

    const results = [];
    for (const rate of RATES) results.push({ rate, ...(await measure(target, rate, SECONDS)) });
    const cores = os.cpus().length;
    const lines = [
      `# Benchmark: 202 to queryable row`,
      ``,
      `Measured by \`npm run bench:projection\` on ${os.cpus()[0].model}, ${cores} cores, Node ${process.version}, ${new Date().toISOString()}: all five services, one tenant, single-event endpoint, open-loop offered load for ${SECONDS} s per rate (first ${WARMUP_SECONDS} s not counted). Latency runs from the gateway's 202 to the first poll (every ${POLL_MS} ms) that finds the row in \`events\`, so each figure includes up to one poll interval and one query. Noisy shared machine: load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' / ')} (1 / 5 / 15 min) at the end of the run.`,
      ``,
      `| offered events/s | events measured | p50 ms | p90 ms | p99 ms | max ms | never seen in 60 s | not accepted |`,
      `| --- | --- | --- | --- | --- | --- | --- | --- |`,
      ...results.map(
        ({ rate, latencies, lost, refused }) =>
          `| ${rate} | ${latencies.length} | ${percentile(latencies, 50).toFixed(0)} | ${percentile(latencies, 90).toFixed(0)} | ${percentile(latencies, 99).toFixed(0)} | ${(latencies.at(-1) ?? 0).toFixed(0)} | ${lost} | ${JSON.stringify(refused)} |`,
      ),
      ``,
      `Where the time goes (p50 / p99 ms, from the rows' timestamps): gateway receipt to normalized record (gateway, raw topic, redactor, redacted topic, normalizer); normalized record to the projector's insert (normalized topic, projector fetch); insert start to the poller seeing the row (insert, poll).`,
      ``,
      `| offered events/s | received → normalized | normalized → insert | insert → seen |`,
      `| --- | --- | --- | --- |`,
      ...results.map(
        ({ rate, stages }) =>
          `| ${rate} | ${[stages.normalized, stages.projecting, stages.visible].map((l) => `${percentile(l, 50).toFixed(0)} / ${percentile(l, 99).toFixed(0)}`).join(' | ')} |`,
      ),
      ``,
    ];
    const table = lines.join('\n');
    const out = path.join(REPO, 'docs/benchmarks-projection.md');
    await writeMarkdown(out, table);
    process.stdout.write(`${table}\n`);
    await admin('DELETE', `/tenants/${tenant}`);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    await clickhouse(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
    const kafkaAdmin = new Kafka({
      brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await kafkaAdmin.connect();
    const mine = (await kafkaAdmin.listTopics()).filter((topic) => topic.startsWith(`aispm.${tenant}.`));
    await kafkaAdmin.deleteTopics({ topics: mine }).catch(() => {});
    await kafkaAdmin.disconnect();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
