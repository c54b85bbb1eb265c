/**
 * Owns `POST /enterprise/aispm/events` and `/events/batch`: authenticate the collector, decode
 * the body, verify the request signature when the collector or an envelope requires one, admit
 * each item, charge the tenant's quota, and answer only after Kafka has acknowledged every
 * accepted item with acks=all. If Kafka does not acknowledge within GATEWAY_PRODUCE_TIMEOUT_MS the
 * answer is 503 with Retry-After; a write that lands late is harmless, because a retry carries the
 * same idempotency key and collapses downstream.
 *
 * Status codes: a single event answers 202 with its receipt (200 when it is a duplicate), or a
 * problem document (409 for an idempotency key reused with other content). A batch answers 202
 * when no item was refused, 207 when some were (each item has its receipt), and 400 when all
 * were; the accepted items of a 207 are durably in Kafka.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { verifySignature, type OidcIssuers, type ReplayCache } from '@aispm/auth';
import {
  contentHash,
  HEADERS,
  loadSchema,
  tenantTopic,
  TOPIC_SCHEMAS,
  type Envelope,
} from '@aispm/contracts';
import type { ControlState } from '@aispm/control';
import { AppError, type FieldError } from '@aispm/errors';
import { fieldErrorsSchema, problemRef } from '@aispm/http';
import {
  PARTITIONER,
  produceChunks,
  type PartitionMetadata,
  type SharedProducer,
  type StageCodec,
} from '@aispm/kafka';
import type { Kms, RawEncryptor } from '@aispm/kms';
import type { Metrics } from '@aispm/observability';
import type { TenantQuotas } from '@aispm/quotas';
import { authenticateCollector, type CollectorPrincipal, type FindFresh } from '../access';
import { admit, type AdmissionLimits } from '../admission';
import { decodeBody, decodeUtf8, parseBatch, parseJson } from '../body';
import type { IdempotencyIndex } from '../idempotency';

/** The raw-topic key of a session: a SHA-256 digest, so no plaintext id sits outside the ciphertext. */
export function sessionKey(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex').slice(0, 32);
}

export interface IngestDeps {
  readonly control: ControlState;
  /** The control plane's lookup that reads to the topic's end before refusing a credential. */
  readonly findFresh: FindFresh;
  readonly kms: Kms;
  /** Encrypts raw-topic values under the tenant's data key (DESIGN §7). */
  readonly rawEncryptor: RawEncryptor;
  /** Writes the accepted events, together with other requests' of the moment. */
  readonly producer: SharedProducer;
  readonly codec: StageCodec;
  readonly metrics: Metrics;
  readonly quotas: TenantQuotas;
  readonly replayCache: ReplayCache;
  readonly admission: AdmissionLimits;
  readonly idempotency: IdempotencyIndex;
  /** Verifies workload-identity tokens of the trusted issuers; absent when OIDC is not configured. */
  readonly oidc: OidcIssuers | undefined;
  readonly produceTimeoutMs: number;
  readonly maxDecompressedBytes: number;
  readonly batchMaxItems: number;
  /** The partitions of a topic, as the producer's partitioner wants them (cached by the caller). */
  readonly partitionsOf: (topic: string) => Promise<PartitionMetadata[]>;
}

/** The receipt of one item. */
export type Receipt =
  | {
      readonly index: number;
      readonly outcome: 'accepted';
      readonly event_id: string;
      readonly idempotency_key: string;
      readonly topic: string;
      readonly partition: number;
      readonly offset: string;
    }
  | {
      readonly index: number;
      readonly outcome: 'duplicate';
      readonly event_id: string;
      readonly idempotency_key: string;
    }
  | {
      readonly index: number;
      readonly outcome: 'rejected';
      readonly event_id: string | null;
      readonly idempotency_key: string | null;
      readonly code: string;
      readonly reason: string;
      readonly errors: readonly FieldError[];
    };

/** The receipt of one item, as the routes declare it. */
export const receiptSchema = {
  type: 'object',
  required: ['index', 'outcome'],
  properties: {
    index: { type: 'integer' },
    outcome: { enum: ['accepted', 'duplicate', 'rejected'] },
    event_id: { type: ['string', 'null'] },
    idempotency_key: { type: ['string', 'null'] },
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'string' },
    code: { type: 'string' },
    reason: { type: 'string' },
    errors: fieldErrorsSchema,
  },
} as const;

/** The envelope schema, for the document (whose dialect is the schema's own, 2020-12). */
export function envelopeDocumentSchema(): object {
  const { $schema: _dialect, ...envelope } = loadSchema('envelope.v1');
  return envelope;
}

/** An envelope in the document's components; bodies are raw bytes to Fastify, never validated by it. */
const envelopeRef = { $ref: '#/components/schemas/Envelope' };

const batchSchema = {
  type: 'object',
  required: ['accepted', 'duplicate', 'rejected', 'items'],
  properties: {
    accepted: { type: 'integer' },
    duplicate: { type: 'integer' },
    rejected: { type: 'integer' },
    items: { type: 'array', items: receiptSchema },
  },
} as const;

/** `work`, refused after `ms`; its signal tells it when it has been refused, so it starts nothing more. */
function withDeadline<T>(work: (refused: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no acknowledgement within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work(controller.signal), deadline]).finally(() => clearTimeout(timer));
}

/** Event id and idempotency key of an item that may not even be an envelope. */
function idsOf(item: unknown): { event_id: string | null; idempotency_key: string | null } {
  const envelope = item as {
    event?: { event_id?: unknown };
    transport?: { idempotency_key?: unknown };
  } | null;
  const eventId = typeof envelope?.event?.event_id === 'string' ? envelope.event.event_id : null;
  const key =
    typeof envelope?.transport?.idempotency_key === 'string' ? envelope.transport.idempotency_key : eventId;
  return { event_id: eventId, idempotency_key: key };
}

function requiresSignature(items: readonly unknown[]): boolean {
  return items.some(
    (item) =>
      (item as { integrity?: { signature_required?: unknown } } | null)?.integrity?.signature_required ===
      true,
  );
}

/** How a route turns the decoded body into items, and who sent it when not a bearer credential. */
export interface ReceiveOptions {
  /** The items of the decoded (decompressed) body; the principal is known by then. */
  readonly parse: (decoded: Buffer, principal: CollectorPrincipal) => unknown[];
  /** The collector, when the route authenticates otherwise (a webhook's own signature). */
  readonly principal?: CollectorPrincipal;
}

/**
 * The admission pipeline every ingestion route shares: authenticate, decode, verify the request
 * signature, charge the quota (`receive`), then admit and produce (`ingest`).
 */
export function createIngestor(deps: IngestDeps) {
  const openedSecrets = new Map<string, string>();
  const partitioner = PARTITIONER();

  async function signingSecret(collectorId: string, sealed: string): Promise<string> {
    let secret = openedSecrets.get(sealed);
    if (!secret) {
      secret = (await deps.kms.open(sealed, `collector:${collectorId}:signing`)).toString('utf8');
      openedSecrets.set(sealed, secret);
    }
    return secret;
  }

  /** Stored content hashes of the request's keys; none when the index cannot answer (fail open). */
  async function previousHashes(tenant: string, items: readonly unknown[], request: FastifyRequest) {
    const keys = items.flatMap((item) => {
      const { idempotency_key: key } = idsOf(item);
      const sessionId = (item as { event?: { session_id?: unknown } } | null)?.event?.session_id;
      return key !== null && typeof sessionId === 'string' ? [{ key, sessionId }] : [];
    });
    try {
      return await deps.idempotency.previous(tenant, keys);
    } catch (error) {
      request.log.warn({ tenant, err: error }, 'idempotency lookup failed; producing again');
      return new Map<string, string>();
    }
  }

  /** Authenticates, decodes, checks the signature and quota; returns the parsed items. */
  async function receive(request: FastifyRequest, options: ReceiveOptions) {
    const principal =
      options.principal ?? (await authenticateCollector(deps.control, deps.oidc, request, deps.findFresh));
    const { collector, tenant } = principal;
    request.tenant = tenant.slug;
    deps.metrics.collectorLastSeen.set(
      { tenant: tenant.slug, collector: collector.collector_id },
      Date.now(),
    );
    const raw = request.body as Buffer;
    const decoded = decodeBody(raw, request.headers['content-encoding'], deps.maxDecompressedBytes);
    const items = options.parse(decoded, principal);
    const signed = request.headers['x-aispm-signature'] !== undefined;
    // A route that proved the sender by its own signature (a webhook) has nothing left to check.
    if (!options.principal && (signed || collector.require_signature || requiresSignature(items))) {
      if (!collector.sealed_signing_secret) {
        throw new AppError(
          'GW_SIGNATURE_INVALID',
          'A signature is required, but this collector has no signing secret',
        );
      }
      verifySignature({
        secret: await signingSecret(collector.collector_id, collector.sealed_signing_secret),
        timestampHeader: request.headers['x-aispm-timestamp'],
        signatureHeader: request.headers['x-aispm-signature'],
        method: request.method,
        path: request.url,
        body: raw,
        nowMs: Date.now(),
        replayCache: deps.replayCache,
      });
    }
    const quota = deps.quotas.take(tenant.slug, items.length, decoded.length, Date.now());
    if (!quota.ok) {
      deps.metrics.ingestItems.inc(
        { tenant: tenant.slug, outcome: 'rejected', reason: 'GW_QUOTA_EXCEEDED' },
        items.length,
      );
      if (quota.tooLarge)
        throw new AppError(
          'GW_BODY_TOO_LARGE',
          `The request alone exceeds the tenant's ${quota.dimension} burst`,
        );
      throw new AppError('GW_QUOTA_EXCEEDED', `Tenant ${tenant.slug} is over its ${quota.dimension} rate`, {
        retryAfterSeconds: quota.retryAfterSeconds,
      });
    }
    return { principal, items };
  }

  /** Admits each item, produces the accepted ones together, and returns one receipt per item. */
  async function ingest(request: FastifyRequest, items: readonly unknown[], principal: CollectorPrincipal) {
    const { collector, tenant } = principal;
    const now = Date.now();
    const topic = tenantTopic(tenant.slug, 'raw');
    const receipts: (Receipt | undefined)[] = [];
    const accepted: { index: number; envelope: Envelope; key: string; hash: string }[] = [];
    const known = await previousHashes(tenant.slug, items, request);
    for (const [index, item] of items.entries()) {
      try {
        const envelope = admit(item, collector, tenant, now, deps.admission, principal.binding);
        const key = envelope.transport.idempotency_key ?? envelope.event.event_id;
        const hash = contentHash(envelope);
        const seen = known.get(key);
        if (seen === hash) {
          receipts[index] = {
            index,
            outcome: 'duplicate',
            event_id: envelope.event.event_id,
            idempotency_key: key,
          };
          deps.metrics.ingestItems.inc({ tenant: tenant.slug, outcome: 'duplicate', reason: '' });
          continue;
        }
        if (seen !== undefined) {
          throw new AppError(
            'GW_IDEMPOTENCY_CONFLICT',
            `Idempotency key ${key} was already used with other content`,
            {
              fields: [
                { pointer: '/transport/idempotency_key', detail: 'already used with different content' },
              ],
            },
          );
        }
        known.set(key, hash);
        accepted.push({ index, envelope, key, hash });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        receipts[index] = {
          index,
          outcome: 'rejected',
          ...idsOf(item),
          code: error.code,
          reason: error.message,
          errors: error.fields,
        };
        deps.metrics.ingestItems.inc({ tenant: tenant.slug, outcome: 'rejected', reason: error.code });
      }
    }
    if (accepted.length > 0) {
      // Partitions are chosen here, with the producer's own partitioner, so each receipt can name
      // the exact partition and offset of its event (the replay index).
      const partitionMetadata = await deps.partitionsOf(topic).catch((cause: unknown) => {
        throw new AppError(
          'GW_KAFKA_UNAVAILABLE',
          'Kafka metadata is unavailable; nothing was accepted, retry later',
          {
            cause,
          },
        );
      });
      const contentHashOf = new Map(accepted.map(({ envelope, hash }) => [envelope, hash]));
      const messages = await Promise.all(
        accepted.map(async ({ envelope }) => {
          const message = {
            // TRICKY: key and headers are not encrypted, so they carry no free text: the key is a
            // digest of the session id (same session, same partition) and the event id is left
            // to the redactor, which sets it on the redacted topic once redacted.
            key: sessionKey(envelope.event.session_id),
            // `admit` validated the envelope against the raw topic's schema.
            value: await deps.rawEncryptor.encrypt(
              tenant.slug,
              deps.codec.encodeValidated(TOPIC_SCHEMAS.raw, envelope),
            ),
            headers: {
              [HEADERS.tenant]: tenant.slug,
              [HEADERS.traceId]: request.id,
              [HEADERS.receivedMs]: String(now),
              [HEADERS.contentHash]: contentHashOf.get(envelope)!,
            },
          };
          return { ...message, partition: partitioner({ topic, partitionMetadata, message }) };
        }),
      );
      // The offset each message got, in request order.
      const offsets: bigint[] = [];
      try {
        const started = Date.now();
        // Chunks, each within one request (shared with other requests of the moment): a batch of
        // large envelopes on one partition outgrows what the broker takes in one record batch
        // (message.max.bytes). A chunk written before a later one failed is harmless: the retry
        // carries the same idempotency keys.
        await withDeadline(async (refused) => {
          for (const [chunk] of produceChunks([{ topic, messages }])) {
            // The client has its 503 already: its later chunks would only queue ahead of others.
            if (refused.aborted) return;
            offsets.push(...(await deps.producer.send(topic, chunk!.messages)));
          }
        }, deps.produceTimeoutMs);
        deps.metrics.produceDuration.observe({ service: 'ingest-gateway' }, Date.now() - started);
      } catch (cause) {
        request.log.warn(
          { tenant: tenant.slug, items: accepted.length, err: cause },
          'Kafka did not acknowledge',
        );
        throw new AppError(
          'GW_KAFKA_UNAVAILABLE',
          'Kafka did not acknowledge every event; retry the request later (its idempotency keys make the retry safe)',
          {
            cause,
          },
        );
      }
      accepted.forEach(({ index, envelope, key, hash }, i) => {
        deps.idempotency.remember(tenant.slug, key, hash);
        receipts[index] = {
          index,
          outcome: 'accepted',
          event_id: envelope.event.event_id,
          idempotency_key: key,
          topic,
          partition: messages[i]!.partition,
          offset: offsets[i]!.toString(),
        };
        request.log.info({ tenant: tenant.slug, event_id: envelope.event.event_id }, 'event accepted');
      });
      deps.metrics.ingestItems.inc({ tenant: tenant.slug, outcome: 'accepted', reason: '' }, accepted.length);
    }
    return receipts as Receipt[];
  }

  return { receive, ingest, signingSecret };
}

export function ingestRoutes(deps: IngestDeps): FastifyPluginAsync {
  const { receive, ingest } = createIngestor(deps);
  return async (app) => {
    // Only JSON and NDJSON are events; anything else (Fastify also parses text/plain) is a 415.
    app.removeAllContentTypeParsers();
    for (const type of ['application/json', 'application/x-ndjson']) {
      app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    }

    app.post(
      '/enterprise/aispm/events',
      {
        schema: {
          summary:
            'Ingest one envelope (gzip or zstd allowed; signed with X-Aispm-Timestamp and X-Aispm-Signature when required).',
          response: {
            202: { description: 'Accepted: in Kafka', ...receiptSchema },
            200: { description: 'Duplicate of an accepted event', ...receiptSchema },
          },
        },
        config: { documentedBody: { 'application/json': { schema: envelopeRef } } },
      },
      async (request, reply) => {
        const { principal, items } = await receive(request, {
          parse: (decoded) => [parseJson(decodeUtf8(decoded))],
        });
        const [receipt] = await ingest(request, items, principal);
        if (receipt!.outcome === 'rejected') {
          throw new AppError(receipt!.code as never, receipt!.reason, { fields: [...receipt!.errors] });
        }
        return reply.code(receipt!.outcome === 'duplicate' ? 200 : 202).send(receipt);
      },
    );

    app.post(
      '/enterprise/aispm/events/batch',
      {
        schema: {
          summary: 'Ingest a JSON array or NDJSON of envelopes, with a receipt per item.',
          response: {
            202: { description: 'No item refused', ...batchSchema },
            207: { description: 'Some items refused; see each receipt', ...batchSchema },
            400: {
              description: 'Every item refused (a receipt each), or a request refused whole',
              content: {
                'application/json': { schema: batchSchema },
                'application/problem+json': { schema: problemRef },
              },
            },
          },
        },
        config: {
          documentedBody: {
            'application/json': { schema: { type: 'array', items: envelopeRef } },
            'application/x-ndjson': { schema: { type: 'string' } },
          },
        },
      },
      async (request, reply) => {
        const ndjson = (request.headers['content-type'] ?? '').startsWith('application/x-ndjson');
        const { principal, items } = await receive(request, {
          parse: (decoded) => parseBatch(decodeUtf8(decoded), ndjson, deps.batchMaxItems),
        });
        const receipts = await ingest(request, items, principal);
        const count = (outcome: Receipt['outcome']) => receipts.filter((r) => r.outcome === outcome).length;
        const rejected = count('rejected');
        const status = rejected === 0 ? 202 : rejected < receipts.length ? 207 : 400;
        return reply
          .code(status)
          .send({ accepted: count('accepted'), duplicate: count('duplicate'), rejected, items: receipts });
      },
    );
  };
}
