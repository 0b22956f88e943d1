//! Randomness for actors: one `SmallRng` per actor, seeded from the simulator's seed under
//! madsim (so a seed replays exactly) and from OS entropy in production.
//! `rand::thread_rng()` is banned in node code: under madsim it is not deterministic.

use rand::rngs::SmallRng;
use rand::SeedableRng;

#[cfg(madsim)]
pub fn actor_rng() -> SmallRng {
    SmallRng::seed_from_u64(madsim::rand::random::<u64>())
}

#[cfg(not(madsim))]
pub fn actor_rng() -> SmallRng {
    SmallRng::from_entropy()
}
