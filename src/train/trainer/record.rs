//! What the trainer keeps of the run besides its position (see [`crate::store::run`] for the
//! files): the run directory it writes, the best epoch so far (its model in
//! `best.safetensors`), `run.json` after every epoch, and early stopping when the accuracy
//! has not improved for `training.early_stop` epochs. The accuracy that counts is the
//! validation accuracy when the run holds training images out (`data.validation`), else
//! the test accuracy.

use std::path::PathBuf;

use anyhow::Result;

use super::Trainer;
use crate::events::{Best, BestBy, EpochSummary, TrainEvent};
use crate::store::run::{ModelFile, Run};
use crate::train::sink::Sink;

/// The run's files and what the trainer remembers of them.
pub(in crate::train) struct Record {
    pub run: Run,
    /// What chooses the best epoch.
    pub by: BestBy,
    /// The best epoch so far.
    pub best: Option<Best>,
    /// The latest model file, once one is saved.
    pub model_path: Option<PathBuf>,
    /// The test accuracy of the last finished epoch.
    pub last_test_acc: Option<f64>,
    /// Checkpoints saved by this process (fault injection counts them).
    pub saves: u32,
}

impl Record {
    /// The record of a run writing into `run`, holding `held_out` validation images.
    pub fn new(run: Run, held_out: usize) -> Record {
        Record {
            run,
            by: BestBy::with(held_out),
            best: None,
            model_path: None,
            last_test_acc: None,
            saves: 0,
        }
    }

    /// A resumed run: the best epoch, the last accuracy and the model as its files say
    /// (they end at its checkpoint).
    pub fn reload(&mut self) {
        self.best = self.run.best(self.by);
        self.last_test_acc = self.run.last_test_acc();
        if let Some(model) = self.run.model() {
            self.model_path = Some(model);
        }
    }
}

impl Trainer<'_> {
    /// After an epoch's metrics are appended: its losses to `loss.jsonl`, a new best to
    /// `best.safetensors`, and the progress into `run.json`.
    pub(super) fn record_epoch(&mut self, s: &EpochSummary, sink: &mut dyn Sink) -> Result<()> {
        self.record.run.flush_losses()?;
        let by = self.record.by;
        let best = Best::update(self.record.best, Best::of(s, by));
        if best != self.record.best {
            self.record.best = best;
            // The weights that were evaluated: the average when there is one.
            let vs = self.learner.evaluated_weights();
            self.record
                .run
                .save_model(ModelFile::Best, vs, None, false)?;
        } else if let (Some(b), n) = (self.record.best, self.cfg.training.early_stop) {
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
        self.record.run.record(|r| {
            r.epochs_done = s.epoch;
            r.epochs_planned = s.epochs;
            r.final_test_acc = Some(s.test_acc);
            crate::store::run_record::set_best(r, best);
        })
    }

    /// At an epoch boundary: whether `training.early_stop` epochs have passed without a
    /// better accuracy. Says so, in the log and in `run.json`, when they have.
    pub(super) fn patience_spent(&mut self, sink: &mut dyn Sink) -> bool {
        let n = self.cfg.training.early_stop;
        let Some(best) = self.record.best else {
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
        if let Err(e) = self.record.run.record(|r| r.reason = Some(why)) {
            sink.send(TrainEvent::Message(format!("{e:#}")));
        }
        true
    }
}
