#!/usr/bin/env bash
# Runs the CI fuzz targets, each for a bounded time, as CI does: `bash fuzz/run-ci.sh [SECONDS]`.
# `kafka_request` runs SECONDS (default 60, or RILL_FUZZ_SECONDS); `sasl` runs a third of that
# (at least 10 s). Installs cargo-fuzz when missing. Any allocation of 64 MiB or more fails a run
# (inputs are at most 64 KiB, so anything decoded within its bounds never needs that much), as
# does a panic. Prints each target's executions, and their sum.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-${RILL_FUZZ_SECONDS:-60}}"
sasl_seconds=$(( seconds / 3 > 10 ? seconds / 3 : 10 ))
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
# A stable toolchain accepts cargo-fuzz's nightly flags with RUSTC_BOOTSTRAP (see README.md).
RUSTC_BOOTSTRAP=1 cargo fuzz build kafka_request
RUSTC_BOOTSTRAP=1 cargo fuzz build sasl
total=0
run() {
  local target=$1 secs=$2 max_len=$3
  mkdir -p "corpus/$target" "artifacts/$target"
  local log
  log=$(mktemp)
  set +e
  "./target/x86_64-unknown-linux-gnu/release/$target" "corpus/$target" \
    -max_total_time="$secs" -malloc_limit_mb=64 -rss_limit_mb=2048 -max_len="$max_len" \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1
  local code=$?
  set -e
  echo "$target ($secs s):"
  grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  local runs
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  total=$(( total + ${runs:-0} ))
  if [ "$code" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "$target: the fuzzer failed (exit $code); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
}
run kafka_request "$seconds" 65536
run sasl "$sasl_seconds" 4096
echo "fuzz executions in all: $total"
