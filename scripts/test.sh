#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, checks types, lint and
# formatting, starts the real servers if they are not running, then runs every suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ -d node_modules ]] || npm ci --no-audit --no-fund
npx tsc -b
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
# Debian's docker-compose validates docker-compose.yml without a Docker engine; openssl makes
# the mTLS suite's certificates.
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ((${#missing[@]} > 0)); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash deploy/local/infra.sh start
mkdir -p .data
status=0
npx jest --ci --selectProjects unit integration --json --outputFile=.data/jest-results.json "$@" || status=$?
# One plain closing line, readable by any CI: "tests: N passed, N failed".
node -e '
  const r = require(process.argv[1]);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed`);
' "$PWD/.data/jest-results.json" || true
# The fault suites (jest project faults) run apart, `npm run proof`, until they have passed several
# runs in a row (docs/faults.md).
exit "$status"
