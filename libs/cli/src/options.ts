/** Owns reading a command's flags and positionals; a missing or malformed one is a usage error. */
import { UsageError, type Options } from './command';

/** The value of `--name`; it must be given and not empty. */
export function requireString(options: Options, name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** The value of `--name` when given; given without a value, it is a usage error. */
export function optionalString(options: Options, name: string): string | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} needs a value`);
  return value;
}

/** The first positional, URL-encoded for a route; `<name>` in the message when it is missing. */
export function requirePositional(positionals: readonly string[], name: string): string {
  const value = positionals[0];
  if (!value) throw new UsageError(`<${name}> is required`);
  return encodeURIComponent(value);
}

/** A repeatable flag as a list (`--repo a --repo b`). */
export function list(options: Options, name: string): string[] {
  const value = options[name];
  if (value === undefined || typeof value === 'boolean') return [];
  return Array.isArray(value) ? value : [value];
}

/** `--name N` as a whole number, when given. */
export function optionalInteger(options: Options, name: string): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}
