//! Steps 1–3: the picture in gray (transparency over white), its border, and the analysis
//! copy the object is looked for on ([`Small`]: block averages, at most 256 pixels long).

use image::DynamicImage;

/// The analysis copy's longest edge, at most.
const ANALYSIS_EDGE: usize = 256;

/// Luma of every pixel, composited over white.
pub(super) fn gray_on_white(img: &DynamicImage) -> Vec<u8> {
    match img {
        DynamicImage::ImageLuma8(g) => g.as_raw().clone(),
        _ if !img.color().has_alpha() => img.to_luma8().into_raw(),
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
pub(super) fn border_values(gray: &[u8], w: usize, h: usize) -> Vec<u8> {
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

/// The picture averaged in k×k blocks (the last row and column of blocks may be
/// partial), with each block's centre in coordinates from -1 to 1 across the picture.
pub(super) struct Small {
    pub(super) px: Vec<f32>,
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) k: usize,
    pub(super) u: Vec<f64>,
    pub(super) v: Vec<f64>,
}

impl Small {
    pub(super) fn new(gray: &[u8], w: usize, h: usize) -> Small {
        let k = w.max(h).div_ceil(ANALYSIS_EDGE).max(1);
        let (sw, sh) = (w.div_ceil(k), h.div_ceil(k));
        let mut sum = vec![0u32; sw * sh];
        for y in 0..h {
            let out = &mut sum[(y / k) * sw..(y / k + 1) * sw];
            for (x, &g) in gray[y * w..(y + 1) * w].iter().enumerate() {
                out[x / k] += u32::from(g);
            }
        }
        let span = |i: usize, n: usize| (i * k, ((i + 1) * k).min(n));
        let count = |i: usize, n: usize| {
            let (a, b) = span(i, n);
            b - a
        };
        let centre = |i: usize, n: usize| {
            let (a, b) = span(i, n);
            (a + b) as f64 / 2.0 / n as f64 * 2.0 - 1.0
        };
        let px = (0..sw * sh)
            .map(|i| sum[i] as f32 / (count(i % sw, w) * count(i / sw, h)) as f32)
            .collect();
        Small {
            px,
            w: sw,
            h: sh,
            k,
            u: (0..sw).map(|i| centre(i, w)).collect(),
            v: (0..sh).map(|i| centre(i, h)).collect(),
        }
    }
}
