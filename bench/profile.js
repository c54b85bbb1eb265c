#!/usr/bin/env node
/**
 * Summarizes a V8 CPU profile (`--cpu-prof`, e.g. `BENCH_PROFILE_DIR=dir npm run bench:gateway`):
 * self time per function, largest first, as a share of the samples, grouped by function and file
 * (dependencies by package). `node bench/profile.js FILE.cpuprofile [rows]`.
 */
const { readFileSync } = require('node:fs');

function place(url) {
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return module[1];
  const local = /\/(libs|services)\/(.+)$/.exec(url);
  if (local) return `${local[1]}/${local[2]}`;
  return url.replace(/^node:/, '') || '(native)';
}

/** Self time per function of `profile`, in ms, with its share of the total. */
function summarize(profile) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const { functionName, url } = byNode.get(id).callFrame;
    const name = `${functionName || '(anonymous)'} ${place(url)}`;
    self.set(name, (self.get(name) ?? 0) + delta);
    total += delta;
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .map(([name, micros]) => ({ name, ms: micros / 1000, share: micros / total }));
}

if (require.main === module) {
  const [file, rows = '30'] = process.argv.slice(2);
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')));
  for (const { name, ms, share } of summary.slice(0, Number(rows)))
    process.stdout.write(
      `${(share * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(7)} ms  ${name}\n`,
    );
}

module.exports = { summarize };
