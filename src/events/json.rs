//! The trainer's events as JSON objects: the lines `train --json` prints (one per epoch,
//! one per evaluation between epoch ends, one at the end) and `metrics.jsonl` holds, each
//! written by one function here and each with its `"event"`. The socket of a live run
//! speaks these lines too, with the other events beside them (see [`crate::live::wire`]).

use serde_json::{json, Value};

use super::{EpochSummary, RunSummary, TestPoint};

/// One epoch as the JSON object used by `metrics.jsonl` and `--json` output; with
/// `val_loss` and `val_acc` when the run holds training images out.
pub fn epoch(s: &EpochSummary) -> Value {
    let mut v = json!({
        "event": "epoch",
        "epoch": s.epoch,
        "epochs": s.epochs,
        "train_loss": s.train_loss,
        "train_acc": s.train_acc,
        "test_loss": s.test_loss,
        "test_acc": s.test_acc,
        "test_acc_plain": s.test_acc_plain,
        "lr": s.lr,
        "seconds": s.seconds,
        "eval_seconds": s.eval_seconds,
        "images_per_sec": s.images_per_sec,
        "elapsed": s.elapsed,
        "confusion": s.confusion,
    });
    if let (Some(loss), Some(acc), Some(map)) = (s.val_loss, s.val_acc, v.as_object_mut()) {
        map.insert("val_loss".into(), json!(loss));
        map.insert("val_acc".into(), json!(acc));
    }
    v
}

/// An evaluation between epoch ends.
pub fn test(t: &TestPoint) -> Value {
    json!({
        "event": "test",
        "at": t.at,
        "test_loss": t.test_loss,
        "test_acc": t.test_acc,
        "test_acc_plain": t.test_acc_plain,
        "lr": t.lr,
        "elapsed": t.elapsed,
    })
}

/// The end of the run.
pub fn done(s: &RunSummary) -> Value {
    json!({
        "event": "done",
        "epochs_completed": s.epochs_completed,
        "test_acc": s.test_acc,
        "model": s.model_path,
        "run_dir": s.run_dir,
        "stopped_early": s.stopped_early,
        "seconds": s.seconds,
    })
}
