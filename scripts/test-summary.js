#!/usr/bin/env node
/**
 * The closing lines of `npm test`: every failed test by suite and name, with the head of its
 * failure, then one plain line readable by any CI: "tests: N passed, N failed". They come last
 * because a CI that keeps only the tail of a long log must still say which test failed.
 *
 *   node scripts/test-summary.js <jest --json result file>...
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const failureLines = 12;
const ansi = /\u001b\[[0-9;]*m/g;

function head(message) {
  const lines = message.replace(ansi, '').split('\n');
  const shown = lines.slice(0, failureLines).map((line) => `    ${line}`);
  if (lines.length > failureLines) shown.push(`    … ${lines.length - failureLines} more lines`);
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
    for (const test of failures)
      console.log(`FAILED ${suitePath} › ${test.fullName}\n${head(test.failureMessages.join('\n'))}`);
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
