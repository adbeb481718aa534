//! Same seed, same metrics on the CPU, for one and for two threads; shifts from the epoch
//! they are asked to start at. In a test binary of their own, one at a time:
//! libtorch's RNG and thread count are process-global, so trainers running in parallel
//! test threads would share them.

mod common;

use std::sync::Mutex;

use fashion_tui::config::{Config, ModelKind};
use fashion_tui::events::TrainEvent;
use fashion_tui::train;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Each epoch's (train loss, test loss, test accuracy) of a run of `cfg`.
fn epoch_metrics(cfg: &Config) -> Vec<(f64, f64, f64)> {
    let (_tx, rx) = flume::unbounded();
    let mut out = Vec::new();
    let mut sink = |ev: TrainEvent| {
        if let TrainEvent::EpochEnd(s) = ev {
            out.push((s.train_loss, s.test_loss, s.test_acc));
        }
        true
    };
    train::run(cfg, &rx, &mut sink).unwrap();
    out
}

#[test]
fn shifts_start_at_translate_from() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    let config = |translate: usize, from: f64| {
        // A run directory of its own for each run (the tempdir goes when the run ends).
        let run = tempfile::tempdir().unwrap();
        let mut cfg = common::quick_config(data.path(), run.path(), 2);
        cfg.model.name = ModelKind::Fast;
        cfg.model.dropout = 0.0;
        cfg.data.flip = true;
        cfg.data.translate = translate;
        cfg.data.translate_from = from;
        (cfg, run)
    };
    let metrics = |(cfg, _run): (Config, tempfile::TempDir)| epoch_metrics(&cfg);
    let unshifted = metrics(config(0, 0.0));
    assert_eq!(unshifted.len(), 2);
    // Asked to start after the run's end, shifts never happen (flips do throughout).
    assert_eq!(metrics(config(1, 2.0)), unshifted);
    // From the second epoch on: the first epoch is as without them, the second is not.
    let late = metrics(config(1, 1.0));
    assert_eq!(late[0], unshifted[0]);
    assert_ne!(late[1], unshifted[1]);
}

#[test]
fn same_seed_same_metrics_on_cpu_for_one_and_two_threads() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    let run_once = |threads: usize| {
        let run = tempfile::tempdir().unwrap();
        let mut cfg = common::quick_config(data.path(), run.path(), 2);
        cfg.runtime.threads = threads;
        let metrics = epoch_metrics(&cfg);
        assert_eq!(metrics.len(), 2);
        metrics
    };
    for threads in [1, 2] {
        assert_eq!(run_once(threads), run_once(threads), "{threads} thread(s)");
    }
}
