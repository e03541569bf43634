#!/usr/bin/env bash
# The load benchmarks of docs/benchmarks.md ("Load"), end to end on this machine:
# starts release servers on free loopback ports (from empty directories, RUST_LOG=warn) and
# runs the load generator against them as a separate process, each with `ulimit -n 20000`.
#
#   cargo build --release -p server -p loadtest
#   loadtest/bench.sh [OUT_DIR] [SCENARIO...]
#
# Scenarios (default: all, in this order):
#   mem-1x10000    memory store, 1 session x 10,000 viewers, one seek every 500 ms for 30 s
#   redis-1x10000  the same on Redis (REDIS_URL, default redis://127.0.0.1:6379)
#   mem-1000x10    memory store, 1,000 sessions x 10 viewers, each session one seek every 500 ms
#   redis-1000x10  the same on Redis
#   mem-rtt        memory store, 100 viewers pinging every 200 ms; one seek every 200 ms (the
#                  sender's command -> own echo round trip), 30 s
#   redis-rtt      the same on Redis
#   split          two instances on one Redis, 10,000 viewers alternating, sender on the first
#   cluster-split  split on a local Redis Cluster (3 primaries + 3 replicas, started here)
#   cluster-1000x10  two instances on that cluster, 1,000 sessions x 10 viewers alternating over
#                  the instances (the sessions spread over the shards by id)
# Each writes OUT_DIR/NAME.json (the --json report) and OUT_DIR/NAME.txt (table + progress).
# Environment: SERVER_BIN (default target/release/watchparty), LOADTEST_BIN (default
# target/release/loadtest), REDIS_URL, NICE (niceness of servers and load generator, default 0;
# e.g. NICE=-10 as root when other work shares the machine: the report's "other processes"
# CPU line shows how much it did), RT=1 (run servers and load generator under SCHED_RR
# priority 1 via chrt, as root: other work on the machine cannot preempt them; used for the
# light rtt runs, where it costs the rest of the machine almost nothing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
SERVER_BIN=$(realpath "${SERVER_BIN:-$ROOT/target/release/watchparty}")
LOADTEST_BIN=$(realpath "${LOADTEST_BIN:-$ROOT/target/release/loadtest}")
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
NICE=${NICE:-0}
PRIO=(nice -n "$NICE")
[ "${RT:-0}" = 1 ] && PRIO=(chrt -r 1)
OUT=${1:-$ROOT/target/bench}
shift || true
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] ||
  SCENARIOS=(mem-1x10000 redis-1x10000 mem-1000x10 redis-1000x10 mem-rtt redis-rtt split)
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()

stop_servers() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap 'stop_servers; stop_cluster; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

CLUSTER_PIDS=()
# start_cluster -> CLUSTER_URL: 6 redis-servers with cluster support in $WORK/cluster, one
# replica per primary, waits for cluster_state:ok and the replicas' initial sync.
start_cluster() {
  local dir="$WORK/cluster" ports=() p
  mkdir -p "$dir"
  for _ in 1 2 3 4 5 6; do
    # The cluster bus listens on port + 10000: both must be free and below 65536.
    p=$(python3 -c 'import socket
while True:
    a=socket.socket(); a.bind(("127.0.0.1",0)); p=a.getsockname()[1]
    if p >= 55000: continue
    try:
        b=socket.socket(); b.bind(("127.0.0.1",p+10000)); b.close(); print(p); break
    except OSError: pass')
    ports+=("$p")
    "${PRIO[@]}" redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 1000 --save '' \
      --appendonly no --dir "$dir" >"$dir/$p.log" 2>&1 &
    CLUSTER_PIDS+=("$!")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 100); do [ "$(redis-cli -p "$p" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 \
    --cluster-yes >"$dir/create.log"
  for p in "${ports[@]}"; do
    for _ in $(seq 300); do
      redis-cli -p "$p" CLUSTER INFO | grep -q cluster_state:ok &&
        redis-cli -p "$p" INFO replication | grep -Eq 'role:master|master_link_status:up' && break
      sleep 0.1
    done
  done
  CLUSTER_URL="redis-cluster://127.0.0.1:${ports[0]}"
  local sep='?'
  for p in "${ports[@]:1}"; do CLUSTER_URL+="${sep}node=127.0.0.1:$p"; sep='&'; done
}
stop_cluster() {
  for pid in "${CLUSTER_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  CLUSTER_PIDS=()
}

# start_server NAME REDIS_URL(or empty) -> SERVER_URL, SERVER_PID
start_server() {
  local name=$1 redis=$2 port pid
  port=$(wp_free_port)
  mkdir -p "$WORK/$name"
  (
    cd "$WORK/$name"
    ulimit -n 20000
    if [ -n "$redis" ]; then export REDIS_URL="$redis"; else unset REDIS_URL; fi
    exec "${PRIO[@]}" env -u WATCHPARTY_CONFIG WATCHPARTY_LISTEN="127.0.0.1:$port" RUST_LOG=warn \
      WATCHPARTY_MAX_SOCKETS_PER_ADDRESS=0 WATCHPARTY_CREATES_PER_MIN=0 WATCHPARTY_SESSION_CHANGES_PER_SEC=0 \
      "$SERVER_BIN"
  ) >"$OUT/$name.server.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || { echo "server $name died" >&2; tail "$OUT/$name.server.log" >&2; return 1; }
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      SERVER_URL="http://127.0.0.1:$port"
      SERVER_PID=$pid
      return 0
    fi
    sleep 0.1
  done
  echo "server $name not ready" >&2
  return 1
}

# load NAME ARGS...: runs the load generator, keeps its JSON and table.
load() {
  local name=$1 rc=0
  shift
  echo "== $name: loadtest $* ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))" |
    tee "$OUT/$name.txt"
  (ulimit -n 20000 && exec "${PRIO[@]}" "$LOADTEST_BIN" --json "$@") >"$OUT/$name.json" 2>>"$OUT/$name.txt" || rc=$?
  grep -v '^\[' "$OUT/$name.txt" | tail -n +2
  echo "   exit $rc"
  return 0
}

for s in "${SCENARIOS[@]}"; do
  case $s in
  mem-1x10000 | redis-1x10000)
    redis=""; [ "${s%%-*}" = redis ] && redis=$REDIS
    start_server "$s" "$redis"
    load "$s" --url "$SERVER_URL" --server-pid "$SERVER_PID" --scenario one-session \
      --viewers 10000 --connect-rate 1000 --interval-ms 500 --duration 30
    ;;
  mem-1000x10 | redis-1000x10)
    redis=""; [ "${s%%-*}" = redis ] && redis=$REDIS
    start_server "$s" "$redis"
    load "$s" --url "$SERVER_URL" --server-pid "$SERVER_PID" --scenario many-sessions \
      --sessions 1000 --viewers 10000 --connect-rate 1000 --interval-ms 500 --duration 30
    ;;
  mem-rtt | redis-rtt)
    redis=""; [ "${s%%-*}" = redis ] && redis=$REDIS
    start_server "$s" "$redis"
    load "$s" --url "$SERVER_URL" --server-pid "$SERVER_PID" --scenario rtt \
      --viewers 100 --interval-ms 200 --duration 30 --ping-interval-ms 200
    ;;
  split)
    start_server split-a "$REDIS"
    a=$SERVER_URL pa=$SERVER_PID
    start_server split-b "$REDIS"
    load "$s" --url "$a" --url "$SERVER_URL" --server-pid "$pa" --server-pid "$SERVER_PID" \
      --scenario split --viewers 10000 --connect-rate 1000 --interval-ms 500 --duration 30
    ;;
  cluster-split | cluster-1000x10)
    start_cluster
    start_server "$s-a" "$CLUSTER_URL"
    a=$SERVER_URL pa=$SERVER_PID
    start_server "$s-b" "$CLUSTER_URL"
    if [ "$s" = cluster-split ]; then
      load "$s" --url "$a" --url "$SERVER_URL" --server-pid "$pa" --server-pid "$SERVER_PID" \
        --scenario split --viewers 10000 --connect-rate 1000 --interval-ms 500 --duration 30
    else
      load "$s" --url "$a" --url "$SERVER_URL" --server-pid "$pa" --server-pid "$SERVER_PID" \
        --scenario many-sessions --sessions 1000 --viewers 10000 --connect-rate 1000 \
        --interval-ms 500 --duration 30
    fi
    stop_servers
    stop_cluster
    ;;
  *)
    echo "unknown scenario $s" >&2
    exit 2
    ;;
  esac
  stop_servers
done
