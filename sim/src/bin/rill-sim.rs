//! `cargo sim`: runs seeded simulations of Rill and reports. See the README's "Simulation".
//!
//! ```text
//! cargo sim --seed 42                 one seed
//! cargo sim --seeds 1..200            seeds 1 to 199
//! cargo sim --seeds 1..65 --sim-secs 30 --canary ack-before-fsync
//! ```
//! Exit code: 0 all passed, 1 safety violation, 2 liveness failure, 3 crash/panic (the worst).

#[cfg(not(madsim))]
fn main() {
    eprintln!(
        "rill-sim must be built with RUSTFLAGS=\"--cfg madsim\"; use `cargo sim` (see README)"
    );
    std::process::exit(2);
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
    use rill_sim::run::{run_seed, Kind, RunOptions};

    struct Args {
        seeds: std::ops::Range<u64>,
        options: RunOptions,
        history_dir: PathBuf,
        fail_fast: bool,
        keep_history: bool,
    }

    const USAGE: &str = "usage: cargo sim (--seed N | --seeds A..B) [--sim-secs S] [--canary NAME] [--history-dir D] [--fail-fast] [--keep-history]";

    fn parse() -> Result<Args, String> {
        let mut args = Args {
            seeds: 1..2,
            options: RunOptions {
                sim_secs: 30,
                canary: None,
            },
            history_dir: PathBuf::from("target-sim/sim-failures"),
            fail_fast: false,
            keep_history: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--seed" => {
                    let seed: u64 = value()?
                        .parse()
                        .map_err(|_| "--seed takes a number".to_string())?;
                    args.seeds = seed..seed + 1;
                }
                "--seeds" => {
                    let text = value()?;
                    let (a, b) = text.split_once("..").ok_or("--seeds takes A..B")?;
                    let a: u64 = a.parse().map_err(|_| "--seeds takes numbers")?;
                    let b: u64 = b.parse().map_err(|_| "--seeds takes numbers")?;
                    args.seeds = a..b;
                }
                "--sim-secs" => {
                    args.options.sim_secs =
                        value()?.parse().map_err(|_| "--sim-secs takes a number")?
                }
                "--canary" => {
                    let name = value()?;
                    let names: Vec<&str> = Canary::ALL.iter().map(|c| c.name()).collect();
                    args.options.canary = Some(
                        Canary::from_name(&name)
                            .ok_or_else(|| format!("unknown canary '{name}'; one of {names:?}"))?,
                    );
                }
                "--history-dir" => args.history_dir = PathBuf::from(value()?),
                "--fail-fast" => args.fail_fast = true,
                "--keep-history" => args.keep_history = true,
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown flag '{other}'\n{USAGE}")),
            }
        }
        Ok(args)
    }

    fn reproduce(seed: u64, options: &RunOptions) -> String {
        let mut command = format!("cargo sim --seed {seed} --sim-secs {}", options.sim_secs);
        if let Some(canary) = options.canary {
            command.push_str(&format!(" --canary {}", canary.name()));
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
            Err(message) => {
                eprintln!("{message}");
                return 2;
            }
        };
        #[allow(clippy::disallowed_methods)]
        let wall = std::time::Instant::now();
        let (mut runs, mut sim_ms_total, mut longest_wall_ms) = (0u64, 0u64, 0u64);
        let mut failures: std::collections::BTreeMap<Kind, Vec<u64>> = Default::default();
        let mut worst = Kind::Pass;
        for seed in args.seeds.clone() {
            print!("seed={seed} ");
            let _ = std::io::stdout().flush();
            let result = run_seed(seed, args.options);
            runs += 1;
            sim_ms_total += result.sim_ms;
            longest_wall_ms = longest_wall_ms.max(result.wall_ms);
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
        println!(
            "summary: {runs} seeds, {:.1} s simulated in {:.1} s wall ({:.0}x), longest run {:.1} s, {:.1} seeds/min",
            sim_ms_total as f64 / 1000.0,
            wall_ms as f64 / 1000.0,
            sim_ms_total as f64 / wall_ms.max(1) as f64,
            longest_wall_ms as f64 / 1000.0,
            runs as f64 * 60_000.0 / wall_ms.max(1) as f64,
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
