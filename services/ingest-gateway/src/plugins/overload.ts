/**
 * Bounds the ingest requests one gateway instance holds at once (DESIGN §14). Past the bound it
 * answers 503 with `Retry-After` before reading the body, instead of buffering: memory stays
 * under a cap whatever load is offered, and a collector backs off and retries.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@aispm/errors';

/** An onRequest hook admitting at most `max` requests in flight; a request leaves when its socket answer closes. */
export function admitWithin(max: number): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  let inflight = 0;
  return async (_request, reply) => {
    if (inflight >= max)
      throw new AppError('GW_OVERLOADED', `The gateway is handling ${max} requests already; retry later`, {
        retryAfterSeconds: 1,
      });
    inflight += 1;
    reply.raw.once('close', () => {
      inflight -= 1;
    });
  };
}
