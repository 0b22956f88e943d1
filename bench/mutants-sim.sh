#!/usr/bin/env bash
# The simulation as a second oracle for the mutants the unit tests missed (issue 11): each
# survivor of a `bench/mutants.sh` run is applied to a scratch worktree of HEAD, the madsim
# build of the simulator is rebuilt, and a fixed set of seeds runs against it. A mutant some seed
# fails on (the checker's verdict, a panic, or no result within the time limit) is caught by the
# simulation; one every seed passes remains missed. A mutant of canary code (its diff mentions
# a canary) is also run with every canary switched on, as sim/tests/scenario.rs does: a canary
# the checker no longer catches catches the mutant.
#
#   bash bench/mutants-sim.sh [--seeds 1..=8] [--sim-secs 30] [--only REGEX] MUTANTS_OUT_DIR
#
# --only REGEX: only the survivors whose name (as `cargo mutants --list` prints it) matches.
# MUTANTS_OUT_DIR is what `bench/mutants.sh --out` wrote (it holds mutants.out/). Results go to
# MUTANTS_OUT_DIR/sim-oracle.txt, one line per survivor: "caught" or "missed", and the mutant.
# One survivor costs an incremental madsim build and the seeds (about 2-3 minutes here).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"

SEEDS=1..=8
SIM_SECS=30
OUT=""
ONLY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seeds) SEEDS="$2"; shift 2 ;;
        --sim-secs) SIM_SECS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) OUT="$1"; shift ;;
    esac
done
if [[ -z "$OUT" || ! -f "$OUT/mutants.out/outcomes.json" ]]; then
    echo "usage: bash bench/mutants-sim.sh [--seeds A..=B] [--sim-secs S] MUTANTS_OUT_DIR" >&2
    exit 2
fi
OUT="$(cd "$OUT" && pwd)"

SCRATCH="${TMPDIR:-/tmp}/rill-mutants-sim"
TARGET="$SCRATCH-target"
rm -rf "$SCRATCH"
git -C "$REPO" worktree prune
git -C "$REPO" worktree add -q --detach "$SCRATCH" HEAD
trap 'git -C "$REPO" worktree remove --force "$SCRATCH"' EXIT

# name <TAB> diff path, for every missed mutant.
python3 - "$OUT/mutants.out/outcomes.json" "$ONLY" > "$SCRATCH.missed" <<'EOF'
import json, re, sys
for o in json.load(open(sys.argv[1]))["outcomes"]:
    if o["summary"] == "MissedMutant":
        m = o["scenario"]["Mutant"]
        if re.search(sys.argv[2], m["name"]):
            print(f'{m["name"]}\t{m["file"]}\t{o["diff_path"]}')
EOF

export CARGO_PROFILE_DEV_DEBUG=0 RUSTFLAGS="--cfg madsim"
if command -v mold >/dev/null && command -v cc >/dev/null; then
    RUSTFLAGS="$RUSTFLAGS -C link-arg=-fuse-ld=mold"
fi
build() {
    (cd "$SCRATCH" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --profile dev -p rill-sim --bin rill-sim)
}
# Whether the checker catches every canary within the seeds sim/tests/scenario.rs gives it.
every_canary_caught() {
    local canary seeds
    # The names of src/faults/canary.rs.
    for canary in ack-before-fsync reuse-offset-after-recovery skip-idempotence-check \
        drop-last-batch-on-restart ack-after-failed-sync ack-unsynced-single-record; do
        seeds=8
        [[ $canary == ack-unsynced-single-record ]] && seeds=20
        if timeout 900 "$TARGET/debug/rill-sim" --seeds "1..=$seeds" --sim-secs "$SIM_SECS" \
            --canary "$canary" --fail-fast > /dev/null 2>&1; then
            return 1
        fi
    done
}
echo "baseline: the unmutated simulator must pass seeds $SEEDS"
build
"$TARGET/debug/rill-sim" --seeds "$SEEDS" --sim-secs "$SIM_SECS" > /dev/null

RESULTS="$OUT/sim-oracle.txt"
: > "$RESULTS"
caught=0
missed=0
while IFS=$'\t' read -r name file diff; do
    (cd "$SCRATCH" && patch -s "$file" < "$OUT/mutants.out/$diff")
    if ! build 2> /dev/null; then
        verdict=unviable
    elif ! timeout 900 "$TARGET/debug/rill-sim" --seeds "$SEEDS" --sim-secs "$SIM_SECS" > /dev/null 2>&1; then
        verdict=caught
    elif grep -qi canary "$OUT/mutants.out/$diff" && ! every_canary_caught; then
        verdict=caught-canary
    else
        verdict=missed
    fi
    case $verdict in
        caught*) caught=$((caught + 1)) ;;
        missed) missed=$((missed + 1)) ;;
    esac
    (cd "$SCRATCH" && git checkout -q -- "$file")
    printf '%s\t%s\n' "$verdict" "$name" | tee -a "$RESULTS"
done < "$SCRATCH.missed"
echo "simulation oracle (seeds $SEEDS): caught $caught of $((caught + missed)) unit-test survivors; $RESULTS"
