# Every entry point of the shop. `make run` and `make test` work on a fresh machine: they install
# what is missing (pinned versions) and skip what is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Tools built once per machine and reused by every clone.
TOOLS ?= $(HOME)/.cache/kafka-shop/tools
TANSU_VERSION := 0.6.0
TANSU := $(TOOLS)/bin/tansu
export TANSU_BIN := $(TANSU)

CARGO ?= cargo

.PHONY: help run test bench lint fmt tools broker-tool rust-targets system-packages

help:
	@echo "make run     start the shop on http://127.0.0.1:8080 (local broker, demo data on first run)"
	@echo "             BROKER=memory: in-process mock broker, everything lost on exit"
	@echo "             KAFKA_BROKERS=host:9092: use that Kafka cluster instead of the local broker"
	@echo "make test    formatting, lints, unit, property, integration and end-to-end tests"
	@echo "make bench   benchmarks; results go to BENCHMARKS.md"
	@echo "make fmt     format the code;  make lint  clippy with warnings as errors"

## Tools ---------------------------------------------------------------------------------------

# The local Kafka-protocol broker: built from crates.io once (about 20 minutes on 2 cores).
broker-tool:
	@if [ -x "$(TANSU)" ] && "$(TANSU)" --version 2>/dev/null | grep -qx "tansu $(TANSU_VERSION)"; then :; else \
	  echo ">>> Building the local Kafka broker (tansu $(TANSU_VERSION)) into $(TOOLS)."; \
	  echo ">>> This happens once per machine and takes about 20 minutes on 2 cores; cargo shows its progress below."; \
	  $(CARGO) install tansu --version $(TANSU_VERSION) --features libsql --locked --root "$(TOOLS)"; \
	fi

# The shared crate must also build for the browser.
rust-targets:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# Debian packages the tests use: Prometheus (promtool and a real server) and Go (go tool pprof).
APT_TOOLS := promtool:prometheus go:golang-go
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	@missing=""; for pair in $(APT_TOOLS); do command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">>> installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

tools: broker-tool rust-targets system-packages

## Run -----------------------------------------------------------------------------------------

run:
	@if [ -z "$$KAFKA_BROKERS" ] && [ "$(BROKER)" != memory ]; then $(MAKE) --no-print-directory broker-tool; fi
	$(CARGO) build --release --locked -p backend --bin shop
	@BROKER="$(BROKER)" bash backend/scripts/run.sh

## Test ----------------------------------------------------------------------------------------

test: tools
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) build --locked -p shared --target wasm32-unknown-unknown
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace --locked 2>&1 | tee target/test-output.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' target/test-output.log

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks ----------------------------------------------------------------------------------

bench: broker-tool
	@command -v wrk >/dev/null || { echo ">>> installing wrk (load generator)"; sudo_cmd=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo_cmd apt-get update -qq && $$sudo_cmd apt-get install -y -qq wrk; }
	$(CARGO) build --release --locked -p backend --bins
	./target/release/shop-bench --tansu "$(TANSU)" --out BENCHMARKS.md
	$(CARGO) bench --locked -p backend --bench fold
