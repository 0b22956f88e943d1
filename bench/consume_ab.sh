#!/usr/bin/env bash
# Consume throughput of several `rill` builds, alternated: for each run and each binary, a fresh
# `rill server`, `rill perf produce` of N records of each size, then `rill perf consume` of
# them (the warm log, one partition), printing the consume rate. Used to check that a change
# to the Fetch path did not slow the common case.
#
#   bash bench/consume_ab.sh BIN_A BIN_B [--runs 3] [--records 1000000] [--sizes "100 1024"]
set -euo pipefail
BINS=()
RUNS=3
RECORDS=1000000
SIZES="100 1024"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --records) RECORDS="$2"; shift 2 ;;
        --sizes) SIZES="$2"; shift 2 ;;
        *) BINS+=("$1"); shift ;;
    esac
done
echo "| size | binary | run | consume records/s | MB/s |"
echo "|---|---|---|---|---|"
for run in $(seq "$RUNS"); do
    for size in $SIZES; do
        for bin in "${BINS[@]}"; do
            data="$(mktemp -d /tmp/rill-consume-ab.XXXXXX)"
            port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
            RUST_LOG=warn "$bin" server --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$data/d" \
                </dev/null >"$data/server.log" 2>&1 &
            pid=$!
            for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
            "$bin" perf produce --bootstrap-server "127.0.0.1:$port" --topic t --num-records "$RECORDS" \
                --record-size "$size" --throughput -1 --producer-property acks=1 >/dev/null
            out="$("$bin" perf consume --bootstrap-server "127.0.0.1:$port" --topic t --messages "$RECORDS" 2>&1 | tail -3)"
            kill "$pid"; wait "$pid" 2>/dev/null || true
            rm -rf "$data"
            rate="$(echo "$out" | sed -n 's/.*: \([0-9.]*\) records\/sec, \([0-9.]*\) MB\/sec.*/\1 | \2/p')"
            echo "| $size | $bin | $run | ${rate:-$out} |"
        done
    done
done
