//! A picture made into the network's input the way Fashion-MNIST's were made (see the
//! dataset's README): gray, trimmed to the object, the longest edge scaled to fit,
//! centred on a 28×28 black canvas, negated when the background is light.
//!
//! 1. Grayscale (Rec. 709 luma); transparent pixels become white, as on a product page.
//! 2. The background is the median of the outermost pixels (the border). A light one
//!    (median ≥ 128) is inverted, so the object is light on black like the dataset's;
//!    [`Invert`] overrides the guess.
//! 3. The object is every pixel brighter than the background by more than the border's
//!    own noise (three median absolute deviations); the picture is cropped to their
//!    bounding box. With no such pixel, the whole picture is used.
//! 4. Levels: the background becomes 0 and the brightest pixel 255 (the dataset's images
//!    nearly all span 0–255).
//! 5. The crop is scaled by area averaging so that its longest edge is `fit` pixels (28,
//!    as in Fashion-MNIST; 20 gives MNIST digits' margin), keeping its aspect ratio, and
//!    centred on the 28×28 canvas (an odd margin's extra pixel before the object, as in
//!    nearly all the dataset's images).

use image::DynamicImage;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};

/// Whether to negate the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Invert {
    /// When the border is light.
    #[default]
    Auto,
    Always,
    Never,
}

/// The network's input and what was done to get it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub pixels: Box<[u8; IMAGE_PIXELS]>,
    pub inverted: bool,
    /// The steps, in words (e.g. `640×480 gray, light background (243) inverted, …`).
    pub steps: String,
}

/// `img` as a Fashion-MNIST image whose longest edge is `fit` (1..=28) pixels.
pub fn preprocess(img: &DynamicImage, invert: Invert, fit: usize) -> Prepared {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let gray = gray_on_white(img);
    let border = border_values(&gray, w, h);
    let border_median = median(&border);
    let inverted = match invert {
        Invert::Auto => border_median >= 128,
        Invert::Always => true,
        Invert::Never => false,
    };
    let value = |v: u8| if inverted { 255 - v } else { v };
    let bg = value(border_median);
    let mad = median(
        &border
            .iter()
            .map(|&v| value(v).abs_diff(bg))
            .collect::<Vec<_>>(),
    );
    let noise = mad.saturating_mul(3);
    // The object's bounding box and brightest value.
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let mut top = bg;
    for (i, &g) in gray.iter().enumerate() {
        let v = value(g);
        if v.saturating_sub(bg) > noise {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            top = top.max(v);
        }
    }
    let found = x0 <= x1;
    if !found {
        (x0, y0, x1, y1) = (0, 0, w - 1, h - 1);
    }
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let span = f32::from(top.saturating_sub(bg)).max(1.0);
    let level = |g: u8| (f32::from(value(g).saturating_sub(bg)) * 255.0 / span).min(255.0);
    let fit = fit.clamp(1, IMAGE_SIDE);
    let scale = fit as f64 / cw.max(ch) as f64;
    let dw = ((cw as f64 * scale).round() as usize).clamp(1, fit);
    let dh = ((ch as f64 * scale).round() as usize).clamp(1, fit);
    // Area averaging, rows first, reading the crop straight from the gray picture.
    let across = weights(cw, dw);
    let mut rows = vec![0f32; ch * dw];
    for y in 0..ch {
        let line = &gray[(y0 + y) * w + x0..(y0 + y) * w + x0 + cw];
        for (o, taps) in across.iter().enumerate() {
            rows[y * dw + o] = taps.iter().map(|&(i, wt)| level(line[i]) * wt).sum();
        }
    }
    let down = weights(ch, dh);
    let mut pixels = Box::new([0u8; IMAGE_PIXELS]);
    // An odd margin puts its extra pixel before the object, as in the dataset's images.
    let (ox, oy) = ((IMAGE_SIDE - dw).div_ceil(2), (IMAGE_SIDE - dh).div_ceil(2));
    for (o, taps) in down.iter().enumerate() {
        for x in 0..dw {
            let v: f32 = taps.iter().map(|&(i, wt)| rows[i * dw + x] * wt).sum();
            pixels[(oy + o) * IMAGE_SIDE + ox + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    let background = if border_median >= 128 {
        "light"
    } else {
        "dark"
    };
    let mut steps = format!("{w}×{h} gray, {background} background ({border_median})");
    steps += match (inverted, invert) {
        (true, Invert::Auto) => " inverted",
        (true, _) => " inverted (--invert)",
        (false, Invert::Never) => " not inverted (--no-invert)",
        (false, _) => " not inverted",
    };
    if found {
        steps += &format!(", cropped to {cw}×{ch} at ({x0},{y0})");
    } else {
        steps += ", no object stands out: whole picture used";
    }
    steps += &format!(", scaled to {dw}×{dh}, centred in 28×28");
    Prepared {
        pixels,
        inverted,
        steps,
    }
}

/// Luma of every pixel, composited over white.
fn gray_on_white(img: &DynamicImage) -> Vec<u8> {
    match img {
        DynamicImage::ImageLuma8(g) => g.as_raw().clone(),
        _ => img
            .to_luma_alpha8()
            .pixels()
            .map(|p| {
                let [l, a] = p.0;
                let (l, a) = (u32::from(l), u32::from(a));
                ((l * a + 255 * (255 - a) + 127) / 255) as u8
            })
            .collect(),
    }
}

/// The outermost ring of pixels.
fn border_values(gray: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * (w + h));
    for y in 0..h {
        if y == 0 || y == h - 1 {
            out.extend_from_slice(&gray[y * w..(y + 1) * w]);
        } else {
            out.push(gray[y * w]);
            if w > 1 {
                out.push(gray[y * w + w - 1]);
            }
        }
    }
    out
}

fn median(values: &[u8]) -> u8 {
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
    use super::*;
    use image::{GrayImage, Luma, Rgba, RgbaImage};

    #[test]
    fn a_dark_object_on_white_becomes_a_light_one_on_black() {
        // A 40×20 black bar on a white 100×100 picture.
        let img = GrayImage::from_fn(100, 100, |x, y| {
            Luma([if (30..70).contains(&x) && (50..60).contains(&y) {
                0
            } else {
                255
            }])
        });
        let p = preprocess(&DynamicImage::ImageLuma8(img), Invert::Auto, 28);
        assert!(p.inverted);
        assert!(
            p.steps.contains("cropped to 40×10 at (30,50)"),
            "{}",
            p.steps
        );
        assert!(p.steps.contains("scaled to 28×7"), "{}", p.steps);
        // Rows 11..18 (centred, the odd pixel above), all columns lit, the rest black.
        for y in 0..28 {
            for x in 0..28 {
                let lit = (11..18).contains(&y);
                assert_eq!(p.pixels[y * 28 + x], if lit { 255 } else { 0 }, "({x},{y})");
            }
        }
        let p = preprocess(&p_img(), Invert::Never, 20);
        assert!(!p.inverted && p.steps.contains("--no-invert"));
    }

    fn p_img() -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_pixel(3, 3, Luma([200])))
    }

    #[test]
    fn transparency_is_background_and_flat_pictures_do_not_panic() {
        // A black 3×6 object, fully transparent around it.
        let img = RgbaImage::from_fn(10, 10, |x, y| {
            let inside = (4..7).contains(&x) && (2..8).contains(&y);
            Rgba([0, 0, 0, if inside { 255 } else { 0 }])
        });
        let p = preprocess(&DynamicImage::ImageRgba8(img), Invert::Auto, 28);
        assert!(p.inverted);
        assert!(p.steps.contains("cropped to 3×6 at (4,2)"), "{}", p.steps);
        for img in [p_img(), DynamicImage::ImageLuma8(GrayImage::new(1, 1))] {
            let p = preprocess(&img, Invert::Auto, 28);
            assert!(p.steps.contains("whole picture used"), "{}", p.steps);
        }
    }

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
