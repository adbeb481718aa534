//! The pipeline's tests: whole pictures in, the crop named in the steps and the 28×28
//! input out (clean, noisy, unevenly lit, shadowed, transparent, tiny and empty ones).

use image::{DynamicImage, GrayImage, Luma, Rgba, RgbaImage};

use super::{preprocess, Invert, Prepared};
use crate::data::IMAGE_PIXELS;

/// A small seeded generator for the tests' noise (SplitMix64, Box–Muller).
struct Noise(u64);

impl Noise {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (a, b) = (self.unit().max(1e-300), self.unit());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// A 600×450 photo of a dark garment-like shape (a rounded body with sleeves, some
/// texture) at (150..330, 100..370) on a light background, with what `disturb` adds
/// (in gray levels, given x and y).
fn garment(disturb: impl Fn(f64, f64) -> f64) -> DynamicImage {
    GrayImage::from_fn(600, 450, |x, y| {
        let (xf, yf) = (f64::from(x), f64::from(y));
        let body = (180.0..300.0).contains(&xf) && (100.0..370.0).contains(&yf);
        let sleeves = (150.0..330.0).contains(&xf) && (100.0..200.0).contains(&yf);
        let inside = body || sleeves;
        let texture = 15.0 * ((xf / 9.0).sin() * (yf / 13.0).cos());
        let v = if inside { 60.0 + texture } else { 215.0 };
        Luma([(v + disturb(xf, yf)).round().clamp(0.0, 255.0) as u8])
    })
    .into()
}

/// The crop box named in the steps.
fn crop(p: &Prepared) -> (usize, usize, usize, usize) {
    let at = p.steps.find("cropped to ").expect(&p.steps) + "cropped to ".len();
    let n: Vec<usize> = p.steps[at..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|s| s.parse().unwrap())
        .collect();
    (n[2], n[3], n[0], n[1])
}

fn mean_abs_diff(a: &[u8; IMAGE_PIXELS], b: &[u8; IMAGE_PIXELS]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / 784.0
}

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
fn transparency_is_background() {
    // A black 3×6 object, fully transparent around it.
    let img = RgbaImage::from_fn(10, 10, |x, y| {
        let inside = (4..7).contains(&x) && (2..8).contains(&y);
        Rgba([0, 0, 0, if inside { 255 } else { 0 }])
    });
    let p = preprocess(&DynamicImage::ImageRgba8(img), Invert::Auto, 28);
    assert!(p.inverted);
    assert!(p.steps.contains("cropped to 3×6 at (4,2)"), "{}", p.steps);
}

#[test]
fn flat_tiny_and_noise_only_pictures_do_not_panic() {
    let mut noise = Noise(7);
    let pure_noise = GrayImage::from_fn(300, 200, |_, _| {
        Luma([(128.0 + 8.0 * noise.gauss()).round().clamp(0.0, 255.0) as u8])
    });
    let flat_big = GrayImage::from_pixel(3000, 2000, Luma([90]));
    for img in [
        p_img(),
        DynamicImage::ImageLuma8(GrayImage::new(1, 1)),
        DynamicImage::ImageLuma8(GrayImage::new(1, 40)),
        DynamicImage::ImageLuma8(GrayImage::new(40, 1)),
        DynamicImage::ImageLuma8(flat_big),
        DynamicImage::ImageLuma8(pure_noise),
    ] {
        for invert in [Invert::Auto, Invert::Always, Invert::Never] {
            for fit in [1, 20, 28] {
                let p = preprocess(&img, invert, fit);
                assert!(p.steps.contains("whole picture used"), "{}", p.steps);
            }
        }
    }
    // Tiny pictures with something in them.
    for (w, h) in [(2, 2), (2, 7), (5, 3)] {
        let img = GrayImage::from_fn(w, h, |x, y| Luma([if x == 1 && y == 1 { 0 } else { 250 }]));
        preprocess(&DynamicImage::ImageLuma8(img), Invert::Auto, 28);
    }
}

#[test]
fn a_noisy_pictures_crop_is_the_clean_ones() {
    let clean = preprocess(&garment(|_, _| 0.0), Invert::Auto, 28);
    assert_eq!(crop(&clean), (150, 100, 180, 270), "{}", clean.steps);
    for (seed, sigma) in [(1, 3.0), (2, 8.0), (3, 12.0)] {
        let noise = std::cell::RefCell::new(Noise(seed));
        let noisy = preprocess(
            &garment(|_, _| sigma * noise.borrow_mut().gauss()),
            Invert::Auto,
            28,
        );
        let (x, y, w, h) = crop(&noisy);
        // Within 2 % of the object's size.
        assert!(
            x.abs_diff(150) <= 5
                && y.abs_diff(100) <= 5
                && w.abs_diff(180) <= 8
                && h.abs_diff(270) <= 8,
            "σ {sigma}: {}",
            noisy.steps
        );
        // A crop a pixel or two different may round the scaled width the other way,
        // which moves the striped texture by a pixel: the inputs stay close, not equal.
        let d = mean_abs_diff(&clean.pixels, &noisy.pixels);
        assert!(d < 16.0, "σ {sigma}: mean difference {d:.1}");
    }
    // One hot pixel far away does not stretch the crop.
    let speck = preprocess(
        &garment(|x, y| if (x, y) == (580.0, 20.0) { -215.0 } else { 0.0 }),
        Invert::Auto,
        28,
    );
    assert_eq!(crop(&speck), crop(&clean), "{}", speck.steps);
}

#[test]
fn a_gradient_is_evened_out() {
    // ±40 levels across the picture, diagonally (multiplicative, as light is).
    let lit = |x: f64, y: f64| ((x - 300.0) / 375.0 + (y - 225.0) / 375.0) * 0.5 * 80.0 / 215.0;
    let plain = garment(|_, _| 0.0).into_luma8();
    let img = GrayImage::from_fn(600, 450, |x, y| {
        let v = plain.get_pixel(x, y).0[0];
        let f = 1.0 + lit(f64::from(x), f64::from(y));
        Luma([(f64::from(v) * f).round().clamp(0.0, 255.0) as u8])
    });
    let clean = preprocess(&garment(|_, _| 0.0), Invert::Auto, 28);
    let p = preprocess(&DynamicImage::ImageLuma8(img), Invert::Auto, 28);
    assert!(
        p.steps.contains("background light evened out"),
        "{}",
        p.steps
    );
    let (x, y, w, h) = crop(&p);
    assert!(
        x.abs_diff(150) <= 2
            && y.abs_diff(100) <= 2
            && w.abs_diff(180) <= 4
            && h.abs_diff(270) <= 4,
        "{}",
        p.steps
    );
    // The background around the garment (the corners beside the body) stays black.
    for (cx, cy) in [(1, 27), (26, 27), (1, 20), (26, 20)] {
        assert!(
            p.pixels[cy * 28 + cx] <= 3,
            "({cx},{cy}) = {}",
            p.pixels[cy * 28 + cx]
        );
    }
    assert!(mean_abs_diff(&clean.pixels, &p.pixels) < 4.0);
}

#[test]
fn a_soft_shadow_beside_the_object_is_left_out() {
    // A blurred dark ellipse (−50 levels at its core) below and right of the garment.
    let shade = |x: f64, y: f64| {
        let (u, v) = ((x - 300.0) / 110.0, (y - 330.0) / 120.0);
        let rho = (u * u + v * v).sqrt();
        -50.0 / (1.0 + ((rho - 1.0) / 0.2).exp())
    };
    let clean = preprocess(&garment(|_, _| 0.0), Invert::Auto, 28);
    let shadowed = garment(|x, y| {
        let inside_body = (180.0..300.0).contains(&x) && (100.0..370.0).contains(&y);
        let inside_sleeves = (150.0..330.0).contains(&x) && (100.0..200.0).contains(&y);
        if inside_body || inside_sleeves {
            0.0
        } else {
            shade(x, y)
        }
    });
    let p = preprocess(&shadowed, Invert::Auto, 28);
    let (x, y, w, h) = crop(&p);
    assert!(
        x.abs_diff(150) <= 8
            && y.abs_diff(100) <= 8
            && w.abs_diff(180) <= 16
            && h.abs_diff(270) <= 16,
        "{}",
        p.steps
    );
    // (The 4 % black point after a shadow shifts the garment's levels a little.)
    assert!(
        p.steps.contains("shadow beside it evened out"),
        "{}",
        p.steps
    );
    let d = mean_abs_diff(&clean.pixels, &p.pixels);
    assert!(d < 10.0, "mean difference {d:.1}: {}", p.steps);
}

#[test]
fn a_sharp_photo_of_a_dataset_like_image_gives_it_back() {
    // A 28×28 image in the dataset's form (longest edge 28, a 255 pixel, faint specks
    // beside the object), photographed 4× larger as ink on paper.
    let mut px = [0u8; IMAGE_PIXELS];
    for y in 1..28 {
        for x in 6..22 {
            px[y * 28 + x] = (40 + (x * 7 + y * 3) % 180) as u8;
        }
    }
    px[14 * 28 + 10] = 255;
    px[5] = 3; // a faint speck in the first row, beside the object
    px[20 * 28 + 22] = 2; // and one to its right
    let img = image::RgbImage::from_fn(112, 112, |x, y| {
        let a = f32::from(px[(y / 4) as usize * 28 + (x / 4) as usize]) / 255.0;
        let (paper, ink) = ([250.0f32, 246.0, 236.0], [20.0f32, 40.0, 110.0]);
        image::Rgb(std::array::from_fn(|c| {
            (paper[c] * (1.0 - a) + ink[c] * a).round() as u8
        }))
    });
    let p = preprocess(&DynamicImage::ImageRgb8(img), Invert::Auto, 28);
    let worst = p
        .pixels
        .iter()
        .zip(&px)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "largest difference {worst}: {}", p.steps);
}
