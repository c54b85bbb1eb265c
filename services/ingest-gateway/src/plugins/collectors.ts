/**
 * Owns the routes that take tools' own formats instead of envelopes (DESIGN §16):
 *
 * - `POST /v1/logs`: OTLP/HTTP logs, as JSON or protobuf, with collector credentials in the
 *   headers. Claude Code, Gemini CLI and Codex telemetry events become envelopes of the
 *   collector's tenant; other records are ignored. The answer is an ExportLogsServiceResponse in
 *   the request's encoding, with `partialSuccess` counting refused records. A 2xx, as everywhere,
 *   means the events are in Kafka.
 * - `POST /enterprise/aispm/webhooks/github/{collector_id}`: GitHub `workflow_job` deliveries,
 *   authenticated by `X-Hub-Signature-256` under the collector's signing secret (GitHub cannot
 *   send a bearer key); other events are acknowledged and ignored.
 * - `POST /enterprise/aispm/hooks/claude-code`: Claude Code's `http` hooks, the hook's JSON as
 *   the body and the collector key in `Authorization` (Claude Code fills it from the environment).
 *   The answer is a 204 with no body once the event is in Kafka: Claude Code reads an empty 2xx
 *   as "go on" and any other status as a non-blocking error, so the route never denies a tool.
 *   Claude Code cannot sign, so its collector must not require signatures.
 *
 * All build envelopes with the collector SDK's mappings and run them through the same admission
 * pipeline as `/events/batch`.
 */
import type { FastifyPluginAsync } from 'fastify';
import * as otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root';
import { verifyHubSignature } from '@aispm/auth';
import {
  buildEnvelope,
  CLAUDE_CODE_HOOK_PATH,
  hookDrafts,
  otlpDrafts,
  workflowJobDrafts,
  type Draft,
  type Environment,
} from '@aispm/collector';
import type { Envelope } from '@aispm/contracts';
import { AppError } from '@aispm/errors';
import type { CollectorPrincipal } from '../access';
import { decodeUtf8, parseJson } from '../body';
import { createIngestor, receiptSchema, type IngestDeps, type Receipt } from './ingest';

interface ProtobufType {
  decode(bytes: Uint8Array): unknown;
  fromObject(object: unknown): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
}

// The OpenTelemetry project's generated protobuf module (from the official .proto files); its
// declaration types it only as a Root, so the two messages are typed here.
const logsService = (
  otlpRoot as unknown as {
    opentelemetry: {
      proto: {
        collector: {
          logs: { v1: { ExportLogsServiceRequest: ProtobufType; ExportLogsServiceResponse: ProtobufType } };
        };
      };
    };
  }
).opentelemetry.proto.collector.logs.v1;

const PROTOBUF = 'application/x-protobuf';
const ENVIRONMENTS = new Set<string>(['dev', 'test', 'staging', 'production', 'sandbox']);

/** An ExportLogsServiceRequest in OTLP/JSON's shape, from protobuf bytes. */
export function decodeOtlpProtobuf(bytes: Uint8Array): unknown {
  try {
    const message = logsService.ExportLogsServiceRequest.decode(bytes);
    return logsService.ExportLogsServiceRequest.toObject(message, { longs: String, bytes: String });
  } catch (error) {
    throw new AppError(
      'GW_BAD_REQUEST',
      `Body is not an OTLP ExportLogsServiceRequest: ${(error as Error).message}`,
    );
  }
}

/**
 * An OTLP/JSON body, refused unless its members have the shapes the protobuf JSON mapping gives
 * them: an object where a message is, an array where a repeated field is, an int64 or enum that
 * parses. As the mapping says, unknown members are ignored and a `null` is the default; members
 * spelled as in the .proto file (snake_case), which the mapping also allows, are not checked here.
 * Without this, a body
 * with `resourceLogs: "x"` was answered 200 with nothing stored, and a collector never learned
 * its exporter was broken.
 */
export function checkOtlpJson(body: unknown): unknown {
  try {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new TypeError('object expected');
    logsService.ExportLogsServiceRequest.fromObject(body);
  } catch (error) {
    // A RangeError is the stack running out: attribute values nested past what any exporter sends.
    const reason = error instanceof RangeError ? 'values nested too deeply' : (error as Error).message;
    throw new AppError('GW_BAD_REQUEST', `Body is not an OTLP ExportLogsServiceRequest: ${reason}`);
  }
  return body;
}

/** The environment of a list that names exactly one (a collector's scope, a token's binding). */
function soleEnvironment(environments: readonly string[] | undefined): Environment | undefined {
  const [only, ...rest] = environments ?? [];
  return only && rest.length === 0 && ENVIRONMENTS.has(only) ? (only as Environment) : undefined;
}

/**
 * The envelopes of `drafts` for the principal's tenant. The environment is the one asked for,
 * else the one the principal's token or scopes allow alone, else `dev`.
 */
function envelopesFor(
  drafts: readonly Draft[],
  { collector, tenant, binding }: CollectorPrincipal,
  environment?: Environment,
): Envelope[] {
  const settings = {
    tenantRef: tenant.tenant_ref,
    environment:
      environment ??
      soleEnvironment(binding?.environments) ??
      soleEnvironment(collector.scopes.environments) ??
      'dev',
    connectorId: collector.collector_id,
    hostName: '',
    collectorVersion: 'aispm-gateway',
    signed: false,
  };
  return drafts.map((draft) => buildEnvelope(draft, settings));
}

/** What the URL of a Claude Code http hook may add: the repository and environment of its events. */
export interface HookQuery {
  readonly repository?: string;
  readonly environment?: Environment;
}

/**
 * The envelopes of one Claude Code hook payload, mapped as `aispm collect claude-code` maps it.
 * The repository comes from the hook's URL, since the gateway cannot see the agent's checkout.
 */
/** The members of a Claude Code hook payload the mapping reads, and the type each must have. */
const HOOK_FIELDS: Readonly<Record<string, 'string' | 'object'>> = {
  hook_event_name: 'string',
  session_id: 'string',
  tool_name: 'string',
  tool_input: 'object',
};
const HOOK_REQUIRED = ['hook_event_name', 'session_id'];
/** Deeper than any hook payload Claude Code sends; bounds the work a hostile body can cause. */
const HOOK_MAX_DEPTH = 32;

/** How deep `value` nests, counted without recursion (a hostile body may nest 100,000 deep). */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > HOOK_MAX_DEPTH) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The payload, if it is a hook payload of the expected shape; otherwise GW_BAD_REQUEST. */
export function checkHookPayload(payload: unknown): Record<string, unknown> {
  const refuse = (pointer: string, detail: string) =>
    new AppError('GW_BAD_REQUEST', `Not a Claude Code hook payload: ${detail}`, {
      fields: [{ pointer, detail }],
    });
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
    throw refuse('/', 'the body must be a JSON object');
  const fields = payload as Record<string, unknown>;
  for (const name of HOOK_REQUIRED) {
    if (fields[name] === undefined) throw refuse(`/${name}`, 'required');
  }
  for (const [name, type] of Object.entries(HOOK_FIELDS)) {
    const value = fields[name];
    if (value === undefined) continue;
    const ok =
      type === 'string'
        ? typeof value === 'string'
        : value !== null && typeof value === 'object' && !Array.isArray(value);
    if (!ok) throw refuse(`/${name}`, `must be ${type === 'string' ? 'a string' : 'an object'}`);
  }
  if (depthOf(fields) > HOOK_MAX_DEPTH) throw refuse('/', `nested deeper than ${HOOK_MAX_DEPTH} levels`);
  return fields;
}

export function claudeHookEnvelopes(
  payload: unknown,
  principal: CollectorPrincipal,
  query: HookQuery,
  now: string,
): Envelope[] {
  const drafts = hookDrafts(payload, {
    now,
    agent: 'claude_code',
    ...(query.repository ? { repository: query.repository.toLowerCase() } : {}),
  });
  return envelopesFor(drafts, principal, query.environment);
}

const rejectedOf = (receipts: readonly Receipt[]) =>
  receipts.filter(
    (receipt): receipt is Extract<Receipt, { outcome: 'rejected' }> => receipt.outcome === 'rejected',
  );

export function collectorRoutes(deps: IngestDeps): FastifyPluginAsync {
  const { receive, ingest, signingSecret } = createIngestor(deps);
  return async (app) => {
    app.removeAllContentTypeParsers();
    for (const type of ['application/json', PROTOBUF]) {
      app.addContentTypeParser(type, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    }

    app.post(
      '/v1/logs',
      {
        schema: {
          summary:
            'OTLP/HTTP logs (JSON or protobuf): Claude Code, Gemini CLI and Codex telemetry events become envelopes of the collector.',
          response: {
            200: {
              description: 'ExportLogsServiceResponse; partialSuccess counts refused records',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      partialSuccess: {
                        type: 'object',
                        properties: {
                          rejectedLogRecords: { type: 'string' },
                          errorMessage: { type: 'string' },
                        },
                      },
                    },
                  },
                },
                [PROTOBUF]: { schema: { type: 'string', format: 'binary' } },
              },
            },
          },
        },
        config: {
          documentedBody: {
            'application/json': { schema: { type: 'object', description: 'ExportLogsServiceRequest' } },
            [PROTOBUF]: { schema: { type: 'string', format: 'binary' } },
          },
        },
      },
      async (request, reply) => {
        const protobuf = (request.headers['content-type'] ?? '').startsWith(PROTOBUF);
        const { principal, items } = await receive(request, {
          parse: (decoded, principal) => {
            const body = protobuf
              ? decodeOtlpProtobuf(decoded)
              : checkOtlpJson(parseJson(decodeUtf8(decoded)));
            const drafts = otlpDrafts(body, { now: new Date().toISOString() });
            return envelopesFor(drafts, principal);
          },
        });
        const rejected = items.length > 0 ? rejectedOf(await ingest(request, items, principal)) : [];
        const response =
          rejected.length > 0
            ? {
                partialSuccess: {
                  rejectedLogRecords: String(rejected.length),
                  errorMessage: rejected
                    .map((r) => `${r.code}: ${r.reason}`)
                    .join('; ')
                    .slice(0, 2000),
                },
              }
            : {};
        if (!protobuf) return reply.code(200).send(response);
        const bytes = logsService.ExportLogsServiceResponse.encode(response).finish();
        return reply.code(200).type(PROTOBUF).send(Buffer.from(bytes));
      },
    );

    app.post<{ Params: { collector_id: string } }>(
      '/enterprise/aispm/webhooks/github/:collector_id',
      {
        schema: {
          summary:
            "GitHub workflow_job webhook, signed with X-Hub-Signature-256 under the collector's signing secret.",
          params: {
            type: 'object',
            required: ['collector_id'],
            properties: { collector_id: { type: 'string' } },
          },
          response: {
            202: {
              description: 'In Kafka, or an ignored event',
              type: 'object',
              properties: {
                ignored: { type: 'string', description: 'The X-GitHub-Event that is not workflow_job' },
                items: { type: 'array', items: receiptSchema },
              },
            },
          },
        },
        // Authenticated by its signature: GitHub cannot send a bearer key.
        config: {
          public: true,
          documentedBody: { 'application/json': { schema: { type: 'object', description: 'workflow_job' } } },
        },
      },
      async (request, reply) => {
        const collector = deps.control.collectors.get(request.params.collector_id);
        const tenant = collector && !collector.revoked ? deps.control.tenantOf(collector) : undefined;
        if (!collector || !tenant || !collector.sealed_signing_secret)
          throw new AppError('GW_UNAUTHENTICATED', 'No live collector with a signing secret has that id');
        const secret = await signingSecret(collector.collector_id, collector.sealed_signing_secret);
        verifyHubSignature(secret, request.body as Buffer, request.headers['x-hub-signature-256']);
        const event = request.headers['x-github-event'];
        if (event !== 'workflow_job') return reply.code(202).send({ ignored: String(event ?? '') });
        const { principal, items } = await receive(request, {
          principal: { kind: 'collector', collector, tenant },
          parse: (decoded, sender) =>
            envelopesFor(workflowJobDrafts(parseJson(decodeUtf8(decoded)), new Date().toISOString()), sender),
        });
        const receipts = items.length > 0 ? await ingest(request, items, principal) : [];
        const rejected = rejectedOf(receipts);
        if (rejected.length > 0) {
          const [first] = rejected;
          throw new AppError(first!.code as never, first!.reason, { fields: [...first!.errors] });
        }
        return reply.code(202).send({ items: receipts });
      },
    );

    app.post<{ Querystring: HookQuery }>(
      CLAUDE_CODE_HOOK_PATH,
      {
        schema: {
          summary:
            "A Claude Code `http` hook: the hook's JSON, mapped as `aispm collect claude-code` maps it, with the collector key in Authorization (no signature).",
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              repository: {
                type: 'string',
                minLength: 1,
                maxLength: 200,
                description: "owner/name of the agent's checkout",
              },
              environment: {
                enum: [...ENVIRONMENTS],
                description: "Else the collector's only environment scope, else dev",
              },
            },
          },
          response: {
            204: {
              type: 'null',
              description:
                'In Kafka (or nothing to store for this hook); the empty 2xx lets Claude Code go on. Any other status is a non-blocking error to Claude Code.',
            },
          },
        },
        config: { documentedBody: { 'application/json': { schema: { type: 'object' } } } },
      },
      async (request, reply) => {
        const { principal, items } = await receive(request, {
          parse: (decoded, sender) =>
            claudeHookEnvelopes(
              checkHookPayload(parseJson(decodeUtf8(decoded))),
              sender,
              request.query,
              new Date().toISOString(),
            ),
        });
        const [refused] = rejectedOf(items.length > 0 ? await ingest(request, items, principal) : []);
        if (refused)
          throw new AppError(refused.code as never, refused.reason, { fields: [...refused.errors] });
        return reply.code(204).send();
      },
    );
  };
}
