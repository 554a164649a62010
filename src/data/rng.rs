//! Seeded randomness for data: one ChaCha8 stream per purpose, so that generating a data set,
//! splitting it and shuffling each epoch never disturb one another, and every draw is a pure
//! function of the seed (plus the epoch for batches).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for; part of the key, so streams never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Split = 1,
    Synthetic = 2,
    Teacher = 3,
    Batches = 4,
}

/// The generator for `(seed, purpose, index)`; `index` is the epoch for batches, else 0.
pub(crate) fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(purpose as u64).to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// A uniformly shuffled `0..n` (Fisher–Yates). Written out rather than taken from `rand` so the
/// order stays the same across `rand` versions, which keeps old checkpoints resumable.
pub(crate) fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // The modulo bias is below n / 2^64: negligible for any data set that fits in memory.
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_purpose_and_index_and_repeat_for_the_same_key() {
        let draw = |p, i| stream(7, p, i).next_u64();
        assert_eq!(draw(Purpose::Split, 0), draw(Purpose::Split, 0));
        assert_ne!(draw(Purpose::Split, 0), draw(Purpose::Batches, 0));
        assert_ne!(draw(Purpose::Batches, 0), draw(Purpose::Batches, 1));
    }

    #[test]
    fn permutation_holds_every_index_once() {
        let mut order = permutation(100, &mut stream(1, Purpose::Split, 0));
        order.sort_unstable();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }
}
