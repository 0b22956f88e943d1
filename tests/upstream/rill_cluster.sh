# Sourced by the upstream-suite scripts: starts Rill for a client's own tests and stops it.
#
#   start_rill DATA_DIR [key=value ...]   RILL_NODES=1 (default): one `rill server`;
#                                         RILL_NODES=N (2..9): `rill dev-cluster --nodes N`, a
#                                         quorum of N combined nodes, with
#                                         default.replication.factor=N unless a setting names it
#   stop_rill                             stops it cleanly (SIGTERM), waits for it to exit
#
# Sets RILL_BOOTSTRAP (every node's host:port, comma-separated) and RILL_FIRST (node 1's). The
# settings are Kafka's names (`--override`). Returns once a topic with a replica on every node
# can be created (every node registered and unfenced) and is deleted again, so a suite's first
# test does not race the cluster's start.
# Needs: RILL_BIN (the rill binary), python3.

# The first of `count` consecutive free ports on 127.0.0.1 from a random start, below Linux's
# ephemeral range (32768 up), which the clients' own connections take their ports from.
rill_free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 32768 - count)
    sockets = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            sockets.append(s)
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(base)
    break
else:
    sys.exit("no free ports")
PY
}

start_rill() {
    local data=$1
    shift
    local nodes=${RILL_NODES:-1}
    local overrides=()
    local setting
    for setting in "$@"; do overrides+=(--override "$setting"); done
    local base
    # One block: the Kafka listeners, then the controller listeners.
    base=$(rill_free_ports "$((2 * nodes))")
    RILL_FIRST="127.0.0.1:$base"
    RILL_BOOTSTRAP=$(seq -s, -f "127.0.0.1:%g" "$base" "$((base + nodes - 1))")
    if [ "$nodes" = 1 ]; then
        "$RILL_BIN" server --listeners "PLAINTEXT://$RILL_FIRST" --log-dirs "$data" \
            "${overrides[@]}" >"$data.log" 2>&1 &
    else
        case " $* " in
            *" default.replication.factor="*) ;;
            *) overrides+=(--override "default.replication.factor=$nodes") ;;
        esac
        "$RILL_BIN" dev-cluster --nodes "$nodes" --dir "$data" --base-port "$base" \
            --controller-base-port "$((base + nodes))" "${overrides[@]}" \
            >"$data.log" 2>&1 &
    fi
    RILL_PID=$!
    local ready=rill-upstream-ready-$RANDOM
    for _ in $(seq 300); do
        if ! kill -0 "$RILL_PID" 2>/dev/null; then
            echo "rill stopped while starting:" >&2
            tail -30 "$data.log" >&2
            return 1
        fi
        if "$RILL_BIN" topics --bootstrap-server "$RILL_BOOTSTRAP" --create --topic "$ready" \
            --partitions 1 --replication-factor "$nodes" >/dev/null 2>&1; then
            "$RILL_BIN" topics --bootstrap-server "$RILL_BOOTSTRAP" --delete --topic "$ready" \
                >/dev/null || true
            echo "rill: $nodes node(s) at $RILL_BOOTSTRAP (log: $data.log)"
            return 0
        fi
        sleep 0.2
    done
    echo "rill did not become ready in 60 s:" >&2
    tail -30 "$data.log" >&2
    return 1
}

stop_rill() {
    if [ -n "${RILL_PID:-}" ]; then
        kill "$RILL_PID" 2>/dev/null || true
        wait "$RILL_PID" 2>/dev/null || true
        RILL_PID=
    fi
}
