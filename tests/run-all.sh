#!/usr/bin/env bash
# Runs every test of the project: both builds (normal and the madsim simulation), formatting,
# the I/O-boundary lint, the real-client suite (tests/clients), the fuzz crate's build and a
# bounded run of every fuzz target. This
# is the command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every step says how long the one before it took and how far into the run it starts: CI stops a
# run at 90 minutes, and these lines show where the time goes.
run_started=$SECONDS
step_started=$SECONDS
step_name=""
step() {
  if [ -n "$step_name" ]; then
    printf '=== (%s: %d s)\n' "$step_name" $((SECONDS - step_started))
  fi
  step_name="$*"
  step_started=$SECONDS
  printf '\n=== %s  [at %d s]\n' "$*" $((SECONDS - run_started))
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
# cargo-mutants (for the mutation sample, minutes from now) builds in the background at the
# lowest CPU priority (nice 19), on what the steps before the sample leave idle.
tools_log="$(mktemp)"
nice -n 19 bash bench/mutants.sh --install-only >"$tools_log" 2>&1 &
tools_pid=$!

step "format"
cargo fmt --all -- --check

step "I/O boundary lint on node code (clippy disallowed-methods; tests and benches may read the clock)"
cargo clippy --workspace --lib --bins --quiet -- -A clippy::all -D clippy::disallowed_methods

step "normal build: unit, integration, real-TCP and proptest tests"
cargo test --workspace --quiet

step "simulation build (--cfg madsim, target dir target-sim): determinism, canaries"
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target-sim cargo test -p rill-sim --quiet

step "seeded chaos simulation: 64 seeds (cargo sim), 16 with transactions (--transactions), 16 with SASL (--sasl), 30 simulated seconds each"
# The debug profile reuses the build of the step above; `cargo sim` alone builds release.
# `cargo sim` runs its seeds one after another on one core, and seeds are independent: two
# halves side by side use both cores. Each half's output is shown whole when both have ended.
sim_logs="$(mktemp -d)"
sim() { RILL_SIM_PROFILE=dev timeout 1200 cargo sim --sim-secs 30 "$@"; }
(sim --seeds 1..=32 && sim --seeds 1..=16 --transactions) >"$sim_logs/first-half" 2>&1 &
first_half=$!
(sim --seeds 33..=64 && sim --seeds 1..=16 --sasl) >"$sim_logs/second-half" 2>&1 &
second_half=$!
sim_failed=""
wait "$first_half" || sim_failed=1
wait "$second_half" || sim_failed=1
cat "$sim_logs/first-half" "$sim_logs/second-half"
rm -rf "$sim_logs"
if [ -n "$sim_failed" ]; then
  echo "a seeded simulation failed (its output is above: the seed, the violation, the history)" >&2
  exit 1
fi
# On CI nothing later needs the simulation build (several GiB): free the disk for the fuzz build.
# A developer's machine keeps it (rebuilding it costs minutes).
if [ -n "${CI:-}" ]; then rm -rf target-sim/debug; fi

# After every step that uses the simulation build, before the real-client suite: the sample
# mutates the source in place and reuses the debug build of `cargo test` (restoring a file makes
# cargo rebuild the crate once more for what comes after), and no other build may read the
# source while it runs.
step "mutation score sample: cargo-mutants over src/storage/group_commit.rs, at least 90 % caught"
if ! wait "$tools_pid"; then
  cat "$tools_log" >&2
  echo "installing cargo-mutants failed (its output is above)" >&2
  exit 1
fi
rm -f "$tools_log"
bash bench/mutants.sh --sample --in-place

# The real-client suite's tests mostly wait (on clients, sessions, rebalances), leaving a core
# idle for most of its 15 minutes. The builds the later steps need are made meanwhile, in the
# background at the lowest CPU priority (nice 19: a test's broker always runs first): the release
# binary for the clients' own suites, librdkafka's test runner, the fuzz targets. Each writes a
# marker when done; a step that needs one waits for it.
step "background builds start (release binary, librdkafka's test runner, fuzz targets)"
if [ -f fuzz/Cargo.toml ]; then
  # --locked: a fuzz/Cargo.lock that no longer matches fuzz/Cargo.toml is an error, not a
  # rewrite. Resolving is enough to know; the targets compile in the background build.
  cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
fi
# On CI without the debug info the release profile keeps for profiling (less to generate and
# link; nothing reads it there).
if [ -n "${CI:-}" ]; then export CARGO_PROFILE_RELEASE_DEBUG=0; fi
background="$(mktemp -d)"
librdkafka_dir="$PWD/target/librdkafka"
# Its own process group (job control on while it starts: a background job then leads its own
# group, whose id is its pid), so that an early exit of this script stops all of it.
set -m
nice -n 19 bash -c '
  set -euo pipefail
  cargo build --quiet --release --bin rill
  touch "$0/release.done"
  LIBRDKAFKA_BUILD_ONLY=1 LIBRDKAFKA_DIR="$1" bash tests/upstream/librdkafka.sh
  touch "$0/librdkafka.done"
  if [ -f fuzz/Cargo.toml ]; then bash fuzz/run-ci.sh --build-only; fi
  touch "$0/fuzz.done"
' "$background" "$librdkafka_dir" >"$background/log" 2>&1 &
background_pid=$!
set +m
trap 'kill -- -"$background_pid" 2>/dev/null || true' EXIT
# Waits until the background build has made MARKER; fails, with the build's output, if it
# ended without making it.
wait_for_background() {
  local waited_s=$SECONDS
  while [ ! -e "$background/$1" ]; do
    if ! kill -0 "$background_pid" 2>/dev/null; then
      cat "$background/log" >&2
      echo "the background build failed before $1 (its output is above)" >&2
      exit 1
    fi
    sleep 2
  done
  echo "($1 after waiting $((SECONDS - waited_s)) s)"
}

step "real clients (confluent-kafka, kafka-python, aiokafka, kcat, kafkajs) against rill server"
bash tests/clients/run.sh -q
# On CI the debug build is done with: the release build, librdkafka's and the fuzz targets' do
# not use it. Free the disk.
if [ -n "${CI:-}" ]; then rm -rf target/debug; fi

# The clients' own test suites run against a release build: librdkafka's tests time sessions and
# requests as against a production broker, and three debug nodes on two cores have missed a 6 s
# heartbeat under load. Fetched from PyPI and npm at run time (tests/upstream/README.md).
step "kafka-python's own test suite against a 3-node cluster, replication factor 3"
wait_for_background release.done
RILL_NODES=3 RILL_BIN=target/release/rill timeout 600 bash tests/upstream/kafka_python.sh -q
step "librdkafka's own test suite against a 3-node cluster, replication factor 3"
wait_for_background librdkafka.done
RILL_NODES=3 RILL_BIN=target/release/rill LIBRDKAFKA_DIR="$librdkafka_dir" timeout 1500 \
  bash tests/upstream/librdkafka.sh
# On CI nothing later needs the release build.
if [ -n "${CI:-}" ]; then rm -rf target/release "$librdkafka_dir"; fi

if [ -f fuzz/Cargo.toml ]; then
  step "fuzz every target: the Kafka request path for ${RILL_FUZZ_SECONDS:-60} s (kafka_request), SASL and record batches for a third of that, configs and the on-disk formats for a sixth; malloc limit 64 MiB"
  wait_for_background fuzz.done
  bash fuzz/run-ci.sh --no-build "${RILL_FUZZ_SECONDS:-60}"
  if [ -n "${CI:-}" ]; then rm -rf fuzz/target; fi
fi
wait "$background_pid"
echo "the background build's output:"
cat "$background/log"
rm -rf "$background"

step "the run left the source tree as it found it"
if [ "$(worktree_state)" != "$state_before" ]; then
  git status --short
  git diff --stat
  echo "tests/run-all.sh changed files in the source tree (listed above): a step rewrote a" >&2
  echo "tracked file (commit the regenerated file) or wrote a new one (clean it up or ignore it)" >&2
  exit 1
fi

step "all tests passed"
