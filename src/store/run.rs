//! A run directory as the trainer writes it: held (locked) for the run's life, with the
//! config, one line of `metrics.jsonl` per epoch, the loss history, `run.json`, the
//! model files and checkpoints. Every write goes through here, through the directory's
//! handle (never through a planted link); the formats are in the modules named for
//! each file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{nn, Tensor};

use super::checkpoint::{self, Sidecar};
use super::losses::{self, LossLog};
use super::metrics;
use super::run_dir::{self, RunLock};
use super::run_record::{self, RunRecord, Status};
use super::tensors;
use crate::atomic;
use crate::config::Config;
use crate::events::{Best, BestBy, EpochSummary};
use crate::files::Dir;

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
        run.handle()
            .write(run_dir::CONFIG_FILE, cfg.to_toml().as_bytes())
            .with_context(|| format!("cannot write the config into {}", dir.display()))?;
        // Orphans of a save that died before its commit go; the committed generation
        // stays. An unreadable sidecar keeps every generation: resuming says what is wrong.
        if let Some(ckpt) = checkpoint::dir_of(run.handle())? {
            if let Ok(committed) = checkpoint::read_sidecar(&ckpt) {
                checkpoint::clean(&ckpt, committed.map(|s| s.generation));
            }
        }
        Ok(run)
    }

    pub fn dir(&self) -> &Path {
        self.lock.dir()
    }

    /// The directory's handle.
    pub fn handle(&self) -> &Dir {
        self.lock.handle()
    }

    /// Another hold on the directory, kept after this `Run` is gone (the run's record is
    /// ended under it).
    pub fn hold(&self) -> RunLock {
        self.lock.clone()
    }

    /// The checkpoint directory, created when missing (a link there is refused).
    pub fn checkpoint_dir(&self) -> Result<Dir> {
        self.handle().create_sub(checkpoint::DIR, false)
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
        run_record::start(self.handle(), model, device, epochs, resume, by)
    }

    /// Change the run's record.
    pub fn record(&self, change: impl FnOnce(&mut RunRecord)) -> Result<()> {
        run_record::update(self.handle(), change)
    }

    /// Mark the run as ended with `status`.
    pub fn end(&self, status: Status, reason: Option<String>) -> Result<()> {
        run_record::end(self.handle(), status, reason)
    }

    /// Append a finished epoch to `metrics.jsonl`.
    pub fn append_epoch(&self, s: &EpochSummary) -> Result<()> {
        metrics::append(self.handle(), s)
    }

    /// Per-batch losses to write with the next [`flush_losses`](Self::flush_losses).
    pub fn push_losses(&mut self, points: &[(f64, f32)]) {
        self.losses.push(points);
    }

    /// Append the losses not yet written to `loss.jsonl`.
    pub fn flush_losses(&mut self) -> Result<()> {
        self.losses.flush(self.lock.handle())
    }

    /// Save the weights in `vs` as `which` (the latest with its description `about`).
    /// `disk_full` fakes a full disk once the file is written (tests only).
    pub fn save_model(
        &self,
        which: ModelFile,
        vs: &nn::VarStore,
        about: Option<&serde_json::Value>,
        disk_full: bool,
    ) -> Result<PathBuf> {
        let name = match which {
            ModelFile::Latest => run_dir::MODEL_FILE,
            ModelFile::Best => run_dir::BEST_MODEL_FILE,
        };
        let path = self.handle().join(name);
        let explain =
            |e| atomic::explain(e, format!("cannot save the model to {}", path.display()));
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = tensors::encode(&named).map_err(explain)?;
        self.handle()
            .write_with(name, |f| {
                use std::io::Write;
                f.write_all(&bytes)?;
                if disk_full {
                    return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
                }
                Ok(())
            })
            .map_err(explain)?;
        if let Some(about) = about {
            let json = self.handle().join(run_dir::MODEL_JSON);
            self.handle()
                .write(run_dir::MODEL_JSON, format!("{about:#}\n").as_bytes())
                .map_err(|e| atomic::explain(e, format!("cannot write {}", json.display())))?;
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
        let dir = self.checkpoint_dir()?;
        checkpoint::save_hooked(&dir, vs, extra, sidecar, before_commit)
    }

    /// What a failed save left: the previous checkpoint, or none at all.
    pub fn kept_checkpoint(&self) -> String {
        let sidecar = checkpoint::dir_of(self.handle())
            .ok()
            .flatten()
            .and_then(|d| checkpoint::read_sidecar(&d).ok().flatten());
        match sidecar {
            Some(sc) => format!(
                "the previous checkpoint is intact (epoch {}, batch {})",
                sc.epoch, sc.batch
            ),
            None => "no checkpoint of this run has been saved yet".into(),
        }
    }

    /// The run's checkpoint, read and verified.
    pub fn load_checkpoint(&self) -> Result<checkpoint::Loaded> {
        let dir = checkpoint::dir_of(self.handle())?
            .with_context(|| format!("no checkpoint in {}", self.dir().display()))?;
        checkpoint::load(&dir)
    }

    /// Epochs recorded in `metrics.jsonl`.
    pub fn recorded_epochs(&self) -> usize {
        metrics::recorded_epochs(self.handle())
    }

    /// Cut the run's history back to a checkpoint at `epoch` (metrics) and fractional
    /// epoch `at` (losses): a resumed run writes again what followed.
    pub fn rewind(&self, epoch: usize, at: f64) -> Result<()> {
        metrics::truncate(self.handle(), epoch).with_context(|| {
            format!(
                "cannot cut {} back to the checkpoint's epoch {epoch}",
                self.handle().join(run_dir::METRICS_FILE).display()
            )
        })?;
        losses::truncate(self.handle(), at)
    }

    /// The test accuracy of the last recorded epoch, if any.
    pub fn last_test_acc(&self) -> Option<f64> {
        metrics::last_test_acc(self.handle())
    }

    /// The best epoch recorded in `metrics.jsonl`, judged `by` validation or test accuracy.
    pub fn best(&self, by: BestBy) -> Option<Best> {
        metrics::best(self.handle(), by)
    }

    /// The latest model file, when there is one.
    pub fn model(&self) -> Option<PathBuf> {
        (self.handle().kind(run_dir::MODEL_FILE) == Some("a regular file"))
            .then(|| self.handle().join(run_dir::MODEL_FILE))
    }
}
