//! Seeded "photos" of Fashion-MNIST images for testing and measuring `predict`'s
//! preprocessing: each 28×28 image as a CLEAN picture and as a DISTURBED one with one kind
//! of the trouble phones bring ([`Kind`]), drawn from a seed only (no global state, no
//! `rand`: fashion-tui's own SplitMix64), so a test can name the pictures it needs.
//!
//! A scene ([`Scene::new`]) places the image's tile on a canvas and colours it:
//!
//! - size: the image upscaled bilinearly to a tile 150–400 px tall, on a canvas of 240 (at
//!   least 1.25 tiles) to 1200 px on its long edge, aspect 0.65–1.55;
//! - placement: anywhere, the garment at least 8 px from the edges (so mostly off-centre);
//! - colours: 3 in 4 a dark garment on a light background (the dataset's image negated:
//!   background 200–240 with ±10 per channel of tint, garment 10–90 with ±25), else a light
//!   garment on a dark background (background 15–50 ±8, garment 170–240 ±20).
//!
//! The clean and the disturbed picture share size, place and colours; the disturbance is
//! the kind's:
//!
//! - `noise`: gaussian, σ 2–8 levels per channel and pixel;
//! - `jpeg`: saved as JPEG at quality 30–60 (the clean one as PNG, as always);
//! - `gradient`: lighting that varies linearly across the picture in a random direction,
//!   ±20–40 levels on a 220 surface at the corners' reach (multiplicative, as light is);
//! - `shadow`: a soft dark ellipse (logistic edge, softness 0.1–0.25 of its radius, semi-axes
//!   0.35–0.55 of the garment's box, turned up to ±0.5 rad) offset from the garment's centre
//!   by 20–45 % of its size in a random direction, 30–60 levels deep on a 220 surface
//!   (multiplicative, on garment and background alike);
//! - `all`: the four together, milder (σ 2–5, quality 50–70, ±15–30, 20–40 deep).
//!
//! [`Scene::scaled`] and [`Scene::with_long_edge`] make the same scene at another size
//! (noise and JPEG stay per pixel). The garment's true box is every pixel whose upscaled
//! dataset value is at least 1 (of 255).
//!
//! The same seeds give the very pictures of the lab generator the preprocessing was
//! measured on: set `s` of `n` images is [`choose_indices`]`(s, n, 10_000)`, and each
//! image's scene per kind is drawn from [`picture_seed`]`(s, index, kind)`.

use fashion_tui::train::SplitMix64;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage};

/// fashion-tui's own SplitMix64, with the draws the scenes need.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn gauss(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The disturbance a picture pair is about (see the module's doc for the parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Noise,
    Jpeg,
    Gradient,
    Shadow,
    All,
}

impl Kind {
    pub const EVERY: [Kind; 5] = [
        Kind::Noise,
        Kind::Jpeg,
        Kind::Gradient,
        Kind::Shadow,
        Kind::All,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Kind::Noise => "noise",
            Kind::Jpeg => "jpeg",
            Kind::Gradient => "gradient",
            Kind::Shadow => "shadow",
            Kind::All => "all",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::EVERY.into_iter().find(|k| k.name() == s)
    }
}

/// A seed for (set seed, test image index, kind): independent streams per picture.
pub fn picture_seed(seed: u64, index: usize, kind: Kind) -> u64 {
    let mixed =
        seed ^ (index as u64).wrapping_mul(0xA076_1D64_78BD_642F) ^ ((kind as u64 + 1) << 56);
    Rng::new(mixed).next_u64()
}

/// `n` distinct test image indices below `of`, drawn from `seed`.
pub fn choose_indices(seed: u64, n: usize, of: usize) -> Vec<usize> {
    let mut r = Rng::new(seed);
    let mut all: Vec<usize> = (0..of).collect();
    for i in 0..n.min(of) {
        let j = i + r.below((of - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(n.min(of));
    all
}

/// An inclusive pixel box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixBox {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

impl PixBox {
    pub fn area(&self) -> f64 {
        ((self.x1 + 1 - self.x0) * (self.y1 + 1 - self.y0)) as f64
    }
    /// Intersection over union with `o`.
    pub fn iou(&self, o: &PixBox) -> f64 {
        let (x0, y0) = (self.x0.max(o.x0), self.y0.max(o.y0));
        let (x1, y1) = (self.x1.min(o.x1), self.y1.min(o.y1));
        if x0 > x1 || y0 > y1 {
            return 0.0;
        }
        let inter = ((x1 + 1 - x0) * (y1 + 1 - y0)) as f64;
        inter / (self.area() + o.area() - inter)
    }
}

/// Everything a picture pair is drawn from.
#[derive(Debug, Clone)]
pub struct Scene {
    pub kind: Kind,
    /// The seed the scene was drawn from; the disturbed picture's noise comes from it too.
    pub seed: u64,
    pub width: usize,
    pub height: usize,
    /// The tile's top-left corner and its pixels per dataset pixel.
    pub tile_x: f64,
    pub tile_y: f64,
    pub scale: f64,
    pub light_background: bool,
    pub background: [f64; 3],
    pub ink: [f64; 3],
    /// The disturbances (0, `None`: not this kind's).
    pub noise_sigma: f64,
    pub jpeg_quality: Option<u8>,
    /// Lighting: ±levels (on a 220 surface) and direction (radians).
    pub gradient: Option<(f64, f64)>,
    pub shadow: Option<Shadow>,
}

/// A soft elliptical shadow: centre, semi-axes, rotation, edge softness, depth in levels.
#[derive(Debug, Clone, Copy)]
pub struct Shadow {
    pub cx: f64,
    pub cy: f64,
    pub ax: f64,
    pub ay: f64,
    pub angle: f64,
    pub soft: f64,
    pub depth: f64,
}

/// A picture as a file and as `predict` reads it.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The encoded file (PNG, or JPEG for a disturbed `jpeg` or `all` picture).
    pub bytes: Vec<u8>,
    /// "png" or "jpg".
    pub extension: &'static str,
    /// The decoded file.
    pub image: DynamicImage,
}

/// A scene's clean and disturbed picture and the garment's true box in both.
#[derive(Debug, Clone)]
pub struct Pair {
    pub clean: Photo,
    pub disturbed: Photo,
    pub truth: PixBox,
}

/// The bounding box (inclusive, in dataset pixels) of `px`'s nonzero pixels; the whole
/// image when it is black.
fn dataset_box(px: &[u8]) -> (usize, usize, usize, usize) {
    let (mut x0, mut y0, mut x1, mut y1) = (27, 27, 0, 0);
    for y in 0..28 {
        for x in 0..28 {
            if px[y * 28 + x] > 0 {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 {
        (0, 0, 27, 27)
    } else {
        (x0, y0, x1, y1)
    }
}

/// Size and placement: the canvas, the tile, and the garment's box on it (left, top,
/// width, height).
struct Placement {
    width: f64,
    height: f64,
    tile_x: f64,
    tile_y: f64,
    scale: f64,
    garment: (f64, f64, f64, f64),
}

impl Placement {
    fn draw(r: &mut Rng, px: &[u8]) -> Placement {
        let tile = r.range(150.0, 400.0);
        let scale = tile / 28.0;
        let (gx0, gy0, gx1, gy1) = dataset_box(px);
        let long = r.range(240f64.max(1.25 * tile), 1200.0);
        let aspect = r.range(0.65, 1.55);
        let (mut w, mut h) = if aspect >= 1.0 {
            (long, long / aspect)
        } else {
            (long * aspect, long)
        };
        w = w.max(tile + 24.0).round();
        h = h.max(tile + 24.0).round();
        let m = 8.0;
        let (bw, bh) = (
            (gx1 + 1 - gx0) as f64 * scale,
            (gy1 + 1 - gy0) as f64 * scale,
        );
        let tile_x = r.range(m, (w - m - bw).max(m + 1.0)) - gx0 as f64 * scale;
        let tile_y = r.range(m, (h - m - bh).max(m + 1.0)) - gy0 as f64 * scale;
        let (left, top) = (tile_x + gx0 as f64 * scale, tile_y + gy0 as f64 * scale);
        Placement {
            width: w,
            height: h,
            tile_x,
            tile_y,
            scale,
            garment: (left, top, bw, bh),
        }
    }
}

/// Whether the background is light, its colour and the garment's.
fn colours(r: &mut Rng) -> (bool, [f64; 3], [f64; 3]) {
    let light_background = r.unit() < 0.75;
    let (background, ink) = if light_background {
        let b = r.range(200.0, 240.0);
        let i = r.range(10.0, 90.0);
        (
            [0; 3].map(|_| (b + r.range(-10.0, 10.0)).clamp(0.0, 255.0)),
            [0; 3].map(|_| (i + r.range(-25.0, 25.0)).clamp(0.0, 255.0)),
        )
    } else {
        let b = r.range(15.0, 50.0);
        let i = r.range(170.0, 240.0);
        (
            [0; 3].map(|_| (b + r.range(-8.0, 8.0)).clamp(0.0, 255.0)),
            [0; 3].map(|_| (i + r.range(-20.0, 20.0)).clamp(0.0, 255.0)),
        )
    };
    (light_background, background, ink)
}

/// Every kind's disturbance, drawn whatever the kind (so that the scene itself does not
/// depend on which are kept), milder for `all`: noise σ, JPEG quality, gradient, shadow.
fn disturbances(r: &mut Rng, mild: bool, p: &Placement) -> (f64, u8, (f64, f64), Shadow) {
    let noise_sigma = if mild {
        r.range(2.0, 5.0)
    } else {
        r.range(2.0, 8.0)
    };
    let quality = if mild {
        r.range(50.0, 71.0)
    } else {
        r.range(30.0, 61.0)
    } as u8;
    let gradient = (
        if mild {
            r.range(15.0, 30.0)
        } else {
            r.range(20.0, 40.0)
        },
        r.range(0.0, std::f64::consts::TAU),
    );
    let (left, top, bw, bh) = p.garment;
    let (cx, cy) = (left + bw / 2.0, top + bh / 2.0);
    let dir = r.range(0.0, std::f64::consts::TAU);
    let off = r.range(0.2, 0.45);
    let shadow = Shadow {
        cx: cx + dir.cos() * off * bw,
        cy: cy + dir.sin() * off * bh,
        ax: r.range(0.35, 0.55) * bw,
        ay: r.range(0.35, 0.55) * bh,
        angle: r.range(-0.5, 0.5),
        soft: r.range(0.1, 0.25),
        depth: if mild {
            r.range(20.0, 40.0)
        } else {
            r.range(30.0, 60.0)
        },
    };
    (noise_sigma, quality, gradient, shadow)
}

impl Scene {
    /// The scene for dataset image `px` (784 bytes, row by row) drawn from `seed`,
    /// disturbed by `kind`.
    pub fn new(seed: u64, px: &[u8], kind: Kind) -> Scene {
        assert_eq!(px.len(), 784, "a 28×28 image");
        let mut r = Rng::new(seed);
        let place = Placement::draw(&mut r, px);
        let (light_background, background, ink) = colours(&mut r);
        let all = kind == Kind::All;
        let (noise_sigma, quality, gradient, shadow) = disturbances(&mut r, all, &place);
        Scene {
            kind,
            seed,
            width: place.width as usize,
            height: place.height as usize,
            tile_x: place.tile_x,
            tile_y: place.tile_y,
            scale: place.scale,
            light_background,
            background,
            ink,
            noise_sigma: if all || kind == Kind::Noise {
                noise_sigma
            } else {
                0.0
            },
            jpeg_quality: (all || kind == Kind::Jpeg).then_some(quality),
            gradient: (all || kind == Kind::Gradient).then_some(gradient),
            shadow: (all || kind == Kind::Shadow).then_some(shadow),
        }
    }

    /// A copy `f` times larger (or smaller).
    pub fn scaled(&self, f: f64) -> Scene {
        let mut s = self.clone();
        s.width = (self.width as f64 * f).round() as usize;
        s.height = (self.height as f64 * f).round() as usize;
        s.tile_x *= f;
        s.tile_y *= f;
        s.scale *= f;
        if let Some(sh) = &mut s.shadow {
            sh.cx *= f;
            sh.cy *= f;
            sh.ax *= f;
            sh.ay *= f;
        }
        s
    }

    /// A copy scaled so that its long edge is `long` pixels.
    pub fn with_long_edge(&self, long: f64) -> Scene {
        self.scaled(long / self.width.max(self.height) as f64)
    }

    /// The clean and the disturbed picture, encoded as files and decoded again.
    pub fn pair(&self, px: &[u8]) -> Pair {
        let (clean, truth) = self.render(px, false);
        let (disturbed, _) = self.render(px, true);
        let png_photo = |img: RgbImage| Photo {
            bytes: png(&img),
            extension: "png",
            image: DynamicImage::ImageRgb8(img),
        };
        let disturbed = match self.jpeg_quality {
            Some(q) => {
                let bytes = jpeg(&disturbed, q);
                let image = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg)
                    .expect("decoding our own JPEG");
                Photo {
                    bytes,
                    extension: "jpg",
                    image,
                }
            }
            None => png_photo(disturbed),
        };
        Pair {
            clean: png_photo(clean),
            disturbed,
            truth,
        }
    }

    /// The dataset value (0–255) at photo pixel (x, y): bilinear between pixel centres, 0
    /// off the tile.
    fn sample(&self, px: &[u8], x: usize, y: usize) -> f64 {
        let u = (x as f64 + 0.5 - self.tile_x) / self.scale - 0.5;
        let v = (y as f64 + 0.5 - self.tile_y) / self.scale - 0.5;
        if u <= -1.0 || v <= -1.0 || u >= 28.0 || v >= 28.0 {
            return 0.0;
        }
        let (fu, fv) = (u.floor(), v.floor());
        let (tu, tv) = (u - fu, v - fv);
        let at = |i: f64, j: f64| -> f64 {
            if i < 0.0 || j < 0.0 || i > 27.0 || j > 27.0 {
                0.0
            } else {
                f64::from(px[j as usize * 28 + i as usize])
            }
        };
        at(fu, fv) * (1.0 - tu) * (1.0 - tv)
            + at(fu + 1.0, fv) * tu * (1.0 - tv)
            + at(fu, fv + 1.0) * (1.0 - tu) * tv
            + at(fu + 1.0, fv + 1.0) * tu * tv
    }

    /// The light falling on pixel (x, y) of the disturbed picture, as a factor: the
    /// gradient (`grad`: its share per level and direction over the reach) and the shadow.
    fn light_at(&self, grad: Option<(f64, f64, f64)>, x: usize, y: usize) -> f64 {
        let (cx, cy) = (self.width as f64 / 2.0, self.height as f64 / 2.0);
        let mut f = 1.0;
        if let Some((g, gx, gy)) = grad {
            f *= 1.0 + g * ((x as f64 + 0.5 - cx) * gx + (y as f64 + 0.5 - cy) * gy);
        }
        if let Some(sh) = self.shadow {
            let (dx, dy) = (x as f64 + 0.5 - sh.cx, y as f64 + 0.5 - sh.cy);
            let (ca, sa) = (sh.angle.cos(), sh.angle.sin());
            let (u, v) = ((dx * ca + dy * sa) / sh.ax, (-dx * sa + dy * ca) / sh.ay);
            let rho = (u * u + v * v).sqrt();
            let cover = 1.0 / (1.0 + ((rho - 1.0) / sh.soft).exp());
            f *= 1.0 - sh.depth / 220.0 * cover;
        }
        f
    }

    /// The picture (clean, or disturbed as the scene's kind says, before any JPEG) and the
    /// garment's true box.
    pub fn render(&self, px: &[u8], disturbed: bool) -> (RgbImage, PixBox) {
        let (w, h) = (self.width, self.height);
        let mut noise = Rng::new(self.seed ^ 0x5EE_D0F0_015E);
        let mut img = RgbImage::new(w as u32, h as u32);
        let mut truth: Option<PixBox> = None;
        let grad = self.gradient.map(|(amp, th)| {
            let (c, sn) = (th.cos(), th.sin());
            let reach = (w as f64 / 2.0 * c.abs() + h as f64 / 2.0 * sn.abs()).max(1.0);
            (amp / 220.0, c / reach, sn / reach)
        });
        for y in 0..h {
            for x in 0..w {
                let a = self.sample(px, x, y);
                if a >= 1.0 {
                    let b = truth.get_or_insert(PixBox {
                        x0: x,
                        y0: y,
                        x1: x,
                        y1: y,
                    });
                    (b.x0, b.x1) = (b.x0.min(x), b.x1.max(x));
                    (b.y0, b.y1) = (b.y0.min(y), b.y1.max(y));
                }
                let t = a / 255.0;
                let mut c = [0f64; 3];
                for (k, ch) in c.iter_mut().enumerate() {
                    *ch = self.background[k] + (self.ink[k] - self.background[k]) * t;
                }
                if disturbed {
                    let f = self.light_at(grad, x, y);
                    for ch in c.iter_mut() {
                        *ch *= f;
                        if self.noise_sigma > 0.0 {
                            *ch += self.noise_sigma * noise.gauss();
                        }
                    }
                }
                let rgb = c.map(|v| v.round().clamp(0.0, 255.0) as u8);
                img.put_pixel(x as u32, y as u32, Rgb(rgb));
            }
        }
        let whole = PixBox {
            x0: 0,
            y0: 0,
            x1: w - 1,
            y1: h - 1,
        };
        (img, truth.unwrap_or(whole))
    }
}

/// `img` encoded as JPEG at `quality`.
pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("JPEG encoding to memory");
    out
}

/// `img` encoded as PNG.
pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("PNG encoding to memory");
    out
}
