/**
 * Owns what operators see of a process: the pino logger, the prom-client registry with the
 * platform's metric names, and the `/healthz` and `/readyz` routes (every service's ops server
 * serves them beside `/metrics`, see @aispm/service; the HTTP services on their public ports too).
 */
import type { FastifyPluginAsync } from 'fastify';
import pino, { type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type { Logger } from 'pino';

/** Query parameters whose values are credentials, whatever route they were sent to. */
const CREDENTIAL_PARAMETER = /key|token|secret|passw|signature|auth|cookie/i;

/**
 * `url` with the value of every query parameter that may hold a credential replaced by
 * `[redacted]`. A client that sends its key as `?api_key=` is refused, and its key must not be
 * kept in the log that records the refusal.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const query = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // A malformed name is judged as it is.
      }
      return eq !== -1 && CREDENTIAL_PARAMETER.test(decoded) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, at)}?${query.join('&')}`;
}

interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number };
}

/**
 * A structured JSON logger for `service`; records carry `service` and `instance`. Services log
 * to stdout; a command-line tool passes `stderr`, keeping stdout for its output (tests, a stream
 * of their own). Fastify logs requests through its `req` serializer, which this one replaces to
 * keep credentials out.
 */
export function createLogger(
  service: string,
  instance: string,
  level: string,
  stream: 'stdout' | 'stderr' | NodeJS.WritableStream = 'stdout',
): Logger {
  return pino(
    {
      level,
      base: { service, instance },
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    typeof stream === 'string' ? pino.destination(stream === 'stdout' ? 1 : 2) : stream,
  );
}

/** Readiness and liveness probes a service reports. */
export interface Probes {
  /** Alive: the process is making progress (e.g. its consume loop is not stuck). */
  healthy(): boolean;
  /** Ready: the process can do its job now (connected, not shutting down, its work moving). */
  ready(): boolean;
  /** Why it is not ready, when it can say (e.g. a stalled batch); `/readyz` shows it. */
  notReadyReason?(): string | undefined;
}

/** The platform's metrics, each named once, with units in the name. */
export class Metrics {
  readonly registry = new Registry();
  readonly stageMessages: Counter<'service' | 'tenant' | 'outcome'>;
  readonly stageBatchDuration: Histogram<'service'>;
  readonly produceDuration: Histogram<'service'>;
  readonly idempotencyWait: Histogram;
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  readonly ingestRequests: Counter<'tenant' | 'route' | 'status'>;
  readonly apiRequests: Counter<'tenant' | 'route' | 'status'>;
  readonly ingestItems: Counter<'tenant' | 'outcome' | 'reason'>;
  readonly chInsertDuration: Histogram<'table'>;
  readonly chInsertRows: Counter<'table'>;
  readonly retries: Counter<'operation' | 'tenant'>;
  readonly endToEndLatency: Histogram<'tenant'>;
  readonly retentionRuns: Counter<'outcome'>;
  readonly dlqMessages: Counter<'service' | 'tenant' | 'code'>;
  readonly storageFailures: Counter<'operation'>;
  readonly storageUp: Gauge<'store'>;
  readonly collectorLastSeen: Gauge<'tenant' | 'collector'>;
  readonly healthRecords: Counter<'outcome'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const ms = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];
    this.stageMessages = new Counter({
      name: 'aispm_stage_messages_total',
      help: 'Messages a pipeline stage handled, by outcome (ok, dlq).',
      labelNames: ['service', 'tenant', 'outcome'],
      registers,
    });
    this.stageBatchDuration = new Histogram({
      name: 'aispm_stage_batch_duration_ms',
      help: 'Time to process and commit one consumed batch, in milliseconds.',
      labelNames: ['service'],
      buckets: ms,
      registers,
    });
    this.produceDuration = new Histogram({
      name: 'aispm_kafka_produce_duration_ms',
      help: 'Time from produce call to broker acknowledgement, in milliseconds.',
      labelNames: ['service'],
      buckets: ms,
      registers,
    });
    this.idempotencyWait = new Histogram({
      name: 'aispm_idempotency_wait_ms',
      help: 'Time an ingest request whose idempotency keys were not in memory waits for their stored content hashes (behind a lookup in flight, then its own), in milliseconds.',
      buckets: ms,
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'aispm_consumer_lag_messages',
      help: 'End offset minus committed offset, per consumer group, topic and partition.',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    });
    this.ingestRequests = new Counter({
      name: 'aispm_ingest_requests_total',
      help: 'HTTP ingestion requests, by tenant, route and status code.',
      labelNames: ['tenant', 'route', 'status'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'aispm_api_requests_total',
      help: 'HTTP requests to the API (reads, administration, console), by tenant, route and status code.',
      labelNames: ['tenant', 'route', 'status'],
      registers,
    });
    this.ingestItems = new Counter({
      name: 'aispm_ingest_items_total',
      help: 'Ingested items by outcome (accepted, duplicate, rejected) and rejection reason.',
      labelNames: ['tenant', 'outcome', 'reason'],
      registers,
    });
    this.chInsertDuration = new Histogram({
      name: 'aispm_clickhouse_insert_duration_ms',
      help: 'Time of one batched ClickHouse insert, in milliseconds.',
      labelNames: ['table'],
      buckets: ms,
      registers,
    });
    this.chInsertRows = new Counter({
      name: 'aispm_clickhouse_inserted_rows_total',
      help: 'Rows inserted into ClickHouse, by table.',
      labelNames: ['table'],
      registers,
    });
    this.retries = new Counter({
      name: 'aispm_retries_total',
      help: 'Failed attempts that were retried, by operation and tenant (empty when not per tenant).',
      labelNames: ['operation', 'tenant'],
      registers,
    });
    this.endToEndLatency = new Histogram({
      name: 'aispm_end_to_end_latency_ms',
      help: 'Time from gateway receipt to projection in ClickHouse, in milliseconds.',
      labelNames: ['tenant'],
      buckets: [10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000],
      registers,
    });
    this.retentionRuns = new Counter({
      name: 'aispm_retention_runs_total',
      help: 'Runs of the ClickHouse retention job, by outcome (ok, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.dlqMessages = new Counter({
      name: 'aispm_dlq_messages_total',
      help: 'Messages sent to a tenant dead-letter topic, by service, tenant and error code.',
      labelNames: ['service', 'tenant', 'code'],
      registers,
    });
    this.storageFailures = new Counter({
      name: 'aispm_storage_failures_total',
      help: 'Failed ClickHouse operations (insert, ping), each attempt counted.',
      labelNames: ['operation'],
      registers,
    });
    this.storageUp = new Gauge({
      name: 'aispm_storage_up',
      help: 'Whether the last check of a store succeeded (1) or failed (0).',
      labelNames: ['store'],
      registers,
    });
    this.collectorLastSeen = new Gauge({
      name: 'aispm_collector_last_seen_timestamp_ms',
      help: 'When this gateway last authenticated a request of the collector, in Unix milliseconds.',
      labelNames: ['tenant', 'collector'],
      registers,
    });
    this.healthRecords = new Counter({
      name: 'aispm_health_records_total',
      help: 'Health-evidence records published to aispm.health or written to ClickHouse, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
  }
}

/** A probe's answer as its route declares it; `reason` says why a service is not ready, if known. */
const probeAnswer = (description: string) => ({
  description,
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' }, reason: { type: 'string' } },
});
// `summary` is read by the OpenAPI generator, which types it; Fastify ignores it.
const liveness = {
  summary: 'Liveness.',
  response: { 200: probeAnswer('Alive'), 503: probeAnswer('Not alive') },
};
const readiness = {
  summary: 'Readiness.',
  response: { 200: probeAnswer('Ready'), 503: probeAnswer('Not ready') },
};

/**
 * Fastify plugin serving `/healthz` and `/readyz`: safe on a public port, since they say nothing
 * about any tenant, so a load balancer can probe the port it sends traffic to.
 */
export function probeRoutes(probes: Probes): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: liveness }, async (_request, reply) => {
      const ok = probes.healthy();
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unhealthy' });
    });
    app.get('/readyz', { schema: readiness }, async (_request, reply) => {
      const ok = probes.ready();
      const reason = ok ? undefined : probes.notReadyReason?.();
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? 'ready' : 'not_ready', ...(reason === undefined ? {} : { reason }) });
    });
  };
}

export * from './evidence';
