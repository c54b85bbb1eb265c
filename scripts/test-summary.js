#!/usr/bin/env node
/**
 * The closing lines of `npm test`: every failed test by suite and name, with the head of its
 * failure, then one plain line readable by any CI: "tests: N passed, N failed". They come last
 * because a CI that keeps only the tail of a long log must still say which test failed. Tests of
 * a suite that failed alike (a `beforeAll` that failed fails them all) share one entry, so the
 * tail still reaches every suite.
 *
 *   node scripts/test-summary.js <jest --json result file>...
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** A failure's message is shown whole up to this many lines, then this many lines of its stack. */
const messageLines = 40;
const stackLines = 4;
const ansi = /\u001b\[[0-9;]*m/g;

function head(message) {
  const lines = message.replace(ansi, '').split('\n');
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  const messageEnd = Math.min(firstFrame === -1 ? lines.length : firstFrame, messageLines);
  const kept = [...lines.slice(0, messageEnd), ...lines.slice(messageEnd, messageEnd + stackLines)];
  const shown = kept.map((line) => `    ${line}`);
  if (lines.length > kept.length) shown.push(`    … ${lines.length - kept.length} more lines`);
  return shown.join('\n');
}

let passed = 0;
let failed = 0;
const runs = [];
for (const file of process.argv.slice(2)) {
  try {
    runs.push(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (error) {
    // A jest run that was stopped (its time bound) or never started writes no results.
    failed += 1;
    console.log(`FAILED ${file}: no test results (${error.code ?? error.message}); see the log above`);
  }
}
for (const run of runs) {
  passed += run.numPassedTests;
  failed += run.numFailedTests + run.numRuntimeErrorTestSuites;
  for (const suite of run.testResults) {
    const suitePath = path.relative(process.cwd(), suite.name);
    const failures = suite.assertionResults.filter((test) => test.status === 'failed');
    if (failures.length === 0 && suite.status === 'failed')
      console.log(`FAILED ${suitePath}\n${head(suite.message)}`);
    const alike = new Map();
    for (const test of failures) {
      const message = test.failureMessages.join('\n');
      alike.set(message, [...(alike.get(message) ?? []), test.fullName]);
    }
    for (const [message, names] of alike) {
      const more = names.length > 1 ? ` (and ${names.length - 1} more failing alike)` : '';
      console.log(`FAILED ${suitePath} › ${names[0]}${more}\n${head(message)}`);
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
