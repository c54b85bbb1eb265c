/**
 * Owns the error model: every failure the platform reports carries a stable code, a retriable
 * flag chosen on purpose, and the HTTP status it maps to at the edge. Codes never change once
 * shipped; each one is documented in docs/errors.md (a test keeps the two in step).
 */

/** What a code means to callers: whether retrying can help, and the status it maps to. */
export interface ErrorSpec {
  readonly retriable: boolean;
  readonly status: number;
  readonly title: string;
}

/** Every error code, with its meaning. Add new codes; never rename or reuse one. */
export const ERROR_CODES = {
  CONFIG_INVALID: { retriable: false, status: 500, title: 'Configuration is invalid' },
  CLI_BAD_INPUT: { retriable: false, status: 400, title: 'An input item is not an envelope' },
  GW_BAD_JSON: { retriable: false, status: 400, title: 'Body is not valid JSON' },
  GW_SCHEMA_INVALID: { retriable: false, status: 400, title: 'Envelope does not match the contract' },
  GW_UNAUTHENTICATED: { retriable: false, status: 401, title: 'Missing or invalid credentials' },
  GW_SIGNATURE_INVALID: { retriable: false, status: 401, title: 'Request signature is missing or invalid' },
  GW_TENANT_MISMATCH: { retriable: false, status: 403, title: 'Envelope names another tenant' },
  GW_FORBIDDEN: { retriable: false, status: 403, title: 'Credential may not do this' },
  GW_SCOPE_DENIED: { retriable: false, status: 403, title: "Envelope is outside the collector's scopes" },
  GW_SEMANTIC_INVALID: { retriable: false, status: 400, title: 'Envelope breaks a semantic rule' },
  GW_QUOTA_EXCEEDED: { retriable: true, status: 429, title: "Over the tenant's quota" },
  GW_CONFLICT: { retriable: false, status: 409, title: 'Conflicts with existing state' },
  GW_IDEMPOTENCY_CONFLICT: {
    retriable: false,
    status: 409,
    title: 'Idempotency key reused with different content',
  },
  GW_CONTROL_PLANE_NOT_READY: { retriable: true, status: 503, title: 'Control plane still loading' },
  GW_BODY_TOO_LARGE: { retriable: false, status: 413, title: 'Body is too large' },
  GW_UNSUPPORTED_MEDIA_TYPE: { retriable: false, status: 415, title: 'Unsupported media type' },
  GW_NOT_FOUND: { retriable: false, status: 404, title: 'Not found' },
  GW_BAD_REQUEST: { retriable: false, status: 400, title: 'Request is malformed' },
  GW_INTERNAL: { retriable: true, status: 500, title: 'Internal error; nothing was acknowledged' },
  GW_KAFKA_UNAVAILABLE: { retriable: true, status: 503, title: 'Event log unavailable; nothing was stored' },
  GW_OVERLOADED: {
    retriable: true,
    status: 503,
    title: 'Gateway at its in-flight limit; nothing was stored',
  },
  KAFKA_DECODE_FAILED: { retriable: false, status: 500, title: 'Message could not be decoded' },
  KAFKA_SCHEMA_REGISTRY_UNAVAILABLE: { retriable: true, status: 503, title: 'Schema registry unavailable' },
  STAGE_CORE_FAILED: { retriable: false, status: 500, title: 'Stage core rejected the message' },
  NORMALIZE_INVALID_ENVELOPE: { retriable: false, status: 500, title: 'Envelope cannot be normalized' },
  NORMALIZE_UNKNOWN_COLLECTOR: {
    retriable: false,
    status: 422,
    title: 'Collector version unknown to the normalizer',
  },
  NORMALIZE_EVENT_TOO_OLD: { retriable: false, status: 422, title: 'Event older than the tenant allows' },
  CH_QUERY_FAILED: { retriable: true, status: 503, title: 'ClickHouse query failed' },
  CH_INVALID_IDENTIFIER: { retriable: false, status: 500, title: 'Identifier is not allowed in SQL' },
  CH_MIGRATION_FAILED: { retriable: false, status: 500, title: 'ClickHouse migration failed' },
  TENANT_INVALID_SLUG: { retriable: false, status: 400, title: 'Tenant slug is invalid' },
  REPLAY_INVALID_REQUEST: { retriable: false, status: 400, title: 'Replay request is invalid' },
  REPLAY_BUSY: { retriable: true, status: 429, title: 'Too many replays in progress' },
  KMS_KEY_DESTROYED: { retriable: false, status: 500, title: "Tenant's key is destroyed (crypto-shredded)" },
  KMS_UNWRAP_FAILED: { retriable: false, status: 500, title: 'Data key is not a key of this tenant' },
  RAW_NOT_ENCRYPTED: { retriable: false, status: 500, title: 'Raw value is not encrypted' },
  RAW_DECRYPT_FAILED: { retriable: false, status: 500, title: 'Raw value fails decryption' },
  REDACT_PROFILE_INVALID: { retriable: false, status: 400, title: "Tenant's redaction profile is invalid" },
  REDACT_TENANT_UNKNOWN: { retriable: false, status: 500, title: 'Tenant is unknown or deleted' },
  REDACT_ENVELOPE_INVALID: { retriable: false, status: 500, title: 'Envelope cannot be redacted' },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A pointer to the input that failed, for problem details (RFC 9457 `errors[]`). */
export interface FieldError {
  readonly pointer: string;
  readonly detail: string;
}

/** The one base class for errors the platform raises on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly status: number;
  readonly fields: readonly FieldError[];
  /** For 429 and 503: when a retry may succeed, if known better than the default. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; fields?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.status = ERROR_CODES[code].status;
    this.fields = options.fields ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** True for errors that mean a bug in our code, which must never be retried. */
export function isProgrammerError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  );
}

/** Whether retrying the failed operation can help. Unknown errors are not retried. */
export function isRetriable(error: unknown): boolean {
  return error instanceof AppError && error.retriable;
}
