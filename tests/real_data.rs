//! One epoch of the seed model on the real Fashion-MNIST (found or downloaded as the
//! program itself would), checked for a sane accuracy.

use fashion_tui::config::Config;
use fashion_tui::train::{self, events::TrainEvent};

#[test]
fn seed_model_one_epoch_on_real_data() {
    let run = tempfile::tempdir().unwrap();
    let mut cfg = Config::default();
    cfg.training.epochs = 1;
    cfg.runtime.device = fashion_tui::config::DeviceChoice::Cpu;
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
