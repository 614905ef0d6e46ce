# Every entry point of the shop. `make run` and `make test` work on a fresh machine: they install
# what is missing (pinned versions) and skip what is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Tools built once per machine and reused by every clone.
TOOLS ?= $(HOME)/.cache/kafka-shop/tools
TANSU := $(TOOLS)/bin/tansu
export TANSU_BIN := $(TANSU)

CARGO ?= cargo

TRUNK_VERSION := 0.21.14
TRUNK := $(TOOLS)/bin/trunk
# wasm-bindgen-cli must match the wasm-bindgen crate the app links, so it is read from Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3; exit }' Cargo.lock)
WASM_BINDGEN := $(TOOLS)/bin/wasm-bindgen
NODE_TOOLS := $(TOOLS)/node
BINARYEN_VERSION := 132.0.0
BINARYEN_MAJOR := $(firstword $(subst ., ,$(BINARYEN_VERSION)))
PLAYWRIGHT_VERSION := 1.65.1
# The viewer of /api/docs, copied into the app's files by frontend/build.cjs.
SWAGGER_UI_VERSION := 5.35.0
CHROMIUM ?= /usr/bin/chromium

.PHONY: api-fuzz-tool help run dev test e2e chaos hostile app wasm-size bench bench-search load fuzz lint fmt tools broker-tool rust-targets system-packages dev-packages trunk-tool wasm-bindgen-tool node-tools app-tools dev-tools

help:
	@echo "make run     start the shop on http://127.0.0.1:8080 (local broker, demo data on first run)"
	@echo "             BROKER=memory: in-process mock broker, everything lost on exit"
	@echo "             KAFKA_BROKERS=host:9092: use that Kafka cluster instead of the local broker"
	@echo "make dev     hot reload: app on http://127.0.0.1:8081 (trunk serve), backend restarted on save"
	@echo "make test    formatting, lints, unit, property, integration, end-to-end and browser tests"
	@echo "make e2e     the browser tests alone (E2E_FILES=frontend/e2e/NAME.test.cjs for one)"
	@echo "make chaos   the chaos suite at full length (CHAOS_SECONDS per phase); table in target/chaos/report.md"
	@echo "make hostile the hostile-traffic suite at full size; table in target/hostile/report.md"
	@echo "make app     release build of the app into frontend/dist;  make wasm-size  its size"
	@echo "make bench   benchmarks; results go to BENCHMARKS.md"
	@echo "make bench-search  the search section (s) alone, at a million products; replaces it in BENCHMARKS.md"
	@echo "make load    Locust load run (LOAD_USERS, LOAD_SECONDS, LOAD_HOST); SCENARIO=flash-sale: the audited flash sale"
	@echo "make fuzz    every fuzz target for FUZZ_SECONDS each (default 60); corpus in fuzz/corpus/"
	@echo "make fmt     format the code;  make lint  clippy with warnings as errors"

## Tools ---------------------------------------------------------------------------------------

# The local Kafka-protocol broker: tansu from crates.io with the fixes of broker/patches/ (see
# the README's broker section), built once per machine by broker/build.sh and rebuilt only when
# the binary's version names another build of broker/ than this checkout's.
BROKER_VERSION = $(shell bash broker/build.sh "$(TOOLS)" --print-version)
broker-tool:
	@if [ -x "$(TANSU)" ] && [ "$$("$(TANSU)" --version 2>/dev/null)" = "$(BROKER_VERSION)" ]; then :; else \
	  echo ">>> Building the local Kafka broker ($(BROKER_VERSION)) into $(TOOLS)."; \
	  echo ">>> This happens once per machine and takes about 12 minutes on 2 idle cores (22 CPU-minutes); cargo shows its progress below."; \
	  bash broker/build.sh "$(TOOLS)"; \
	fi

# The shared crate and the app build for the browser.
rust-targets:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# Trunk serves the app with hot reload in `make dev` (the release build needs no Trunk:
# frontend/build.cjs). 0.22 needs a newer Rust; 0.21 works offline with the tools below.
trunk-tool:
	@if [ -x "$(TRUNK)" ] && "$(TRUNK)" --version 2>/dev/null | grep -qx "trunk $(TRUNK_VERSION)"; then :; else \
	  echo ">>> Building trunk $(TRUNK_VERSION) into $(TOOLS) (once per machine, about 11 minutes on 2 cores)."; \
	  $(CARGO) install trunk --version $(TRUNK_VERSION) --locked --root "$(TOOLS)"; \
	fi

# wasm-bindgen-cli must be exactly the wasm-bindgen of Cargo.lock. Without --locked: its own
# lock file pins a crate version the registry no longer has.
wasm-bindgen-tool:
	@test -n "$(WASM_BINDGEN_VERSION)" || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }
	@if [ -x "$(WASM_BINDGEN)" ] && "$(WASM_BINDGEN)" --version 2>/dev/null | grep -qx "wasm-bindgen $(WASM_BINDGEN_VERSION)"; then :; else \
	  echo ">>> Building wasm-bindgen-cli $(WASM_BINDGEN_VERSION) into $(TOOLS) (about 2 minutes)."; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force --root "$(TOOLS)"; \
	fi

# npm packages: binaryen's wasm-opt (Debian's is too old for wasm-bindgen's output),
# playwright-core, which drives Debian's chromium in the browser tests (it never downloads one),
# and swagger-ui-dist, the viewer the shop serves at /api/docs.
NPM_PACKAGES := binaryen@$(BINARYEN_VERSION) playwright-core@$(PLAYWRIGHT_VERSION) swagger-ui-dist@$(SWAGGER_UI_VERSION)
node-tools:
	@ok=1; for spec in $(NPM_PACKAGES); do name="$${spec%@*}"; want="$${spec##*@}"; \
	  have=$$(node -p "require('$(NODE_TOOLS)/node_modules/$$name/package.json').version" 2>/dev/null); \
	  [ "$$have" = "$$want" ] || ok=0; done; \
	if [ $$ok = 0 ]; then \
	  echo ">>> installing npm packages into $(NODE_TOOLS): $(NPM_PACKAGES)"; \
	  mkdir -p "$(NODE_TOOLS)" && npm install --prefix "$(NODE_TOOLS)" --save-exact --no-audit --no-fund --loglevel=error $(NPM_PACKAGES); \
	fi

# Debian packages. Test: Prometheus (promtool and a real server), Go (go tool pprof), chromium
# (browser tests), kcat and protoc (a standard Kafka client reading the local broker). Dev:
# inotify-tools (restart the backend on save).
APT_TEST := promtool:prometheus go:golang-go $(CHROMIUM):chromium kcat:kcat protoc:protobuf-compiler
APT_DEV := inotifywait:inotify-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define apt_ensure
	@missing=""; for pair in $(1); do command -v "$${pair%%:*}" >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">>> installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef
system-packages:
	$(call apt_ensure,$(APT_TEST))
dev-packages:
	$(call apt_ensure,$(APT_DEV))

app-tools: rust-targets wasm-bindgen-tool node-tools
dev-tools: app-tools trunk-tool

# Schemathesis from PyPI in a venv of its own, once per machine, as `make load` installs Locust:
# every pin is in backend/tests/api_fuzz/requirements.txt; a change of the schemathesis pin
# reinstalls. backend/tests/api_fuzz.rs runs it (SCHEMATHESIS) against the real binary.
SCHEMATHESIS_VENV := $(TOOLS)/schemathesis-venv
SCHEMATHESIS_VERSION := $(shell sed -n 's/^schemathesis==//p' backend/tests/api_fuzz/requirements.txt)
export SCHEMATHESIS := $(SCHEMATHESIS_VENV)/bin/st
api-fuzz-tool:
	@if "$(SCHEMATHESIS)" --version 2>/dev/null | grep -qx "st, version $(SCHEMATHESIS_VERSION)"; then :; else \
	  echo ">>> installing schemathesis $(SCHEMATHESIS_VERSION) into $(SCHEMATHESIS_VENV) (pins: backend/tests/api_fuzz/requirements.txt)"; \
	  rm -rf "$(SCHEMATHESIS_VENV)" && python3 -m venv "$(SCHEMATHESIS_VENV)" && \
	  "$(SCHEMATHESIS_VENV)/bin/pip" install --quiet --disable-pip-version-check -r backend/tests/api_fuzz/requirements.txt; \
	fi

tools: broker-tool rust-targets system-packages app-tools api-fuzz-tool

## The app -------------------------------------------------------------------------------------

# The pinned wasm-bindgen and npm's wasm-opt come first on PATH, for frontend/build.cjs and for
# Trunk (offline mode: it never downloads them).
APP_PATH := $(TOOLS)/bin:$(NODE_TOOLS)/node_modules/.bin:$(PATH)
TRUNK_ENV := PATH="$(APP_PATH)" TRUNK_TOOLS_WASM_BINDGEN=$(WASM_BINDGEN_VERSION) TRUNK_TOOLS_WASM_OPT=version_$(BINARYEN_MAJOR)

# The release build of the app into frontend/dist, which the backend serves (STATIC_DIR). It also
# proves that `shared` builds for wasm32, which the app links.
app: app-tools
	PATH="$(APP_PATH)" TOOLS="$(TOOLS)" node frontend/build.cjs

# The release app's size, raw and gzip -9 (the figures for BENCHMARKS.md).
wasm-size: app
	@$(WASM_SIZE)

WASM_SIZE = cd frontend/dist && ls *.wasm >/dev/null 2>&1 || { echo "no .wasm in frontend/dist" >&2; exit 1; }; \
	for f in *.wasm *.js; do [ -f "$$f" ] && echo "$$f $$(stat -c %s "$$f") $$(gzip -9 -c "$$f" | wc -c)"; done | \
	awk '{ printf "%-44s %9d bytes raw (%7.1f KiB) %9d bytes gzip -9 (%7.1f KiB)\n", $$1, $$2, $$2/1024, $$3, $$3/1024; raw += $$2; gz += $$3 } \
	  END { printf "%-44s %9d bytes raw (%7.1f KiB) %9d bytes gzip -9 (%7.1f KiB)\n", "total", raw, raw/1024, gz, gz/1024 }'

## Run -----------------------------------------------------------------------------------------

# The app, the local broker and the shop's release build need nothing of one another: a first run
# builds them side by side, so that one build's single-threaded stretches (SQLite's C source in
# the broker, a final link) leave no core idle.
run:
	@$(MAKE) --no-print-directory -j3 run-builds
	@BROKER="$(BROKER)" bash backend/scripts/run.sh

.PHONY: run-builds run-broker shop-release
run-builds: app run-broker shop-release
run-broker:
	@if [ -z "$$KAFKA_BROKERS" ] && [ "$(BROKER)" != memory ]; then $(MAKE) --no-print-directory broker-tool; fi
shop-release:
	$(CARGO) build --release --locked -p backend --bin shop

# Hot reload: `trunk serve` on DEV_PORT rebuilds the app and reloads the browser on every save in
# frontend/, shared/ or proto/, and proxies /api (and the /api/ws websocket) to a debug backend
# on DEV_BACKEND_PORT that is rebuilt and restarted on every save in backend/, shared/ or proto/.
# The ports match frontend/Trunk.toml's [serve] port and [[proxy]] backends.
DEV_PORT ?= 8081
DEV_BACKEND_PORT ?= 8080
dev: dev-tools dev-packages
	@if [ -z "$$KAFKA_BROKERS" ] && [ "$(BROKER)" != memory ]; then $(MAKE) --no-print-directory broker-tool; fi
	@BROKER="$(BROKER)" DEV_PORT=$(DEV_PORT) DEV_BACKEND_PORT=$(DEV_BACKEND_PORT) $(TRUNK_ENV) \
	  bash backend/scripts/run.sh --dev

## Test ----------------------------------------------------------------------------------------

# The summary counts cargo's tests and the browser tests (node's TAP output); browser tests that
# could not run at all (the app or the binary did not build) count as one failure.
SUMMARY := awk 'FILENAME ~ /\.tap$$/ { tap = 1; if ($$1 == "\#" && $$2 == "pass") passed += $$3; if ($$1 == "\#" && ($$2 == "fail" || $$2 == "cancelled")) failed += $$3; next } \
  /^test result:/ { passed += $$4; failed += $$6 } \
  END { if (!tap) { print "browser tests: not run"; failed += 1 } printf "%d passed, %d failed\n", passed, failed }'

# The tools are independent of one another (the broker's build, wasm-bindgen's, apt and pip
# downloads): built side by side on a new machine.
test:
	@$(MAKE) --no-print-directory -j4 tools
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@mkdir -p target && rm -f target/e2e.tap
	@set -o pipefail; status=0; \
	$(CARGO) test --workspace --locked 2>&1 | tee target/test-output.log || status=1; \
	$(MAKE) --no-print-directory e2e E2E_BUILT=1 || status=1; \
	[ -f target/e2e.tap ] && files=target/e2e.tap || files=; \
	$(SUMMARY) target/test-output.log $$files; exit $$status

# The browser tests alone: the release app, the debug `shop` binary, the real broker, headless
# Chromium. Screenshots go to target/browser-screenshots/, process logs to target/browser-logs/.
E2E_FILES ?= frontend/e2e/*.test.cjs
E2E_ENV := TOOLS="$(TOOLS)" TANSU_BIN="$(TANSU)" SHOP_BIN="$(CURDIR)/target/debug/shop" \
  STATIC_DIR="$(CURDIR)/frontend/dist" CHROMIUM="$(CHROMIUM)" NODE_PATH="$(NODE_TOOLS)/node_modules"
# Within `make test`, `cargo test --workspace` has just built target/debug/shop (E2E_BUILT=1);
# building it again with `-p backend` alone would compile many crates anew, because features
# are unified differently for one package than for the workspace.
e2e: broker-tool system-packages app
	@if [ "$(E2E_BUILT)" = 1 ] && [ -x target/debug/shop ]; then :; else $(CARGO) build --locked -p backend --bin shop; fi
	@mkdir -p target && rm -rf target/browser-screenshots target/browser-logs
	$(E2E_ENV) node --test --test-concurrency=1 \
	  --test-reporter=spec --test-reporter-destination=stdout \
	  --test-reporter=tap --test-reporter-destination=target/e2e.tap \
	  $(E2E_FILES)

# The chaos suite at full length (`make test` runs it reduced): faults under a command load,
# then lost / oversold / duplicates counted. The table goes to target/chaos/report.md.
CHAOS_SECONDS ?= 15
CHAOS_SHOPPERS ?= 8
chaos: broker-tool
	CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_SHOPPERS=$(CHAOS_SHOPPERS) \
	  $(CARGO) test --locked -p backend --test chaos -- --nocapture

# The hostile-traffic suite at full size (`make test` runs it reduced): stalled heads and
# bodies, a flood of anonymous no-op commands, a foreign-origin websocket, orders racing price
# changes, two concurrent uploads of bad CSV rows. The table goes to target/hostile/report.md.
HOSTILE_STALLED ?= 2000
HOSTILE_NOOPS ?= 100000
HOSTILE_SECONDS ?= 20
HOSTILE_UPLOAD_MIB ?= 32
hostile: broker-tool
	HOSTILE_STALLED=$(HOSTILE_STALLED) HOSTILE_NOOPS=$(HOSTILE_NOOPS) HOSTILE_SECONDS=$(HOSTILE_SECONDS) \
	  HOSTILE_UPLOAD_MIB=$(HOSTILE_UPLOAD_MIB) \
	  $(CARGO) test --locked -p backend --test hostile_traffic -- --nocapture

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## Fuzzing ------------------------------------------------------------------------------------

# cargo-fuzz (pinned, into $(TOOLS)) over every decoder of outside input; see backend/scripts/fuzz.sh.
FUZZ_SECONDS ?= 60
fuzz:
	@TOOLS="$(TOOLS)" FUZZ_SECONDS=$(FUZZ_SECONDS) bash backend/scripts/fuzz.sh

## Benchmarks ----------------------------------------------------------------------------------

bench: broker-tool app
	@command -v wrk >/dev/null || { echo ">>> installing wrk (load generator)"; sudo_cmd=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo_cmd apt-get update -qq && $$sudo_cmd apt-get install -y -qq wrk; }
	$(CARGO) build --release --locked -p backend --bins
	./target/release/shop-bench --tansu "$(TANSU)" --out target/BENCHMARKS.new.md
	@{ echo; echo "## g. The app's size"; echo; \
	  echo "$$(date -u '+%Y-%m-%d %H:%M UTC'), \`make wasm-size\` (release build, profile wasm-release, wasm-opt -Oz); goal: .wasm <= 300 KB gzip."; \
	  echo; echo '```'; $(WASM_SIZE); echo '```'; } >> target/BENCHMARKS.new.md
	@# Sections h onwards come from other commands (browser tests, make load, chaos, fuzz): kept.
	@{ echo; awk 'f || /^## h\. /{ f = 1; print }' BENCHMARKS.md; } >> target/BENCHMARKS.new.md
	@mv target/BENCHMARKS.new.md BENCHMARKS.md
	$(CARGO) bench --locked -p backend --bench fold

# Section s alone (about a minute): run it, then put it in BENCHMARKS.md in place of the last one
# (before section g, where `make bench` writes it), with its own date and command.
bench-search: broker-tool
	@command -v wrk >/dev/null || { echo ">>> installing wrk (load generator)"; sudo_cmd=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$sudo_cmd apt-get update -qq && $$sudo_cmd apt-get install -y -qq wrk; }
	$(CARGO) build --release --locked -p backend --bin shop-bench
	./target/release/shop-bench --tansu "$(TANSU)" --sections s --splice-into BENCHMARKS.md --out target/BENCHMARKS.new.md
	@mv target/BENCHMARKS.new.md BENCHMARKS.md

## Load ----------------------------------------------------------------------------------------

# Locust from PyPI in a venv of its own, once per machine; every pin is in load/requirements.txt
# and a change of the locust pin reinstalls. load/run.sh starts the broker and the shop (or aims
# at LOAD_HOST), runs the scenario and writes its tables to target/load/.
LOCUST_VENV := $(TOOLS)/locust-venv
LOCUST_VERSION := $(shell sed -n 's/^locust==//p' load/requirements.txt)
SCENARIO ?= shop
load:
	@if [ -z "$(LOAD_HOST)" ]; then $(MAKE) --no-print-directory broker-tool; fi
	@if "$(LOCUST_VENV)/bin/locust" --version 2>/dev/null | grep -q "^locust $(LOCUST_VERSION) "; then :; else \
	  echo ">>> installing Locust $(LOCUST_VERSION) into $(LOCUST_VENV) (pins: load/requirements.txt)"; \
	  rm -rf "$(LOCUST_VENV)" && python3 -m venv "$(LOCUST_VENV)" && \
	  "$(LOCUST_VENV)/bin/pip" install --quiet --disable-pip-version-check -r load/requirements.txt; \
	fi
	@if [ -z "$(LOAD_HOST)" ]; then $(CARGO) build --release --locked -p backend --bin shop --bin shop-audit; fi
	@SCENARIO="$(SCENARIO)" LOCUST="$(LOCUST_VENV)/bin/locust" TANSU_BIN="$(TANSU)" bash load/run.sh
