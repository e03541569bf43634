#!/usr/bin/env bash
# The floor of a hydrated Leptos 0.8 SPA of the watch party's shape (docs/benchmarks.md,
# "Bundle"): builds src/lib.rs for wasm32 with the app's wasm profile and `erase_components`,
# runs wasm-bindgen and `wasm-opt -Oz` as the release pipeline does, and prints raw, gzip -9 and
# brotli 11 sizes (gzip -9 by the gzip CLI, as scripts/bundle-size.mjs measures the app). Not a
# member of the workspace (own `[workspace]`, own target dir, the project's Cargo.lock copied in
# for the build so the versions are the app's); `erase_components` comes from the project's
# .cargo/config.toml, which cargo reads from the parent directories.
#
#   docs/leptos-floor/build.sh            (after scripts/setup.sh: wasm-bindgen, wasm-opt, node)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export PATH="$HOME/.cargo/bin:$ROOT/tools/node_modules/.bin:$PATH"
cd "$HERE"
cp "$ROOT/Cargo.lock" Cargo.lock
trap 'rm -f "$HERE/Cargo.lock"' EXIT
cargo build --release --target wasm32-unknown-unknown --target-dir "$ROOT/target/leptos-floor" -q
OUT="$ROOT/target/leptos-floor/out"
rm -rf "$OUT"
wasm-bindgen --target web --out-dir "$OUT" "$ROOT/target/leptos-floor/wasm32-unknown-unknown/release/floor.wasm" 2>/dev/null
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals "$OUT/floor_bg.wasm" -o "$OUT/floor.wasm"
for f in "$OUT/floor.wasm" "$OUT/floor.js"; do
  br=$(node -e '
    const z = require("zlib"), b = require("fs").readFileSync(process.argv[1]);
    console.log(z.brotliCompressSync(b, { params: { [z.constants.BROTLI_PARAM_QUALITY]: 11 } }).length);
  ' "$f")
  echo "$(basename "$f"): raw $(stat -c%s "$f") B, gzip -9 $(gzip -9 -n -c "$f" | wc -c) B, brotli 11 $br B"
done
