#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, then the interop tests with
# the official `centrifuge` npm client against the real binary. Installs what
# the tests need (npm packages) on a fresh machine. Works without stdin (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: $1 is missing: $2" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs"
need node "install Node.js 20 or newer"
need npm "install Node.js 20 or newer (npm comes with it)"

echo "== cargo build"
cargo build --locked --bins

echo "== cargo test (unit + integration)"
cargo test --locked --all-targets

echo "== interop: official centrifuge npm client"
(
  cd tests/interop
  npm ci --no-audit --no-fund --loglevel=error
  TANDEM_BIN="$root/target/debug/tandem" npm test
)
echo "== all tests passed"
