//! Shared by the integration tests: a small, learnable synthetic dataset written as the
//! four real IDX .gz files, and a config that trains on it quickly on the CPU.

#![allow(dead_code)]

pub mod tmux;

use std::path::Path;

use fashion_tui::config::Config;
use fashion_tui::data::{write_dataset, Split};
use fashion_tui::train::SplitMix64;

/// `n` images whose class is drawn as a bright bar at a class-specific place, plus noise.
pub fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut rng = SplitMix64::new(seed);
    let mut images = vec![0u8; n * 784];
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (rng.next_u64() % 10) as u8;
        labels.push(label);
        let img = &mut images[i * 784..(i + 1) * 784];
        for px in img.iter_mut() {
            *px = (rng.next_u64() % 60) as u8;
        }
        let row = 3 + 2 * label as usize;
        for r in row..row + 2 {
            for c in 4..24 {
                img[r * 28 + c] = 200 + (rng.next_u64() % 56) as u8;
            }
        }
    }
    Split { images, labels }
}

/// Write a synthetic train/test set into `dir`.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    write_dataset(dir, &synthetic_split(train, 1), &synthetic_split(test, 2)).unwrap();
}

/// A CPU config training on `data` and writing into `run`.
pub fn quick_config(data: &Path, run: &Path, epochs: usize) -> Config {
    let mut cfg = Config::default();
    cfg.data.dir = data.to_string_lossy().into_owned();
    cfg.runtime.run_dir = run.to_string_lossy().into_owned();
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
    cfg.runtime.threads = 1;
    cfg.training.epochs = epochs;
    cfg.training.batch_size = 16;
    cfg.ui.predictions = 4;
    cfg
}
