#!/usr/bin/env bash
# The one way the local Kafka-protocol broker (tansu) is started: by `make run` / `make dev`
# (run.sh), the tests (tests/support), the benchmarks (shop-bench), the load run (load/run.sh)
# and the browser tests (frontend/e2e/support.cjs). Its flags live here only.
#
#   broker.sh DATA_DIR PORT [ADVERTISED_PORT] [CLUSTER_ID]
#
# Runs in the foreground (exec: the caller's child *is* the broker, so it can stop or pause it
# by pid) with its SQLite storage in DATA_DIR (created if missing), listening on 127.0.0.1:PORT
# and naming 127.0.0.1:ADVERTISED_PORT (default PORT; e.g. a fault-injecting proxy) in its
# metadata. The caller redirects its output. TANSU_BIN overrides the binary's path.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DATA_DIR PORT [ADVERTISED_PORT] [CLUSTER_ID]" >&2
  exit 2
fi
dir="$1" port="$2" advertised="${3:-$2}" cluster="${4:-shop}"
tansu="${TANSU_BIN:-$HOME/.cache/kafka-shop/tools/bin/tansu}"
if [ ! -x "$tansu" ]; then
  echo "the local broker is not installed at $tansu: run \`make broker-tool\` (or \`make test\`), or set TANSU_BIN" >&2
  exit 1
fi
mkdir -p "$dir"
cd "$dir"
# RUST_LOG is the shop's filter, not the broker's: tansu at info writes gigabytes. The SQLite
# path is relative: the broker runs in its data dir.
exec env -u RUST_LOG "$tansu" broker --cluster-id "$cluster" \
  --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$advertised" \
  --storage-engine sqlite://tansu.db
