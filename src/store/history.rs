//! A run as its directory holds it ([`StoredRun`]): the stored config, record, metrics and
//! loss history, and the same [`TrainEvent`]s the trainer sent about it
//! ([`StoredRun::events`]), so that `view`, `runs`, an attached dashboard and reports
//! read a run's history through one piece of code.
//!
//! Every file is opened for reading only: reading a run never changes it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{nn, Device};

use super::run_dir::{CONFIG_FILE, METRICS_FILE, MODEL_FILE};
use super::run_record::{self, RunRecord, Status};
use super::{losses, metrics};
use crate::config::Config;
use crate::events::{EpochSummary, Phase, Progress, RunInfo, RunSummary, TrainEvent};
use crate::files::{Dir, MB};
use crate::model;

/// Points of a chart line: (fractional epoch, value).
pub type Curve = Vec<(f64, f64)>;

/// The most a run's `config.toml` holds.
pub const CONFIG_BOUND: u64 = MB;

/// A run as its directory holds it.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub dir: PathBuf,
    /// The directory's name.
    pub name: String,
    pub config: Config,
    pub record: Option<RunRecord>,
    /// Its status when it was read: a `running` record whose directory nobody holds is
    /// interrupted.
    pub status: Option<Status>,
    pub epochs: Vec<EpochSummary>,
    /// Lines of `metrics.jsonl` that could not be read.
    pub bad_lines: usize,
    /// (fractional epoch, loss) from `loss.jsonl`.
    pub losses: Vec<(f64, f32)>,
}

impl StoredRun {
    /// Read the run in `dir`: its config must parse; metrics and losses are read as far
    /// as they go (a line cut off by a crash is left out, and counted).
    pub fn load(path: &Path) -> Result<StoredRun> {
        let dir = Dir::open(path)?;
        let config_path = dir.join(CONFIG_FILE);
        let text = dir
            .read_text(CONFIG_FILE, CONFIG_BOUND, "a run's config")?
            .with_context(|| {
                format!(
                    "{} is not a run directory (no {CONFIG_FILE})",
                    path.display()
                )
            })?;
        let config = Config::from_toml(&text, &config_path)?;
        let record = run_record::read(&dir).ok().flatten();
        let status = record.as_ref().map(|r| run_record::status_of(&dir, r));
        let (epochs, bad_lines) = metrics::epochs(&dir)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(StoredRun {
            dir: path.to_path_buf(),
            name,
            config,
            record,
            status,
            epochs,
            bad_lines,
            losses: losses::read(&dir)?,
        })
    }

    /// The run's status, a `running` record without its process read as interrupted.
    pub fn status(&self) -> Option<Status> {
        self.status
    }

    /// The events the trainer sent about this run, as far as the files keep them:
    /// `Started`, per epoch one `Progress` (its losses) and `EpochEnd`, and how it ended.
    pub fn events(&self) -> Vec<TrainEvent> {
        let mut out = vec![
            TrainEvent::Phase(Phase::Loading),
            TrainEvent::Message(format!("viewing the run in {}", self.dir.display())),
            TrainEvent::Started(Box::new(self.info())),
        ];
        out.extend(self.epoch_events());
        out.extend(self.ending());
        out
    }

    /// Batches in one of the run's epochs.
    fn batches(&self) -> usize {
        self.train_images()
            .div_ceil(self.config.training.batch_size.max(1))
    }

    /// The training images the run trained on.
    fn train_images(&self) -> usize {
        let data = &self.config.data;
        match data.train_limit {
            0 => 60_000,
            n => n,
        }
        .saturating_sub(data.validation)
    }

    /// What the run is, as its `Started` event said it.
    fn info(&self) -> RunInfo {
        let cfg = &self.config;
        let rec = self.record.as_ref();
        RunInfo {
            model: cfg.model.name.to_string(),
            device: rec.map_or_else(|| "?".into(), |r| r.device.clone()),
            parameters: parameters(cfg.model.name),
            epochs: rec.map_or(cfg.training.epochs, |r| r.epochs_planned),
            batch_size: cfg.training.batch_size,
            batches_per_epoch: self.batches(),
            train_images: self.train_images(),
            test_images: match cfg.data.test_limit {
                0 => 10_000,
                n => n,
            },
            lr: cfg.training.lr,
            seed: cfg.training.seed,
            run_dir: self.dir.clone(),
            data_source: "stored run".into(),
            data_load_secs: 0.0,
            early_stop: cfg.training.early_stop,
            validation: cfg.data.validation,
            time_budget: cfg.training.time_budget.secs(),
        }
    }

    /// The epochs' events of [`epoch_events`](Self::epoch_events) up to epoch `upto` and
    /// the losses before fractional epoch `before`: what a resumed run's process did not
    /// train itself, for a client attaching to it.
    pub fn history(&self, upto: usize, before: f64) -> Vec<TrainEvent> {
        let mut run = self.clone();
        run.epochs.retain(|s| s.epoch <= upto);
        run.losses.retain(|p| p.0 < before);
        run.epoch_events()
    }

    /// Per finished epoch, a `Progress` with its losses and its `EpochEnd`; then the
    /// losses of an epoch that did not finish, if any.
    fn epoch_events(&self) -> Vec<TrainEvent> {
        let batches = self.batches();
        let mut out = Vec::new();
        let mut rest = self.losses.as_slice();
        for s in &self.epochs {
            let end = rest.partition_point(|p| p.0 <= s.epoch as f64 + 1e-9);
            let (now, later) = rest.split_at(end);
            rest = later;
            out.push(TrainEvent::Progress(Progress {
                epoch: s.epoch - 1,
                batch: batches,
                batches,
                losses: now.to_vec(),
                train_acc: s.train_acc,
                images_per_sec: s.images_per_sec,
                eta_secs: 0.0,
                lr: s.lr,
                elapsed_secs: s.elapsed,
                budget_left_secs: None,
            }));
            out.push(TrainEvent::EpochEnd(Box::new(s.clone())));
        }
        if !rest.is_empty() {
            // Losses of an epoch that did not finish (a stopped run).
            let last = self.epochs.last();
            out.push(TrainEvent::Progress(Progress {
                epoch: last.map_or(0, |s| s.epoch),
                batch: 0,
                batches,
                losses: rest.to_vec(),
                train_acc: 0.0,
                images_per_sec: 0.0,
                eta_secs: 0.0,
                lr: last.map_or(self.config.training.lr, |s| s.lr),
                elapsed_secs: last.map_or(0.0, |s| s.elapsed),
                budget_left_secs: None,
            }));
        }
        out
    }

    /// How the run ended, as its record says: failed, or done (with why it stopped, and a
    /// word when its process died without one).
    fn ending(&self) -> Vec<TrainEvent> {
        let rec = self.record.as_ref();
        let status = self.status();
        let why = rec.and_then(|r| r.reason.clone());
        let mut out = Vec::new();
        if self.bad_lines > 0 {
            let text = format!(
                "{} line{} of {METRICS_FILE} could not be read (damaged or cut off)",
                self.bad_lines,
                if self.bad_lines == 1 { "" } else { "s" }
            );
            if self.epochs.is_empty() {
                return vec![TrainEvent::Failed(text), TrainEvent::Phase(Phase::Failed)];
            }
            out.push(TrainEvent::Message(text));
        }
        if status == Some(Status::Running) {
            out.push(TrainEvent::Message(
                "the run is still training: this is how far its files went".into(),
            ));
            out.push(TrainEvent::Phase(Phase::Training));
            return out;
        }
        if let Some(Status::Failed | Status::Diverged) = status {
            return vec![
                TrainEvent::Failed(why.unwrap_or_else(|| "the run failed".into())),
                TrainEvent::Phase(Phase::Failed),
            ];
        }
        out.extend(why.map(TrainEvent::Message));
        if let Some(Status::Interrupted) = status {
            out.push(TrainEvent::Message(
                "the run was interrupted (its process died without a word)".into(),
            ));
        }
        let model = self.dir.join(MODEL_FILE);
        let seconds = rec
            .and_then(|r| run_record::seconds_between(&r.started, r.ended.as_deref()?))
            .unwrap_or_else(|| self.epochs.iter().map(|s| s.seconds + s.eval_seconds).sum());
        out.push(TrainEvent::Done(Box::new(RunSummary {
            epochs_completed: self.epochs.last().map_or(0, |s| s.epoch),
            test_acc: self.epochs.last().map(|s| s.test_acc),
            model_path: model.is_file().then_some(model),
            run_dir: self.dir.clone(),
            stopped_early: status != Some(Status::Finished),
            seconds,
        })));
        out.push(TrainEvent::Phase(Phase::Done));
        out
    }

    /// The training loss and per-epoch test accuracy (%), for overlaying on the charts.
    pub fn curves(&self) -> (Curve, Curve) {
        let loss = self
            .losses
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| (x, f64::from(y)))
            .collect();
        let acc = self
            .epochs
            .iter()
            .map(|s| (s.epoch as f64, s.test_acc * 100.0))
            .collect();
        (loss, acc)
    }
}

/// How many trainable parameters a network of `kind` has (built on the CPU, not trained).
fn parameters(kind: model::ModelKind) -> usize {
    let vs = nn::VarStore::new(Device::Cpu);
    let _net = model::build(kind, &vs.root(), 0.0);
    vs.trainable_variables().iter().map(|t| t.numel()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with_metrics(lines: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "").unwrap();
        std::fs::write(dir.path().join(METRICS_FILE), lines).unwrap();
        dir
    }

    #[test]
    fn unreadable_metrics_are_said_and_a_run_of_none_is_not_done() {
        let dir = run_with_metrics("{\"epoch\": 1, \"garbage\nnot json\n");
        let run = StoredRun::load(dir.path()).unwrap();
        assert_eq!((run.epochs.len(), run.bad_lines), (0, 2));
        let events = run.events();
        assert!(
            events.iter().any(|e| matches!(e,
                TrainEvent::Failed(m) if m.contains("2 lines of metrics.jsonl could not be read"))),
            "{events:?}"
        );
        assert!(!events.iter().any(|e| matches!(e, TrainEvent::Done(_))));
    }
}
