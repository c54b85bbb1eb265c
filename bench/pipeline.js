#!/usr/bin/env node
/**
 * The full pipeline next to its limit (DESIGN §14): events POSTed to the gateway, through the
 * redactor, normalizer and projector into ClickHouse, against a KafkaJS pass-through chain
 * (consume, produce unchanged) over the same kind of topics fed by a bare producer. Then:
 * end-to-end latency at half the sustained rate (202 → row queryable) with 1 and with 100 tenants,
 * how throughput and CPU per event grow with 1, 10, 100 and 1,000 tenants and with 1 to 3
 * instances of each consumer service, and overload: twice the sustainable rate against a tenant
 * quota set to it, counting 202, 429 and 503 answers and the gateway's peak memory.
 *
 * "Sustained" is the events sent during the load window divided by the time until the last of
 * them is queryable, so a backlog a stage builds up counts against it.
 */
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const bench = require('./lib');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = 100;
/**
 * Events per request with `tenants` tenants: 100, fewer once there are so many tenants that
 * batches of 100 would leave most of them without a request in the window.
 */
const batchFor = (tenants) => Math.max(10, Math.min(BATCH, Math.floor(20_000 / tenants)));
const CONCURRENCY = 4;
/**
 * Clients sending at once with batches of `size`: the same events in flight as CONCURRENCY
 * clients of full batches, so spreading the load over more tenants (smaller batches) offers the
 * same load, as more collectors would, instead of a fifth of it.
 */
const clientsFor = (size) => Math.round((CONCURRENCY * BATCH) / size);
const GATEWAY_PORT = Number(process.env.BENCH_PIPELINE_PORT ?? 18997);
/** Below the gateway's port: the workers take the ports above it. */
const API_PORT = GATEWAY_PORT - 50;
const WORKERS = ['redactor', 'normalizer', 'projector'];
const TENANT_STEPS = (process.env.BENCH_TENANT_STEPS ?? '1,10,100,1000').split(',').map(Number);
/** The tenants the instance steps and the second latency run spread their load over. */
const SCALED_TENANTS = Number(process.env.BENCH_SCALED_TENANTS ?? 100);
const INSTANCE_STEPS = (process.env.BENCH_INSTANCE_STEPS ?? '1,2,3').split(',').map(Number);

const { ClickHouse } = require(path.join(bench.REPO, 'libs/clickhouse/dist'));

/** With BENCH_PROFILE_DIR set, node arguments writing a service's CPU profile to `<dir>/<name>/`. */
const cpuProfile = (name) =>
  process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.BENCH_PROFILE_DIR, name)}`]
    : [];

/** Tenants created or deleted at once. */
const ADMIN_CONCURRENCY = 8;

/** `work` over `items`, `concurrency` at a time; the results in the items' order. */
async function inParallel(items, concurrency, work) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/**
 * The platform under test: one gateway, `instances` of each worker, tenants made on demand through
 * one API (outside the data path, so not measured).
 */
class Platform {
  constructor(env) {
    this.env = env;
    this.workers = [];
    this.tenants = [];
    this.nextOpsPort = GATEWAY_PORT + 1;
    this.clickhouse = new ClickHouse({ url: bench.CLICKHOUSE_URL, username: 'default', password: '' });
  }

  async start() {
    bench.runCli(['migrate'], this.env);
    this.gateway = bench.startService('ingest-gateway', this.env, GATEWAY_PORT, cpuProfile('ingest-gateway'));
    this.api = bench.startService('api', this.env, API_PORT);
    await Promise.all([this.gateway, this.api].map((service) => bench.waitReady(`${service.url}/readyz`)));
    this.operator = bench.bootstrap(this.env);
    await bench.awaitOperator(this.api.url, this.operator);
  }

  async scaleWorkers(instances) {
    await Promise.all(this.workers.map(bench.stopService));
    this.workers = [];
    // New processes: every tenant is cold again for them.
    for (const tenant of this.tenants) tenant.warm = false;
    // Each instance gets an id of its own, as in production (logs, metrics and client ids).
    for (let i = 0; i < instances; i += 1)
      for (const service of WORKERS)
        this.workers.push(
          bench.startService(
            service,
            { ...this.env, AISPM_INSTANCE_ID: `${service}-${i}` },
            (this.nextOpsPort += 1),
            cpuProfile(`${service}-${i}`),
          ),
        );
    await Promise.all(this.workers.map((worker) => bench.waitReady(`${worker.url}/readyz`)));
  }

  /** Makes tenants until there are `count`, each with a collector key, a few at a time. */
  async ensureTenants(count) {
    const indexes = Array.from({ length: count - this.tenants.length }, (_, i) => this.tenants.length + i);
    const made = await inParallel(indexes, ADMIN_CONCURRENCY, async (index) => {
      const slug = `${bench.tenantPrefix('pl')}-${index}`;
      const tenantRef = `tenant:${slug}`;
      await bench.admin(this.api.url, this.operator, 'POST', '/tenants', { slug, tenant_ref: tenantRef });
      const { api_key: key } = await bench.admin(this.api.url, this.operator, 'POST', '/collectors', {
        tenant: slug,
      });
      await bench.awaitCollector(this.gateway.url, key);
      return { slug, tenantRef, key };
    });
    this.tenants.push(...made);
  }

  /** POSTs `size` events for tenant `index % count`; returns the answer's status and event ids. */
  async post(index, count, size) {
    const tenant = this.tenants[index % count];
    const events = Array.from({ length: size }, () => bench.envelope(tenant.tenantRef));
    const response = await fetch(`${this.gateway.url}/enterprise/aispm/events/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    await response.arrayBuffer();
    return { status: response.status, ids: events.map((event) => event.event.event_id) };
  }

  async projectedCount() {
    const [row] = await this.clickhouse.query(
      `SELECT count() AS n FROM (SELECT DISTINCT idempotency_key FROM ${this.env.CLICKHOUSE_DATABASE}.events)`,
    );
    return Number(row.n);
  }

  /**
   * Sends one batch to each of the first `count` tenants not sent to yet and waits until it is
   * stored: a tenant's first events cost what later ones do not (its redaction profile compiled,
   * its data key unwrapped, its topics subscribed to), and the steps measure the steady state.
   */
  async warmUp(count) {
    const before = await this.projectedCount();
    const cold = this.tenants.slice(0, count).filter((tenant) => !tenant.warm);
    await inParallel(cold, CONCURRENCY, async (tenant) => {
      const { status } = await this.post(this.tenants.indexOf(tenant), this.tenants.length, 1);
      if (status !== 202) throw new Error(`warm-up batch answered ${status}`);
      tenant.warm = true;
    });
    await bench.waitFor(
      'the warm-up events to be projected',
      async () => (await this.projectedCount()) >= before + cold.length,
      900_000,
    );
  }

  /** CPU seconds each service's processes (all instances) have used so far. */
  cpuByService() {
    const cpu = new Map();
    for (const { service, child } of [this.gateway, ...this.workers])
      cpu.set(service, (cpu.get(service) ?? 0) + bench.cpuSeconds(child.pid));
    return cpu;
  }

  /**
   * Two passes of the same load over `count` tenants; the step is the second. The first is the
   * tenants' first real load, which costs more: on the broker, the first writes into each new
   * partition (at 1,000 tenants its CPU per event fell from 7,800 µs in the first 20 s of load to
   * 700 µs by the third). Its rate is reported beside the step, as `firstEps`.
   */
  async sustained(count) {
    await this.warmUp(count);
    const first = await this.pass(count);
    return { ...(await this.pass(count)), firstEps: first.eps };
  }

  /**
   * Sends batches for `count` tenants at saturation for `SECONDS`; returns the sustained rate and
   * the CPU microseconds per event of each service, from the first request until the last event
   * is queryable.
   */
  async pass(count) {
    const size = batchFor(count);
    const before = await this.projectedCount();
    const cpuBefore = this.cpuByService();
    const started = Date.now();
    let sent = 0;
    let calls = 0;
    await bench.saturate(
      async () => {
        const { status } = await this.post((calls += 1), count, size);
        if (status !== 202) throw new Error(`batch answered ${status}`);
        sent += size;
      },
      size,
      SECONDS,
      clientsFor(size),
    );
    const sendingEnded = Date.now();
    await bench.waitFor(
      'every sent event to be projected',
      async () => (await this.projectedCount()) >= before + sent,
      900_000,
    );
    const eps = (sent / (Date.now() - started)) * 1000;
    // Which side holds the rate back: the gateway's answers, or the stages draining after them.
    const acceptedEps = (sent / (sendingEnded - started)) * 1000;
    const drainMs = Date.now() - sendingEnded;
    const cpuUs = new Map(
      [...this.cpuByService()].map(([service, seconds]) => [
        service,
        ((seconds - cpuBefore.get(service)) / sent) * 1e6,
      ]),
    );
    return { eps, size, clients: clientsFor(size), cpuUs, acceptedEps, drainMs };
  }

  /** Offers `rate` events/s in batches of 10 over `count` tenants; latency from 202 to queryable. */
  async latency(rate, count = 1) {
    this.latencyDone = false;
    const run = `lat${count}x`;
    let calls = 0;
    const accepted = new Map();
    const refused = new Map();
    const size = 10;
    const polling = (async () => {
      const seen = new Map();
      let doneAt;
      for (;;) {
        const rows = await this.clickhouse.query(
          `SELECT DISTINCT event_id FROM ${this.env.CLICKHOUSE_DATABASE}.events WHERE event_id LIKE 'evt_bench_${run}%'`,
        );
        const now = Date.now();
        for (const { event_id: id } of rows) if (!seen.has(id)) seen.set(id, now);
        if (this.latencyDone) {
          doneAt ??= now;
          if ([...accepted.keys()].every((id) => seen.has(id))) return seen;
          if (now - doneAt > 300_000) throw new Error('accepted latency events were not all stored in 5 min');
        }
        await bench.sleep(50);
      }
    })();
    await bench.fixedLoad(
      async () => {
        const tenant = this.tenants[(calls += 1) % count];
        const events = Array.from({ length: size }, () => bench.envelope(tenant.tenantRef, run));
        const response = await fetch(`${this.gateway.url}/enterprise/aispm/events/batch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        await response.arrayBuffer();
        const at = Date.now();
        if (response.status !== 202) refused.set(response.status, (refused.get(response.status) ?? 0) + 1);
        else for (const event of events) accepted.set(event.event.event_id, at);
      },
      Math.max(1, Math.round(rate / size)),
      SECONDS,
    );
    this.latencyDone = true;
    const seen = await polling;
    const waits = [...accepted].map(([id, at]) => seen.get(id) - at).sort((a, b) => a - b);
    return { waits, refused };
  }

  async stop() {
    // Deleting a tenant drops its topics; the benchmark leaves nothing behind on the broker.
    await inParallel(this.tenants, ADMIN_CONCURRENCY, ({ slug }) =>
      bench.admin(this.api.url, this.operator, 'DELETE', `/tenants/${slug}`).catch(() => undefined),
    );
    await Promise.all([...this.workers, this.gateway, this.api].filter(Boolean).map(bench.stopService));
    await this.clickhouse.command(`DROP DATABASE IF EXISTS ${this.env.CLICKHOUSE_DATABASE}`);
    await this.clickhouse.close();
    await bench.deleteGroups(`${this.env.AISPM_GROUP_PREFIX}-`);
  }
}

/**
 * The limit: a bare producer writes the gateway's wire bytes to a raw topic at saturation while
 * three KafkaJS consumer-producers copy raw → redacted → normalized and a fourth consumer counts.
 */
async function passThrough(slug) {
  const kafka = new Kafka({
    brokers: bench.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
    clientId: 'bench-pass',
  });
  const { StageCodec } = require(path.join(bench.REPO, 'libs/kafka/dist'));
  const codec = new StageCodec(bench.SCHEMA_REGISTRY_URL);
  await codec.register(['envelope.v1']);
  const stages = ['raw', 'redacted', 'normalized'].map((stage) => `aispm.${slug}.pass-${stage}`);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [...stages, `aispm.${slug}.pass-sink`].map((topic) => ({ topic })) });
  const consumers = [];
  let counted = 0;
  for (const [i, from] of stages.entries()) {
    const to = stages[i + 1];
    const producer = to ? kafka.producer({ idempotent: true }) : undefined;
    await producer?.connect();
    const consumer = kafka.consumer({ groupId: `bench-pass-${process.pid}-${i}` });
    await consumer.connect();
    await consumer.subscribe({ topic: from, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (producer)
          await producer.send({
            topic: to,
            acks: -1,
            messages: batch.messages.map(({ key, value, headers }) => ({ key, value, headers })),
          });
        else counted += batch.messages.length;
      },
    });
    consumers.push({ consumer, producer });
  }
  const producer = kafka.producer();
  await producer.connect();
  const payloads = await Promise.all(
    Array.from({ length: BATCH }, () => codec.encode('envelope.v1', bench.envelope(`tenant:${slug}`))),
  );
  const messages = payloads.map((value, i) => ({ key: `sess_${i}`, value }));
  const started = Date.now();
  let sent = 0;
  await bench.saturate(
    async () => {
      await producer.send({ topic: stages[0], acks: -1, messages });
      sent += BATCH;
    },
    BATCH,
    SECONDS,
    CONCURRENCY,
  );
  await bench.waitFor('the pass-through chain to drain', async () => counted >= sent, 600_000);
  const eps = (sent / (Date.now() - started)) * 1000;
  await producer.disconnect();
  for (const { consumer, producer: stageProducer } of consumers) {
    await consumer.disconnect();
    await stageProducer?.disconnect();
  }
  await admin.deleteTopics({ topics: [...stages, `aispm.${slug}.pass-sink`] });
  await admin.disconnect();
  await bench.deleteGroups(`bench-pass-${process.pid}-`);
  return eps;
}

/** Twice the sustainable rate against a per-tenant quota at that rate, for `SECONDS`. */
async function overload(platform, sustainable) {
  const statuses = new Map();
  const size = 10;
  await bench.fixedLoad(
    async () => {
      const { status } = await platform.post(0, 1, size);
      statuses.set(status, (statuses.get(status) ?? 0) + size);
    },
    Math.max(1, Math.round((2 * sustainable) / size)),
    SECONDS,
  );
  return statuses;
}

/** A finished step on stderr, so a long run shows how far it got. */
function progress({ cpuUs, ...step }) {
  process.stderr.write(
    `[bench] pipeline step ${JSON.stringify({ ...step, cpuUs: Object.fromEntries(cpuUs) })}\n`,
  );
}

async function run() {
  const sections = [];
  const passEps = await passThrough(`${bench.tenantPrefix('pl')}-limit`);

  const env = bench.benchEnv('pl');
  const platform = new Platform(env);
  const scaling = [];
  let baseline;
  let latencies;
  let scaledLatencies;
  try {
    await platform.start();
    await platform.scaleWorkers(1);
    for (const tenants of TENANT_STEPS) {
      await platform.ensureTenants(tenants);
      const step = await platform.sustained(tenants);
      scaling.push({ tenants, instances: 1, ...step });
      progress({ tenants, instances: 1, ...step });
      if (tenants === TENANT_STEPS[0]) {
        baseline = step.eps;
        latencies = await platform.latency(step.eps / 2);
      }
      if (tenants !== SCALED_TENANTS) continue;
      scaledLatencies = await platform.latency(step.eps / 2, tenants);
      for (const instances of INSTANCE_STEPS.filter((n) => n > 1)) {
        await platform.scaleWorkers(instances);
        const scaled = await platform.sustained(tenants);
        scaling.push({ tenants, instances, ...scaled });
        progress({ tenants, instances, ...scaled });
      }
      await platform.scaleWorkers(1);
    }
  } finally {
    await platform.stop();
  }

  // Overload runs against a gateway whose tenant quota is the sustainable rate.
  const quotaEnv = bench.benchEnv('ol', {
    GATEWAY_QUOTA_EVENTS_PER_SECOND: String(Math.round(baseline)),
    GATEWAY_QUOTA_EVENT_BURST: String(Math.round(baseline)),
  });
  const limited = new Platform(quotaEnv);
  let statuses;
  let gatewayPeak;
  try {
    await limited.start();
    await limited.ensureTenants(1);
    statuses = await overload(limited, baseline);
    gatewayPeak = bench.peakRssMiB(limited.gateway.child.pid);
  } finally {
    await limited.stop();
  }

  const ms = (sorted, p) => bench.percentile(sorted, p).toFixed(0);
  const latencyLine = ({ waits, refused }, tenants, eps) =>
    `End-to-end latency, 202 → row queryable, at half the sustained rate with ${tenants} tenant(s) (${Math.round(eps / 2)} events/s offered, batches of 10, ${waits.length} events): p50 ${ms(waits, 50)} ms, p99 ${ms(waits, 99)} ms, p99.9 ${ms(waits, 99.9)} ms (target p99 < 2000 ms)` +
    (refused.size === 0
      ? '.'
      : `; requests refused: ${[...refused].map(([status, n]) => `${n} × ${status}`).join(', ')} (their events not measured).`);
  const services = ['ingest-gateway', ...WORKERS];
  const scaledStep = scaling.find((step) => step.tenants === SCALED_TENANTS && step.instances === 1);
  sections.push(
    `## Pipeline (\`npm run bench:pipeline\`)`,
    ``,
    `Gateway → redactor → normalizer → projector → ClickHouse, batches of ${BATCH} events (fewer per request with 1,000 tenants, so every tenant sends in the window) from ${CONCURRENCY} clients for ${SECONDS} s (with smaller batches, more clients, so the same events are in flight), round-robin over the tenants; sustained = events sent / time until the last one is queryable. Each step runs the load twice and measures the second; the first, the tenants' first load after one warm-up batch each, is shown beside it.`,
    ``,
    bench.table(
      ['Path', 'events/s sustained', 'ratio to the limit'],
      [
        [
          'KafkaJS pass-through chain, bare producer → 3 hops → counter (the limit)',
          Math.round(passEps),
          '1.00',
        ],
        [
          'aispm pipeline, 1 tenant, 1 instance per stage',
          Math.round(baseline),
          (baseline / passEps).toFixed(2),
        ],
      ],
    ),
    ``,
    latencyLine(latencies, 1, baseline),
    ...(scaledLatencies && scaledStep
      ? ['', latencyLine(scaledLatencies, SCALED_TENANTS, scaledStep.eps)]
      : []),
    ``,
    `How throughput and CPU per event grow (CPU: microseconds of CPU per event, all instances of the service together, from the first request until the last event is queryable):`,
    ``,
    bench.table(
      [
        'tenants',
        'instances per consumer stage',
        'events per request',
        'clients',
        'events/s sustained',
        'relative to 1 tenant, 1 instance',
        'events/s, first pass',
        ...services.map((service) => `CPU µs/event ${service}`),
      ],
      scaling.map(({ tenants, instances, size, clients, eps, firstEps, cpuUs }) => [
        tenants,
        instances,
        size,
        clients,
        Math.round(eps),
        (eps / baseline).toFixed(2),
        Math.round(firstEps),
        ...services.map((service) => Math.round(cpuUs.get(service) ?? 0)),
      ]),
    ),
    ``,
    `Overload: ${Math.round(2 * baseline)} events/s offered for ${SECONDS} s against a tenant quota of ${Math.round(baseline)} events/s: ` +
      [...statuses].map(([status, n]) => `${n} events answered ${status}`).join(', ') +
      `. Gateway peak resident memory: ${gatewayPeak.toFixed(0)} MiB.`,
  );
  return sections.join('\n');
}

module.exports = { run };
