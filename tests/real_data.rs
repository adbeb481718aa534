//! One epoch of the seed model on the real Fashion-MNIST (found or downloaded as the
//! program itself would), checked for a sane accuracy.

use fashion_tui::config::Config;
use fashion_tui::events::TrainEvent;
use fashion_tui::train;

#[test]
fn seed_model_one_epoch_on_real_data() {
    let run = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.training.epochs = 1;
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
    // One thread each: the two tests run side by side, and more threads than cores
    // make libtorch's threads wait on each other.
    cfg.runtime.threads = 1;
    cfg.runtime.run_dir = run.path().to_string_lossy().into_owned();
    let (_tx, rx) = flume::unbounded();
    let mut epoch = None;
    let mut info = None;
    let mut sink = |ev: TrainEvent| {
        match ev {
            TrainEvent::EpochEnd(s) => epoch = Some(s),
            TrainEvent::Started(i) => info = Some(i),
            _ => {}
        }
        true
    };
    train::run(&cfg, &rx, &mut sink).expect("training on the real dataset");
    let info = info.unwrap();
    assert_eq!((info.train_images, info.test_images), (60_000, 10_000));
    assert_eq!(info.parameters, 360_458);
    let s = epoch.unwrap();
    // The tutorial's network reaches ~85% after one epoch; far below means a broken
    // pipeline (scaling, labels, shuffling), far above means a leak of the test set.
    assert!(
        (0.80..0.93).contains(&s.test_acc),
        "test accuracy {}",
        s.test_acc
    );
    assert!(s.train_loss < 0.7, "train loss {}", s.train_loss);
    let diagonal: u32 = (0..10).map(|k| s.confusion[k][k]).sum();
    assert_eq!(f64::from(diagonal) / 10_000.0, s.test_acc);
}

/// A short `fast` run (a few thousand images, its recipe) reaches a sane accuracy, and
/// every evaluation says when it happened.
#[test]
fn fast_model_short_run_on_real_data() {
    let run = tempfile::tempdir().unwrap();
    let mut cfg = fashion_tui::config::recipe::defaults_for(fashion_tui::config::ModelKind::Fast);
    cfg.training.epochs = 2;
    cfg.training.eval_every = 0.5;
    cfg.data.train_limit = 10_000;
    cfg.data.test_limit = 2_000;
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
    // One thread each: the two tests run side by side, and more threads than cores
    // make libtorch's threads wait on each other.
    cfg.runtime.threads = 1;
    cfg.runtime.run_dir = run.path().to_string_lossy().into_owned();
    let (_tx, rx) = flume::unbounded();
    let mut epochs = Vec::new();
    let mut tests = Vec::new();
    let mut sink = |ev: TrainEvent| {
        match ev {
            TrainEvent::EpochEnd(s) => epochs.push(s),
            TrainEvent::Tested(t) => tests.push(t),
            _ => {}
        }
        true
    };
    train::run(&cfg, &rx, &mut sink).expect("training on the real dataset");
    assert_eq!(epochs.len(), 2);
    assert_eq!(tests.len(), 2, "one evaluation in the middle of each epoch");
    let last = epochs.last().unwrap();
    // ~80% after 20,000 images; far below means a broken recipe.
    assert!(
        (0.70..0.95).contains(&last.test_acc),
        "test accuracy {}",
        last.test_acc
    );
    // The recipe classifies each test image with its mirror; the accuracy without is
    // reported too, and is of the same order.
    assert!(cfg.training.tta && cfg.data.flip);
    assert!(
        (last.test_acc - last.test_acc_plain).abs() < 0.05,
        "with flips {} and without {}",
        last.test_acc,
        last.test_acc_plain
    );
    assert!(tests[0].elapsed < epochs[0].elapsed && epochs[0].elapsed < tests[1].elapsed);
}
