/**
 * Owns the CLI commands of a tenant's redaction profile (DESIGN §7): show it, replace it from a
 * JSON file, and dry-run it (or a draft) against a sample envelope, which stores nothing.
 */
import { readFileSync } from 'node:fs';
import { callAdmin } from './admin-client';
import { UsageError, type Command, type Options } from './command';
import { requireString } from './options';

const tenantOf = (options: Options) => encodeURIComponent(requireString(options, 'tenant'));

/** The JSON object in `--<name> FILE`, or on stdin when FILE is `-` (or absent, with `stdin`). */
function readJson(options: Options, name: string, stdin: boolean): Record<string, unknown> | undefined {
  const file = options[name];
  if (file === undefined && !stdin) return undefined;
  if (file !== undefined && typeof file !== 'string') throw new UsageError(`--${name} takes a file name`);
  const text = file === undefined || file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file ?? 'stdin'} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${file ?? 'stdin'} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

export const REDACTION_COMMANDS: Readonly<Record<string, Command>> = {
  'redaction show': {
    usage: 'aispm redaction show --tenant SLUG',
    summary: "Show the tenant's redaction profile (never its token key).",
    run: (_positionals, options, config) =>
      callAdmin(config, options, 'GET', `/tenants/${tenantOf(options)}/redaction`),
  },
  'redaction set': {
    usage: 'aispm redaction set --tenant SLUG --file PROFILE.json',
    summary: "Replace the tenant's redaction profile (actions, custom_patterns, deny_fields).",
    run: (_positionals, options, config) =>
      callAdmin(
        config,
        options,
        'PUT',
        `/tenants/${tenantOf(options)}/redaction`,
        readJson(options, 'file', true),
      ),
  },
  'redact dry-run': {
    usage: 'aispm redact dry-run --tenant SLUG [--file ENVELOPE.json|-] [--profile DRAFT.json]',
    summary: 'Show what the profile (or a draft) does to a sample envelope; stores nothing.',
    async run(_positionals, options, config) {
      const tenant = tenantOf(options);
      const profile = readJson(options, 'profile', false);
      const envelope = readJson(options, 'file', true);
      return callAdmin(config, options, 'POST', `/tenants/${tenant}/redaction/dry-run`, {
        envelope,
        ...(profile ? { profile } : {}),
      });
    },
  },
};
