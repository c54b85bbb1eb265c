#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in one run on the same servers, each next to its limit, and
 * the results written to docs/benchmarks.md with the machine they ran on. One benchmark alone:
 * `npm run bench -- gateway` (names as in BENCHMARKS).
 */
const { writeFileSync } = require('node:fs');
const path = require('node:path');
const bench = require('./lib');

const BENCHMARKS = ['gateway', 'pipeline', 'stream', 'replay', 'redaction'];

async function main() {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !BENCHMARKS.includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(', ')}; have ${BENCHMARKS.join(', ')}`);
  bench.prepare();
  const sections = [];
  for (const name of chosen.length > 0 ? chosen : BENCHMARKS) {
    process.stderr.write(`[bench] ${name}\n`);
    sections.push(await require(`./${name}`).run());
  }
  const document = [
    `# Benchmarks`,
    ``,
    `Measured by \`npm run bench\` on ${bench.machine()}. A noisy machine: read the ratios, each measured side by side with its limit in the same run. Every process (services, Kafka, ClickHouse, the registry and the load generator) shares the cores.`,
    ``,
    sections.join('\n\n'),
    ``,
  ].join('\n');
  writeFileSync(path.join(bench.REPO, 'docs/benchmarks.md'), document);
  process.stdout.write(document);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
