/**
 * Owns every request the console makes: one typed function per endpoint, all same-origin with
 * the session cookie, and the one place a 401 is turned into "your session has ended".
 *
 * The UI never sees the API key after sign-in nor the session token: the server sets an HttpOnly
 * cookie, and nothing here reads or writes Web Storage. State-changing requests carry
 * `X-Aispm-Console: 1`, which the server requires as its CSRF defence (a cross-site form cannot
 * set a header, and a cross-site fetch that sets one needs a CORS preflight the server refuses).
 */
import type {
  Dashboard,
  EventRecord,
  Filters,
  Health,
  Problem,
  ReplayLogQuery,
  Session,
  TraceReplay,
  VerifyResult,
} from './types';

/** A request the server refused, with its problem document when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'ApiError';
  }
}

let sessionEnded: () => void = () => {};

/** Sets what happens when any call answers 401: the app goes back to sign-in. */
export function onSessionEnded(handler: () => void): void {
  sessionEnded = handler;
}

type Query = Readonly<Record<string, string | boolean | undefined>>;

/** `path` with the non-empty values of `query`, each encoded by URLSearchParams. */
export function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '' && value !== false) params.set(key, String(value));
  }
  const search = params.toString();
  return search === '' ? path : `${path}?${search}`;
}

async function problemOf(response: Response): Promise<Problem> {
  try {
    const body: unknown = await response.json();
    return body !== null && typeof body === 'object' ? (body as Problem) : {};
  } catch {
    return { title: response.statusText || `HTTP ${response.status}` };
  }
}

interface CallOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly body?: unknown;
  /** A 401 here is an answer (sign-in, session check), not an ended session. */
  readonly expect401?: boolean;
  readonly signal?: AbortSignal;
}

/** Sends one request; throws ApiError on a non-2xx answer, after ending the session on a 401. */
async function send(path: string, options: CallOptions = {}): Promise<Response> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-aispm-console'] = '1';
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: options.body === undefined ? null : JSON.stringify(options.body),
    signal: options.signal ?? null,
  });
  if (response.ok) return response;
  const problem = await problemOf(response);
  if (response.status === 401 && !options.expect401) sessionEnded();
  throw new ApiError(response.status, problem);
}

async function json<T>(path: string, options?: CallOptions): Promise<T> {
  return (await (await send(path, options)).json()) as T;
}

/** `POST /console/api/session`: exchanges a reader API key for the session cookie. */
export function signIn(apiKey: string): Promise<Session> {
  return json<Session>('/console/api/session', {
    method: 'POST',
    body: { api_key: apiKey },
    expect401: true,
  });
}

/** `GET /console/api/session`: the signed-in reader, or null when there is no live session. */
export async function currentSession(): Promise<Session | null> {
  try {
    return await json<Session>('/console/api/session', { expect401: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** `DELETE /console/api/session`: signs out (204). */
export async function signOut(): Promise<void> {
  await send('/console/api/session', { method: 'DELETE', expect401: true });
}

/** `GET /enterprise/aispm/dashboard`: the posture document, filtered. */
export function dashboard(filters: Filters, signal?: AbortSignal): Promise<Dashboard> {
  return json<Dashboard>(withQuery('/enterprise/aispm/dashboard', { ...filters }), { signal });
}

/** `GET /enterprise/aispm/events/{event_id}`. */
export function event(eventId: string, signal?: AbortSignal): Promise<EventRecord> {
  return json<EventRecord>(`/enterprise/aispm/events/${encodeURIComponent(eventId)}`, { signal });
}

/** `GET /enterprise/aispm/replay/{session_id}` (auditor): a session's timeline; audited. */
export function sessionReplay(sessionId: string, signal?: AbortSignal): Promise<TraceReplay> {
  return json<TraceReplay>(`/enterprise/aispm/replay/${encodeURIComponent(sessionId)}`, { signal });
}

/** `GET /enterprise/aispm/ingestion/health`. */
export function health(signal?: AbortSignal): Promise<Health> {
  return json<Health>('/enterprise/aispm/ingestion/health', { signal });
}

/** `GET /enterprise/aispm/verify` (auditor): the hash chain's verdict per partition. */
export function verify(signal?: AbortSignal): Promise<VerifyResult> {
  return json<VerifyResult>('/enterprise/aispm/verify', { signal });
}

/** The same-origin URL of a raw replay request (also the download link). */
export function replayLogUrl(query: ReplayLogQuery): string {
  return withQuery('/enterprise/aispm/replay-log', { ...query });
}

/** What a raw replay request showed. */
export type ReplayLogResult =
  | { readonly kind: 'dry_run'; readonly plan: unknown }
  | {
      readonly kind: 'lines';
      readonly lines: readonly string[];
      /** The stream had more than was read; the request was cut off there. */
      readonly truncated: boolean;
      /** The server cut the stream short: a replay that does not end cleanly has failed. */
      readonly failed: boolean;
    };

/**
 * `GET /enterprise/aispm/replay-log` (auditor; audited by the server): the dry run's plan, or the
 * first `maxLines` NDJSON lines, after which the response is cancelled, which stops the read.
 */
export async function replayLog(
  query: ReplayLogQuery,
  maxLines: number,
  signal?: AbortSignal,
): Promise<ReplayLogResult> {
  const response = await send(replayLogUrl(query), { signal });
  if (query.dry_run) return { kind: 'dry_run', plan: (await response.json()) as unknown };
  const lines: string[] = [];
  if (!response.body) return { kind: 'lines', lines, truncated: false, failed: false };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += value;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (line === '') continue;
        if (lines.length === maxLines) {
          await reader.cancel();
          return { kind: 'lines', lines, truncated: true, failed: false };
        }
        lines.push(line);
      }
    }
  } catch (error) {
    if (signal?.aborted) throw error;
    return { kind: 'lines', lines, truncated: false, failed: true };
  }
  // TRICKY: the server ends every record with a newline, so a last line without one means the
  // stream was cut inside a record.
  if (pending !== '') return { kind: 'lines', lines, truncated: false, failed: true };
  return { kind: 'lines', lines, truncated: false, failed: false };
}
