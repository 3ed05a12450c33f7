#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (the Redis ones start their
# own redis-server), the run command's restart test (scripts/test-run-restart.sh),
# the interop tests with the official `centrifuge` npm client (JSON and Protobuf
# builds) and the official Python SDK (Protobuf) against the real binary on the
# memory engine and on a throw-away Redis, then
# the frontend's unit tests (Vitest) and browser tests (headless Chromium via
# playwright-core). Installs what the tests need on a fresh machine (npm
# packages, a Python virtualenv with the pinned SDK; redis-server, Chromium
# and python3-venv with apt when missing). Works without
# stdin (CI). Never touches a Redis it did not start.
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
# A package, installed with apt (sudo when not root; one `apt-get update`).
apt_install_always() { # package
  echo "== installing $1 (apt)"
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "test.sh: $1 is missing and there is no root/sudo to install it" >&2; exit 1; }
    sudo="sudo -n"
  fi
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}
# A package that provides a command, installed when the command is missing.
apt_install() { # binary package
  command -v "$1" >/dev/null 2>&1 && return 0
  apt_install_always "$2"
  command -v "$1" >/dev/null 2>&1 || { echo "test.sh: installing $2 did not provide $1" >&2; exit 1; }
}
apt_install redis-server redis-server
if [ -z "${CHROMIUM_PATH:-}" ]; then
  apt_install chromium chromium
fi

# A throw-away redis-server on a free loopback port, stopped on exit.
redis_pid=
redis_dir=
stop_redis() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  if [ -n "$redis_dir" ]; then rm -rf "$redis_dir"; fi
}
trap stop_redis EXIT
start_redis() {
  redis_dir=$(mktemp -d)
  redis_port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" \
    --daemonize no --loglevel warning > "$redis_dir/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "test.sh: redis-server did not start:" >&2
  cat "$redis_dir/redis.log" >&2
  exit 1
}

echo "== cargo build"
cargo build --locked --bins

echo "== cargo test (unit + integration)"
cargo test --locked --all-targets

echo "== benchmark tool: unit tests and smoke runs (bench/, no timing asserted)"
cargo test --locked -p tandem-bench --all-targets

echo "== run command: durable across a restart (scripts/run.sh on its own redis-server; release build)"
bash scripts/test-run-restart.sh

echo "== interop: official centrifuge npm client (memory engine)"
(
  cd tests/interop
  npm ci --no-audit --no-fund --loglevel=error
  TANDEM_BIN="$root/target/debug/tandem" TANDEM_ENGINE=memory npm test
)
# The official Python SDK in its Protobuf mode, from a virtualenv of its own.
python_venv="$root/target/interop-python"
if [ ! -x "$python_venv/bin/python" ]; then
  apt_install python3 python3
  rm -rf "$python_venv"
  if ! python3 -m venv "$python_venv" >/dev/null 2>&1; then
    rm -rf "$python_venv"
    apt_install_always python3-venv
    python3 -m venv "$python_venv"
  fi
fi
"$python_venv/bin/pip" install -q --disable-pip-version-check -r tests/interop/python/requirements.txt
echo "== interop: official centrifuge-python SDK, Protobuf (memory engine)"
TANDEM_BIN="$root/target/debug/tandem" TANDEM_ENGINE=memory "$python_venv/bin/python" tests/interop/python/protobuf_check.py
echo "== interop: official centrifuge npm client (Redis engine)"
start_redis
(
  cd tests/interop
  TANDEM_BIN="$root/target/debug/tandem" TANDEM_ENGINE=redis \
    TANDEM_REDIS_URL="redis://127.0.0.1:$redis_port" TANDEM_REDIS_PREFIX="interop-$$" npm test
)
echo "== interop: official centrifuge-python SDK, Protobuf (Redis engine)"
TANDEM_BIN="$root/target/debug/tandem" TANDEM_ENGINE=redis \
  TANDEM_REDIS_URL="redis://127.0.0.1:$redis_port" TANDEM_REDIS_PREFIX="interop-py-$$" \
  "$python_venv/bin/python" tests/interop/python/protobuf_check.py
stop_redis
redis_pid=
redis_dir=
echo "== frontend: unit and browser tests (Chromium)"
TANDEM_BIN="$root/target/debug/tandem" bash frontend/run-tests.sh

echo "== all tests passed"
