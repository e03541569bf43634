#!/usr/bin/env bash
# The one-binary check: copies the release server into an empty directory, runs it there with no
# configuration at all, and checks that it serves the whole site (HTML, JS, wasm, CSS) with the right
# content types, brotli/gzip at the best levels, long-lived caching for hashed URLs, security
# headers and health.
#   scripts/check-standalone.sh [path/to/watchparty]
set -euo pipefail
bin=${1:-target/release/watchparty}
[ -x "$bin" ] || { echo "no server binary at $bin (run: make build)" >&2; exit 1; }

dir=$(mktemp -d)
cp "$bin" "$dir/watchparty"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
(cd "$dir" && exec env -i PATH=/usr/bin:/bin HOME="$dir" WATCHPARTY_LISTEN="127.0.0.1:$port" ./watchparty) \
  >"$dir/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; echo "--- server log:" >&2; cat "$dir/server.log" >&2; exit 1; }
pass=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }

for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" | grep -q '"ok"' || fail "/healthz"
ok "/healthz answers from an empty directory ($(ls -A "$dir" | tr '\n' ' '))"

headers=$(curl -fsS -D - -o "$dir/index.html" "$base/")
grep -qi '^content-type: text/html' <<<"$headers" || fail "home page content type"
grep -qi "^content-security-policy:.*frame-src https://www.youtube.com" <<<"$headers" || fail "CSP header"
grep -qi '^x-content-type-options: nosniff' <<<"$headers" || fail "nosniff header"
grep -qi '^referrer-policy:' <<<"$headers" || fail "Referrer-Policy header"
ok "home page is HTML with CSP, nosniff and Referrer-Policy"

check_asset() { # url-path expected-content-type
  local path=$1 type=$2 h
  [ -n "$path" ] || fail "asset link missing for $type"
  h=$(curl -fsS -D - -o "$dir/asset" -H 'Accept-Encoding: br, gzip' "$base$path")
  grep -qi "^content-type: $type" <<<"$h" || fail "$path content type (want $type)"
  grep -qi '^content-encoding: br' <<<"$h" || fail "$path is not served brotli-compressed"
  grep -qi '^cache-control: .*immutable' <<<"$h" || fail "$path is not cached as immutable"
  [ -s "$dir/asset" ] || fail "$path is empty"
  h=$(curl -fsS -D - -o "$dir/asset.gz" -H 'Accept-Encoding: gzip' "$base$path")
  grep -qi '^content-encoding: gzip' <<<"$h" || fail "$path is not served gzip to gzip-only clients"
  # The embedded copies are the best levels (scripts/precompress.mjs): the gzip no larger than
  # `gzip -9` of the file, the brotli no larger than brotli quality 11 (window 24).
  curl -fsS -o "$dir/asset.raw" "$base$path"
  local br gz gz9 br11
  br=$(stat -c %s "$dir/asset") gz=$(stat -c %s "$dir/asset.gz")
  gz9=$(gzip -9 -n -c "$dir/asset.raw" | wc -c)
  br11=$(node -e 'const z=require("zlib"),c=z.constants,d=require("fs").readFileSync(process.argv[1]);
    console.log(z.brotliCompressSync(d,{params:{[c.BROTLI_PARAM_QUALITY]:11,[c.BROTLI_PARAM_LGWIN]:24,[c.BROTLI_PARAM_SIZE_HINT]:d.length}}).length)' "$dir/asset.raw")
  [ "$gz" -le "$gz9" ] || fail "$path: served gzip is $gz B, gzip -9 gives $gz9 B (not the best level)"
  [ "$br" -le "$br11" ] || fail "$path: served brotli is $br B, brotli 11 gives $br11 B (not the best level)"
  ok "$path: $type, br $br B (brotli 11: $br11 B), gzip $gz B (gzip -9: $gz9 B), immutable"
}
link() { grep -o "href=\"[^\"]*\\.$1?v=[0-9a-f]*\"" "$dir/index.html" | head -1 | sed 's/href="//; s/"$//'; }
check_asset "$(link css)" "text/css"
check_asset "$(link js)" "text/javascript"
check_asset "$(link wasm)" "application/wasm"

code=$(curl -s -o /dev/null -w '%{http_code}' "$base/s/AAAAAAAAAAAA")
[ "$code" = 404 ] || fail "unknown session gave $code, want 404"
ok "unknown session is a 404"

echo "standalone: $pass passed, 0 failed"
