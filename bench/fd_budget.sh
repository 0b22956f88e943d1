#!/usr/bin/env bash
# Issue 9: descriptors per partition and the partition count at which a broker under a given
# descriptor limit fails, then whether it starts again on the same data.
# Usage: bench/fd_budget.sh SERVER_BINARY [NOFILE=256] [PARTITIONS_PER_TOPIC=50] [TOPICS=40]
set -u
BIN=$1; NOFILE=${2:-256}; PER=${3:-50}; TOPICS=${4:-40}
CLI=${RILL_CLI:-$(dirname "$0")/../target/debug/rill}
DIR=$(mktemp -d); PORT=$((20000 + RANDOM % 20000)); ADDR=127.0.0.1:$PORT
start() {
  sh -c "ulimit -n $NOFILE && exec \"\$0\" server --listeners PLAINTEXT://$ADDR --log-dirs $DIR" "$BIN" 2>>"$DIR/server.log" & PID=$!
  T0=$(date +%s.%N)
  for _ in $(seq 1 300); do  # up to 30 s for recovery
    kill -0 $PID 2>/dev/null || break
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.1
  done
  echo "start-up took $(echo "$(date +%s.%N) - $T0" | bc) s"
}
start
fds0=$(ls /proc/$PID/fd | wc -l)
created=0
for t in $(seq 1 "$TOPICS"); do
  if ! "$CLI" topics --bootstrap-server "$ADDR" --create --topic "t$t" --partitions "$PER" --replication-factor 1 >/dev/null 2>&1; then
    echo "create of topic t$t failed after $created partitions"; break
  fi
  created=$((created + PER))
done
if kill -0 $PID 2>/dev/null; then fds=$(ls /proc/$PID/fd | wc -l); else fds=dead; fi
echo "partitions created: $created, descriptors open: $fds (at start: $fds0)"
kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
start
if kill -0 $PID 2>/dev/null && "$CLI" topics --bootstrap-server "$ADDR" --list >/dev/null 2>&1; then
  echo "restart: serving, descriptors open: $(ls /proc/$PID/fd | wc -l)"
else
  echo "restart: FAILED: $(grep -i -m1 'cannot\|error' "$DIR/server.log" | tail -c 300)"
fi
kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"
