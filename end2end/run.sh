#!/usr/bin/env bash
# Browser end-to-end suite against the release server binary, twice: with the embedded
# in-memory store, then on Redis (REDIS_URL, default redis://127.0.0.1:6379).
#
#   end2end/run.sh target/release/watchparty
#
# For each store: starts the binary on a free loopback port from an empty directory, waits for
# /healthz and /readyz, runs Playwright (list reporter) with BASE_URL, stops the server. The
# stand-in's own tests run in the first pass only; ended.spec.js (it deletes a session's state
# with redis-cli) in the Redis pass only, and proxy.spec.js (two instances of BIN on Redis
# behind nginx) skips itself in the memory pass. A panic in the server's log fails the pass.
# Exits non-zero if anything failed; the server
# is always stopped (trap). Extra arguments go to Playwright in both passes (e.g. -g 'late join',
# --project=app); E2E_STORES="memory" (or "redis") runs one pass only.
#
# Without extra arguments, E2E_SUITE picks the projects: "test" (the default, `make test`): the
# stand-in's tests, the app's scenarios and the same sync scenarios on the real-media player;
# "bench" (`make bench`): the accuracy measurements (accuracy, accuracy-real, the start-together
# figures and the hard-player
# variants; ~15 min), which assert only generous bounds and print the figures of
# docs/benchmarks.md: heavy measurements are benchmarks, not part of every test run.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 path/to/watchparty [playwright args...]" >&2
  exit 2
fi
BIN=$(realpath "$1")
shift
[ -x "$BIN" ] || { echo "run.sh: $BIN is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../scripts/lib.sh
. "$HERE/../scripts/lib.sh"
REDIS=${E2E_REDIS_URL:-redis://127.0.0.1:6379}
WORK=$(mktemp -d)
SERVER_PID=""

stop_server() {
  wp_stop_server "$SERVER_PID"
  SERVER_PID=""
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME REDIS_URL -> sets SERVER_PID and BASE_URL (scripts/lib.sh does the work)
start_server() {
  local name=$1 redis=$2 rc=0
  # The whole suite creates its sessions from one address within minutes: a creation limit
  # above what it needs (the limit itself is tested in server/tests/abuse.rs); every other
  # setting is the default a deployment gets.
  WATCHPARTY_CREATES_PER_MIN=${WATCHPARTY_CREATES_PER_MIN:-600} \
    wp_start_server "$BIN" "$WORK/$name" "$WORK/$name.log" "$redis" info || rc=$?
  SERVER_PID=$WP_PID
  BASE_URL=$WP_URL
  [ "$rc" -eq 0 ] || echo "run.sh: the server ($name store) did not start" >&2
  return "$rc"
}

# Percent of CPU time idle over `$1` seconds (from /proc/stat).
idle_pct() {
  local u n s i w x y z t0 i0 t1 i1
  read -r _ u n s i w x y z _ < /proc/stat; t0=$((u + n + s + i + w + x + y + z)); i0=$((i + w))
  sleep "$1"
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u + n + s + i + w + x + y + z)); i1=$((i + w))
  echo $((100 * (i1 - i0) / (t1 - t0 + 1)))
}

# E2E_WAIT_IDLE=85: before each pass, wait (at most 10 min) until the machine has been at least
# 85 % idle for 10 s, so that measured figures are not someone else's load (used when recording
# docs/benchmarks.md; off by default).
wait_idle() {
  [ -n "${E2E_WAIT_IDLE:-}" ] || return 0
  local deadline=$(($(date +%s) + 600)) idle
  while [ "$(date +%s)" -lt "$deadline" ]; do
    idle=$(idle_pct 10)
    [ "$idle" -ge "$E2E_WAIT_IDLE" ] && { echo "machine ${idle}% idle"; return 0; }
    echo "waiting for an idle machine (${idle}% idle)"
  done
  echo "run.sh: the machine did not become idle; measuring anyway"
}

TOTAL_PASSED=0
TOTAL_FAILED=0
STATUS=0

# run_pass NAME REDIS_URL PLAYWRIGHT_ARGS...
run_pass() {
  local name=$1 redis=$2 rc=0
  shift 2
  echo "=== end2end: $name store ($( [ -n "$redis" ] && echo "$redis" || echo "in-memory" )) ==="
  wait_idle
  start_server "$name" "$redis" || { STATUS=1; TOTAL_FAILED=$((TOTAL_FAILED + 1)); return 0; }
  echo "server: $BASE_URL (pid $SERVER_PID)"
  (
    cd "$HERE"
    # E2E_SERVER_BIN: proxy.spec.js starts instances of its own (behind nginx, Redis pass).
    BASE_URL="$BASE_URL" E2E_STORE="$name" E2E_SERVER_BIN="$BIN" PLAYWRIGHT_JSON_OUTPUT_NAME="$WORK/$name.json" \
      npx --no-install playwright test --reporter=list,json "$@"
  ) || rc=$?
  stop_server
  if [ -f "$WORK/$name.json" ]; then
    read -r passed failed < <(node -e '
      const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stats || {};
      console.log((s.expected || 0) + (s.flaky || 0), s.unexpected || 0);' "$WORK/$name.json")
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    # The failed tests' titles, kept for the summary at the end (CI shows only the tail).
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const walk = (s, path) => {
        for (const c of s.suites || []) walk(c, path.concat(c.title ? [c.title] : []));
        for (const sp of s.specs || [])
          for (const t of sp.tests || [])
            if (t.status === "unexpected" || t.status === "flaky") {
              const last = (t.results || []).at(-1) || {};
              const err = last.error || {};
              // The first line of the error, the locator it waited for and where it failed.
              const lines = (err.message || "").replace(/\x1b\[[0-9;]*m/g, "").split("\n");
              const locator = lines.find((l) => /^\s*Locator:/.test(l));
              const at = err.location ? ` at ${err.location.file.split("/").slice(-2).join("/")}:${err.location.line}` : "";
              const msg = [lines[0], locator && locator.trim()].filter(Boolean).join("; ").slice(0, 300);
              console.log(`${process.argv[2]}: ${t.status === "flaky" ? "FLAKY" : "FAILED"} ${path.concat([sp.title]).join(" > ")}${at}: ${msg}`);
            }
      };
      walk(r, []);' "$WORK/$name.json" "$name" >> "$WORK/failures.txt" || true
  fi
  # A panic in the server is a failure even when every page coped with it.
  if grep -q 'panicked' "$WORK/$name.log"; then
    echo "run.sh: the server panicked during the $name pass:"
    grep -A3 'panicked' "$WORK/$name.log" | head -n 40
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    STATUS=1
  fi
  if [ "$rc" -ne 0 ]; then
    STATUS=1
    [ -f "$WORK/$name.json" ] && [ "${failed:-0}" -gt 0 ] || TOTAL_FAILED=$((TOTAL_FAILED + 1))
    echo "--- server log ($name store), last 60 lines ---"
    tail -n 60 "$WORK/$name.log" || true
  fi
}

SUITE=${E2E_SUITE:-test}
case "$SUITE" in
  test)
    MEMORY_PROJECTS=(--project=stand-in --project=app --project=real)
    REDIS_PROJECTS=(--project=app tests/)
    ;;
  bench)
    MEMORY_PROJECTS=(--project=accuracy --project=accuracy-real)
    # The hard-player variants measure the client, not the store: the memory pass only.
    REDIS_PROJECTS=(--project=accuracy accuracy/accuracy.spec accuracy/start.spec)
    ;;
  *) echo "run.sh: E2E_SUITE must be test or bench, not $SUITE" >&2; exit 2 ;;
esac

for store in ${E2E_STORES:-memory redis}; do
  case "$store" in
    memory)
      # ended.spec.js deletes a session's state in Redis (redis-cli): the Redis pass only.
      if [ $# -gt 0 ]; then
        run_pass memory "" --grep-invert 'tests/ended\.spec\.js' "$@"
      else
        run_pass memory "" --grep-invert 'tests/ended\.spec\.js' "${MEMORY_PROJECTS[@]}"
      fi
      ;;
    redis)
      if [ $# -gt 0 ]; then run_pass redis "$REDIS" "$@"; else run_pass redis "$REDIS" "${REDIS_PROJECTS[@]}"; fi
      ;;
    *) echo "run.sh: unknown store $store in E2E_STORES" >&2; exit 2 ;;
  esac
done

if [ -s "$WORK/failures.txt" ]; then
  # FLAKY: failed, then passed on its retry (E2E_RETRIES, set by .ci/run): counted as passed, a
  # bug to fix all the same.
  echo "--- end2end failures and FLAKY tests ---"
  cat "$WORK/failures.txt"
fi
FLAKY=$(grep -c ': FLAKY ' "$WORK/failures.txt" 2>/dev/null || true)
echo "end2end: $TOTAL_PASSED passed, $TOTAL_FAILED failed, ${FLAKY:-0} FLAKY"
exit "$STATUS"
