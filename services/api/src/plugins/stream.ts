/**
 * Owns `GET /enterprise/aispm/stream`: the tenant's posture deltas as Server-Sent Events
 * (DESIGN §10), for reader credentials (viewer and up) of that tenant only. The tenant comes
 * from the credential, never from the request.
 *
 * One TopicFollower per connection, in a consumer group of its own, reading only its tenant's
 * posture topic: a client can only ever be handed its own tenant's messages, and resuming from
 * any point is a seek rather than a shared consumer's rewind. The group never commits; the
 * connection's cursor lives in the client's `Last-Event-ID`. When the client goes away (or the
 * API shuts down) the follower stops and its empty group is deleted with it. The cost is one
 * consumer (and its broker connections) per open stream; see docs/architecture.md.
 *
 * Each event's `id` is the cursor just after it (per partition, the next offset), so a client
 * resuming with `Last-Event-ID` gets exactly the deltas after the last one it saw. Without one,
 * the stream starts at the end: live deltas only. A heartbeat comment every
 * API_STREAM_HEARTBEAT_MS keeps idle connections open through proxies. Revoking the reader
 * (or deleting the tenant) ends its open streams within a second.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Gauge } from 'prom-client';
import { tenantTopic, type PostureDelta } from '@aispm/contracts';
import type { Principal } from '@aispm/control';
import { AppError } from '@aispm/errors';
import {
  formatCursor,
  parseCursor,
  startPositions,
  TopicFollower,
  type KafkaAdmin,
  type KafkaClient,
  type StageCodec,
} from '@aispm/kafka';
import type { Logger, Metrics } from '@aispm/observability';
import { requirePrincipal, requireRole } from '@aispm/http';
import { readEventLog } from '../event-log';

export interface StreamDeps {
  /** Resolves a request's credential again, so a revoked reader loses its open stream. */
  readonly principalOf: (request: FastifyRequest) => Principal | undefined;
  readonly kafka: KafkaClient;
  readonly kafkaAdmin: KafkaAdmin;
  readonly codec: StageCodec;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Prefix of the per-connection consumer groups (`<prefix>-stream-<instance>-<uuid>`). */
  readonly groupPrefix: string;
  readonly instanceId: string;
  readonly heartbeatMs: number;
}

/** How long a client waits before reconnecting after the stream drops (SSE `retry`). */
const RETRY_MS = 2000;
/** How often an open stream checks that its credential still stands. */
const REVOCATION_CHECK_MS = 1000;

export function streamRoutes(deps: StreamDeps): FastifyPluginAsync {
  const open = new Gauge({
    name: 'aispm_stream_connections',
    help: 'Open live-stream connections (each holds one Kafka consumer).',
    registers: [deps.metrics.registry],
  });
  const closers = new Set<() => Promise<void>>();
  return async (app) => {
    // Streams never end on their own; without this, closing the server would wait for them.
    app.addHook('preClose', async () => {
      await Promise.all([...closers].map((close) => close()));
    });
    app.get<{ Querystring: { last_event_id?: string } }>(
      '/enterprise/aispm/stream',
      {
        schema: {
          summary:
            "The tenant's posture deltas as Server-Sent Events (reader credentials, viewer and up). Each event's id is a cursor; send it back as Last-Event-ID to resume with nothing skipped or repeated. Heartbeat comments keep the connection open.",
          headers: {
            type: 'object',
            properties: { 'last-event-id': { type: 'string', description: 'The cursor to resume after' } },
          },
          querystring: {
            type: 'object',
            properties: {
              last_event_id: {
                type: 'string',
                description: 'The cursor, for a client that cannot set Last-Event-ID',
              },
            },
          },
          response: {
            200: {
              description: 'An event stream; each data line is a posture-delta.v1 document',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (request, reply) => {
        const { principal } = request;
        const tenant = principal.kind === 'reader' ? principal.tenant?.slug : undefined;
        if (tenant === undefined) {
          throw new AppError('GW_FORBIDDEN', 'The stream is read with a reader credential of the tenant');
        }
        requireRole(principal, 'viewer', tenant);
        // The header is what EventSource resends on its own reconnects; the query parameter lets a
        // client that had to open a new EventSource (the server refused one) resume all the same.
        const lastEventId = request.headers['last-event-id'] ?? request.query.last_event_id;
        const cursor = lastEventId === undefined ? undefined : parseCursor(String(lastEventId));
        if (lastEventId !== undefined && cursor === undefined) {
          throw new AppError('GW_BAD_REQUEST', 'Last-Event-ID is not an id this stream issued');
        }
        const topic = tenantTopic(tenant, 'posture');
        const { positions, gap } = startPositions(
          cursor,
          await readEventLog(() => deps.kafkaAdmin.fetchTopicOffsets(topic)),
        );
        const groupId = `${deps.groupPrefix}-stream-${deps.instanceId}-${randomUUID()}`;
        const log = deps.logger.child({ tenant, groupId });
        const res = reply.raw;
        let closed: Promise<void> | undefined;
        const follower = new TopicFollower(
          deps.kafka,
          deps.codec,
          log,
          {
            name: 'stream',
            topic,
            groupId,
            from: { kind: 'positions', positions },
            // A tenant's posture topic is no shared topic: its poison is stepped over, not dead-lettered.
            poison: 'skip',
            maxWaitTimeInMs: 1000,
            deleteGroupOnStop: true,
            // The client reconnects with its Last-Event-ID, to a follower that starts afresh.
            onLost: () => void close(),
          },
          async (batch) => {
            for (const message of batch.messages) {
              if (closed) return;
              const offset = BigInt(message.offset);
              // A batch handed over again after a failure starts with deltas already sent.
              if (offset < (positions.get(batch.partition) ?? 0n)) continue;
              const delta = await batch.decode<PostureDelta>(message);
              positions.set(batch.partition, offset + 1n);
              if (delta === undefined) continue;
              if (delta.tenant !== tenant) {
                // Cannot happen while topics are per tenant; refuse rather than leak if it does.
                log.error(
                  { topic, partition: batch.partition, offset: message.offset },
                  'posture delta of another tenant skipped',
                );
                continue;
              }
              const ok = res.write(
                `id: ${formatCursor(positions)}\nevent: ${delta.kind}\ndata: ${JSON.stringify(delta)}\n\n`,
              );
              // A slow client holds its own follower back, nobody else's.
              if (!ok) await drained(res);
            }
          },
        );
        // Connected while the request can still be answered: a Kafka outage is a 503, not a stream
        // that ends at once.
        await readEventLog(() => follower.connect());

        reply.hijack();
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          // nginx buffers responses unless told not to.
          'x-accel-buffering': 'no',
        });
        res.write(`retry: ${RETRY_MS}\n\n`);
        if (gap) {
          // Retention deleted deltas the cursor asked for: say so rather than pretend.
          res.write(`event: gap\ndata: ${JSON.stringify({ resumed_at: formatCursor(positions) })}\n\n`);
        }
        open.inc();
        const heartbeat = setInterval(() => res.write(`: heartbeat ${Date.now()}\n\n`), deps.heartbeatMs);
        // A revoked reader, or a deleted tenant, loses an open stream within a second too.
        const recheck = setInterval(() => {
          try {
            requirePrincipal(deps.principalOf(request));
          } catch {
            log.info('stream credential no longer valid; closing');
            void close();
          }
        }, REVOCATION_CHECK_MS);
        const close = () => {
          closed ??= (async () => {
            clearInterval(heartbeat);
            clearInterval(recheck);
            closers.delete(close);
            open.dec();
            res.end();
            await follower.stop().catch((error: unknown) => {
              log.warn({ err: error }, 'stream follower did not stop cleanly');
            });
            log.debug('stream closed');
          })();
          return closed;
        };
        closers.add(close);
        res.on('close', () => void close());
        if (res.destroyed) void close();
        try {
          await follower.start();
        } catch (error) {
          log.warn({ err: error }, 'stream follower failed to start');
          await close();
        }
        log.debug({ cursor: formatCursor(positions) }, 'stream opened');
      },
    );
  };
}

/** Resolves when `res` can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
