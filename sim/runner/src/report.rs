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

/// One named fault point over all seeds of a `cargo sim` run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PointTally {
    pub name: String,
    /// Seeds in which it fired at least once.
    pub seeds_fired: u64,
    pub fired: u64,
    pub reached: u64,
}

impl PointTally {
    /// Adds one seed's counts.
    pub fn add_seed(&mut self, reached: u64, fired: u64) {
        self.reached += reached;
        self.fired += fired;
        self.seeds_fired += u64::from(fired > 0);
    }
}

/// The fault-point table printed after the seeds: one line per point, `NEVER FIRED` for a
/// point that fired in no seed (it is not testing anything in this run).
pub fn points_table(points: &[PointTally]) -> String {
    let width = points.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut out = format!(
        "fault points: {:<width$} {:>6} {:>7} {:>9}\n",
        "name", "seeds", "fired", "reached"
    );
    for point in points {
        out.push_str(&format!(
            "fault points: {:<width$} {:>6} {:>7} {:>9}{}\n",
            point.name,
            point.seeds_fired,
            point.fired,
            point.reached,
            if point.fired == 0 {
                "  NEVER FIRED"
            } else {
                ""
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_points_table_flags_a_point_that_never_fired() {
        let mut slow = PointTally {
            name: "slow-fsync".into(),
            ..Default::default()
        };
        slow.add_seed(10, 2);
        slow.add_seed(5, 0);
        slow.add_seed(7, 1);
        let never = PointTally {
            name: "crash-during-recovery".into(),
            reached: 3,
            ..Default::default()
        };
        let table = points_table(&[slow.clone(), never]);
        assert_eq!((slow.seeds_fired, slow.fired, slow.reached), (2, 3, 22));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("slow-fsync") && !lines[1].contains("NEVER"));
        assert!(lines[2].ends_with("NEVER FIRED"), "{}", lines[2]);
    }

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
