//! Epochs of the real trainer with nothing live around it: no socket, no hub, no
//! consumer (its events are dropped as they come). The reference that
//! `scripts/bench_attach.sh` compares a served run against, with and without dashboards
//! attached.
//!
//! ```text
//! cargo run --release --example plain_epoch -- --run-dir /tmp/plain --train-limit 10000
//! ```

use std::path::PathBuf;

use clap::Parser;

use fashion_tui::config::{Config, DeviceChoice};
use fashion_tui::train::{self, RunOptions};

#[derive(Parser)]
struct Args {
    /// Directory holding the four Fashion-MNIST .gz files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    data_dir: PathBuf,
    /// Where the run is written (a new directory).
    #[arg(long)]
    run_dir: PathBuf,
    /// CPU threads for the trainer (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Training images (0: all).
    #[arg(long, default_value_t = 10_000)]
    train_limit: usize,
    /// Test images.
    #[arg(long, default_value_t = 1000)]
    test_limit: usize,
    /// Epochs to train.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = Config::default();
    cfg.data.dir = args.data_dir.to_string_lossy().into_owned();
    cfg.data.train_limit = args.train_limit;
    cfg.data.test_limit = args.test_limit;
    cfg.runtime.device = DeviceChoice::Cpu;
    cfg.runtime.threads = args.threads;
    cfg.runtime.run_dir = args.run_dir.to_string_lossy().into_owned();
    cfg.training.epochs = args.epochs;
    let (_commands, control) = flume::unbounded();
    let mut drop_all = |_ev| true;
    train::run_with(&cfg, RunOptions::default(), &control, &mut drop_all)?;
    Ok(())
}
