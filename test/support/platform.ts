/**
 * Test harness for suites that run against the real servers: it starts the built services as
 * child processes with their own ports, consumer groups, database and operator key, so a suite never
 * shares state with another suite or with a platform started by `npm run up`.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signRequest } from '@aispm/auth';
import { ClickHouse } from '@aispm/clickhouse';
import { Kafka, logLevel } from 'kafkajs';
import { spawnTracked } from './reaper';

export { publicExampleEnvelope as exampleEnvelope } from './fixtures';

export const REPO = path.resolve(__dirname, '../..');
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
export const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
export const SCHEMA_REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

export const SERVICES = ['ingest-gateway', 'api', 'redactor', 'normalizer', 'projector'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** A random suffix for tenant slugs, databases and group ids. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Whether nothing listens on `port` of the loopback interface now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** How many ports each jest worker draws from, in 10000–19999. */
const PORT_SLICE = 1000;
/**
 * Ports of that range on the Fetch standard's list of bad ports, which Node's fetch and every
 * browser refuse to connect to ("bad port", ERR_UNSAFE_PORT): a service there never looks ready.
 */
const BAD_PORTS = new Set([10080]);
let lastPort: number | undefined;

/**
 * A port nothing listens on, for a service or server a test starts. TRICKY: not `listen(0)`.
 * Its ports come from the kernel's ephemeral range, which the kernel also hands to outgoing
 * connections (a run opens thousands to Kafka and ClickHouse) and to every other `listen(0)` of
 * the parallel suites, all in the moment between choosing the port and the service binding it.
 * In a clean-clone run of 3 Dec a service exited with EADDRINUSE on such a port and its suite
 * waited in vain for the events it never handled. These come from 10000–19999, below the
 * ephemeral range and the private Kafka's ports (20000 and up), each jest worker from its own
 * slice, so suites running in parallel never draw the same port.
 */
export async function freePort(): Promise<number> {
  const low = 10_000 + ((Number(process.env.JEST_WORKER_ID ?? 1) - 1) % 10) * PORT_SLICE;
  for (let attempt = 0; attempt < PORT_SLICE; attempt += 1) {
    const offset = lastPort === undefined ? Math.floor(Math.random() * PORT_SLICE) : lastPort - low + 1;
    lastPort = low + (offset % PORT_SLICE);
    if (!BAD_PORTS.has(lastPort) && (await portIsFree(lastPort))) return lastPort;
  }
  throw new Error(`no free port in ${low}–${low + PORT_SLICE - 1}`);
}

/** Thrown by a probe of {@link eventually} when waiting longer cannot help. */
export class WaitingIsFutile extends Error {}

/**
 * Polls `probe` until it returns a value, or fails after `timeoutMs` with `what`, or at once when
 * the probe throws {@link WaitingIsFutile}.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  pollMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof WaitingIsFutile) throw new Error(`Gave up waiting for ${what}: ${error.message}`);
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`Timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** A ClickHouse client as the services' user. */
export function clickhouse(url = CLICKHOUSE_URL): ClickHouse {
  return new ClickHouse({ url, username: 'default', password: '' });
}

/** A running set of the services for one test suite, with one tenant and collector. */
export interface Pipeline {
  /** The collectors' edge: events, batches, OTLP, webhooks. */
  readonly gatewayUrl: string;
  /** The readers' and administrators' API: reads, stream, health, replay log, admin, console. */
  readonly apiUrl: string;
  readonly database: string;
  readonly tenant: string;
  readonly tenantRef: string;
  /** The collector key of `tenant`. */
  readonly apiKey: string;
  readonly collectorId: string;
  /** The collector's signing secret (it requires signed requests). */
  readonly signingSecret: string;
  /** A platform operator key made for this suite. */
  readonly operatorKey: string;
  /** Slugs this suite's workers serve: `tenant` and any slug that starts with it. */
  readonly tenantPrefix: string;
  readonly processes: ReadonlyMap<ServiceName, ChildProcess>;
  readonly opsUrls: ReadonlyMap<ServiceName, string>;
  /** The environment the services run with, to start more instances. */
  readonly env: NodeJS.ProcessEnv;
  /** Starts `service` again with its own environment and port (after it died or was killed). */
  respawn(service: ServiceName): Promise<void>;
  /** Calls the admin API; returns status and JSON body. */
  admin(
    method: string,
    path: string,
    body?: object,
    key?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** One stored record as bytes: its key, its headers and its value. */
export interface StoredRecord {
  readonly key: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | string | undefined>>;
  readonly value: Buffer;
}

/**
 * Every record stored in `topic` now (read committed), as raw bytes. The end is where three
 * fetches in a row bring nothing: transaction markers take offsets, so the high watermark alone
 * does not say when the last record has been read.
 */
export async function readTopic(topic: string): Promise<StoredRecord[]> {
  const kafka = new Kafka({
    clientId: 'test-scan',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `test-scan-${randomBytes(6).toString('hex')}`,
    maxWaitTimeInMs: 200,
  });
  const values: StoredRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      let emptyFetches = 0;
      let received = 0;
      let seenAtLastFetch = 0;
      consumer.on(consumer.events.FETCH, () => {
        emptyFetches = received === seenAtLastFetch ? emptyFetches + 1 : 0;
        seenAtLastFetch = received;
        if (emptyFetches >= 3) resolve();
      });
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received += 1;
            values.push({
              key: message.key,
              headers: (message.headers ?? {}) as StoredRecord['headers'],
              value: message.value ?? Buffer.alloc(0),
            });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

/** Runs the built CLI (with `input` on its stdin) and returns its JSON output. */
export function cli(args: string[], env: NodeJS.ProcessEnv, input?: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [path.join(REPO, 'libs/cli/bin/aispm.js'), ...args, '--json'], {
    env,
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
  });
  return JSON.parse(out) as Record<string, unknown>;
}

/**
 * Starts one built service with `env`; its ops routes answer on `port` (for the gateway and the
 * API, their public port will do too: they answer `/healthz` and `/readyz` there, though not
 * `/metrics`).
 */
export function spawnService(
  service: ServiceName,
  env: NodeJS.ProcessEnv,
  port: number,
): { child: ChildProcess; opsUrl: string } {
  const child = spawnTracked(process.execPath, [path.join(REPO, 'services', service, 'dist/main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  keepTail(service, child);
  return { child, opsUrl: `http://127.0.0.1:${port}` };
}

/** How many of a service's last output lines a failure report carries. */
const TAIL_LINES = 4;
const tails = new WeakMap<ChildProcess, string[]>();

/** Passes the child's output on to the suite's, keeping its last lines for {@link recentOutput}. */
function keepTail(service: ServiceName, child: ChildProcess): void {
  const tail: string[] = [];
  tails.set(child, tail);
  const keep = (into: NodeJS.WriteStream) => (chunk: Buffer) => {
    into.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      tail.push(`${service}: ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  child.stdout?.on('data', keep(process.stdout));
  child.stderr?.on('data', keep(process.stderr));
}

/**
 * The last lines the services in `children` printed (at the suite's log level, warnings and
 * errors), for the message of a failure: CI keeps only the tail of a long log, where the failed
 * tests are listed, and a start-up that failed says there what the services were stuck on.
 */
export function recentOutput(children: Iterable<ChildProcess>): string {
  const lines = [...children].flatMap((child) => tails.get(child) ?? []);
  return lines.length === 0 ? '' : `\nThe services' last output:\n${lines.join('\n')}`;
}

/** What listens on `port`, and what process `pid` listens on (`ss`), for a report. */
function listeners(pid: number, port: number): string {
  try {
    return execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(`:${port} `) || line.includes(`pid=${pid},`))
      .join('\n');
  } catch (error) {
    return `ss failed: ${String(error)}`;
  }
}

/**
 * Resolves once the service's /readyz answers 200, asking every `pollMs`, with the reasons it gave
 * for not being ready before that (each once, in order); fails if the process exits first.
 */
export async function awaitReady(
  service: string,
  child: ChildProcess,
  opsUrl: string,
  timeoutMs = 120_000,
  pollMs?: number,
): Promise<string[]> {
  // A loaded machine (the whole suite at once) can keep a start-up waiting on Kafka or the
  // registry for a while; the last /readyz answer says what it was waiting for.
  let lastAnswer: unknown;
  const reasons: string[] = [];
  await eventually(
    `${service} to be ready`,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new WaitingIsFutile(`${service} exited with ${child.exitCode ?? child.signalCode}`);
      // Bounded, so a process that accepts the connection and never answers (a blocked event
      // loop) is reported as such instead of holding the wait past the suite's timeout.
      const response = await fetch(`${opsUrl}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(
        (error: Error) => {
          throw new Error(
            `fetch failed: ${String((error.cause as { code?: string })?.code ?? error.cause ?? error)}`,
          );
        },
      );
      if (response.ok) return true;
      lastAnswer = await response.json().catch(() => response.status);
      const { reason } = (lastAnswer ?? {}) as { reason?: unknown };
      if (typeof reason === 'string' && reasons.at(-1) !== reason) reasons.push(reason);
      throw new Error(`/readyz answered ${JSON.stringify(lastAnswer)}`);
    },
    timeoutMs,
    pollMs,
  );
  return reasons;
}

/**
 * How ClickHouse at `url` answers a login: `in`, or `refused` when it names an authentication
 * failure. Anything else (the local server restarting to read its users) is thrown, so a wait
 * for a refusal is never satisfied by an outage.
 */
export async function clickhouseLogin(
  url: string,
  user: string,
  password: string,
): Promise<'in' | 'refused'> {
  const ch = new ClickHouse({ url, username: user, password });
  try {
    await ch.query('SELECT 1');
    return 'in';
  } catch (error) {
    if (/AUTHENTICATION_FAILED|Authentication failed/.test(String(error))) return 'refused';
    throw error;
  } finally {
    await ch.close();
  }
}

/** Sends SIGTERM and resolves when the process has exited. */
export function stopProcess(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts the built services, then creates a tenant and a collector through the admin API. `env`
 * overrides settings of every service (e.g. another Kafka or ClickHouse, a short health
 * interval); the suite's cleanup then uses the same servers.
 */
export async function startPipeline(
  env: NodeJS.ProcessEnv = {},
  options: { readonly tenantPartitions?: number } = {},
): Promise<Pipeline> {
  const brokers = env.KAFKA_BROKERS ?? KAFKA_BROKERS;
  const clickhouseUrl = env.CLICKHOUSE_URL ?? CLICKHOUSE_URL;
  const suffix = uniqueSuffix();
  const tenant = `t-${suffix}`;
  const tenantRef = `tenant:test-${suffix}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aispm-test-'));
  const database = `aispm_test_${suffix}`;
  const gatewayPort = await freePort();
  const apiPort = await freePort();
  const common = {
    ...process.env,
    AISPM_LOG_LEVEL: process.env.AISPM_LOG_LEVEL ?? 'warn',
    AISPM_GROUP_PREFIX: `test-${suffix}`,
    AISPM_OPERATOR_KEY_FILE: path.join(dir, 'operator.key'),
    AISPM_KMS_MASTER_KEY_FILE: path.join(dir, 'kms', 'master.key'),
    AISPM_TOPIC_REFRESH_MS: '500',
    // Only this suite's tenants: other suites' topics share the broker.
    AISPM_TENANT_PATTERN: `^${tenant}`,
    AISPM_RETENTION_INTERVAL_MS: '1000',
    KAFKA_BROKERS: brokers,
    CLICKHOUSE_URL: clickhouseUrl,
    SCHEMA_REGISTRY_URL,
    CLICKHOUSE_DATABASE: database,
    GATEWAY_PORT: String(gatewayPort),
    API_PORT: String(apiPort),
    AISPM_URL: `http://127.0.0.1:${gatewayPort}`,
    AISPM_API_URL: `http://127.0.0.1:${apiPort}`,
    // Extra instances a suite starts with this environment get an ops port of their own.
    AISPM_OPS_PORT: '0',
    ...env,
  };
  const processes = new Map<ServiceName, ChildProcess>();
  const opsUrls = new Map<ServiceName, string>();
  const ports = new Map<ServiceName, number>();
  try {
    return await provision();
  } catch (error) {
    // Never leave services behind: jest would wait on them forever.
    await Promise.all([...processes.values()].map(stopProcess));
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}${recentOutput(processes.values())}`,
      {
        cause: error,
      },
    );
  }

  function launch(service: ServiceName): void {
    const port = ports.get(service)!;
    const started = spawnService(service, { ...common, AISPM_OPS_PORT: String(port) }, port);
    processes.set(service, started.child);
    opsUrls.set(service, started.opsUrl);
  }

  /**
   * Waits for `service` to be ready; one that is alive but has not opened its ops port in a
   * minute is reported (what listens on that port, what the process listens on) and started
   * once more on another port. Two clean-clone runs saw a worker whose ops port stayed closed
   * while the process lived on; the report is there to tell why when it happens again.
   */
  async function readyOrRelaunched(service: ServiceName): Promise<void> {
    try {
      await awaitReady(service, processes.get(service)!, opsUrls.get(service)!, 60_000);
      return;
    } catch (error) {
      const child = processes.get(service)!;
      if (child.exitCode !== null || !String(error).includes('fetch failed')) throw error;
      process.stderr.write(
        `[platform] ${service} (pid ${child.pid}) not answering on port ${ports.get(service)}: ${String(error)}\n${listeners(child.pid!, ports.get(service)!)}\n`,
      );
      await stopProcess(child);
      ports.set(service, await freePort());
      launch(service);
      await awaitReady(service, processes.get(service)!, opsUrls.get(service)!);
    }
  }

  async function provision(): Promise<Pipeline> {
    for (const service of SERVICES) {
      ports.set(service, await freePort());
      launch(service);
    }
    await Promise.all(SERVICES.map(readyOrRelaunched));
    cli(['bootstrap'], common);
    const operatorKey = readFileSync(common.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const admin: Pipeline['admin'] = async (method, route, body, key = operatorKey) => {
      const response = await fetch(`${apiUrl}/enterprise/aispm/admin${route}`, {
        signal: AbortSignal.timeout(30_000),
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    // The operator record reaches the API through the control topic, within a moment.
    await eventually('the API to know the operator key', async () =>
      (await admin('GET', '/tenants')).status === 200 ? true : undefined,
    );
    const created = await admin('POST', '/tenants', {
      slug: tenant,
      tenant_ref: tenantRef,
      ...(options.tenantPartitions === undefined ? {} : { partitions: options.tenantPartitions }),
    });
    if (created.status !== 201)
      throw new Error(`creating the test tenant failed: ${JSON.stringify(created)}`);
    const collector = await admin('POST', '/collectors', { tenant, require_signature: true });
    if (collector.status !== 201)
      throw new Error(`creating the test collector failed: ${JSON.stringify(collector)}`);
    return {
      gatewayUrl,
      apiUrl,
      database,
      tenant,
      tenantRef,
      apiKey: String(collector.body.api_key),
      signingSecret: String(collector.body.signing_secret),
      collectorId: String(collector.body.collector_id),
      operatorKey,
      tenantPrefix: tenant,
      processes,
      opsUrls,
      env: common,
      async respawn(service) {
        const old = processes.get(service)!;
        if (old.exitCode === null && old.signalCode === null) await stopProcess(old);
        launch(service);
        await awaitReady(service, processes.get(service)!, opsUrls.get(service)!);
      },
      admin,
      async stop() {
        // Delete this suite's tenants through the API first, so the shared control topic
        // does not keep their collectors (keys, scopes, claims) for later suites.
        try {
          const { body } = await admin('GET', '/tenants');
          for (const { slug } of (body.tenants as { slug: string }[] | undefined) ?? []) {
            if (slug.startsWith(tenant)) await admin('DELETE', `/tenants/${slug}`);
          }
        } catch (error) {
          // Cleaning up is best effort; stopping the services below must happen regardless.
          process.stderr.write(`test cleanup: deleting tenants failed: ${String(error)}\n`);
        }
        await Promise.all([...processes.values()].map(stopProcess));
        const ch = clickhouse(clickhouseUrl);
        // The deleted tenants' dashboard users are revoked too: the local server restarts to
        // read that, a moment later, and refuses connections while it does.
        await eventually('the suite database dropped', async () => {
          await ch.command(`DROP DATABASE IF EXISTS ${database}`);
          return true;
        });
        await ch.close();
        const kafkaAdmin = new Kafka({
          clientId: 'test-cleanup',
          brokers: brokers.split(','),
          logLevel: logLevel.NOTHING,
        }).admin();
        await kafkaAdmin.connect();
        const mine = (await kafkaAdmin.listTopics()).filter((topic) => topic.startsWith(`aispm.${tenant}`));
        await kafkaAdmin.deleteTopics({ topics: mine });
        await kafkaAdmin.disconnect();
      },
    };
  }
}

/**
 * Creates tenant `slug` of `pipeline` with a collector that needs no signature; returns the
 * collector's id and key. Kafka may briefly refuse new topics right after others were deleted:
 * the API answers 503 then, and the create is retried.
 */
export async function tenantWithCollector(
  pipeline: Pick<Pipeline, 'admin'>,
  slug: string,
  tenantRef: string,
): Promise<{ id: string; key: string }> {
  await eventually(`tenant ${slug} created`, async () => {
    const created = await pipeline.admin('POST', '/tenants', { slug, tenant_ref: tenantRef });
    if (created.status === 503) return undefined;
    if (created.status !== 201) throw new Error(`creating ${slug} answered ${JSON.stringify(created)}`);
    return true;
  });
  const collector = await pipeline.admin('POST', '/collectors', { tenant: slug });
  if (collector.status !== 201)
    throw new Error(`creating a collector of ${slug} answered ${collector.status}`);
  return { id: String(collector.body.collector_id), key: String(collector.body.api_key) };
}

/**
 * POSTs `body` (an object, or exact bytes) to the gateway with a collector key; with `secret`
 * the request is signed (v1 scheme). Returns the status, headers and parsed JSON answer.
 */
export async function postToGateway(
  gatewayUrl: string,
  path: string,
  key: string,
  body: object | Buffer,
  options: { secret?: string; contentType?: string; contentEncoding?: string; timestamp?: number } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    'content-type': options.contentType ?? 'application/json',
  };
  if (options.contentEncoding) headers['content-encoding'] = options.contentEncoding;
  if (options.secret) {
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    headers['x-aispm-timestamp'] = String(timestamp);
    headers['x-aispm-signature'] = signRequest({
      secret: options.secret,
      timestamp,
      method: 'POST',
      path,
      body: bytes,
    });
  }
  const response = await fetch(`${gatewayUrl}${path}`, { method: 'POST', headers, body: bytes });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The HTTP services a suite starts more instances of, and the variable naming each one's port. */
const PUBLIC_PORT_VARIABLE = { 'ingest-gateway': 'GATEWAY_PORT', api: 'API_PORT' } as const;
export type HttpService = keyof typeof PUBLIC_PORT_VARIABLE;

/** One more instance of an HTTP service: its public URL, and its ops port's (which serves `/metrics`). */
export interface ExtraInstance {
  readonly child: ChildProcess;
  readonly url: string;
  readonly opsUrl: string;
}

/** Starts one more `service` of `pipeline` on free ports, with `env` on top of the pipeline's. */
export async function startExtraInstance(
  service: HttpService,
  pipeline: Pick<Pipeline, 'env'>,
  env: NodeJS.ProcessEnv = {},
): Promise<ExtraInstance> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const { child, opsUrl } = spawnService(
    service,
    {
      ...pipeline.env,
      ...env,
      [PUBLIC_PORT_VARIABLE[service]]: String(port),
      AISPM_OPS_PORT: String(opsPort),
    },
    opsPort,
  );
  await awaitReady(`extra ${service}`, child, opsUrl);
  return { child, url: `http://127.0.0.1:${port}`, opsUrl };
}

/** Starts one more gateway: the collectors' edge. */
export const startExtraGateway = (pipeline: Pick<Pipeline, 'env'>, env?: NodeJS.ProcessEnv) =>
  startExtraInstance('ingest-gateway', pipeline, env);

/** Starts one more API: reads, stream, administration, console. */
export const startExtraApi = (pipeline: Pick<Pipeline, 'env'>, env?: NodeJS.ProcessEnv) =>
  startExtraInstance('api', pipeline, env);
