#!/usr/bin/env bash
# Produce and consume throughput of several `rill` builds, alternated: for each run, each case and
# each binary, a fresh `rill server`, `rill perf produce` of N records, then `rill perf consume` of
# them (the warm log, one partition). Prints one row per (case, binary, run) and, at the end, the
# median of each column per (case, binary). Used to check that a change on the actor/host path
# (every produce and fetch goes through it) did not slow the common case; alternating the
# binaries spreads the machine's noise over both.
#
#   bash bench/perf_ab.sh BIN_A BIN_B [--runs 3] [--records 1000000] [--cases "100:1 1024:1 1024:all"]
#
# A case is RECORD_SIZE:ACKS.
set -euo pipefail
BINS=()
RUNS=3
RECORDS=1000000
CASES="100:1 1024:1 1024:all"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --records) RECORDS="$2"; shift 2 ;;
        --cases) CASES="$2"; shift 2 ;;
        *) BINS+=("$1"); shift ;;
    esac
done
rows="$(mktemp /tmp/rill-perf-ab.XXXXXX)"
echo "| case | binary | run | produce records/s | produce p99 ms | consume records/s |"
echo "|---|---|---|---|---|---|"
for run in $(seq "$RUNS"); do
    for case in $CASES; do
        size="${case%%:*}"; acks="${case##*:}"
        for bin in "${BINS[@]}"; do
            data="$(mktemp -d /tmp/rill-perf-ab.XXXXXX)"
            port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
            RUST_LOG=warn "$bin" server --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$data/d" \
                </dev/null >"$data/server.log" 2>&1 &
            pid=$!
            for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
            produced="$("$bin" perf produce --bootstrap-server "127.0.0.1:$port" --topic t --num-records "$RECORDS" \
                --record-size "$size" --throughput -1 --producer-property "acks=$acks" 2>&1 | tail -1)"
            consumed="$("$bin" perf consume --bootstrap-server "127.0.0.1:$port" --topic t --messages "$RECORDS" 2>&1 | tail -1)"
            kill "$pid"; wait "$pid" 2>/dev/null || true
            rm -rf "$data"
            p_rate="$(echo "$produced" | sed -n 's/.* sent, \([0-9.]*\) records\/sec.*/\1/p')"
            p_p99="$(echo "$produced" | sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p')"
            c_rate="$(echo "$consumed" | sed -n 's/.*: \([0-9.]*\) records\/sec.*/\1/p')"
            echo "| $case | $bin | $run | ${p_rate:-?} | ${p_p99:-?} | ${c_rate:-?} |"
            echo "$case $bin ${p_rate:-0} ${p_p99:-0} ${c_rate:-0}" >>"$rows"
        done
    done
done
echo
echo "| case | binary | median produce records/s | median produce p99 ms | median consume records/s |"
echo "|---|---|---|---|---|"
python3 - "$rows" <<'PY'
import statistics, sys
groups = {}
for line in open(sys.argv[1]):
    case, binary, *values = line.split()
    groups.setdefault((case, binary), []).append([float(v) for v in values])
for (case, binary), runs in groups.items():
    medians = [statistics.median(column) for column in zip(*runs)]
    print(f"| {case} | {binary} | {medians[0]:.0f} | {medians[1]:.2f} | {medians[2]:.0f} |")
PY
rm -f "$rows"
