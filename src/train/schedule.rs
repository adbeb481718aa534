//! Learning-rate schedules as pure functions of the fractional epoch.

use std::f64::consts::PI;

use crate::config::{Schedule, Training};

/// The learning rate at fractional epoch `at` (0 = start of the run) of a run `length`
/// epochs long (fractional when a time budget ends it mid-epoch).
pub fn lr_at(t: &Training, at: f64, length: f64) -> f64 {
    match t.schedule {
        Schedule::Constant => t.lr,
        Schedule::Step => {
            let steps = (at / t.step_epochs.max(1) as f64).floor().max(0.0);
            t.lr * t.gamma.powf(steps)
        }
        Schedule::Cosine => {
            let progress = (at / length).clamp(0.0, 1.0);
            t.lr * 0.5 * (1.0 + (PI * progress).cos())
        }
        Schedule::Onecycle => t.lr * onecycle(at, t.warmup.min(length), length),
    }
}

/// The one-cycle factor: 0 → 1 linearly over `warmup` epochs, then 1 → 0 linearly at
/// `length`.
fn onecycle(at: f64, warmup: f64, length: f64) -> f64 {
    if at < warmup {
        return (at / warmup).max(0.0);
    }
    let decay = length - warmup;
    if decay <= 0.0 {
        return 0.0;
    }
    ((length - at) / decay).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn training(schedule: Schedule) -> Training {
        Training {
            schedule,
            lr: 0.1,
            epochs: 10,
            step_epochs: 3,
            gamma: 0.5,
            ..Training::default()
        }
    }

    #[test]
    fn constant_stays_put() {
        let t = training(Schedule::Constant);
        assert_eq!(lr_at(&t, 0.0, 10.0), 0.1);
        assert_eq!(lr_at(&t, 9.9, 10.0), 0.1);
    }

    #[test]
    fn step_halves_every_three_epochs() {
        let t = training(Schedule::Step);
        assert_eq!(lr_at(&t, 2.99, 10.0), 0.1);
        assert_eq!(lr_at(&t, 3.0, 10.0), 0.05);
        assert_eq!(lr_at(&t, 6.5, 10.0), 0.025);
    }

    #[test]
    fn cosine_runs_from_lr_to_zero() {
        let t = training(Schedule::Cosine);
        assert!((lr_at(&t, 0.0, 10.0) - 0.1).abs() < 1e-12);
        assert!((lr_at(&t, 5.0, 10.0) - 0.05).abs() < 1e-12);
        assert!(lr_at(&t, 10.0, 10.0).abs() < 1e-12);
        assert!(lr_at(&t, 2.0, 10.0) > lr_at(&t, 3.0, 10.0));
    }

    #[test]
    fn onecycle_warms_up_peaks_and_ends_at_zero() {
        let t = Training {
            warmup: 0.5,
            ..training(Schedule::Onecycle)
        };
        let lr = |at| lr_at(&t, at, 4.0);
        assert_eq!(lr(0.0), 0.0);
        assert!((lr(0.25) - 0.05).abs() < 1e-12);
        assert!((lr(0.5) - 0.1).abs() < 1e-12, "the peak");
        assert!((lr(2.25) - 0.05).abs() < 1e-12);
        assert!(lr(4.0).abs() < 1e-12 && lr(5.0).abs() < 1e-12);
        assert!(lr(1.0) > lr(2.0));
        // A run shorter than its warm-up still ends at 0.
        assert!(lr_at(&t, 0.3, 0.3).abs() < 1e-12);
    }
}
