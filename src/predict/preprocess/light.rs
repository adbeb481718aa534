//! The background's light (steps 4 and 9): a smooth surface fitted by least squares to the
//! pixels taken as background ([`Surface`]), how a picture is evened by it, and the local
//! light that follows a shadow beside the object ([`local_light`]).

use super::filters::{box_blur, median_f32, robust_sigma};
use super::gray::Small;

/// The outer band of the picture first taken as background, as a share of its shorter edge.
const BAND: f64 = 0.05;
/// Background pixels are those within this many robust deviations of the fitted surface.
const BACKGROUND_SIGMAS: f64 = 3.0;

/// The background's light: b(u, v) = c0 + c1·u + c2·v + c3·u² + c4·u·v + c5·v², clamped
/// to the range it takes on the background (or, once a shadow is found, the light near
/// the object per analysis pixel), and how the picture is evened by it.
pub(super) struct Surface {
    c: [f64; 6],
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// The background's typical level, which evening brings every background pixel to.
    level: f64,
    multiplicative: bool,
    inverted: bool,
    /// The analysis pixels taken as background.
    pub(super) mask: Vec<bool>,
    /// The light near the object, per analysis pixel, when a shadow lies beside it.
    pub(super) local: Option<Vec<f32>>,
}

/// The surface along one row: b(u) = a + b·u + c·u².
pub(super) struct Row {
    a: f64,
    b: f64,
    c: f64,
    lo: f64,
    hi: f64,
}

impl Row {
    pub(super) fn at(&self, u: f64) -> f64 {
        (self.a + u * (self.b + u * self.c)).clamp(self.lo, self.hi)
    }
}

fn basis(u: f64, v: f64) -> [f64; 6] {
    [1.0, u, v, u * u, u * v, v * v]
}

impl Surface {
    /// The surface fitted to the analysis copy's background: from the median of the outer
    /// band, a plane on the band and then a quadratic on every pixel like background.
    pub(super) fn fit(small: &Small, multiplicative: bool, inverted: bool) -> Surface {
        let (w, h) = (small.w, small.h);
        let n = w * h;
        let band = ((BAND * w.min(h) as f64).round() as usize).max(1);
        let in_band: Vec<bool> = (0..n)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                x < band || y < band || x + band >= w || y + band >= h
            })
            .collect();
        let mut mask = in_band.clone();
        let mut c = [0.0; 6];
        c[0] = f64::from(median_f32(&small.px, &mask));
        let residual = |c: &[f64; 6], i: usize| {
            let b: f64 = basis(small.u[i % w], small.v[i / w])
                .iter()
                .zip(c)
                .map(|(x, k)| x * k)
                .sum();
            f64::from(small.px[i]) - b
        };
        // From the band's median: a plane on the band, robustly; then a quadratic on
        // everything like background.
        for round in 0..8 {
            let r: Vec<f32> = (0..n).map(|i| residual(&c, i) as f32).collect();
            let sigma = f64::from(robust_sigma(&r, &mask)).max(0.5);
            let keep = BACKGROUND_SIGMAS * sigma + 1.0;
            let next: Vec<bool> = (0..n)
                .map(|i| (round >= 3 || in_band[i]) && f64::from(r[i]).abs() <= keep)
                .collect();
            if next.iter().filter(|&&m| m).count() >= 12 {
                mask = next;
            }
            if round == 7 {
                break;
            }
            let terms = if round < 3 { 3 } else { 6 };
            if let Some(fitted) = least_squares(small, &mask, terms) {
                c = fitted;
            }
        }
        // Centred on the background's median, not its mean, so that the object's faintest
        // pixels (which the mask may still hold) do not lift it.
        let r: Vec<f32> = (0..n).map(|i| residual(&c, i) as f32).collect();
        c[0] += f64::from(median_f32(&r, &mask));
        let (mut lo, mut hi) = (0..n)
            .filter(|&i| mask[i])
            .map(|i| f64::from(small.px[i]) - residual(&c, i))
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        if lo > hi {
            (lo, hi) = (c[0], c[0]);
        }
        let level = f64::from(median_f32(&small.px, &mask));
        Surface {
            c,
            // Light brighter than 255 only saturates the picture: a clipped highlight is
            // background, not a dark object.
            lo: lo.clamp(1.0, 255.0),
            hi: hi.clamp(1.0, 255.0),
            level,
            multiplicative,
            inverted,
            mask,
            local: None,
        }
    }

    /// The fitted surface along the row at `v` (-1 to 1 down the picture).
    pub(super) fn row(&self, v: f64) -> Row {
        let c = &self.c;
        Row {
            a: c[0] + c[2] * v + c[5] * v * v,
            b: c[1] + c[4] * v,
            c: c[3],
            lo: self.lo,
            hi: self.hi,
        }
    }

    /// The fitted surface at analysis pixel `i`.
    pub(super) fn quadratic_small(&self, i: usize, small: &Small) -> f64 {
        self.row(small.v[i / small.w]).at(small.u[i % small.w])
    }

    /// The analysis copy evened (by the local light when there is one).
    pub(super) fn even_small(&self, small: &Small) -> Vec<f32> {
        (0..small.px.len())
            .map(|i| {
                let b = match &self.local {
                    Some(l) => f64::from(l[i]),
                    None => self.quadratic_small(i, small),
                };
                self.even_at(small.px[i], b)
            })
            .collect()
    }

    /// Gray value `g` where the background's light is `b`, as brightness above the
    /// background in the inverted sense.
    pub(super) fn even_at(&self, g: f32, b: f64) -> f32 {
        let g = f64::from(g);
        let c = if self.multiplicative {
            g * self.level / b
        } else {
            g - b + self.level
        };
        (if self.inverted {
            self.level - c
        } else {
            c - self.level
        }) as f32
    }

    /// A light difference `d` at analysis pixel `i` in evened units.
    pub(super) fn depth(&self, d: f64, i: usize, small: &Small) -> f64 {
        if self.multiplicative {
            d * self.level / self.quadratic_small(i, small).max(1.0)
        } else {
            d
        }
    }
}

/// Least squares over `mask` with the first `terms` of [`basis`]; `None` if there are too
/// few pixels or they do not determine the surface.
fn least_squares(small: &Small, mask: &[bool], terms: usize) -> Option<[f64; 6]> {
    let mut a = [[0f64; 7]; 6];
    let mut count = 0;
    for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
        let b = basis(small.u[i % small.w], small.v[i / small.w]);
        let g = f64::from(small.px[i]);
        for r in 0..terms {
            for c in 0..terms {
                a[r][c] += b[r] * b[c];
            }
            a[r][6] += b[r] * g;
        }
        count += 1;
    }
    if count < 4 * terms {
        return None;
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..terms {
        let pivot = (col..terms).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 * count as f64 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate().take(terms) {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    let mut out = [0f64; 6];
    for r in 0..terms {
        out[r] = a[r][6] / a[r][r];
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The background's light on the analysis copy, following shadows: the picture outside
/// `object` blurred by normalized convolution (a Gaussian of `sigma` pixels, as three box
/// blurs), leaning on the fitted surface where no background is near.
pub(super) fn local_light(
    small: &Small,
    surface: &Surface,
    object: &[bool],
    sigma: f64,
) -> Vec<f32> {
    let (w, h) = (small.w, small.h);
    let sigma = sigma.max(1.0);
    let r = (((12.0 * sigma * sigma / 3.0 + 1.0).sqrt() - 1.0) / 2.0)
        .round()
        .max(1.0) as usize;
    let mut num: Vec<f32> = (0..w * h)
        .map(|i| if object[i] { 0.0 } else { small.px[i] })
        .collect();
    let mut den: Vec<f32> = object.iter().map(|&o| if o { 0.0 } else { 1.0 }).collect();
    for _ in 0..3 {
        num = box_blur(&num, w, h, r);
        den = box_blur(&den, w, h, r);
    }
    // Box blurs' sums, so `den` is the (weighted) count of background pixels near.
    let full = ((2 * r + 1) * (2 * r + 1)) as f32;
    let lean = 0.02 * full.powi(3);
    (0..w * h)
        .map(|i| {
            let q = surface.quadratic_small(i, small) as f32;
            (num[i] + lean * q) / (den[i] + lean)
        })
        .collect()
}
