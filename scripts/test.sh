#!/usr/bin/env bash
# Runs every check and test on this machine: it installs what it needs itself (Node 24,
# npm packages, the Kafka broker's jars), starts the local Kafka broker, makes sure
# Postgres answers, then runs format, lint, typecheck, build and all jest tiers.
# Extra arguments go to jest (e.g. `npm test -- --selectProjects unit`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/node-env.sh

step() { printf '\n== %s\n' "$*"; }

step "dependencies"; bash scripts/install-deps.sh
step "format";       npx prettier --check . --log-level warn
step "lint";         npx eslint . --max-warnings 0
step "typecheck";    npx tsc -p tsconfig.json --noEmit
step "build";        npm run --silent build
step "kafka";        bash scripts/ensure-kafka.sh
step "postgres";     bash scripts/postgres.sh ensure

step "jest"
mkdir -p .local
results=.local/jest-results.json
rm -f "$results"
status=0
npx jest --ci --json --outputFile="$results" "$@" || status=$?

# The plain totals line CI reads; a run that executed no test fails.
node -e '
  const r = require(process.argv[1]);
  const failed = r.numFailedTests, passed = r.numPassedTests, skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
  if (skipped > 0) { console.error("skipped tests are not allowed"); process.exit(1); }
  if (r.numRuntimeErrorTestSuites > 0) { console.error(`${r.numRuntimeErrorTestSuites} test files failed to run`); process.exit(1); }
' "$PWD/$results" || status=1
exit "$status"
