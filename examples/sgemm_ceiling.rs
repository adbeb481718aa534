//! The machine's ceiling for the speed benchmark: the best f32 matrix-multiply rate that
//! our libtorch reaches here at a given thread count (square matrices of a few sizes, the
//! best of several timed samples each), and what one image costs each network
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
use fashion_tui::model::{cost, ModelKind};
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

/// GFLOP/s of the best sample of `n`×`n` by `n`×`n` products.
fn sgemm(n: i64, samples: usize) -> f64 {
    let opts = (Kind::Float, Device::Cpu);
    let (a, b, out) = (
        Tensor::randn([n, n], opts),
        Tensor::randn([n, n], opts),
        Tensor::zeros([n, n], opts),
    );
    let flops = 2.0 * (n as f64).powi(3);
    // Warm up (threads, caches, libtorch's kernel choice) and size one sample.
    let t = Instant::now();
    let _ = a.mm_out(&out, &b);
    let once = t.elapsed().max(Duration::from_micros(1));
    let reps = (SAMPLE.as_secs_f64() / once.as_secs_f64()).ceil().max(1.0) as usize;
    let mut best = 0.0f64;
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        for _ in 0..reps {
            let _ = a.mm_out(&out, &b);
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
    let ceiling = rates.iter().map(|r| r.1).fold(0.0, f64::max);
    let costs: Vec<(ModelKind, cost::Cost)> = ModelKind::ALL
        .into_iter()
        .map(|k| (k, cost::cost(k)))
        .collect();
    if args.json {
        let sizes: Vec<_> = rates
            .iter()
            .map(|(n, g)| serde_json::json!({"n": n, "gflops": g}))
            .collect();
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
            "sgemm": sizes,
            "ceiling_gflops": ceiling,
            "models": models,
        });
        println!("{out}");
        return;
    }
    println!("sgemm (f32, libtorch), {} thread(s):", args.threads);
    for (n, g) in &rates {
        println!("  {n:>5} × {n:<5} {g:>8.1} GFLOP/s");
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
