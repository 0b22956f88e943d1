//! `cargo sim …` (an alias in `.cargo/config.toml`) lands here: build and run the `rill-sim`
//! binary with `RUSTFLAGS="--cfg madsim"` in `target-sim`, so the simulation build never
//! invalidates the normal one. `RILL_SIM_PROFILE` picks the cargo profile (default `release`).

use std::process::{exit, Command};

fn main() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile = std::env::var("RILL_SIM_PROFILE").unwrap_or_else(|_| "release".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--profile",
            &profile,
            "-p",
            "rill-sim",
            "--bin",
            "rill-sim",
            "--",
        ])
        .args(std::env::args().skip(1))
        .env("RUSTFLAGS", "--cfg madsim")
        .env("CARGO_TARGET_DIR", "target-sim")
        .status()
        .unwrap_or_else(|e| {
            eprintln!("cargo sim: cannot run cargo: {e}");
            exit(3)
        });
    exit(status.code().unwrap_or(3));
}
