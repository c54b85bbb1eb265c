/**
 * Runs a command of a command table: finds it, parses its flags, runs it, and prints the result.
 * Exit codes: 0 done, 1 the command failed, 2 the call was wrong.
 */
import { UsageError, type Command, type Options } from './command';
import { loadEnv } from './env';

type Commands = Readonly<Record<string, Command>>;

function usage(COMMANDS: Commands, footer: readonly string[]): string {
  return [
    'usage:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`),
    ...(footer.length > 0 ? ['', ...footer] : []),
  ].join('\n');
}

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set([
  'json',
  'yes',
  'require-signature',
  'dry-run',
  'help',
  'reinject',
  'uninstall',
  'http',
]);

/**
 * `--name value`, `--name=value` and boolean `--flag`; a repeated flag collects into an array
 * (`--repo a --repo b`). Everything else is positional.
 */
export function parseOptions(argv: readonly string[]): { options: Options; positionals: string[] } {
  const options: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    // Everything after a bare `--` is positional: a command line to run, with its own flags.
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | boolean;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (BOOLEAN_FLAGS.has(name) || i + 1 >= argv.length) value = true;
    else value = argv[++i]!;
    const previous = options[name];
    if (previous === undefined || typeof value === 'boolean') options[name] = value;
    else options[name] = [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  return { options, positionals };
}

/** The command named by the leading words of argv, longest match first. */
export function findCommand(
  COMMANDS: Commands,
  argv: readonly string[],
): { name: string; rest: string[] } | undefined {
  for (let words = Math.min(3, argv.length); words >= 1; words -= 1) {
    const name = argv.slice(0, words).join(' ');
    if (COMMANDS[name]) return { name, rest: argv.slice(words) };
  }
  return undefined;
}

async function main(COMMANDS: Commands, argv: string[], footer: readonly string[]): Promise<number> {
  const found = findCommand(COMMANDS, argv);
  const end = argv.indexOf('--');
  const help = (end === -1 ? argv : argv.slice(0, end)).includes('--help');
  if (!found || help) {
    process.stderr.write(`${usage(COMMANDS, footer)}\n`);
    return found || help ? 0 : 2;
  }
  const { options, positionals } = parseOptions(found.rest);
  try {
    const command = COMMANDS[found.name]!;
    const result = await command.run(positionals, options, loadEnv());
    if (command.quiet) return 0;
    const out = command.resultTo?.(options) === 'stderr' ? process.stderr : process.stdout;
    out.write(options.json ? `${JSON.stringify(result)}\n` : `${formatText(result)}\n`);
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

/**
 * Runs `argv` (without node and script) against `commands` and exits with its code; `footer`
 * follows the list of commands in the help.
 */
export function runCommands(commands: Commands, argv: string[], footer: readonly string[] = []): void {
  void main(commands, argv, footer).then((code) => process.exit(code));
}
