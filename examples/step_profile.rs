//! Where one training step's time goes: the tutorial (or `fast`) network's step split into
//! its parts (batch gather, forward, loss, backward, optimiser update, bookkeeping), each
//! timed on its own over many steps of the real training images (the dataset from
//! `FASHION_MNIST_DIR` or Debian's directory). CPU kernels run synchronously, so the
//! parts add up to the step.
//!
//! ```text
//! cargo run --release --example step_profile -- [tutorial|fast] [STEPS] [THREADS] [BATCH]
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use fashion_tui::config::{ModelKind, Optimizer, Precision, Training};
use fashion_tui::data::idx;
use fashion_tui::model::{precision, FastCnn, Kernels, Network, TutorialCnn};
use fashion_tui::train::loss;
use fashion_tui::train::optim::Optim;
use tch::{nn, Device, Kind, Tensor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("tutorial", String::as_str);
    let steps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(600);
    let threads: i32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2);
    let batch: Option<usize> = args.get(4).and_then(|s| s.parse().ok());
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let (net, training, smoothing): (Box<dyn Network>, Training, f64) = match model {
        "fast" => (
            // In the recipe's precision, where this machine has it.
            Box::new(FastCnn::new(&vs.root(), 0.0).computing_with(Kernels::rule(
                ModelKind::Fast,
                precision::resolve(Precision::Bf16, Device::Cpu).0,
            ))),
            Training {
                optimizer: Optimizer::Nesterov,
                lr: 0.1,
                weight_decay: 5e-4,
                momentum: 0.9,
                batch_size: 256,
                ..Training::default()
            },
            0.1,
        ),
        _ => (
            Box::new(TutorialCnn::new(&vs.root(), 0.2)),
            Training::default(),
            0.0,
        ),
    };
    let training = Training {
        batch_size: batch.unwrap_or(training.batch_size),
        ..training
    };
    let bs = training.batch_size as i64;
    let mut opt = Optim::new(&training, &vs);
    let data = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let train = idx::load_dir(Path::new(&data), idx::Repair::Replace)
        .unwrap_or_else(|e| panic!("the dataset in {data}: {e}"))
        .train;
    let n = train.len() as i64;
    let images = Tensor::from_slice(&train.images).view([n, 1, 28, 28]);
    let labels = Tensor::from_slice(&train.labels).to_kind(Kind::Int64);
    let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
    let names = [
        "gather",
        "forward",
        "loss",
        "backward",
        "update",
        "bookkeeping",
    ];
    let mut spent = [Duration::ZERO; 6];
    let mut correct = Tensor::zeros([], (Kind::Int64, Device::Cpu));
    let all = Instant::now();
    for s in 0..steps {
        if s == steps / 10 {
            // The first tenth warms up (oneDNN primitives, allocator): not counted.
            spent = [Duration::ZERO; 6];
        }
        let start = (s as i64 * bs) % (n - bs);
        let mut t = Instant::now();
        let mut lap = |i: usize, spent: &mut [Duration; 6]| {
            spent[i] += t.elapsed();
            t = Instant::now();
        };
        tch::manual_seed(s as i64);
        let idx = order.narrow(0, start, bs);
        let xs = images.index_select(0, &idx).to_kind(Kind::Float) / 255.0;
        let ys = labels.index_select(0, &idx);
        lap(0, &mut spent);
        let logits = net.forward_t(&xs, true);
        lap(1, &mut spent);
        let l = loss::cross_entropy(&logits, &ys, smoothing);
        let _ = l.double_value(&[]);
        lap(2, &mut spent);
        opt.backward(&l);
        lap(3, &mut spent);
        opt.step();
        lap(4, &mut spent);
        correct += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
        lap(5, &mut spent);
    }
    let counted = steps - steps / 10;
    let total: Duration = spent.iter().sum();
    println!(
        "{model}, batch {bs}, {threads} thread(s), {counted} steps: {:.0} µs a step, {:.0} images/s ({:.1} s in all)",
        total.as_secs_f64() * 1e6 / counted as f64,
        (counted as i64 * bs) as f64 / total.as_secs_f64(),
        all.elapsed().as_secs_f64()
    );
    for (name, d) in names.iter().zip(spent) {
        println!(
            "  {name:<12} {:>7.0} µs  {:>5.1}%",
            d.as_secs_f64() * 1e6 / counted as f64,
            100.0 * d.as_secs_f64() / total.as_secs_f64()
        );
    }
}
