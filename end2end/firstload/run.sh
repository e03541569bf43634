#!/usr/bin/env bash
# First load on an emulated phone (issue 15): starts the release server (in-memory store) on a
# free loopback port from an empty directory, runs firstload.mjs against it, stops it.
#
#   end2end/firstload/run.sh target/release/watchparty [--runs 7]     (make firstload)
#
# Prints the per-run figures, their median and worst as a markdown table (docs/benchmarks.md,
# "First load on a phone") and writes end2end/test-results/firstload.json. Conditions are set
# with FIRSTLOAD_RTT_MS / FIRSTLOAD_DOWN_KBPS / FIRSTLOAD_UP_KBPS / FIRSTLOAD_CPU (defaults
# 150 / 1600 / 750 / 4); E2E_WAIT_IDLE=85 is not applied here: run it on a quiet machine.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 path/to/watchparty [--runs N]" >&2
  exit 2
fi
BIN=$(realpath "$1")
shift
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib.sh
. "$HERE/../../scripts/lib.sh"
WORK=$(mktemp -d)
WP_PID=""
cleanup() {
  wp_stop_server "$WP_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wp_start_server "$BIN" "$WORK/server" "$WORK/server.log" "" warn
echo "server: $WP_URL (pid $WP_PID)" >&2
cd "$HERE/.."
node firstload/firstload.mjs "$WP_URL" "$@"
