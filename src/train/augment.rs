//! Data augmentation on a whole batch as tensors, on the batch's device: a random
//! horizontal flip per image, a random translation by up to N pixels with zero fill, and
//! cutout (a square of black pixels at a random place, which may reach past the border).
//! The draws come from the trainer's own generator seeded by (seed, step), so a resumed
//! run augments its batches exactly as an uninterrupted one, on any device.

use tch::{Kind, Tensor};

use crate::config::Data;
use crate::rng::{step_seed, SplitMix64};

/// Mixed into the run's seed so that augmentation draws differ from dropout's.
const AUGMENT_SALT: u64 = 0xA06_0E47;
/// ... and the cutout centres from a generator of their own, so that turning cutout on
/// leaves the flips and shifts of every image as they were.
const CUTOUT_SALT: u64 = 0xC07_C07;

/// What to do to each training batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Augment {
    /// Mirror each image left–right with probability ½.
    pub flip: bool,
    /// Shift each image by a whole number of pixels in `-translate..=translate` along
    /// each axis, filling with zeros.
    pub translate: i64,
    /// Black out a `cutout`×`cutout` square of each image (after the shift), centred on a
    /// pixel drawn uniformly from the whole image; 0 = off.
    pub cutout: i64,
}

/// One image's draw: mirrored or not, its shift (rows, columns), and the centre of its
/// cutout square (row, column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Draw {
    flip: bool,
    dy: i64,
    dx: i64,
    cy: i64,
    cx: i64,
}

impl Augment {
    /// The augmentation the `[data]` settings ask for.
    pub fn of(data: &Data) -> Augment {
        Augment {
            flip: data.flip,
            translate: data.translate as i64,
            cutout: data.cutout as i64,
        }
    }

    /// The same, without the translation (before `data.translate_from`).
    pub fn without_shifts(self) -> Augment {
        Augment {
            translate: 0,
            ..self
        }
    }

    pub fn is_off(&self) -> bool {
        !self.flip && self.translate == 0 && self.cutout == 0
    }

    /// Each image's draw for a batch of `n` images of `h`×`w` pixels.
    fn draws(&self, n: usize, (h, w): (i64, i64), seed: u64, step: i64) -> Vec<Draw> {
        let mut rng = SplitMix64::new(step_seed(seed ^ AUGMENT_SALT, step) as u64);
        let mut centres = SplitMix64::new(step_seed(seed ^ CUTOUT_SALT, step) as u64);
        let span = 2 * self.translate as u64 + 1;
        (0..n)
            .map(|_| {
                let flip = self.flip && rng.next_u64() & 1 == 1;
                let dy = rng.below(span) as i64 - self.translate;
                let dx = rng.below(span) as i64 - self.translate;
                let (cy, cx) = if self.cutout > 0 {
                    let cy = centres.below(h as u64) as i64;
                    (cy, centres.below(w as u64) as i64)
                } else {
                    (0, 0)
                };
                Draw {
                    flip,
                    dy,
                    dx,
                    cy,
                    cx,
                }
            })
            .collect()
    }

    /// `xs` (`[N, C, H, W]`, floats) augmented with the draws of optimiser step `step` of a
    /// run seeded with `seed`. Returns `xs` itself when augmentation is off.
    pub fn apply(&self, xs: &Tensor, seed: u64, step: i64) -> Tensor {
        if self.is_off() {
            return xs.shallow_clone();
        }
        let size = xs.size();
        let (n, h, w) = (size[0], size[2], size[3]);
        let draws = self.draws(n as usize, (h, w), seed, step);
        let device = xs.device();
        let mut out = xs.shallow_clone();
        if self.flip {
            let mask: Vec<bool> = draws.iter().map(|d| d.flip).collect();
            let mask = Tensor::from_slice(&mask)
                .to_device(device)
                .view([n, 1, 1, 1]);
            out = out.flip([3]).where_self(&mask, &out);
        }
        let t = self.translate;
        if t > 0 {
            // Pad with zeros, then gather each image's window: rows dy + t + 0..h and
            // columns dx + t + 0..w of the padded image.
            let padded = out.constant_pad_nd([t, t, t, t]);
            let offsets = |f: fn(&Draw) -> i64, len: i64| {
                let base: Vec<i64> = draws.iter().map(|d| f(d) + t).collect();
                Tensor::from_slice(&base)
                    .to_device(device)
                    .view([n, 1, 1, 1])
                    + Tensor::arange(len, (Kind::Int64, device))
            };
            let c = size[1];
            let rows = offsets(|d| d.dy, h)
                .view([n, 1, h, 1])
                .expand([n, c, h, w + 2 * t], true);
            let cols = offsets(|d| d.dx, w)
                .view([n, 1, 1, w])
                .expand([n, c, h, w], true);
            out = padded.gather(2, &rows, false).gather(3, &cols, false);
        }
        let s = self.cutout;
        if s > 0 {
            // Image i's hole: rows cy - s/2 .. cy - s/2 + s, columns likewise, as a
            // [N, 1, H, W] mask built from one row test and one column test per image.
            let span = |f: fn(&Draw) -> i64, len: i64| {
                let first: Vec<i64> = draws.iter().map(|d| f(d) - s / 2).collect();
                let first = Tensor::from_slice(&first).to_device(device).view([n, 1]);
                let at = Tensor::arange(len, (Kind::Int64, device)).view([1, len]);
                at.ge_tensor(&first)
                    .logical_and(&at.lt_tensor(&(first + s)))
            };
            let hole = span(|d| d.cy, h)
                .view([n, 1, h, 1])
                .logical_and(&span(|d| d.cx, w).view([n, 1, 1, w]));
            out = out.masked_fill(&hole, 0.0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn batch(n: i64) -> Tensor {
        // Distinct, positive pixels so that zeros can only come from the fill.
        Tensor::arange(n * 28 * 28, (Kind::Float, Device::Cpu)).view([n, 1, 28, 28]) + 1.0
    }

    #[test]
    fn the_data_settings_say_what_to_do() {
        let data = Data {
            flip: true,
            translate: 3,
            cutout: 5,
            ..Data::default()
        };
        let want = Augment {
            flip: true,
            translate: 3,
            cutout: 5,
        };
        assert_eq!(Augment::of(&data), want);
        assert!(Augment::of(&Data::default()).is_off());
    }

    #[test]
    fn off_returns_the_batch() {
        let xs = batch(3);
        assert!(Augment::default().apply(&xs, 1, 0).equal(&xs));
    }

    #[test]
    fn shapes_are_kept_and_the_same_seed_and_step_give_the_same_batch() {
        let aug = Augment {
            flip: true,
            translate: 2,
            cutout: 8,
        };
        let xs = batch(16);
        let a = aug.apply(&xs, 7, 5);
        assert_eq!(a.size(), xs.size());
        assert!(a.equal(&aug.apply(&xs, 7, 5)));
        assert!(!a.equal(&aug.apply(&xs, 7, 6)));
        assert!(!a.equal(&aug.apply(&xs, 8, 5)));
    }

    #[test]
    fn a_flip_is_a_mirror() {
        let aug = Augment {
            flip: true,
            translate: 0,
            cutout: 0,
        };
        let xs = batch(32);
        let out = aug.apply(&xs, 3, 1);
        let draws = aug.draws(32, (28, 28), 3, 1);
        assert!(draws.iter().any(|d| d.flip) && draws.iter().any(|d| !d.flip));
        for (i, d) in draws.iter().enumerate() {
            let want = if d.flip {
                xs.get(i as i64).flip([2])
            } else {
                xs.get(i as i64)
            };
            assert!(out.get(i as i64).equal(&want), "image {i}");
        }
    }

    #[test]
    fn translation_shifts_and_fills_with_zeros() {
        let aug = Augment {
            flip: false,
            translate: 2,
            cutout: 0,
        };
        let xs = batch(40);
        let out = aug.apply(&xs, 11, 3);
        for (i, d) in aug.draws(40, (28, 28), 11, 3).iter().enumerate() {
            let (src, dst) = (xs.get(i as i64).get(0), out.get(i as i64).get(0));
            for y in 0..28i64 {
                for x in 0..28i64 {
                    let (sy, sx) = (y + d.dy, x + d.dx);
                    let want = if (0..28).contains(&sy) && (0..28).contains(&sx) {
                        src.double_value(&[sy, sx])
                    } else {
                        0.0
                    };
                    assert_eq!(dst.double_value(&[y, x]), want, "image {i} at ({y}, {x})");
                }
            }
        }
        // Every shift in -2..=2 occurs in 40 draws, both ways.
        let draws = aug.draws(40, (28, 28), 11, 3);
        assert!(draws.iter().any(|d| d.dy == -2) && draws.iter().any(|d| d.dx == 2));
    }

    #[test]
    fn cutout_blacks_out_a_square_clipped_at_the_border_and_keeps_the_rest() {
        let aug = Augment {
            flip: false,
            translate: 0,
            cutout: 6,
        };
        let xs = batch(50);
        let out = aug.apply(&xs, 5, 9);
        let draws = aug.draws(50, (28, 28), 5, 9);
        for (i, d) in draws.iter().enumerate() {
            let (src, dst) = (xs.get(i as i64).get(0), out.get(i as i64).get(0));
            let (rows, cols) = (d.cy - 3..d.cy + 3, d.cx - 3..d.cx + 3);
            let mut holes = 0;
            for y in 0..28i64 {
                for x in 0..28i64 {
                    let hole = rows.contains(&y) && cols.contains(&x);
                    holes += hole as i64;
                    let want = if hole { 0.0 } else { src.double_value(&[y, x]) };
                    assert_eq!(dst.double_value(&[y, x]), want, "image {i} at ({y}, {x})");
                }
            }
            let clip = |c: i64| (c + 3).min(28) - (c - 3).max(0);
            assert_eq!(holes, clip(d.cy) * clip(d.cx), "image {i}");
        }
        // Centres cover the image, so some squares are cut by the border.
        assert!(draws
            .iter()
            .any(|d| d.cy < 3 || d.cx < 3 || d.cy > 24 || d.cx > 24));
        assert!(draws
            .iter()
            .any(|d| (3..=24).contains(&d.cy) && (3..=24).contains(&d.cx)));
    }

    #[test]
    fn turning_cutout_on_keeps_the_flips_and_shifts() {
        let plain = Augment {
            flip: true,
            translate: 2,
            cutout: 0,
        };
        let cut = Augment { cutout: 8, ..plain };
        let strip = |ds: Vec<Draw>| -> Vec<_> { ds.iter().map(|d| (d.flip, d.dy, d.dx)).collect() };
        assert_eq!(
            strip(plain.draws(64, (28, 28), 4, 2)),
            strip(cut.draws(64, (28, 28), 4, 2))
        );
    }
}
