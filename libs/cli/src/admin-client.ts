/**
 * Owns how the CLI calls the gateway's admin API: the base URL (AISPM_URL or --url) and the key
 * (AISPM_ADMIN_KEY, or the local operator key file that `aispm bootstrap` wrote). A problem
 * document from the gateway becomes an error naming its code.
 */
import { readFileSync } from 'node:fs';
import type { CliConfig } from './env';
import type { Options } from './commands';

/** A failed admin call, with the gateway's stable error code. */
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

/** Calls `method path` on the admin API and returns the parsed JSON answer. */
export async function callAdmin(
  config: CliConfig,
  options: Options,
  method: string,
  path: string,
  body?: object,
): Promise<Record<string, unknown>> {
  const base = typeof options.url === 'string' ? options.url.replace(/\/+$/, '') : config.AISPM_URL;
  const response = await fetch(`${base}/enterprise/aispm/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey(config)}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
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
