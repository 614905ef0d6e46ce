#!/usr/bin/env bash
# `make run`: the whole shop on one machine. Starts the local broker (tansu, SQLite storage in
# ./data/kafka) unless KAFKA_BROKERS names another cluster or BROKER=memory, then the backend on
# http://127.0.0.1:8080 serving the built app (frontend/dist) with demo data on the first run.
# Ctrl-C stops both, and returns once both have stopped; data stays in ./data (DATA_DIR).
#
# `make dev` (run.sh --dev): the same broker, a debug backend on DEV_BACKEND_PORT (8080) that is
# rebuilt and restarted whenever a file under backend/, shared/ or proto/ is saved (inotifywait),
# and `trunk serve` on DEV_PORT (8081), which rebuilds the app and reloads the browser on every
# save in frontend/, shared/ or proto/ and proxies /api and the /api/ws websocket to the backend
# (frontend/Trunk.toml's [[proxy]] entries).
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=run
if [ "${1:-}" = --dev ]; then mode=dev; fi

TANSU="${TANSU_BIN:-$HOME/.cache/kafka-shop/tools/bin/tansu}"
BROKER_PORT="${BROKER_PORT:-9092}"
DEV_PORT="${DEV_PORT:-8081}"
DEV_BACKEND_PORT="${DEV_BACKEND_PORT:-8080}"
if [ $mode = dev ]; then
  export HTTP_ADDR="127.0.0.1:$DEV_BACKEND_PORT"
  # The app comes from trunk's port, its proxy passes the browser's Origin on to the backend:
  # that origin may open the live socket (and call the API directly).
  export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://127.0.0.1:$DEV_PORT,http://localhost:$DEV_PORT}"
else
  export HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:8080}"
fi
export STATIC_DIR="${STATIC_DIR:-frontend/dist}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-dev-admin-token}"
export DEMO_PRODUCTS="${DEMO_PRODUCTS:-5000}"
# Where the broker keeps its topics, its log and (make run) the model snapshots.
DATA_DIR="${DATA_DIR:-data}"
broker_pid=""

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Returns only once the broker has exited: SIGTERM, and SIGKILL from a timer if it is still
# there after BROKER_STOP_SECONDS (SQLite's write-ahead log keeps every acknowledged write across
# a kill). `make run` and `make dev` therefore never leave a broker holding the port and the data.
BROKER_STOP_SECONDS="${BROKER_STOP_SECONDS:-10}"
stop_broker() {
  [ -n "$broker_pid" ] || return 0
  local pid=$broker_pid timer started rc
  broker_pid=""
  started=$(date +%s%3N)
  echo "stopping the local broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  (sleep "$BROKER_STOP_SECONDS"; kill -KILL "$pid" 2>/dev/null && echo "the local broker ignored SIGTERM for ${BROKER_STOP_SECONDS}s: killed" >&2) &
  timer=$!
  # `wait` returns early when a trapped signal (another Ctrl-C) arrives: wait again until the
  # broker itself is gone (reaped: kill -0 fails).
  while :; do
    wait "$pid" 2>/dev/null && rc=0 || rc=$?
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    break
  done
  kill "$timer" 2>/dev/null || true
  wait "$timer" 2>/dev/null || true
  echo "the local broker has stopped ($(( $(date +%s%3N) - started )) ms)"
}

start_broker() {
  if port_open "$BROKER_PORT"; then
    echo "port $BROKER_PORT is already in use: stop what runs there, or set BROKER_PORT or KAFKA_BROKERS" >&2
    exit 1
  fi
  # Its own session, so the terminal's Ctrl-C reaches only the shop, which then stops cleanly
  # before the broker is stopped here.
  mkdir -p "$DATA_DIR"
  TANSU_BIN="$TANSU" setsid bash backend/scripts/broker.sh "$DATA_DIR/kafka" "$BROKER_PORT" >>"$DATA_DIR/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 100); do port_open "$BROKER_PORT" && break; sleep 0.1; done
  port_open "$BROKER_PORT" || { echo "the local broker did not start; see $DATA_DIR/broker.log" >&2; exit 1; }
  export KAFKA_BROKERS="127.0.0.1:$BROKER_PORT"
  echo "local broker on $KAFKA_BROKERS (pid $broker_pid), data in $DATA_DIR/kafka (log: $DATA_DIR/broker.log)"
  # Snapshots beside the log they summarise, so a restart replays only the tail. Not with
  # BROKER=memory (its log is gone on exit) nor in dev mode, where every save may change what
  # a fold computes without a new model version.
  if [ $mode = run ]; then
    export SNAPSHOT_DIR="${SNAPSHOT_DIR:-$(cd "$DATA_DIR" && pwd)/snapshots}"
    echo "model snapshots in $SNAPSHOT_DIR"
  fi
}

choose_broker() {
  if [ "${BROKER:-}" = memory ]; then
    export KAFKA_BROKERS=memory
    if [ $mode = dev ]; then
      echo "BROKER=memory: an in-process mock Kafka cluster. EVERYTHING IS LOST on every backend restart."
    else
      echo "BROKER=memory: an in-process mock Kafka cluster. EVERYTHING IS LOST when the shop stops."
    fi
  elif [ -z "${KAFKA_BROKERS:-}" ]; then
    start_broker
  else
    echo "using the Kafka cluster at $KAFKA_BROKERS"
  fi
}

run() {
  trap stop_broker EXIT
  if [ ! -f "$STATIC_DIR/index.html" ]; then
    echo "note: no app in $STATIC_DIR (make run builds it); the API works, / answers 404" >&2
  fi
  choose_broker
  echo "admin token: $ADMIN_TOKEN   (admin API: Authorization: Bearer \$ADMIN_TOKEN)"
  # Ctrl-C goes to the shop alone; the broker is stopped only after the shop has finished
  # shutting down (it flushes to the broker on its way out).
  "${SHOP_BIN:-./target/release/shop}" serve &
  shop_pid=$!
  trap 'kill -INT "$shop_pid" 2>/dev/null || true' INT TERM
  status=0
  while kill -0 "$shop_pid" 2>/dev/null; do
    wait "$shop_pid" || status=$?
  done
  exit "$status"
}

# --- make dev ---------------------------------------------------------------------------------

shop_pid=""
trunk_pid=""
watch_pid=""

stop_shop() {
  if [ -n "$shop_pid" ] && kill -0 "$shop_pid" 2>/dev/null; then
    kill -TERM "$shop_pid" 2>/dev/null || true
    # A shop that does not stop within 10 s (open websockets, an unreachable broker) is killed.
    for _ in $(seq 1 100); do kill -0 "$shop_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$shop_pid" 2>/dev/null || true
    wait "$shop_pid" 2>/dev/null || true
  fi
  shop_pid=""
}

now_ms() { date +%s%3N; }

start_shop() {
  # Debug build: seconds to rebuild after a handler change (dependencies are optimised anyway).
  local t0 t1 t2
  t0=$(now_ms)
  if cargo build --locked -p backend --bin shop; then
    t1=$(now_ms)
    stop_shop
    "$CARGO_TARGET_DIR/debug/shop" serve &
    shop_pid=$!
    t2=$(now_ms)
    echo "dev: backend (re)started, http://$HTTP_ADDR (pid $shop_pid; build $((t1 - t0)) ms, old one stopped in $((t2 - t1)) ms)"
  else
    echo "dev: backend build failed; the previous backend (if any) keeps running" >&2
  fi
}

stop_dev() {
  trap - EXIT INT TERM
  set +e
  echo "dev: stopping"
  if [ -n "$trunk_pid" ]; then kill -TERM "$trunk_pid" 2>/dev/null; fi
  # Started in the background, so it ignores the terminal's Ctrl-C: stopped here.
  if [ -n "$watch_pid" ]; then kill -TERM "$watch_pid" 2>/dev/null; fi
  stop_shop
  stop_broker
  wait 2>/dev/null
}

dev() {
  command -v trunk >/dev/null || { echo "trunk is not on PATH: use make dev" >&2; exit 1; }
  command -v inotifywait >/dev/null || { echo "inotifywait is missing: use make dev (it installs inotify-tools)" >&2; exit 1; }
  trap stop_dev EXIT
  trap 'exit 130' INT TERM
  # Dev builds have a target dir of their own: `make test`, `make run` or an editor's `cargo check`
  # hold target/'s lock for minutes, and a save would wait for them. The first `make dev` builds
  # everything once into it.
  export CARGO_TARGET_DIR="${DEV_TARGET_DIR:-$PWD/target/dev}"
  choose_broker
  echo "admin token: $ADMIN_TOKEN   (admin API: Authorization: Bearer \$ADMIN_TOKEN)"

  # The app: trunk serve in the foreground's process group, rebuilt on saves in frontend/ and
  # shared/. Trunk.toml's [[proxy]] entries forward /api (http) and /api/ws (ws = true) to the
  # backend; when Trunk.toml has none, /api is proxied from here (then without websocket).
  proxy=()
  if ! grep -q '^\[\[proxy\]\]' frontend/Trunk.toml 2>/dev/null; then
    echo "dev: frontend/Trunk.toml has no [[proxy]]: proxying http://127.0.0.1:$DEV_PORT/api to the backend without websocket" >&2
    proxy=(--proxy-backend "http://$HTTP_ADDR/api")
  fi
  # Its own dist folder, so that frontend/dist keeps the release build that `make run` and the
  # browser tests serve.
  # frontend/dist (release builds) and e2e/ are not the app's sources: changes there rebuild nothing.
  mkdir -p frontend/dist
  (cd frontend && exec trunk serve --offline --skip-version-check --address 127.0.0.1 --port "$DEV_PORT" \
      --dist "$CARGO_TARGET_DIR/dist" --watch . --watch ../shared --watch ../proto --ignore dist --ignore e2e \
      "${proxy[@]}") &
  trunk_pid=$!

  start_shop
  echo "dev: open http://127.0.0.1:$DEV_PORT  (the app reloads on save; the backend restarts on save)"

  # The backend: rebuilt and restarted after every save. Events that arrive within 150 ms of each
  # other (an editor writing several files, a formatter) make one restart.
  watched=()
  for p in backend/src backend/Cargo.toml backend/build.rs shared proto Cargo.toml Cargo.lock; do
    [ -e "$p" ] && watched+=("$p")
  done
  exec {events}< <(exec inotifywait -m -r -q -e close_write,moved_to,create,delete --format '%w%f' \
      --exclude '(/target/|\.swp$|\.swx$|~$|/\.#|4913$)' "${watched[@]}")
  watch_pid=$!
  while read -r -u "$events" changed; do
    while read -r -t 0.15 -u "$events" _; do :; done
    echo "dev: $changed changed: rebuilding the backend"
    start_shop
  done
}

if [ $mode = dev ]; then dev; else run; fi
