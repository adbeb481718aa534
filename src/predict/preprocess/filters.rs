//! Image filters and robust statistics on plain row-major buffers, as the other steps use
//! them: medians, the robust deviation, percentiles, 3×3 smoothing, Otsu's threshold, box
//! blurs, running extremes, dilation, hole filling and the pixel neighbourhoods.

/// The four neighbours' offsets (4-connectivity).
pub(super) const FOUR: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];

/// The median of gray values (the upper one of an even count).
pub(super) fn median(values: &[u8]) -> u8 {
    let mut counts = [0usize; 256];
    for &v in values {
        counts[v as usize] += 1;
    }
    let half = values.len() / 2;
    let mut seen = 0;
    for (v, &n) in counts.iter().enumerate() {
        seen += n;
        if seen > half {
            return v as u8;
        }
    }
    0
}

/// The median of `values` over `mask` (over all of them when the mask holds none).
pub(super) fn median_f32(values: &[f32], mask: &[bool]) -> f32 {
    let mut v: Vec<f32> = values
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&x, _)| x)
        .collect();
    if v.is_empty() {
        v = values.to_vec();
    }
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, f32::total_cmp).1
}

/// 1.4826 × the median absolute deviation from the median, over `mask`.
pub(super) fn robust_sigma(values: &[f32], mask: &[bool]) -> f32 {
    let m = median_f32(values, mask);
    let dev: Vec<f32> = values.iter().map(|v| (v - m).abs()).collect();
    1.4826 * median_f32(&dev, mask)
}

/// The `q` quantile (0..=1) of `values`.
pub(super) fn percentile(values: &[f32], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    let at = ((v.len() - 1) as f64 * q).round() as usize;
    f64::from(*v.select_nth_unstable_by(at, f32::total_cmp).1)
}

/// 3×3 binomial smoothing, edges repeated.
pub(super) fn smooth3(px: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut tmp = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let l = px[y * w + x.saturating_sub(1)];
            let r = px[y * w + (x + 1).min(w - 1)];
            tmp[y * w + x] = (l + 2.0 * px[y * w + x] + r) / 4.0;
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let u = tmp[y.saturating_sub(1) * w + x];
            let d = tmp[(y + 1).min(h - 1) * w + x];
            out[y * w + x] = (u + 2.0 * tmp[y * w + x] + d) / 4.0;
        }
    }
    out
}

/// Otsu's threshold of the positive values.
pub(super) fn otsu(values: &[f32]) -> f64 {
    let top = values.iter().copied().fold(0f32, f32::max);
    if top <= 0.0 {
        return 0.0;
    }
    let bins = 256;
    let mut hist = vec![0f64; bins];
    for &v in values {
        let b = ((v.max(0.0) / top) * (bins - 1) as f32).round() as usize;
        hist[b.min(bins - 1)] += 1.0;
    }
    let total: f64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, n)| i as f64 * n).sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0.0, 0.0, -1.0, 0);
    for (t, &n) in hist.iter().enumerate() {
        w0 += n;
        sum0 += t as f64 * n;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t;
        }
    }
    (best_t as f64 + 0.5) / (bins - 1) as f64 * f64::from(top)
}

/// `mask` with its holes filled: every pixel the picture's border cannot reach
/// (4-connected) through pixels outside the mask.
pub(super) fn fill_holes(mask: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut outside = vec![false; w * h];
    let mut stack: Vec<usize> = (0..w * h)
        .filter(|&i| {
            let (x, y) = (i % w, i / w);
            (x == 0 || y == 0 || x + 1 == w || y + 1 == h) && !mask[i]
        })
        .collect();
    for &i in &stack {
        outside[i] = true;
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        for j in FOUR.into_iter().filter_map(|d| step(x, y, d, w, h)) {
            if !outside[j] && !mask[j] {
                outside[j] = true;
                stack.push(j);
            }
        }
    }
    outside.iter().map(|&o| !o).collect()
}

/// Sums over a (2r+1)² square (zero outside the picture).
pub(super) fn box_blur(px: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let pass = |src: &[f32], len: usize, lines: usize, idx: &dyn Fn(usize, usize) -> usize| {
        let mut out = vec![0f32; src.len()];
        let mut prefix = vec![0f64; len + 1];
        for l in 0..lines {
            for i in 0..len {
                prefix[i + 1] = prefix[i] + f64::from(src[idx(l, i)]);
            }
            for i in 0..len {
                let (a, b) = (i.saturating_sub(r), (i + r + 1).min(len));
                out[idx(l, i)] = (prefix[b] - prefix[a]) as f32;
            }
        }
        out
    };
    let rows = pass(px, w, h, &|l, i| l * w + i);
    pass(&rows, h, w, &|l, i| i * w + l)
}

/// The maximum (or minimum, as `pick` says) over a (2r+1)² square around each pixel
/// (van Herk / Gil-Werman: block-wise prefix and suffix extremes, rows then columns).
pub(super) fn running(
    px: &[f32],
    w: usize,
    h: usize,
    r: usize,
    pick: fn(f32, f32) -> f32,
) -> Vec<f32> {
    let block = 2 * r + 1;
    let pass = |src: &[f32], len: usize, lines: usize, idx: &dyn Fn(usize, usize) -> usize| {
        let mut out = vec![0f32; src.len()];
        let mut line = vec![0f32; len];
        for l in 0..lines {
            for (i, v) in line.iter_mut().enumerate() {
                *v = src[idx(l, i)];
            }
            let mut pre = line.clone();
            let mut suf = line.clone();
            for i in 1..len {
                if i % block != 0 {
                    pre[i] = pick(pre[i - 1], line[i]);
                }
            }
            for i in (0..len.saturating_sub(1)).rev() {
                if (i + 1) % block != 0 {
                    suf[i] = pick(suf[i + 1], line[i]);
                }
            }
            for i in 0..len {
                let (a, b) = (i.saturating_sub(r), (i + r).min(len - 1));
                out[idx(l, i)] = if a / block != b / block {
                    pick(suf[a], pre[b])
                } else if a % block == 0 {
                    pre[b]
                } else {
                    suf[a]
                };
            }
        }
        out
    };
    let rows = pass(px, w, h, &|l, i| l * w + i);
    pass(&rows, h, w, &|l, i| i * w + l)
}

/// `mask` dilated by a (2r+1)² square.
pub(super) fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let pass = |src: &[bool], len: usize, lines: usize, idx: &dyn Fn(usize, usize) -> usize| {
        let mut out = vec![false; src.len()];
        let mut prefix = vec![0u32; len + 1];
        for l in 0..lines {
            for i in 0..len {
                prefix[i + 1] = prefix[i] + u32::from(src[idx(l, i)]);
            }
            for i in 0..len {
                let (a, b) = (i.saturating_sub(r), (i + r + 1).min(len));
                out[idx(l, i)] = prefix[b] > prefix[a];
            }
        }
        out
    };
    let rows = pass(mask, w, h, &|l, i| l * w + i);
    pass(&rows, h, w, &|l, i| i * w + l)
}

/// The index of pixel (x, y)'s neighbour one step in direction `d` (one of [`FOUR`]),
/// when it lies within the `w`×`h` picture.
pub(super) fn step(x: usize, y: usize, d: (isize, isize), w: usize, h: usize) -> Option<usize> {
    let (nx, ny) = (x.checked_add_signed(d.0)?, y.checked_add_signed(d.1)?);
    (nx < w && ny < h).then(|| ny * w + nx)
}

/// Calls `f` with the index of each of pixel (x, y)'s eight neighbours in the picture.
pub(super) fn for_neighbours(x: usize, y: usize, w: usize, h: usize, mut f: impl FnMut(usize)) {
    for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
        for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
            if nx != x || ny != y {
                f(ny * w + nx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::running;

    #[test]
    fn running_extremes_match_brute_force() {
        let (w, h) = (23, 17);
        let px: Vec<f32> = (0..w * h).map(|i| ((i * 7919) % 101) as f32).collect();
        for r in 0..9 {
            let hi = running(&px, w, h, r, f32::max);
            for y in 0..h {
                for x in 0..w {
                    let mut m = f32::MIN;
                    for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                        for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                            m = m.max(px[yy * w + xx]);
                        }
                    }
                    assert_eq!(hi[y * w + x], m, "r {r} ({x},{y})");
                }
            }
        }
    }
}
