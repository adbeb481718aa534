//! `data.validation`: training images held out to choose the best epoch by. The draw
//! depends only on the seed and the training set as loaded (after `data.train_limit`),
//! never on the batch order, so a resumed run holds out the very same images; and for
//! one seed a smaller hold-out is part of a larger one.

use crate::data::Split;
use crate::rng::SplitMix64;

/// Mixed into the seed so that the draw is not the first epoch's batch order.
const SALT: u64 = 0x7A11_DA7E_0F0F_5EED;

/// Move `n` images of `train`, chosen by `seed`, into the split returned; `train` keeps
/// the others in their order. Both keep the dataset's order among themselves. With `n`
/// of 0 nothing moves; with `n` at or above the count, everything does.
pub fn hold_out(train: &mut Split, n: usize, seed: u64) -> Split {
    let len = train.len();
    let n = n.min(len);
    if n == 0 {
        return Split::default();
    }
    let mut order: Vec<usize> = (0..len).collect();
    SplitMix64::new(seed ^ SALT).shuffle(&mut order);
    let mut held = vec![false; len];
    for &i in &order[..n] {
        held[i] = true;
    }
    let (mut kept, mut out) = (Split::default(), Split::default());
    for (i, &h) in held.iter().enumerate() {
        let to = if h { &mut out } else { &mut kept };
        to.images.extend_from_slice(train.image(i));
        to.labels.push(train.labels[i]);
    }
    *train = kept;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    /// `n` images, each filled with its own index (mod 256) and labelled by it mod 10.
    fn numbered(n: usize) -> Split {
        let mut s = Split::default();
        for i in 0..n {
            s.images
                .extend(std::iter::repeat_n((i % 256) as u8, IMAGE_PIXELS));
            s.labels.push((i % 10) as u8);
        }
        s
    }

    fn ids(s: &Split) -> Vec<u8> {
        (0..s.len()).map(|i| s.image(i)[0]).collect()
    }

    #[test]
    fn the_split_is_fixed_by_the_seed_and_disjoint() {
        let mut a = numbered(200);
        let va = hold_out(&mut a, 30, 42);
        let mut b = numbered(200);
        let vb = hold_out(&mut b, 30, 42);
        assert_eq!((va.len(), a.len()), (30, 170));
        assert_eq!(va, vb, "the same images for the same seed");
        assert_eq!(a, b);
        // Disjoint, and together the whole set, each in the dataset's order.
        let (held, kept) = (ids(&va), ids(&a));
        assert!(held.iter().all(|i| !kept.contains(i)));
        let mut all: Vec<u8> = held.iter().chain(&kept).copied().collect();
        all.sort_unstable();
        assert_eq!(all, ids(&numbered(200)));
        assert!(held.windows(2).all(|w| w[0] < w[1]));
        assert!(kept.windows(2).all(|w| w[0] < w[1]));
        // Labels travel with their images.
        for s in [&va, &a] {
            for i in 0..s.len() {
                assert_eq!(s.labels[i], s.image(i)[0] % 10);
            }
        }
        // Another seed, other images; a smaller hold-out is part of the larger one.
        let mut c = numbered(200);
        assert_ne!(ids(&hold_out(&mut c, 30, 7)), held);
        let mut d = numbered(200);
        let small = ids(&hold_out(&mut d, 10, 42));
        assert!(small.iter().all(|i| held.contains(i)));
    }

    #[test]
    fn nothing_or_everything() {
        let mut a = numbered(5);
        assert!(hold_out(&mut a, 0, 1).is_empty());
        assert_eq!(a.len(), 5);
        let all = hold_out(&mut a, 9, 1);
        assert_eq!((all.len(), a.len()), (5, 0));
        let mut empty = Split::default();
        assert!(hold_out(&mut empty, 3, 1).is_empty());
    }
}
