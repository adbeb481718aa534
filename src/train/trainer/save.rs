//! Saving and restoring the run: the model file and a checkpoint of the exact position
//! (see [`checkpoint`] for the format), a save that may pause for a retry when it fails,
//! and continuing from a checkpoint.

use anyhow::Result;
use flume::Receiver;
use tch::Tensor;

use super::{EpochState, Trainer};
use crate::config::{self, Config, Training};
use crate::events::{Command, Phase, SaveReason, TrainEvent};
use crate::store::checkpoint;
use crate::store::run::ModelFile;
use crate::train::sink::Sink;

impl Trainer<'_> {
    /// Save; on failure either fail, or pause until the user resumes (retry) or stops.
    pub(super) fn save_or_pause(
        &mut self,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        loop {
            let err = match self.save(sink, SaveReason::EpochEnd) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let kept = self.record.run.kept_checkpoint();
            if !self.watch.pause_on_fault {
                return Err(anyhow::anyhow!("{err:#}; {kept}"));
            }
            sink.send(TrainEvent::Message(format!(
                "{err:#}; {kept}. Training is paused: free some space (or fix the run \
                 directory) and resume to retry, or quit"
            )));
            sink.send(TrainEvent::Phase(Phase::Paused));
            if !self.wait_for_resume(control, sink) {
                return Err(anyhow::anyhow!(
                    "stopped after a failed save: {err:#}; {kept}"
                ));
            }
        }
    }

    /// Save the model and a checkpoint of the exact position.
    pub(super) fn save(&mut self, sink: &mut dyn Sink, why: SaveReason) -> Result<()> {
        self.record.saves += 1;
        let saves = self.record.saves;
        // A full disk, faked where a real one strikes: once the temp file is written.
        let disk_full = self.watch.faults.save_fails(saves);
        let vs = self.learner.evaluated_weights();
        let about = crate::model::describe(self.cfg.model.name, vs, self.cfg.model.dropout);
        let path = self
            .record
            .run
            .save_model(ModelFile::Latest, vs, Some(&about), disk_full)?;
        self.record.model_path = Some(path);
        let sidecar = self.sidecar();
        let crash = self.watch.faults.crash_in(saves);
        let (vs, extra) = self.learner.state();
        self.record
            .run
            .save_checkpoint(vs, extra, sidecar, &mut || {
                if crash {
                    std::process::abort();
                }
            })?;
        sink.send(TrainEvent::Saved {
            at: self.position(),
            why,
        });
        Ok(())
    }

    /// The checkpoint's scalars for the position now.
    fn sidecar(&self) -> checkpoint::Sidecar {
        let tc = &self.cfg.training;
        // The run is at least as long as its position: a run shortened live below it
        // ends there (as the loop's bound does), so the position never lies beyond it.
        let reached = self.cur.epoch + usize::from(self.cur.batch > 0);
        let training = Training {
            epochs: tc.epochs.max(reached),
            ..tc.clone()
        };
        let (lr, weight_decay, momentum) = self.learner.hyper();
        checkpoint::Sidecar {
            format_version: checkpoint::FORMAT_VERSION,
            generation: 0,
            tensors_sha256: String::new(),
            model: self.cfg.model.name.to_string(),
            epoch: self.cur.epoch,
            batch: self.cur.batch,
            step: self.learner.steps(),
            seed: tc.seed,
            lr,
            weight_decay,
            momentum,
            epoch_loss_sum: self.cur.loss_sum.double_value(&[]),
            epoch_correct: self.cur.correct.int64_value(&[]),
            total_batches: self.plan.total_batches(),
            // With the live settings as they are now, so a resumed run keeps them.
            config: Config {
                training,
                ..self.cfg.clone()
            }
            .to_toml(),
        }
    }

    /// Continue from the checkpoint in the run directory: weights (BatchNorm statistics
    /// among them), optimiser, weight average, position, sums, and a time budget's
    /// decision. Every field of the sidecar is checked against the run first. When a
    /// setting that shapes the run (batch size, seed, …) was changed by force, a position
    /// inside an epoch means nothing under the new setting: that epoch restarts from its
    /// start.
    pub(in crate::train) fn restore(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let loaded = self.record.run.load_checkpoint()?;
        let sc = loaded.sidecar;
        let sidecar_path = (self.record.run.dir())
            .join(checkpoint::DIR)
            .join(checkpoint::SIDECAR);
        let saved = Config::from_toml(&sc.config, &sidecar_path)?;
        let run_dir = self.record.run.dir().to_path_buf();
        let in_dir = |e: crate::error::UsageError| {
            anyhow::Error::from(e).context(format!("cannot resume {}", run_dir.display()))
        };
        sc.check(&saved, self.record.run.recorded_epochs())
            .map_err(in_dir)?;
        let changes = config::next_run_changes(&saved, &self.cfg);
        if changes.is_empty() {
            sc.check_position(
                self.batches_per_epoch(),
                self.cfg.training.batch_size,
                self.ds.train.len(),
            )
            .map_err(in_dir)?;
        }
        let rest = checkpoint::restore_model(self.learner.weights_mut(), loaded.tensors)?;
        self.learner.restore(rest, sc.step)?;
        self.plan.restore(sc.total_batches);
        let device = self.learner.device();
        self.cur = EpochState {
            epoch: sc.epoch,
            batch: sc.batch,
            loss_sum: Tensor::from(sc.epoch_loss_sum as f32).to_device(device),
            correct: Tensor::from(sc.epoch_correct).to_device(device),
        };
        if sc.batch > 0 && !changes.is_empty() {
            self.cur = EpochState::new(sc.epoch, device);
            let list: Vec<String> = changes
                .iter()
                .map(|(k, a, b)| format!("{k} {a} → {b}"))
                .collect();
            sink.send(TrainEvent::Message(format!(
                "{} changed: epoch {} restarts from its start (the {} batches done of it \
                 under the old setting are not continued)",
                list.join(", "),
                sc.epoch + 1,
                sc.batch
            )));
        }
        self.record.run.rewind(sc.epoch, self.position())?;
        self.record.reload();
        sink.send(TrainEvent::Message(format!(
            "resumed from the checkpoint at epoch {:.2} (step {})",
            self.position(),
            sc.step
        )));
        Ok(())
    }
}
