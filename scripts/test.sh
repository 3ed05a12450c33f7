#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, the interop tests with the
# official `centrifuge` npm client against the real binary, then the frontend's
# unit tests (Vitest) and browser tests (headless Chromium via playwright-core).
# Installs what the tests need on a fresh machine (npm packages; Chromium with
# apt when missing). Works without stdin (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: $1 is missing: $2" >&2; exit 1; }
}
need cargo "install Rust from https://rustup.rs"
need node "install Node.js 20.19 or newer"
need npm "install Node.js 20.19 or newer (npm comes with it)"

# System packages the tests need, installed with apt where missing.
apt_updated=
apt_install() { # binary package
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== installing $2 (apt)"
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "test.sh: $1 is missing and there is no root/sudo to install $2" >&2; exit 1; }
    sudo="sudo -n"
  fi
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: installing $2 did not provide $1" >&2; exit 1; }
}
if [ -z "${CHROMIUM_PATH:-}" ]; then
  apt_install chromium chromium
fi

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
echo "== frontend: unit and browser tests (Chromium)"
TANDEM_BIN="$root/target/debug/tandem" bash frontend/run-tests.sh

echo "== all tests passed"
