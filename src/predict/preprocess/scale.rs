//! Steps 10–11's second half: the crop, evened, scaled by area averaging ([`crop_scaled`],
//! [`weights`]), and its levels set on the 28×28 canvas ([`levels`]).

use super::full::Full;
use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// The black point after a shadow was evened out, as a share of the brightest pixel.
const SHADOW_BLACK: f32 = 0.04;

/// The scaled crop: `w`×`h` values (brightness above the background), row by row.
pub(super) struct Scaled {
    pub(super) px: Vec<f32>,
    pub(super) w: usize,
    pub(super) h: usize,
}

/// The box (x0, y0, x1, y1) of the full picture, evened, scaled by area averaging so that
/// its longest edge is `fit` pixels, keeping its aspect ratio.
pub(super) fn crop_scaled(
    full: &Full,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    fit: usize,
) -> Scaled {
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let scale = fit as f64 / cw.max(ch) as f64;
    let dw = ((cw as f64 * scale).round() as usize).clamp(1, fit);
    let dh = ((ch as f64 * scale).round() as usize).clamp(1, fit);
    let across = weights(cw, dw);
    let mut rows = vec![0f32; ch * dw];
    let mut line = vec![0f32; cw];
    for y in 0..ch {
        full.even_row(y0 + y, x0, &mut line);
        for (o, taps) in across.iter().enumerate() {
            rows[y * dw + o] = taps.iter().map(|&(i, wt)| line[i] * wt).sum();
        }
    }
    let down = weights(ch, dh);
    let mut px = vec![0f32; dw * dh];
    for (o, taps) in down.iter().enumerate() {
        for x in 0..dw {
            px[o * dw + x] = taps.iter().map(|&(i, wt)| rows[i * dw + x] * wt).sum();
        }
    }
    Scaled { px, w: dw, h: dh }
}

/// Step 11: the background 0 (SHADOW_BLACK of the white when a `shadow` was evened out, to
/// drop what is left of it) and the brightest scaled pixel 255, but white at least
/// `white_at_least` (so that a picture with nothing in it does not stretch its noise) and
/// 1; centred on the 28×28 canvas, an odd margin's extra pixel before the object.
pub(super) fn levels(
    s: &Scaled,
    white_at_least: Option<f32>,
    shadow: bool,
) -> Box<[u8; IMAGE_PIXELS]> {
    let top = s.px.iter().copied().fold(0f32, f32::max);
    let white = match white_at_least {
        Some(floor) => top.max(floor),
        None => top,
    }
    .max(1.0);
    let black = if shadow { SHADOW_BLACK * white } else { 0.0 };
    let mut pixels = Box::new([0u8; IMAGE_PIXELS]);
    let (ox, oy) = (
        (IMAGE_SIDE - s.w).div_ceil(2),
        (IMAGE_SIDE - s.h).div_ceil(2),
    );
    for y in 0..s.h {
        for x in 0..s.w {
            let v = (s.px[y * s.w + x] - black) * 255.0 / (white - black);
            pixels[(oy + y) * IMAGE_SIDE + ox + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    pixels
}

/// For each of `dst` output cells, the source indices it covers and their share of it,
/// when `src` cells are spread evenly over `dst`.
fn weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let ratio = src as f64 / dst as f64;
    (0..dst)
        .map(|o| {
            let (start, end) = (o as f64 * ratio, (o + 1) as f64 * ratio);
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(src);
            (first..last)
                .map(|i| {
                    let overlap = end.min(i as f64 + 1.0) - start.max(i as f64);
                    (i, (overlap / ratio) as f32)
                })
                .filter(|&(_, wt)| wt > 0.0)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::weights;

    #[test]
    fn integer_downscaling_averages_blocks_exactly() {
        let w = weights(8, 2);
        assert_eq!(w[0], [(0, 0.25), (1, 0.25), (2, 0.25), (3, 0.25)]);
        let w = weights(3, 2);
        assert_eq!(w[0].len(), 2);
        let sum: f32 = w[1].iter().map(|t| t.1).sum();
        assert!((sum - 1.0).abs() < 1e-6);
    }
}
