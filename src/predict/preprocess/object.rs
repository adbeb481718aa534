//! Steps 6–8: the object on an evened analysis copy ([`Evened::detect`]): the threshold,
//! the parts above it and which of them make the object, the sharp edges parts must lie
//! near, and the object's box ([`Found`]) grown through faint pixels; also the noise just
//! around the object ([`ring_noise`]).

use super::filters::{dilate, for_neighbours, median_f32, otsu, percentile, robust_sigma, running};

/// The threshold is at least this many noise deviations above the background…
pub(super) const NOISE_SIGMAS: f64 = 4.0;
/// …and at least this share of the object's brightness.
const CONTRAST_SHARE: f64 = 0.3;
/// Parts within this share of the object's long edge belong to it…
const NEAR: f64 = 0.1;
/// …and so do parts of at least BIG of the largest part's area within FAR of it…
const FAR: f64 = 0.5;
const BIG: f64 = 0.1;
/// …unless their area is under this share of the largest part's (specks).
const SPECK: f64 = 0.01;
/// Objects smaller than this many analysis pixels are noise.
const MIN_OBJECT: usize = 6;
/// Edges are sharp where the brightness changes, per dataset pixel, by this share of its
/// range within RANGE dataset pixels around…
const EDGE_SHARE: f64 = 0.35;
const RANGE: f64 = 3.0;
/// …and parts count within this many dataset pixels of a sharp edge.
const SUPPORT: f64 = 0.75;
/// Faint pixels are this many noise deviations above the background…
pub(super) const FAINT_SIGMAS: f64 = 3.5;
/// …and, for the box to grow into them, at least this share of the object's brightness,
pub(super) const FAINT_SHARE: f64 = 0.08;
/// by at most this share of its long edge per side (CLEAN_GROW without a shadow).
pub(super) const GROW: f64 = 0.05;
pub(super) const CLEAN_GROW: f64 = 0.15;
/// Specks within a dataset pixel of a clean picture's object belong to it when this many
/// noise deviations above the background.
pub(super) const SPECK_SIGMAS: f64 = 4.5;

/// The object's box on the analysis copy, in block coordinates (inclusive), and how many
/// parts make it and how many specks were left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Found {
    pub(super) x0: usize,
    pub(super) y0: usize,
    pub(super) x1: usize,
    pub(super) y1: usize,
    pub(super) parts: usize,
    pub(super) specks: usize,
}

impl Found {
    /// The box of the one pixel (x, y).
    fn at(x: usize, y: usize) -> Found {
        Found {
            x0: x,
            y0: y,
            x1: x,
            y1: y,
            parts: 1,
            specks: 0,
        }
    }
    /// The long edge of the box, in analysis pixels.
    pub(super) fn long(&self) -> f64 {
        (self.x1 - self.x0 + 1).max(self.y1 - self.y0 + 1) as f64
    }
    /// One dataset pixel, in analysis pixels.
    pub(super) fn cell(&self) -> f64 {
        (self.long() / 28.0).max(1.0)
    }
    pub(super) fn contains(&self, x: usize, y: usize) -> bool {
        (self.x0..=self.x1).contains(&x) && (self.y0..=self.y1).contains(&y)
    }
    /// The box grown by `m` on each side (not clipped).
    pub(super) fn grown(&self, m: usize) -> Found {
        Found {
            x0: self.x0.saturating_sub(m),
            y0: self.y0.saturating_sub(m),
            x1: self.x1 + m,
            y1: self.y1 + m,
            ..*self
        }
    }
    /// Grows the box to take in pixel (x, y).
    fn take_in(&mut self, x: usize, y: usize) {
        self.x0 = self.x0.min(x);
        self.x1 = self.x1.max(x);
        self.y0 = self.y0.min(y);
        self.y1 = self.y1.max(y);
    }
    /// Grows the box to take in the box `o`.
    fn join(&mut self, o: &Found) {
        self.x0 = self.x0.min(o.x0);
        self.x1 = self.x1.max(o.x1);
        self.y0 = self.y0.min(o.y0);
        self.y1 = self.y1.max(o.y1);
    }
}

/// How the object is searched for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Search {
    /// Parts must lie near sharp edges (the box found so keeps out soft shading).
    Supported,
    /// Every part counts; the box takes in faint parts near it that are not specks, and
    /// specks above `speck` within a dataset pixel (a clean picture's faintest pixels).
    Clean { speck: f64 },
    /// Every part counts (how far what stands out reaches).
    Plain,
}

/// An evened analysis copy, smoothed, and what is known of its noise.
#[derive(Clone, Copy)]
pub(super) struct Evened<'a> {
    pub(super) even: &'a [f32],
    pub(super) smooth: &'a [f32],
    pub(super) w: usize,
    pub(super) h: usize,
    /// The pixels taken as background.
    pub(super) background: &'a [bool],
    /// The robust deviation of the smoothed copy's background, and of the copy's.
    pub(super) noise: f64,
    pub(super) raw_noise: f64,
}

/// What the object search found.
pub(super) struct Detection {
    pub(super) found: Option<Found>,
    /// The pixels on sharp edges (searches near sharp edges only; else none).
    pub(super) edges: Vec<bool>,
    /// The object's brightness: the 99th percentile of what stands above the noise.
    pub(super) peak: f64,
}

/// The 8-connected parts of the smoothed copy above a threshold.
struct Parts {
    /// Each pixel's part (an index into `boxes`), `u32::MAX` for none.
    label: Vec<u32>,
    boxes: Vec<Found>,
    areas: Vec<usize>,
}

impl Parts {
    /// The part `largest` and the parts near it (again and again, as the box grows): which
    /// parts are kept, and their box.
    fn merge(&self, largest: usize) -> (Vec<bool>, Found) {
        let mut kept = vec![false; self.boxes.len()];
        kept[largest] = true;
        let mut b = self.boxes[largest];
        let largest_area = self.areas[largest] as f64;
        let min_area = (SPECK * largest_area).max(1.0);
        loop {
            let long = b.long();
            let near = (NEAR * long).ceil() as usize + 1;
            let far = (FAR * long).ceil() as usize + 1;
            let mut grew = false;
            for (i, q) in self.boxes.iter().enumerate() {
                let area = self.areas[i] as f64;
                if kept[i] || area < min_area {
                    continue;
                }
                let gap_x = q.x0.saturating_sub(b.x1).max(b.x0.saturating_sub(q.x1));
                let gap_y = q.y0.saturating_sub(b.y1).max(b.y0.saturating_sub(q.y1));
                let gap = gap_x.max(gap_y);
                if gap <= near || (area >= BIG * largest_area && gap <= far) {
                    kept[i] = true;
                    b.join(q);
                    grew = true;
                }
            }
            if !grew {
                return (kept, b);
            }
        }
    }
}

impl Evened<'_> {
    /// Steps 6–8: the threshold, the parts that make the object and its box, grown through
    /// faint pixels (`faint_share` of the object's brightness at least) by `grow` of its long
    /// edge at most.
    pub(super) fn detect(&self, grow: f64, faint_share: f64, search: Search) -> Detection {
        let (w, h) = (self.w, self.h);
        let floor = NOISE_SIGMAS * self.noise + 1.0;
        let standing: Vec<f32> = self
            .smooth
            .iter()
            .copied()
            .filter(|&v| f64::from(v) > floor)
            .collect();
        let peak = percentile(&standing, 0.99);
        let threshold = otsu(self.smooth).max(floor).max(CONTRAST_SHARE * peak);
        let faint = (FAINT_SIGMAS * self.raw_noise + 0.5).max(faint_share * peak);
        let speck = match search {
            Search::Clean { speck } => Some(speck),
            _ => None,
        };
        let plain = self.object_box(threshold, faint, None, grow, speck);
        let mut edges = Vec::new();
        let found = match (search, plain) {
            (Search::Supported, Some(f)) => {
                edges = sharp_edges(self.smooth, w, h, self.background, &f, peak);
                let support = dilate(&edges, w, h, (SUPPORT * f.cell()).ceil() as usize);
                Some(
                    self.object_box(threshold, faint, Some(&support), grow, None)
                        .unwrap_or(f),
                )
            }
            (_, plain) => plain,
        };
        Detection { found, edges, peak }
    }

    /// The parts of the smoothed copy above `threshold` (and, if given, `allowed`) that
    /// make the object, their box grown through the pixels of the copy above `faint`
    /// connected to them by `grow` of its long edge at most; with `speck`, a clean
    /// picture's faint parts and specks too. `None` when nothing stands out.
    fn object_box(
        &self,
        threshold: f64,
        faint: f64,
        allowed: Option<&[bool]>,
        grow: f64,
        speck: Option<f64>,
    ) -> Option<Found> {
        let ok = |i: usize| allowed.is_none_or(|a| a[i]);
        let parts = self.parts(threshold as f32, &ok);
        let largest = (0..parts.boxes.len()).max_by_key(|&i| parts.areas[i])?;
        if parts.areas[largest] < MIN_OBJECT {
            return None;
        }
        let (kept, b) = parts.merge(largest);
        let n_kept = kept.iter().filter(|&&k| k).count();
        // Faint edges: flood from the kept parts through pixels above `faint`, within the
        // limit.
        let long = b.long();
        let limit = b.grown((grow * long).ceil() as usize);
        let f = faint as f32;
        let (mut g, mut seen) = self.grow_faint(&parts, &kept, b, &limit, f, &ok);
        if let Some(speck) = speck {
            let min_area = (SPECK * parts.areas[largest] as f64).max(2.0);
            g = self.faint_parts(g, &mut seen, f, min_area);
            g = self.near_specks(g, long, speck);
        }
        Some(Found {
            parts: n_kept,
            specks: parts.boxes.len() - n_kept,
            ..g
        })
    }

    /// The 8-connected parts of the smoothed copy above `t` where `ok`.
    fn parts(&self, t: f32, ok: &impl Fn(usize) -> bool) -> Parts {
        let (w, h, smooth) = (self.w, self.h, self.smooth);
        let mut label = vec![u32::MAX; w * h];
        let mut boxes: Vec<Found> = Vec::new();
        let mut areas: Vec<usize> = Vec::new();
        let mut stack = Vec::new();
        for start in 0..w * h {
            if smooth[start] <= t || label[start] != u32::MAX || !ok(start) {
                continue;
            }
            let id = boxes.len() as u32;
            let mut p = Found::at(start % w, start / w);
            let mut area = 0;
            label[start] = id;
            stack.push(start);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % w, i / w);
                area += 1;
                p.take_in(x, y);
                for_neighbours(x, y, w, h, |j| {
                    if smooth[j] > t && label[j] == u32::MAX && ok(j) {
                        label[j] = id;
                        stack.push(j);
                    }
                });
            }
            boxes.push(p);
            areas.push(area);
        }
        Parts {
            label,
            boxes,
            areas,
        }
    }

    /// The box `b` of the `kept` parts grown through the pixels of the copy above `f` (and
    /// `ok`) connected to them within `limit`, and the pixels so reached.
    fn grow_faint(
        &self,
        parts: &Parts,
        kept: &[bool],
        b: Found,
        limit: &Found,
        f: f32,
        ok: &impl Fn(usize) -> bool,
    ) -> (Found, Vec<bool>) {
        let (w, h, even) = (self.w, self.h, self.even);
        let mut seen = vec![false; w * h];
        let mut stack = Vec::new();
        for (i, &l) in parts.label.iter().enumerate() {
            if l != u32::MAX && kept[l as usize] {
                seen[i] = true;
                stack.push(i);
            }
        }
        let mut g = b;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            g.take_in(x, y);
            for_neighbours(x, y, w, h, |j| {
                if !seen[j] && even[j] > f && ok(j) && limit.contains(j % w, j / w) {
                    seen[j] = true;
                    stack.push(j);
                }
            });
        }
        (g, seen)
    }

    /// A clean picture's faint parts (above `f`, not yet `seen`) near the box `g` belong to
    /// it (a faint toe or strap), again and again as it grows, unless they are specks
    /// (under `min_area`).
    fn faint_parts(&self, mut g: Found, seen: &mut [bool], f: f32, min_area: f64) -> Found {
        let (w, h, even) = (self.w, self.h, self.even);
        loop {
            let reach = (NEAR * g.long()).ceil() as usize + 1;
            let (rx0, ry0) = (g.x0.saturating_sub(reach), g.y0.saturating_sub(reach));
            let (rx1, ry1) = ((g.x1 + reach).min(w - 1), (g.y1 + reach).min(h - 1));
            let mut grew = false;
            for y in ry0..=ry1 {
                for x in rx0..=rx1 {
                    let start = y * w + x;
                    if seen[start] || even[start] <= f {
                        continue;
                    }
                    let mut part = vec![start];
                    seen[start] = true;
                    let mut q = Found::at(x, y);
                    let mut k = 0;
                    while k < part.len() {
                        let i = part[k];
                        k += 1;
                        let (px, py) = (i % w, i / w);
                        q.take_in(px, py);
                        for_neighbours(px, py, w, h, |j| {
                            if !seen[j] && even[j] > f {
                                seen[j] = true;
                                part.push(j);
                            }
                        });
                    }
                    if part.len() as f64 >= min_area {
                        g.join(&q);
                        grew = true;
                    }
                }
            }
            if !grew {
                return g;
            }
        }
    }

    /// The box `g` grown to take in the pixels above `speck` within a dataset pixel (of an
    /// object `long` analysis pixels long) around it, as in the dataset's own images (their
    /// boxes hold every pixel the trimming left).
    fn near_specks(&self, g: Found, long: f64, speck: f64) -> Found {
        let (w, h) = (self.w, self.h);
        let reach = (long / 28.0).ceil() as usize;
        let around = g.grown(reach);
        let mut out = g;
        for y in around.y0..=around.y1.min(h - 1) {
            for x in around.x0..=around.x1.min(w - 1) {
                if !g.contains(x, y) && self.even[y * w + x] > speck as f32 {
                    out.take_in(x, y);
                }
            }
        }
        out
    }
}

/// The pixels on sharp edges: where the brightness changes, per dataset pixel (`f`'s long
/// edge / 28), by at least EDGE_SHARE of its range within RANGE dataset pixels around,
/// above the background's own gradients and in a range above FAINT_SHARE of `peak`.
fn sharp_edges(
    smooth: &[f32],
    w: usize,
    h: usize,
    background: &[bool],
    f: &Found,
    peak: f64,
) -> Vec<bool> {
    let cell = f.cell();
    let at = |x: isize, y: isize| {
        smooth[(y.clamp(0, h as isize - 1) as usize) * w + x.clamp(0, w as isize - 1) as usize]
    };
    let grad: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            let gx = (at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1))
                - (at(x - 1, y - 1) + 2.0 * at(x - 1, y) + at(x - 1, y + 1));
            let gy = (at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1))
                - (at(x - 1, y - 1) + 2.0 * at(x, y - 1) + at(x + 1, y - 1));
            (gx * gx + gy * gy).sqrt() / 8.0
        })
        .collect();
    let still = f64::from(median_f32(&grad, background) + 5.0 * robust_sigma(&grad, background));
    let r = (RANGE * cell).ceil() as usize;
    let hi = running(smooth, w, h, r, f32::max);
    let lo = running(smooth, w, h, r, f32::min);
    let floor = (FAINT_SHARE * peak) as f32;
    (0..w * h)
        .map(|i| {
            let g = grad[i];
            let range = hi[i] - lo[i].max(0.0);
            f64::from(g) > still && g * cell as f32 >= EDGE_SHARE as f32 * range && range > floor
        })
        .collect()
}

/// The noise in a ring two to four dataset pixels around the box `f`, as the deviation of
/// a gaussian whose 90th percentile of magnitudes is the ring's (leaving out what is
/// brighter than a tenth of the object's brightness `peak`: the object's own parts).
pub(super) fn ring_noise(even: &[f32], w: usize, h: usize, f: &Found, peak: f64) -> f64 {
    let cell = f.cell();
    let (inner, outer) = (
        f.grown((2.0 * cell).ceil() as usize),
        f.grown((4.0 * cell).ceil() as usize),
    );
    let mut ring = Vec::new();
    for y in outer.y0..=outer.y1.min(h - 1) {
        for x in outer.x0..=outer.x1.min(w - 1) {
            let v = even[y * w + x].abs();
            if !inner.contains(x, y) && f64::from(v) < 0.1 * peak {
                ring.push(v);
            }
        }
    }
    percentile(&ring, 0.9) / 1.645
}
