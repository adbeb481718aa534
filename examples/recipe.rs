//! Training speed of candidate shapes for the `fast` network (and the tutorial's, for
//! reference): images per second of full training steps (forward, backward, Nesterov
//! update, augmentation) on random batches, a few seconds each.
//!
//! ```text
//! cargo run --release --example recipe -- [SECONDS] [THREADS] [BATCH]
//! ```

use std::time::Instant;

use fashion_tui::config::recipe::defaults_for;
use fashion_tui::config::{ModelKind, Optimizer, Precision, Training};
use fashion_tui::model::fast::{block, macs, FastSpec};
use fashion_tui::model::precision;
use fashion_tui::model::{FastCnn, Kernels, Network, TutorialCnn};
use fashion_tui::train::augment::Augment;
use fashion_tui::train::loss;
use fashion_tui::train::optim::Optim;
use tch::{nn, Device, Kind, Tensor};

const CANDIDATES: &[(&str, FastSpec)] = &[
    (
        "s24 | p64 | p128 | p256",
        FastSpec {
            stem: 24,
            stem_stride: 1,
            blocks: &[block(64, 1, true), block(128, 1, true), block(256, 1, true)],
        },
    ),
    (
        "s32/2 | 64 | p128 | p256 (fast)",
        fashion_tui::model::fast::FAST_SPEC,
    ),
    (
        "s16 | p32 | p64 | p128",
        FastSpec {
            stem: 16,
            stem_stride: 1,
            blocks: &[block(32, 1, true), block(64, 1, true), block(128, 1, true)],
        },
    ),
    (
        "s32/2 | 48 | p96 | p192",
        FastSpec {
            stem: 32,
            stem_stride: 2,
            blocks: &[block(48, 1, false), block(96, 1, true), block(192, 1, true)],
        },
    ),
    (
        "s32/2 | 64 | p128x2 | p256",
        FastSpec {
            stem: 32,
            stem_stride: 2,
            blocks: &[
                block(64, 1, false),
                block(128, 2, true),
                block(256, 1, true),
            ],
        },
    ),
    (
        "s32/2 | p96 | p192",
        FastSpec {
            stem: 32,
            stem_stride: 2,
            blocks: &[block(96, 1, true), block(192, 1, true)],
        },
    ),
    (
        "s48/2 | 96 | p192 | p384",
        FastSpec {
            stem: 48,
            stem_stride: 2,
            blocks: &[
                block(96, 1, false),
                block(192, 1, true),
                block(384, 1, true),
            ],
        },
    ),
];

fn images_per_sec(net: &dyn Network, vs: &nn::VarStore, batch: i64, secs: f64) -> f64 {
    let t = Training {
        optimizer: Optimizer::Nesterov,
        lr: 0.05,
        weight_decay: 5e-4,
        ..Training::default()
    };
    let mut opt = Optim::new(&t, vs);
    let aug = Augment::of(&defaults_for(ModelKind::Fast).data);
    let xs = Tensor::rand([batch, 1, 28, 28], (Kind::Float, Device::Cpu));
    let ys = Tensor::randint(10, [batch], (Kind::Int64, Device::Cpu));
    let mut step = |i: i64| {
        let x = aug.apply(&xs, 1, i);
        let l = loss::cross_entropy(&net.forward_t(&x, true), &ys, 0.1);
        opt.backward_step(&l);
    };
    for i in 0..3 {
        step(i);
    }
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs {
        step(3 + n);
        n += 1;
    }
    (n * batch) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: f64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let secs = arg(1, 4.0);
    tch::set_num_threads(arg(2, 2.0) as i32);
    let batch = arg(3, 256.0) as i64;
    tch::manual_seed(0);
    println!("| network | params | MFLOP/img (train) | img/s |");
    println!("|---|---|---|---|");
    {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = TutorialCnn::new(&vs.root(), 0.2);
        let ips = images_per_sec(&net, &vs, 32, secs);
        println!("| tutorial (batch 32) | 360458 | 7.6 | {ips:.0} |");
    }
    let (compute, _) = precision::resolve(Precision::Bf16, Device::Cpu);
    println!("(fast candidates in {compute:?})");
    for (name, spec) in CANDIDATES {
        let vs = nn::VarStore::new(Device::Cpu);
        // In the recipe's precision, where this machine has it.
        let net = FastCnn::with_spec(&vs.root(), *spec, 0.0)
            .computing_with(Kernels::rule(ModelKind::Fast, compute));
        let params: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        let mflop = 6.0 * macs(*spec) as f64 / 1e6;
        let ips = images_per_sec(&net, &vs, batch, secs);
        println!("| {name} | {params} | {mflop:.1} | {ips:.0} |");
    }
}
