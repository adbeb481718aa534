//! A run directory as the trainer writes it: held (locked) for the run's life, with the
//! config, one line of `metrics.jsonl` per epoch, the loss history, `run.json`, the
//! model files and checkpoints. Every write goes through here; the formats are in the
//! modules named for each file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{nn, Tensor};

use super::checkpoint::{self, Sidecar};
use super::run_dir::{self, RunLock};
use super::run_record::{self, LossLog, RunRecord, Status};
use crate::atomic;
use crate::config::Config;
use crate::events::{BestBy, EpochSummary};

/// Which of a run's model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFile {
    /// `model.safetensors`: the latest weights, with `model.json` beside it.
    Latest,
    /// `best.safetensors`: the best epoch's.
    Best,
}

/// A run directory this process holds for a run.
#[derive(Debug)]
pub struct Run {
    lock: RunLock,
    losses: LossLog,
}

impl Run {
    /// Take `dir` for a run ([`run_dir::claim`]: refused when another process has it, or,
    /// unless `resume`, when it holds a run), write the run's config into it and clear
    /// what a save that died left in its checkpoint.
    pub fn open(dir: &Path, cfg: &Config, resume: bool) -> Result<Run> {
        let lock = run_dir::claim(dir, resume)?;
        let run = Run {
            lock,
            losses: LossLog::default(),
        };
        let path = run.file(run_dir::CONFIG_FILE);
        atomic::write(&path, cfg.to_toml().as_bytes())
            .with_context(|| format!("cannot write the config into {}", dir.display()))?;
        // Orphans of a save that died before its commit go; the committed generation
        // stays. An unreadable sidecar keeps every generation: resuming says what is wrong.
        let ckpt = run.checkpoint_dir();
        if let Ok(committed) = checkpoint::read_sidecar(&ckpt) {
            checkpoint::clean(&ckpt, committed.map(|s| s.generation));
        }
        Ok(run)
    }

    pub fn dir(&self) -> &Path {
        self.lock.dir()
    }

    /// Another hold on the directory, kept after this `Run` is gone (the run's record is
    /// ended under it).
    pub fn hold(&self) -> RunLock {
        self.lock.clone()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.file(checkpoint::DIR)
    }

    /// Start (or, resuming, continue) the run's record: `running`, by this process.
    pub fn start_record(
        &self,
        model: &str,
        device: &str,
        epochs: usize,
        resume: bool,
        by: BestBy,
    ) -> Result<()> {
        run_record::start(self.dir(), model, device, epochs, resume, by)
    }

    /// Change the run's record.
    pub fn record(&self, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
        run_record::update(self.dir(), change)
    }

    /// Mark the run as ended with `status`.
    pub fn end(&self, status: Status, reason: Option<String>) -> Result<()> {
        run_record::end(self.dir(), status, reason)
    }

    /// Append a finished epoch to `metrics.jsonl`.
    pub fn append_epoch(&self, s: &EpochSummary) -> Result<()> {
        run_dir::append_metrics(self.dir(), s).with_context(|| {
            format!(
                "cannot append to {}",
                self.file(run_dir::METRICS_FILE).display()
            )
        })
    }

    /// Per-batch losses to write with the next [`flush_losses`](Self::flush_losses).
    pub fn push_losses(&mut self, points: &[(f64, f32)]) {
        self.losses.push(points);
    }

    /// Append the losses not yet written to `loss.jsonl`.
    pub fn flush_losses(&mut self) -> Result<()> {
        let dir = self.lock.dir().to_path_buf();
        self.losses.flush(&dir).with_context(|| {
            format!(
                "cannot append to {}",
                dir.join(run_dir::LOSS_FILE).display()
            )
        })
    }

    /// Save the weights in `vs` as `which` (the latest with its description `about`).
    /// `disk_full` fakes a full disk once the temp file is written (tests only).
    pub fn save_model(
        &self,
        which: ModelFile,
        vs: &nn::VarStore,
        about: Option<&serde_json::Value>,
        disk_full: bool,
    ) -> Result<PathBuf> {
        let (name, temp) = match which {
            ModelFile::Latest => (run_dir::MODEL_FILE, run_dir::MODEL_TEMP),
            ModelFile::Best => (run_dir::BEST_MODEL_FILE, run_dir::BEST_MODEL_TEMP),
        };
        let path = self.file(name);
        atomic::write_with(&path, &self.file(temp), |tmp| {
            vs.save(tmp)?;
            if disk_full {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC).into());
            }
            Ok::<_, anyhow::Error>(())
        })
        .map_err(|e| atomic::explain(e, format!("cannot save the model to {}", path.display())))?;
        if let Some(about) = about {
            let json = self.file(run_dir::MODEL_JSON);
            atomic::write(&json, format!("{about:#}\n").as_bytes()).map_err(|e| {
                atomic::explain(e.into(), format!("cannot write {}", json.display()))
            })?;
        }
        Ok(path)
    }

    /// Write a checkpoint generation of `vs` and `extra` tensors with `sidecar` and commit
    /// it; `before_commit` runs between the two (tests crash there).
    pub fn save_checkpoint(
        &self,
        vs: &nn::VarStore,
        extra: Vec<(String, Tensor)>,
        sidecar: Sidecar,
        before_commit: &mut dyn FnMut(),
    ) -> Result<()> {
        checkpoint::save_hooked(&self.checkpoint_dir(), vs, extra, sidecar, before_commit)
    }

    /// What a failed save left: the previous checkpoint, or none at all.
    pub fn kept_checkpoint(&self) -> String {
        match checkpoint::read_sidecar(&self.checkpoint_dir()) {
            Ok(Some(sc)) => format!(
                "the previous checkpoint is intact (epoch {}, batch {})",
                sc.epoch, sc.batch
            ),
            _ => "no checkpoint of this run has been saved yet".into(),
        }
    }

    /// Epochs recorded in `metrics.jsonl`.
    pub fn recorded_epochs(&self) -> usize {
        run_dir::recorded_epochs(self.dir())
    }

    /// Cut the run's history back to a checkpoint at `epoch` (metrics) and fractional
    /// epoch `at` (losses): a resumed run writes again what followed.
    pub fn rewind(&self, epoch: usize, at: f64) -> Result<()> {
        run_dir::truncate_metrics(self.dir(), epoch).with_context(|| {
            format!(
                "cannot cut {} back to the checkpoint's epoch {epoch}",
                self.file(run_dir::METRICS_FILE).display()
            )
        })?;
        run_record::truncate_losses(self.dir(), at)?;
        Ok(())
    }

    /// The test accuracy of the last recorded epoch, if any.
    pub fn last_test_acc(&self) -> Option<f64> {
        run_dir::last_test_acc(self.dir())
    }

    /// The best epoch recorded in `metrics.jsonl`, judged `by` validation or test accuracy.
    pub fn best(&self, by: BestBy) -> Option<crate::events::Best> {
        run_record::best_in_metrics(self.dir(), by)
    }

    /// The latest model file, when there is one.
    pub fn model(&self) -> Option<PathBuf> {
        Some(self.file(run_dir::MODEL_FILE)).filter(|p| p.is_file())
    }
}
