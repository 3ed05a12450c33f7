#!/usr/bin/env bash
# Runs Tandem on http://127.0.0.1:8000 in dev mode (demo login, POST
# /api/dev/token), durable by default:
#   - starts its own redis-server (installed with apt when missing and apt can
#     be used) on a free loopback port, with the append-only file on
#     (appendfsync everysec) and its data in ./data/redis, and runs Tandem on
#     the Redis engine against it; both stop together;
#   - keeps dev mode's generated JWT secret in ./data/dev-secret (mode 0600),
#     so tokens stay valid across restarts.
# When redis-server cannot be had it says so and falls back to the memory
# engine (nothing survives a restart). Builds the browser frontend first
# (served at /). Extra flags are passed on to tandem.
#
# Environment:
#   RUN_DATA_DIR  data directory (default: ./data, git-ignored)
#   RUN_ENGINE    `redis` (default) or `memory` (no Redis, nothing kept)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
say() { echo "run.sh: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo is missing: install Rust from https://rustup.rs first"
  exit 1
fi
data_dir=${RUN_DATA_DIR:-$root/data}
engine=${RUN_ENGINE:-redis}
case "$engine" in redis | memory) ;; *) say "RUN_ENGINE must be redis or memory, not '$engine'"; exit 2 ;; esac
if [ ! -d "$data_dir" ]; then
  mkdir -p "$data_dir"
  chmod 700 "$data_dir" # it holds the dev secret
fi
data_dir=$(cd "$data_dir" && pwd)

# One run per data directory (two redis-servers on one append-only file would
# corrupt it).
exec 9>"$data_dir/run.lock"
if ! flock -n 9; then
  say "another run.sh is using $data_dir; stop it first (or set RUN_DATA_DIR)"
  exit 1
fi

if command -v npm >/dev/null 2>&1; then
  say "building the frontend (frontend/ → frontend/dist, served at /)"
  (
    cd frontend
    # npm ci only when node_modules is missing or older than the lock file.
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run build --silent
  ) >&2
else
  say "npm is missing (install Node.js 20.19+): starting without the frontend; / says how to build it"
fi

say "building the server (cargo build --release)"
cargo build --release --quiet --bin tandem
bin="$root/target/release/tandem"

# redis-server: on PATH, or installed with apt when we may.
have_redis() { command -v redis-server >/dev/null 2>&1; }
install_redis() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
    sudo="sudo -n"
  fi
  say "redis-server is missing: installing it with apt-get (redis-server package)"
  $sudo apt-get update -qq >&2 || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null || return 1
  have_redis
}

redis_pid=
tandem_pid=
cleanup() {
  if [ -n "$tandem_pid" ] && kill -0 "$tandem_pid" 2>/dev/null; then
    kill -TERM "$tandem_pid" 2>/dev/null || true
    wait "$tandem_pid" 2>/dev/null || true
  fi
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    say "stopping redis-server (pid $redis_pid; its append-only file is flushed on the way out)"
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
redis_ping() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || exit 1
    [[ $reply == +PONG* ]]
  ) 2>/dev/null
}

# Starts redis-server on a free loopback port; sets redis_pid and redis_port.
start_redis() {
  local dir="$data_dir/redis" attempt
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5 6 7 8; do
    redis_port=$((20000 + RANDOM % 40000))
    port_taken "$redis_port" && continue
    # Its own session, so Ctrl-C reaches Tandem first; we stop Redis after it.
    setsid redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes \
      --dir "$dir" --appendonly yes --appendfsync everysec --save '' \
      --daemonize no --loglevel warning --logfile "$dir/redis.log" &
    redis_pid=$!
    local i
    for i in $(seq 1 100); do
      if ! kill -0 "$redis_pid" 2>/dev/null; then break; fi
      if redis_ping "$redis_port"; then return 0; fi
      sleep 0.1
    done
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
  done
  say "redis-server did not start; its log ($dir/redis.log) ends with:"
  tail -n 5 "$dir/redis.log" >&2 || true
  return 1
}

engine_flags=(--engine memory)
if [ "$engine" = redis ]; then
  if have_redis || install_redis; then
    if start_redis; then
      engine_flags=(--engine redis --redis-url "redis://127.0.0.1:$redis_port" --redis-prefix tandem)
      say "Redis engine: redis-server on 127.0.0.1:$redis_port, append-only file (appendfsync everysec) in $data_dir/redis"
    fi
  else
    say "redis-server is not installed and cannot be installed here (needs apt-get as root or passwordless sudo)"
  fi
fi
if [ "${engine_flags[1]}" = memory ]; then
  say "FALLING BACK TO THE MEMORY ENGINE: sessions and messages are lost when the server stops" \
    "(install redis-server for durable runs; RUN_ENGINE=memory chooses this on purpose)"
fi

"$bin" --dev --dev-secret-file "$data_dir/dev-secret" "${engine_flags[@]}" "$@" &
tandem_pid=$!
# Ctrl-C reaches Tandem directly (same process group); a SIGTERM sent to this
# script is passed on. Tandem drains, then this script stops Redis.
trap 'kill -TERM "$tandem_pid" 2>/dev/null || true' INT TERM
# `wait` returns early when a trapped signal arrives: wait again until Tandem
# is gone, then take its exit status.
while kill -0 "$tandem_pid" 2>/dev/null; do
  wait "$tandem_pid" || true
done
status=0
wait "$tandem_pid" || status=$?
tandem_pid=
trap - INT TERM
exit "$status"
