#!/usr/bin/env bash
# librdkafka's own consumer-group tests against a running `rill server`: not part of CI. The
# librdkafka sources with its tests/ come from the npm package node-rdkafka (deps/librdkafka;
# node-rdkafka 3.6.1 bundles librdkafka 2.12.0). Builds the library and its test-runner (about
# 3 minutes on 2 cores; needs cc, c++, make and zlib), then runs TESTS against a fresh server.
# Usage:
#   RILL_BIN=target/release/rill bash tests/upstream/librdkafka_groups.sh ["0113 0045 ..."]
#
# The broker keeps Kafka's group.initial.rebalance.delay.ms (3000): 0113's l_unsubscribe expects
# two members that subscribe together to land in one generation (with 0 it fails: the first
# member's group forms alone). group.min.session.timeout.ms=1000 admits the tests' short sessions.
# Several group tests (0116, parts of 0113) use librdkafka's built-in mock cluster instead of
# the broker; the runner's output names which.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rill_bin=${RILL_BIN:-$repo/target/debug/rill}
tests=${1:-0113 0045 0018 0019 0030 0056 0106 0118 0132 0153}
node_rdkafka=${NODE_RDKAFKA_VERSION:-3.6.1}
work=$(mktemp -d)
trap 'kill "${rill_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "node-rdkafka@$node_rdkafka" >/dev/null && tar xzf "node-rdkafka-$node_rdkafka.tgz")
src="$work/package/deps/librdkafka"
(cd "$src" && ./configure --disable-ssl --disable-gssapi --disable-curl --disable-zstd --disable-lz4-ext >/dev/null \
  && make -j2 libs >/dev/null 2>&1 && make -C tests -j2 build >/dev/null 2>&1)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$rill_bin" server --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$work/data" \
  --override group.min.session.timeout.ms=1000 \
  2>"$work/rill.stderr" &
rill_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

cd "$src/tests"
echo "bootstrap.servers=127.0.0.1:$port" > test.conf
LD_LIBRARY_PATH=../src:../src-cpp TEST_KAFKA_VERSION=3.9.0 TESTS="$tests" ./test-runner
