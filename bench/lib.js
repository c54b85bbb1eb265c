/**
 * What every benchmark script shares: the machine line, load shapes (saturate, fixed open-loop
 * rate), percentiles, per-process CPU and memory readings from /proc, and starting the built
 * services with their own consumer groups, database and tenants. Benchmarks assert nothing.
 */
const { execFileSync, spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const inspector = require('node:inspector');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const { PUBLIC_EXAMPLE_PATH } = require('@aispm/contracts');

const REPO = path.resolve(__dirname, '..');
const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const SCHEMA_REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
const CLI = path.join(REPO, 'libs/cli/bin/aispm.js');
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const example = JSON.parse(readFileSync(PUBLIC_EXAMPLE_PATH, 'utf8'));

let counter = 0;
/** A valid, unsigned envelope for `tenantRef` with a fresh event id and idempotency key. */
function envelope(tenantRef, runId = process.pid) {
  counter += 1;
  const id = `evt_bench_${runId}_${counter}`;
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, probe, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {}
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const waitReady = (url) => waitFor(`${url} to answer 200`, async () => (await fetch(url)).ok);

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
        // send() may answer how many events it sent; anything else (e.g. produce metadata) is perCall.
        const sent = await send();
        events += typeof sent === 'number' ? sent : perCall;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { eps: events / elapsed, elapsed, latencies: latencies.sort((a, b) => a - b) };
}

/** Offers `rate` calls per second for `seconds` (open loop); returns the sorted latencies. */
async function fixedLoad(send, rate, seconds) {
  const latencies = [];
  const inflight = [];
  const interval = 1000 / rate;
  const start = Date.now();
  for (let i = 0; Date.now() - start < seconds * 1000; i += 1) {
    const wait = start + i * interval - Date.now();
    if (wait > 0) await sleep(wait);
    const t0 = process.hrtime.bigint();
    inflight.push(send().then(() => latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)));
  }
  await Promise.all(inflight);
  return latencies.sort((a, b) => a - b);
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Peak resident memory of a process so far, in MiB (VmHWM). */
function peakRssMiB(pid) {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/**
 * Runs `phase`; with BENCH_PROFILE_DIR set, records this process's V8 CPU profile of it into
 * `<dir>/<name>.cpuprofile` (summarize it with `node bench/profile.js FILE`).
 */
async function profiled(name, phase) {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return phase();
  const session = new inspector.Session();
  session.connect();
  const post = (method) =>
    new Promise((resolve, reject) =>
      session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await post('Profiler.stop');
    writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** One line naming the machine, for the top of a results table. */
function machine() {
  const cores = os.cpus().length;
  return `${os.cpus()[0].model}, ${cores} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString()}`;
}

/**
 * Writes a Markdown document as the repository's format check (`npm run lint`, which covers
 * docs/) wants it, so a benchmark's output can be committed as written.
 */
async function writeMarkdown(file, text) {
  const prettier = require('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  const formatted = await prettier.format(text, { ...options, filepath: file });
  writeFileSync(file, formatted);
  return formatted;
}

/** A Markdown table from a header row and rows of cells. */
function table(header, rows) {
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Starts the local servers and builds dist/, as every benchmark runs on the built services. */
function prepare() {
  execFileSync('bash', [path.join(REPO, 'deploy/local/infra.sh'), 'start'], { stdio: 'inherit' });
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
}

/**
 * The environment for one benchmark's services: its own consumer groups, ClickHouse database,
 * operator key and tenant pattern, so it never mixes with tests or a running platform.
 */
function benchEnv(name, extra = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `aispm-bench-${name}-`));
  const suffix = `${name}-${process.pid}`;
  return {
    ...process.env,
    AISPM_LOG_LEVEL: 'warn',
    AISPM_GROUP_PREFIX: `bench-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    AISPM_TENANT_PATTERN: `^b-${name}-${process.pid}`,
    AISPM_TOPIC_REFRESH_MS: '1000',
    CLICKHOUSE_DATABASE: `aispm_bench_${name.replace(/-/g, '_')}_${process.pid}`,
    GATEWAY_QUOTA_EVENTS_PER_SECOND: '10000000',
    GATEWAY_QUOTA_EVENT_BURST: '10000000',
    GATEWAY_QUOTA_BYTES_PER_SECOND: '10000000000',
    GATEWAY_QUOTA_BYTE_BURST: '10000000000',
    ...extra,
  };
}

/** Slug prefix of this run's tenants; matches `AISPM_TENANT_PATTERN` of `benchEnv(name)`. */
const tenantPrefix = (name) => `b-${name}-${process.pid}`;

function runCli(args, env) {
  return JSON.parse(execFileSync(process.execPath, [CLI, ...args, '--json'], { env, encoding: 'utf8' }));
}

/** The variable naming the public port of each service that has one. */
const PUBLIC_PORT = { 'ingest-gateway': 'GATEWAY_PORT', api: 'API_PORT' };

/**
 * Spawns a built service. `nodeArgs` go to node (e.g. --cpu-prof); its ops server answers on
 * `opsPort`. For the gateway and the API that is their public port, where they answer `/readyz`
 * too; their `/metrics` is on AISPM_OPS_PORT (from `env`, else any free port).
 */
function startService(service, env, opsPort, nodeArgs = []) {
  const portEnv = PUBLIC_PORT[service]
    ? { [PUBLIC_PORT[service]]: String(opsPort), AISPM_OPS_PORT: env.AISPM_OPS_PORT ?? '0' }
    : { AISPM_OPS_PORT: String(opsPort) };
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO, 'services', service, 'dist/main.js')], {
    env: { ...env, ...portEnv },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return { service, child, url: `http://127.0.0.1:${opsPort}` };
}

/**
 * Starts the whole platform for one benchmark: the gateway on `basePort`, the redactor,
 * normalizer and projector on the next three, the API on `basePort + 4` with its `/metrics` at
 * `apiOpsUrl` (`basePort + 5`). Wait for each of `services` to be ready before use.
 */
function startPlatform(env, basePort) {
  const gateway = startService('ingest-gateway', env, basePort);
  const workers = ['redactor', 'normalizer', 'projector'].map((service, i) =>
    startService(service, env, basePort + 1 + i),
  );
  const apiOpsUrl = `http://127.0.0.1:${basePort + 5}`;
  const api = startService('api', { ...env, AISPM_OPS_PORT: String(basePort + 5) }, basePort + 4);
  return { gateway, api, apiOpsUrl, services: [gateway, api, ...workers] };
}

/** Sends SIGTERM and waits for the exit. */
function stopService({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  return new Promise((resolve) => child.once('exit', resolve));
}

/** Calls the API's admin routes with `key`, retrying 503s; fails on another non-2xx answer. */
async function admin(apiUrl, key, method, route, body, attempts = 10) {
  const response = await fetch(`${apiUrl}/enterprise/aispm/admin${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const answer = await response.json();
  if (response.status === 503 && attempts > 1) {
    await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
    return admin(apiUrl, key, method, route, body, attempts - 1);
  }
  if (!response.ok)
    throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

/**
 * Deletes the consumer groups whose id starts with `prefix` (a benchmark's own, once its consumers
 * have left), so runs leave nothing behind on the broker.
 */
async function deleteGroups(prefix) {
  const admin = new Kafka({ brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const ours = groups.map(({ groupId }) => groupId).filter((id) => id.startsWith(prefix));
    if (ours.length > 0) await admin.deleteGroups(ours);
  } catch (error) {
    process.stderr.write(`[bench] could not delete every ${prefix}* consumer group: ${error.message}\n`);
  } finally {
    await admin.disconnect();
  }
}

/** Drops a benchmark's ClickHouse database. */
async function dropDatabase(database) {
  const response = await fetch(CLICKHOUSE_URL, {
    method: 'POST',
    body: `DROP DATABASE IF EXISTS ${database}`,
  });
  if (!response.ok) throw new Error(`DROP DATABASE ${database}: ${await response.text()}`);
}

/** Runs `aispm bootstrap` with `env` and returns the operator key it wrote. */
function bootstrap(env) {
  runCli(['bootstrap'], env);
  return readFileSync(env.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
}

/** Waits until the API knows the operator key (it arrives through the control topic). */
const awaitOperator = (apiUrl, key) =>
  waitFor('the API to accept the operator key', async () => {
    await admin(apiUrl, key, 'GET', '/tenants');
    return true;
  });

/**
 * Waits until the gateway knows collector `key`: the API answers a new collector once it has
 * applied it itself, the gateway reads it from the control topic a moment later. An empty batch
 * is refused as such (400) only once the key is known, and stores nothing.
 */
const awaitCollector = (gatewayUrl, key) =>
  waitFor('the gateway to know the collector key', async () => {
    const response = await fetch(`${gatewayUrl}/enterprise/aispm/events/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '[]',
    });
    await response.arrayBuffer();
    return response.status !== 401;
  });

module.exports = {
  REPO,
  KAFKA_BROKERS,
  SCHEMA_REGISTRY_URL,
  CLICKHOUSE_URL,
  envelope,
  percentile,
  sleep,
  waitFor,
  waitReady,
  saturate,
  fixedLoad,
  cpuSeconds,
  peakRssMiB,
  profiled,
  machine,
  table,
  writeMarkdown,
  prepare,
  benchEnv,
  tenantPrefix,
  runCli,
  startService,
  startPlatform,
  stopService,
  admin,
  deleteGroups,
  dropDatabase,
  bootstrap,
  awaitOperator,
  awaitCollector,
};
