#!/usr/bin/env bash
# Runs the `kafka_request` fuzz target for a bounded time, as CI does: `bash fuzz/run-ci.sh [SECONDS]`.
# Installs cargo-fuzz when missing. Any allocation of 64 MiB or more fails the run (inputs are at
# most 64 KiB, so a request decoded within its bounds never needs that much), as does a panic.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-${RILL_FUZZ_SECONDS:-60}}"
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
# A stable toolchain accepts cargo-fuzz's nightly flags with RUSTC_BOOTSTRAP (see README.md).
RUSTC_BOOTSTRAP=1 cargo fuzz build kafka_request
mkdir -p corpus/kafka_request artifacts/kafka_request
log=$(mktemp)
set +e
./target/x86_64-unknown-linux-gnu/release/kafka_request corpus/kafka_request \
  -max_total_time="$seconds" -malloc_limit_mb=64 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix=artifacts/kafka_request/ -print_final_stats=1 >"$log" 2>&1
code=$?
set -e
grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
if [ "$code" -ne 0 ]; then
  tail -40 "$log" >&2
  echo "kafka_request: the fuzzer failed (exit $code); the input is in fuzz/artifacts/kafka_request/" >&2
  exit 1
fi
