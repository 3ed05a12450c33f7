#!/usr/bin/env bash
# Runs Tandem's benchmarks (issue 13) and writes docs/benchmarks.md.
#
# Builds release binaries, then for every scenario runs the floor
# (bench-floor), Tandem on the memory engine and Tandem on Redis (a
# redis-server this script starts on a free loopback port, with its own temp
# dir, and stops), each on a fresh server pinned to one core while the
# generator (tandem-bench, one thread) is pinned to the other. Only 127.0.0.x
# is used; every generator run is bounded in time (timeout) and every loop in
# count. Results: one JSON line per run in the results file, rendered into
# docs/benchmarks.md with ratios to the floor of the same run.
#
#   bench/run.sh                        # everything (about 30 minutes; run it on a quiet machine)
#   bench/run.sh --quick                # small sizes: checks that everything runs (a few minutes)
#   bench/run.sh --only idle --targets memory --tandem-env TANDEM_WS_READ_BUFFER=1024 --label-suffix ' rb=1024' --no-doc
#
# Options:
#   --quick               small sizes (hundreds of connections, seconds per step)
#   --only LIST           scenarios, comma-separated: fanout,many,idle,storm,acks,codecs,sweep (default: all)
#   --targets LIST        floor,memory,redis,cluster (default: floor,memory,redis); cluster =
#                         Tandem on a local 3-master Redis Cluster (three redis-servers on the
#                         server's core, joined with redis-cli --cluster create)
#   --tandem-env VAR=VAL  extra environment for every Tandem server (repeatable)
#   --floor-arg ARG       extra argument for every bench-floor (repeatable), e.g. --floor-arg=--read-buffer=1024
#   --label-suffix TEXT   appended to every result label (to tell variants apart)
#   --results FILE        result lines (default: bench/results/<date>.jsonl; the machine and
#                         command notes are kept beside it, so `tandem-bench report` can render it again)
#   --doc FILE            Markdown to write (default: docs/benchmarks.md)
#   --no-doc              do not write the Markdown
#   --no-build            use the release binaries already built
#   --server-cpu N        core for the server (and Redis), default 1
#   --generator-cpu N     core for the generator, default 0
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=
only=fanout,many,idle,storm,acks,codecs,sweep
targets=floor,memory,redis
tandem_env=()
floor_args=()
suffix=
results=
doc=docs/benchmarks.md
build=1
server_cpu=1
generator_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --targets) targets=$2; shift ;;
    --tandem-env) tandem_env+=("$2"); shift ;;
    --floor-arg) floor_args+=("$2"); shift ;;
    --floor-arg=*) floor_args+=("${1#--floor-arg=}") ;;
    --label-suffix) suffix=$2; shift ;;
    --results) results=$2; shift ;;
    --doc) doc=$2; shift ;;
    --no-doc) doc= ;;
    --no-build) build= ;;
    --server-cpu) server_cpu=$2; shift ;;
    --generator-cpu) generator_cpu=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$1," in *",$2,"*) return 0 ;; *) return 1 ;; esac; }

for tool in cargo taskset timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
if has "$targets" redis || has "$targets" cluster; then
  command -v redis-server >/dev/null || { echo "run.sh: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
fi
[ "$(nproc)" -ge 2 ] || echo "run.sh: fewer than 2 cores: server and generator share one" >&2

# Open files: raise the soft limit to the hard one; it bounds the idle run.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)

work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench.XXXXXX")
mkdir -p bench/results
results=${results:-bench/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl}
: > "$results"
commands=$work/commands.md
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret="bench-$secret"
export TANDEM_JWT_HS256_SECRET=$secret

server_pid=
redis_pid=
cluster_pids=()
cleanup() {
  stop_server
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# --- build -------------------------------------------------------------------
if [ -n "$build" ]; then
  echo "== building release binaries"
  cargo build --release --locked -p tandem --bin tandem
  cargo build --release --locked -p tandem-bench --bins
fi
bin=$root/target/release
for b in tandem tandem-bench bench-floor; do
  [ -x "$bin/$b" ] || { echo "run.sh: $bin/$b is missing (build first)" >&2; exit 1; }
done

# --- Redis ---------------------------------------------------------------------
redis_url=
if has "$targets" redis; then
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  taskset -c "$server_cpu" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work/redis" --daemonize no --loglevel warning --maxclients 1000 > "$work/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null || { echo "run.sh: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
  redis_url=redis://127.0.0.1:$redis_port
fi

cluster_nodes=
if has "$targets" cluster; then
  cluster_addrs=()
  for i in 1 2 3; do
    port=$(free_port)
    bus=$(free_port) # not port + 10000, which may be taken or past 65535
    mkdir -p "$work/cluster-$i"
    taskset -c "$server_cpu" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-port "$bus" --cluster-config-file nodes.conf --dir "$work/cluster-$i" \
      --daemonize no --loglevel warning --maxclients 1000 > "$work/cluster-$i.log" 2>&1 &
    cluster_pids+=($!)
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      sleep 0.1
    done
    cluster_addrs+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${cluster_addrs[@]}" --cluster-yes > "$work/cluster-create.log" 2>&1 ||
    { echo "run.sh: redis-cli --cluster create failed" >&2; cat "$work/cluster-create.log" >&2; exit 1; }
  for _ in $(seq 1 100); do
    ok=1
    for a in "${cluster_addrs[@]}"; do
      redis-cli -p "${a##*:}" cluster info 2>/dev/null | grep -q cluster_state:ok || ok=
    done
    [ -n "$ok" ] && break
    sleep 0.1
  done
  cluster_nodes=$(IFS=,; echo "${cluster_addrs[*]}")
fi

# --- servers -------------------------------------------------------------------
server_url=
server_log=
server_seq=0
# start_server KIND [VAR=VALUE...]: a fresh floor, or Tandem on memory/redis.
start_server() {
  local kind=$1; shift
  server_seq=$((server_seq + 1))
  server_log=$work/server-$server_seq.log
  local out=$work/server-$server_seq.out
  local cmd
  case "$kind" in
    floor)
      cmd=(taskset -c "$server_cpu" "$bin/bench-floor" --listen 127.0.0.1:0 "${floor_args[@]}")
      ;;
    memory|redis|cluster)
      local env=(TANDEM_LISTEN=127.0.0.1:0 TANDEM_MAX_COMMANDS_PER_SECOND=0 TANDEM_MAX_CONNECTIONS_PER_USER=0 RUST_LOG=warn)
      if [ "$kind" = redis ]; then
        env+=(TANDEM_ENGINE=redis "TANDEM_REDIS_URL=$redis_url" "TANDEM_REDIS_PREFIX=bench-$$-$server_seq")
      fi
      if [ "$kind" = cluster ]; then
        env+=(TANDEM_ENGINE=redis "TANDEM_REDIS_CLUSTER_NODES=$cluster_nodes" "TANDEM_REDIS_PREFIX=bench-$$-$server_seq")
      fi
      cmd=(env "${env[@]}" "${tandem_env[@]}" "$@" taskset -c "$server_cpu" "$bin/tandem")
      ;;
  esac
  echo "    server: ${cmd[*]}" | sed "s|$root/||g"
  printf -- '- server (%s): `%s`\n' "$kind" "$(echo "${cmd[*]}" | sed "s|$root/||g; s|redis://[^ ]*|redis://127.0.0.1:PORT|; s|CLUSTER_NODES=[^ ]*|CLUSTER_NODES=127.0.0.1:PORT,…|; s|bench-$$-[0-9]*|bench-PREFIX|")" >> "$commands"
  "${cmd[@]}" > "$out" 2> "$server_log" &
  server_pid=$!
  server_url=
  for _ in $(seq 1 200); do
    server_url=$(grep -o 'http://127[0-9.]*:[0-9]*' "$out" 2>/dev/null | head -1 || true)
    [ -n "$server_url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$server_url" ]; then
    echo "run.sh: the $kind server did not start:" >&2
    tail -20 "$server_log" >&2
    exit 1
  fi
}
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# bench KIND LABEL TIMEOUT ARGS...: one generator run against the current server.
failures=0
bench() {
  local kind=$1 label=$2 limit=$3; shift 3
  local target=tandem
  [ "$kind" = floor ] && target=floor
  local cmd=(taskset -c "$generator_cpu" "$bin/tandem-bench" --target "$target" --url "$server_url"
    --server-pid "$server_pid" --label "$label$suffix" --sources 8 --out "$results" "$@")
  echo "    generator: ${cmd[*]}" | sed "s|$root/||g"
  printf -- '- generator: `%s`\n' "$(echo "${cmd[*]}" | sed "s|$root/||g; s|http://127.0.0.1:[0-9]*|http://127.0.0.1:PORT|; s|--server-pid [0-9]*|--server-pid PID|; s|--out [^ ]*|--out RESULTS|")" >> "$commands"
  if ! timeout --kill-after=10 "$limit" "${cmd[@]}"; then
    echo "run.sh: $label: the generator failed (or timed out after $limit)" >&2
    tail -5 "$server_log" >&2 || true
    failures=$((failures + 1))
  fi
}

# run_on KIND LABEL TIMEOUT ARGS...: a fresh server of KIND, one generator run, stop.
run_on() {
  local kind=$1; shift
  start_server "$kind"
  bench "$kind" "$@"
  stop_server
}

for_targets() { # TIMEOUT ARGS...: a fresh server and one generator run per selected target
  local t
  for t in floor memory redis cluster; do
    has "$targets" "$t" || continue
    run_on "$t" "$t" "$@"
  done
}

# --- sizes ---------------------------------------------------------------------
idle_max=$((nofile - 500))
if [ -n "$quick" ]; then
  fanout_args=(fanout --subscribers 200 --rates 100,200,400 --step 2s --drain 3s)
  many_args=(many --sessions 50 --per-session 10 --rate 10 --duration 3s --drain 5s)
  idle_n=1000
  storm_args=(storm --sessions 10 --per-session 20 --rate 5 --duration 6s --drop-after 2s --recovery-timeout 30s)
  acks_rate=200; acks_time=3s
  codecs_args=(--sessions 10 --per-session 10 --publisher ws-rpc --publisher-subscribes --rate 10 --duration 3s --drain 5s)
  sweep_total=3000; sweep_due=30; sweep_after=40s
else
  fanout_args=(fanout --subscribers 1000 --rates 50,100,150,200,250,300,400,500,750,1000,1500 --step 10s --drain 5s)
  many_args=(many --sessions 1000 --per-session 10 --rate 10 --duration 20s --drain 10s)
  idle_n=19500
  storm_args=(storm --sessions 100 --per-session 50 --rate 2 --duration 30s --drop-after 5s --recovery-timeout 60s)
  acks_rate=1000; acks_time=10s
  codecs_args=(--sessions 100 --per-session 10 --publisher ws-rpc --publisher-subscribes --rate 10 --duration 10s --drain 10s)
  sweep_total=100000; sweep_due=100; sweep_after=${SWEEP_ABANDON_AFTER:-180s}
fi
[ "$idle_n" -le "$idle_max" ] || idle_n=$idle_max

# --- the machine -----------------------------------------------------------------
{
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') × $(nproc) cores; memory $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- Kernel: $(uname -sr); $(rustc --version 2>/dev/null || echo rustc ?); $(redis-server --version 2>/dev/null | cut -d' ' -f1-3 || true)"
  echo "- Open files per process: $nofile (so the idle run holds $idle_n connections)"
  echo "- Tandem $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- . ':(exclude)bench/results' 2>/dev/null || echo ' (with local changes)'), run $(date -u +%Y-%m-%dT%H:%MZ)$([ -n "$quick" ] && echo ', **quick sizes (--quick)**')"
  echo "- Server (and Redis) pinned to core $server_cpu, generator to core $generator_cpu; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ ${#tandem_env[@]} -eq 0 ] || echo "- Extra Tandem settings: ${tandem_env[*]}"
} > "$work/machine.md"
load1=$(cut -d' ' -f1 /proc/loadavg)
if awk "BEGIN{exit !($load1 > 0.5)}"; then
  echo "run.sh: warning: load average $load1: other work on this machine will distort the figures" >&2
fi
cat "$work/machine.md"

# --- scenarios -------------------------------------------------------------------
if has "$only" fanout; then
  echo "== fan-out"
  for_targets 1200 "${fanout_args[@]}"
fi
if has "$only" many; then
  echo "== many sessions"
  for_targets 600 "${many_args[@]}"
fi
if has "$only" idle; then
  echo "== idle ($idle_n connections)"
  for_targets 900 idle --connections "$idle_n"
  for t in floor memory; do
    has "$targets" "$t" || continue
    run_on "$t" "$t" 900 idle --connections "$idle_n" --no-subscribe
  done
fi
if has "$only" storm; then
  echo "== reconnect storm"
  for_targets 600 "${storm_args[@]}"
fi
if has "$only" acks; then
  echo "== acknowledged writes"
  if has "$targets" floor; then run_on floor floor 300 acks --rate "$acks_rate" --duration "$acks_time" --publisher rest; fi
  for t in memory redis cluster; do
    has "$targets" "$t" || continue
    start_server "$t"
    bench "$t" "$t" 300 acks --rate "$acks_rate" --duration "$acks_time" --publisher ws-rpc
    bench "$t" "$t" 300 acks --rate "$acks_rate" --duration "$acks_time" --publisher rest
    stop_server
  done
fi
if has "$only" codecs; then
  echo "== wire variants (JSON and Protobuf): bytes per delivery"
  for t in memory redis cluster; do
    has "$targets" "$t" || continue
    start_server "$t"
    for codec in json protobuf; do
      bench "$t" "$t" 300 --codec "$codec" load "${codecs_args[@]}"
    done
    stop_server
  done
fi
if has "$only" sweep; then
  echo "== sweep ($sweep_total sessions, $sweep_due due; waits TANDEM_ABANDON_AFTER=$sweep_after per engine)"
  for t in memory redis cluster; do
    has "$targets" "$t" || continue
    start_server "$t" "TANDEM_ABANDON_AFTER=$sweep_after" TANDEM_SWEEP_INTERVAL=1s "TANDEM_MAX_SESSIONS_PER_USER=$((sweep_total + 1))" RUST_LOG=warn,tandem::sweeper=debug
    bench "$t" "$t" 900 sweep --sessions "$sweep_total" --due "$sweep_due" --abandon-after "$sweep_after" \
      --gap 3s --server-log "$server_log"
    stop_server
  done
fi

# --- the report -------------------------------------------------------------------
if [ -n "$doc" ]; then
  {
    echo "Everything below was run by"
    echo
    echo "\`\`\`sh"
    echo "bench/run.sh${quick:+ --quick}$( [ "$only" = fanout,many,idle,storm,acks,codecs,sweep ] || echo " --only $only")$( [ "$targets" = floor,memory,redis ] || echo " --targets $targets")"
    echo "\`\`\`"
    echo
    echo "which ran, in order (ports, pids and prefixes vary):"
    echo
    cat "$commands"
  } > "$work/commands-doc.md"
  cp "$work/machine.md" "${results%.jsonl}.machine.md"
  cp "$work/commands-doc.md" "${results%.jsonl}.commands.md"
  "$bin/tandem-bench" report "$results" --machine "$work/machine.md" --commands "$work/commands-doc.md" > "$doc"
  echo "== wrote $doc (results: $results)"
fi
if [ "$failures" -gt 0 ]; then
  echo "run.sh: $failures generator run(s) failed" >&2
  exit 1
fi
