//! A finished run played back from its directory, for `fashion-tui view`: the stored
//! config, record, metrics and loss history become the same [`TrainEvent`]s the trainer
//! sent ([`StoredRun::events`]), so the dashboard needs no second code path; the
//! predictions and feature maps are recomputed from the saved model on the CPU by
//! [`spawn`], which then answers feature-map requests like the trainer does.
//!
//! Every file is opened for reading only: viewing never changes a run.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use flume::Receiver;
use tch::{nn, Device};

use super::events::{
    Command, EpochSummary, Phase, Progress, RunInfo, RunSummary, TrainEvent, NUM_CLASSES,
};
use super::input::split_tensors;
use super::run_dir::{CONFIG_FILE, METRICS_FILE, MODEL_FILE};
use super::run_record::{self, RunRecord, Status};
use super::sink::Sink;
use super::{checkpoint, evaluate, SplitMix64};
use crate::config::Config;
use crate::data;
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
        let cfg = &self.config;
        let train_images = match cfg.data.train_limit {
            0 => 60_000,
            n => n,
        }
        .saturating_sub(cfg.data.validation);
        let batches = train_images.div_ceil(cfg.training.batch_size.max(1));
        let rec = self.record.as_ref();
        let mut out = vec![
            TrainEvent::Phase(Phase::Loading),
            TrainEvent::Message(format!("viewing the run in {}", self.dir.display())),
            TrainEvent::Started(Box::new(RunInfo {
                model: cfg.model.name.to_string(),
                device: rec.map_or_else(|| "?".into(), |r| r.device.clone()),
                parameters: parameters(cfg.model.name),
                epochs: rec.map_or(cfg.training.epochs, |r| r.epochs_planned),
                batch_size: cfg.training.batch_size,
                batches_per_epoch: batches,
                train_images,
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
            })),
        ];
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
                lr: last.map_or(cfg.training.lr, |s| s.lr),
                elapsed_secs: last.map_or(0.0, |s| s.elapsed),
                budget_left_secs: None,
            }));
        }
        let status = self.status();
        let why = rec.and_then(|r| r.reason.clone());
        if let Some(Status::Failed | Status::Diverged) = status {
            out.push(TrainEvent::Failed(
                why.unwrap_or_else(|| "the run failed".into()),
            ));
            out.push(TrainEvent::Phase(Phase::Failed));
            return out;
        }
        if let Some(why) = why {
            out.push(TrainEvent::Message(why));
        }
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

/// Play `run` back into `sink` on a new thread, then recompute its predictions and
/// feature maps from the saved model on the CPU (when the model and the test set can be
/// found; never downloading) and answer [`Command::FeatureMaps`] until [`Command::Stop`]
/// or the consumer goes away.
pub fn spawn(
    run: StoredRun,
    control: Receiver<Command>,
    mut sink: impl Sink + Send + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            for ev in run.events() {
                if !sink.send(ev) {
                    return;
                }
            }
            if let Err(e) = serve(&run, &control, &mut sink) {
                sink.send(TrainEvent::Message(format!(
                    "no predictions or feature maps: {e:#}"
                )));
                // Wait for the end, as a trainer would.
                while let Ok(cmd) = control.recv() {
                    if cmd == Command::Stop {
                        break;
                    }
                }
            }
        })
        .expect("spawning the replay thread")
}

/// The test split as the run saw it, found where `train` would look, never downloaded.
fn test_split(cfg: &Config) -> Result<data::Split> {
    let explicit = (!cfg.data.dir.is_empty()).then(|| PathBuf::from(&cfg.data.dir));
    let cands = data::locate::usual_candidates(explicit.as_deref());
    let found = data::locate::find(&cands, &data::TEST_FILE_NAMES)
        .context("the Fashion-MNIST test set is not where the run found it")?;
    let mut test = data::load_test(&found.dir, data::Repair::Replace)?;
    if cfg.data.test_limit > 0 {
        test.truncate(cfg.data.test_limit);
    }
    Ok(test)
}

fn serve(run: &StoredRun, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<()> {
    let cfg = &run.config;
    let weights = run.dir.join(MODEL_FILE);
    let test = test_split(cfg)?;
    anyhow::ensure!(!test.is_empty(), "the test set is empty");
    let device = Device::Cpu;
    let mut vs = nn::VarStore::new(device);
    let net = model::build(cfg.model.name, &vs.root(), 0.0);
    checkpoint::load_weights(&mut vs, &weights)
        .with_context(|| format!("cannot load {}", weights.display()))?;
    let (x, y) = split_tensors(&test, device);
    let eval = evaluate::evaluate(net.as_ref(), &x, &y, cfg.training.tta)?;
    // The trainer's fixed sample of test images (see `Trainer::new`).
    let mut rng = SplitMix64::new(cfg.training.seed ^ 0x5EED_5A3F);
    let mut sample: Vec<usize> = (0..test.len()).collect();
    rng.shuffle(&mut sample);
    sample.truncate(cfg.ui.predictions.min(test.len()));
    let epochs = run.epochs.last().map_or(0, |s| s.epoch);
    let preds = evaluate::predictions(&eval, &test, &sample, epochs);
    sink.send(TrainEvent::Predictions(Box::new(preds)));
    let at = epochs as f64;
    let fm = evaluate::feature_maps(net.as_ref(), &x, &test, 0, at);
    sink.send(TrainEvent::FeatureMaps(Box::new(fm)));
    while let Ok(cmd) = control.recv() {
        match cmd {
            Command::FeatureMaps { index } => {
                let i = index.min(test.len() - 1);
                let fm = evaluate::feature_maps(net.as_ref(), &x, &test, i, at);
                if !sink.send(TrainEvent::FeatureMaps(Box::new(fm))) {
                    break;
                }
            }
            Command::Stop => break,
            _ => {}
        }
    }
    Ok(())
}
