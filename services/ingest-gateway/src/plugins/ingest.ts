/**
 * Owns `POST /enterprise/aispm/events`: authenticate, parse, validate against the public
 * contract, check the tenant, and answer 202 only after Kafka has acknowledged the write with
 * acks=all. If Kafka does not acknowledge within GATEWAY_PRODUCE_TIMEOUT_MS the answer is 503
 * with Retry-After; a write that lands late is harmless, because a retry carries the same
 * idempotency key and collapses downstream.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Producer } from 'kafkajs';
import secureJson from 'secure-json-parse';
import {
  HEADERS,
  tenantTopic,
  toFieldErrors,
  TOPIC_SCHEMAS,
  validatorFor,
  type Envelope,
} from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import type { StageCodec } from '@aispm/kafka';
import type { Metrics } from '@aispm/observability';
import type { ControlState } from '@aispm/control';
import { authenticate, requireCollector } from '../access';

export interface IngestDeps {
  readonly control: ControlState;
  readonly producer: Producer;
  readonly codec: StageCodec;
  readonly metrics: Metrics;
  readonly produceTimeoutMs: number;
}

/** The receipt of one ingested item. */
export interface Receipt {
  readonly outcome: 'accepted';
  readonly event_id: string;
  readonly idempotency_key: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

function parseEnvelope(body: Buffer): Envelope {
  let parsed: unknown;
  try {
    // Refuses __proto__ and constructor.prototype keys instead of silently keeping them.
    parsed = secureJson.parse(body.toString('utf8'), undefined, {
      protoAction: 'error',
      constructorAction: 'error',
    });
  } catch (error) {
    throw new AppError('GW_BAD_JSON', `Body is not valid JSON: ${(error as Error).message}`, {
      fields: [{ pointer: '/', detail: (error as Error).message }],
    });
  }
  const validate = validatorFor<Envelope>(TOPIC_SCHEMAS.raw);
  if (!validate(parsed)) {
    throw new AppError('GW_SCHEMA_INVALID', 'Envelope does not match the public contract', {
      fields: toFieldErrors(validate.errors),
    });
  }
  return parsed;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no acknowledgement within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export function ingestRoutes(deps: IngestDeps): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    app.post('/enterprise/aispm/events', async (request, reply) => {
      const principal = requireCollector(authenticate(deps.control, request));
      const tenant = principal.tenant.slug;
      const envelope = parseEnvelope(request.body as Buffer);
      if (envelope.tenant.tenant_ref !== principal.tenant.tenant_ref) {
        throw new AppError('GW_TENANT_MISMATCH', "Envelope's tenant is not the collector's tenant", {
          fields: [
            {
              pointer: '/tenant/tenant_ref',
              detail: 'must be the tenant_ref of the authenticated collector',
            },
          ],
        });
      }
      const topic = tenantTopic(tenant, 'raw');
      const receivedMs = Date.now();
      const value = await deps.codec.encode(TOPIC_SCHEMAS.raw, envelope);
      let metadata;
      try {
        [metadata] = await withDeadline(
          deps.producer.send({
            topic,
            acks: -1,
            messages: [
              {
                key: envelope.event.session_id,
                value,
                headers: {
                  [HEADERS.tenant]: tenant,
                  [HEADERS.eventId]: envelope.event.event_id,
                  [HEADERS.traceId]: request.id,
                  [HEADERS.receivedMs]: String(receivedMs),
                },
              },
            ],
          }),
          deps.produceTimeoutMs,
        );
      } catch (cause) {
        request.log.warn(
          { tenant, event_id: envelope.event.event_id, err: cause },
          'Kafka did not acknowledge',
        );
        throw new AppError('GW_KAFKA_UNAVAILABLE', 'Kafka did not acknowledge the event; retry later', {
          cause,
        });
      }
      deps.metrics.ingestItems.inc({ tenant, outcome: 'accepted', reason: '' });
      request.log.info({ tenant, event_id: envelope.event.event_id }, 'event accepted');
      const receipt: Receipt = {
        outcome: 'accepted',
        event_id: envelope.event.event_id,
        idempotency_key: envelope.transport.idempotency_key ?? envelope.event.event_id,
        topic,
        partition: metadata!.partition,
        offset: metadata!.baseOffset ?? '',
      };
      return reply.code(202).send(receipt);
    });
  };
}
