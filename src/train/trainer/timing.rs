//! A time budget's side of the trainer: measuring the speed after a warm-up, timing an
//! evaluation, fitting the number of steps so the schedule ends on time (again after every
//! evaluation), ending the run when the time is spent, and the evaluations between epoch
//! ends (`training.eval_every`).

use std::time::Instant;

use anyhow::Result;

use super::Trainer;
use crate::events::{BudgetPlan, Phase, TestPoint, TrainEvent};
use crate::train::budget;
use crate::train::evaluate;
use crate::train::sink::Sink;

impl Trainer<'_> {
    /// With a time budget, before the run's length is fixed: start measuring the speed
    /// after the first few batches, and once the measurement window has passed, time an
    /// evaluation and fix the number of batches so that the schedule ends on time.
    pub(super) fn measure_budget(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let Some(budget_secs) = self.cfg.training.time_budget.secs() else {
            return Ok(());
        };
        let done = self.run_batches();
        let now = self.clock.elapsed();
        let Some((from_batch, from_secs, _)) = self.measure_from else {
            if done >= budget::WARM_BATCHES {
                self.measure_from = Some((done, now, self.eval_time));
            }
            return Ok(());
        };
        if now - from_secs < budget::measure_window(budget_secs) || done <= from_batch {
            return Ok(());
        }
        let batch_secs = (now - from_secs) / (done - from_batch) as f64;
        let eval_secs = self.time_evaluation()?;
        let at_secs = self.clock.elapsed();
        let left = budget_secs - at_secs - budget::margin(budget_secs);
        let total = budget::total_batches(done, left, batch_secs, eval_secs, self.eval_points());
        self.total_batches = Some(total);
        let plan = BudgetPlan {
            budget_secs,
            total_batches: total,
            epochs: total as f64 / self.batches_per_epoch() as f64,
            images_per_sec: self.cfg.training.batch_size as f64 / batch_secs,
            eval_secs,
            at_secs,
        };
        sink.send(TrainEvent::Message(plan.describe()));
        sink.send(TrainEvent::Planned(Box::new(plan)));
        Ok(())
    }

    /// With a time budget: whether the time left only just covers the final evaluation
    /// (the run then ends at once, whatever the plan said: a slower machine than measured
    /// must not overrun the budget).
    pub(super) fn out_of_time(&self) -> bool {
        let Some(budget_secs) = self.cfg.training.time_budget.secs() else {
            return false;
        };
        let final_eval = self.last_eval_secs.unwrap_or(0.0);
        self.clock.elapsed() + final_eval + 0.5 >= budget_secs
    }

    /// The budget is spent: this batch is the run's last.
    pub(super) fn end_for_time(&mut self, sink: &mut dyn Sink) {
        let done = self.run_batches();
        self.total_batches = Some(done);
        sink.send(TrainEvent::Message(format!(
            "time budget spent at epoch {:.2}: ending the run here",
            self.position()
        )));
        if let Some(budget_secs) = self.cfg.training.time_budget.secs() {
            sink.send(TrainEvent::Planned(Box::new(BudgetPlan {
                budget_secs,
                total_batches: done,
                epochs: self.position(),
                images_per_sec: 0.0,
                eval_secs: self.last_eval_secs.unwrap_or(0.0),
                at_secs: self.clock.elapsed(),
            })));
        }
    }

    /// An evaluation (and at an epoch's end, the save) took `secs`.
    pub(super) fn count_evaluation(&mut self, secs: f64) {
        if self.clock.first_batch.is_some() {
            self.eval_time += secs;
            self.last_eval_secs = Some(secs);
        }
    }

    /// With a time budget, after each evaluation: fit the number of batches again to the
    /// time left at the speed measured so far (evaluations left out), so that noise or a
    /// busier machine moves the schedule's end instead of overrunning the budget.
    pub(super) fn replan(&mut self, sink: &mut dyn Sink) {
        let (Some(budget_secs), Some(old), Some((from_batch, from_secs, from_eval))) = (
            self.cfg.training.time_budget.secs(),
            self.total_batches,
            self.measure_from,
        ) else {
            return;
        };
        let done = self.run_batches();
        let now = self.clock.elapsed();
        let training = now - from_secs - (self.eval_time - from_eval);
        // A run that reached its planned end (or was ended for time) stays ended.
        if done >= old || done <= from_batch || training <= 0.0 {
            return;
        }
        let batch_secs = training / (done - from_batch) as f64;
        let eval_secs = self.last_eval_secs.unwrap_or(0.0);
        let left = budget_secs - now - budget::margin(budget_secs);
        let total = budget::total_batches(done, left, batch_secs, eval_secs, self.eval_points());
        if total == old {
            return;
        }
        self.total_batches = Some(total);
        sink.send(TrainEvent::Planned(Box::new(BudgetPlan {
            budget_secs,
            total_batches: total,
            epochs: total as f64 / self.batches_per_epoch() as f64,
            images_per_sec: self.cfg.training.batch_size as f64 / batch_secs,
            eval_secs,
            at_secs: now,
        })));
    }

    /// Seconds one evaluation of the test set takes, timed on a part of it.
    pub(super) fn time_evaluation(&self) -> Result<f64> {
        let n = self.test_x.size()[0];
        let part = n.min(2000);
        let start = Instant::now();
        evaluate::evaluate(
            self.evaluated_net(),
            &self.test_x.narrow(0, 0, part),
            &self.test_y.narrow(0, 0, part),
            self.cfg.training.tta,
        )?;
        Ok(start.elapsed().as_secs_f64() * n as f64 / part.max(1) as f64)
    }

    /// An evaluation between epoch ends, reported as a [`TestPoint`].
    pub(super) fn test_between(&mut self, sink: &mut dyn Sink) -> Result<()> {
        sink.send(TrainEvent::Phase(Phase::Evaluating));
        let eval = self.evaluate()?;
        sink.send(TrainEvent::Tested(Box::new(TestPoint {
            at: self.position(),
            test_loss: eval.loss,
            test_acc: eval.accuracy,
            test_acc_plain: eval.accuracy_plain,
            lr: self.opt.hyper.lr,
            elapsed: self.clock.elapsed(),
        })));
        sink.send(TrainEvent::Phase(Phase::Training));
        Ok(())
    }
}
