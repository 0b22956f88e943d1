//! `cargo sim …` (an alias in `.cargo/config.toml`) lands here. It checks the arguments (so
//! `--help` and typos answer at once), builds the `rill-sim` binary with
//! `RUSTFLAGS="--cfg madsim"` in `target-sim` — showing cargo's progress, since a first build
//! takes minutes — so the simulation build never invalidates the normal one, then runs it.
//! `RILL_SIM_PROFILE` picks the cargo profile (default `release`).

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use rill_sim_runner::args::{self, EXIT_BAD_ARGUMENTS, HELP, USAGE};

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match args::parse(arguments.clone()) {
        Ok(args::Command::Help) => {
            print!("{HELP}");
            return;
        }
        Ok(args::Command::Run(_)) => {}
        Err(message) => {
            eprintln!("cargo sim: {message}\n{USAGE}\n(cargo sim --help explains every flag)");
            exit(EXIT_BAD_ARGUMENTS);
        }
    }
    let profile = std::env::var("RILL_SIM_PROFILE").unwrap_or_else(|_| "release".into());
    let root = workspace_root();
    let target_dir = root.join("target-sim");
    eprintln!(
        "cargo sim: building the simulation (profile {profile}, --cfg madsim, in {}; \
         the first build takes a few minutes)",
        target_dir.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--profile",
            &profile,
            "-p",
            "rill-sim",
            "--bin",
            "rill-sim",
        ])
        .env("RUSTFLAGS", "--cfg madsim")
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(&root)
        .status()
        .unwrap_or_else(|e| {
            eprintln!("cargo sim: cannot run cargo: {e}");
            exit(3)
        });
    if !built.success() {
        eprintln!("cargo sim: the simulation build failed");
        exit(built.code().unwrap_or(3));
    }
    let binary = target_dir.join(profile_dir(&profile)).join("rill-sim");
    let status = Command::new(&binary)
        .args(&arguments)
        .status()
        .unwrap_or_else(|e| {
            eprintln!("cargo sim: cannot run {}: {e}", binary.display());
            exit(3)
        });
    exit(status.code().unwrap_or(3));
}

/// The workspace root: `sim/runner/../..`. `cargo run` tells the runner where its manifest is
/// at run time; the compile-time path is the fallback.
fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// Where cargo puts a profile's binaries: `dev` builds land in `debug`.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}
