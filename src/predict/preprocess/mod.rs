//! A picture made into the network's input the way Fashion-MNIST's were made (see the
//! dataset's README): gray, trimmed to the object, the longest edge scaled to fit,
//! centred on a 28×28 black canvas, negated when the background is light.
//!
//! Phone photos bring sensor noise, JPEG blocks, uneven light and soft shadows, so the
//! object is looked for on an evened, smoothed, downscaled copy, where a stray pixel, a
//! light gradient or a shadow does not move the crop; the crop itself is then read from the
//! full picture. A clean picture in the dataset's own form (flat background, sharp edges)
//! is still cropped to exactly its non-background pixels.
//!
//! 1. Grayscale (Rec. 709 luma); transparent pixels become white, as on a product page.
//! 2. The background's level is the median of the outermost pixels (the border). A light
//!    one (median ≥ 128) is inverted, so the object is light on black like the dataset's;
//!    [`Invert`] overrides the guess.
//! 3. Analysis copy: the picture averaged in k×k blocks so that its longest edge is at most
//!    256 pixels (which also averages noise away; a 12-megapixel photo is analysed as
//!    256×192). Steps 4–9 work on it; "a dataset pixel" below is the object's long edge / 28.
//! 4. Background light: a smooth surface is fitted by least squares to the pixels believed
//!    to be background: from the median of the outer 5 % of the picture, a plane on that band
//!    and then a quadratic in x and y on every pixel within three robust deviations
//!    (1.4826 × median absolute deviation) of the last fit, which drops the object and
//!    shadows; the surface is then centred on those pixels' median. The picture is evened by
//!    it: divided on a light background (light falls on it multiplicatively), subtracted on
//!    a dark one (where dividing by small values would amplify noise). What is left, in the
//!    inverted sense, is each pixel's brightness above the background: 0 for background,
//!    positive for the object.
//! 5. Noise: the evened copy is smoothed (3×3 binomial) and its noise measured as the robust
//!    deviation of the background pixels.
//! 6. Threshold: Otsu's threshold of the smoothed copy, but never below four noise
//!    deviations nor below 30 % of the object's brightness (the 99th percentile of what
//!    stands above the noise).
//! 7. Parts: the pixels above it, 8-connected. The largest part is the object; other parts
//!    within a tenth of its long edge, or a tenth of its area within half its long edge, are
//!    added, unless they are specks (under 1 % of its area).
//! 8. Sharp edges: where the brightness changes, per dataset pixel, by at least 35 % of its
//!    range within three dataset pixels around (a garment's outline and texture, not a soft
//!    shadow's rim or uneven light). Only parts within ¾ of a dataset pixel of a sharp edge
//!    count, and the box grows into faint pixels (3.5 noise deviations, and 8 % of the
//!    object's brightness) connected to them, by at most 5 % of its long edge per side.
//! 9. Shadows: when what stands out reaches more than 6 % beyond the box of the sharp edges
//!    and mostly fades out there softly (a dataset pixel further out, more than a quarter is
//!    left), a shadow lies beside the object. The background's light is then taken again,
//!    locally: the picture around the object, blurred (normalized convolution, σ 5 % of the
//!    object's long edge), with the object left out: inside the sharp outline (closed over
//!    gaps of 2.5 dataset pixels) and any region between edges that ends sharply. Within the
//!    edges' box the light may not dip deeper than it is seen to around it. Steps 6–8 are
//!    done again on the picture evened by this light. Without a shadow, the clean search
//!    instead trusts faint pixels more: the box grows through every pixel above the noise
//!    connected to the object (up to 15 % per side), faint parts near it that are not specks,
//!    and specks within a dataset pixel of it, as the dataset's own boxes hold them.
//! 10. The box's edges are refined on the full picture (within a block either way), the
//!     ORIGINAL picture is cropped to it, evened by the light found, and scaled by area
//!     averaging so that its longest edge is `fit` pixels (28, as in Fashion-MNIST; 20 gives
//!     MNIST digits' margin), keeping its aspect ratio.
//! 11. Levels, after averaging (so that noise averages out before anything is clipped): the
//!     background stays 0 (4 % of the brightest when a shadow was evened out, to drop what is
//!     left of it) and the brightest scaled pixel becomes 255 (the dataset's images nearly all
//!     span 0–255); then centred on the 28×28 canvas (an odd margin's extra pixel before the
//!     object, as in nearly all the dataset's images).
//!
//! With nothing that stands out (a flat picture, pure noise, a 1×1 one) the whole picture
//! is used, and the steps say so.
//!
//! Where things are:
//! - here: the pipeline, step by step ([`preprocess`]; steps 5–9 in `find_object`), and
//!   the steps in words;
//! - `gray.rs`: steps 1–3, the gray picture, its border and the analysis copy;
//! - `light.rs`: the background's light (step 4, and step 9's local light) and how a
//!   picture is evened by it;
//! - `object.rs`: steps 6–8, the threshold, the parts, the sharp edges, the object's box;
//! - `shadow.rs`: step 9, a shadow beside the object told from the object;
//! - `full.rs`: step 10, the full picture evened and the box refined on it;
//! - `scale.rs`: steps 10–11, the crop scaled by area averaging, and its levels;
//! - `filters.rs`: smoothing, Otsu's threshold, blurs, dilation, hole filling, robust
//!   statistics;
//! - `tests.rs`: the pipeline's tests on whole pictures.

mod filters;
mod full;
mod gray;
mod light;
mod object;
mod scale;
mod shadow;
#[cfg(test)]
mod tests;

use image::DynamicImage;

use self::filters::{median, robust_sigma, smooth3};
use self::full::Full;
use self::gray::{border_values, gray_on_white, Small};
use self::light::Surface;
use self::object::{
    ring_noise, Detection, Evened, Found, Search, CLEAN_GROW, FAINT_SHARE, GROW, NOISE_SIGMAS,
    SPECK_SIGMAS,
};
use self::scale::{crop_scaled, levels, Scaled};
use self::shadow::shadow_light;
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
    let fit = fit.clamp(1, IMAGE_SIDE);
    if w == 0 || h == 0 {
        return Prepared {
            pixels: Box::new([0; IMAGE_PIXELS]),
            inverted: false,
            steps: format!("{w}×{h}: an empty picture, nothing to classify"),
        };
    }
    // 1.–2. Gray, and which way round.
    let gray = gray_on_white(img);
    let border_median = median(&border_values(&gray, w, h));
    let light = border_median >= 128;
    let inverted = match invert {
        Invert::Auto => light,
        Invert::Always => true,
        Invert::Never => false,
    };
    // 3. The analysis copy; 4. the background's light; 5.–9. the object.
    let small = Small::new(&gray, w, h);
    let mut surface = Surface::fit(&small, light, inverted);
    let finding = find_object(&small, &mut surface);
    // 10. Refine the box on the full picture, crop, even and scale.
    let full = Full {
        gray: &gray,
        w,
        h,
        surface: &surface,
        k: small.k,
    };
    let crop = match &finding.found {
        Some(f) => full.refine(f, &small),
        None => (0, 0, w - 1, h - 1),
    };
    let scaled = crop_scaled(&full, crop, fit);
    // 11. Levels: the background 0, the brightest scaled pixel 255 (with nothing found, at
    // least the noise's threshold); centred.
    let floor = (NOISE_SIGMAS * finding.noise + 1.0) as f32;
    let pixels = levels(
        &scaled,
        finding.found.is_none().then_some(floor),
        finding.shadow_depth.is_some(),
    );
    let background = if light { "light" } else { "dark" };
    let mut steps = format!("{w}×{h} gray, {background} background ({border_median})");
    steps += match (inverted, invert) {
        (true, Invert::Auto) => " inverted",
        (true, _) => " inverted (--invert)",
        (false, Invert::Never) => " not inverted (--no-invert)",
        (false, _) => " not inverted",
    };
    steps += &found_words(&surface, &finding, crop, &scaled);
    Prepared {
        pixels,
        inverted,
        steps,
    }
}

/// What steps 5–9 found on the analysis copy.
struct Finding {
    /// The object's box, `None` when nothing stands out.
    found: Option<Found>,
    /// The robust deviation of the smoothed copy's background.
    noise: f64,
    /// How deep the shadow beside the object was, when one was evened out.
    shadow_depth: Option<f64>,
}

/// Steps 5–9 on the analysis copy evened by `surface`: smoothing and noise, the object
/// near sharp edges, then either a shadow beside it evened out (`surface` keeps its local
/// light) and the object found again, or the clean search.
fn find_object(small: &Small, surface: &mut Surface) -> Finding {
    let (aw, ah) = (small.w, small.h);
    let even = surface.even_small(small);
    // 5. Smoothing and noise.
    let smooth = smooth3(&even, aw, ah);
    let background = surface.mask.clone();
    let noise = f64::from(robust_sigma(&smooth, &background)).max(0.1);
    let raw_noise = f64::from(robust_sigma(&even, &background)).max(0.05);
    let copy = Evened {
        even: &even,
        smooth: &smooth,
        w: aw,
        h: ah,
        background: &background,
        noise,
        raw_noise,
    };
    // 6.–8. The object.
    let first = copy.detect(GROW, FAINT_SHARE, Search::Supported);
    let Some(f) = first.found else {
        return Finding {
            found: None,
            noise,
            shadow_depth: None,
        };
    };
    // 9. A shadow beside it, or a clean search.
    if let Some((found, depth)) = shadow_search(&copy, small, surface, &first, &f) {
        return Finding {
            found: Some(found),
            noise,
            shadow_depth: Some(depth),
        };
    }
    Finding {
        found: clean_search(&copy, &f, first.peak),
        noise,
        shadow_depth: None,
    }
}

/// Step 9 when a shadow lies beside the object `f` (found by `first`): the object found
/// again on the copy evened by the local light, which `surface` keeps, and the shadow's
/// depth. `None` (and `surface` unchanged) without a shadow or without an object then.
fn shadow_search(
    copy: &Evened,
    small: &Small,
    surface: &mut Surface,
    first: &Detection,
    f: &Found,
) -> Option<(Found, f64)> {
    let (light, depth) = shadow_light(copy, small, surface, first, f)?;
    surface.local = Some(light);
    let even = surface.even_small(small);
    let smooth = smooth3(&even, copy.w, copy.h);
    let again = Evened {
        even: &even,
        smooth: &smooth,
        ..*copy
    }
    .detect(GROW, FAINT_SHARE, Search::Supported);
    if let Some(found) = again.found {
        return Some((found, depth));
    }
    surface.local = None;
    None
}

/// Step 9 without a shadow: the clean search around the object `f` (of brightness `peak`),
/// which trusts faint pixels and specks near it.
fn clean_search(copy: &Evened, f: &Found, peak: f64) -> Option<Found> {
    // The noise next to the object (JPEG's ringing lives there, not on the flat
    // background): what the clean search takes as faint must stand above it.
    let ring = ring_noise(copy.even, copy.w, copy.h, f, peak).max(copy.raw_noise);
    let speck = SPECK_SIGMAS * ring + 0.5;
    Evened {
        raw_noise: ring,
        ..*copy
    }
    .detect(CLEAN_GROW, 0.0, Search::Clean { speck })
    .found
}

/// The steps from the background's light on, in words.
fn found_words(
    surface: &Surface,
    finding: &Finding,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    scaled: &Scaled,
) -> String {
    let mut steps = String::new();
    let spread = surface.hi - surface.lo;
    if spread >= 3.0 {
        steps += &format!(", background light evened out (±{:.0})", spread / 2.0);
    }
    if let Some(depth) = finding.shadow_depth {
        steps += &format!(", shadow beside it evened out ({depth:.0} deep)");
    }
    match &finding.found {
        Some(f) => {
            let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
            let plural = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            steps += &format!(
                ", object cropped to {cw}×{ch} at ({x0},{y0}) ({}",
                plural(f.parts, "part", "parts")
            );
            if f.specks > 0 {
                steps += &format!(", {} ignored", plural(f.specks, "speck", "specks"));
            }
            steps += ")";
        }
        None => steps += ", no object stands out: whole picture used",
    }
    let (dw, dh) = (scaled.w, scaled.h);
    steps += &format!(", scaled to {dw}×{dh}, centred in 28×28");
    steps
}
