#!/usr/bin/env node
/**
 * `npm run proof` (and `npm run test:faults`, which CI runs): builds, runs the fault suites
 * (jest project `faults`: crash and restart, outages, poison, hostile input, broker loss) and
 * prints what they proved, from the ledger each suite writes to `.data/proof/`. Exits non-zero
 * when a suite failed, a fault was not survived, or an acknowledged event was lost or duplicated.
 *
 *   node scripts/proof.js [--report-only] [jest arguments...]
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const proofDir = path.join(repo, '.data/proof');
const args = process.argv.slice(2);
const reportOnly = args[0] === '--report-only';

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { cwd: repo, stdio: 'inherit' });
  return result.status ?? 1;
}

let status = 0;
if (!reportOnly) {
  fs.rmSync(proofDir, { recursive: true, force: true });
  status = run('npx', ['tsc', '-b']);
  // --runInBand: one suite at a time, so their stopped servers and killed services do not pile up
  // on a small machine. --forceExit: a client of a server a suite stopped may still be retrying
  // when the suite ends; the suites' own assertions are what count.
  if (status === 0)
    status = run('npx', [
      'jest',
      '--ci',
      '--forceExit',
      '--runInBand',
      '--selectProjects',
      'faults',
      ...args,
    ]);
}

const files = fs.existsSync(proofDir) ? fs.readdirSync(proofDir).filter((f) => f.endsWith('.json')) : [];
const suites = files.sort().map((f) => JSON.parse(fs.readFileSync(path.join(proofDir, f), 'utf8')));
const columns = [
  ['suite', (s) => s.suite],
  ['faults injected', (s) => s.faults.length],
  ['survived', (s) => s.faults.filter((f) => f.survived).length],
  ['hostile inputs', (s) => s.hostileInputs],
  ['events sent', (s) => s.sent],
  ['acknowledged', (s) => s.acknowledged],
  ['projected', (s) => s.projected],
  ['lost', (s) => s.lost],
  ['duplicated', (s) => s.duplicated],
];
const rows = suites.map((s) => columns.map(([, value]) => String(value(s))));
const total = columns.map((_, i) =>
  i === 0 ? 'total' : String(rows.reduce((sum, row) => sum + Number(row[i]), 0)),
);
const table = [columns.map(([name]) => name), ...rows, total];
const widths = columns.map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) =>
  row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
console.log('');
console.log(line(table[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
console.log(line(total));
for (const suite of suites) {
  for (const fault of suite.faults) {
    console.log(`  ${fault.survived ? 'survived' : 'NOT SURVIVED'}: ${suite.suite}: ${fault.name}`);
  }
}
for (const suite of suites)
  for (const note of suite.notes ?? []) console.log(`  measured: ${suite.suite}: ${note}`);

const [, injected, survived, , , , , lost, duplicated] = total.map(Number);
const problems = [];
if (status !== 0) problems.push('a fault suite failed');
if (suites.length === 0) problems.push('no suite reported');
if (survived !== injected) problems.push(`${injected - survived} fault(s) not survived`);
if (lost !== 0) problems.push(`${lost} acknowledged event(s) lost`);
if (duplicated !== 0) problems.push(`${duplicated} event(s) duplicated`);
console.log(
  problems.length === 0
    ? '\nproof: every fault survived; lost 0, duplicated 0'
    : `\nproof FAILED: ${problems.join('; ')}`,
);
process.exit(problems.length === 0 ? 0 : 1);
