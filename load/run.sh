#!/usr/bin/env bash
# `make load`: the shop under load, measured with Locust; results in target/load/.
#
# SCENARIO=shop (default): a fresh local broker (tansu, temp data dir, free port) and one release
#   `shop` with LOAD_PRODUCTS demo products (5000), then Locust headless with LOAD_USERS users
#   (50) spawned at LOAD_SPAWN_RATE per second (10) for LOAD_SECONDS (60): shopper journeys and
#   one operator (load/locustfile.py). LOAD_HOST=http://host:port aims at a running shop instead
#   (its admin token in ADMIN_TOKEN); nothing is started then.
# SCENARIO=flash-sale: one broker, TWO replicas on it, one product with exactly FLASH_UNITS (50)
#   units; FLASH_SHOPPERS (500) shoppers split across the replicas race once each
#   (load/flash_sale.py); then `shop-audit` checks the sale from Kafka and both replicas and
#   decides the exit status.
#
# Written to target/load/ (LOAD_OUT): SCENARIO_stats.csv, _failures.csv, _exceptions.csv,
# _stats_history.csv, SCENARIO.json (Locust's final stats), SCENARIO.html (Locust's report),
# SCENARIO_outcomes.json (business outcomes), the flash sale's answers and audit, and the
# processes' logs in SCENARIO-logs/. Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIO="${SCENARIO:-shop}"
LOCUST="${LOCUST:-$HOME/.cache/kafka-shop/tools/locust-venv/bin/locust}"
TANSU="${TANSU_BIN:-$HOME/.cache/kafka-shop/tools/bin/tansu}"
SHOP="${SHOP_BIN:-$PWD/target/release/shop}"
AUDIT="${AUDIT_BIN:-$PWD/target/release/shop-audit}"
export LOAD_OUT="${LOAD_OUT:-$PWD/target/load}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-dev-admin-token}"
export SCENARIO

LOAD_USERS="${LOAD_USERS:-50}"
LOAD_SECONDS="${LOAD_SECONDS:-60}"
LOAD_SPAWN_RATE="${LOAD_SPAWN_RATE:-10}"
LOAD_PRODUCTS="${LOAD_PRODUCTS:-5000}"
export FLASH_SHOPPERS="${FLASH_SHOPPERS:-500}"
FLASH_UNITS="${FLASH_UNITS:-50}"
export FLASH_PRODUCT="${FLASH_PRODUCT:-900001}"
FLASH_SPAWN_RATE="${FLASH_SPAWN_RATE:-100}"
# A bound on the whole race; it normally ends as soon as every shopper has an answer.
FLASH_SECONDS="${FLASH_SECONDS:-300}"

case "$SCENARIO" in
  shop | flash-sale) ;;
  *) echo "unknown SCENARIO=$SCENARIO (shop or flash-sale)" >&2; exit 2 ;;
esac
[ -x "$LOCUST" ] || { echo "Locust is not installed at $LOCUST: use make load" >&2; exit 1; }

logs="$LOAD_OUT/$SCENARIO-logs"
mkdir -p "$LOAD_OUT"
rm -rf "$logs" "$LOAD_OUT/$SCENARIO"_* "$LOAD_OUT/$SCENARIO".json "$LOAD_OUT/$SCENARIO".html
mkdir -p "$logs"
work=""
broker_pid=""
shop_pids=()

stop_all() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  # Shops first (they flush to the broker on their way out), then the broker.
  for pid in "${shop_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${shop_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ -n "$broker_pid" ]; then
    kill -TERM "$broker_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$broker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$broker_pid" 2>/dev/null
    wait "$broker_pid" 2>/dev/null
  fi
  [ -n "$work" ] && rm -rf "$work"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_broker() {
  work="$(mktemp -d -t shop-load.XXXXXX)"
  broker_port="$(free_port)"
  # Its own session: Ctrl-C reaches Locust and this script, which stop the shops before it.
  TANSU_BIN="$TANSU" setsid bash backend/scripts/broker.sh "$work/kafka" "$broker_port" "$broker_port" shop-load \
    >"$logs/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 100); do port_open "$broker_port" && break; sleep 0.1; done
  port_open "$broker_port" || { echo "the broker did not start; see $logs/broker.log" >&2; exit 1; }
  export KAFKA_BROKERS="127.0.0.1:$broker_port"
  echo "load: broker (tansu) on $KAFKA_BROKERS, data in $work/kafka"
}

# start_shop NAME [VAR=value ...]: a release shop on a free port; sets $shop_url.
start_shop() {
  local name=$1 port
  shift
  port="$(free_port)"
  # Its own session too: Ctrl-C stops Locust (which prints its tables) while the shop still
  # answers; the shop is stopped afterwards, before the broker. Every Locust user comes from
  # this machine's address: no limit on new carts per address.
  setsid env HTTP_ADDR="127.0.0.1:$port" ADMIN_TOKEN="$ADMIN_TOKEN" STATIC_DIR="$PWD/frontend/dist" \
    CART_CREATE_PER_MINUTE=0 RUST_LOG="${RUST_LOG:-warn}" "$@" "$SHOP" serve >"$logs/$name.out" 2>"$logs/$name.log" &
  local pid=$!
  shop_pids+=("$pid")
  shop_url="http://127.0.0.1:$port"
  for _ in $(seq 1 1200); do
    curl -sf -o /dev/null "$shop_url/readyz" && break
    kill -0 "$pid" 2>/dev/null || { echo "$name exited; its log:" >&2; tail -20 "$logs/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf -o /dev/null "$shop_url/readyz" || { echo "$name not ready after 120 s; see $logs/$name.log" >&2; exit 1; }
  echo "load: $name ready on $shop_url (log: $logs/$name.log)"
}

# admin METHOD PATH KEY JSON
admin() {
  curl -sf -X "$1" "$shop_url$2" -H "Authorization: Bearer $ADMIN_TOKEN" -H "Idempotency-Key: $3" \
    -H 'Content-Type: application/json' -H 'Accept: application/json' -d "$4" -o /dev/null
}

available() {
  curl -sf "$1/api/products/$FLASH_PRODUCT" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("availability", {}).get("available", "0"))' 2>/dev/null ||
    echo none
}

locust_run() {
  local status=0
  "$LOCUST" --headless --only-summary --stop-timeout 10 \
    --csv "$LOAD_OUT/$SCENARIO" --json-file "$LOAD_OUT/$SCENARIO" --html "$LOAD_OUT/$SCENARIO.html" \
    "$@" || status=$?
  echo "load: Locust's files: $LOAD_OUT/${SCENARIO}_stats.csv, ${SCENARIO}_failures.csv, $SCENARIO.json, $SCENARIO.html"
  return "$status"
}

shop_scenario() {
  local host
  if [ -n "${LOAD_HOST:-}" ]; then
    host="$LOAD_HOST"
    echo "load: aiming at the running shop $host"
  else
    start_broker
    start_shop shop DEMO_PRODUCTS="$LOAD_PRODUCTS"
    host="$shop_url"
  fi
  echo "load: $LOAD_USERS users (spawn rate $LOAD_SPAWN_RATE/s) for $LOAD_SECONDS s on $(nproc) cores"
  locust_run -f load/locustfile.py --host "$host" -u "$LOAD_USERS" -r "$LOAD_SPAWN_RATE" -t "${LOAD_SECONDS}s"
}

flash_sale_scenario() {
  if [ -n "${LOAD_HOST:-}" ]; then
    echo "the flash sale starts its own broker and two replicas: unset LOAD_HOST" >&2
    exit 2
  fi
  start_broker
  start_shop replica-1
  local r1="$shop_url"
  start_shop replica-2
  local r2="$shop_url"
  shop_url="$r1"
  admin PUT "/api/admin/products/$FLASH_PRODUCT" "flash-product-$FLASH_PRODUCT" \
    '{"title": "Flash sale lantern", "description": "Few units, many shoppers.", "category": "Home & Garden", "price": {"minor": 1999, "currency": "EUR"}}'
  admin POST /api/admin/stock "flash-stock-$FLASH_PRODUCT" "{\"productId\": \"$FLASH_PRODUCT\", \"quantity\": $FLASH_UNITS}"
  for r in "$r1" "$r2"; do
    for _ in $(seq 1 300); do [ "$(available "$r")" = "$FLASH_UNITS" ] && break; sleep 0.1; done
    [ "$(available "$r")" = "$FLASH_UNITS" ] || { echo "$r does not show $FLASH_UNITS units of $FLASH_PRODUCT" >&2; exit 1; }
  done
  echo "load: product $FLASH_PRODUCT has $FLASH_UNITS units on both replicas; $FLASH_SHOPPERS shoppers race (spawn rate $FLASH_SPAWN_RATE/s, $(nproc) cores)"
  local locust_status=0
  FLASH_HOSTS="$r1,$r2" locust_run -f load/flash_sale.py --host "$r1" -u "$FLASH_SHOPPERS" -r "$FLASH_SPAWN_RATE" \
    -t "${FLASH_SECONDS}s" FlashShopper || locust_status=$?
  local answers="$LOAD_OUT/flash-sale_answers.json" answered accepted
  read -r answered accepted < <(python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))["summary"]; print(s["answered"], s["accepted"])' "$answers")
  echo
  echo "load: auditing the sale from Kafka ($KAFKA_BROKERS) and both replicas"
  "$AUDIT" --kafka-brokers "$KAFKA_BROKERS" --replica "$r1" --replica "$r2" --product "$FLASH_PRODUCT" \
    --units "$FLASH_UNITS" --shoppers "$FLASH_SHOPPERS" --answered "$answered" --accepted-answers "$accepted" \
    --json "$LOAD_OUT/flash-sale_audit.json"
  echo "load: audit written to $LOAD_OUT/flash-sale_audit.json"
  if [ "$locust_status" != 0 ]; then
    echo "load: note: Locust counted failed requests (exit $locust_status); see the failures table above"
  fi
}

if [ "$SCENARIO" = flash-sale ]; then flash_sale_scenario; else shop_scenario; fi
