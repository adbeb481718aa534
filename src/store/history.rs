//! A run as its directory holds it ([`StoredRun`]): the stored config, record, metrics and
//! loss history, and the same [`TrainEvent`]s the trainer sent about it
//! ([`StoredRun::events`]), so that `view`, `runs`, an attached dashboard and reports
//! read a run's history through one piece of code.
//!
//! Every file is opened for reading only: reading a run never changes it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{nn, Device};

use super::run_dir::{CONFIG_FILE, METRICS_FILE, MODEL_FILE};
use super::run_record::{self, RunRecord, Status};
use crate::config::Config;
use crate::events::{EpochSummary, Phase, Progress, RunInfo, RunSummary, TrainEvent, NUM_CLASSES};
use crate::model;

/// Points of a chart line: (fractional epoch, value).
pub type Curve = Vec<(f64, f64)>;

/// A run as its directory holds it.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub dir: PathBuf,
    /// The directory's name.
    pub name: String,
    pub config: Config,
    pub record: Option<RunRecord>,
    pub epochs: Vec<EpochSummary>,
    /// (fractional epoch, loss) from `loss.jsonl`.
    pub losses: Vec<(f64, f32)>,
}

impl StoredRun {
    /// Read the run in `dir`: its config must parse; metrics and losses are read as far
    /// as they go (a line cut off by a crash is left out).
    pub fn load(dir: &Path) -> Result<StoredRun> {
        let config_path = dir.join(CONFIG_FILE);
        let text = fs::read_to_string(&config_path).with_context(|| {
            format!(
                "{} is not a run directory (no {CONFIG_FILE})",
                dir.display()
            )
        })?;
        let config = Config::from_toml(&text, &config_path)?;
        let record = run_record::read(dir).ok().flatten();
        let epochs = fs::read_to_string(dir.join(METRICS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(epoch_from_json)
            .collect();
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            name,
            config,
            record,
            epochs,
            losses: run_record::read_losses(dir),
        })
    }

    /// The run's status, a `running` record without its process read as interrupted.
    pub fn status(&self) -> Option<Status> {
        self.record
            .as_ref()
            .map(|r| run_record::status_of(&self.dir, r))
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
        if let Some(Status::Failed | Status::Diverged) = status {
            return vec![
                TrainEvent::Failed(why.unwrap_or_else(|| "the run failed".into())),
                TrainEvent::Phase(Phase::Failed),
            ];
        }
        let mut out: Vec<TrainEvent> = why.into_iter().map(TrainEvent::Message).collect();
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

/// One line of `metrics.jsonl`, if it is whole.
fn epoch_from_json(line: &str) -> Option<EpochSummary> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let f = |k: &str| v[k].as_f64();
    let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    if let Some(rows) = v["confusion"].as_array() {
        for (r, row) in rows.iter().take(NUM_CLASSES).enumerate() {
            for (c, n) in row.as_array()?.iter().take(NUM_CLASSES).enumerate() {
                confusion[r][c] = u32::try_from(n.as_u64()?).ok()?;
            }
        }
    }
    let epoch = usize::try_from(v["epoch"].as_u64()?).ok()?;
    Some(EpochSummary {
        epoch: epoch.max(1),
        epochs: v["epochs"].as_u64().map_or(epoch, |e| e as usize),
        train_loss: f("train_loss")?,
        train_acc: f("train_acc")?,
        test_loss: f("test_loss")?,
        test_acc: f("test_acc")?,
        test_acc_plain: f("test_acc_plain").or_else(|| f("test_acc"))?,
        val_loss: f("val_loss"),
        val_acc: f("val_acc"),
        elapsed: f("elapsed").unwrap_or(0.0),
        lr: f("lr").unwrap_or(0.0),
        seconds: f("seconds").unwrap_or(0.0),
        eval_seconds: f("eval_seconds").unwrap_or(0.0),
        images_per_sec: f("images_per_sec").unwrap_or(0.0),
        confusion,
    })
}
