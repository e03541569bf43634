#!/usr/bin/env bash
# Makes sure a Redis answers on 127.0.0.1:6379: reuses a running one, else starts one (no persistence).
set -euo pipefail
if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "[redis] reusing the Redis on 127.0.0.1:6379"
  exit 0
fi
echo "[redis] starting redis-server on 127.0.0.1:6379"
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
  --dir /tmp --logfile /tmp/watchparty-redis.log
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then exit 0; fi
  sleep 0.1
done
echo "[redis] redis-server did not answer" >&2
exit 1
