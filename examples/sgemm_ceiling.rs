//! The machine's ceiling for the speed benchmark: the best f32 matrix-multiply rate that
//! our libtorch reaches here at a given thread count (square matrices of a few sizes, the
//! best of several timed samples each), through either of its two libraries: MKL (`mm`)
//! and oneDNN (the same product as a 1×1 convolution on channels-last data, which is how
//! oneDNN runs it; on AMD processors MKL keeps to its AVX2 kernels while oneDNN uses
//! AVX-512, so the two can differ by 2×), and what one image costs each network
//! ([`fashion_tui::model::cost`]), so that an epoch's images per second become a fraction
//! of that ceiling.
//!
//! ```text
//! cargo run --release --example sgemm_ceiling -- [--threads 2] [--samples 10] [--json]
//! ```
//!
//! `scripts/bench.sh` runs it with `--json` before and after its rounds.

use std::time::{Duration, Instant};

use clap::Parser;
use fashion_tui::model::{cost, layout, ModelKind};
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    /// libtorch intra-op threads, as `--threads` gives the trainer.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// Matrix sizes (n×n times n×n).
    #[arg(long, value_delimiter = ',', default_value = "128,256,512,1024,2048")]
    sizes: Vec<i64>,
    /// Timed samples per size; the best counts.
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// The product is repeated until one sample lasts at least this long.
const SAMPLE: Duration = Duration::from_millis(20);

/// GFLOP/s of the best sample of `n`×`n` by `n`×`n` products through MKL.
fn sgemm(n: i64, samples: usize) -> f64 {
    let opts = (Kind::Float, Device::Cpu);
    let (a, b, out) = (
        Tensor::randn([n, n], opts),
        Tensor::randn([n, n], opts),
        Tensor::zeros([n, n], opts),
    );
    best_rate(n, samples, &|| {
        let _ = a.mm_out(&out, &b);
    })
}

/// GFLOP/s of the best sample of the same products through oneDNN: `n` rows of `n`
/// channels (a batch of 8×8 images, channels-last) times a 1×1 convolution's `n`×`n`
/// weights.
fn onednn(n: i64, samples: usize) -> f64 {
    let opts = (Kind::Float, Device::Cpu);
    let side = 8.min(n);
    let images = (n / (side * side)).max(1);
    let x = layout::channels_last(&Tensor::randn([images, n, side, side], opts));
    let w = Tensor::randn([n, n, 1, 1], opts);
    let rows = images * side * side;
    let flops_scale = rows as f64 / n as f64;
    flops_scale
        * best_rate(n, samples, &|| {
            let _ = x.conv2d(&w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
        })
}

/// GFLOP/s of the best sample of `product`, which costs 2·n³ floating-point operations.
fn best_rate(n: i64, samples: usize, product: &dyn Fn()) -> f64 {
    let flops = 2.0 * (n as f64).powi(3);
    // Warm up (threads, caches, libtorch's kernel choice) and size one sample.
    let t = Instant::now();
    product();
    let once = t.elapsed().max(Duration::from_micros(1));
    let reps = (SAMPLE.as_secs_f64() / once.as_secs_f64()).ceil().max(1.0) as usize;
    let mut best = 0.0f64;
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        for _ in 0..reps {
            product();
        }
        let secs = t.elapsed().as_secs_f64();
        best = best.max(flops * reps as f64 / secs / 1e9);
    }
    best
}

fn main() {
    let args = Args::parse();
    tch::set_num_threads(args.threads);
    let rates: Vec<(i64, f64)> = args
        .sizes
        .iter()
        .map(|&n| (n, sgemm(n, args.samples)))
        .collect();
    let dnn: Vec<(i64, f64)> = args
        .sizes
        .iter()
        .map(|&n| (n, onednn(n, args.samples)))
        .collect();
    let ceiling = rates.iter().chain(&dnn).map(|r| r.1).fold(0.0, f64::max);
    let costs: Vec<(ModelKind, cost::Cost)> = ModelKind::ALL
        .into_iter()
        .map(|k| (k, cost::cost(k)))
        .collect();
    if args.json {
        let rows = |rates: &[(i64, f64)]| -> Vec<serde_json::Value> {
            rates
                .iter()
                .map(|(n, g)| serde_json::json!({"n": n, "gflops": g}))
                .collect()
        };
        let models: serde_json::Map<String, serde_json::Value> = costs
            .iter()
            .map(|(k, c)| {
                let v = serde_json::json!({
                    "train_flops_per_image": c.train_flops(),
                    "forward_flops_per_image": c.forward_flops(),
                });
                (k.name().to_string(), v)
            })
            .collect();
        let out = serde_json::json!({
            "threads": args.threads,
            "sgemm": rows(&rates),
            "onednn": rows(&dnn),
            "ceiling_gflops": ceiling,
            "models": models,
        });
        println!("{out}");
        return;
    }
    println!(
        "f32 matrix products in libtorch, {} thread(s):",
        args.threads
    );
    for ((n, g), (_, d)) in rates.iter().zip(&dnn) {
        println!("  {n:>5} × {n:<5} MKL {g:>8.1} GFLOP/s   oneDNN {d:>8.1} GFLOP/s");
    }
    println!("ceiling: {ceiling:.1} GFLOP/s");
    for (k, c) in &costs {
        println!(
            "{k}: {:.2} MFLOP per training image, {:.2} MFLOP per evaluated image",
            c.train_flops() as f64 / 1e6,
            c.forward_flops() as f64 / 1e6
        );
    }
}
