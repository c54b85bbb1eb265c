/**
 * Owns how every failure leaves an HTTP service: an RFC 9457 problem document with a stable code,
 * and `Retry-After` on 429 and 503. Fastify's own errors are mapped onto our codes here, in one
 * place, so clients see one vocabulary.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import type { ErrorObject } from 'ajv';
import { toFieldErrors } from '@aispm/contracts';
import { AppError, ERROR_CODES, type ErrorCode } from '@aispm/errors';

const RETRY_AFTER_SECONDS = 5;

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'GW_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'GW_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'GW_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'GW_BAD_JSON',
};

/** Sends `error` as a problem document. */
export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.status === 429 || error.status === 503) {
    reply.header('retry-after', String(error.retryAfterSeconds ?? RETRY_AFTER_SECONDS));
  }
  return reply
    .code(error.status)
    .type('application/problem+json')
    .send({
      type: `https://aispm-ingest.dev/errors/${error.code}`,
      title: ERROR_CODES[error.code].title,
      status: error.status,
      code: error.code,
      detail: error.message,
      ...(error.fields.length > 0 ? { errors: error.fields } : {}),
    });
}

/** The problem document of `error`, as bytes of a whole HTTP response that closes. */
function rawProblem(error: AppError): string {
  const body = JSON.stringify({
    type: `https://aispm-ingest.dev/errors/${error.code}`,
    title: ERROR_CODES[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.message,
  });
  return (
    `HTTP/1.1 ${error.status} ${ERROR_CODES[error.code].title}\r\n` +
    `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
}

/**
 * Server options for the refusals Fastify makes before any route or error handler runs: a URL
 * that does not decode or a path parameter over the length limit (frameworkErrors), and requests
 * Node's HTTP parser refuses, such as a CR, LF or NUL inside a header or headers over 16 KiB
 * (clientErrorHandler). Hostile input gets the same problem documents as everything else.
 */
export const problemServerOptions: Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> = {
  frameworkErrors: (error, _request, reply) => {
    void sendProblem(reply, new AppError('GW_BAD_REQUEST', error.message));
  },
  clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
    // A client that is gone cannot be answered.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      rawProblem(new AppError('GW_BAD_REQUEST', `Malformed HTTP request (${error.code ?? error.message})`)),
    );
  },
};

/** Installs the error and not-found handlers. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) return sendProblem(reply, error);
    if (error.validation) {
      return sendProblem(
        reply,
        new AppError('GW_BAD_REQUEST', error.message, {
          fields: toFieldErrors(error.validation as ErrorObject[]),
        }),
      );
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return sendProblem(reply, new AppError(mapped, error.message));
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, new AppError('GW_BAD_REQUEST', error.message));
    }
    request.log.error(
      { err: error, method: request.method, route: request.routeOptions.url },
      'unexpected error',
    );
    return sendProblem(reply, new AppError('GW_INTERNAL', 'Unexpected error; nothing was acknowledged'));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError('GW_NOT_FOUND', `No route ${request.method} ${request.url}`)),
  );
}
