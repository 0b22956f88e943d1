#!/usr/bin/env bash
# Real-client conformance suite: confluent-kafka, kafka-python, aiokafka, kcat and kafkajs against
# a real `rill server` (target/debug/rill). Creates .venv with the pinned clients if needed (from
# PyPI), builds the binary, runs pytest. Extra arguments go to pytest (e.g. `-k kcat`, `-x`).
#
# kcat, Node.js and npm come from the system (tests/setup.sh installs them with apt-get). The
# kafkajs test npm-installs kafkajs on its first run. Without them those tests fail; they are
# never skipped.
#
# On a shared machine, build under the cargo lock yourself and skip the build here:
#   flock /tmp/rill-cargo.lock cargo build --bin rill && RILL_SKIP_BUILD=1 bash tests/clients/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/clients/requirements.txt

if [ -z "${RILL_SKIP_BUILD:-}" ]; then
  cargo build --quiet --bin rill
fi

command -v kcat >/dev/null || echo "warning: kcat is not installed; the kcat tests will fail" >&2

# pytest-timeout bounds each test (tests/clients/pytest.ini); `timeout` bounds the whole run.
exec timeout 1500 "$venv/bin/python" -m pytest tests/clients -p no:cacheprovider "$@"
