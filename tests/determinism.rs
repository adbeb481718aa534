//! Same seed, same metrics on the CPU. Alone in its own test binary: libtorch's RNG
//! is process-global, so trainers running in parallel test threads would share it.

mod common;

use fashion_tui::train::{self, events::TrainEvent};

#[test]
fn same_seed_same_metrics_on_cpu() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    let run_once = || {
        let run = tempfile::tempdir().unwrap();
        let cfg = common::quick_config(data.path(), run.path(), 2);
        let (_tx, rx) = flume::unbounded();
        let mut accs = Vec::new();
        let mut sink = |ev: TrainEvent| {
            if let TrainEvent::EpochEnd(s) = ev {
                accs.push((s.train_loss, s.test_loss, s.test_acc));
            }
            true
        };
        train::run(&cfg, &rx, &mut sink).unwrap();
        accs
    };
    assert_eq!(run_once(), run_once());
}
