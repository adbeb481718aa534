//! Deterministic, realistic trainer events for the dashboard's tests: a 10-epoch run of
//! which two epochs are finished and the third is under way.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::events::{
    BudgetPlan, Confusion, EpochSummary, FeatureMaps, LayerMaps, Outcomes, Phase, Prediction,
    Predictions, Progress, RunInfo, RunSummary, SaveReason, TestImages, TrainEvent, IMAGE_PIXELS,
    IMAGE_SIDE, NUM_CLASSES,
};
use crate::ui::app::{App, UiOptions};
use crate::ui::theme::ColorMode;

pub const EPOCHS: usize = 10;
pub const BATCHES: usize = 1875;
/// Batches between two progress snapshots.
const STEP: usize = 75;

/// A tiny deterministic PRNG (xorshift) so fixtures need no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `0..1`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

pub fn run_info() -> RunInfo {
    RunInfo {
        model: "FashionCnn".into(),
        device: "cpu · 2 threads".into(),
        parameters: 225_034,
        epochs: EPOCHS,
        batch_size: 32,
        batches_per_epoch: BATCHES,
        train_images: 60_000,
        test_images: 10_000,
        lr: 1e-3,
        seed: 42,
        time_budget: None,
        run_dir: PathBuf::from("/runs/2024-06-01T12-00-00"),
        data_source: "data/fashion-mnist".into(),
        data_load_secs: 1.3,
        early_stop: 0,
        validation: 0,
    }
}

/// Training loss after `x` fractional epochs, with a little noise.
fn loss_at(x: f64, rng: &mut Rng) -> f32 {
    let base = 0.25 + 2.05 * (-3.0 * x).exp() + 0.15 * (-0.5 * x).exp();
    (base * (0.75 + 0.5 * rng.unit())) as f32
}

/// Progress snapshots for batches `from..to` of 0-based `epoch`.
pub fn progress(epoch: usize, from: usize, to: usize, rng: &mut Rng) -> Vec<Progress> {
    let mut out = Vec::new();
    let mut b = from;
    while b < to {
        let end = (b + STEP).min(to);
        let losses = (b..end)
            .map(|i| {
                let x = epoch as f64 + (i + 1) as f64 / BATCHES as f64;
                (x, loss_at(x, rng))
            })
            .collect();
        let x = epoch as f64 + end as f64 / BATCHES as f64;
        let done = (x / EPOCHS as f64).min(1.0);
        out.push(Progress {
            epoch,
            batch: end,
            batches: BATCHES,
            losses,
            train_acc: 0.92 - 0.55 * (-2.5 * x).exp(),
            images_per_sec: 1850.0 + 10.0 * (end % 7) as f64,
            eta_secs: (1.0 - done) * EPOCHS as f64 * 32.5,
            lr: 1e-3,
            elapsed_secs: x * 33.5,
            budget_left_secs: None,
        });
        b = end;
    }
    out
}

/// A plausible test-set confusion matrix (1 000 images per class) for an epoch.
pub fn confusion(epoch: usize) -> Confusion {
    // (true, predicted, count at epoch 1); later epochs confuse less.
    const CONFUSIONS: [(usize, usize, u32); 16] = [
        (6, 0, 128),
        (0, 6, 96),
        (2, 4, 88),
        (4, 2, 74),
        (6, 2, 70),
        (6, 4, 52),
        (4, 6, 48),
        (2, 6, 45),
        (3, 4, 31),
        (0, 3, 27),
        (3, 0, 22),
        (9, 7, 30),
        (7, 9, 25),
        (5, 7, 28),
        (5, 9, 12),
        (8, 6, 9),
    ];
    let shrink = |n: u32| n * 4 / (3 + epoch as u32);
    let mut m = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    for &(t, p, n) in &CONFUSIONS {
        m[t][p] += shrink(n);
    }
    for t in 0..NUM_CLASSES {
        let misses = 5 + (t as u32 * 3) % 7;
        m[t][(t + 5) % NUM_CLASSES] += misses;
        let off: u32 = m[t].iter().sum::<u32>() - m[t][t];
        m[t][t] = 1000u32.saturating_sub(off);
    }
    m
}

pub fn epoch_summary(epoch: usize) -> EpochSummary {
    let confusion = confusion(epoch);
    let correct: u32 = (0..NUM_CLASSES).map(|i| confusion[i][i]).sum();
    EpochSummary {
        epoch,
        epochs: EPOCHS,
        train_loss: 0.52 - 0.12 * epoch as f64,
        train_acc: 0.81 + 0.04 * epoch as f64,
        test_loss: 0.47 - 0.09 * epoch as f64,
        test_acc: f64::from(correct) / 10_000.0,
        test_acc_plain: f64::from(correct) / 10_000.0,
        val_loss: None,
        val_acc: None,
        lr: 1e-3,
        seconds: 31.4,
        elapsed: 33.5 * epoch as f64,
        eval_seconds: 2.1,
        images_per_sec: 1910.0,
        confusion,
    }
}

/// A synthetic 28×28 image that looks a little like the class: a blob with a shape.
pub fn image(label: usize, seed: u64) -> Box<[u8; IMAGE_PIXELS]> {
    let mut rng = Rng::new(seed);
    let mut px = Box::new([0u8; IMAGE_PIXELS]);
    let s = IMAGE_SIDE as i32;
    let inside = |x: i32, y: i32| -> bool {
        match label {
            // Tops: body with sleeves.
            0 | 2 | 4 | 6 => {
                let sleeve = match label {
                    0 => 9,
                    _ => 22,
                };
                (8..=19).contains(&x) && (4..=25).contains(&y)
                    || (3..=24).contains(&x) && (4..=sleeve).contains(&y) && !(8..=19).contains(&x)
            }
            1 => {
                ((8..=12).contains(&x) || (15..=19).contains(&x)) && (2..=26).contains(&y)
                    || (8..=19).contains(&x) && (2..=6).contains(&y)
            }
            3 => {
                let half = 3 + (y - 2) / 3;
                (2..=26).contains(&y) && (x - 13).abs() <= half
            }
            5 => (3..=24).contains(&x) && (14..=20).contains(&y) && (x + y) % 4 != 0,
            7 => (2..=25).contains(&x) && (13..=21).contains(&y) && (y > 16 || x > 14),
            8 => {
                (4..=23).contains(&x) && (9..=24).contains(&y)
                    || ((8..=9).contains(&x) || (18..=19).contains(&x)) && (4..=9).contains(&y)
                    || (8..=19).contains(&x) && (4..=5).contains(&y)
            }
            _ => {
                (12..=20).contains(&x) && (3..=24).contains(&y)
                    || (4..=20).contains(&x) && (18..=24).contains(&y)
            }
        }
    };
    for y in 0..s {
        for x in 0..s {
            if inside(x, y) {
                let shade = 140 + ((x * 3 + y * 5) % 60) as u64 + rng.below(50);
                px[(y * s + x) as usize] = shade.min(255) as u8;
            }
        }
    }
    px
}

pub fn predictions(epoch: usize) -> Predictions {
    let mut rng = Rng::new(100 + epoch as u64);
    let sample = (0..16)
        .map(|i| {
            let label = (i * 7 + 3) % NUM_CLASSES;
            // Three of the sixteen are wrong.
            let predicted = match i {
                2 => 6,
                9 => 4,
                13 => 0,
                _ => label,
            };
            Prediction {
                index: i * 613 % 10_000,
                pixels: image(label, i as u64),
                label: label as u8,
                predicted: predicted as u8,
                confidence: (0.55 + 0.44 * rng.unit()) as f32,
            }
        })
        .collect();
    let pairs = [
        (6, 0),
        (0, 6),
        (2, 4),
        (4, 2),
        (6, 2),
        (9, 7),
        (7, 9),
        (3, 4),
    ];
    let mistakes = pairs
        .iter()
        .enumerate()
        .map(|(i, &(t, p))| Prediction {
            index: 1000 + i * 97,
            pixels: image(t, 50 + i as u64),
            label: t as u8,
            predicted: p as u8,
            confidence: 0.99 - 0.03 * i as f32,
        })
        .collect();
    Predictions {
        epoch,
        sample,
        mistakes,
        outcomes: outcomes(epoch),
    }
}

/// The fixtures' test set: 1 000 images per class, in class order.
pub fn test_images() -> TestImages {
    let labels: Vec<u8> = (0..10_000).map(|i| (i / 1000) as u8).collect();
    let mut pixels = Vec::with_capacity(labels.len() * IMAGE_PIXELS);
    for (i, &l) in labels.iter().enumerate() {
        pixels.extend_from_slice(&image(usize::from(l), 5000 + i as u64)[..]);
    }
    TestImages { labels, pixels }
}

/// What the network said of each of [`test_images`] at `epoch`, as [`confusion`] counts
/// it: within each class, the first images predicted as the lowest classes.
pub fn outcomes(epoch: usize) -> Outcomes {
    let m = confusion(epoch);
    let mut rng = Rng::new(900 + epoch as u64);
    let mut o = Outcomes::default();
    for row in &m {
        for (p, &n) in row.iter().enumerate() {
            for _ in 0..n {
                o.predicted.push(p as u8);
                o.confidence.push((0.35 + 0.64 * rng.unit()) as f32);
            }
        }
    }
    o
}

fn layer(name: &str, channels: usize, side: usize, seed: f32) -> LayerMaps {
    let mut values = Vec::with_capacity(channels * side * side);
    for c in 0..channels {
        let cf = c as f32;
        for y in 0..side {
            for x in 0..side {
                let (xf, yf) = (x as f32, y as f32);
                let v = ((cf * 0.7 + xf * (0.3 + 0.05 * (c % 5) as f32) + seed).sin()
                    * (yf * (0.4 + 0.03 * (c % 7) as f32) - cf).cos())
                    * (1.0 + 0.5 * (c % 3) as f32);
                values.push(v.max(0.0));
            }
        }
    }
    let min = values.iter().copied().fold(f32::INFINITY, f32::min);
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    LayerMaps {
        name: name.into(),
        channels,
        height: side,
        width: side,
        values,
        min,
        max,
    }
}

/// Feature maps of the real model's shapes: 32×13×13, 64×6×6, 128×2×2.
pub fn feature_maps(index: usize, at_epoch: f64) -> FeatureMaps {
    let label = (index * 7 + 3) % NUM_CLASSES;
    FeatureMaps {
        index,
        label: label as u8,
        predicted: label as u8,
        pixels: image(label, index as u64),
        layers: vec![
            layer("conv1", 32, 13, index as f32),
            layer("conv2", 64, 6, 1.0 + index as f32),
            layer("conv3", 128, 2, 2.0 + index as f32),
        ],
        at_epoch,
        probabilities: (0..NUM_CLASSES)
            .map(|k| if k == label { 0.82 } else { 0.02 })
            .collect(),
    }
}

/// The scripted run: (seconds since start, event).
pub fn script() -> Vec<(f64, TrainEvent)> {
    let mut rng = Rng::new(7);
    let mut t = 0.0;
    let mut out = vec![
        (
            0.0,
            TrainEvent::Message("loading dataset from data/fashion-mnist…".into()),
        ),
        (
            1.3,
            TrainEvent::Message("loaded 60,000 train / 10,000 test images".into()),
        ),
        (1.4, TrainEvent::Started(Box::new(run_info()))),
        (1.4, TrainEvent::TestImages(Box::new(test_images()))),
        (1.4, TrainEvent::Phase(Phase::Training)),
    ];
    t += 1.5;
    for epoch in 0..3 {
        let to = if epoch == 2 { 900 } else { BATCHES };
        for p in progress(epoch, 0, to, &mut rng) {
            t += 1.3;
            out.push((t, TrainEvent::Progress(p)));
        }
        if epoch == 2 {
            break;
        }
        out.push((t, TrainEvent::Phase(Phase::Evaluating)));
        t += 2.1;
        let e = epoch + 1;
        out.push((
            t,
            TrainEvent::Saved {
                at: e as f64,
                why: SaveReason::EpochEnd,
            },
        ));
        out.push((t, TrainEvent::EpochEnd(Box::new(epoch_summary(e)))));
        out.push((t, TrainEvent::Predictions(Box::new(predictions(e)))));
        out.push((
            t,
            TrainEvent::FeatureMaps(Box::new(feature_maps(0, e as f64))),
        ));
        out.push((t, TrainEvent::Phase(Phase::Training)));
    }
    out
}

/// A `fast` run under a three-minute budget, 40 s in: the plan fixed (6.5 epochs), the
/// one-cycle rate warming up then decaying, and the feature maps of its four conv layers.
pub fn budget_script() -> Vec<(f64, TrainEvent)> {
    let mut rng = Rng::new(11);
    let info = RunInfo {
        model: "fast".into(),
        batch_size: 256,
        batches_per_epoch: 235,
        lr: 0.2,
        time_budget: Some(180.0),
        ..run_info()
    };
    let mut out = vec![
        (0.5, TrainEvent::Started(Box::new(info))),
        (0.5, TrainEvent::Phase(Phase::Training)),
    ];
    let plan = BudgetPlan {
        budget_secs: 180.0,
        total_batches: 1528,
        epochs: 1528.0 / 235.0,
        images_per_sec: 9_000.0,
        eval_secs: 1.2,
        at_secs: 5.5,
    };
    for k in 1..=40 {
        let at = f64::from(k) / 40.0 * 1.5;
        let lr = if at < 0.5 {
            0.2 * at / 0.5
        } else {
            0.2 * (plan.epochs - at) / (plan.epochs - 0.5)
        };
        let elapsed = f64::from(k);
        out.push((
            0.5 + elapsed,
            TrainEvent::Progress(Progress {
                epoch: at as usize,
                batch: ((at.fract()) * 235.0) as usize,
                batches: 235,
                losses: vec![(at, loss_at(at, &mut rng))],
                train_acc: 0.9 - 0.5 * (-3.0 * at).exp(),
                images_per_sec: 9_000.0,
                eta_secs: 180.0 - elapsed,
                lr,
                elapsed_secs: elapsed,
                budget_left_secs: Some(180.0 - elapsed),
            }),
        ));
        if k == 6 {
            out.push((6.5, TrainEvent::Planned(Box::new(plan.clone()))));
        }
    }
    let mut maps = feature_maps(0, 1.5);
    maps.layers = vec![
        layer("conv1", 32, 14, 0.0),
        layer("conv2", 64, 14, 1.0),
        layer("conv3", 128, 7, 2.0),
        layer("conv4", 256, 3, 3.0),
    ];
    out.push((40.5, TrainEvent::FeatureMaps(Box::new(maps))));
    out
}

pub fn opts(color: ColorMode) -> UiOptions {
    UiOptions {
        color,
        ..UiOptions::default()
    }
}

/// An app fed with `events`, its clock following their timestamps.
pub fn app_with(events: Vec<(f64, TrainEvent)>, opts: UiOptions) -> App {
    let mut app = App::new(opts);
    let t0 = Instant::now();
    app.on_tick(t0);
    for (at, ev) in events {
        app.on_tick(t0 + Duration::from_secs_f64(at));
        app.on_event(ev);
    }
    app
}

/// The app mid-run (epoch 3 of 10, two epochs finished), Ansi16 colours.
pub fn mid_run() -> App {
    app_with(script(), opts(ColorMode::Ansi16))
}

/// The app after the run ended.
pub fn finished() -> App {
    let mut events = script();
    let t = events.last().map_or(0.0, |e| e.0) + 5.0;
    events.push((t, TrainEvent::Phase(Phase::Done)));
    events.push((
        t,
        TrainEvent::Done(Box::new(RunSummary {
            epochs_completed: 2,
            test_acc: Some(epoch_summary(2).test_acc),
            model_path: Some(PathBuf::from("/runs/2024-06-01T12-00-00/model.safetensors")),
            run_dir: PathBuf::from("/runs/2024-06-01T12-00-00"),
            stopped_early: true,
            seconds: t,
        })),
    ));
    app_with(events, opts(ColorMode::Ansi16))
}
