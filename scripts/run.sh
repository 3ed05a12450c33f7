#!/usr/bin/env bash
# Runs Tandem on http://127.0.0.1:8000 in dev mode: memory engine, a throw-away
# JWT secret, and the demo login (POST /api/dev/token). Builds the browser
# frontend first (served at /). Extra flags are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "run.sh: cargo is missing: install Rust from https://rustup.rs first" >&2
  exit 1
fi
if command -v npm >/dev/null 2>&1; then
  echo "run.sh: building the frontend (frontend/ → frontend/dist, served at /)"
  (
    cd frontend
    # npm ci only when node_modules is missing or older than the lock file.
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run build --silent
  )
else
  echo "run.sh: npm is missing (install Node.js 20.19+): starting without the frontend; / says how to build it" >&2
fi
exec cargo run --release --quiet -- --dev "$@"
