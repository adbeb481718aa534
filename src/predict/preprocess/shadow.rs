//! Step 9: a soft shadow beside the object. Whether what stands out reaches beyond the
//! object's sharp edges and fades out softly there ([`shadow_light`]), which regions are
//! the object and which are shadow, and the background's light near the object with the
//! object left out.

use super::filters::{dilate, fill_holes, step, FOUR};
use super::gray::Small;
use super::light::{local_light, Surface};
use super::object::{Detection, Evened, Found, Search, FAINT_SIGMAS};

/// What stands out, for finding shadows, is what is this share of the object's brightness
/// above the background (or FAINT_SIGMAS noise deviations).
const SHADOW_FAINT: f64 = 0.02;
/// A shadow reaches this share of the object's long edge beyond the sharp edges' box…
const SHADOW_REACH: f64 = 0.06;
/// …and most of its outline (SOFT_SHARE) fades out: a dataset pixel further out, more than
/// FADE of the value is left.
const SOFT_SHARE: f64 = 0.5;
const FADE: f32 = 0.25;
/// A region between sharp edges is a shadow (not object) when softly outlined or when this
/// share of it lies outside the sharp edges' box…
const OUTSIDE_SHARE: f64 = 0.3;
/// …but never inside the sharp outline closed over gaps of this many dataset pixels.
const CLOSE: f64 = 2.5;
/// The object's margin kept out of the background's light, in dataset pixels.
const MARGIN: f64 = 0.25;
/// The local light's blur (a Gaussian's σ), as a share of the object's long edge.
const LOCAL: f64 = 0.05;
/// A shadow is evened out only when this many noise deviations deep, and this share of the
/// object's brightness.
const SHADOW_SIGMAS: f64 = 4.0;
const SHADOW_DEPTH: f64 = 0.06;

/// When a shadow lies beside the object `f` (found by `first`), the background's light
/// near the object, per analysis pixel, and the shadow's depth (in evened units).
pub(super) fn shadow_light(
    copy: &Evened,
    small: &Small,
    surface: &Surface,
    first: &Detection,
    f: &Found,
) -> Option<(Vec<f32>, f64)> {
    let faint = (FAINT_SIGMAS * copy.noise + 0.5).max(SHADOW_FAINT * first.peak);
    let edges = beside(copy, first, f, faint)?;
    // The object, kept out of the light: within the edges' box, inside the sharp outline
    // or a region between edges that is not a shadow.
    let rect = edges.grown((MARGIN * f.cell()).ceil() as usize);
    let object = object_mask(copy, &first.edges, faint, f.cell(), &edges, &rect);
    let mut light = local_light(small, surface, &object, LOCAL * f.long());
    let near = (0.3 * f.long()) as usize;
    limit_dip(&mut light, small, surface, &rect, near);
    // Deep enough to matter?
    let depth = deepest(&light, small, surface, &f.grown(near));
    (depth >= (SHADOW_SIGMAS * copy.noise).max(SHADOW_DEPTH * first.peak)).then_some((light, depth))
}

/// The box of the object's sharp edges when what stands out (above `faint`) reaches beyond
/// it and mostly fades out softly there, as a shadow does (a garment's part there ends
/// sharply); `None` when no shadow lies beside the object `f`.
fn beside(copy: &Evened, first: &Detection, f: &Found, faint: f64) -> Option<Found> {
    let (w, h, smooth) = (copy.w, copy.h, copy.smooth);
    // How far what stands out reaches, through anything above the faint level, against the
    // box of the sharp edges.
    let extent = copy
        .detect(1.0, SHADOW_FAINT, Search::Plain)
        .found
        .unwrap_or(*f);
    let edges = edge_box(smooth, w, h, &first.edges, faint, &extent)?;
    let reach = SHADOW_REACH * extent.long();
    let beyond = (edges.x0 as f64 - extent.x0 as f64) > reach
        || (edges.y0 as f64 - extent.y0 as f64) > reach
        || (extent.x1 as f64 - edges.x1 as f64) > reach
        || (extent.y1 as f64 - edges.y1 as f64) > reach;
    if !beyond {
        return None;
    }
    let (soft, sharp) = exits_beyond(smooth, w, h, faint, &extent, &edges, f.cell());
    if soft as f64 <= SOFT_SHARE * (soft + sharp) as f64 {
        return None;
    }
    Some(edges)
}

/// The object, to keep out of the background's light: within `rect` (the sharp edges' box
/// `edges` and a margin), inside the sharp outline (the pixels on sharp edges `edge_pixels`
/// above `faint`, closed over gaps) or a region between edges that is not a shadow.
fn object_mask(
    copy: &Evened,
    edge_pixels: &[bool],
    faint: f64,
    cell: f64,
    edges: &Found,
    rect: &Found,
) -> Vec<bool> {
    let (w, h, smooth) = (copy.w, copy.h, copy.smooth);
    let regions = object_regions(smooth, w, h, edge_pixels, faint, cell, edges);
    let r = (CLOSE * cell).ceil() as usize;
    let outline: Vec<bool> = (0..w * h)
        .map(|i| edge_pixels[i] && f64::from(smooth[i]) > faint)
        .collect();
    let open: Vec<bool> = fill_holes(&dilate(&outline, w, h, r), w, h)
        .iter()
        .map(|&v| !v)
        .collect();
    let open = dilate(&open, w, h, r);
    (0..w * h)
        .map(|i| rect.contains(i % w, i / w) && (regions[i] || !open[i]))
        .collect()
}

/// Within `rect` the light may not dip deeper than it is seen to dip around it (up to
/// `near` analysis pixels out): a misjudged garment region cannot be taken for light.
fn limit_dip(light: &mut [f32], small: &Small, surface: &Surface, rect: &Found, near: usize) {
    let (w, h) = (small.w, small.h);
    let around = rect.grown(near);
    let mut seen = 0f64;
    for y in around.y0..=around.y1.min(h - 1) {
        for x in around.x0..=around.x1.min(w - 1) {
            let i = y * w + x;
            if !rect.contains(x, y) {
                seen = seen.max((f64::from(light[i]) - surface.quadratic_small(i, small)).abs());
            }
        }
    }
    for (i, l) in light.iter_mut().enumerate() {
        if rect.contains(i % w, i / w) {
            let q = surface.quadratic_small(i, small);
            *l = f64::from(*l).clamp(q - seen, q + seen) as f32;
        }
    }
}

/// How far `light` departs from the fitted surface within `around`, at most (in evened
/// units).
fn deepest(light: &[f32], small: &Small, surface: &Surface, around: &Found) -> f64 {
    let (w, h) = (small.w, small.h);
    let mut depth = 0f64;
    for y in around.y0..=around.y1.min(h - 1) {
        for x in around.x0..=around.x1.min(w - 1) {
            let i = y * w + x;
            let d = (f64::from(light[i]) - surface.quadratic_small(i, small)).abs();
            depth = depth.max(surface.depth(d, i, small));
        }
    }
    depth
}

/// The box of the object's sharp edges: the edge pixels above `faint` within a dataset
/// pixel of `around`, trimmed of their outermost 1 % on each side (a few sharp pixels on a
/// shadow's rim do not count). `None` with fewer than 8.
fn edge_box(
    smooth: &[f32],
    w: usize,
    h: usize,
    edges: &[bool],
    faint: f64,
    around: &Found,
) -> Option<Found> {
    let a = around.grown(around.cell().ceil() as usize);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for y in a.y0..=a.y1.min(h - 1) {
        for x in a.x0..=a.x1.min(w - 1) {
            let i = y * w + x;
            if edges[i] && f64::from(smooth[i]) > faint {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    if xs.len() < 8 {
        return None;
    }
    xs.sort_unstable();
    ys.sort_unstable();
    let lo = ((xs.len() - 1) as f64 * 0.01).round() as usize;
    let hi = ((xs.len() - 1) as f64 * 0.99).round() as usize;
    Some(Found {
        x0: xs[lo],
        y0: ys[lo],
        x1: xs[hi],
        y1: ys[hi],
        parts: 0,
        specks: 0,
    })
}

/// Whether, from pixel (x, y), a dataset pixel (`cell`) further in direction (dx, dy),
/// at most FADE of its value is left: the brightness ends there sharply.
fn ends_sharply(
    smooth: &[f32],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    d: (isize, isize),
    cell: f32,
) -> bool {
    let c = cell.round().max(1.0) as isize;
    let ox = (x as isize + d.0 * c).clamp(0, w as isize - 1) as usize;
    let oy = (y as isize + d.1 * c).clamp(0, h as isize - 1) as usize;
    smooth[oy * w + ox] <= FADE * smooth[y * w + x]
}

/// The exits (pixels above `faint` beside one at or below it) within `extent` but more
/// than a dataset pixel (`cell`) outside `edges`: how many fade out softly, and how many
/// end sharply.
fn exits_beyond(
    smooth: &[f32],
    w: usize,
    h: usize,
    faint: f64,
    extent: &Found,
    edges: &Found,
    cell: f64,
) -> (usize, usize) {
    let f = faint as f32;
    let inner = edges.grown(cell.ceil() as usize);
    let (mut soft, mut sharp) = (0, 0);
    for y in extent.y0..=extent.y1.min(h - 1) {
        for x in extent.x0..=extent.x1.min(w - 1) {
            if smooth[y * w + x] <= f || inner.contains(x, y) {
                continue;
            }
            for d in FOUR {
                let Some(j) = step(x, y, d, w, h) else {
                    continue;
                };
                if smooth[j] > f {
                    continue;
                }
                if ends_sharply(smooth, w, h, x, y, d, cell as f32) {
                    sharp += 1;
                } else {
                    soft += 1;
                }
            }
        }
    }
    (soft, sharp)
}

/// What stands above `faint` (holes filled) less the shadows, grown by the margin. Sharp
/// edges split what stands out into regions; a region is a shadow when most of its outline
/// fades out softly (rather than meeting a sharp edge or ending sharply), or when much of
/// it lies outside the sharp edges' box `object`.
fn object_regions(
    smooth: &[f32],
    w: usize,
    h: usize,
    edges: &[bool],
    faint: f64,
    cell: f64,
    object: &Found,
) -> Vec<bool> {
    let outer = object.grown(cell.ceil() as usize);
    let f = faint as f32;
    let above: Vec<bool> = smooth.iter().map(|&v| v > f).collect();
    // Dark holes inside what stands out (a garment's texture) are not exits.
    let above = fill_holes(&above, w, h);
    let sharp: Vec<bool> = (0..w * h).map(|i| edges[i] && above[i]).collect();
    let sharp = dilate(&sharp, w, h, 1);
    let mut mask: Vec<bool> = (0..w * h).map(|i| above[i] || sharp[i]).collect();
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut members = Vec::new();
    for start in 0..w * h {
        if !above[start] || sharp[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        members.clear();
        let (mut soft, mut hard) = (0usize, 0usize);
        while let Some(i) = stack.pop() {
            members.push(i);
            let (x, y) = (i % w, i / w);
            for d in FOUR {
                let Some(j) = step(x, y, d, w, h) else {
                    continue;
                };
                if sharp[j] {
                    hard += 1;
                } else if !above[j] {
                    if ends_sharply(smooth, w, h, x, y, d, cell as f32) {
                        hard += 1;
                    } else {
                        soft += 1;
                    }
                } else if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        let outside = members
            .iter()
            .filter(|&&i| !outer.contains(i % w, i / w))
            .count();
        if soft as f64 > SOFT_SHARE * (soft + hard) as f64
            || outside as f64 > OUTSIDE_SHARE * members.len() as f64
        {
            for &i in &members {
                mask[i] = false;
            }
        }
    }
    dilate(&mask, w, h, (MARGIN * cell).ceil() as usize)
}
