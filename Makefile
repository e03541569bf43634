# The two commands:
#   make run   - install what is missing, build the release binary, serve http://127.0.0.1:3000
#                (embedded in-memory store; set REDIS_URL=redis://... to use Redis)
#   make test  - install what is missing, start Redis if none answers, run every test:
#                lint, unit + integration (memory and Redis), the one-binary check,
#                the browser end-to-end suite (memory and Redis) and a load-generator smoke run.
# Development loop: `make dev` (cargo leptos watch, live reload).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/tools/node_modules/.bin:$(PATH)
BIN := target/release/watchparty

.PHONY: run test dev build lint unit e2e smoke wasm-size

run:
	scripts/setup.sh run
	cargo leptos build --release --precompress
	$(BIN)

dev:
	scripts/setup.sh run
	cargo leptos watch

build:
	scripts/setup.sh run
	cargo leptos build --release --precompress
	@$(MAKE) --no-print-directory wasm-size

test:
	scripts/setup.sh test
	scripts/ensure-redis.sh
	$(MAKE) --no-print-directory lint unit build
	scripts/check-standalone.sh $(BIN)
	$(MAKE) --no-print-directory e2e smoke
	@echo "make test: 6 passed, 0 failed (lint, unit+integration, build, standalone, end2end, load smoke)"

lint:
	cargo fmt --all -- --check
	cargo clippy --tests -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

unit:
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379} cargo test

e2e:
	end2end/run.sh $(BIN)

smoke:
	cargo build -p server -p loadtest
	loadtest/smoke.sh $(BIN)

wasm-size:
	@for f in target/site/pkg/*.wasm; do \
	  printf 'wasm %s: raw %s B, gzip %s B, brotli %s B\n' "$$f" \
	    "$$(stat -c %s $$f)" "$$(gzip -9c $$f | wc -c)" \
	    "$$( [ -f $$f.br ] && stat -c %s $$f.br || echo n/a)"; \
	done
