#!/usr/bin/env bash
# Runs every fuzz target, each for a bounded time, as CI does: `bash fuzz/run-ci.sh [SECONDS]`.
# `--build-only` builds the targets and stops; `--no-build` runs what an earlier build made
# (tests/run-all.sh builds them in the background while other tests run).
# `kafka_request` runs SECONDS (default 60, or RILL_FUZZ_SECONDS); `sasl` and `record_batch` a
# third of that, the others (`config`, `log_open`, `raft_load`, `metadata_entry`,
# `txn_formats`) a sixth (each at least 10 s). The nightly run is the same with a larger budget:
# `bash fuzz/run-ci.sh 3600` (an hour for kafka_request, 20 min or 10 min for the others).
# Installs cargo-fuzz when missing. Any allocation of 64 MiB or more fails a run (inputs are at
# most 64 KiB, so anything decoded within its bounds never needs that much), as does a panic.
# Each target starts from the checked-in seeds (`seeds/<target>/`) plus what earlier runs found
# here (`corpus/<target>/`, not committed). Prints each target's executions, and their sum.
# A fuzzer uses one core: `kafka_request` runs beside the queue of all the others, so the run
# takes the longer of the two (SECONDS x 1.5 with the shares above) on two cores.
set -euo pipefail
cd "$(dirname "$0")"
build=1
run=1
case "${1:-}" in
  --build-only) run=0; shift ;;
  --no-build) build=0; shift ;;
esac
seconds="${1:-${RILL_FUZZ_SECONDS:-60}}"
share() { local s=$(( seconds / $1 )); echo $(( s > 10 ? s : 10 )); }
if [ "$build" = 1 ]; then
  command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
  # A stable toolchain accepts cargo-fuzz's nightly flags with RUSTC_BOOTSTRAP (see README.md).
  # One build of the library, every target linked against it.
  RUSTC_BOOTSTRAP=1 cargo fuzz build
fi
[ "$run" = 1 ] || exit 0
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# Every target once: name, seconds, largest input. The first runs beside a queue of the rest.
targets=(
  "kafka_request $seconds 65536"
  "sasl $(share 3) 4096"
  "record_batch $(share 3) 65536"
  "config $(share 6) 4096"
  "log_open $(share 6) 16384"
  "raft_load $(share 6) 16384"
  "metadata_entry $(share 6) 16384"
  "txn_formats $(share 6) 4096"
)
# Runs one target; its libFuzzer output goes to $logs/<target>.log. Fails when the fuzzer did.
run() {
  local target=$1 secs=$2 max_len=$3
  mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
  "./target/x86_64-unknown-linux-gnu/release/$target" "corpus/$target" "seeds/$target" \
    -max_total_time="$secs" -malloc_limit_mb=64 -rss_limit_mb=2048 -max_len="$max_len" \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$logs/$target.log" 2>&1
}
# shellcheck disable=SC2086 # each entry splits into run's three arguments
run ${targets[0]} &
first=$!
(
  set -e
  for entry in "${targets[@]:1}"; do run $entry; done
) &
the_others=$!
failed=0
wait "$first" || failed=1
wait "$the_others" || failed=1
total=0
for entry in "${targets[@]}"; do
  read -r target secs _ <<<"$entry"
  log="$logs/$target.log"
  [ -f "$log" ] || continue  # not started: a target before it in its queue failed
  echo "$target ($secs s):"
  grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  total=$(( total + ${runs:-0} ))
  # A run that ended without libFuzzer's "Done" line is the one that failed.
  if ! grep -q '^Done ' "$log"; then
    tail -40 "$log" >&2
    echo "$target: the fuzzer failed; the input is in fuzz/artifacts/$target/" >&2
  fi
done
echo "fuzz executions in all: $total"
[ "$failed" -eq 0 ] || exit 1
