#!/usr/bin/env bash
# `make run`: the whole shop on one machine. Starts the local broker (tansu, SQLite storage in
# ./data/kafka) unless KAFKA_BROKERS names another cluster or BROKER=memory, then the backend on
# http://127.0.0.1:8080 with demo data on the first run. Ctrl-C stops both; data stays in ./data.
set -euo pipefail
cd "$(dirname "$0")/../.."

TANSU="${TANSU_BIN:-$HOME/.cache/kafka-shop/tools/bin/tansu}"
BROKER_PORT="${BROKER_PORT:-9092}"
export HTTP_ADDR="${HTTP_ADDR:-127.0.0.1:8080}"
export STATIC_DIR="${STATIC_DIR:-frontend/dist}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-dev-admin-token}"
export DEMO_PRODUCTS="${DEMO_PRODUCTS:-5000}"
broker_pid=""

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_broker() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    echo "stopping the local broker"
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
}
trap stop_broker EXIT

if [ "${BROKER:-}" = memory ]; then
  export KAFKA_BROKERS=memory
  echo "BROKER=memory: an in-process mock Kafka cluster. EVERYTHING IS LOST when the shop stops."
elif [ -z "${KAFKA_BROKERS:-}" ]; then
  if port_open "$BROKER_PORT"; then
    echo "port $BROKER_PORT is already in use: stop what runs there, or set BROKER_PORT or KAFKA_BROKERS" >&2
    exit 1
  fi
  mkdir -p data/kafka
  # Its own session, so the terminal's Ctrl-C reaches only the shop, which then stops cleanly
  # before the broker is stopped here.
  (cd data/kafka && exec setsid "$TANSU" broker --cluster-id shop \
      --listener-url "tcp://127.0.0.1:$BROKER_PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$BROKER_PORT" \
      --storage-engine sqlite://tansu.db >>../broker.log 2>&1) &
  broker_pid=$!
  for _ in $(seq 1 100); do port_open "$BROKER_PORT" && break; sleep 0.1; done
  port_open "$BROKER_PORT" || { echo "the local broker did not start; see data/broker.log" >&2; exit 1; }
  export KAFKA_BROKERS="127.0.0.1:$BROKER_PORT"
  echo "local broker on $KAFKA_BROKERS, data in data/kafka (log: data/broker.log)"
else
  echo "using the Kafka cluster at $KAFKA_BROKERS"
fi

echo "admin token: $ADMIN_TOKEN   (admin API: Authorization: Bearer \$ADMIN_TOKEN)"
# Ctrl-C goes to the shop alone; the broker is stopped only after the shop has finished
# shutting down (it flushes to the broker on its way out).
./target/release/shop serve &
shop_pid=$!
trap 'kill -INT "$shop_pid" 2>/dev/null || true' INT TERM
status=0
while kill -0 "$shop_pid" 2>/dev/null; do
  wait "$shop_pid" || status=$?
done
exit "$status"
