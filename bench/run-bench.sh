#!/usr/bin/env bash
# The benchmark of issue 4: builds the release `rill`, starts one `rill server` (default, durable
# flush policy) on a free 127.0.0.1 port with a temporary data directory, runs bench/matrix.py
# against it (rill perf, confluent-kafka, and confluent-kafka against librdkafka's mock broker)
# and prints one table. The server is killed and the data removed on exit.
#
#   bash bench/run-bench.sh [--quick] [--head | --bin PATH] [--dir PARENT] [matrix.py options: --secs S --runs N --e2e-secs S]
#
# --quick: smoke run (1 s cells, 1 run, 2 s e2e; about a minute and a half).
# --head: benchmark the committed HEAD, built in a clean git worktree (/tmp/rill-bench-wt, target
#   dir /tmp/rill-bench-target, seeded from target/release), not the shared working tree with
#   others' uncommitted edits.
# --bin PATH: benchmark a prebuilt release binary (e.g. a copy of the build before a change), no build.
# --dir PARENT: where the server's data directory goes (default: $TMPDIR or /tmp). Use a real
#   disk, not a tmpfs: fsync cost is part of what is measured.
# Default run: about 6-8 minutes on 2 cores. The confluent-kafka venv comes from tests/clients/run.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
PARENT="${TMPDIR:-/tmp}"
MATRIX_ARGS=()
HEAD_ONLY=0
PREBUILT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) PARENT="$2"; shift 2 ;;
        --head) HEAD_ONLY=1; shift ;;
        --bin) PREBUILT="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) MATRIX_ARGS+=("$1"); shift ;;
    esac
done

if [[ ! -x "$PYTHON" ]] || ! "$PYTHON" -c 'import confluent_kafka' 2>/dev/null; then
    echo "no confluent-kafka at $PYTHON: run 'bash tests/clients/run.sh' once (it creates .venv)" >&2
    exit 1
fi

if [[ -n "$PREBUILT" ]]; then
    RILL="$(cd "$(dirname "$PREBUILT")" && pwd)/$(basename "$PREBUILT")"
    SRC_STATE="prebuilt $RILL"
elif [[ "$HEAD_ONLY" == 1 ]]; then
    SRC=/tmp/rill-bench-wt
    TARGET=/tmp/rill-bench-target
    REV="$(cd "$REPO" && git rev-parse HEAD)"
    echo "== building release rill at HEAD $REV in $SRC (under /tmp/rill-cargo.lock)" >&2
    (
        cd "$REPO"
        flock /tmp/rill-git.lock git worktree prune
        if [[ -d "$SRC" ]]; then
            git -C "$SRC" checkout -q --detach "$REV"
        else
            flock /tmp/rill-git.lock git worktree add -q --detach "$SRC" "$REV"
        fi
        if [[ ! -d "$TARGET/release" && -d "$REPO/target/release" ]]; then
            # Seed with the shared build so only `rill` itself compiles.
            mkdir -p "$TARGET" && flock /tmp/rill-cargo.lock cp -a "$REPO/target/release" "$TARGET/"
        fi
        cd "$SRC" && CARGO_TARGET_DIR="$TARGET" flock /tmp/rill-cargo.lock cargo build --release --bin rill
    ) >&2
    RILL="$TARGET/release/rill"
    SRC_STATE="$(cd "$REPO" && git rev-parse --short HEAD) (clean worktree)"
else
    echo "== building release rill (under /tmp/rill-cargo.lock)" >&2
    (cd "$REPO" && flock /tmp/rill-cargo.lock cargo build --release --bin rill >&2)
    RILL="$REPO/target/release/rill"
    SRC_STATE="$(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes in the working tree')"
fi

DATA="$(mktemp -d "$PARENT/rill-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUST_LOG="${RUST_LOG:-warn}" NO_COLOR=1 "$RILL" server \
    --listeners "PLAINTEXT://127.0.0.1:$PORT" --log-dirs "$DATA/data" \
    </dev/null >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "rill server exited:" >&2; cat "$DATA/server.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

machine_notes() {
    echo "- $1: $(uptime | sed 's/.*load average/load average/'); busiest other processes:" \
        "$(ps -eo pcpu=,comm= --sort=-pcpu | grep -v -e ' rill$' -e ' python' | head -3 | awk '{printf "%s %s%%, ", $2, $1}')"
}

echo "# rill benchmark $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- command: bench/run-bench.sh ${MATRIX_ARGS[*]:-}"
echo "- rill $SRC_STATE; server pid $SERVER_PID on 127.0.0.1:$PORT, data in $DATA (flush policy: default, fsync every append)"
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2 " GiB RAM"}'), data disk $(df -h "$PARENT" | awk 'NR==2 {print $1}'); server, load generators and everything else share the cores"
machine_notes "before"
echo

"$PYTHON" "$REPO/bench/matrix.py" --bootstrap "127.0.0.1:$PORT" --rill-bin "$RILL" \
    --server-pid "$SERVER_PID" "${MATRIX_ARGS[@]}"

echo
machine_notes "after"
