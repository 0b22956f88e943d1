#!/usr/bin/env bash
# Runs every test of the project: both builds (normal and the madsim simulation), formatting,
# the I/O-boundary lint, the real-client suite (tests/clients) and the fuzz crate's build. This
# is the command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "setup (rustfmt/clippy, kcat, python3-venv when missing)"
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
RILL_SIM_PROFILE=dev timeout 1200 cargo sim --seeds 1..65 --sim-secs 30

step "real clients (confluent-kafka, kafka-python, aiokafka, kcat) against rill server"
bash tests/clients/run.sh -q

if [ -f fuzz/Cargo.toml ]; then
  step "fuzz targets compile"
  cargo check --quiet --manifest-path fuzz/Cargo.toml --target-dir target
fi

step "all tests passed"
