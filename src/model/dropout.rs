//! Dropout with masks drawn by [`SplitMix64`] instead of libtorch's CPU generator.
//!
//! libtorch's `bernoulli_` draws each element from its Mersenne Twister, serially and under
//! a lock, twice a step for the tutorial's [32, 512] activations; drawing the mask here is
//! a small fraction of that (the README's "where a training step goes" measures both).
//! The mask's seed comes from
//! libtorch's generator (one draw), which the trainer reseeds from (seed, step) every batch,
//! so a run still repeats exactly and a resumed one continues the same masks.
//!
//! Same arithmetic as libtorch's: an element is kept with probability `1 - p` and scaled by
//! `1 / (1 - p)`. On other devices libtorch's own dropout runs where the data is.

use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use crate::rng::SplitMix64;
use crate::team;

/// Masks of at least this many values are drawn on all of libtorch's threads.
const SPLIT_FROM: usize = 1 << 13;

/// [`dropout`] with probability `.0`, as a layer (`xs.apply_t(&Dropout(p), train)`).
#[derive(Debug, Clone, Copy)]
pub struct Dropout(pub f64);

impl ModuleT for Dropout {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        dropout(xs, self.0, train)
    }
}

/// `xs` with each element zeroed with probability `p` and the rest scaled by `1/(1-p)`,
/// when `train`; `xs` itself otherwise.
pub fn dropout(xs: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p <= 0.0 {
        return xs.shallow_clone();
    }
    if xs.device() != Device::Cpu || xs.kind() != Kind::Float || p >= 1.0 {
        return xs.dropout(p, train);
    }
    let seed = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
    let mask = mask(xs.numel(), p, seed as u64);
    xs * Tensor::from_slice(&mask).view(xs.size().as_slice())
}

/// `n` mask values: `1/(1-p)` with probability `1 - p`, else 0, from `seed`. Each value
/// uses 32 random bits: values `2k` and `2k + 1` are the low and high halves of the
/// generator's `k`-th draw, so a long mask is drawn in pieces on libtorch's threads
/// ([`team`]) with the same values as one loop.
pub fn mask(n: usize, p: f64, seed: u64) -> Vec<f32> {
    let keep = 1.0 - p;
    // Kept when a uniform 32-bit draw is below this (probability keep, to 2^-32).
    let threshold = (keep * 4_294_967_296.0).round() as u64;
    let scale = (1.0 / keep) as f32;
    let value = |half: u64| if half < threshold { scale } else { 0.0 };
    let mut out = vec![0f32; n];
    let draws = n.div_ceil(2);
    let threads = team::threads_for(n, SPLIT_FROM);
    let base = out.as_mut_ptr() as usize;
    team::split(threads, &|part, parts| {
        let r = team::piece(draws, part, parts, 8);
        let (start, end) = (2 * r.start, (2 * r.end).min(n));
        if start >= end {
            return;
        }
        // SAFETY: `out` holds n values and outlives the split; the pieces' ranges
        // [2·r.start, 2·r.end) ∩ [0, n) are disjoint.
        let piece =
            unsafe { std::slice::from_raw_parts_mut((base as *mut f32).add(start), end - start) };
        for (pair, k) in piece.chunks_mut(2).zip(r) {
            let draw = SplitMix64::nth(seed, k as u64);
            pair[0] = value(draw & 0xFFFF_FFFF);
            if let Some(high) = pair.get_mut(1) {
                *high = value(draw >> 32);
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_keeps_about_one_minus_p_scaled_and_repeats_per_seed() {
        let m = mask(100_001, 0.2, 9);
        assert_eq!(m.len(), 100_001);
        let kept = m.iter().filter(|&&x| x != 0.0).count() as f64 / m.len() as f64;
        // 0.8 ± 5 standard deviations of a binomial proportion at n = 100k.
        assert!((kept - 0.8).abs() < 0.007, "{kept}");
        assert!(m.iter().all(|&x| x == 0.0 || x == 1.25));
        assert_eq!(m, mask(100_001, 0.2, 9));
        assert_ne!(m, mask(100_001, 0.2, 10));
        // Drawn in pieces on several threads, it equals one sequential loop.
        let mut rng = SplitMix64::new(9);
        let one_loop: Vec<f32> = (0..50_001)
            .flat_map(|_| {
                let r = rng.next_u64();
                [r & 0xFFFF_FFFF, r >> 32].map(|h| if h < 3_435_973_837 { 1.25 } else { 0.0 })
            })
            .take(100_001)
            .collect();
        assert_eq!(m, one_loop);
    }

    #[test]
    fn dropout_is_the_identity_in_evaluation_and_keeps_the_expectation_in_training() {
        // (Repeating under a seed is the trainer's determinism test: libtorch's generator
        // is global, and unit tests run side by side in one process.)
        let xs = Tensor::ones([32, 512], (Kind::Float, Device::Cpu));
        assert!(dropout(&xs, 0.2, false).equal(&xs));
        assert!(dropout(&xs, 0.0, true).equal(&xs));
        let a = dropout(&xs, 0.2, true);
        assert_eq!(a.size(), [32, 512]);
        // Kept elements are scaled so that the expectation is unchanged.
        let mean = a.mean(Kind::Float).double_value(&[]);
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        let c = dropout(&xs, 0.2, true);
        assert!(!a.equal(&c), "the next draw gives another mask");
    }

    #[test]
    fn gradients_flow_through_kept_elements_only() {
        let xs = Tensor::ones([4, 8], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let ys = dropout(&xs, 0.5, true);
        ys.sum(Kind::Float).backward();
        let kept = ys.ne(0.0);
        let g = xs.grad();
        assert!(g.masked_select(&kept).eq(2.0).all().int64_value(&[]) == 1);
        assert!(
            g.masked_select(&kept.logical_not())
                .eq(0.0)
                .all()
                .int64_value(&[])
                == 1
        );
    }
}
