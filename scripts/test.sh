#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, checks types, lint and
# formatting, starts the real servers if they are not running, then runs every suite: unit,
# integration and end-to-end, then the fault suites (`npm run proof`, docs/faults.md), which print
# their table. Arguments go to the first jest run and leave the fault suites out, for running
# one suite: `npm test -- test/integration/stream.test.ts`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run build --silent
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
# Debian's docker-compose validates docker-compose.yml without a Docker engine; openssl makes
# the mTLS suite's certificates; chromium is the browser the console's end-to-end suite drives
# (through playwright-core, which downloads no browser of its own).
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]} > 0)); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash deploy/local/infra.sh start
mkdir -p .data
# Every process this run starts from here on inherits the marker; whatever still carries it when
# the suites have ended (a jest stopped by its time bound leaves its suites' services and private
# servers behind) is stopped before the summary. The shared servers started above carry none.
export AISPM_TEST_RUN="$$-$(date +%s%N)"
reap_leftovers() {
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [[ $pid == "$$" ]] && continue
    if grep -qzx "AISPM_TEST_RUN=$AISPM_TEST_RUN" "$environ" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}
status=0
rm -f .data/jest-results.json .data/jest-faults.json
# Each run is bounded, so a hung suite still ends in a summary well inside CI's 90 minutes:
# `timeout` stops jest (and, after the grace, kills it), and the summary counts a run that wrote
# no results as failed. --forceExit: a suite's Kafka client still retrying is no reason to wait.
bounded() { timeout --kill-after=60 "$1" "${@:2}"; }
results=(.data/jest-results.json)
bounded "${AISPM_TEST_BOUND:-40m}" npx jest --ci --forceExit --selectProjects unit integration \
  --json --outputFile=.data/jest-results.json "$@" || status=$?
if (($# == 0)); then
  results+=(.data/jest-faults.json)
  bounded "${AISPM_FAULTS_BOUND:-35m}" node scripts/proof.js --json --outputFile=.data/jest-faults.json ||
    status=$?
fi
reap_leftovers
# Failed tests by name, then "tests: N passed, N failed", as the last lines of the log.
node scripts/test-summary.js "${results[@]}" || true
exit "$status"
