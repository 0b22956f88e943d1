//! `cargo sim`: runs seeded simulations of Rill and reports. See the README's "Simulation" and
//! `cargo sim --help` (the command line lives in `rill_sim_runner::args`).
//!
//! ```text
//! cargo sim --seed 42                 one seed
//! cargo sim --seeds 1..200            seeds 1 to 199 (B excluded)
//! cargo sim --seeds 1..=64 --sim-secs 30 --canary ack-before-fsync
//! ```
//! Exit code: 0 all passed, 1 safety violation, 2 liveness failure, 3 crash/panic (the worst),
//! 4 bad arguments.

#[cfg(not(madsim))]
fn main() {
    eprintln!(
        "rill-sim must be built with RUSTFLAGS=\"--cfg madsim\"; use `cargo sim` (see README)"
    );
    std::process::exit(rill_sim_runner::args::EXIT_BAD_ARGUMENTS);
}

#[cfg(madsim)]
fn main() {
    std::process::exit(cli::main());
}

#[cfg(madsim)]
mod cli {
    use std::collections::BTreeSet;
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use rill::faults::points::Effect;
    use rill::faults::Canary;
    use rill::faults::FaultPoint;
    use rill_sim::run::{run_seed, Kind, RunOptions, RunResult};
    use rill_sim::schedule::Scheduled;
    use rill_sim::{shrink, timeline};
    use rill_sim_runner::args::{self, Command, EXIT_BAD_ARGUMENTS, HELP, USAGE};
    use rill_sim_runner::progress::SeedsProgress;
    use rill_sim_runner::report::{points_table, timing_summary, PointTally};
    use rill_sim_runner::schedule::{format_kept, Item};

    struct Args {
        seeds: std::ops::RangeInclusive<u64>,
        options: RunOptions,
        history_dir: PathBuf,
        fail_fast: bool,
        keep_history: bool,
        timeline: Option<PathBuf>,
        shrink: bool,
        shrink_attempts: u64,
        schedule: Option<BTreeSet<Item>>,
    }

    /// The command line, or the exit code to stop with (help printed, or a bad argument).
    fn parse() -> Result<Args, i32> {
        let parsed = match args::parse(std::env::args().skip(1)) {
            Ok(Command::Run(parsed)) => parsed,
            Ok(Command::Help) => {
                print!("{HELP}");
                return Err(0);
            }
            Err(message) => {
                eprintln!("{message}\n{USAGE}");
                return Err(EXIT_BAD_ARGUMENTS);
            }
        };
        let canary = match parsed.canary.as_deref() {
            None => None,
            Some(name) => match Canary::from_name(name) {
                Some(canary) => Some(canary),
                None => {
                    let names: Vec<&str> = Canary::ALL.iter().map(|c| c.name()).collect();
                    eprintln!("unknown canary '{name}'; one of {names:?}");
                    return Err(EXIT_BAD_ARGUMENTS);
                }
            },
        };
        // The runner takes any kebab-case name for a fault point: the points are known here.
        for item in parsed.schedule.iter().flatten() {
            if let Item::Point { name, .. } = item {
                let known = FaultPoint::from_name(name).filter(|p| p.effect() != Effect::Delay);
                if known.is_none() {
                    let names: Vec<&str> = (FaultPoint::ALL.iter())
                        .filter(|p| p.effect() != Effect::Delay)
                        .map(|p| p.name())
                        .collect();
                    eprintln!(
                        "--schedule: '{name}' is no crash or acting fault point; one of {names:?}"
                    );
                    return Err(EXIT_BAD_ARGUMENTS);
                }
            }
        }
        Ok(Args {
            seeds: parsed.seeds,
            options: RunOptions {
                sim_secs: parsed.sim_secs,
                canary,
                fault_points: !parsed.no_fault_points,
                transactions: parsed.transactions,
                sasl: parsed.sasl,
            },
            history_dir: parsed.history_dir,
            fail_fast: parsed.fail_fast,
            keep_history: parsed.keep_history,
            timeline: parsed.timeline,
            shrink: parsed.shrink,
            shrink_attempts: parsed.shrink_attempts,
            schedule: parsed.schedule,
        })
    }

    fn reproduce(seed: u64, options: &RunOptions) -> String {
        let mut command = format!("cargo sim --seed {seed} --sim-secs {}", options.sim_secs);
        if let Some(canary) = options.canary {
            command.push_str(&format!(" --canary {}", canary.name()));
        }
        if !options.fault_points {
            command.push_str(" --no-fault-points");
        }
        if options.transactions {
            command.push_str(" --transactions");
        }
        if options.sasl {
            command.push_str(" --sasl");
        }
        command
    }

    /// The command that replays `kept` of the seed's schedule.
    fn reproduce_schedule(seed: u64, options: &RunOptions, kept: &BTreeSet<Item>) -> String {
        format!(
            "{} --schedule '{}'",
            reproduce(seed, options),
            format_kept(kept)
        )
    }

    /// Writes `run`'s history as `dir/{stem}.history` and its timeline beside it (`.html`),
    /// and says where.
    fn write_history_and_timeline(
        dir: &Path,
        stem: &str,
        run: &RunResult,
        command: &str,
        say: &dyn Fn(&str),
    ) {
        let _ = std::fs::create_dir_all(dir);
        let file = dir.join(format!("{stem}.history"));
        let _ = std::fs::write(&file, &run.history);
        say(&format!("    history: {}", file.display()));
        write_timeline(&dir.join(format!("{stem}.html")), run, command, say);
    }

    fn write_timeline(path: &Path, run: &RunResult, command: &str, say: &dyn Fn(&str)) {
        match timeline::render(run, command) {
            Some(page) => match std::fs::write(path, page) {
                Ok(()) => say(&format!("    timeline: {}", path.display())),
                Err(e) => say(&format!(
                    "    timeline: cannot write {}: {e}",
                    path.display()
                )),
            },
            None => say("    timeline: none (the run panicked: its history is lost)"),
        }
    }

    /// The seed's run: whole, or only the kept items of its schedule (the whole run first, to
    /// record the nemesis' plan that the replay follows).
    fn run_one(seed: u64, args: &Args) -> (RunResult, String) {
        let Some(kept) = &args.schedule else {
            return (run_seed(seed, args.options), reproduce(seed, &args.options));
        };
        let whole = run_seed(seed, args.options);
        let plan = std::sync::Arc::new(whole.schedule.plan.clone());
        let run = shrink::replay(seed, args.options, &plan, kept);
        (run, reproduce_schedule(seed, &args.options, kept))
    }

    pub fn main() -> i32 {
        // RILL_SIM_LOG=debug (a tracing filter) shows what the nodes do, in simulated time.
        if let Ok(filter) = std::env::var("RILL_SIM_LOG") {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .init();
        }
        let args = match parse() {
            Ok(args) => args,
            Err(code) => return code,
        };
        if args.shrink {
            return shrink_seed(&args);
        }
        #[allow(clippy::disallowed_methods)]
        let wall = std::time::Instant::now();
        let (mut runs, mut sim_ms_total, mut longest_wall_ms) = (0u64, 0u64, 0u64);
        let mut failures: std::collections::BTreeMap<Kind, Vec<u64>> = Default::default();
        let mut worst = Kind::Pass;
        let mut points: Vec<PointTally> = FaultPoint::ALL
            .iter()
            .map(|point| PointTally {
                name: point.name().to_string(),
                ..Default::default()
            })
            .collect();
        let mut progress = SeedsProgress::new(args.seeds.clone().count() as u64);
        for seed in args.seeds.clone() {
            // With a progress bar the seed's line prints whole after the run (the bar names
            // the seed running); without one, its first word shows which seed is running.
            if progress.shown() {
                progress.start_seed(seed, wall.elapsed().as_millis() as u64);
            } else {
                print!("seed={seed} ");
                let _ = std::io::stdout().flush();
            }
            let (result, command) = run_one(seed, &args);
            runs += 1;
            sim_ms_total += result.sim_ms;
            longest_wall_ms = longest_wall_ms.max(result.wall_ms);
            for (point, count) in &result.points {
                points[point.index()].add_seed(count.reached, count.fired);
            }
            progress.finish_seed(result.sim_ms, result.kind != Kind::Pass);
            let say = |line: &str| progress.println(line);
            let line = format!(
                "{:?} sim={}ms wall={}ms trace={:016x} {}",
                result.kind, result.sim_ms, result.wall_ms, result.hash, result.stats
            );
            match progress.shown() {
                true => say(&format!("seed={seed} {line}")),
                false => say(&line),
            }
            if let Some(kept) = &args.schedule {
                let items = result.schedule.items.len();
                say(&format!(
                    "    schedule: {} item(s) kept, {items} happened",
                    kept.len()
                ));
            }
            if result.kind == Kind::Pass && args.keep_history {
                let _ = std::fs::create_dir_all(&args.history_dir);
                let _ = std::fs::write(
                    args.history_dir.join(format!("seed-{seed}.history")),
                    &result.history,
                );
            }
            if result.kind != Kind::Pass {
                for line in result.verdict.safety.iter().chain(&result.verdict.liveness) {
                    say(&format!("    {line}"));
                }
                if let Some(panic) = &result.panic {
                    say(&format!("    panic: {panic}"));
                }
                let stem = match args.schedule {
                    Some(_) => format!("seed-{seed}-schedule"),
                    None => format!("seed-{seed}"),
                };
                write_history_and_timeline(&args.history_dir, &stem, &result, &command, &say);
                say(&format!("    reproduce: {command}"));
            }
            if let Some(path) = &args.timeline {
                write_timeline(path, &result, &command, &say);
            }
            if result.kind != Kind::Pass {
                failures.entry(result.kind).or_default().push(seed);
                worst = worst.max(result.kind);
                if args.fail_fast {
                    break;
                }
            }
        }
        progress.finish();
        let wall_ms = wall.elapsed().as_millis() as u64;
        if args.options.fault_points {
            print!("{}", points_table(&points));
        } else {
            println!("fault points: off (--no-fault-points)");
        }
        println!(
            "{}",
            timing_summary(runs, sim_ms_total, wall_ms, longest_wall_ms)
        );
        if failures.is_empty() {
            println!("summary: all passed");
        }
        for (kind, seeds) in &failures {
            println!("summary: {kind:?}: {} seed(s): {seeds:?}", seeds.len());
        }
        worst.exit_code()
    }

    /// `--shrink`: the seed's failing schedule made as small as the attempts allow.
    fn shrink_seed(args: &Args) -> i32 {
        let seed = *args.seeds.start();
        #[allow(clippy::disallowed_methods)]
        let wall = std::time::Instant::now();
        let say = |line: &str| println!("{line}");
        let mut progress = |line: &str| say(line);
        let shrunk = match shrink::shrink(seed, args.options, args.shrink_attempts, &mut progress) {
            Ok(shrunk) => shrunk,
            Err((why, run)) => {
                say(&format!("shrink: {why}"));
                if let Some(panic) = &run.panic {
                    say(&format!("    panic: {panic}"));
                }
                return run.kind.exit_code();
            }
        };
        say(&format!(
            "shrink: {} runs in {:.1} s: from {} to {}, still failing ({:?})",
            shrunk.attempts.used,
            wall.elapsed().as_secs_f64(),
            shrink::describe_size(shrunk.original_size()),
            shrink::describe_size(shrunk.kept_size()),
            shrunk.run.kind
        ));
        if !shrunk.replays_exactly {
            say("shrink: warning: the whole schedule replayed differently from the seed's run");
        }
        say(&format!(
            "shrink: the smallest failing schedule of seed {seed} (as its run did it):"
        ));
        for line in schedule_lines(&shrunk.run.schedule.items) {
            say(&format!("    {line}"));
        }
        say("shrink: its violations:");
        for line in (shrunk.run.verdict.safety.iter()).chain(&shrunk.run.verdict.liveness) {
            say(&format!("    {line}"));
        }
        if let Some(panic) = &shrunk.run.panic {
            say(&format!("    panic: {panic}"));
        }
        let command = reproduce_schedule(seed, &args.options, &shrunk.kept);
        let stem = format!("seed-{seed}-schedule");
        write_history_and_timeline(&args.history_dir, &stem, &shrunk.run, &command, &say);
        if let Some(path) = &args.timeline {
            write_timeline(path, &shrunk.run, &command, &say);
        }
        say(&format!("    reproduce: {command}"));
        shrunk.run.kind.exit_code()
    }

    /// A schedule in words: every fault on its own line; operations too when few, else per
    /// producer (how many batches, when, which).
    fn schedule_lines(items: &[Scheduled]) -> Vec<String> {
        const OPERATIONS_LISTED_MAX: usize = 40;
        let secs = |ms: u64| format!("{:>8.3} s", ms as f64 / 1000.0);
        let name = |item: &Item| match item {
            Item::Nemesis(n) => format!("nemesis {n}"),
            Item::Point { name, nth } => format!("{name}={nth}"),
            Item::Batch { producer, batch } => format!("p{producer}={batch}"),
        };
        let (faults, ops): (Vec<&Scheduled>, Vec<&Scheduled>) =
            items.iter().partition(|s| s.item.is_fault());
        let mut lines: Vec<String> = (faults.iter())
            .map(|s| format!("{}  {:<32} {}", secs(s.at_ms), name(&s.item), s.what))
            .collect();
        if faults.is_empty() {
            lines.push("(no fault)".into());
        }
        if ops.len() <= OPERATIONS_LISTED_MAX {
            lines.extend(
                (ops.iter())
                    .map(|s| format!("{}  {:<32} {}", secs(s.at_ms), name(&s.item), s.what)),
            );
        } else {
            let mut by_producer: std::collections::BTreeMap<u32, Vec<&Scheduled>> =
                Default::default();
            for s in &ops {
                if let Item::Batch { producer, .. } = s.item {
                    by_producer.entry(producer).or_default().push(s);
                }
            }
            for (producer, batches) in by_producer {
                let kept: BTreeSet<Item> = batches.iter().map(|s| s.item.clone()).collect();
                let (first, last) = (batches[0].at_ms, batches[batches.len() - 1].at_ms);
                lines.push(format!(
                    "producer {producer}: {} batches from {} to {}: {}",
                    batches.len(),
                    secs(first).trim(),
                    secs(last).trim(),
                    format_kept(&kept)
                ));
            }
        }
        if ops.is_empty() {
            lines.push("(no producer batch)".into());
        }
        lines
    }
}
