//! The lines `cargo sim` prints about a whole run (per-seed lines are `rill-sim`'s).

/// The timing line of the summary. The rate (seeds per minute) and the longest seed appear only
/// when more than one seed ran: from a single seed they would be a projection from one sample,
/// and seeds differ widely in how long they take.
pub fn timing_summary(seeds: u64, sim_ms: u64, wall_ms: u64, longest_seed_ms: u64) -> String {
    let seconds = |ms: u64| ms as f64 / 1000.0;
    let mut line = format!(
        "summary: {seeds} seed{}, {:.1} s simulated in {:.1} s wall ({:.0}x)",
        if seeds == 1 { "" } else { "s" },
        seconds(sim_ms),
        seconds(wall_ms),
        sim_ms as f64 / wall_ms.max(1) as f64,
    );
    if seeds > 1 {
        line.push_str(&format!(
            ", longest seed {:.1} s, {:.1} seeds/min",
            seconds(longest_seed_ms),
            seeds as f64 * 60_000.0 / wall_ms.max(1) as f64
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_only_from_several_seeds() {
        assert_eq!(
            timing_summary(1, 30_000, 2_000, 2_000),
            "summary: 1 seed, 30.0 s simulated in 2.0 s wall (15x)"
        );
        assert_eq!(
            timing_summary(4, 120_000, 8_000, 3_000),
            "summary: 4 seeds, 120.0 s simulated in 8.0 s wall (15x), longest seed 3.0 s, \
             30.0 seeds/min"
        );
    }
}
