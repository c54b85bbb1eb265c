/**
 * Owns how the CLI calls the API service's admin routes: the base URL (AISPM_API_URL or
 * --api-url) and the key (AISPM_ADMIN_KEY, or the local operator key file that `aispm bootstrap`
 * wrote). A problem document from the API becomes an error naming its code.
 */
import { readFileSync } from 'node:fs';
import { UsageError, type Options } from './command';
import type { CliConfig } from './env';
import { optionalString } from './options';

/** A failed admin call, with the API's stable error code. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${code} (${status}): ${detail}`);
  }
}

/** The CLI's key: AISPM_ADMIN_KEY, else the local operator key file. */
export function adminKey(config: CliConfig): string {
  if (config.AISPM_ADMIN_KEY) return config.AISPM_ADMIN_KEY;
  try {
    return readFileSync(config.AISPM_OPERATOR_KEY_FILE, 'utf8').trim();
  } catch {
    throw new Error(
      `No admin key: set AISPM_ADMIN_KEY, or run on the platform's machine after \`npm run up\` (reads ${config.AISPM_OPERATOR_KEY_FILE})`,
    );
  }
}

/**
 * The API service's base URL: --api-url, else AISPM_API_URL. `--url` names the ingest gateway,
 * which serves no admin route, so it is refused here rather than ignored: a script written for
 * the single gateway would otherwise talk to the default API address without a word.
 */
export function apiUrl(config: CliConfig, options: Options): string {
  if (options.url !== undefined)
    throw new UsageError('--url names the ingest gateway; this command talks to the API: use --api-url');
  return (optionalString(options, 'api-url') ?? config.AISPM_API_URL).replace(/\/+$/, '');
}

/** Why a fetch found nobody: the socket's error code (ECONNREFUSED, ENOTFOUND) when there is one. */
export function unreachable(error: unknown): string {
  const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
  return cause?.code ?? (error as Error).message;
}

/** Calls `method path` on the admin API and returns the parsed JSON answer. */
export async function callAdmin(
  config: CliConfig,
  options: Options,
  method: string,
  path: string,
  body?: object,
): Promise<Record<string, unknown>> {
  const base = apiUrl(config, options);
  const response = await fetch(`${base}/enterprise/aispm/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey(config)}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  }).catch((error: unknown) => {
    throw new Error(
      `the API is not reachable at ${base} (${unreachable(error)}); point AISPM_API_URL (or --api-url) at it`,
    );
  });
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) {
    throw new AdminApiError(
      response.status,
      String(answer.code ?? 'HTTP_ERROR'),
      String(answer.detail ?? response.statusText),
    );
  }
  return answer;
}
