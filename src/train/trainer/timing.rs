//! A time budget's side of the trainer, and the evaluations between epoch ends
//! (`training.eval_every`): the [`crate::train::plan::RunPlan`] decides from the figures
//! given here (batches done, the run's clock, an evaluation timed on the network), and
//! what it decides is told to the consumer.

use std::time::Instant;

use anyhow::Result;

use super::{EpochMeter, Trainer};
use crate::events::{Phase, TestPoint, TrainEvent};
use crate::train::sink::Sink;

impl Trainer<'_> {
    /// With a time budget, before the run's length is fixed: measure the speed, and once
    /// the plan has its measurement, time an evaluation and fix the number of batches so
    /// that the schedule ends on time.
    pub(super) fn measure_budget(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let done = self.run_batches();
        let Some(batch_secs) = self.plan.measure(done, self.clock.elapsed()) else {
            return Ok(());
        };
        let eval_secs = self.eval.time(self.learner.evaluated())?;
        let plan = self
            .plan
            .fix(done, self.clock.elapsed(), batch_secs, eval_secs);
        sink.send(TrainEvent::Message(plan.describe()));
        sink.send(TrainEvent::Planned(Box::new(plan)));
        Ok(())
    }

    /// The budget is spent: this batch is the run's last.
    pub(super) fn end_for_time(&mut self, sink: &mut dyn Sink) {
        sink.send(TrainEvent::Message(format!(
            "time budget spent at epoch {:.2}: ending the run here",
            self.position()
        )));
        let (done, at, now) = (self.run_batches(), self.position(), self.clock.elapsed());
        if let Some(plan) = self.plan.end_for_time(done, at, now) {
            sink.send(TrainEvent::Planned(Box::new(plan)));
        }
    }

    /// An evaluation (and at an epoch's end, the save) took `secs`: after the first batch,
    /// a time budget counts it.
    pub(super) fn count_evaluation(&mut self, secs: f64) {
        if self.clock.started() {
            self.plan.count_evaluation(secs);
        }
    }

    /// After each evaluation: a time budget fits the run's length again to the time left.
    pub(super) fn replan(&mut self, sink: &mut dyn Sink) {
        if let Some(plan) = self.plan.replan(self.run_batches(), self.clock.elapsed()) {
            sink.send(TrainEvent::Planned(Box::new(plan)));
        }
    }

    /// After batch `b`: the evaluation between epoch ends that the cadence asks for here,
    /// if any (its time is not the epoch's training time).
    pub(super) fn test_if_due(
        &mut self,
        b: usize,
        meter: &mut EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let done = self.run_batches();
        if b + 1 >= self.batches_per_epoch() || !self.plan.eval_points().at(done) {
            return Ok(());
        }
        self.hold_team();
        let start = Instant::now();
        sink.send(TrainEvent::Phase(Phase::Evaluating));
        let eval = self.eval.test(self.learner.evaluated())?;
        sink.send(TrainEvent::Tested(Box::new(TestPoint {
            at: self.position(),
            test_loss: eval.loss,
            test_acc: eval.accuracy,
            test_acc_plain: eval.accuracy_plain,
            lr: self.learner.lr(),
            elapsed: self.clock.elapsed(),
        })));
        sink.send(TrainEvent::Phase(Phase::Training));
        meter.paused += start.elapsed();
        self.count_evaluation(start.elapsed().as_secs_f64());
        self.replan(sink);
        Ok(())
    }
}
