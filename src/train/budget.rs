//! The arithmetic of a time budget: from the measured seconds per batch and per
//! evaluation, the number of batches that fits, evaluations included, so that the
//! schedule ends on time. Pure functions; the trainer measures and decides when.

/// Seconds of training, after its first batch, over which the speed is measured.
pub fn measure_window(budget_secs: f64) -> f64 {
    (budget_secs * 0.03).clamp(2.0, 10.0)
}

/// Batches trained before the measurement starts (the first ones are slow: allocation,
/// kernel selection).
pub const WARM_BATCHES: usize = 3;

/// Seconds held back from the budget for what is not measured (saving the checkpoint
/// at epoch ends, noise of the clock): 2% and one second.
pub fn margin(budget_secs: f64) -> f64 {
    budget_secs * 0.02 + 1.0
}

/// How evaluations fall: at the end of each epoch of `per_epoch` batches and, within the
/// run's first `until` batches, after every `every` batches of an epoch, except a point
/// less than half an interval before the epoch's end (the end's evaluation stands for it:
/// 0.25 of 469 batches is 117, whose fourth multiple, 468, would evaluate twice in a
/// row); plus one at the run's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalPoints {
    pub every: usize,
    pub per_epoch: usize,
    /// `usize::MAX`: the whole run.
    pub until: usize,
}

impl EvalPoints {
    /// Whether the run evaluates after batch `m` (1-based count of the run's batches).
    pub fn at(&self, m: usize) -> bool {
        let (every, per_epoch) = (self.every.max(1), self.per_epoch.max(1));
        let b = m % per_epoch;
        m > 0 && (b == 0 || (m <= self.until && b % every == 0 && b / every <= self.within_epoch()))
    }

    /// Points within one epoch: the multiples of `every` at least half an interval
    /// before its end.
    fn within_epoch(&self) -> usize {
        let (every, per_epoch) = (self.every.max(1), self.per_epoch.max(1));
        (2 * per_epoch).saturating_sub(every) / (2 * every)
    }

    /// Evaluations after batches `1..=m`, not counting a final one: the epoch ends, and
    /// the points within epochs up to `until`.
    fn upto(&self, m: usize) -> usize {
        let (every, per_epoch) = (self.every.max(1), self.per_epoch.max(1));
        let k = m.min(self.until);
        let inside = self.within_epoch();
        let within = (k / per_epoch) * inside + ((k % per_epoch) / every).min(inside);
        m / per_epoch + within
    }

    /// Evaluations a run that has done `done` batches still makes if it ends after `total`,
    /// the final one included.
    pub fn between(&self, done: usize, total: usize) -> usize {
        if total <= done {
            return 0;
        }
        let scheduled = self.upto(total) - self.upto(done);
        scheduled + usize::from(!self.at(total))
    }
}

/// The number of batches for the whole run: the most that fit in `secs_left`, at
/// `batch_secs` each and `eval_secs` per evaluation, after the `done` already trained.
/// At least `done + 1`, so the run ends with a step and an evaluation.
pub fn total_batches(
    done: usize,
    secs_left: f64,
    batch_secs: f64,
    eval_secs: f64,
    evals: EvalPoints,
) -> usize {
    let cost = |total: usize| {
        (total - done) as f64 * batch_secs + evals.between(done, total) as f64 * eval_secs
    };
    let (mut lo, mut hi) = (done + 1, done + 1);
    if cost(lo) > secs_left || !batch_secs.is_finite() || batch_secs <= 0.0 {
        return lo;
    }
    // Grow then bisect: cost is increasing in the total.
    while cost(hi) <= secs_left && hi < usize::MAX / 4 {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if cost(mid) <= secs_left {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_points_count_both_kinds_once() {
        let e = EvalPoints {
            every: 50,
            per_epoch: 200,
            until: usize::MAX,
        };
        assert!(e.at(50) && e.at(200) && !e.at(60));
        // After 1..=400: 50, 100, …, 400 (8 points; the epoch ends are among them).
        assert_eq!(e.between(0, 400), 8);
        // Ending at 410 adds the final evaluation.
        assert_eq!(e.between(0, 410), 9);
        assert_eq!(e.between(400, 400), 0);
        let odd = EvalPoints {
            every: 30,
            per_epoch: 45,
            until: usize::MAX,
        };
        // 30, 45 (the end), 75, 90, 120, 135 → 6 up to 135, which is one.
        assert_eq!(odd.between(0, 135), 6);
    }

    #[test]
    fn no_point_falls_just_before_an_epoch_end() {
        // A quarter of 469 batches (batch 128 over 60,000 images) rounds to 117: the
        // fourth multiple, 468, is one batch before the end, which evaluates anyway.
        let e = EvalPoints {
            every: 117,
            per_epoch: 469,
            until: usize::MAX,
        };
        let points: Vec<usize> = (1..=938).filter(|&m| e.at(m)).collect();
        assert_eq!(points, [117, 234, 351, 469, 586, 703, 820, 938]);
        for total in 1..=1000 {
            let marked = (1..=total).filter(|&m| e.at(m)).count();
            assert_eq!(e.between(0, total), marked + usize::from(!e.at(total)));
        }
        // Every batch, and every epoch only.
        let each = EvalPoints {
            every: 1,
            per_epoch: 3,
            until: usize::MAX,
        };
        assert_eq!((1..=6).filter(|&m| each.at(m)).count(), 6);
        let ends = EvalPoints {
            every: 3,
            per_epoch: 3,
            until: usize::MAX,
        };
        assert_eq!((1..=6).filter(|&m| ends.at(m)).collect::<Vec<_>>(), [3, 6]);
    }

    #[test]
    fn points_within_epochs_stop_after_until_and_the_count_matches_them() {
        let e = EvalPoints {
            every: 50,
            per_epoch: 200,
            until: 300,
        };
        // 50, 100, 150, 200 (end), 250, 300; then only the ends 400, 600.
        let points: Vec<usize> = (1..=600).filter(|&m| e.at(m)).collect();
        assert_eq!(points, [50, 100, 150, 200, 250, 300, 400, 600]);
        // `between` counts exactly the points `at` marks, for every span.
        for done in [0, 49, 50, 170, 300, 301, 399] {
            for total in done + 1..=650 {
                let marked = (done + 1..=total).filter(|&m| e.at(m)).count();
                let last = usize::from(!e.at(total));
                assert_eq!(e.between(done, total), marked + last, "{done}..{total}");
            }
        }
    }

    #[test]
    fn the_steps_chosen_fill_the_time_left() {
        let evals = EvalPoints {
            every: 235,
            per_epoch: 235,
            until: usize::MAX,
        };
        // 0.05 s a batch, 1 s an evaluation, 100 s left after 40 batches.
        let n = total_batches(40, 100.0, 0.05, 1.0, evals);
        let cost = |n: usize| (n - 40) as f64 * 0.05 + evals.between(40, n) as f64;
        assert!(cost(n) <= 100.0 && cost(n + 1) > 100.0, "{n}");
        // Without evaluations it would be 2000 more batches; they cost ~9 evaluations.
        assert!((1_800..2_040).contains(&n), "{n}");
        // No time left: one more batch, then the end.
        assert_eq!(total_batches(40, 0.0, 0.05, 1.0, evals), 41);
    }

    #[test]
    fn measurement_window_and_margin_scale_with_the_budget() {
        assert!((measure_window(180.0) - 5.4).abs() < 1e-9);
        assert_eq!(measure_window(10.0), 2.0);
        assert_eq!(measure_window(3600.0), 10.0);
        assert!((margin(180.0) - 4.6).abs() < 1e-12);
    }
}
