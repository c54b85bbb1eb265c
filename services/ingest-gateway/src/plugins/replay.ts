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
import type { Kafka } from 'kafkajs';
import { TENANT_STAGES } from '@aispm/contracts';
import type { AuditTrail, ControlState } from '@aispm/control';
import { AppError } from '@aispm/errors';
import type { StageCodec } from '@aispm/kafka';
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
import { authenticate } from '../access';

export interface ReplayDeps {
  readonly control: ControlState;
  readonly audit: AuditTrail;
  readonly kafka: Kafka;
  readonly codec: StageCodec;
  readonly groupPrefix: string;
  readonly logger: Logger;
  readonly kms: Kms;
}

/**
 * Replays one gateway instance serves at once. Each holds a consumer group and a fetch loop
 * open, so the bound keeps a burst of replays from starving ingestion on the same instance.
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

export function replayRoutes(deps: ReplayDeps): FastifyPluginAsync {
  let running = 0;
  return async (app) => {
    app.get<{ Querystring: ReplayQuery }>(
      '/enterprise/aispm/replay-log',
      {
        schema: {
          querystring: {
            type: 'object',
            required: ['stage'],
            additionalProperties: false,
            properties: {
              stage: { enum: [...TENANT_STAGES] },
              partition: { type: 'string', pattern: '^[0-9]{1,5}(,[0-9]{1,5})*$' },
              from_offset: offsetParam,
              to_offset: offsetParam,
              from_time: { type: 'string', maxLength: 40 },
              to_time: { type: 'string', maxLength: 40 },
              rate: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$' },
              dry_run: { type: 'boolean' },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = authenticate(deps.control, request);
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
