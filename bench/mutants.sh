#!/usr/bin/env bash
# Mutation score of the durability- and ordering-critical code (issue 11), with cargo-mutants:
# each mutant (a small change to one function: a return value replaced, an operator swapped, a
# condition negated) is built and tested; a mutant the tests fail on is "caught", one they pass
# on is "missed" (a gap in the tests, or an equivalent mutant). Score = caught / (caught +
# missed); timeouts count as caught, mutants that do not compile ("unviable") are left out.
#
#   bash bench/mutants.sh [--sample | --estimate N [--shard K]] [--in-place] [--out DIR] [FILE ...]
#
# FILE ...     source files to mutate (default: the durability core listed below).
# --sample     CI's small sample: src/storage/group_commit.rs only, and the run fails below
#              MIN_SCORE_PERCENT. Its oracle is the unit tests of the modules that drive group
#              commit (`storage::`, `partition::`: 2 s a run instead of the whole library's 23 s);
#              a mutant only another module's tests would catch counts as missed, so the score
#              can only come out lower than the whole library's (measured 2026-12-07: 17 of 17
#              caught either way). About 9 minutes with --in-place after `cargo test`.
# --estimate N every N-th mutant (cargo-mutants' round-robin shard 0/N) of the whole of
#              src/storage/, src/partition/ and src/group/ but the test doubles (storage/mem.rs,
#              storage/fuzz_support.rs): a systematic sample across every file, whose score
#              estimates the score of all ~4,000 mutants (about 7 hours) in 1/N of the time.
# --shard K    with --estimate: shard K/N instead of 0/N, an independent sample (0 <= K < N).
# --in-place   mutate the files where they are and build in this tree's target dir, with the
#              profile `cargo test` uses, instead of in a scratch copy built from nothing. CI
#              runs the sample after the steps that use `cargo test --workspace`'s debug build,
#              and the baseline reuses that build (minutes saved). Each file is restored after
#              its mutant; an interrupted run can leave one mutated (`git diff` shows it).
# --install-only  install cargo-mutants when missing, and stop (CI does it in the background
#              behind its first steps).
# --out DIR    where cargo-mutants writes mutants.out (default target/mutants).
#
# The oracle of the first pass is the library's unit tests (`cargo test -p rill --lib`): one
# mutant costs an incremental build of the library's test binary and a test run, about 6.5 s
# here (5 s build, 1.5 s tests). `-C --lib` matters: cargo-mutants' build phase is
# `cargo test --no-run`, which without it also builds and links every integration test binary
# (13–25 s a mutant). The simulation is a second oracle, run on the survivors only
# (bench/mutants-sim.sh: a madsim build per mutant). Results and the notes on every survivor:
# docs/mutation-score.md.
set -euo pipefail
cd "$(dirname "$0")/.."

MIN_SCORE_PERCENT=90
CORE=(src/storage/group_commit.rs src/storage/waiters.rs src/storage/persist.rs src/storage/log/durability.rs)
SAMPLE=0
ESTIMATE=0
SHARD=0
IN_PLACE=0
INSTALL_ONLY=0
OUT=target/mutants
FILES=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --sample) SAMPLE=1; shift ;;
        --estimate) ESTIMATE="$2"; shift 2 ;;
        --shard) SHARD="$2"; shift 2 ;;
        --in-place) IN_PLACE=1; shift ;;
        --install-only) INSTALL_ONLY=1; shift ;;
        --out) OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^# --out DIR/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) FILES+=("$1"); shift ;;
    esac
done
if [[ $SAMPLE == 1 ]]; then
    FILES=(src/storage/group_commit.rs)
elif [[ ${#FILES[@]} == 0 ]]; then
    FILES=("${CORE[@]}")
fi

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "installing cargo-mutants (once)"
    cargo install --locked cargo-mutants@27.1.0
fi
[[ $INSTALL_ONLY == 0 ]] || exit 0

file_args=()
for f in "${FILES[@]}"; do file_args+=(-f "$f"); done
if [[ $ESTIMATE -gt 0 ]]; then
    FILES=("src/storage/, src/partition/ and src/group/ (shard $SHARD/$ESTIMATE)")
    file_args=(-f 'src/storage/**' -f 'src/partition/**' -f 'src/group/**' -e src/storage/mem.rs -e src/storage/fuzz_support.rs
        --shard "$SHARD/$ESTIMATE" --sharding round-robin)
fi
copy_args=(--gitignore true -j 1)
if [[ $IN_PLACE == 1 ]]; then
    # The profile and flags stay those of the build being reused: changing either rebuilds all.
    # (One tree, so one mutant at a time: cargo-mutants refuses --jobs here.)
    copy_args=(--in-place)
else
    # No debug info in the per-mutant test builds: the build (mostly linking) is most of a
    # mutant's cost.
    export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
    # mold links several times faster than the default linker, when the machine has it.
    if command -v mold >/dev/null && command -v cc >/dev/null; then
        export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
    fi
fi
mkdir -p "$OUT"

# The Raft model checker (thousands of seeded cluster runs, ~8 s) cannot catch a mutant outside
# the Raft code: skip it there, so that a mutant costs the ~1.5 s of the other unit tests.
test_args=()
if [[ $SAMPLE == 1 ]]; then
    test_args=(-- -- storage:: partition::)
elif ! printf '%s\n' "${FILES[@]}" | grep -q 'controller/raft'; then
    test_args=(-- -- --skip controller::raft::model_tests)
fi
# --gitignore true: the scratch copy leaves out target dirs and the client venv.
# Exit code 2 means "some mutants missed", which is a result here, not a failure.
status=0
cargo mutants -p rill "${file_args[@]}" --timeout 120 "${copy_args[@]}" \
    -C --lib -o "$OUT" "${test_args[@]}" || status=$?
if [[ $status != 0 && $status != 2 && $status != 3 ]]; then
    echo "cargo mutants failed (exit $status)" >&2
    exit "$status"
fi

# Lines of an outcome file (0 when it is missing or empty; `grep -c` exits 1 on no match).
count() { if [[ -s "$1" ]]; then grep -c . "$1"; else echo 0; fi; }
caught=$(count "$OUT/mutants.out/caught.txt")
missed=$(count "$OUT/mutants.out/missed.txt")
timeout=$(count "$OUT/mutants.out/timeout.txt")
unviable=$(count "$OUT/mutants.out/unviable.txt")
viable=$((caught + missed + timeout))
score=$(( viable > 0 ? (100 * (caught + timeout)) / viable : 100 ))
echo "mutation score: ${score}% (caught $caught, timeout $timeout, missed $missed, unviable $unviable) over ${FILES[*]}"
if [[ $missed -gt 0 ]]; then
    echo "missed:"
    sed 's/^/  /' "$OUT/mutants.out/missed.txt"
fi
if [[ $SAMPLE == 1 && $score -lt $MIN_SCORE_PERCENT ]]; then
    echo "the sample's mutation score ${score}% is below ${MIN_SCORE_PERCENT}%" >&2
    exit 1
fi
