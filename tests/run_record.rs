//! What a run directory records for comparing runs later: `run.json` says how each run
//! ended (finished, stopped by a signal, diverged, interrupted by `kill -9`), `loss.jsonl`
//! holds the loss history, `best.safetensors` is the best epoch's model, and
//! `training.early_stop` ends a run that stopped improving.

mod common;

use common::train;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fashion_tui::events::{BestBy, TrainEvent};
use fashion_tui::files::Dir;
use fashion_tui::model::ModelKind;
use fashion_tui::store::run_record::{self, Status};
use fashion_tui::store::{losses, metrics, run_dir};
use fashion_tui::train;

fn dir(run: &Path) -> Dir {
    Dir::open(run).unwrap()
}

fn record(run: &Path) -> run_record::RunRecord {
    run_record::read(&dir(run)).unwrap().expect("a run.json")
}

/// Kills the child if the test ends first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_finished_run_records_its_epochs_losses_and_best_model() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 320, 100);
    let cfg = common::quick_config(data.path(), run.path(), 3);
    let (_tx, rx) = flume::unbounded();
    let mut sink = |_: TrainEvent| true;
    train::run(&cfg, &rx, &mut sink).unwrap();

    let rec = record(run.path());
    assert_eq!(rec.status, Status::Finished);
    assert_eq!(
        run_record::status_of(&dir(run.path()), &rec),
        Status::Finished
    );
    assert_eq!(rec.pid, None);
    assert_eq!((rec.epochs_done, rec.epochs_planned), (3, 3));
    assert_eq!(rec.model, "tutorial");
    assert!(rec.device.starts_with("cpu"), "{rec:?}");
    assert!(rec.libtorch.starts_with("2."), "{rec:?}");
    assert!(!rec.commit.is_empty());
    let ended = rec.ended.as_deref().expect("an end time");
    assert!(run_record::seconds_between(&rec.started, ended).is_some_and(|s| s >= 0.0));
    let best = metrics::best(&dir(run.path()), BestBy::Test).unwrap();
    let best_acc = best.acc;
    assert_eq!(rec.best_epoch, Some(best.epoch));
    assert_eq!(rec.best_by, BestBy::Test);
    assert_eq!(rec.best_val_acc, None);
    assert_eq!(rec.best_test_acc, Some(best_acc));
    assert_eq!(rec.final_test_acc, metrics::last_test_acc(&dir(run.path())));

    // 20 batches per epoch: two points an epoch, covering the run in order.
    let losses = losses::read(&dir(run.path())).unwrap();
    assert_eq!(losses.len(), 6, "{losses:?}");
    assert!(losses.windows(2).all(|w| w[0].0 < w[1].0), "{losses:?}");
    assert!(losses.last().unwrap().0 <= 3.0);

    // best.safetensors is the best epoch's model: it scores that epoch's accuracy.
    let eval = evaluate_best_model(data.path(), run.path());
    assert!(
        (eval.accuracy - best_acc).abs() < 1e-9,
        "{} vs {best_acc}",
        eval.accuracy
    );
}

#[test]
fn early_stopping_ends_a_run_that_stopped_improving() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    // Learnable to 100% in a few epochs; after that nothing is better.
    common::write_synthetic(data.path(), 320, 100);
    let mut cfg = common::quick_config(data.path(), run.path(), 40);
    cfg.training.early_stop = 2;
    let (_tx, rx) = flume::unbounded();
    let mut messages = Vec::new();
    let mut sink = |ev: TrainEvent| {
        if let TrainEvent::Message(m) = ev {
            messages.push(m);
        }
        true
    };
    let summary = train::run(&cfg, &rx, &mut sink).unwrap();
    assert!(summary.epochs_completed < 40, "{summary:?}");
    assert!(!summary.stopped_early, "an early stop is a finished run");
    let rec = record(run.path());
    assert_eq!(rec.status, Status::Finished);
    let best = rec.best_epoch.unwrap();
    assert_eq!(rec.epochs_done, best + 2, "{rec:?}");
    assert!(
        rec.reason
            .as_deref()
            .unwrap_or("")
            .starts_with("early stop after epoch"),
        "{rec:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("for 1 of 2 epochs")),
        "{messages:?}"
    );
}

#[test]
fn held_out_images_choose_the_best_epoch_and_when_to_stop() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    // The test labels are shifted by one class: the better the model learns, the lower
    // its test accuracy. Judged by the test set, epoch 1 would be the best; judged by
    // the held-out training images, a later one is.
    let mut test = common::synthetic_split(100, 2);
    for l in &mut test.labels {
        *l = (*l + 1) % 10;
    }
    fashion_tui::data::write_dataset(data.path(), &common::synthetic_split(320, 1), &test).unwrap();
    let mut cfg = common::quick_config(data.path(), run.path(), 40);
    cfg.training.early_stop = 2;
    cfg.data.validation = 64;
    // Slow enough to take a few epochs to learn the easy synthetic classes.
    cfg.training.lr = 1e-4;
    let (_tx, rx) = flume::unbounded();
    let mut events = Vec::new();
    let mut sink = |ev: TrainEvent| {
        events.push(ev);
        true
    };
    let summary = train::run(&cfg, &rx, &mut sink).unwrap();
    assert!(summary.epochs_completed < 40, "{summary:?}");

    let info = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::Started(i) => Some(i.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((info.validation, info.train_images), (64, 256));
    assert_eq!(info.best_by(), BestBy::Val);
    let epochs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::EpochEnd(s) => Some(s.as_ref().clone()),
            _ => None,
        })
        .collect();
    let val: Vec<f64> = epochs.iter().map(|s| s.val_acc.unwrap()).collect();
    assert!(epochs
        .iter()
        .all(|s| s.val_loss.is_some_and(f64::is_finite)));
    // The first of the highest validation accuracies, and the run ends two epochs later.
    let top = val.iter().copied().fold(f64::MIN, f64::max);
    let best = 1 + val.iter().position(|&v| v == top).unwrap();
    let by_test = 1 + epochs
        .iter()
        .position(|s| s.test_acc == epochs.iter().map(|s| s.test_acc).fold(f64::MIN, f64::max))
        .unwrap();
    assert_ne!(
        best, by_test,
        "the test set would choose another epoch: {epochs:?}"
    );
    assert_eq!(summary.epochs_completed, best + 2, "{val:?}");

    let rec = record(run.path());
    assert_eq!(rec.best_by, BestBy::Val);
    assert_eq!(rec.best_epoch, Some(best));
    assert_eq!(rec.best_val_acc, Some(top));
    assert_eq!(rec.best_test_acc, Some(epochs[best - 1].test_acc));
    let reason = rec.reason.unwrap_or_default();
    assert!(
        reason.starts_with("early stop after epoch")
            && reason.contains("no better validation accuracy than"),
        "{reason}"
    );
    let text = std::fs::read_to_string(run.path().join(run_dir::RECORD_FILE)).unwrap();
    assert!(text.contains("\"best_by\": \"val\""), "{text}");
    // Each epoch's line carries the held-out images' loss and accuracy.
    let metrics = std::fs::read_to_string(run.path().join(run_dir::METRICS_FILE)).unwrap();
    for (line, s) in metrics.lines().zip(&epochs) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["val_acc"].as_f64(), s.val_acc, "{line}");
        assert_eq!(v["val_loss"].as_f64(), s.val_loss, "{line}");
    }
    // best.safetensors is the model of the epoch validation chose.
    let eval = evaluate_best_model(data.path(), run.path());
    assert!((eval.accuracy - epochs[best - 1].test_acc).abs() < 1e-9);
    let said = |needle: &str| {
        events
            .iter()
            .any(|e| matches!(e, TrainEvent::Message(m) if m.contains(needle)))
    };
    assert!(said(
        "held out 64 of the 320 training images for validation"
    ));
    assert!(said("no better validation accuracy than"));
}

#[test]
fn a_diverged_run_says_so() {
    let data = tempfile::tempdir().unwrap();
    let run = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 320, 100);
    let o = train(data.path(), run.path(), &["--epochs", "2"])
        .env("FASHION_TUI_FAULT", "nan@25")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let rec = record(run.path());
    assert_eq!(rec.status, Status::Diverged);
    assert!(
        rec.reason.as_deref().unwrap_or("").contains("became NaN"),
        "{rec:?}"
    );
    assert_eq!(rec.epochs_done, 1);
    assert!(rec.ended.is_some());
}

/// A run trained for far longer than the test lets it, once it has finished an epoch.
fn long_run(data: &Path, run: &Path) -> Running {
    let child = train(data, run, &["--epochs", "10000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Running(child);
    common::wait_for("an epoch", Duration::from_secs(120), || {
        run_record::read(&dir(run))
            .ok()
            .flatten()
            .is_some_and(|r| r.epochs_done >= 1)
    });
    child
}

#[test]
fn a_signal_stops_a_run_and_kill_9_leaves_it_interrupted() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 320, 100);

    let run = tempfile::tempdir().unwrap();
    let mut child = long_run(data.path(), run.path());
    let rec = record(run.path());
    assert_eq!(rec.status, Status::Running);
    assert_eq!(rec.pid, Some(child.0.id()));
    assert_eq!(
        run_record::status_of(&dir(run.path()), &rec),
        Status::Running
    );
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    let rec = record(run.path());
    assert_eq!(rec.status, Status::Stopped);
    assert_eq!(rec.reason.as_deref(), Some("SIGTERM"));
    assert!(rec.ended.is_some());

    let run = tempfile::tempdir().unwrap();
    let mut child = long_run(data.path(), run.path());
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let rec = record(run.path());
    assert_eq!(
        rec.status,
        Status::Running,
        "nothing could write after kill -9"
    );
    assert_eq!(
        run_record::status_of(&dir(run.path()), &rec),
        Status::Interrupted
    );
}

/// The test-set evaluation of a run's `best.safetensors` (a tutorial model).
fn evaluate_best_model(data: &Path, run: &Path) -> train::Evaluation {
    let ds = fashion_tui::data::load_dir(data, fashion_tui::data::Repair::Replace).unwrap();
    train::evaluate_saved(
        ModelKind::Tutorial,
        &run.join(run_dir::BEST_MODEL_FILE),
        &ds.test,
        tch::Device::Cpu,
        false,
    )
    .unwrap()
}
