//! The run's plan: how long the run is and when it evaluates. Pure bookkeeping over plain
//! numbers (batches done, seconds on the run's clock), with no tensors and no clock of its
//! own, so that every decision is unit-tested with made-up figures.
//!
//! Without a time budget the live `training.epochs` ends the run. With one, the run first
//! measures its speed ([`RunPlan::measure`]), then fixes its number of batches so that the
//! schedule ends on time ([`RunPlan::fix`], arithmetic in [`super::budget`]), fits it again
//! after every evaluation ([`RunPlan::replan`]) and ends early if the time runs out anyway
//! ([`RunPlan::out_of_time`]).

use super::budget::{self, EvalPoints};
use crate::config::Training;
use crate::events::BudgetPlan;

/// Where a measurement of the speed began: batches done, seconds elapsed, and seconds
/// spent evaluating by then.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mark {
    batches: usize,
    secs: f64,
    eval_time: f64,
}

/// How long the run is and when it evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    per_epoch: usize,
    batch_size: usize,
    /// `training.time_budget` in seconds.
    budget_secs: Option<f64>,
    eval_every: f64,
    eval_until: f64,
    measure_from: Option<Mark>,
    /// Seconds spent evaluating (and saving at epoch ends) since the first batch.
    eval_time: f64,
    last_eval_secs: Option<f64>,
    /// Batches in the whole run, once a time budget has fixed it.
    total_batches: Option<usize>,
}

impl RunPlan {
    /// The plan of a run of `per_epoch` batches an epoch with the settings `t` (only the
    /// ones fixed for a run are read: batch size, time budget, evaluation cadence).
    pub fn new(t: &Training, per_epoch: usize) -> RunPlan {
        RunPlan {
            per_epoch: per_epoch.max(1),
            batch_size: t.batch_size,
            budget_secs: t.time_budget.secs(),
            eval_every: t.eval_every,
            eval_until: t.eval_until,
            measure_from: None,
            eval_time: 0.0,
            last_eval_secs: None,
            total_batches: None,
        }
    }

    pub fn per_epoch(&self) -> usize {
        self.per_epoch
    }

    /// Batches in the whole run, once a time budget has fixed it.
    pub fn total_batches(&self) -> Option<usize> {
        self.total_batches
    }

    /// A resumed run keeps its budget's decision.
    pub fn restore(&mut self, total_batches: Option<usize>) {
        self.total_batches = total_batches;
    }

    /// Where the run evaluates: every `eval_every` epochs (until epoch `eval_until` when
    /// that is set) and at each epoch's end.
    pub fn eval_points(&self) -> EvalPoints {
        let per_epoch = self.per_epoch;
        let every = (self.eval_every * per_epoch as f64).round() as usize;
        let until = match self.eval_until {
            u if u > 0.0 => (u * per_epoch as f64).round() as usize,
            _ => usize::MAX,
        };
        EvalPoints {
            every: every.clamp(1, per_epoch),
            per_epoch,
            until,
        }
    }

    /// The epoch count the loop runs to: `epochs` (the live setting) or what a time budget
    /// chose, but at least the epoch that 0-based `epoch` is in, which always finishes.
    pub fn epochs_bound(&self, epoch: usize, epochs: usize) -> usize {
        match self.total_batches {
            Some(n) => n.div_ceil(self.per_epoch),
            None => epochs,
        }
        .max(epoch + 1)
    }

    /// The run's length in (fractional) epochs as the schedule sees it, in 0-based
    /// `epoch`: as long as the run will really be, so that a cosine schedule does not drop
    /// to 0 in an epoch that outlives a shortened run.
    pub fn length(&self, epoch: usize, epochs: usize) -> f64 {
        match self.total_batches {
            Some(n) => n as f64 / self.per_epoch as f64,
            None => self.epochs_bound(epoch, epochs) as f64,
        }
    }

    /// Whether the run is over when 0-based `epoch` would start, `done` batches in. With
    /// a time budget the budget decides: until its plan is made the run goes on, whatever
    /// `epochs` says.
    pub fn run_done(&self, done: usize, epoch: usize, epochs: usize) -> bool {
        match self.total_batches {
            Some(n) => done >= n,
            None if self.budget_secs.is_some() => false,
            None => epoch >= epochs,
        }
    }

    /// Whether batch number `done` (1-based, of the whole run) is the run's last.
    pub fn ends_at(&self, done: usize) -> bool {
        self.total_batches.is_some_and(|n| done >= n)
    }

    /// What is left of the time budget at `now` seconds, when there is one.
    pub fn budget_left(&self, now: f64) -> Option<f64> {
        self.budget_secs.map(|b| b - now)
    }

    /// With a time budget whose plan is not made yet, `done` batches and `now` seconds
    /// in: start measuring after the first few batches, and once the measurement window
    /// has passed, the seconds a batch takes (the caller then times an evaluation and
    /// [`fix`](Self::fix)es the plan).
    pub fn measure(&mut self, done: usize, now: f64) -> Option<f64> {
        let budget_secs = self.budget_secs?;
        if self.total_batches.is_some() {
            return None;
        }
        let Some(from) = self.measure_from else {
            if done >= budget::WARM_BATCHES {
                self.measure_from = Some(Mark {
                    batches: done,
                    secs: now,
                    eval_time: self.eval_time,
                });
            }
            return None;
        };
        if now - from.secs < budget::measure_window(budget_secs) || done <= from.batches {
            return None;
        }
        Some((now - from.secs) / (done - from.batches) as f64)
    }

    /// Fix the run's length: as many batches as fit in the budget left at `now` seconds,
    /// `done` batches in, at `batch_secs` a batch and `eval_secs` an evaluation.
    pub fn fix(&mut self, done: usize, now: f64, batch_secs: f64, eval_secs: f64) -> BudgetPlan {
        let budget_secs = self.budget_secs.unwrap_or(0.0);
        let left = budget_secs - now - budget::margin(budget_secs);
        let total = budget::total_batches(done, left, batch_secs, eval_secs, self.eval_points());
        self.total_batches = Some(total);
        self.budget_plan(total, batch_secs, eval_secs, now)
    }

    /// With a time budget: whether the time left at `now` only just covers the final
    /// evaluation (the run then ends at once, whatever the plan said: a slower machine than
    /// measured must not overrun the budget).
    pub fn out_of_time(&self, now: f64) -> bool {
        let Some(budget_secs) = self.budget_secs else {
            return false;
        };
        now + self.last_eval_secs.unwrap_or(0.0) + 0.5 >= budget_secs
    }

    /// The budget is spent `done` batches in, at fractional epoch `at` and `now` seconds:
    /// this batch is the run's last.
    pub fn end_for_time(&mut self, done: usize, at: f64, now: f64) -> Option<BudgetPlan> {
        self.total_batches = Some(done);
        let budget_secs = self.budget_secs?;
        Some(BudgetPlan {
            budget_secs,
            total_batches: done,
            epochs: at,
            images_per_sec: 0.0,
            eval_secs: self.last_eval_secs.unwrap_or(0.0),
            at_secs: now,
        })
    }

    /// An evaluation (and at an epoch's end, the save) after the first batch took `secs`.
    pub fn count_evaluation(&mut self, secs: f64) {
        self.eval_time += secs;
        self.last_eval_secs = Some(secs);
    }

    /// With a time budget, after each evaluation, `done` batches and `now` seconds in: fit
    /// the number of batches again to the time left at the speed measured so far
    /// (evaluations left out), so that noise or a busier machine moves the schedule's end
    /// instead of overrunning the budget. The new plan, when it changed.
    pub fn replan(&mut self, done: usize, now: f64) -> Option<BudgetPlan> {
        let (budget_secs, old, from) = (self.budget_secs?, self.total_batches?, self.measure_from?);
        let training = now - from.secs - (self.eval_time - from.eval_time);
        // A run that reached its planned end (or was ended for time) stays ended.
        if done >= old || done <= from.batches || training <= 0.0 {
            return None;
        }
        let batch_secs = training / (done - from.batches) as f64;
        let eval_secs = self.last_eval_secs.unwrap_or(0.0);
        let left = budget_secs - now - budget::margin(budget_secs);
        let total = budget::total_batches(done, left, batch_secs, eval_secs, self.eval_points());
        if total == old {
            return None;
        }
        self.total_batches = Some(total);
        Some(self.budget_plan(total, batch_secs, eval_secs, now))
    }

    fn budget_plan(&self, total: usize, batch_secs: f64, eval_secs: f64, now: f64) -> BudgetPlan {
        BudgetPlan {
            budget_secs: self.budget_secs.unwrap_or(0.0),
            total_batches: total,
            epochs: total as f64 / self.per_epoch as f64,
            images_per_sec: self.batch_size as f64 / batch_secs,
            eval_secs,
            at_secs: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TimeBudget;

    fn plan(budget: Option<f64>, per_epoch: usize) -> RunPlan {
        let t = Training {
            batch_size: 100,
            time_budget: TimeBudget(budget.map(std::time::Duration::from_secs_f64)),
            eval_every: 1.0,
            eval_until: 0.0,
            ..Training::default()
        };
        RunPlan::new(&t, per_epoch)
    }

    #[test]
    fn without_a_budget_the_live_epochs_end_the_run() {
        let mut p = plan(None, 10);
        assert!(!p.run_done(25, 2, 3));
        assert!(p.run_done(30, 3, 3));
        // A run shortened below the epoch in progress still finishes that epoch.
        assert_eq!(p.epochs_bound(4, 2), 5);
        assert_eq!(p.length(1, 3), 3.0);
        assert_eq!(p.measure(50, 100.0), None);
        assert!(!p.out_of_time(1e9));
    }

    #[test]
    fn a_budget_measures_then_fixes_then_refits_the_length() {
        let mut p = plan(Some(100.0), 100);
        // Until the plan is made the run goes on, whatever `epochs` says.
        assert!(!p.run_done(500, 5, 1));
        assert_eq!(p.measure(2, 0.1), None, "warming up");
        assert_eq!(p.measure(3, 0.2), None, "measuring from here");
        // The window is 3% of the budget, at least 2 s: 3 s here.
        assert_eq!(p.measure(40, 3.0), None);
        let batch_secs = p.measure(43, 3.2).unwrap();
        assert!((batch_secs - 0.075).abs() < 1e-9, "{batch_secs}");
        let fixed = p.fix(43, 3.5, batch_secs, 1.0);
        let total = p.total_batches().unwrap();
        assert_eq!(fixed.total_batches, total);
        assert!((fixed.images_per_sec - 100.0 / 0.075).abs() < 1e-6);
        // 96.5 s left, less the 3 s margin, at 0.075 s a batch and 1 s per epoch's end.
        assert!((1_050..1_200).contains(&total), "{total}");
        assert!(!p.run_done(total - 1, 0, 1) && p.run_done(total, 0, 1));
        assert!(p.ends_at(total));
        assert_eq!(p.epochs_bound(0, 1), total.div_ceil(100));
        // Slower than measured: the next evaluation moves the end earlier.
        p.count_evaluation(1.0);
        let re = p.replan(500, 50.0).unwrap();
        assert!(re.total_batches < total, "{} vs {total}", re.total_batches);
        // Time nearly spent: the run ends now, and stays ended.
        assert!(p.out_of_time(98.6) && !p.out_of_time(90.0));
        let end = p.end_for_time(900, 9.0, 98.6).unwrap();
        assert_eq!((end.total_batches, p.total_batches()), (900, Some(900)));
        assert_eq!(p.replan(900, 99.0), None);
    }

    #[test]
    fn evaluation_points_follow_the_cadence() {
        let t = Training {
            eval_every: 0.25,
            eval_until: 2.0,
            ..Training::default()
        };
        let p = RunPlan::new(&t, 200);
        let e = p.eval_points();
        assert_eq!((e.every, e.per_epoch, e.until), (50, 200, 400));
    }
}
