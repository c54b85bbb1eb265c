/**
 * Owns the auditors' replay API (DESIGN §12): `GET /enterprise/aispm/replay-log` streams one
 * stage of the caller's tenant from the topic log as NDJSON, by offset or time, per partition or
 * all, paced by `rate`; `dry_run=true` answers the offset counts instead. The tenant is the
 * credential's, never the request's. Every call is appended to the audit trail before the first
 * record is read; the raw stage needs an auditor key of the tenant (libs/replay `authorizeReplay`).
 * (`/replay/{session_id}`, the session timeline, is another route.)
 */
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { TENANT_STAGES } from '@aispm/contracts';
import type { AuditTrail } from '@aispm/control';
import { AppError } from '@aispm/errors';
import type { StageCodec, KafkaClient } from '@aispm/kafka';
import type { Kms } from '@aispm/kms';
import type { Logger } from '@aispm/observability';
import {
  authorizeReplay,
  countOffsets,
  ndjsonSink,
  parseReplayRequest,
  planReplay,
  replayAuditDetail,
  runReplay,
} from '@aispm/replay';

export interface ReplayDeps {
  readonly audit: AuditTrail;
  readonly kafka: KafkaClient;
  readonly codec: StageCodec;
  readonly groupPrefix: string;
  readonly logger: Logger;
  readonly kms: Kms;
}

/**
 * Replays one API instance serves at once. Each holds a consumer group and a fetch loop
 * open, so the bound keeps a burst of replays from starving the other readers of the instance.
 */
export const MAX_CONCURRENT_REPLAYS = 4;

interface ReplayQuery {
  stage: string;
  partition?: string;
  from_offset?: string;
  from_time?: string;
  to_offset?: string;
  to_time?: string;
  rate?: string;
  dry_run?: boolean;
}

const offsetParam = { type: 'string', pattern: '^[0-9]{1,19}$' };

/** What `dry_run=true` answers: the offsets a replay would read, per partition. */
const dryRunSchema = {
  type: 'object',
  properties: {
    tenant: { type: 'string' },
    stage: { type: 'string' },
    topic: { type: 'string' },
    ranges: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          partition: { type: 'integer' },
          from: { type: 'string', description: 'The first offset read' },
          to: { type: 'string', description: 'The offset after the last one read' },
        },
      },
    },
    offsets: { type: 'integer', description: 'How many offsets the ranges hold' },
  },
} as const;

export function replayRoutes(deps: ReplayDeps): FastifyPluginAsync {
  let running = 0;
  return async (app) => {
    app.get<{ Querystring: ReplayQuery }>(
      '/enterprise/aispm/replay-log',
      {
        schema: {
          summary:
            "Replay a stage of the caller's tenant from the topic log as NDJSON (auditors; the raw stage needs the tenant's auditor key). Audited.",
          querystring: {
            type: 'object',
            required: ['stage'],
            additionalProperties: false,
            properties: {
              stage: { enum: [...TENANT_STAGES] },
              partition: {
                type: 'string',
                pattern: '^[0-9]{1,5}(,[0-9]{1,5})*$',
                description: 'Partitions, comma separated; all when absent',
              },
              from_offset: offsetParam,
              to_offset: { ...offsetParam, description: 'Inclusive' },
              from_time: { type: 'string', maxLength: 40 },
              to_time: { type: 'string', maxLength: 40 },
              rate: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$', description: 'Records per second' },
              dry_run: { type: 'boolean', description: 'Answer the offset counts instead of the records' },
            },
          },
          response: {
            200: {
              description:
                'One JSON line per record, in offset order per partition; with dry_run, the offset counts',
              content: {
                'application/x-ndjson': { schema: { type: 'string' } },
                'application/json': { schema: dryRunSchema },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal;
        if (principal.kind !== 'reader' || !principal.tenant) {
          throw new AppError(
            'GW_FORBIDDEN',
            "The replay API reads the tenant of a tenant's reader key; operators use `aispm replay`",
          );
        }
        const query = request.query;
        const spec = parseReplayRequest({
          tenant: principal.tenant.slug,
          stage: query.stage,
          ...(query.partition === undefined ? {} : { partitions: [query.partition] }),
          fromOffset: query.from_offset,
          fromTime: query.from_time,
          toOffset: query.to_offset,
          toTime: query.to_time,
          rate: query.rate,
        });
        authorizeReplay(principal, spec.tenant, spec.stage);
        if (running >= MAX_CONCURRENT_REPLAYS) {
          throw new AppError('REPLAY_BUSY', `This instance already serves ${running} replays`);
        }
        running += 1;
        let streaming = false;
        try {
          const plan = await planReplay(deps.kafka, spec);
          const mode = query.dry_run ? 'dry_run' : 'read';
          await deps.audit.append(
            `replay.${mode}`,
            principal,
            spec.tenant,
            replayAuditDetail(spec, plan.topic, plan.ranges, mode, 'api'),
          );
          if (mode === 'dry_run') {
            return {
              tenant: spec.tenant,
              stage: spec.stage,
              topic: plan.topic,
              ranges: plan.ranges,
              offsets: countOffsets(plan.ranges),
            };
          }
          const body = new PassThrough();
          const stop = new AbortController();
          // The client going away ends the read: its consumer group leaves and is deleted.
          reply.raw.once('close', () => {
            stop.abort();
            if (!body.writableEnded) body.destroy();
          });
          streaming = true;
          void runReplay(deps.kafka, deps.codec, spec, plan, ndjsonSink(spec, plan.topic, body), {
            groupPrefix: deps.groupPrefix,
            signal: stop.signal,
            validate: false,
            kms: deps.kms,
          })
            .then(
              (result) => {
                deps.logger.info({ tenant: spec.tenant, stage: spec.stage, ...result }, 'replay served');
                body.end();
              },
              (error: unknown) => {
                // The status line is gone; cutting the stream short is how the client learns.
                deps.logger.error({ err: error, tenant: spec.tenant, stage: spec.stage }, 'replay failed');
                body.destroy(error as Error);
              },
            )
            .finally(() => {
              running -= 1;
            });
          return reply.type('application/x-ndjson').send(body);
        } finally {
          if (!streaming) running -= 1;
        }
      },
    );
  };
}
