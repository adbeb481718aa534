//! Saving and restoring the run: the model file and a checkpoint of the exact position
//! (see [`checkpoint`] for the format), a save that may pause for a retry when it fails,
//! and continuing from a checkpoint.

use anyhow::{Context, Result};
use flume::Receiver;
use tch::Tensor;

use super::{EpochState, Trainer};
use crate::atomic;
use crate::config::Config;
use crate::train::events::{Command, Phase, SaveReason, TrainEvent};
use crate::train::run_dir;
use crate::train::sink::Sink;
use crate::train::{checkpoint, ema};

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
                Err(e) if self.pause_on_fault => e,
                Err(e) => return Err(e.context("the previous checkpoint is intact")),
            };
            sink.send(TrainEvent::Message(format!(
                "{err:#}. The previous checkpoint is intact. Training is paused: free some \
                 space (or fix the run directory) and resume to retry, or quit"
            )));
            sink.send(TrainEvent::Phase(Phase::Paused));
            if !self.wait_for_resume(control, sink) {
                return Err(
                    err.context("stopped after a failed save; the previous checkpoint is intact")
                );
            }
        }
    }

    /// Save the model and a checkpoint of the exact position.
    pub(super) fn save(&mut self, sink: &mut dyn Sink, why: SaveReason) -> Result<()> {
        self.saves += 1;
        if self.faults.save_fails(self.saves) {
            return Err(
                anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOSPC)).context(
                    format!("cannot write checkpoint in {}", self.run_dir.display()),
                ),
            );
        }
        self.save_model()?;
        let tc = &self.cfg.training;
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
                training: self.training.clone(),
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
    pub(in crate::train) fn restore(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let dir = self.run_dir.join(checkpoint::DIR);
        let loaded = checkpoint::load(&dir)?;
        let mut rest = checkpoint::restore_model(&mut self.vs, loaded.tensors)?;
        let averaged = ema::split_off(&mut rest);
        let sc = loaded.sidecar;
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
        run_dir::truncate_metrics(&self.run_dir, sc.epoch)?;
        self.last_test_acc = run_dir::last_test_acc(&self.run_dir);
        sink.send(TrainEvent::Message(format!(
            "resumed from the checkpoint at epoch {:.2} (step {})",
            self.position(),
            sc.step
        )));
        Ok(())
    }

    fn save_model(&mut self) -> Result<()> {
        let path = self.run_dir.join(run_dir::MODEL_FILE);
        let tmp = self.run_dir.join(".model.tmp.safetensors");
        // The weights that are evaluated: the average when there is one.
        let vs = self.averaged.as_ref().map_or(&self.vs, |avg| &avg.vs);
        atomic::write_with(&path, &tmp, |tmp| Ok::<_, anyhow::Error>(vs.save(tmp)?))
            .with_context(|| format!("cannot save the model to {}", path.display()))?;
        self.model_path = Some(path);
        Ok(())
    }
}
