#!/usr/bin/env bash
# Load-generator smoke run: small runs of the real protocol that fail on any lost or duplicated
# broadcast, failed connection, dropped connection or server error (loadtest exits 1).
#
#   loadtest/smoke.sh path/to/watchparty     start servers from this binary (free loopback
#                                            ports, empty directories) and stop them after:
#                                            memory store: 1 x 200 and 20 sessions x 10;
#                                            Redis (REDIS_URL, default redis://127.0.0.1:6379):
#                                            200 viewers split over two instances
#   loadtest/smoke.sh http://127.0.0.1:3000 [http://127.0.0.1:3001]
#                                            start nothing; 1 x 200 on the first URL, and the
#                                            split run when two are given
#
# The load generator is $LOADTEST_BIN, else target/debug/loadtest (built with the server's
# feature set when missing). Prints "load smoke: N passed, M failed" and exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
LOADTEST=${LOADTEST_BIN:-$ROOT/target/debug/loadtest}
if [ ! -x "$LOADTEST" ]; then
  (cd "$ROOT" && cargo build -p server -p loadtest)
fi
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wp_stop_server "$pid"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME REDIS_URL(or empty) -> sets SERVER_URL and SERVER_PID, adds it to PIDS
# (scripts/lib.sh does the work)
start_server() {
  local name=$1 redis=$2 rc=0
  # The load generator opens many sockets and sessions from one address: lift the abuse limits.
  WATCHPARTY_MAX_SOCKETS_PER_ADDRESS=0 WATCHPARTY_CREATES_PER_MIN=0 WATCHPARTY_SESSION_CHANGES_PER_SEC=0 \
    wp_start_server "$BIN" "$WORK/$name" "$WORK/$name.log" "$redis" warn || rc=$?
  PIDS+=("$WP_PID")
  SERVER_URL=$WP_URL
  SERVER_PID=$WP_PID
  [ "$rc" -eq 0 ] || echo "smoke: server $name did not start" >&2
  return "$rc"
}

PASSED=0
FAILED=0
# run NAME LOADTEST-ARGS...
run() {
  local name=$1
  shift
  echo "== load smoke: $name"
  if "$LOADTEST" --quiet --settle 0.5 --drain 5 --timeout 120 "$@"; then
    PASSED=$((PASSED + 1))
  else
    echo "FAILED: $name" >&2
    FAILED=$((FAILED + 1))
  fi
}

SMALL=(--viewers 200 --commands 5 --interval-ms 200 --connect-rate 2000)

if [ $# -ge 1 ] && [ -x "$1" ] && [ -f "$1" ]; then
  BIN=$(realpath "$1")
  start_server memory ""
  mem=$SERVER_URL
  run "memory, 1 x 200" --url "$mem" --scenario one-session "${SMALL[@]}" \
    --server-pid "$SERVER_PID"
  run "memory, 20 sessions x 10" --url "$mem" --scenario many-sessions --sessions 20 \
    --viewers 200 --commands 5 --interval-ms 200 --connect-rate 2000
  run "memory, rtt 50 viewers" --url "$mem" --scenario rtt --viewers 50 --commands 5 \
    --interval-ms 200 --ping-interval-ms 100
  start_server redis-a "$REDIS"
  a=$SERVER_URL
  start_server redis-b "$REDIS"
  b=$SERVER_URL
  run "redis, 200 split over two instances" --url "$a" --url "$b" --scenario split "${SMALL[@]}"
else
  urls=("$@")
  [ ${#urls[@]} -ge 1 ] || urls=(http://127.0.0.1:3000)
  run "1 x 200 on ${urls[0]}" --url "${urls[0]}" --scenario one-session "${SMALL[@]}"
  if [ ${#urls[@]} -ge 2 ]; then
    run "200 split over ${urls[0]} and ${urls[1]}" --url "${urls[0]}" --url "${urls[1]}" \
      --scenario split "${SMALL[@]}"
  fi
fi

echo "load smoke: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
