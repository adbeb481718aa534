//! Learning-rate schedules as pure functions of the fractional epoch.

use std::f64::consts::PI;

use crate::config::{Schedule, Training};

/// The learning rate at fractional epoch `at` (0 = start of the run).
pub fn lr_at(t: &Training, at: f64) -> f64 {
    match t.schedule {
        Schedule::Constant => t.lr,
        Schedule::Step => {
            let steps = (at / t.step_epochs.max(1) as f64).floor().max(0.0);
            t.lr * t.gamma.powf(steps)
        }
        Schedule::Cosine => {
            let progress = (at / t.epochs.max(1) as f64).clamp(0.0, 1.0);
            t.lr * 0.5 * (1.0 + (PI * progress).cos())
        }
    }
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
        assert_eq!(lr_at(&t, 0.0), 0.1);
        assert_eq!(lr_at(&t, 9.9), 0.1);
    }

    #[test]
    fn step_halves_every_three_epochs() {
        let t = training(Schedule::Step);
        assert_eq!(lr_at(&t, 2.99), 0.1);
        assert_eq!(lr_at(&t, 3.0), 0.05);
        assert_eq!(lr_at(&t, 6.5), 0.025);
    }

    #[test]
    fn cosine_runs_from_lr_to_zero() {
        let t = training(Schedule::Cosine);
        assert!((lr_at(&t, 0.0) - 0.1).abs() < 1e-12);
        assert!((lr_at(&t, 5.0) - 0.05).abs() < 1e-12);
        assert!(lr_at(&t, 10.0).abs() < 1e-12);
        assert!(lr_at(&t, 2.0) > lr_at(&t, 3.0));
    }
}
