#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in one run on the same servers, each next to its limit, and
 * the results written to docs/benchmarks.md with the machine they ran on. One benchmark alone:
 * `npm run bench -- gateway` (names as in BENCHMARKS) replaces that benchmark's section and keeps
 * the others, so the page never loses a measurement to a partial run.
 */
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const bench = require('./lib');

const BENCHMARKS = ['gateway', 'pipeline', 'stream', 'replay', 'redaction', 'console'];
const DOCUMENT = path.join(bench.REPO, 'docs/benchmarks.md');
/** A section's heading names its benchmark: `## Gateway (\`npm run bench:gateway\`)`. */
const HEADING = /^## .*\(`npm run bench:([a-z]+)`\)$/;

/** The current page: its introduction and its sections by benchmark name, with their headings. */
function currentPage() {
  const sections = new Map();
  const intro = [];
  if (existsSync(DOCUMENT)) {
    let name;
    for (const line of readFileSync(DOCUMENT, 'utf8').split('\n').slice(1)) {
      const heading = HEADING.exec(line);
      if (heading) {
        name = heading[1];
        sections.set(name, []);
      }
      if (name) sections.get(name).push(line);
      else intro.push(line);
    }
  }
  return {
    intro: intro.join('\n').trim(),
    sections: new Map([...sections].map(([key, lines]) => [key, lines.join('\n').trim()])),
  };
}

/** A section measured alone, with when and where, after its heading. */
function measuredAlone(section, name) {
  const [heading, ...rest] = section.split('\n');
  return [
    heading,
    '',
    `Measured alone by \`npm run bench -- ${name}\` on ${bench.machine()}; the rest of the page is from the run the introduction names.`,
    ...rest,
  ].join('\n');
}

async function main() {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !BENCHMARKS.includes(name));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark ${unknown.join(', ')}; have ${BENCHMARKS.join(', ')}`);
  const partial = chosen.length > 0 && chosen.length < BENCHMARKS.length;
  const page = partial ? currentPage() : { intro: '', sections: new Map() };
  bench.prepare();
  for (const name of chosen.length > 0 ? chosen : BENCHMARKS) {
    process.stderr.write(`[bench] ${name}\n`);
    const section = await require(`./${name}`).run();
    page.sections.set(name, partial ? measuredAlone(section, name) : section);
  }
  const intro =
    page.intro ||
    `Measured by \`npm run bench\` on ${bench.machine()}. A noisy machine: read the ratios, each measured side by side with its limit in the same run. Every process (services, Kafka, ClickHouse, the registry and the load generator) shares the cores.`;
  const document = [
    `# Benchmarks`,
    ``,
    intro,
    ``,
    BENCHMARKS.filter((name) => page.sections.has(name))
      .map((name) => page.sections.get(name))
      .join('\n\n'),
    ``,
  ].join('\n');
  process.stdout.write(await bench.writeMarkdown(DOCUMENT, document));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
