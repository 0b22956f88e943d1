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

/// Bytes no one can guess (a SCRAM nonce, a secret): the OS's CSPRNG in production; the
/// simulator's seeded generator under madsim, so a seed replays the same exchange.
#[cfg(not(madsim))]
pub fn secure_bytes(out: &mut [u8]) {
    use rand::RngCore;
    rand::rngs::OsRng.fill_bytes(out);
}

#[cfg(madsim)]
pub fn secure_bytes(out: &mut [u8]) {
    for byte in out {
        *byte = madsim::rand::random::<u8>();
    }
}
