/**
 * The live stream (DESIGN §10, §14): latency from the gateway's 202 to the event's posture delta
 * arriving on `GET /enterprise/aispm/stream`, p50 and p99 at a steady offered load. Beside it, in
 * the same run and for the same events, a bare KafkaJS consumer tailing the posture topic: that
 * is the pipeline alone (redactor, normalizer, projector with its ClickHouse insert, then the
 * posture publish), and the difference is the SSE hop through the API.
 */
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Kafka, logLevel } = require('kafkajs');
const bench = require('./lib');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_STREAM_RATE ?? 20);
const WARMUP_SECONDS = 5;
const PORT = Number(process.env.BENCH_STREAM_PORT ?? 18990);

/**
 * Opens the SSE stream with node:http (each chunk handed over as the socket delivers it) and calls
 * `onOverview(delta, at)` for each overview delta. Resolves to a function that closes it.
 */
function openStream(url, key, onOverview) {
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
          if (data && block.includes('event: overview')) onOverview(JSON.parse(data.slice(6)), at);
        }
      });
      resolve(() => request.destroy());
    });
    request.on('error', reject);
  });
}

async function run() {
  const env = bench.benchEnv('stream', { AISPM_TOPIC_REFRESH_MS: '500' });
  const { gateway, api, apiOpsUrl, services } = bench.startPlatform(env, PORT);
  const kafka = new Kafka({ brokers: bench.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const bareGroup = `${env.AISPM_GROUP_PREFIX}-bare`;
  const slug = bench.tenantPrefix('stream');
  let operator;
  try {
    await Promise.all(services.map((s) => bench.waitReady(`${s.url}/readyz`)));
    operator = bench.bootstrap(env);
    await bench.awaitOperator(api.url, operator);
    const tenantRef = `tenant:${slug}`;
    await bench.admin(api.url, operator, 'POST', '/tenants', { slug, tenant_ref: tenantRef });
    const { api_key: collectorKey } = await bench.admin(api.url, operator, 'POST', '/collectors', {
      tenant: slug,
    });
    await bench.awaitCollector(gateway.url, collectorKey);
    const { api_key: readerKey } = await bench.admin(api.url, operator, 'POST', '/readers', {
      tenant: slug,
      role: 'viewer',
    });

    const accepted = new Map(); // event id -> time of the 202
    const paths = {
      sse: { seen: new Map(), hops: [] },
      bare: { seen: new Map(), hops: [] },
    };
    const record = (into) => (delta, at) => {
      const ids = delta.data.event_ids.filter((id) => accepted.has(id));
      // The hop from the projector's publish to arrival, wall clock (same machine).
      if (ids.length > 0) into.hops.push(Date.now() - delta.produced_ms);
      for (const id of ids) if (!into.seen.has(id)) into.seen.set(id, at - accepted.get(id));
    };
    const closeStream = await openStream(`${api.url}/enterprise/aispm/stream`, readerKey, record(paths.sse));
    const { StageCodec } = require(path.join(bench.REPO, 'libs/kafka/dist'));
    const codec = new StageCodec(bench.SCHEMA_REGISTRY_URL);
    const consumer = kafka.consumer({ groupId: bareGroup, maxWaitTimeInMs: 1000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [`aispm.${slug}.posture`], fromBeginning: false });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    const bareRecord = record(paths.bare);
    await consumer.run({
      eachMessage: async ({ message }) => {
        const at = performance.now();
        const delta = await codec.decode(message.value);
        if (delta.kind === 'overview') bareRecord(delta, at);
      },
    });
    await joined;

    let failed = 0;
    const post = async (measure) => {
      const body = bench.envelope(tenantRef);
      const response = await fetch(`${gateway.url}/enterprise/aispm/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${collectorKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const at = performance.now();
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`event answered ${response.status}`);
      if (measure) accepted.set(body.event.event_id, at);
    };
    // A failed post is counted, not measured; the run goes on.
    const countFailure = () => (failed += 1);
    await bench.fixedLoad(() => post(false).catch(countFailure), RATE, WARMUP_SECONDS);
    await bench.fixedLoad(() => post(true).catch(countFailure), RATE, SECONDS);
    await bench
      .waitFor(
        'the last deltas',
        async () => paths.sse.seen.size >= accepted.size && paths.bare.seen.size >= accepted.size,
        30_000,
      )
      .catch(() => undefined);
    // How busy the API's event loop was: an SSE write waits for it, the bare consumer does not.
    const metrics = await (await fetch(`${apiOpsUrl}/metrics`)).text();
    const loopLag = (name) =>
      (Number(new RegExp(`^${name}\\{[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(metrics)?.[1]) * 1000).toFixed(0);
    closeStream();
    await consumer.disconnect();

    const sorted = (values) => [...values].sort((a, b) => a - b);
    const ms = (values, p) => bench.percentile(values, p).toFixed(1);
    const row = (name, seen) => {
      const lat = sorted(seen.values());
      return [name, `${lat.length} / ${accepted.size}`, ms(lat, 50), ms(lat, 99), ms(lat, 100)];
    };
    const hopRow = (name, hops) => {
      const lat = sorted(hops);
      return [name, String(lat.length), ms(lat, 50), ms(lat, 99), ms(lat, 100)];
    };
    // Events whose delta the bare consumer saw and the stream did not: a gap would show here.
    const missedBySse = [...paths.bare.seen.keys()].filter((id) => !paths.sse.seen.has(id)).length;
    const sse = sorted(paths.sse.seen.values());
    const bare = sorted(paths.bare.seen.values());
    const ratio = (p) => (bench.percentile(sse, p) / bench.percentile(bare, p)).toFixed(2);
    return [
      `## Live stream (\`npm run bench:stream\`)`,
      ``,
      `Measured on ${bench.machine()}, load average ${os.loadavg()[0].toFixed(1)} at the end. One tenant; single-event POSTs at a steady ${RATE} events/s (open loop) for ${SECONDS} s after ${WARMUP_SECONDS} s of warm-up; ${failed} posts failed and are not measured. Latency runs from the gateway's 202 to the event's \`overview\` delta arriving.`,
      ``,
      bench.table(
        ['Path', 'events seen', 'p50 ms', 'p99 ms', 'max ms'],
        [
          row('202 → delta on the SSE stream (API)', paths.sse.seen),
          row(
            '202 → delta read by a bare KafkaJS consumer of the posture topic (the limit)',
            paths.bare.seen,
          ),
        ],
      ),
      ``,
      `From the projector's publish (the delta's \`produced_ms\`) to arrival, per overview delta:`,
      ``,
      bench.table(
        ['Path', 'deltas', 'p50 ms', 'p99 ms', 'max ms'],
        [hopRow('publish → SSE stream', paths.sse.hops), hopRow('publish → bare consumer', paths.bare.hops)],
      ),
      ``,
      `Ratios SSE / bare consumer: p50 **${ratio(50)}**, p99 **${ratio(99)}**. The API's event-loop lag at the end: p50 ${loopLag('nodejs_eventloop_lag_p50_seconds')} ms, p99 ${loopLag('nodejs_eventloop_lag_p99_seconds')} ms. Events the bare consumer saw and the stream did not: ${missedBySse}. Events missing from a row were not yet published when the run stopped waiting (30 s after the last post); the bare consumer, a consumer group member, can also miss the first deltas while it joins.`,
    ].join('\n');
  } finally {
    if (operator) await bench.admin(api.url, operator, 'DELETE', `/tenants/${slug}`).catch(() => undefined);
    await Promise.all(services.map(bench.stopService));
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([bareGroup]).catch(() => undefined);
    await admin.disconnect();
    await fetch(
      `${bench.CLICKHOUSE_URL}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${env.CLICKHOUSE_DATABASE}`)}`,
      {
        method: 'POST',
      },
    ).catch(() => undefined);
  }
}

module.exports = { run };
