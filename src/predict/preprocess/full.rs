//! Step 10's first half: the full picture evened by the background's light found on the
//! analysis copy ([`Full`]), and the object's box refined on it, to the pixel.

use super::filters::robust_sigma;
use super::gray::Small;
use super::light::Surface;
use super::object::{Found, FAINT_SIGMAS};

/// The full picture, evened by the background's light.
pub(super) struct Full<'a> {
    pub(super) gray: &'a [u8],
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) surface: &'a Surface,
    /// The analysis copy's block size.
    pub(super) k: usize,
}

impl Full<'_> {
    /// Row `y` from column `x0` on, evened, into `out`.
    pub(super) fn even_row(&self, y: usize, x0: usize, out: &mut [f32]) {
        let s = self.surface;
        let src = &self.gray[y * self.w + x0..y * self.w + x0 + out.len()];
        match &s.local {
            None => {
                let row = s.row((y as f64 + 0.5) / self.h as f64 * 2.0 - 1.0);
                for (x, (o, &g)) in out.iter_mut().zip(src).enumerate() {
                    let u = ((x0 + x) as f64 + 0.5) / self.w as f64 * 2.0 - 1.0;
                    *o = s.even_at(f32::from(g), row.at(u));
                }
            }
            Some(local) => {
                // Bilinear between block centres.
                let (sw, sh) = (self.w.div_ceil(self.k), self.h.div_ceil(self.k));
                let k = self.k as f64;
                let fy = ((y as f64 + 0.5) / k - 0.5).clamp(0.0, (sh - 1) as f64);
                let (y0, ty) = (fy.floor() as usize, (fy - fy.floor()) as f32);
                let y1 = (y0 + 1).min(sh - 1);
                let (r0, r1) = (
                    &local[y0 * sw..(y0 + 1) * sw],
                    &local[y1 * sw..(y1 + 1) * sw],
                );
                for (x, (o, &g)) in out.iter_mut().zip(src).enumerate() {
                    let fx = (((x0 + x) as f64 + 0.5) / k - 0.5).clamp(0.0, (sw - 1) as f64);
                    let (c0, tx) = (fx.floor() as usize, (fx - fx.floor()) as f32);
                    let c1 = (c0 + 1).min(sw - 1);
                    let top = r0[c0] + (r0[c1] - r0[c0]) * tx;
                    let bottom = r1[c0] + (r1[c1] - r1[c0]) * tx;
                    *o = s.even_at(f32::from(g), f64::from(top + (bottom - top) * ty));
                }
            }
        }
    }

    /// Brightness above the background of pixel (x, y).
    fn at(&self, x: usize, y: usize) -> f32 {
        let mut one = [0f32];
        self.even_row(y, x, &mut one);
        one[0]
    }

    /// The noise of the full picture's background (robust deviation of a sample).
    fn noise(&self, small: &Small) -> f64 {
        let (sx, sy) = ((self.w / 96).max(1), (self.h / 96).max(1));
        let mut sample = Vec::new();
        for y in (0..self.h).step_by(sy) {
            for x in (0..self.w).step_by(sx) {
                if self.surface.mask[(y / small.k) * small.w + x / small.k] {
                    sample.push(self.at(x, y));
                }
            }
        }
        let all = vec![true; sample.len()];
        f64::from(robust_sigma(&sample, &all))
    }

    /// The box found on the analysis copy (block coordinates), its edges refined on the
    /// full picture: each moves, within a block either way, to the outermost row or column
    /// holding pixels above the full picture's noise. As (x0, y0, x1, y1), inclusive.
    pub(super) fn refine(&self, f: &Found, small: &Small) -> (usize, usize, usize, usize) {
        let (w, h, k) = (self.w, self.h, self.k);
        let noise = self.noise(small);
        let faint = (FAINT_SIGMAS * noise + 0.5) as f32;
        let need = if noise < 0.5 { 1 } else { 2 };
        let col = |x: usize, ys: (usize, usize)| {
            (ys.0..=ys.1).filter(|&y| self.at(x, y) > faint).count() >= need
        };
        let row = |y: usize, xs: (usize, usize)| {
            (xs.0..=xs.1).filter(|&x| self.at(x, y) > faint).count() >= need
        };
        // Coarse edges, and the window each may move in.
        let (cx0, cx1) = (f.x0 * k, ((f.x1 + 1) * k).min(w) - 1);
        let (cy0, cy1) = (f.y0 * k, ((f.y1 + 1) * k).min(h) - 1);
        let ys = (cy0.saturating_sub(k), (cy1 + k).min(h - 1));
        let x0 = (cx0.saturating_sub(k)..(cx0 + k).min(cx1 + 1))
            .find(|&x| col(x, ys))
            .unwrap_or(cx0);
        let x1 = (cx1.saturating_sub(k - 1).max(x0)..=(cx1 + k).min(w - 1))
            .rev()
            .find(|&x| col(x, ys))
            .unwrap_or(cx1)
            .max(x0);
        let y0 = (cy0.saturating_sub(k)..(cy0 + k).min(cy1 + 1))
            .find(|&y| row(y, (x0, x1)))
            .unwrap_or(cy0);
        let y1 = (cy1.saturating_sub(k - 1).max(y0)..=(cy1 + k).min(h - 1))
            .rev()
            .find(|&y| row(y, (x0, x1)))
            .unwrap_or(cy1)
            .max(y0);
        (x0, y0, x1, y1)
    }
}
