# Shared shell helpers of the test harnesses (sourced, not run): start the release server on a
# free loopback port from an empty directory, wait until it is ready, stop it.
# Used by end2end/run.sh, loadtest/smoke.sh and loadtest/bench.sh.
#
#   . "$ROOT/scripts/lib.sh"
#   wp_start_server BIN DIR LOG REDIS_URL [RUST_LOG] || exit 1   # sets WP_PID and WP_URL
#   wp_stop_server "$WP_PID"

# A free TCP port on 127.0.0.1.
wp_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  fi
}

# wp_start_server BIN DIR LOG REDIS_URL [RUST_LOG]: starts BIN in DIR (created; no Leptos.toml,
# no WATCHPARTY_CONFIG) on a free port, with REDIS_URL (empty: the in-memory store), logging to
# LOG; waits up to 30 s for /healthz and /readyz. Sets WP_PID and WP_URL; on failure prints the
# log's tail and returns 1 (the process, if still running, is left for the caller's cleanup).
wp_start_server() {
  local bin=$1 dir=$2 log=$3 redis=$4 rust_log=${5:-info} port
  port=$(wp_free_port)
  mkdir -p "$dir"
  (
    cd "$dir"
    if [ -n "$redis" ]; then export REDIS_URL="$redis"; else unset REDIS_URL; fi
    exec env -u WATCHPARTY_CONFIG -u WATCHPARTY_REDIS_URL WATCHPARTY_LISTEN="127.0.0.1:$port" \
      RUST_LOG="${RUST_LOG:-$rust_log}" "$bin"
  ) >"$log" 2>&1 &
  WP_PID=$!
  WP_URL="http://127.0.0.1:$port"
  for _ in $(seq 300); do
    if ! kill -0 "$WP_PID" 2>/dev/null; then
      echo "server in $dir exited during start-up:" >&2
      tail -n 40 "$log" >&2
      return 1
    fi
    if curl -fsS "$WP_URL/healthz" >/dev/null 2>&1 && curl -fsS "$WP_URL/readyz" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "server in $dir did not become ready in 30 s:" >&2
  tail -n 40 "$log" >&2
  return 1
}

# wp_stop_server PID: SIGTERM (graceful), SIGKILL after 5 s; waits for it. No-op when gone.
wp_stop_server() {
  local pid=$1
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
