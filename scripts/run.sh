#!/usr/bin/env bash
# Runs Tandem on http://127.0.0.1:8000 in dev mode: memory engine, a throw-away
# JWT secret, and the demo login (POST /api/dev/token). Extra flags are passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "run.sh: cargo is missing: install Rust from https://rustup.rs first" >&2
  exit 1
fi
exec cargo run --release --quiet -- --dev "$@"
