//! What the trainer keeps for comparing runs later (see [`run_record`]): the loss history,
//! `run.json` after every epoch, the best epoch's model as `best.safetensors`, and early
//! stopping when the accuracy has not improved for `training.early_stop` epochs. The
//! accuracy that counts is the validation accuracy when the run holds training images
//! out (`data.validation`), else the test accuracy.

use anyhow::{Context, Result};

use super::Trainer;
use crate::atomic;
use crate::events::{Best, BestBy, EpochSummary, TrainEvent};
use crate::store::run_dir;
use crate::store::run_record;
use crate::train::sink::Sink;

impl Trainer<'_> {
    /// After an epoch's metrics are appended: its losses to `loss.jsonl`, a new best to
    /// `best.safetensors`, and the progress into `run.json`.
    pub(super) fn record_epoch(&mut self, s: &EpochSummary, sink: &mut dyn Sink) -> Result<()> {
        self.flush_losses()?;
        let by = self.best_by();
        let best = Best::update(self.best, Best::of(s, by));
        if best != self.best {
            self.best = best;
            self.save_best()?;
        } else if let (Some(b), n) = (self.best, self.training.early_stop) {
            if n > 0 {
                sink.send(TrainEvent::Message(format!(
                    "no better {} than {:.2}% (epoch {}) for {} of {n} epochs",
                    by.accuracy(),
                    b.acc * 100.0,
                    b.epoch,
                    s.epoch - b.epoch
                )));
            }
        }
        let best = self.best;
        run_record::update(&self.run_dir, |r| {
            r.epochs_done = s.epoch;
            r.epochs_planned = s.epochs;
            r.final_test_acc = Some(s.test_acc);
            run_record::set_best(r, best);
        })
    }

    /// What chooses the best epoch: the held-out images, when there are any.
    pub(super) fn best_by(&self) -> BestBy {
        BestBy::with(self.ds.validation.len())
    }

    /// Append the losses not yet written to `loss.jsonl`.
    pub(super) fn flush_losses(&mut self) -> Result<()> {
        self.loss_log.flush(&self.run_dir).with_context(|| {
            format!(
                "cannot append to {}",
                self.run_dir.join(run_dir::LOSS_FILE).display()
            )
        })
    }

    /// At an epoch boundary: whether `training.early_stop` epochs have passed without a
    /// better test accuracy. Says so, in the log and in `run.json`, when they have.
    pub(super) fn patience_spent(&mut self, sink: &mut dyn Sink) -> bool {
        let n = self.training.early_stop;
        let Some(best) = self.best else {
            return false;
        };
        let done = self.cur.epoch;
        if n == 0 || self.cur.batch > 0 || done.saturating_sub(best.epoch) < n {
            return false;
        }
        let why = format!(
            "early stop after epoch {done}: no better {} than {:.2}% (epoch {}) for {n} \
             epochs",
            best.by.accuracy(),
            best.acc * 100.0,
            best.epoch
        );
        sink.send(TrainEvent::Message(why.clone()));
        if let Err(e) = run_record::update(&self.run_dir, |r| r.reason = Some(why)) {
            sink.send(TrainEvent::Message(format!("{e:#}")));
        }
        true
    }

    /// The best epoch as the resumed run's metrics say (they end at its checkpoint).
    pub(super) fn restore_best(&mut self) {
        self.best = run_record::best_in_metrics(&self.run_dir, self.best_by());
    }

    fn save_best(&self) -> Result<()> {
        let path = self.run_dir.join(run_dir::BEST_MODEL_FILE);
        let tmp = self.run_dir.join(run_dir::BEST_MODEL_TEMP);
        atomic::write_with(&path, &tmp, |tmp| {
            self.vs.save(tmp)?;
            Ok::<_, anyhow::Error>(())
        })
        .map_err(|e| atomic::explain(e, format!("cannot save the model to {}", path.display())))
    }
}
