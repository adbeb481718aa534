//! Saving and restoring the run: the model file and a checkpoint of the exact position
//! (see [`checkpoint`] for the format), a save that may pause for a retry when it fails,
//! and continuing from a checkpoint.

use anyhow::{Context, Result};
use flume::Receiver;
use tch::Tensor;

use super::{EpochState, Trainer};
use crate::atomic;
use crate::config::{self, Config, Training};
use crate::events::{Command, Phase, SaveReason, TrainEvent};
use crate::store::checkpoint;
use crate::store::run_dir;
use crate::train::ema;
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
            let kept = self.kept_checkpoint();
            if !self.pause_on_fault {
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

    /// What a failed save left: the previous checkpoint, or none at all.
    fn kept_checkpoint(&self) -> String {
        let dir = self.run_dir.join(checkpoint::DIR);
        match checkpoint::read_sidecar(&dir) {
            Ok(Some(sc)) => format!(
                "the previous checkpoint is intact (epoch {}, batch {})",
                sc.epoch, sc.batch
            ),
            _ => "no checkpoint of this run has been saved yet".into(),
        }
    }

    /// Save the model and a checkpoint of the exact position.
    pub(super) fn save(&mut self, sink: &mut dyn Sink, why: SaveReason) -> Result<()> {
        self.saves += 1;
        // A full disk, faked where a real one strikes: once the temp file is written.
        let disk_full = self.faults.save_fails(self.saves);
        self.save_model(disk_full)?;
        let tc = &self.cfg.training;
        // The run is at least as long as its position: a run shortened live below it
        // ends there (as the loop's bound does), so the position never lies beyond it.
        let reached = self.cur.epoch + usize::from(self.cur.batch > 0);
        let training = Training {
            epochs: self.training.epochs.max(reached),
            ..self.training.clone()
        };
        let sidecar = checkpoint::Sidecar {
            format_version: checkpoint::FORMAT_VERSION,
            generation: 0,
            tensors_sha256: String::new(),
            model: self.cfg.model.name.to_string(),
            epoch: self.cur.epoch,
            batch: self.cur.batch,
            step: self.opt.step_count(),
            seed: tc.seed,
            lr: self.opt.hyper.lr,
            weight_decay: self.opt.hyper.weight_decay,
            momentum: self.opt.hyper.momentum,
            epoch_loss_sum: self.cur.loss_sum.double_value(&[]),
            epoch_correct: self.cur.correct.int64_value(&[]),
            total_batches: self.total_batches,
            // With the live settings as they are now, so a resumed run keeps them.
            config: Config {
                training,
                ..self.cfg.clone()
            }
            .to_toml(),
        };
        let dir = self.run_dir.join(checkpoint::DIR);
        let crash = self.faults.crash_in(self.saves);
        let mut extra = self.opt.state();
        if let Some(avg) = &self.averaged {
            extra.extend(avg.ema.state());
        }
        checkpoint::save_hooked(&dir, &self.vs, extra, sidecar, &mut || {
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

    /// Continue from the checkpoint in `run_dir`: weights (BatchNorm statistics among
    /// them), optimiser, weight average, position, sums, and a time budget's decision.
    /// Every field of the sidecar is checked against the run first. When a setting that
    /// shapes the run (batch size, seed, …) was changed by force, a position inside an
    /// epoch means nothing under the new setting: that epoch restarts from its start.
    pub(in crate::train) fn restore(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let dir = self.run_dir.join(checkpoint::DIR);
        let loaded = checkpoint::load(&dir)?;
        let sc = loaded.sidecar;
        let sidecar_path = dir.join(checkpoint::SIDECAR);
        let saved = Config::from_toml(&sc.config, &sidecar_path)?;
        let in_dir = |e: crate::error::UsageError| {
            anyhow::Error::from(e).context(format!("cannot resume {}", self.run_dir.display()))
        };
        sc.check(&saved, run_dir::recorded_epochs(&self.run_dir))
            .map_err(in_dir)?;
        let changes = config::next_run_changes(&saved, self.cfg);
        if changes.is_empty() {
            sc.check_position(
                self.batches_per_epoch(),
                self.cfg.training.batch_size,
                self.ds.train.len(),
            )
            .map_err(in_dir)?;
        }
        let mut rest = checkpoint::restore_model(&mut self.vs, loaded.tensors)?;
        let averaged = ema::split_off(&mut rest);
        self.opt.load_state(&rest, sc.step)?;
        if let Some(avg) = &mut self.averaged {
            avg.ema.load_state(&averaged)?;
        }
        self.total_batches = sc.total_batches;
        self.cur = EpochState {
            epoch: sc.epoch,
            batch: sc.batch,
            loss_sum: Tensor::from(sc.epoch_loss_sum as f32).to_device(self.device),
            correct: Tensor::from(sc.epoch_correct).to_device(self.device),
        };
        if sc.batch > 0 && !changes.is_empty() {
            self.cur = EpochState::new(sc.epoch, self.device);
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
        run_dir::truncate_metrics(&self.run_dir, sc.epoch).with_context(|| {
            format!(
                "cannot cut {} back to the checkpoint's epoch {}",
                self.run_dir.join(run_dir::METRICS_FILE).display(),
                sc.epoch
            )
        })?;
        crate::store::run_record::truncate_losses(&self.run_dir, self.position())?;
        self.restore_best();
        self.last_test_acc = run_dir::last_test_acc(&self.run_dir);
        let model = self.run_dir.join(run_dir::MODEL_FILE);
        if model.is_file() {
            self.model_path = Some(model);
        }
        sink.send(TrainEvent::Message(format!(
            "resumed from the checkpoint at epoch {:.2} (step {})",
            self.position(),
            sc.step
        )));
        Ok(())
    }

    fn save_model(&mut self, disk_full: bool) -> Result<()> {
        let path = self.run_dir.join(run_dir::MODEL_FILE);
        let tmp = self.run_dir.join(run_dir::MODEL_TEMP);
        // The weights that are evaluated: the average when there is one.
        let vs = self.averaged.as_ref().map_or(&self.vs, |avg| &avg.vs);
        atomic::write_with(&path, &tmp, |tmp| {
            vs.save(tmp)?;
            if disk_full {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC).into());
            }
            Ok::<_, anyhow::Error>(())
        })
        .map_err(|e| atomic::explain(e, format!("cannot save the model to {}", path.display())))?;
        let about = crate::model::describe(self.cfg.model.name, vs, self.cfg.model.dropout);
        let json = self.run_dir.join(run_dir::MODEL_JSON);
        atomic::write(&json, format!("{about:#}\n").as_bytes())
            .map_err(|e| atomic::explain(e.into(), format!("cannot write {}", json.display())))?;
        self.model_path = Some(path);
        Ok(())
    }
}
