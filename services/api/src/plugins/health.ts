/**
 * Owns `GET /enterprise/aispm/ingestion/health` (DESIGN §13): the tenant's view of its pipeline.
 * Lag per stage and DLQ depth are read live from the broker on each call, so a dead worker shows
 * growing lag rather than a stale number; rejections, retries, dead letters and storage status
 * come from the evidence every service publishes to `aispm.health`; stale collectors from the
 * control plane and the gateways' last-seen times.
 *
 * Who may call it: any reader of the tenant (viewer, auditor, admin) and platform operators, who
 * name the tenant with `?tenant=`. It holds counts, offsets and collector ids, never event
 * content, and dashboard users need the freshness watermark, so viewer is enough.
 */
import type { FastifyPluginAsync } from 'fastify';
import { TENANT_SLUG, tenantTopic } from '@aispm/contracts';
import type { ControlState } from '@aispm/control';
import { AppError } from '@aispm/errors';
import { tenantHealth, type HealthFollower } from '@aispm/health';
import { pipelineOffsets, retainedMessages, type StageOffsets, type KafkaAdmin } from '@aispm/kafka';
import type { FreshnessTracker } from '@aispm/projection';
import type { Metrics } from '@aispm/observability';
import { requireRole } from '@aispm/http';

export interface HealthDeps {
  readonly control: ControlState;
  readonly kafkaAdmin: KafkaAdmin;
  readonly metrics: Metrics;
  readonly health: HealthFollower;
  /** AISPM_GROUP_PREFIX of the pipeline whose consumer groups are measured. */
  readonly groupPrefix: string;
  /** AISPM_HEALTH_INTERVAL_MS: a report older than a few intervals no longer counts. */
  readonly healthIntervalMs: number;
  /** The instance's one freshness memory, shared with the posture document. */
  readonly freshness: FreshnessTracker;
}

const SLUG = TENANT_SLUG.source;

/** An object whose every field is sent as built (libs/health shapes it). */
const open = (description: string) => ({ type: 'object', additionalProperties: true, description }) as const;

/** The health document (libs/health `tenantHealth`); open, so a field added there is never dropped. */
const healthDocument = {
  description: "The tenant's ingestion health",
  type: 'object',
  additionalProperties: true,
  properties: {
    tenant: { type: 'string' },
    observed_ms: { type: 'integer' },
    window_ms: { type: 'integer', description: 'The window the counts below cover' },
    status: { enum: ['ok', 'degraded', 'stalled'] },
    stalled: { type: 'array', description: 'Stages with lag that has not moved' },
    stages: {
      type: ['array', 'null'],
      description: 'Lag per stage, in flow order; null when the broker cannot say',
      items: open('A stage: its service, topic, group, lag and partitions'),
    },
    rejections: open('Rejections in the window: total and by_reason'),
    retries: open('Retries in the window: total and by_operation'),
    dlq: open('Dead letters: depth, added in the window, by_code'),
    storage: open('ClickHouse write status'),
    freshness: open('The freshness watermark and whether every stage has caught up'),
    collectors: open('Live collectors and the stale ones'),
  },
} as const;

export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  /** Every stage's offsets for the tenant, in flow order; undefined when the broker cannot say. */
  async function stageOffsets(tenant: string): Promise<StageOffsets[] | undefined> {
    try {
      return (await pipelineOffsets(deps.kafkaAdmin, deps.groupPrefix, [tenant])).get(tenant) ?? [];
    } catch {
      return undefined;
    }
  }

  async function seenHere(tenant: string): Promise<Map<string, number>> {
    const values = (await deps.metrics.collectorLastSeen.get()).values;
    return new Map(
      values.filter((v) => v.labels.tenant === tenant).map((v) => [String(v.labels.collector), v.value]),
    );
  }

  return async (app) => {
    app.get<{ Querystring: { tenant?: string } }>(
      '/enterprise/aispm/ingestion/health',
      {
        schema: {
          summary:
            "The tenant's ingestion health: lag per stage, rejections, retries, DLQ depth, storage status, freshness watermark, stale collectors (readers of the tenant; operators add ?tenant=).",
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              tenant: { type: 'string', pattern: SLUG, description: 'Operators name the tenant' },
            },
          },
          response: { 200: healthDocument },
        },
      },
      async (request) => {
        const principal = request.principal;
        // A collector key names its tenant too, so it is refused as forbidden below, not as a bad request.
        const slug = request.query.tenant ?? principal.tenant?.slug;
        if (!slug) throw new AppError('GW_BAD_REQUEST', 'Name the tenant with ?tenant=<slug>');
        requireRole(principal, 'viewer', slug);
        const tenant = deps.control.tenant(slug);
        if (!tenant) throw new AppError('GW_NOT_FOUND', `No tenant ${slug}`);
        request.tenant = slug;
        // TRICKY: the time is taken before the offsets are read, so every event accepted before it
        // is below the end offsets they show.
        const offsetsReadMs = Date.now();
        const stages = await stageOffsets(slug);
        const dlqDepth = await retainedMessages(deps.kafkaAdmin, tenantTopic(slug, 'dlq')).catch(
          () => undefined,
        );
        const seen = await seenHere(slug);
        const document = tenantHealth({
          tenant: slug,
          nowMs: Date.now(),
          stages,
          dlqDepth,
          state: deps.health.state,
          reportMaxAgeMs: 3 * deps.healthIntervalMs,
          collectors: deps.control.collectorsOf(tenant),
          seenHere: (id) => seen.get(id),
          knownSinceMs: deps.health.startedMs - deps.health.state.windowMs,
          freshness: stages
            ? deps.freshness.observe(slug, stages, offsetsReadMs)
            : { watermark_ms: deps.freshness.watermarkOf(slug), caught_up: false },
        });
        return document;
      },
    );
  };
}
