//! The progress bar of `cargo sim --seeds A..B` on a terminal: seeds done of all, failures so
//! far, and how much faster than real time the simulation runs. Drawn on stderr only when
//! stderr is a terminal and more than one seed runs, so CI logs and pipes get exactly the lines
//! they always got.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar, or nothing when it would not be seen.
pub struct SeedsProgress {
    bar: Option<ProgressBar>,
    failures: u64,
    sim_ms: u64,
}

impl SeedsProgress {
    /// A bar for `seeds` seeds if stderr is a terminal and there is more than one.
    pub fn new(seeds: u64) -> Self {
        let shown = seeds > 1 && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = ProgressBar::with_draw_target(Some(seeds), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} seeds  {msg}  [{elapsed_precise}, ~{eta} left]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            failures: 0,
            sim_ms: 0,
        }
    }

    /// Whether the bar is drawn (the caller then prints each seed's line whole, through
    /// [`SeedsProgress::println`], rather than its first word before the run).
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Seed `seed` starts; `wall_ms` real milliseconds have passed since the first.
    pub fn start_seed(&self, seed: u64, wall_ms: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(message(seed, self.failures, self.sim_ms, wall_ms));
        }
    }

    /// A seed ended after `sim_ms` simulated milliseconds.
    pub fn finish_seed(&mut self, sim_ms: u64, failed: bool) {
        self.sim_ms += sim_ms;
        self.failures += u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Prints a line on stdout above the bar (plainly when there is no bar).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Removes the bar before the summary.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The bar's message: the running seed, failures so far and the simulated/real speed ratio.
pub fn message(seed: u64, failures: u64, sim_ms: u64, wall_ms: u64) -> String {
    let speed = match wall_ms {
        0 => "-".to_string(),
        wall => format!("{:.0}x", sim_ms as f64 / wall as f64),
    };
    format!("seed {seed} running, {failures} failed, simulated/real {speed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_counts_failures_and_the_speed() {
        assert_eq!(
            message(17, 2, 120_000, 4_000),
            "seed 17 running, 2 failed, simulated/real 30x"
        );
        assert_eq!(
            message(1, 0, 0, 0),
            "seed 1 running, 0 failed, simulated/real -"
        );
    }

    #[test]
    fn no_bar_for_one_seed_and_lines_still_print() {
        let mut progress = SeedsProgress::new(1);
        assert!(!progress.shown());
        progress.start_seed(1, 0);
        progress.finish_seed(30_000, true);
        assert_eq!((progress.failures, progress.sim_ms), (1, 30_000));
        progress.finish();
    }
}
