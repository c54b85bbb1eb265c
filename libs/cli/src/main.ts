/** Entry point of `npx aispm`, with every command. */
import { CONFIG_KEYS } from '@aispm/config';
import { COMMANDS } from './commands';
import { findCommand as findIn, runCommands } from './runner';

export { parseOptions } from './runner';

/** The command named by the leading words of argv, longest match first. */
export const findCommand = (argv: readonly string[]) => findIn(COMMANDS, argv);

/** Where the commands connect: collectors to the gateway, administration and reads to the API. */
const CONNECTIONS = [
  'Where the commands connect (docs/configuration.md):',
  `  AISPM_URL      the ingest gateway (default ${CONFIG_KEYS.AISPM_URL.fallback}, or --url): send, collect, and the demo's collectors`,
  `  AISPM_API_URL  the API (default ${CONFIG_KEYS.AISPM_API_URL.fallback}, or --api-url): tenant, collector, reader, legal-hold, redaction, and the demo's reads`,
  '  KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CLICKHOUSE_URL: bootstrap, migrate, topics, schemas, replay, verify, audit verify',
];

/** Runs the CLI with `argv` (without node and script) and exits with its code. */
export function run(argv: string[]): void {
  runCommands(COMMANDS, argv, CONNECTIONS);
}
