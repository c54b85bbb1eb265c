#!/usr/bin/env node
/**
 * The gateway next to its limit, in one run on the same servers (DESIGN §14). The limit is a bare
 * KafkaJS producer writing the same wire-format bytes to the same topic with acks=all and no
 * HTTP, auth or validation. Reports saturated throughput, CPU seconds per 1,000 events of the
 * process doing the work (the gateway, or the bare producer's own process), and latency
 * percentiles at half the saturated rate (open loop).
 */
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const bench = require('./lib');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = 100;
const CONCURRENCY = 8;
const PORT = Number(process.env.BENCH_GATEWAY_PORT ?? 18999);
/** The API, for the tenant and collector the run sends as. */
const API_PORT = PORT - 50;

/** CPU seconds per 1,000 events that `phase` costs the process `pid` (or this process). */
async function measured(pid, phase) {
  const cpuBefore = pid ? bench.cpuSeconds(pid) : process.cpuUsage();
  const result = await phase();
  const cpu = pid ? bench.cpuSeconds(pid) - cpuBefore : sumCpu(process.cpuUsage(cpuBefore));
  return { ...result, cpuPerK: (cpu / (result.eps * result.elapsed)) * 1000 };
}
const sumCpu = ({ user, system }) => (user + system) / 1e6;

async function run() {
  const env = bench.benchEnv('gw');
  // The gateway reads the events table for idempotency; make sure its schema is current.
  bench.runCli(['migrate'], env);
  // BENCH_PROFILE_DIR=dir writes the gateway's V8 CPU profile there (open it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  const gateway = bench.startService('ingest-gateway', env, PORT, profile);
  const api = bench.startService('api', env, API_PORT);
  const pid = gateway.child.pid;
  const tenant = bench.tenantPrefix('gw');
  let operator;
  try {
    await Promise.all([bench.waitReady(`${gateway.url}/readyz`), bench.waitReady(`${api.url}/readyz`)]);
    operator = bench.bootstrap(env);
    await bench.awaitOperator(api.url, operator);
    const tenantRef = `tenant:${tenant}`;
    await bench.admin(api.url, operator, 'POST', '/tenants', { slug: tenant, tenant_ref: tenantRef });
    const { api_key: key } = await bench.admin(api.url, operator, 'POST', '/collectors', { tenant });
    await bench.awaitCollector(gateway.url, key);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const post = (route, body) => async () => {
      const response = await fetch(`${gateway.url}/enterprise/aispm/${route}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body()),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`${route} answered ${response.status}`);
    };
    const postBatch = post('events/batch', () =>
      Array.from({ length: BATCH }, () => bench.envelope(tenantRef)),
    );
    const postOne = post('events', () => bench.envelope(tenantRef));

    const { StageCodec } = require(path.join(bench.REPO, 'libs/kafka/dist'));
    const codec = new StageCodec(bench.SCHEMA_REGISTRY_URL);
    await codec.register(['envelope.v1']);
    const producer = new Kafka({ brokers: bench.KAFKA_BROKERS, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const payloads = await Promise.all(
      Array.from({ length: BATCH }, () => codec.encode('envelope.v1', bench.envelope(tenantRef))),
    );
    const messages = payloads.map((value, i) => ({ key: `sess_${i}`, value }));
    const bare = await measured(undefined, () =>
      bench.saturate(
        () => producer.send({ topic: `aispm.${tenant}.raw`, acks: -1, messages }),
        BATCH,
        SECONDS,
        CONCURRENCY,
      ),
    );
    await producer.disconnect();

    await bench.saturate(postBatch, BATCH, 2, CONCURRENCY); // warm-up
    const batch = await measured(pid, () => bench.saturate(postBatch, BATCH, SECONDS, CONCURRENCY));
    const single = await measured(pid, () => bench.saturate(postOne, 1, SECONDS, CONCURRENCY * 4));
    const batchRate = Math.max(1, Math.floor(batch.eps / 2 / BATCH));
    const singleRate = Math.max(1, Math.floor(single.eps / 2));
    const batchFixed = await bench.fixedLoad(postBatch, batchRate, SECONDS);
    const singleFixed = await bench.fixedLoad(postOne, singleRate, SECONDS);

    const ms = (sorted, p) => bench.percentile(sorted, p).toFixed(1);
    const row = (name, result) => [
      name,
      Math.round(result.eps),
      result.cpuPerK.toFixed(3),
      ms(result.latencies, 50),
      ms(result.latencies, 99),
      ms(result.latencies, 99.9),
    ];
    const fixedRow = (name, offered, sorted) => [
      name,
      offered,
      ms(sorted, 50),
      ms(sorted, 99),
      ms(sorted, 99.9),
    ];
    const ratio = (a, b) => (a / b).toFixed(2);
    return [
      `## Gateway (\`npm run bench:gateway\`)`,
      ``,
      `${SECONDS} s per phase, batches of ${BATCH}, ${CONCURRENCY} concurrent clients (single: ${CONCURRENCY * 4}). CPU s / 1k events is the CPU time of the process doing the work: the gateway, or for the limit the producer's own process.`,
      ``,
      bench.table(
        ['Path', 'events/s (saturated)', 'CPU s / 1k events', 'p50 ms', 'p99 ms', 'p99.9 ms'],
        [
          row('bare KafkaJS producer, same bytes, acks=all (the limit)', bare),
          row('gateway batch endpoint', batch),
          row('gateway single-event endpoint', single),
        ],
      ),
      ``,
      `Latency at a fixed offered load of half the saturated rate (open loop):`,
      ``,
      bench.table(
        ['Path', 'offered', 'p50 ms', 'p99 ms', 'p99.9 ms'],
        [
          fixedRow(
            'gateway batch endpoint',
            `${batchRate} req/s (${batchRate * BATCH} events/s)`,
            batchFixed,
          ),
          fixedRow('gateway single-event endpoint', `${singleRate} req/s`, singleFixed),
        ],
      ),
      ``,
      `Ratios to the limit: throughput batch **${ratio(batch.eps, bare.eps)}**, single **${ratio(single.eps, bare.eps)}**; per core (events per CPU second) batch **${ratio(bare.cpuPerK, batch.cpuPerK)}**, single **${ratio(bare.cpuPerK, single.cpuPerK)}** (target ≥ 0.5). Gateway peak resident memory: ${bench.peakRssMiB(pid).toFixed(0)} MiB.`,
    ].join('\n');
  } finally {
    // Deleting the tenant drops its topics; the run leaves nothing behind.
    if (operator) await bench.admin(api.url, operator, 'DELETE', `/tenants/${tenant}`).catch(() => undefined);
    await Promise.all([bench.stopService(gateway), bench.stopService(api)]);
    await bench.dropDatabase(env.CLICKHOUSE_DATABASE);
    await bench.deleteGroups(`${env.AISPM_GROUP_PREFIX}-`);
  }
}

module.exports = { run };
