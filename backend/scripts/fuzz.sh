#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target of fuzz/ for FUZZ_SECONDS each (default 60) and prints,
# per target, the seconds, inputs executed, corpus size and crashes, then a total line.
#
# cargo-fuzz needs nightly-only compiler flags. The workspace's stable toolchain gets them with
# RUSTC_BOOTSTRAP=1: the same compiler as every other build, and no nightly to install (a fresh
# machine has only stable). FUZZ_TOOLCHAIN=nightly uses an installed nightly instead.
# FUZZ_TARGETS="a b" runs only those targets.
#
# Each target keeps its corpus in fuzz/corpus/<target>/ (seed-* files are committed, what the
# fuzzer adds stays local and is minimised after each run); crashes go to fuzz/artifacts/, and
# once fixed, each goes to fuzz/regressions/<target>/, which `cargo test` replays.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/fuzz"

TOOLS="${TOOLS:-$HOME/.cache/kafka-shop/tools}"
CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^backend-fuzz$')}"

if ! "$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo ">>> Building cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS (once per machine, about 2 minutes)."
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"

toolchain="${FUZZ_TOOLCHAIN:-stable}"
cargo_cmd=(cargo "+$toolchain")
case "$toolchain" in nightly*) ;; *) export RUSTC_BOOTSTRAP=1 ;; esac

# No sanitizer: the code under test is safe Rust, where a bug is a panic (debug assertions on,
# so arithmetic overflow panics too); AddressSanitizer would only slow every execution.
build_flags=(--sanitizer none --debug-assertions)
echo ">>> Building the fuzz targets ($toolchain${RUSTC_BOOTSTRAP:+, RUSTC_BOOTSTRAP=1}; the first build takes about 20 minutes on 2 cores)."
"${cargo_cmd[@]}" fuzz build "${build_flags[@]}"

log_dir="$root/target/fuzz-logs"
mkdir -p "$log_dir" artifacts
total_runs=0 total_seconds=0 total_crashes=0 failed=()
printf '%-18s %8s %14s %8s %8s\n' target seconds executions corpus crashes
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(find "artifacts/$t" -type f | wc -l)
  started=$(date +%s)
  status=0
  "${cargo_cmd[@]}" fuzz run "${build_flags[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 >"$log_dir/$t.log" 2>&1 || status=$?
  # libFuzzer's own time ("Done N runs in S second(s)"), else the wall time (a crash, a build).
  seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log_dir/$t.log" | tail -1)
  seconds=${seconds:-$(( $(date +%s) - started ))}
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_dir/$t.log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log_dir/$t.log" | tail -1)
  runs=${runs:-0}
  crashes=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
  if [ "$status" != 0 ] && [ "$crashes" = 0 ]; then crashes=1; fi
  # Keep the local corpus small: only inputs that add coverage (libFuzzer's merge, like
  # `cargo fuzz cmin`, but the committed seed-* files stay as they are).
  if [ "$crashes" = 0 ]; then
    merged=$(mktemp -d)
    if "${cargo_cmd[@]}" fuzz run "${build_flags[@]}" "$t" "$merged" "corpus/$t" -- -merge=1 \
        -max_len=8192 >>"$log_dir/$t.log" 2>&1; then
      find "corpus/$t" -type f ! -name 'seed-*' -delete
      find "$merged" -type f -exec mv -t "corpus/$t" {} +
    fi
    rm -rf "$merged"
  fi
  corpus=$(find "corpus/$t" -type f | wc -l)
  printf '%-18s %8d %14d %8d %8d\n' "$t" "$seconds" "$runs" "$corpus" "$crashes"
  total_runs=$((total_runs + runs)); total_seconds=$((total_seconds + seconds))
  total_crashes=$((total_crashes + crashes))
  [ "$crashes" = 0 ] || failed+=("$t")
done
printf '%-18s %8d %14d %8s %8d\n' total "$total_seconds" "$total_runs" "" "$total_crashes"
echo "logs: $log_dir/<target>.log"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/; replay one with" \
    "\`cargo fuzz run --sanitizer none <target> <file>\`, then add it to fuzz/regressions/<target>/)" >&2
  exit 1
fi
