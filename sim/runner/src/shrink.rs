//! Delta debugging (Zeller's ddmin, complements only) over a failing run's schedule: remove
//! chunks of items while the run still fails, halving the chunks when no chunk can go.
//!
//! Only complements are tried (everything but one chunk), not each chunk alone: a failure
//! usually needs a few items spread over the run, and a chunk alone would drop the rest at once,
//! which costs a run per chunk and seldom still fails. The result is minimal in the sense that
//! removing any one chunk of the finest size tried makes the run pass (within the attempts).

/// How a candidate's run ended, as the shrink sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Passes,
    /// It fails, but not with the claim the original run broke.
    FailsOtherwise,
    /// It fails with the original run's claim (preferred).
    FailsAlike,
}

impl Outcome {
    pub fn fails(self) -> bool {
        self != Outcome::Passes
    }
}

/// The runs a shrink may make, and how many it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts {
    pub used: u64,
    pub max: u64,
}

impl Attempts {
    pub fn new(max: u64) -> Self {
        Self { used: 0, max }
    }

    pub fn left(&self) -> bool {
        self.used < self.max
    }
}

/// The smallest subset of `items` the shrink found for which `test` still fails. At each
/// chunk size it takes the first candidate failing with the original claim; failing otherwise
/// is taken only when no candidate of that size fails alike ("any violation, the same claim
/// preferred"). Each call of `test` uses one attempt; none is made past `attempts.max`.
pub fn ddmin<T: Clone>(
    items: Vec<T>,
    attempts: &mut Attempts,
    mut test: impl FnMut(&[T]) -> Outcome,
) -> Vec<T> {
    let mut items = items;
    let mut chunks_wanted = 2usize;
    while !items.is_empty() && attempts.left() {
        let chunks = split(&items, chunks_wanted.min(items.len()));
        let (mut alike, mut otherwise, mut tried) = (None, None, 0);
        for skipped in 0..chunks.len() {
            if !attempts.left() {
                break;
            }
            tried += 1;
            let candidate: Vec<T> = (chunks.iter().enumerate())
                .filter(|(i, _)| *i != skipped)
                .flat_map(|(_, chunk)| chunk.iter().cloned())
                .collect();
            attempts.used += 1;
            match test(&candidate) {
                Outcome::FailsAlike => {
                    alike = Some(candidate);
                    break;
                }
                Outcome::FailsOtherwise if otherwise.is_none() => otherwise = Some(candidate),
                _ => {}
            }
        }
        // Failing otherwise counts once every chunk of this size was tried without failing
        // alike (or no attempt is left to try the rest).
        let otherwise = otherwise.filter(|_| tried == chunks.len() || !attempts.left());
        match alike.or(otherwise) {
            Some(smaller) => {
                items = smaller;
                chunks_wanted = (chunks_wanted - 1).max(2);
            }
            None if chunks.len() >= items.len() => break,
            None => chunks_wanted = (chunks_wanted * 2).min(items.len()),
        }
    }
    items
}

/// `items` in `n` contiguous chunks of near-equal size (the first ones one longer).
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.max(1);
    let (size, extra) = (items.len() / n, items.len() % n);
    let mut chunks = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let len = size + usize::from(i < extra);
        chunks.push(items[start..start + len].to_vec());
        start += len;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_finds_the_items_a_failure_needs() {
        let mut attempts = Attempts::new(1_000);
        let needed = [3, 42, 77];
        let found = ddmin(
            (0..100).collect(),
            &mut attempts,
            |candidate: &[u32]| match needed.iter().all(|n| candidate.contains(n)) {
                true => Outcome::FailsAlike,
                false => Outcome::Passes,
            },
        );
        assert_eq!(found, needed);
        assert!(attempts.used < 200, "{attempts:?}");
    }

    #[test]
    fn everything_goes_when_nothing_is_needed_and_nothing_when_all_is() {
        let mut attempts = Attempts::new(100);
        let found = ddmin(vec![1, 2, 3], &mut attempts, |_: &[u32]| {
            Outcome::FailsAlike
        });
        assert!(found.is_empty());
        let mut attempts = Attempts::new(100);
        let found = ddmin(vec![1, 2, 3], &mut attempts, |c: &[u32]| match c.len() {
            3 => Outcome::FailsAlike,
            _ => Outcome::Passes,
        });
        assert_eq!(found, vec![1, 2, 3]);
    }

    #[test]
    fn it_stops_at_its_attempts() {
        let mut attempts = Attempts::new(5);
        let mut runs = 0;
        let found = ddmin((0..64).collect(), &mut attempts, |c: &[u32]| {
            runs += 1;
            match c.contains(&63) && c.contains(&0) {
                true => Outcome::FailsAlike,
                false => Outcome::Passes,
            }
        });
        assert_eq!((runs, attempts.used), (5, 5));
        assert!(found.contains(&0) && found.contains(&63) && found.len() < 64);
    }

    #[test]
    fn the_same_claim_is_preferred_and_another_taken_only_without_it() {
        // Without 0..10 the run fails otherwise; without 10..20 it fails alike: the alike
        // candidate is taken although the other comes first.
        let mut attempts = Attempts::new(3);
        let found = ddmin((0..20).collect(), &mut attempts, |c: &[u32]| {
            match (c.contains(&0), c.contains(&10)) {
                (true, true) => Outcome::FailsAlike,
                (false, true) => Outcome::FailsOtherwise,
                (true, false) => Outcome::FailsAlike,
                (false, false) => Outcome::Passes,
            }
        });
        assert!(found.contains(&0), "{found:?}");
        // Only failing otherwise: taken once every chunk of the size was tried.
        let mut attempts = Attempts::new(2);
        let found = ddmin((0..20).collect(), &mut attempts, |c: &[u32]| {
            match c.len() {
                20 => Outcome::FailsAlike,
                10 => Outcome::FailsOtherwise,
                _ => Outcome::Passes,
            }
        });
        assert_eq!(found, (10..20).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_cover_the_items_in_order() {
        let chunks = split(&[1, 2, 3, 4, 5], 2);
        assert_eq!(chunks, vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(split(&[1, 2], 2), vec![vec![1], vec![2]]);
        assert_eq!(split(&[1], 1), vec![vec![1]]);
    }
}
