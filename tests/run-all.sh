#!/usr/bin/env bash
# Runs every test of the project: both builds (normal and the madsim simulation), formatting,
# the I/O-boundary lint, the real-client suite (tests/clients), the fuzz crate's build and a
# bounded run of every fuzz target. This
# is the command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  printf '\n=== %s\n' "$*"
  # Disk is the one resource a CI machine has run out of: show what is left at every step.
  if [ -n "${CI:-}" ]; then df -h . | tail -1; fi
}

# The run must leave tracked files as it found them (a stale lock file that cargo rewrites, a
# test that writes into the source tree): remember the state now, compare it at the end.
worktree_state() {
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
  { git status --porcelain; git diff HEAD --binary; } | sha256sum
}
state_before="$(worktree_state)"

step "setup (rustfmt/clippy, kcat, python3-venv, Node.js/npm when missing)"
bash tests/setup.sh

step "format"
cargo fmt --all -- --check

step "I/O boundary lint on node code (clippy disallowed-methods; tests and benches may read the clock)"
cargo clippy --workspace --lib --bins --quiet -- -A clippy::all -D clippy::disallowed_methods

step "normal build: unit, integration, real-TCP and proptest tests"
cargo test --workspace --quiet

step "simulation build (--cfg madsim, target dir target-sim): determinism, canaries"
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target-sim cargo test -p rill-sim --quiet

step "seeded chaos simulation: 64 seeds x 30 simulated seconds (cargo sim)"
# The debug profile reuses the build of the step above; `cargo sim` alone builds release.
RILL_SIM_PROFILE=dev timeout 1200 cargo sim --seeds 1..=64 --sim-secs 30
step "seeded chaos simulation with transactions: 16 seeds x 30 simulated seconds (cargo sim --transactions)"
RILL_SIM_PROFILE=dev timeout 600 cargo sim --seeds 1..=16 --sim-secs 30 --transactions
step "seeded chaos simulation with SASL: 16 seeds x 30 simulated seconds (cargo sim --sasl)"
RILL_SIM_PROFILE=dev timeout 600 cargo sim --seeds 1..=16 --sim-secs 30 --sasl
# On CI nothing later needs the simulation build (several GiB): free the disk for the fuzz build.
# A developer's machine keeps it (rebuilding it costs minutes).
if [ -n "${CI:-}" ]; then rm -rf target-sim/debug; fi

step "real clients (confluent-kafka, kafka-python, aiokafka, kcat, kafkajs) against rill server"
bash tests/clients/run.sh -q

step "the clients' own test suites (kafka-python's, librdkafka's) against a 3-node cluster, replication factor 3"
# Fetched from PyPI and npm at run time (tests/upstream/README.md). Against a release build:
# librdkafka's tests time sessions and requests as against a production broker, and three debug
# nodes on two cores have missed a 6 s heartbeat under load. librdkafka's library and test
# runner build here (about 3 minutes).
cargo build --quiet --release --bin rill
RILL_NODES=3 RILL_BIN=target/release/rill timeout 600 bash tests/upstream/kafka_python.sh -q
RILL_NODES=3 RILL_BIN=target/release/rill timeout 1500 bash tests/upstream/librdkafka.sh
# On CI nothing later needs the release build.
if [ -n "${CI:-}" ]; then rm -rf target/release; fi

if [ -f fuzz/Cargo.toml ]; then
  step "fuzz targets compile"
  # --locked: a fuzz/Cargo.lock that no longer matches Cargo.toml is an error, not a rewrite.
  cargo check --quiet --locked --manifest-path fuzz/Cargo.toml --target-dir target
  # On CI the debug build is done with: the fuzz run (sanitizer build, fuzz/target) and the
  # mutation sample (a scratch copy with its own target) do not use it. Free the disk.
  if [ -n "${CI:-}" ]; then rm -rf target/debug; fi

  step "fuzz every target: the Kafka request path for ${RILL_FUZZ_SECONDS:-60} s (kafka_request), SASL and record batches for a third of that, configs and the on-disk formats for a sixth; malloc limit 64 MiB"
  bash fuzz/run-ci.sh "${RILL_FUZZ_SECONDS:-60}"
  if [ -n "${CI:-}" ]; then rm -rf fuzz/target; fi
fi

step "mutation score sample: cargo-mutants over src/storage/group_commit.rs, at least 90 % caught"
bash bench/mutants.sh --sample

step "the run left the source tree as it found it"
if [ "$(worktree_state)" != "$state_before" ]; then
  git status --short
  git diff --stat
  echo "tests/run-all.sh changed files in the source tree (listed above): a step rewrote a" >&2
  echo "tracked file (commit the regenerated file) or wrote a new one (clean it up or ignore it)" >&2
  exit 1
fi

step "all tests passed"
