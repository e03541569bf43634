# The two commands:
#   make run   - install what is missing, build the release binary, serve http://127.0.0.1:3000
#                (embedded in-memory store; set REDIS_URL=redis://... to use Redis)
#   make test  - install what is missing, start Redis if none answers, run every test:
#                lint, unit + integration (memory and Redis), the one-binary check,
#                the browser end-to-end suite (memory and Redis) and a load-generator smoke run.
# The accuracy figures (docs/benchmarks.md): `make bench` (heavy measurements, ~12 min of browser).
# Development loop: `make dev` (cargo leptos watch, live reload).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/tools/node_modules/.bin:$(PATH)
BIN := target/release/watchparty

.PHONY: run test bench dev build release lint unit e2e smoke wasm-size bundle-size bundle-check bundle-record firstload

run:
	scripts/setup.sh run
	@$(MAKE) --no-print-directory release
	$(BIN)

dev:
	scripts/setup.sh run
	cargo leptos watch

build:
	scripts/setup.sh run
	@$(MAKE) --no-print-directory release bundle-size

# The release build: the front end, then the best-compressed copies of the site (zopfli gzip,
# brotli 11: scripts/precompress.mjs; cargo-leptos' --precompress levels are weaker), then the
# server, which embeds target/site (server/src/assets.rs).
release:
	cargo leptos build --release --frontend-only
	node scripts/precompress.mjs target/site
	cargo leptos build --release --server-only

test:
	scripts/setup.sh test
	scripts/ensure-redis.sh
	$(MAKE) --no-print-directory lint unit build bundle-check
	scripts/check-standalone.sh $(BIN)
	$(MAKE) --no-print-directory e2e smoke
	@echo "make test: 7 passed, 0 failed (lint, unit+integration, build, bundle size, standalone, end2end, load smoke)"

lint:
	cargo fmt --all -- --check
	cargo clippy --tests -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

unit:
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379} cargo test

e2e:
	end2end/run.sh $(BIN)

# The accuracy figures of docs/benchmarks.md (browser, both players, both stores, the hard-player
# variants; ~12 min): heavy measurements, not part of `make test`.
bench:
	scripts/setup.sh test
	scripts/ensure-redis.sh
	@$(MAKE) --no-print-directory build
	E2E_SUITE=bench end2end/run.sh $(BIN)

smoke:
	cargo build -p server -p loadtest
	loadtest/smoke.sh $(BIN)

# The JS + wasm a session page needs: raw, gzip -9, served .gz/.br (scripts/bundle-size.mjs).
bundle-size wasm-size:
	@node scripts/bundle-size.mjs

# Fails when that grew more than 10 % above the record in docs/bundle-size.json (make test).
bundle-check:
	@node scripts/bundle-size.mjs --check

# Records the current size (after an intended growth, or to lock in a gain); prints the README row.
bundle-record:
	@node scripts/bundle-size.mjs --record

# First load on an emulated phone (slow 4G, 4x CPU), N fresh contexts: docs/benchmarks.md.
firstload:
	end2end/firstload/run.sh $(BIN)
