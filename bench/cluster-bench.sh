#!/usr/bin/env bash
# The cluster benchmark of issue 14: the release `rill` on this one machine, first as one node,
# then as three combined nodes (a controller quorum of three) on 127.0.0.1, each measured by
# bench/matrix.py for acks=all only: produce/consume throughput (100 B and 1 KiB, 1 and 6
# partitions) and end-to-end latency at 10k rec/s. On the cluster every topic has three replicas
# and min.insync.replicas=2, so an acks=all produce waits for two followers' fetches. Both
# tables are printed; the cluster's acks=all produce rate divided by the single node's (same
# run, same machine) is the figure issue 14 targets (>= 0.4: three brokers share the cores).
#
#   bash bench/cluster-bench.sh [--bin PATH] [--dir PARENT] [matrix.py options: --secs S --runs N --e2e-secs S --quick]
#
# --bin PATH: a prebuilt release binary (default: build target/release/rill).
# --dir PARENT: where the data directories go (default: $TMPDIR or /tmp); use a real disk.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
PARENT="${TMPDIR:-/tmp}"
MATRIX_ARGS=()
RILL=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) PARENT="$2"; shift 2 ;;
        --bin) RILL="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) MATRIX_ARGS+=("$1"); shift ;;
    esac
done
if [[ -z "$RILL" ]]; then
    echo "== building release rill (under /tmp/rill-cargo.lock)" >&2
    (cd "$REPO" && flock /tmp/rill-cargo.lock cargo build --release --bin rill >&2)
    RILL="$REPO/target/release/rill"
fi

DATA="$(mktemp -d "$PARENT/rill-cluster-bench.XXXXXX")"
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() { stop_all; rm -rf "$DATA"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on $1:" >&2; tail -20 "$DATA"/*.log >&2; exit 1
}

echo "# rill cluster benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- command: bench/cluster-bench.sh ${MATRIX_ARGS[*]:-}"
echo "- rill $(cd "$REPO" && git rev-parse --short HEAD) ($RILL); flush policy: default (fsync every append)"
echo "- machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2 " GiB RAM"}'); servers and load generators share the cores"
echo

echo "## one node, replication factor 1"
PORT="$(free_port)"
RUST_LOG=warn NO_COLOR=1 "$RILL" server --listeners "PLAINTEXT://127.0.0.1:$PORT" \
    --log-dirs "$DATA/single" </dev/null >"$DATA/single.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT"
"$PYTHON" "$REPO/bench/matrix.py" --bootstrap "127.0.0.1:$PORT" --rill-bin "$RILL" \
    --acks all "${MATRIX_ARGS[@]}"
stop_all

echo
echo "## three nodes, replication factor 3, min.insync.replicas=2"
KAFKA=("$(free_port)" "$(free_port)" "$(free_port)")
CONTROLLER=("$(free_port)" "$(free_port)" "$(free_port)")
VOTERS="1@127.0.0.1:${CONTROLLER[0]},2@127.0.0.1:${CONTROLLER[1]},3@127.0.0.1:${CONTROLLER[2]}"
for i in 0 1 2; do
    RUST_LOG=warn NO_COLOR=1 "$RILL" server --node-id "$((i + 1))" \
        --listeners "PLAINTEXT://127.0.0.1:${KAFKA[$i]},CONTROLLER://127.0.0.1:${CONTROLLER[$i]}" \
        --log-dirs "$DATA/node$((i + 1))" --override "controller.quorum.voters=$VOTERS" \
        </dev/null >"$DATA/node$((i + 1)).log" 2>&1 &
    PIDS+=($!)
done
for i in 0 1 2; do wait_port "${KAFKA[$i]}"; done
BOOTSTRAP="127.0.0.1:${KAFKA[0]},127.0.0.1:${KAFKA[1]},127.0.0.1:${KAFKA[2]}"
"$PYTHON" "$REPO/bench/matrix.py" --bootstrap "$BOOTSTRAP" --rill-bin "$RILL" \
    --acks all --replication-factor 3 --min-insync-replicas 2 "${MATRIX_ARGS[@]}"
