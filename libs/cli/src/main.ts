/** Entry point of `npx aispm`, with every command. */
import { COMMANDS } from './commands';
import { findCommand as findIn, runCommands } from './runner';

export { parseOptions } from './runner';

/** The command named by the leading words of argv, longest match first. */
export const findCommand = (argv: readonly string[]) => findIn(COMMANDS, argv);

/** Runs the CLI with `argv` (without node and script) and exits with its code. */
export function run(argv: string[]): void {
  runCommands(COMMANDS, argv);
}
