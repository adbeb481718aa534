//! Same seed, same metrics on the CPU, for one and for two threads. Alone in its own test
//! binary: libtorch's RNG and thread count are process-global, so trainers running in
//! parallel test threads would share them.

mod common;

use fashion_tui::train::{self, events::TrainEvent};

#[test]
fn same_seed_same_metrics_on_cpu_for_one_and_two_threads() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    let run_once = |threads: usize| {
        let run = tempfile::tempdir().unwrap();
        let mut cfg = common::quick_config(data.path(), run.path(), 2);
        cfg.runtime.threads = threads;
        let (_tx, rx) = flume::unbounded();
        let mut accs = Vec::new();
        let mut sink = |ev: TrainEvent| {
            if let TrainEvent::EpochEnd(s) = ev {
                accs.push((s.train_loss, s.test_loss, s.test_acc));
            }
            true
        };
        train::run(&cfg, &rx, &mut sink).unwrap();
        assert_eq!(accs.len(), 2);
        accs
    };
    for threads in [1, 2] {
        assert_eq!(run_once(threads), run_once(threads), "{threads} thread(s)");
    }
}
