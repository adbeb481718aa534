//! The training engine. [`run`] is a blocking entry point that owns every tch object:
//! it loads the data, builds the model and optimiser, trains, evaluates each epoch and
//! reports through a [`Sink`], obeying [`Command`]s between batches. [`spawn`] runs it on
//! its own thread and turns errors and panics into a `Failed` event.
//!
//! The trainer owns the live hyperparameters ([`Command::Set`]): it validates a new value,
//! applies it from the next batch (the learning-rate schedule scales a new base rate, a
//! new epoch count moves the loop's end) and reports it as `Applied` and `Changed`.

pub mod checkpoint;
mod evaluate;
pub mod events;
mod fault;
mod input;
pub mod optim;
mod rng;
pub mod run_dir;
pub mod schedule;
pub mod sink;

use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flume::{Receiver, TryRecvError};
use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::atomic;
use crate::config::params::LiveSetting;
use crate::config::{params, Config, Optimizer, Training};
use crate::data::{self, Dataset};
use crate::model::{self, Network};
pub use evaluate::{evaluate, evaluate_saved, Evaluation};
use events::{
    Change, Command, EpochSummary, FeatureMaps, Phase, Predictions, Progress, RunInfo, RunSummary,
    SaveReason, TrainEvent,
};
use fault::Faults;
use input::{scale, split_tensors};
use optim::Optim;
pub use rng::{step_seed, SplitMix64};
pub use sink::{ChannelSink, Receivers, Sink};

/// How often per-batch metrics are sent: ~30 times a second at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(33);

/// How a run starts and reacts to failures, beyond its config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Continue from the checkpoint in `cfg.runtime.run_dir`.
    pub resume: bool,
    /// Someone is watching (the dashboard): when a checkpoint cannot be written (disk full,
    /// unwritable directory) or the loss is not finite, pause and wait for Resume or Stop
    /// instead of failing.
    pub pause_on_fault: bool,
}

/// Why a run failed, and whether the user's settings were to blame (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub usage: bool,
}

/// Run [`run`] on a new thread. The thread never panics out: a failure becomes a
/// [`TrainEvent::Failed`] followed by [`Phase::Failed`], and `Err` from the join value.
pub fn spawn(
    cfg: Config,
    opts: RunOptions,
    control: Receiver<Command>,
    mut sink: impl Sink + Send + 'static,
) -> JoinHandle<Result<RunSummary, Failure>> {
    std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                run_with(&cfg, opts, &control, &mut sink)
            }));
            let failure = match outcome {
                Ok(Ok(summary)) => return Ok(summary),
                Ok(Err(e)) => Failure {
                    reason: format!("{e:#}"),
                    usage: is_usage_error(&e),
                },
                Err(panic) => Failure {
                    reason: format!("trainer panicked: {}", panic_message(&panic)),
                    usage: false,
                },
            };
            sink.send(TrainEvent::Failed(failure.reason.clone()));
            sink.send(TrainEvent::Phase(Phase::Failed));
            Err(failure)
        })
        .expect("spawning the trainer thread")
}

/// Whether the user's settings caused `e`: bad values, or a named data directory that
/// lacks the dataset.
pub fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<crate::config::ConfigError>()
            || matches!(
                c.downcast_ref::<data::DataError>(),
                Some(data::DataError::Incomplete { .. } | data::DataError::Missing { .. })
            )
    })
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Find, fetch if needed, and load the dataset named by `cfg`, reporting progress.
pub fn load_data(cfg: &Config, sink: &mut dyn Sink) -> Result<Dataset> {
    let explicit = (!cfg.data.dir.is_empty()).then(|| PathBuf::from(&cfg.data.dir));
    let mut last_report = Instant::now();
    let mut progress = |p: data::fetch::FetchProgress| {
        if last_report.elapsed() >= Duration::from_millis(250) || p.total == Some(p.bytes) {
            last_report = Instant::now();
            let total = p
                .total
                .map_or(String::new(), |t| format!(" of {:.1} MB", t as f64 / 1e6));
            sink.send(TrainEvent::Message(format!(
                "downloading {}: {:.1} MB{total}",
                p.file,
                p.bytes as f64 / 1e6
            )));
        }
    };
    // An explicit directory must already hold the files; only the cache is downloaded into.
    let (dir, origin) =
        data::locate::resolve(explicit.as_deref(), explicit.is_none(), &mut progress)?;
    let mut ds = data::load_dir(&dir)?;
    if cfg.data.train_limit > 0 {
        ds.train.truncate(cfg.data.train_limit);
    }
    if cfg.data.test_limit > 0 {
        ds.test.truncate(cfg.data.test_limit);
    }
    sink.send(TrainEvent::Message(format!(
        "loaded {} training and {} test images from {} ({origin}) in {:.2}s",
        ds.train.len(),
        ds.test.len(),
        dir.display(),
        ds.load_secs
    )));
    Ok(ds)
}

/// Train as `cfg` says. Blocks until done, stopped, or failed.
pub fn run(cfg: &Config, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<RunSummary> {
    run_with(cfg, RunOptions::default(), control, sink)
}

/// [`run`] with [`RunOptions`].
pub fn run_with(
    cfg: &Config,
    opts: RunOptions,
    control: &Receiver<Command>,
    sink: &mut dyn Sink,
) -> Result<RunSummary> {
    let started = Instant::now();
    sink.send(TrainEvent::Phase(Phase::Loading));
    cfg.validate()?;
    let threads = cfg.threads();
    tch::set_num_threads(threads as i32);
    let resolved = crate::device::resolve(cfg.device_choice()?, threads)
        .map_err(crate::config::ConfigError)?;
    if let Some(why) = &resolved.fallback_reason {
        sink.send(TrainEvent::Message(format!("using the CPU: {why}")));
    }
    sink.send(TrainEvent::Message(
        "loading the Fashion-MNIST dataset…".into(),
    ));
    let ds = load_data(cfg, sink)?;
    cfg.validate_against_data(ds.train.len())?;
    anyhow::ensure!(
        !ds.test.is_empty(),
        "the test set is empty (data.test_limit?)"
    );

    let run_dir = match cfg.runtime.run_dir.as_str() {
        "" => {
            let root = run_dir::default_runs_root()
                .context("cannot determine the user data directory for runs; set --run-dir")?;
            run_dir::create_under(&root, &cfg.model.name)?
        }
        dir => run_dir::use_dir(Path::new(dir))?,
    };
    atomic::write(
        &run_dir.join(run_dir::CONFIG_FILE),
        cfg.to_toml().as_bytes(),
    )
    .with_context(|| format!("cannot write the config into {}", run_dir.display()))?;

    // Orphans of a save that died before its commit go; the committed generation stays.
    let ckpt_dir = run_dir.join(checkpoint::DIR);
    let committed = checkpoint::read_sidecar(&ckpt_dir).ok().flatten();
    checkpoint::clean(&ckpt_dir, committed.map(|s| s.generation));
    let mut t = Trainer::new(cfg, &ds, resolved.device, run_dir.clone())?;
    t.pause_on_fault = opts.pause_on_fault;
    if opts.resume {
        t.restore(sink)?;
    }
    sink.send(TrainEvent::Started(Box::new(RunInfo {
        model: cfg.model.name.clone(),
        device: resolved.description.clone(),
        parameters: t.parameters(),
        epochs: cfg.training.epochs,
        batch_size: cfg.training.batch_size,
        batches_per_epoch: t.batches_per_epoch(),
        train_images: ds.train.len(),
        test_images: ds.test.len(),
        lr: cfg.training.lr,
        seed: cfg.training.seed,
        run_dir: run_dir.clone(),
        data_source: ds.dir.display().to_string(),
        data_load_secs: ds.load_secs,
    })));
    let outcome = t.train(control, sink)?;
    let summary = RunSummary {
        epochs_completed: t.cur.epoch,
        test_acc: t.last_test_acc,
        model_path: t.model_path.clone(),
        run_dir,
        stopped_early: outcome == Outcome::Stopped,
        seconds: started.elapsed().as_secs_f64(),
    };
    sink.send(TrainEvent::Done(Box::new(summary.clone())));
    sink.send(TrainEvent::Phase(Phase::Done));
    Ok(summary)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Finished,
    Stopped,
}

/// Running sums of the epoch in progress (kept on the device, read when needed).
struct EpochState {
    epoch: usize,
    /// Batches done in this epoch.
    batch: usize,
    loss_sum: Tensor,
    correct: Tensor,
}

impl EpochState {
    fn new(epoch: usize, device: Device) -> Self {
        EpochState {
            epoch,
            batch: 0,
            loss_sum: Tensor::zeros([], (Kind::Float, device)),
            correct: Tensor::zeros([], (Kind::Int64, device)),
        }
    }

    /// Images seen so far in this epoch.
    fn seen(&self, batch_size: usize, n: usize) -> usize {
        (self.batch * batch_size).min(n)
    }
}

/// The epoch in progress as this process runs it (none of it is checkpointed): its clock,
/// the time spent paused, the images trained on, and the losses not yet reported.
struct EpochMeter {
    started: Instant,
    paused: Duration,
    images: usize,
    pending: Vec<(f64, Tensor)>,
    last_report: Instant,
}

impl EpochMeter {
    fn start() -> Self {
        let now = Instant::now();
        EpochMeter {
            started: now,
            paused: Duration::ZERO,
            images: 0,
            pending: Vec::new(),
            last_report: now,
        }
    }

    /// Seconds spent training this epoch, pauses left out.
    fn training_secs(&self) -> f64 {
        (self.started.elapsed() - self.paused).as_secs_f64()
    }
}

/// What became of one batch.
#[derive(Debug, PartialEq, Eq)]
enum Batch {
    Trained,
    /// Its loss was not finite and the user chose to go on without it.
    Skipped,
}

/// State of one training run; lives and dies on the trainer thread.
struct Trainer<'a> {
    /// The settings the run started with.
    cfg: &'a Config,
    /// The training settings in force now: `cfg.training` plus the live changes.
    training: Training,
    ds: &'a Dataset,
    device: Device,
    vs: nn::VarStore,
    net: Box<dyn Network + Send>,
    opt: Optim,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    run_dir: PathBuf,
    /// Fixed random test indices shown in the Predictions pane.
    sample: Vec<usize>,
    /// Test index whose feature maps the consumer last asked for.
    feature_index: usize,
    last_test_acc: Option<f64>,
    model_path: Option<PathBuf>,
    /// The epoch in progress (its number is also the count of epochs completed).
    cur: EpochState,
    pause_on_fault: bool,
    faults: Faults,
    saves: u32,
}

impl<'a> Trainer<'a> {
    fn new(cfg: &'a Config, ds: &'a Dataset, device: Device, run_dir: PathBuf) -> Result<Self> {
        let tc = &cfg.training;
        tch::manual_seed(tc.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = model::build(cfg.model_kind()?, &vs.root(), cfg.model.dropout);
        let opt = Optim::new(tc, &vs);
        let (train_x, train_y) = split_tensors(&ds.train, device);
        let (test_x, test_y) = split_tensors(&ds.test, device);
        let mut rng = SplitMix64::new(tc.seed ^ 0x5EED_5A3F);
        let mut all: Vec<usize> = (0..ds.test.len()).collect();
        rng.shuffle(&mut all);
        all.truncate(cfg.ui.predictions.min(ds.test.len()));
        Ok(Trainer {
            cfg,
            training: tc.clone(),
            ds,
            device,
            vs,
            net,
            opt,
            train_x,
            train_y,
            test_x,
            test_y,
            run_dir,
            sample: all,
            feature_index: 0,
            last_test_acc: None,
            model_path: None,
            cur: EpochState::new(0, device),
            pause_on_fault: false,
            faults: Faults::from_env(),
            saves: 0,
        })
    }

    fn parameters(&self) -> usize {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel())
            .sum()
    }

    /// Fractional epoch reached so far (batches done / batches per epoch).
    fn position(&self) -> f64 {
        self.cur.epoch as f64 + self.cur.batch as f64 / self.batches_per_epoch() as f64
    }

    fn batches_per_epoch(&self) -> usize {
        self.ds.train.len().div_ceil(self.cfg.training.batch_size)
    }

    /// Act on one command; returns `Some(Stopped)` for `Stop`.
    fn handle(&mut self, cmd: Command, paused: &mut bool, sink: &mut dyn Sink) -> Option<Outcome> {
        match cmd {
            Command::Pause if !*paused => {
                *paused = true;
                sink.send(TrainEvent::Phase(Phase::Paused));
                sink.send(TrainEvent::Applied(format!(
                    "paused at epoch {:.2}",
                    self.position()
                )));
            }
            Command::Resume if *paused => {
                *paused = false;
                sink.send(TrainEvent::Applied(format!(
                    "resumed at epoch {:.2}",
                    self.position()
                )));
                sink.send(TrainEvent::Phase(Phase::Training));
            }
            Command::Pause | Command::Resume => {}
            Command::Stop => return Some(Outcome::Stopped),
            Command::FeatureMaps { index } => {
                self.feature_index = index.min(self.ds.test.len().saturating_sub(1));
                let fm = self.feature_maps(self.feature_index, self.position());
                sink.send(TrainEvent::FeatureMaps(Box::new(fm)));
            }
            Command::Checkpoint => {
                if let Err(e) = self.save(sink, SaveReason::Requested) {
                    sink.send(TrainEvent::Message(format!(
                        "{e:#}; the previous checkpoint is intact"
                    )));
                }
            }
            Command::Set(setting) => self.set(setting, sink),
        }
        None
    }

    /// Take a new value for a live setting if the whole configuration stays valid.
    fn set(&mut self, setting: LiveSetting, sink: &mut dyn Sink) {
        let key = setting.key();
        let mut probe = self.cfg.clone();
        probe.training = self.training.clone();
        let from = params::value_text(&probe, key);
        setting.apply(&mut probe.training);
        if let Err(e) = probe.validate() {
            sink.send(TrainEvent::Applied(format!("refused: {e}")));
            return;
        }
        let to = params::value_text(&probe, key);
        if from == to {
            return;
        }
        self.training = probe.training;
        let at = self.position();
        let mut note = String::new();
        match setting {
            LiveSetting::WeightDecay(wd) => self.opt.hyper.weight_decay = wd,
            // libtorch's Adam(W) would take it as beta1, which the config keeps at 0.9.
            LiveSetting::Momentum(m) if self.cfg.training.optimizer == Optimizer::Sgd => {
                self.opt.hyper.momentum = m
            }
            LiveSetting::Momentum(_) => {
                note = format!(
                    " (no effect with {:?}: momentum is for sgd)",
                    self.cfg.training.optimizer
                )
                .to_lowercase();
            }
            LiveSetting::Epochs(n) => {
                let current = at.floor() as usize + usize::from(at.fract() > 0.0);
                if n < current.max(1) {
                    note = format!(" (the run ends after the current epoch, {current})");
                }
            }
            LiveSetting::Lr(_)
            | LiveSetting::Schedule(_)
            | LiveSetting::StepEpochs(_)
            | LiveSetting::Gamma(_) => {}
        }
        // The schedule (also for the rest) is re-read at every batch.
        let lr_now = self.scheduled_lr(at.floor() as usize, at);
        if lr_now != self.opt.hyper.lr && !matches!(setting, LiveSetting::Lr(v) if v == lr_now) {
            note.push_str(&format!(" (rate now {lr_now:.3e})"));
        }
        sink.send(TrainEvent::Applied(format!(
            "{} {from} → {to} at epoch {at:.2}{note}",
            setting.name()
        )));
        sink.send(TrainEvent::Changed(Change {
            setting,
            from,
            at_epoch: at,
        }));
    }

    /// The epoch count the loop runs to: the live setting, but at least the epoch that
    /// `epoch` (0-based) is in, which always finishes.
    fn epochs_bound(&self, epoch: usize) -> usize {
        self.training.epochs.max(epoch + 1)
    }

    /// The rate at fractional epoch `at` of 0-based `epoch`: the schedule over the live
    /// settings, with the run as long as it will really be (so that a cosine schedule
    /// does not drop to 0 in an epoch that outlives a shortened run).
    fn scheduled_lr(&self, epoch: usize, at: f64) -> f64 {
        let t = Training {
            epochs: self.epochs_bound(epoch),
            ..self.training.clone()
        };
        schedule::lr_at(&t, at)
    }

    /// Drain pending commands; while paused, block on the channel. `Some` when stopping.
    fn obey(&mut self, control: &Receiver<Command>, sink: &mut dyn Sink) -> Option<Outcome> {
        let mut paused = false;
        loop {
            let cmd = if paused {
                match control.recv() {
                    Ok(c) => c,
                    // The consumer is gone: stop rather than wait forever.
                    Err(_) => return Some(Outcome::Stopped),
                }
            } else {
                match control.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return None,
                    Err(TryRecvError::Disconnected) => return None,
                }
            };
            if let Some(stop) = self.handle(cmd, &mut paused, sink) {
                return Some(stop);
            }
        }
    }

    /// Train from where `cur` stands (the start, or the checkpoint's position when
    /// resuming) until the live epoch count is reached: each epoch is
    /// [`train_epoch`](Self::train_epoch) then [`end_epoch`](Self::end_epoch). Commands are
    /// obeyed between batches and between epochs; a Stop, or a consumer that went away,
    /// saves a checkpoint and ends the run early.
    fn train(&mut self, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<Outcome> {
        let mut epoch = self.cur.epoch;
        loop {
            // Commands that came during the evaluation may lengthen or shorten the run.
            if let Some(stop) = self.obey(control, sink) {
                return self.finish_early(stop, sink);
            }
            if epoch >= self.training.epochs {
                return Ok(Outcome::Finished);
            }
            let meter = match self.train_epoch(epoch, control, sink)? {
                ControlFlow::Continue(meter) => meter,
                ControlFlow::Break(outcome) => return Ok(outcome),
            };
            self.end_epoch(epoch, &meter, control, sink)?;
            epoch += 1;
        }
    }

    /// Train the batches of 0-based `epoch` that remain (all, or those after the
    /// checkpoint's position when resuming), reporting progress as they go. `Break` when
    /// the run ended early, its checkpoint saved.
    fn train_epoch(
        &mut self,
        epoch: usize,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<Outcome, EpochMeter>> {
        sink.send(TrainEvent::Phase(Phase::Training));
        let mut meter = EpochMeter::start();
        let order = self.batch_order(epoch);
        let first_batch = if epoch == self.cur.epoch {
            self.cur.batch
        } else {
            0
        };
        if epoch != self.cur.epoch {
            self.cur = EpochState::new(epoch, self.device);
        }
        let batches = self.batches_per_epoch();
        for b in first_batch..batches {
            let pause_start = Instant::now();
            // Before the first batch, the loop's head has just obeyed.
            if b > first_batch {
                if let Some(stop) = self.obey(control, sink) {
                    return self.finish_early(stop, sink).map(ControlFlow::Break);
                }
            }
            meter.paused += pause_start.elapsed();
            if self.train_batch(epoch, b, &order, &mut meter, control, sink)? == Batch::Skipped {
                continue;
            }
            let due = meter.last_report.elapsed() >= PROGRESS_EVERY || b + 1 == batches;
            if due && !self.report_progress(epoch, &mut meter, sink)? {
                return self
                    .finish_early(Outcome::Stopped, sink)
                    .map(ControlFlow::Break);
            }
        }
        Ok(ControlFlow::Continue(meter))
    }

    /// The order of 0-based `epoch`'s images: a permutation that depends only on the seed
    /// and the epoch, so that a resumed run sees the same batches.
    fn batch_order(&self, epoch: usize) -> Tensor {
        let mut perm: Vec<i64> = (0..self.ds.train.len() as i64).collect();
        SplitMix64::new(self.cfg.training.seed.wrapping_add(epoch as u64)).shuffle(&mut perm);
        Tensor::from_slice(&perm).to_device(self.device)
    }

    /// One optimiser step on batch `b` of `epoch`, taken in the epoch's `order`. A loss
    /// that is not finite fails the run or, when watched, pauses it and skips the batch.
    fn train_batch(
        &mut self,
        epoch: usize,
        b: usize,
        order: &Tensor,
        meter: &mut EpochMeter,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<Batch> {
        let bs = self.cfg.training.batch_size;
        let start = b * bs;
        let len = bs.min(self.ds.train.len() - start);
        let frac = epoch as f64 + (b as f64 / self.batches_per_epoch() as f64);
        self.opt.hyper.lr = self.scheduled_lr(epoch, frac);
        // Dropout draws from libtorch's RNG, reseeded from (seed, step) each batch so
        // a resumed run repeats exactly what an uninterrupted one would have done.
        tch::manual_seed(step_seed(self.cfg.training.seed, self.opt.step_count()));
        let idx = order.narrow(0, start as i64, len as i64);
        let xs = scale(&self.train_x.index_select(0, &idx));
        let ys = self.train_y.index_select(0, &idx);
        let logits = self.net.forward_t(&xs, true);
        let loss = logits.cross_entropy_for_logits(&ys);
        let loss = self.faults.poison(self.opt.step_count(), loss);
        let loss_value = loss.detach();
        if let Err(e) = self.check_finite(&loss_value) {
            self.pause_or_fail(e, control, sink)?;
            self.cur.batch = b + 1;
            return Ok(Batch::Skipped);
        }
        self.opt.backward_step(&loss);
        self.cur.loss_sum += &loss_value * len as f64;
        self.cur.correct += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
        self.cur.batch = b + 1;
        meter.images += len;
        meter.pending.push((self.position(), loss_value));
        Ok(Batch::Trained)
    }

    /// A loss that is not finite (`e`): fail, or when watched pause until the user resumes
    /// (`Ok`: the batch is skipped) or stops (`Err(e)`).
    fn pause_or_fail(
        &mut self,
        e: anyhow::Error,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        if !self.pause_on_fault {
            return Err(e);
        }
        // The step was not taken: the weights are still those before this
        // batch and nothing was saved. Pause here; resuming skips the batch.
        sink.send(TrainEvent::Message(format!(
            "{e:#}. Training is paused at this batch with the weights from before \
             it: lower the learning rate (e) and resume (p) to go on without this \
             batch, or quit"
        )));
        sink.send(TrainEvent::Phase(Phase::Paused));
        if !self.wait_for_resume(control, sink) {
            return Err(e);
        }
        Ok(())
    }

    /// Send the losses not yet reported, with the epoch's accuracy, throughput and ETA.
    /// `false` when the consumer is gone. The losses are checked here too, for devices
    /// where [`check_finite`](Self::check_finite) does not read every batch's.
    fn report_progress(
        &self,
        epoch: usize,
        meter: &mut EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<bool> {
        meter.last_report = Instant::now();
        let losses = read_losses(&mut meter.pending)?;
        if let Some((at, bad)) = losses.iter().find(|(_, l)| !l.is_finite()) {
            return Err(self.divergence(f64::from(*bad), *at));
        }
        let n = self.ds.train.len();
        let ips = meter.images as f64 / meter.training_secs().max(1e-9);
        let seen = self.cur.seen(self.cfg.training.batch_size, n);
        let remaining = (self.epochs_bound(epoch) - epoch)
            .saturating_mul(n)
            .saturating_sub(seen);
        Ok(sink.send(TrainEvent::Progress(Progress {
            epoch,
            batch: self.cur.batch,
            batches: self.batches_per_epoch(),
            losses,
            train_acc: self.cur.correct.int64_value(&[]) as f64 / seen as f64,
            images_per_sec: ips,
            eta_secs: remaining as f64 / ips,
            lr: self.opt.hyper.lr,
        })))
    }

    /// After the last batch of `epoch`: evaluate, append the epoch to `metrics.jsonl`,
    /// checkpoint the boundary (see [`save_or_pause`](Self::save_or_pause)) and send the
    /// epoch's results.
    fn end_epoch(
        &mut self,
        epoch: usize,
        meter: &EpochMeter,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let (summary, eval) = self.evaluate_epoch(epoch, meter, sink)?;
        self.last_test_acc = Some(eval.accuracy);
        self.cur = EpochState::new(epoch + 1, self.device);
        run_dir::append_metrics(&self.run_dir, &summary).with_context(|| {
            format!(
                "cannot append to {}",
                self.run_dir.join(run_dir::METRICS_FILE).display()
            )
        })?;
        self.save_or_pause(control, sink)?;
        sink.send(TrainEvent::EpochEnd(Box::new(summary)));
        sink.send(TrainEvent::Predictions(Box::new(self.predictions(&eval))));
        let fm = self.feature_maps(self.feature_index, (epoch + 1) as f64);
        sink.send(TrainEvent::FeatureMaps(Box::new(fm)));
        Ok(())
    }

    /// The epoch's training figures, and its evaluation on the test set.
    fn evaluate_epoch(
        &self,
        epoch: usize,
        meter: &EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<(EpochSummary, Evaluation)> {
        let seconds = meter.training_secs();
        let n = self.ds.train.len() as f64;
        let train_loss = self.cur.loss_sum.double_value(&[]) / n;
        let train_acc = self.cur.correct.int64_value(&[]) as f64 / n;
        sink.send(TrainEvent::Phase(Phase::Evaluating));
        let eval_start = Instant::now();
        let eval = self.evaluate()?;
        let summary = EpochSummary {
            epoch: epoch + 1,
            epochs: self.epochs_bound(epoch),
            train_loss,
            train_acc,
            test_loss: eval.loss,
            test_acc: eval.accuracy,
            lr: self.opt.hyper.lr,
            seconds,
            eval_seconds: eval_start.elapsed().as_secs_f64(),
            images_per_sec: meter.images as f64 / seconds.max(1e-9),
            confusion: eval.confusion,
        };
        Ok((summary, eval))
    }

    /// Fail when the loss is not finite, before the step that would spread it into the
    /// weights. Checked every batch on the CPU, where reading it costs nothing; on CUDA
    /// (where it would sync) it is checked with each progress snapshot instead.
    fn check_finite(&self, loss: &Tensor) -> Result<()> {
        if self.device != Device::Cpu {
            return Ok(());
        }
        let v = loss.double_value(&[]);
        if v.is_finite() {
            Ok(())
        } else {
            Err(self.divergence(v, self.position()))
        }
    }

    fn divergence(&self, value: f64, at: f64) -> anyhow::Error {
        anyhow::anyhow!(
            "the training loss became {value} at epoch {at:.3}; the last good checkpoint was \
             kept. Lower the learning rate and resume: fashion-tui train --resume {} --lr <smaller>",
            self.run_dir.display()
        )
    }

    fn finish_early(&mut self, outcome: Outcome, sink: &mut dyn Sink) -> Result<Outcome> {
        sink.send(TrainEvent::Applied(format!(
            "stopping at epoch {:.2}: saving a checkpoint",
            self.position()
        )));
        self.save(sink, SaveReason::Stopping)?;
        Ok(outcome)
    }

    /// Save; on failure either fail, or pause until the user resumes (retry) or stops.
    fn save_or_pause(&mut self, control: &Receiver<Command>, sink: &mut dyn Sink) -> Result<()> {
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

    /// Paused by the trainer itself: block until Resume (`true`) or Stop or a vanished
    /// consumer (`false`), answering other commands meanwhile.
    fn wait_for_resume(&mut self, control: &Receiver<Command>, sink: &mut dyn Sink) -> bool {
        loop {
            match control.recv() {
                Ok(Command::Resume) => {
                    sink.send(TrainEvent::Phase(Phase::Training));
                    return true;
                }
                Ok(Command::Stop) | Err(_) => return false,
                Ok(cmd) => {
                    let mut paused = true;
                    self.handle(cmd, &mut paused, sink);
                }
            }
        }
    }

    /// Save the model and a checkpoint of the exact position.
    fn save(&mut self, sink: &mut dyn Sink, why: SaveReason) -> Result<()> {
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
            model: self.cfg.model.name.clone(),
            epoch: self.cur.epoch,
            batch: self.cur.batch,
            step: self.opt.step_count(),
            seed: tc.seed,
            lr: self.opt.hyper.lr,
            weight_decay: self.opt.hyper.weight_decay,
            momentum: self.opt.hyper.momentum,
            epoch_loss_sum: self.cur.loss_sum.double_value(&[]),
            epoch_correct: self.cur.correct.int64_value(&[]),
            // With the live settings as they are now, so a resumed run keeps them.
            config: Config {
                training: self.training.clone(),
                ..self.cfg.clone()
            }
            .to_toml(),
        };
        let dir = self.run_dir.join(checkpoint::DIR);
        let crash = self.faults.crash_in(self.saves);
        checkpoint::save_hooked(&dir, &self.vs, self.opt.state(), sidecar, &mut || {
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

    /// Continue from the checkpoint in `run_dir`: weights, optimiser, position, sums.
    fn restore(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let dir = self.run_dir.join(checkpoint::DIR);
        let loaded = checkpoint::load(&dir)?;
        let rest = checkpoint::restore_model(&mut self.vs, loaded.tensors)?;
        let sc = loaded.sidecar;
        self.opt.load_state(&rest, sc.step)?;
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
        atomic::write_with(&path, &tmp, |tmp| {
            Ok::<_, anyhow::Error>(self.vs.save(tmp)?)
        })
        .with_context(|| format!("cannot save the model to {}", path.display()))?;
        self.model_path = Some(path);
        Ok(())
    }

    fn evaluate(&self) -> Result<Evaluation> {
        evaluate::evaluate(self.net.as_ref(), &self.test_x, &self.test_y)
    }

    fn predictions(&self, eval: &Evaluation) -> Predictions {
        evaluate::predictions(eval, &self.ds.test, &self.sample, self.cur.epoch)
    }

    fn feature_maps(&self, index: usize, at_epoch: f64) -> FeatureMaps {
        evaluate::feature_maps(
            self.net.as_ref(),
            &self.test_x,
            &self.ds.test,
            index,
            at_epoch,
        )
    }
}

/// Move the pending per-batch loss tensors to the host in one transfer.
fn read_losses(pending: &mut Vec<(f64, Tensor)>) -> Result<Vec<(f64, f32)>> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let tensors: Vec<Tensor> = pending.iter().map(|(_, t)| t.shallow_clone()).collect();
    let values: Vec<f32> = Vec::try_from(Tensor::stack(&tensors, 0).to_device(Device::Cpu))?;
    let out = pending.iter().map(|(x, _)| *x).zip(values).collect();
    pending.clear();
    Ok(out)
}
