/** What a command of `aispm` is; its own module, so a command table loads only its commands. */
import type { CliConfig } from './env';

/** Parsed command-line options: repeated flags collect into arrays. */
export type Options = Record<string, string | boolean | string[] | undefined>;

/** One CLI command. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  /** Where the result goes; stderr when the command's own output uses stdout. Default stdout. */
  resultTo?(options: Options): 'stdout' | 'stderr';
  /** Prints nothing on success: its stdout belongs to the tool it serves (a hook, the MCP protocol). */
  readonly quiet?: boolean;
  run(positionals: readonly string[], options: Options, config: CliConfig): Promise<Record<string, unknown>>;
}

/** A mistake in how the command was called; printed with the usage, exit code 2. */
export class UsageError extends Error {}
