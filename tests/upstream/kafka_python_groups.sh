#!/usr/bin/env bash
# kafka-python's own consumer-group integration tests against a running `rill server`: not part
# of CI (they come from the kafka-python sdist on PyPI at run time). Usage:
#   RILL_BIN=target/debug/rill bash tests/upstream/kafka_python_groups.sh [extra pytest args]
#
# The sdist ships test/integration/ but not test/service.py (only needed to spawn a Kafka); a
# stand-in that supports an external broker (KAFKA_URI) is written here. The fixtures check that
# KAFKA_ROOT exists even when nothing is spawned, so it points at an empty directory. The broker
# gets group.min.session.timeout.ms=1000 because test_group asks for a 3000 ms session, which
# Kafka's default (6000) refuses, as Rill does. KAFKA_VERSION=4.0.0 is what the fixtures gate
# tests on (kafka-python 3.x talks to the broker by its ApiVersions either way).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rill_bin=${RILL_BIN:-$repo/target/debug/rill}
version=$(sed -n 's/^kafka-python==//p' "$repo/tests/clients/requirements.txt")
work=$(mktemp -d)
# Keeps the tests' exit status; waits for the server to exit so its data can be removed.
trap 'status=$?; if [ -n "${rill_pid:-}" ]; then kill "$rill_pid" || true; wait "$rill_pid" || true; fi; rm -rf "$work"; exit $status' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check pytest pytest-mock pytest-timeout py
"$work/venv/bin/pip" download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
  -d "$work" "kafka-python==$version"
tar xzf "$work/kafka_python-$version.tar.gz" -C "$work"
src="$work/kafka_python-$version"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$src"
touch "$src/test/__init__.py"
cat > "$src/test/service.py" <<'PY'
"""Stand-in for kafka-python's test/service.py (absent from the sdist): an external broker only."""
class ExternalService:
    def __init__(self, host, port):
        self.host, self.port = host, port
    def start(self): pass
    def stop(self): pass
    def dump_logs(self): pass
    def wait_for(self, pattern, timeout=30): return True

class SpawnedService:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("spawning Kafka is not supported here: set KAFKA_URI")
PY
mkdir "$work/kafka-root"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$rill_bin" server --listeners "PLAINTEXT://127.0.0.1:$port" --log-dirs "$work/data" \
  --override group.min.session.timeout.ms=1000 --override group.initial.rebalance.delay.ms=300 \
  2>"$work/rill.stderr" &
rill_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# The group tests: join/sync/heartbeat with four members, heartbeats, commit and resume, and the
# admin client's describe/delete groups.
cd "$src"
KAFKA_ROOT="$work/kafka-root" KAFKA_VERSION=4.0.0 KAFKA_URI="PLAINTEXT://127.0.0.1:$port" \
  "$work/venv/bin/python" -m pytest -p no:cacheprovider -q --timeout 60 -rA -W ignore::DeprecationWarning \
  test/integration/test_consumer_integration.py::test_group \
  test/integration/test_consumer_integration.py::test_heartbeat_thread \
  test/integration/test_consumer_integration.py::test_kafka_consumer__offset_commit_resume \
  test/integration/test_admin_integration.py::test_describe_group_exists \
  test/integration/test_admin_integration.py::test_delete_groups \
  test/integration/test_admin_integration.py::test_delete_groups_with_errors \
  "$@"
