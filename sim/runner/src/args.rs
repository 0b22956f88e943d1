//! The `cargo sim` command line. Parsed twice on purpose: by the runner, so `--help` and a typo
//! answer at once instead of after a build of a few minutes, and by `rill-sim`, which runs it.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::schedule::{self, Item};

/// One-line usage, printed under every argument error.
pub const USAGE: &str =
    "usage: cargo sim (--seed N | --seeds A..B | --seeds A..=B) [--sim-secs S] \
[--canary NAME] [--no-fault-points] [--transactions] [--sasl] [--history-dir D] \
[--fail-fast] [--keep-history] [--timeline PATH] [--shrink [--shrink-attempts N]] \
[--schedule TEXT]";

/// `cargo sim --help`.
pub const HELP: &str = "\
cargo sim: seeded chaos simulation of Rill (the production server on a simulated node, disk
and network; every fault drawn from the seed, so a seed replays exactly).

USAGE:
    cargo sim (--seed N | --seeds A..B | --seeds A..=B) [options]

SEEDS:
    --seed N          one seed (default: --seed 1)
    --seeds A..B      seeds A to B-1: B is excluded, as in Rust (1..50 runs 49 seeds)
    --seeds A..=B     seeds A to B: B is included (1..=50 runs 50 seeds)

OPTIONS:
    --sim-secs S      simulated seconds of workload and faults per seed (default 30)
    --canary NAME     switch on a planted bug, to check that the checker catches it:
                      ack-before-fsync, reuse-offset-after-recovery, skip-idempotence-check,
                      drop-last-batch-on-restart, ack-unsynced-single-record,
                      ack-after-failed-sync, ack-commit-before-append,
                      group-two-owners-one-generation, group-forget-on-failover,
                      group-replay-oldest-commit, clean-keeps-oldest-value,
                      consumer-assign-unreleased, retention-ignores-members,
                      quorum-self-majority, heartbeats-ignored, raft-vote-twice,
                      producer-ids-reused, topics-feed-skipped,
                      leader-epoch-kept, raft-apply-uncommitted,
                      observer-counted-in-majority, writes-without-leadership,
                      raft-vote-unsynced, raft-commit-old-term, topic-id-ignored,
                      stray-dirs-kept, hw-ignores-followers,
                      leader-outside-isr, follower-stamps-its-epoch,
                      reassignment-completes-early, truncate-to-hw,
                      ack-under-min-isr, throttle-not-released,
                      elr-kept-on-min-isr-change, lso-inclusive,
                      marker-skips-partition, fenced-epoch-accepted,
                      txn-offsets-applied-early (the four turn --transactions on
                      by themselves), sasl-any-plain-password and acls-ignored (the
                      two turn --sasl on), quota-channel-unmuted and
                      quota-not-published (the two turn the quota workload on)
    --no-fault-points no named fault point fires (crash after an ack, slow fsync, …; see
                      the README); to measure what they add
    --transactions    also run 1 or 2 transactional producers (by the seed) and
                      read_committed readers of their own topic, checked for aborted and
                      uncommitted reads and all-or-nothing transactions, and 1 or 2
                      consume-transform-produce workers reading it, checked for
                      exactly-once (off by default: the seeds' schedules stay as they were)
    --sasl            every broker's Kafka listener takes SASL (SASL_PLAINTEXT: PLAIN and
                      SCRAM-SHA-256/512) and every workload connection logs in first: PLAIN,
                      or SCRAM (drawn) once the workload's SCRAM user is created early in
                      the run; now and then a connection first tries a wrong password or
                      an unknown user, or a request without a login, which must be refused.
                      The brokers' authorizer is on (no ACL; the workload's users are super
                      users), and an intruder logged in as a user with no ACL asks all run
                      long to write and read the data topic, to join the group and for a
                      producer id.
                      Checked for no authentication bypass, the right password let in, no
                      authorization bypass and none of the intruder's records read (off by
                      default: the seeds' schedules stay as they were)
    --history-dir D   where histories are written (default target-sim/sim-failures)
    --fail-fast       stop at the first failing seed
    --keep-history    also write the histories of passing seeds
    --timeline PATH   write the run's timeline to PATH (one seed only): a self-contained HTML
                      page (inline SVG, nothing fetched) with a lane per node (its controller
                      and data partition leaderships as the run observed them, the faults on
                      it: down, paused, cut off, disk windows, fault points), a lane per client
                      (sends by outcome: acked, unknown, failed; polls), the time in simulated
                      seconds, and the first violation marked in red with the records and
                      operations it names. A failing seed writes one anyway, next to its
                      history (seed-N.html)
    --shrink          shrink a failing seed's schedule (one seed only; see SHRINKING): run it
                      again with faults left out, then producer batches, keeping each removal
                      while the run still fails, and print the smallest failing schedule, its
                      history and timeline, and the --schedule that replays it
    --shrink-attempts N
                      the most runs a shrink makes (default 100); it prints a line per run
    --schedule TEXT   run only these items of the seed's schedule (one seed only), as --shrink
                      prints it: nemesis=0,3-5;crash-after-produce-ack=0;p0=0-40,45-80 (quote
                      it: `;` ends a shell command)

OUTPUT, one line per seed:
    seed=N VERDICT sim=MS wall=MS trace=HASH acked=A unknown=U failed=F polled=P faults=X
        points=Y
    VERDICT  Pass, Safety (a delivery guarantee broken), Liveness (no service after healing)
             or Crash (a panic)
    sim      simulated milliseconds; wall: real milliseconds the seed took
    trace    hash of the run's history: the same seed gives the same hash
    acked    records the broker acknowledged (a batch of n records counts n). A send retried
             after a lost answer counts once, by its final outcome
    unknown  records whose outcome the producer never learned (the answer was lost and the
             retries ran out, the producer took a new identity, or acks=0): the record may
             or may not be in the log
    failed   records refused with an error on every attempt: not written
    polled   records the consumers read during the workload, every read counted (a consumer
             that seeks back reads some twice); not a count of acked records. It can be
             higher even with unknown=0: when an answer is
             lost the producer retries and only the retry's acknowledgement counts, yet the
             first attempt may have been written too (a duplicate without idempotence, or a
             record a consumer read before a crash took it back). It can be lower: consumers
             stop with the workload, retention deletes, and a crash can lose acknowledged
             records that were not durable yet. The checker, not these counts, judges the run
    faults   nemesis events: each kill, restart, pause, resume, clog, unclog, network change
             and connection reset counts one (a kill and its restart are two), each disk
             error injected (disk-write-eio, disk-fsync-eio, disk-enospc, disk-bit-flip, and
             the disk-eio-window / disk-full / disk-heal windows around them), and any
             corrupt record a consumer was served. A point crash counts here too (its
             kill and restart)
    points   named fault points that fired (each crash point, slow fsync, … once)
  With --sasl the line goes on with the logins:
    logins   logins with the right password let in (every connection makes one)
    scram    of those, through SCRAM (the others PLAIN)
    wrong    attempts with a wrong password, an unknown user or no login at all: each must
             be refused (the checker fails the run on one let in)
    refused  SCRAM logins with the right password refused by a broker that had not applied
             the SCRAM user yet (restarted, behind, cut off); judged only where the broker
             must know it (see the README)
    intrusions  the intruder's requests answered (each must be an authorization refusal;
             the checker fails the run on any other answer)
  A failing seed also prints the violations, the history file, its timeline (an HTML page
  beside it, see --timeline) and the command that replays it. On a terminal, a run of several
  seeds shows a progress bar on stderr (seeds done, failures, simulated/real speed).
  The last lines summarise: a table of every named fault point (in how many seeds it fired,
  how often in all, how often it was reached; NEVER FIRED marks a point that did not fire in
  any seed), seeds run, simulated vs wall time, and the failing seeds by kind.

SHRINKING:
    A run's schedule is its faults and client operations, each named so that the name means
    the same thing in another run of the seed: nemesis steps (each kill, pause, clog,
    partition, network change, disk window or role fault, numbered from 0 in the run: a kill
    and its restart are one step), firings of the crash and acting fault points (a point's
    name and its nth firing, from 0), and the data producers' batches (pN: producer N's batch
    numbers, from 0). Every random draw of the simulation comes from one seeded generator, so
    leaving one item out re-draws everything after it. To keep the other faults what they
    were, a shrink's run (and a --schedule run) first runs the seed whole, recording each
    nemesis step's start time and random draws, then replays the kept steps at their times
    with their draws and skips the others. A left-out batch is drawn but never sent (later
    batches keep their values and sequence numbers follow on); a left-out firing does not fire;
    firings and batches past the whole run's are left out too, so a schedule never grows. The
    same seed and schedule replay exactly. A candidate counts as failing on any violation; one
    that breaks the first claim the seed broke is preferred (the other only when no candidate
    of that chunk size does). Faults are shrunk first (batches all kept), then batches. Delay
    points, buggify and the other clients' operations are not shrunk.

ENVIRONMENT:
    RILL_SIM_PROFILE  cargo profile of the simulation build (default release; dev reuses the
                      build of `cargo test -p rill-sim` under --cfg madsim)
    RILL_SIM_LOG      tracing filter for the nodes' logs, in simulated time (e.g. rill=debug)

EXIT CODE:
    0 all passed, 1 safety violation, 2 liveness failure, 3 crash/panic (the worst seed's),
    4 bad arguments
";

/// Exit code for a command line that cannot be run.
pub const EXIT_BAD_ARGUMENTS: i32 = 4;

/// A runnable command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimArgs {
    pub seeds: RangeInclusive<u64>,
    pub sim_secs: u64,
    /// The planted bug's name; `rill-sim` checks it against the canaries it knows.
    pub canary: Option<String>,
    pub history_dir: PathBuf,
    pub fail_fast: bool,
    pub keep_history: bool,
    /// `--no-fault-points`: the named fault points never fire.
    pub no_fault_points: bool,
    /// `--transactions`: transactional producers and read_committed readers run.
    pub transactions: bool,
    /// `--sasl`: the listeners take SASL and every workload connection logs in.
    pub sasl: bool,
    /// `--timeline PATH`: where the run's timeline page goes (one seed).
    pub timeline: Option<PathBuf>,
    /// `--shrink`: shrink the seed's failing schedule.
    pub shrink: bool,
    /// `--shrink-attempts N`: the most runs a shrink makes.
    pub shrink_attempts: u64,
    /// `--schedule TEXT`: run only these items of the seed's schedule.
    pub schedule: Option<BTreeSet<Item>>,
}

/// The runs a shrink makes unless told otherwise: a few minutes of a debug build's runs.
pub const SHRINK_ATTEMPTS_DEFAULT: u64 = 100;

impl Default for SimArgs {
    fn default() -> Self {
        Self {
            seeds: 1..=1,
            sim_secs: 30,
            canary: None,
            history_dir: PathBuf::from("target-sim/sim-failures"),
            fail_fast: false,
            keep_history: false,
            no_fault_points: false,
            transactions: false,
            sasl: false,
            timeline: None,
            shrink: false,
            shrink_attempts: SHRINK_ATTEMPTS_DEFAULT,
            schedule: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Run(SimArgs),
}

/// Parses the arguments after `cargo sim`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut parsed = SimArgs::default();
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => {
                let text = value()?;
                let seed = number("--seed", &text)?;
                parsed.seeds = seed..=seed;
            }
            "--seeds" => parsed.seeds = parse_seeds(&value()?)?,
            "--sim-secs" => parsed.sim_secs = number("--sim-secs", &value()?)?,
            "--canary" => parsed.canary = Some(value()?),
            "--history-dir" => parsed.history_dir = PathBuf::from(value()?),
            "--fail-fast" => parsed.fail_fast = true,
            "--keep-history" => parsed.keep_history = true,
            "--no-fault-points" => parsed.no_fault_points = true,
            "--transactions" => parsed.transactions = true,
            "--sasl" => parsed.sasl = true,
            "--timeline" => parsed.timeline = Some(PathBuf::from(value()?)),
            "--shrink" => parsed.shrink = true,
            "--shrink-attempts" => {
                parsed.shrink_attempts = number("--shrink-attempts", &value()?)?;
            }
            "--schedule" => parsed.schedule = Some(schedule::parse_kept(&value()?)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    let one_seed = parsed.seeds.start() == parsed.seeds.end();
    for (flag, given, besides) in [
        (
            "--timeline",
            parsed.timeline.is_some(),
            "; a failing seed of a range writes its timeline next to its history",
        ),
        ("--shrink", parsed.shrink, ""),
        ("--schedule", parsed.schedule.is_some(), ""),
    ] {
        if given && !one_seed {
            return Err(format!("{flag} takes one seed (--seed N){besides}"));
        }
    }
    if parsed.shrink && parsed.schedule.is_some() {
        return Err("--shrink starts from the seed's whole schedule: drop --schedule".into());
    }
    Ok(Command::Run(parsed))
}

fn number(flag: &str, text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{flag} takes a whole number, got '{text}'"))
}

/// `A..B` (B excluded, like a Rust range) or `A..=B` (B included).
pub fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let shape = || format!("--seeds takes A..B (B excluded) or A..=B (B included), got '{text}'");
    let (first, rest) = text.split_once("..").ok_or_else(shape)?;
    let (inclusive, last) = match rest.strip_prefix('=') {
        Some(last) => (true, last),
        None => (false, rest),
    };
    let seed = |part: &str| part.parse::<u64>().map_err(|_| shape());
    let (first, last) = (seed(first)?, seed(last)?);
    let last = if inclusive {
        last
    } else {
        last.checked_sub(1).filter(|l| *l >= first).ok_or_else(|| {
            format!("--seeds {text} holds no seed (B is excluded; {first}..={first} runs one)")
        })?
    };
    if last < first {
        return Err(format!(
            "--seeds {text} holds no seed (it ends before it starts)"
        ));
    }
    Ok(first..=last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str) -> Result<SimArgs, String> {
        match parse(args.split_whitespace().map(String::from))? {
            Command::Run(args) => Ok(args),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn exclusive_and_inclusive_seed_ranges() {
        let seeds = parse_seeds("1..50").unwrap();
        assert_eq!(
            (seeds.clone().count(), *seeds.start(), *seeds.end()),
            (49, 1, 49)
        );
        let seeds = parse_seeds("1..=50").unwrap();
        assert_eq!(
            (seeds.clone().count(), *seeds.start(), *seeds.end()),
            (50, 1, 50)
        );
        assert_eq!(parse_seeds("7..8").unwrap(), 7..=7);
        assert_eq!(parse_seeds("7..=7").unwrap(), 7..=7);
        assert_eq!(run("--seeds 1..=64").unwrap().seeds.count(), 64);
        assert_eq!(run("--seed 42").unwrap().seeds, 42..=42);
        assert_eq!(run("").unwrap(), SimArgs::default());
    }

    #[test]
    fn bad_seed_ranges_say_what_is_expected() {
        for bad in ["5", "1-50", "a..5", "1..b", "1..=", "..5", "-1..5", "1...5"] {
            let error = parse_seeds(bad).unwrap_err();
            assert!(
                error.contains("A..B (B excluded) or A..=B (B included)") && error.contains(bad),
                "{bad}: {error}"
            );
        }
        let empty = parse_seeds("5..5").unwrap_err();
        assert!(
            empty.contains("holds no seed") && empty.contains("5..=5"),
            "{empty}"
        );
        let backwards = parse_seeds("5..=4").unwrap_err();
        assert!(backwards.contains("ends before it starts"), "{backwards}");
        assert!(parse_seeds("0..0").unwrap_err().contains("holds no seed"));
    }

    #[test]
    fn flags_values_and_errors() {
        let args = run(
            "--seeds 3..=5 --sim-secs 10 --canary ack-before-fsync --history-dir h \
                        --fail-fast --keep-history --no-fault-points --transactions --sasl",
        )
        .unwrap();
        assert_eq!(
            args,
            SimArgs {
                seeds: 3..=5,
                sim_secs: 10,
                canary: Some("ack-before-fsync".into()),
                history_dir: PathBuf::from("h"),
                fail_fast: true,
                keep_history: true,
                no_fault_points: true,
                transactions: true,
                sasl: true,
                ..SimArgs::default()
            }
        );
        assert_eq!(parse(["--help".to_string()]), Ok(Command::Help));
        assert_eq!(run("--sim-secs").unwrap_err(), "--sim-secs needs a value");
        assert_eq!(
            run("--seed x").unwrap_err(),
            "--seed takes a whole number, got 'x'"
        );
        assert_eq!(run("--seedz 1").unwrap_err(), "unknown flag '--seedz'");
    }

    #[test]
    fn timeline_shrink_and_schedule_flags() {
        let args = run("--seed 7 --canary ack-before-fsync --timeline out.html").unwrap();
        assert_eq!(
            (args.timeline, args.shrink, args.schedule),
            (Some(PathBuf::from("out.html")), false, None)
        );
        let args = run("--seed 7 --shrink --shrink-attempts 12").unwrap();
        assert_eq!((args.shrink, args.shrink_attempts), (true, 12));
        assert_eq!(
            run("--seed 7 --shrink").unwrap().shrink_attempts,
            SHRINK_ATTEMPTS_DEFAULT
        );
        let args =
            run("--seed 7 --schedule nemesis=0,2-3;crash-after-produce-ack=1;p0=0-1").unwrap();
        let kept = args.schedule.unwrap();
        assert_eq!(kept.len(), 6);
        assert!(
            kept.contains(&Item::Nemesis(3))
                && kept.contains(&Item::Batch {
                    producer: 0,
                    batch: 1
                })
        );
        assert_eq!(
            run("--seed 7 --schedule none").unwrap().schedule,
            Some(BTreeSet::new())
        );
        for (flag, args) in [
            ("--timeline", "--seeds 1..=2 --timeline t.html"),
            ("--shrink", "--seeds 1..3 --shrink"),
            ("--schedule", "--seeds 1..=2 --schedule none"),
        ] {
            let error = run(args).unwrap_err();
            assert!(
                error.starts_with(&format!("{flag} takes one seed")),
                "{error}"
            );
        }
        assert!(run("--seed 1 --shrink --schedule none")
            .unwrap_err()
            .contains("drop --schedule"));
        assert_eq!(run("--timeline").unwrap_err(), "--timeline needs a value");
        assert!(run("--seed 1 --shrink-attempts x")
            .unwrap_err()
            .contains("whole number"));
        assert!(run("--seed 1 --schedule nemesis")
            .unwrap_err()
            .starts_with("--schedule"));
        for flag in [
            "--timeline",
            "--shrink",
            "--shrink-attempts",
            "--schedule",
            "SHRINKING",
        ] {
            assert!(
                HELP.contains(flag) && (flag == "SHRINKING" || USAGE.contains(flag)),
                "{flag}"
            );
        }
    }

    #[test]
    fn help_explains_ranges_and_every_summary_field() {
        for text in ["A..B", "A..=B", "1..50 runs 49", "1..=50 runs 50"] {
            assert!(HELP.contains(text), "{text}");
        }
        for field in [
            "acked",
            "unknown",
            "failed",
            "polled",
            "faults",
            "points",
            "trace",
            "logins",
            "scram",
            "wrong",
            "refused",
            "intrusions",
        ] {
            assert!(HELP.contains(&format!("\n    {field} ")), "{field}");
        }
    }
}
