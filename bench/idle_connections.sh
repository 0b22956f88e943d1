#!/usr/bin/env bash
# Issue 9 item 6: 400 idle connections against a server under `ulimit -n 256`, then a topic
# creation (needs new log files) and whether the server keeps serving.
# Usage: bench/idle_connections.sh SERVER_BINARY
BIN=$1; DIR=$(mktemp -d); PORT=$((20000 + RANDOM % 20000)); ADDR=127.0.0.1:$PORT
CLI=${RILL_CLI:-$(dirname "$0")/../target/debug/rill}
sh -c "ulimit -n 256 && exec \"\$0\" server --listeners PLAINTEXT://$ADDR --log-dirs $DIR" "$BIN" 2>"$DIR/server.log" & PID=$!
sleep 1
python3 - "$PORT" "$PID" "$CLI" "$ADDR" <<'PY'
import os, socket, subprocess, sys, time
port, pid, cli, addr = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(400)]
time.sleep(0.5)
fds = len(os.listdir(f"/proc/{pid}/fd"))
ok = subprocess.run([cli, "topics", "--bootstrap-server", addr, "--create", "--topic", "after-idle",
                     "--partitions", "20", "--replication-factor", "1"], capture_output=True, timeout=60)
print(f"server descriptors with 400 idle clients: {fds}; create 20 partitions meanwhile: "
      f"{'ok' if ok.returncode == 0 else 'FAILED ' + (ok.stderr.decode()[-200:]).strip()}")
PY
grep -m1 -i "too many open files" "$DIR/server.log" | tail -c 200
kill -9 $PID; wait $PID 2>/dev/null; rm -rf "$DIR"
