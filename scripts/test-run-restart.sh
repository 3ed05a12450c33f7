#!/usr/bin/env bash
# Script-level test of the README's run command (scripts/run.sh): run it,
# create a session, messages and a token, stop it (SIGTERM), start it again
# on the same data directory and check that the session, the messages and the
# old token still work; check the files it keeps (0600 dev secret, Redis
# append-only file) and that nothing is left running. Then check that
# RUN_ENGINE=memory says clearly that it falls back to the memory engine.
# Needs redis-server (test.sh installs it), curl and node. Run by test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fail() { echo "test-run-restart: FAILED: $*" >&2; exit 1; }
note() { echo "test-run-restart: $*"; }
for tool in curl node redis-server; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
done

work=$(mktemp -d)
data="$work/data"
run_pid=
stop_run() {
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  run_pid=
}
cleanup() {
  stop_run
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
port=$(free_port)
api="http://127.0.0.1:$port"
json() { # json FIELD-EXPRESSION < body  (e.g. json '.token')
  node -e "let t='';process.stdin.on('data',d=>t+=d).on('end',()=>{const v=JSON.parse(t);const r=(new Function('v','return v'+process.argv[1]))(v);console.log(typeof r==='string'?r:JSON.stringify(r))})" "$1"
}

# start NAME [env…]: runs scripts/run.sh in the background and waits until it
# listens (the first build may take minutes).
start() {
  local name=$1
  shift
  env RUN_DATA_DIR="$data" "$@" bash scripts/run.sh --listen "127.0.0.1:$port" \
    >"$work/$name.out" 2>"$work/$name.err" &
  run_pid=$!
  local deadline=$((SECONDS + 1200))
  until grep -q "tandem listening on http://127.0.0.1:$port" "$work/$name.out" 2>/dev/null; do
    if ! kill -0 "$run_pid" 2>/dev/null; then
      cat "$work/$name.err" >&2
      fail "run.sh ($name) exited before listening"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "run.sh ($name) did not listen within 20 minutes"
    sleep 0.5
  done
  note "$name: listening on $api"
}

# stop NAME: SIGTERM to run.sh; it must exit 0 and leave nothing behind.
stop() {
  local name=$1 status=0
  kill -TERM "$run_pid"
  wait "$run_pid" || status=$?
  run_pid=
  [ "$status" = 0 ] || { cat "$work/$name.err" >&2; fail "run.sh ($name) exited with $status after SIGTERM"; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "$name: port $port still open after stop"; fi
  local redis_port
  redis_port=$(sed -n 's/.*redis-server on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/$name.err" | head -n 1)
  if [ -n "$redis_port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
    fail "$name: the redis-server run.sh started (port $redis_port) still runs after stop"
  fi
  note "$name: stopped cleanly (run.sh exit 0, Tandem and Redis gone)"
}

http() { # http METHOD PATH [BODY] → prints "STATUS BODY"
  local method=$1 path=$2 body=${3:-}
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$method" "$api$path" -H 'content-type: application/json')
  [ -n "${TOKEN:-}" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$body" ] && args+=(-d "$body")
  local code
  code=$(curl "${args[@]}")
  echo "$code $(cat "$work/body")"
}
expect() { # expect STATUS "STATUS BODY"
  [ "${2%% *}" = "$1" ] || fail "expected HTTP $1, got: $2"
  echo "${2#* }"
}

# --- first run: session, messages, token ------------------------------------
start first
grep -q "Redis engine: redis-server on 127.0.0.1:" "$work/first.err" \
  || { cat "$work/first.err" >&2; fail "run.sh did not start the Redis engine"; }
grep -q "MEMORY ENGINE" "$work/first.err" && fail "run.sh fell back to the memory engine although redis-server is installed"
TOKEN=
TOKEN=$(expect 200 "$(http POST /api/dev/token '{"user":"alice"}')" | json .token)
[ -n "$TOKEN" ] || fail "no token from /api/dev/token"
sid=$(expect 201 "$(http POST /api/sessions '{"name":"Survives restarts"}')" | json .id)
for text in "first message" "second message" "third message"; do
  expect 201 "$(http POST "/api/sessions/$sid/messages" "{\"content\":\"$text\"}")" >/dev/null
done
before=$(expect 200 "$(http GET "/api/sessions/$sid/messages")" | json '.map(m=>m.offset+":"+m.content).join("|")')
note "first: session $sid with messages $before"
mode=$(stat -c '%a' "$data/dev-secret")
[ "$mode" = 600 ] || fail "data/dev-secret has mode $mode, not 600"
stop first
ls "$data"/redis/appendonlydir/*.aof >/dev/null 2>&1 || fail "no append-only file under $data/redis/appendonlydir"

# --- second run: same data directory ----------------------------------------
start second
grep -q "reusing the JWT secret" "$work/second.err" || fail "the second run did not reuse the dev secret"
got=$(expect 200 "$(http GET "/api/sessions/$sid")" | json .session.name)
[ "$got" = "Survives restarts" ] || fail "session name after restart: $got"
after=$(expect 200 "$(http GET "/api/sessions/$sid/messages")" | json '.map(m=>m.offset+":"+m.content).join("|")')
[ "$after" = "$before" ] || fail "messages after restart: $after (before: $before)"
expect 201 "$(http POST "/api/sessions/$sid/messages" '{"content":"after the restart"}')" >/dev/null
count=$(expect 200 "$(http GET "/api/sessions/$sid/messages")" | json .length)
[ "$count" = 4 ] || fail "expected 4 messages after writing once more, got $count"
note "second: the old token works, session and messages intact ($after), and it still takes writes"
stop second

# --- RUN_ENGINE=memory: says so clearly -------------------------------------
start memory RUN_ENGINE=memory
grep -q "FALLING BACK TO THE MEMORY ENGINE" "$work/memory.err" || fail "no clear fallback notice with RUN_ENGINE=memory"
grep -q "Redis engine:" "$work/memory.err" && fail "RUN_ENGINE=memory still started Redis"
stop memory

note "passed"
