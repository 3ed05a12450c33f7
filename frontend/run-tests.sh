#!/usr/bin/env bash
# Runs the frontend's tests: type check, unit tests (Vitest, pure state logic),
# the production build, then the browser tests (system Chromium through
# playwright-core) against the real server binary, which take screenshots into
# a temporary folder (TANDEM_SCREENSHOTS=docs/screenshots refreshes the README's). Needs the server built (`cargo build`; TANDEM_BIN
# overrides the path), Chromium (`apt-get install -y chromium`; CHROMIUM_PATH
# overrides /usr/bin/chromium) and redis-server (the restart tests run the
# server on a throw-away Redis they start). Works without stdin (CI).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== frontend: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== frontend: type check"
npx tsc --noEmit

echo "== frontend: unit tests (vitest)"
npx vitest run

echo "== frontend: build"
npx vite build --logLevel warn

echo "== frontend: browser tests (chromium, playwright-core)"
bin="${TANDEM_BIN:-../target/debug/tandem}"
if [ ! -x "$bin" ]; then
  echo "run-tests.sh: the server binary $bin is missing: run \`cargo build\` in the repository root first (or set TANDEM_BIN)" >&2
  exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "run-tests.sh: redis-server is missing: apt-get install -y redis-server (scripts/test.sh installs it)" >&2
  exit 1
fi
node --test --test-concurrency=1 tests/browser/
