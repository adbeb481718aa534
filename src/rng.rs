//! The program's own randomness, independent of libtorch's global RNG: the batch order
//! of each epoch, the sample shown in the Predictions pane, augmentation and dropout masks
//! come from [`SplitMix64`]; libtorch's generator is reseeded for every optimiser step from
//! [`step_seed`] (dropout draws its mask's seed from it).

/// The libtorch seed for optimiser step `step` of a run seeded with `seed`.
pub fn step_seed(seed: u64, step: i64) -> i64 {
    let mut mix = SplitMix64::new(seed ^ (step as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    (mix.next_u64() >> 1) as i64
}

/// A small, fast, seedable generator for shuffling (SplitMix64), so that the order of
/// batches depends only on (seed, epoch) and not on libtorch's global RNG.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

/// SplitMix64's step between states.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function of a state.
fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// The `k`-th value (from 0) that `SplitMix64::new(seed)` draws, without drawing the
    /// ones before it: the generator is a counter, so pieces of a sequence can be drawn
    /// apart (on several threads) and still equal the whole.
    pub fn nth(seed: u64, k: u64) -> u64 {
        mix(seed.wrapping_add(k.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    /// Uniform in `0..n` (n > 0), by rejection to avoid modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<u32> = (0..1000).collect();
        let mut b = a.clone();
        SplitMix64::new(7).shuffle(&mut a);
        SplitMix64::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        let mut c = a.clone();
        SplitMix64::new(8).shuffle(&mut c);
        assert_ne!(a, c);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }

    #[test]
    fn nth_is_the_sequence_drawn_at_any_position() {
        // The reference implementation's first output for seed 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        for seed in [0, 1, u64::MAX, 0x1234_5678_9ABC_DEF0] {
            let mut rng = SplitMix64::new(seed);
            for k in 0..100 {
                assert_eq!(
                    SplitMix64::nth(seed, k),
                    rng.next_u64(),
                    "seed {seed}, k {k}"
                );
            }
        }
    }
}
