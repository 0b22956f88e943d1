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
    use std::io::Write;
    use std::path::PathBuf;

    use rill::faults::Canary;
    use rill::faults::FaultPoint;
    use rill_sim::run::{run_seed, Kind, RunOptions};
    use rill_sim_runner::args::{self, Command, EXIT_BAD_ARGUMENTS, HELP, USAGE};
    use rill_sim_runner::report::{points_table, timing_summary, PointTally};

    struct Args {
        seeds: std::ops::RangeInclusive<u64>,
        options: RunOptions,
        history_dir: PathBuf,
        fail_fast: bool,
        keep_history: bool,
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
        for seed in args.seeds.clone() {
            print!("seed={seed} ");
            let _ = std::io::stdout().flush();
            let result = run_seed(seed, args.options);
            runs += 1;
            sim_ms_total += result.sim_ms;
            longest_wall_ms = longest_wall_ms.max(result.wall_ms);
            for (point, count) in &result.points {
                points[point.index()].add_seed(count.reached, count.fired);
            }
            println!(
                "{:?} sim={}ms wall={}ms trace={:016x} {}",
                result.kind, result.sim_ms, result.wall_ms, result.hash, result.stats
            );
            if result.kind == Kind::Pass && args.keep_history {
                let _ = std::fs::create_dir_all(&args.history_dir);
                let _ = std::fs::write(
                    args.history_dir.join(format!("seed-{seed}.history")),
                    &result.history,
                );
            }
            if result.kind != Kind::Pass {
                for line in result.verdict.safety.iter().chain(&result.verdict.liveness) {
                    println!("    {line}");
                }
                if let Some(panic) = &result.panic {
                    println!("    panic: {panic}");
                }
                let _ = std::fs::create_dir_all(&args.history_dir);
                let file = args.history_dir.join(format!("seed-{seed}.history"));
                let _ = std::fs::write(&file, &result.history);
                println!("    history: {}", file.display());
                println!("    reproduce: {}", reproduce(seed, &args.options));
                failures.entry(result.kind).or_default().push(seed);
                worst = worst.max(result.kind);
                if args.fail_fast {
                    break;
                }
            }
        }
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
}
