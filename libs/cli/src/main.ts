/**
 * Entry point of `npx aispm`: finds the command, parses its flags, runs it, and prints the
 * result. Exit codes: 0 done, 1 the command failed, 2 the call was wrong.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, UsageError, type Options } from './commands';
import { loadEnv } from './env';

function usage(): string {
  return ['usage:', ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`)].join('\n');
}

/** The command named by the leading words of argv, longest match first. */
export function findCommand(argv: readonly string[]): { name: string; rest: string[] } | undefined {
  for (let words = Math.min(3, argv.length); words >= 1; words -= 1) {
    const name = argv.slice(0, words).join(' ');
    if (COMMANDS[name]) return { name, rest: argv.slice(words) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const found = findCommand(argv);
  if (!found || argv.includes('--help')) {
    process.stderr.write(`${usage()}\n`);
    return found || argv.includes('--help') ? 0 : 2;
  }
  const { values, positionals } = parseArgs({ args: found.rest, strict: false, allowPositionals: true });
  const options = values as Options;
  try {
    const result = await COMMANDS[found.name]!.run(positionals, options, loadEnv());
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${formatText(result)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`aispm ${found.name}: ${(error as Error).message}\n`);
    if (error instanceof UsageError) {
      process.stderr.write(`usage: ${COMMANDS[found.name]!.usage}\n`);
      return 2;
    }
    return 1;
  }
}

function formatText(result: Record<string, unknown>): string {
  return Object.entries(result)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('\n');
}

/** Runs the CLI with `argv` (without node and script) and exits with its code. */
export function run(argv: string[]): void {
  void main(argv).then((code) => process.exit(code));
}
