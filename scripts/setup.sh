#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already present.
#   scripts/setup.sh run   -> wasm target, cargo-leptos, wasm-bindgen CLI, wasm-opt
#   scripts/setup.sh test  -> the above + Chromium, redis-server, nginx, end2end npm packages
# Versions are pinned here and in Cargo.lock / tools/package-lock.json / end2end/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs rustc 1.96
mode=${1:-run}
export PATH="$HOME/.cargo/bin:$PWD/tools/node_modules/.bin:$PATH"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ ! -f /tmp/.watchparty-apt-updated ]; then
    as_root apt-get update -qq && touch /tmp/.watchparty-apt-updated
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# 1. The wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. cargo-leptos (offline-capable build: no_downloads uses the tools on PATH).
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# 3. wasm-bindgen CLI at exactly the version in Cargo.lock.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$WB_VERSION" ]; then
  echo "cannot find wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  log "installing wasm-bindgen-cli $WB_VERSION"
  # --locked fails for this crate (a locked dependency is missing from the registry).
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# 4. wasm-opt from npm binaryen (Debian's is too old for current wasm features).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing Node.js and npm"
  apt_install nodejs npm
fi
if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ tools/package-lock.json -nt tools/node_modules/.package-lock.json ]; then
  log "installing wasm-opt (npm binaryen)"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "$mode" = test ]; then
  # 5. Chromium for the browser tests, Redis for the integration tests.
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian chromium"
    apt_install chromium
  fi
  # An emoji font, so the suite's screenshots (docs/screenshots/) show the reaction buttons.
  if ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then
    log "installing fonts-noto-color-emoji"
    apt_install fonts-noto-color-emoji
  fi
  # ffmpeg makes the real-media player's clip (issue 25; once per machine, ~20 s).
  if ! command -v ffmpeg >/dev/null; then
    log "installing ffmpeg"
    apt_install ffmpeg
  fi
  end2end/media/make-clip.sh >/dev/null
  # nginx for the proxy tests (end2end/tests/proxy.spec.js runs its own, as this user, from a
  # generated config); the package's own service on port 80 is stopped and disabled.
  if [ ! -x /usr/sbin/nginx ]; then
    log "installing nginx"
    apt_install nginx
    as_root sh -c 'if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now nginx; else
        invoke-rc.d nginx stop || true; update-rc.d nginx disable || true; fi' >/dev/null 2>&1 || true
  fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
  fi
  # 6. Playwright for the end-to-end suite.
  if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    log "installing end2end npm packages"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
log "tools ready"
