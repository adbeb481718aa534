//! The trainer's events in words, one text for each wherever it is shown: the end of a
//! run (the Log, the header, the summary line, the headless printer), its start, an epoch
//! and an evaluation as the headless printer's Keras-like lines, and the numbers in them.

use std::time::Duration;

use super::{EpochSummary, RunInfo, RunSummary, TestPoint};
use crate::duration;

// The end of a run is told four times: in the log and the headless output ([`done_text`]),
// in the header and in the summary line; these pieces keep them in agreement.

/// `1 epoch`, `2 epochs`.
pub fn epochs(n: usize) -> String {
    format!("{n} epoch{}", if n == 1 { "" } else { "s" })
}

/// `2 epochs (stopped early)`.
pub fn completed(s: &RunSummary) -> String {
    let early = if s.stopped_early {
        " (stopped early)"
    } else {
        ""
    };
    format!("{}{early}", epochs(s.epochs_completed))
}

/// `model saved to /runs/x/model.safetensors` or `no model saved`.
pub fn model_text(s: &RunSummary) -> String {
    match &s.model_path {
        Some(p) => format!("model saved to {}", p.display()),
        None => "no model saved".to_string(),
    }
}

/// How long the run took, `00:03:12`.
pub fn run_time(s: &RunSummary) -> String {
    duration::clock(Duration::from_secs_f64(s.seconds.max(0.0)))
}

/// `, test acc 88.9%, model saved to /m.safetensors`, naming the accuracy `acc`.
pub fn outcome(s: &RunSummary, acc: &str) -> String {
    let acc = s
        .test_acc
        .map(|a| format!(", {acc} {:.1}%", a * 100.0))
        .unwrap_or_default();
    format!("{acc}, {}", model_text(s))
}

/// The log's line for the end of the run.
pub fn done_text(s: &RunSummary) -> String {
    format!(
        "{} after {} in {}{}",
        if s.stopped_early { "stopped" } else { "done" },
        epochs(s.epochs_completed),
        run_time(s),
        outcome(s, "test acc")
    )
}

/// The log's line for the start of the run.
pub fn started_text(info: &RunInfo) -> String {
    let val = match info.validation {
        0 => String::new(),
        n => format!(" / {} validation", group_thousands(n as u64)),
    };
    format!(
        "started {} ({} parameters) on {}: {} epochs × {} batches of {}, \
         {} train{val} / {} test images from {} in {:.1}s, lr {}, seed {}",
        info.model,
        group_thousands(info.parameters as u64),
        info.device,
        info.epochs,
        info.batches_per_epoch,
        info.batch_size,
        group_thousands(info.train_images as u64),
        group_thousands(info.test_images as u64),
        info.data_source,
        info.data_load_secs,
        fmt_lr(info.lr),
        info.seed,
    )
}

/// `1e-3`, `2.5e-4`, `0.1`.
pub fn fmt_lr(lr: f64) -> String {
    if lr == 0.0 || !lr.is_finite() {
        return format!("{lr}");
    }
    if (1e-2..10.0).contains(&lr.abs()) {
        return format!("{}", (lr * 1e4).round() / 1e4);
    }
    let s = format!("{lr:.1e}");
    s.replace(".0e", "e")
}

/// `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The per-epoch line, Keras style (`val_loss` and `val_acc` when the run holds training
/// images out).
pub fn epoch_line(s: &EpochSummary, eta_secs: f64) -> String {
    let eta = if s.epoch < s.epochs {
        format!(" - ETA {}", duration::short(eta_secs))
    } else {
        String::new()
    };
    let val = match (s.val_loss, s.val_acc) {
        (Some(loss), Some(acc)) => format!(" - val_loss: {loss:.4} - val_acc: {acc:.4}"),
        _ => String::new(),
    };
    format!(
        "Epoch {}/{} - {:.1}s - {:.0} img/s - loss: {:.4} - acc: {:.4}{val} - test_loss: {:.4} - test_acc: {:.4} - lr: {}{eta}",
        s.epoch, s.epochs, s.seconds, s.images_per_sec, s.train_loss, s.train_acc, s.test_loss,
        s.test_acc, s.lr
    ) + &plain_text(s.test_acc, s.test_acc_plain)
}

/// ` (plain 0.9312)` when test-time flips changed the accuracy, else nothing.
fn plain_text(acc: f64, plain: f64) -> String {
    if acc == plain {
        String::new()
    } else {
        format!(" (plain {plain:.4})")
    }
}

/// An evaluation between epoch ends.
pub fn test_line(t: &TestPoint) -> String {
    format!(
        "  at epoch {:.2} - {} - test_loss: {:.4} - test_acc: {:.4}{}",
        t.at,
        duration::short(t.elapsed),
        t.test_loss,
        t.test_acc,
        plain_text(t.test_acc, t.test_acc_plain)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_lr(1e-3), "1e-3");
        assert_eq!(fmt_lr(2.5e-4), "2.5e-4");
        assert_eq!(fmt_lr(0.01), "0.01");
        assert_eq!(group_thousands(1234567), "1,234,567");
        assert_eq!(group_thousands(999), "999");
    }
}
