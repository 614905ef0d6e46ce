#!/usr/bin/env bash
# Measures `make dev`'s save-to-reload (BENCHMARKS.md, section i) against a running `make dev`
# (DEV_PORT, default 8081): edits a string, saves, polls until the change is served, restores the
# file and waits for that reload too. RUNS times each:
#
# - handler: the "no such endpoint" message in backend/src/server/route.rs, until the rebuilt,
#   restarted backend answers GET /api/nowhere-x with it through trunk's proxy;
# - component: the not-found page's heading in frontend/src/pages/not_found.rs, until trunk
#   serves a .wasm that holds it (the browser reload trunk then triggers adds a page load).
#
# Prints one line per save; `make dev`'s own log says how the handler's time splits into the
# build and the restart.
set -euo pipefail
cd "$(dirname "$0")/../.."
port="${DEV_PORT:-8081}" runs="${RUNS:-2}"
base="http://127.0.0.1:$port"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

wait_for() { # wait_for DESCRIPTION COMMAND...: polls every 50 ms, for at most 120 s
  local what="$1"; shift
  for _ in $(seq 1 2400); do "$@" && return 0; sleep 0.05; done
  echo "timed out waiting for $what" >&2; return 1
}
# Whole bodies first: with pipefail, `curl | grep -q` fails when grep stops reading early.
handler_says() { local body; body=$(curl -s "$base/api/nowhere-x") && [[ "$body" == *"$1"* ]]; }
wasm_has() {
  local wasm
  wasm=$(curl -s "$base/" | grep -o '[^"/]*_bg\.wasm' | head -1) || return 1
  [ -n "$wasm" ] && curl -s -o "$backup/app.wasm" "$base/$wasm" && grep -aq "$1" "$backup/app.wasm"
}

edit() { # edit FILE FROM TO: one literal replacement, file saved in place
  python3 - "$1" "$2" "$3" <<'PY'
import sys
p, a, b = sys.argv[1:]
s = open(p).read()
assert a in s, f"{a!r} not in {p}"
open(p, "w").write(s.replace(a, b, 1))
PY
}

measure() { # measure NAME FILE FROM TO CHECK
  local name="$1" file="$2" from="$3" to="$4" check="$5" t
  wait_for "the dev server" $check "$from"
  for run in $(seq 1 "$runs"); do
    t=$(now); edit "$file" "$from" "$to"
    wait_for "$name reload" $check "$to"
    echo "$name run $run: $(elapsed "$t") s"
    t=$(now); edit "$file" "$to" "$from"
    wait_for "$name restore" $check "$from"
    echo "$name run $run (restore): $(elapsed "$t") s"
  done
}

files=(backend/src/server/route.rs frontend/src/pages/not_found.rs)
backup="$(mktemp -d)"
cp "${files[@]}" "$backup/"
trap 'for f in "${files[@]}"; do cp "$backup/$(basename "$f")" "$f"; done; rm -rf "$backup"' EXIT
measure handler backend/src/server/route.rs "no such endpoint" "no endpoint at" handler_says
measure component frontend/src/pages/not_found.rs "Page not found" "Page missing" wasm_has
