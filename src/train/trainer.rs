//! The trainer: one run's model, optimiser, data on the device and position in the
//! run, and the training loop in named steps (epoch, batch, progress report, end of
//! epoch). How it obeys the consumer's commands is in [`control`]; how it saves and
//! restores itself, in [`save`].

mod control;
mod record;
mod save;
mod timing;

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flume::Receiver;
use tch::{nn, Device, Kind, Tensor};

use super::augment::Augment;
use super::budget::EvalPoints;
use super::ema::Ema;
use super::evaluate::{self, Evaluation};
use super::fault::Faults;
use super::input::{scale, split_tensors};
use super::loss;
use super::optim::Optim;
use super::schedule;
use super::sink::Sink;
use crate::config::{Config, Training};
use crate::data::Dataset;
use crate::events::{
    Best, Command, EpochSummary, FeatureMaps, Phase, Predictions, Progress, RunSummary, SaveReason,
    TrainEvent,
};
use crate::model::{self, Network};
use crate::rng::{step_seed, SplitMix64};
use crate::store::run_dir;
use crate::store::run_record::{self, LossLog};

/// How often per-batch metrics are sent: ~30 times a second at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(33);

/// How a run that did not fail ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
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

/// The run's clock: seconds since its first batch, evaluations included, pauses left out
/// (what `elapsed` reports and a time budget counts).
#[derive(Debug, Default)]
struct RunClock {
    first_batch: Option<Instant>,
    paused: Duration,
}

impl RunClock {
    fn start(&mut self) {
        self.first_batch.get_or_insert_with(Instant::now);
    }

    fn elapsed(&self) -> f64 {
        self.first_batch.map_or(0.0, |t| {
            t.elapsed().saturating_sub(self.paused).as_secs_f64()
        })
    }
}

/// The moving average of the weights and the network that evaluates it, when the recipe
/// averages (`training.ema`).
struct Averaged {
    vs: nn::VarStore,
    net: Box<dyn Network + Send>,
    ema: Ema,
}

/// What became of one batch.
#[derive(Debug, PartialEq, Eq)]
enum Batch {
    Trained,
    /// Its loss was not finite and the user chose to go on without it.
    Skipped,
}

/// State of one training run; lives and dies on the trainer thread.
pub(super) struct Trainer<'a> {
    /// The settings the run started with.
    cfg: &'a Config,
    /// The training settings in force now: `cfg.training` plus the live changes.
    training: Training,
    ds: &'a Dataset,
    device: Device,
    vs: nn::VarStore,
    net: Box<dyn Network + Send>,
    opt: Optim,
    averaged: Option<Averaged>,
    augment: Augment,
    clock: RunClock,
    /// With a time budget: batches done, seconds elapsed and seconds spent evaluating
    /// when the speed measurement began.
    measure_from: Option<(usize, f64, f64)>,
    /// Seconds spent evaluating (and saving at epoch ends) since the first batch, and
    /// the last evaluation's.
    eval_time: f64,
    last_eval_secs: Option<f64>,
    /// Batches in the whole run, once a time budget has fixed it.
    total_batches: Option<usize>,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    /// The held-out training images (`data.validation`), when there are any.
    val: Option<(Tensor, Tensor)>,
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
    /// Losses on their way to `loss.jsonl`.
    loss_log: LossLog,
    /// The best epoch so far, by validation accuracy when there are held-out images.
    best: Option<Best>,
}

impl<'a> Trainer<'a> {
    pub(super) fn new(
        cfg: &'a Config,
        ds: &'a Dataset,
        device: Device,
        compute: Kind,
        run_dir: PathBuf,
        pause_on_fault: bool,
        faults: Faults,
    ) -> Result<Self> {
        let tc = &cfg.training;
        tch::manual_seed(tc.seed as i64);
        let vs = nn::VarStore::new(device);
        let (kind, dropout) = (cfg.model.name, cfg.model.dropout);
        let net = model::build_in(kind, &vs.root(), dropout, compute);
        let opt = Optim::new(tc, &vs);
        // Built after the trained network, so that its weights draw what they always did.
        let averaged = (tc.ema > 0.0).then(|| {
            let mut avg_vs = nn::VarStore::new(device);
            let avg_net = model::build_in(kind, &avg_vs.root(), dropout, compute);
            avg_vs.freeze();
            let ema = Ema::new(tc.ema, &vs, &avg_vs);
            Averaged {
                vs: avg_vs,
                net: avg_net,
                ema,
            }
        });
        let augment = Augment::of(&cfg.data);
        let (train_x, train_y) = split_tensors(&ds.train, device);
        let (test_x, test_y) = split_tensors(&ds.test, device);
        let val = (!ds.validation.is_empty()).then(|| split_tensors(&ds.validation, device));
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
            averaged,
            augment,
            clock: RunClock::default(),
            measure_from: None,
            eval_time: 0.0,
            last_eval_secs: None,
            total_batches: None,
            train_x,
            train_y,
            test_x,
            test_y,
            val,
            run_dir,
            sample: all,
            feature_index: 0,
            last_test_acc: None,
            model_path: None,
            cur: EpochState::new(0, device),
            pause_on_fault,
            faults,
            saves: 0,
            loss_log: LossLog::default(),
            best: None,
        })
    }

    pub(super) fn parameters(&self) -> usize {
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

    pub(super) fn batches_per_epoch(&self) -> usize {
        self.ds.train.len().div_ceil(self.cfg.training.batch_size)
    }

    /// What the run reached, once `train` has returned `outcome`.
    pub(super) fn summary(&self, outcome: Outcome, seconds: f64) -> RunSummary {
        RunSummary {
            epochs_completed: self.cur.epoch,
            test_acc: self.last_test_acc,
            model_path: self.model_path.clone(),
            run_dir: self.run_dir.clone(),
            stopped_early: outcome == Outcome::Stopped,
            seconds,
        }
    }

    /// Batches done in the whole run.
    fn run_batches(&self) -> usize {
        self.cur.epoch * self.batches_per_epoch() + self.cur.batch
    }

    /// The epoch count the loop runs to: the live setting (or what a time budget chose),
    /// but at least the epoch that `epoch` (0-based) is in, which always finishes.
    fn epochs_bound(&self, epoch: usize) -> usize {
        match self.total_batches {
            Some(n) => n.div_ceil(self.batches_per_epoch()),
            None => self.training.epochs,
        }
        .max(epoch + 1)
    }

    /// Whether the run is over when 0-based `epoch` would start. With a time budget the
    /// budget decides: until its plan is made the run goes on, whatever `epochs` says.
    fn run_done(&self, epoch: usize) -> bool {
        match self.total_batches {
            Some(n) => self.run_batches() >= n,
            None if self.cfg.training.time_budget.0.is_some() => false,
            None => epoch >= self.training.epochs,
        }
    }

    /// Where the run evaluates: every `eval_every` epochs (until epoch `eval_until`
    /// when that is set) and at each epoch's end.
    fn eval_points(&self) -> EvalPoints {
        let t = &self.cfg.training;
        let per_epoch = self.batches_per_epoch();
        let every = (t.eval_every * per_epoch as f64).round() as usize;
        let until = match t.eval_until {
            u if u > 0.0 => (u * per_epoch as f64).round() as usize,
            _ => usize::MAX,
        };
        EvalPoints {
            every: every.clamp(1, per_epoch),
            per_epoch,
            until,
        }
    }

    /// The rate at fractional epoch `at` of 0-based `epoch`: the schedule over the live
    /// settings, with the run as long as it will really be (so that a cosine schedule
    /// does not drop to 0 in an epoch that outlives a shortened run).
    fn scheduled_lr(&self, epoch: usize, at: f64) -> f64 {
        let length = match self.total_batches {
            Some(n) => n as f64 / self.batches_per_epoch() as f64,
            None => self.epochs_bound(epoch) as f64,
        };
        schedule::lr_at(&self.training, at, length)
    }

    /// Train from where `cur` stands (the start, or the checkpoint's position when
    /// resuming) until the live epoch count is reached: each epoch is
    /// [`train_epoch`](Self::train_epoch) then [`end_epoch`](Self::end_epoch). Commands are
    /// obeyed between batches and between epochs; a Stop, or a consumer that went away,
    /// saves a checkpoint and ends the run early.
    pub(super) fn train(
        &mut self,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Result<Outcome> {
        let mut epoch = self.cur.epoch;
        loop {
            // Commands that came during the evaluation may lengthen or shorten the run.
            if let Some(stop) = self.obey(control, sink) {
                return self.finish_early(stop, sink);
            }
            if self.run_done(epoch) || self.patience_spent(sink) {
                return Ok(Outcome::Finished);
            }
            let meter = match self.train_epoch(epoch, control, sink)? {
                ControlFlow::Continue(meter) => meter,
                ControlFlow::Break(outcome) => return Ok(outcome),
            };
            let start = Instant::now();
            self.end_epoch(epoch, &meter, control, sink)?;
            self.count_evaluation(start.elapsed().as_secs_f64());
            self.replan(sink);
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
            if self.clock.first_batch.is_some() {
                self.clock.paused += pause_start.elapsed();
            }
            if self.train_batch(epoch, b, &order, &mut meter, control, sink)? == Batch::Skipped {
                continue;
            }
            let done = self.run_batches();
            let ends_run = self.total_batches.is_some_and(|n| done >= n);
            let due = meter.last_report.elapsed() >= PROGRESS_EVERY || b + 1 == batches;
            if (due || ends_run) && !self.report_progress(epoch, &mut meter, sink)? {
                return self
                    .finish_early(Outcome::Stopped, sink)
                    .map(ControlFlow::Break);
            }
            if self.cfg.training.time_budget.0.is_some() && self.total_batches.is_none() {
                self.measure_budget(sink)?;
            }
            if ends_run {
                break;
            }
            if self.out_of_time() {
                self.end_for_time(sink);
                break;
            }
            if b + 1 < batches && self.eval_points().at(done) {
                let start = Instant::now();
                self.test_between(sink)?;
                // Not training time: the epoch's speed leaves it out, `elapsed` keeps it.
                meter.paused += start.elapsed();
                self.count_evaluation(start.elapsed().as_secs_f64());
                self.replan(sink);
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
        self.clock.start();
        // Dropout draws from libtorch's RNG, reseeded from (seed, step) each batch, and
        // augmentation from our own generator seeded the same way, so a resumed run
        // repeats exactly what an uninterrupted one would have done.
        let (seed, step) = (self.cfg.training.seed, self.opt.step_count());
        tch::manual_seed(step_seed(seed, step));
        let idx = order.narrow(0, start as i64, len as i64);
        let xs = scale(&self.train_x.index_select(0, &idx));
        let augment = match frac >= self.cfg.data.translate_from {
            true => self.augment,
            false => self.augment.without_shifts(),
        };
        let xs = augment.apply(&xs, seed, step);
        let ys = self.train_y.index_select(0, &idx);
        let logits = self.net.forward_t(&xs, true);
        let loss = loss::cross_entropy(&logits, &ys, self.cfg.training.label_smoothing);
        let loss = self.faults.poison(self.opt.step_count(), loss);
        let loss_value = loss.detach();
        if let Err(e) = self.check_finite(&loss_value) {
            self.pause_or_fail(e, control, sink)?;
            self.cur.batch = b + 1;
            return Ok(Batch::Skipped);
        }
        self.opt.backward_step(&loss);
        if let Some(avg) = &mut self.averaged {
            avg.ema.update(self.opt.step_count());
        }
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
        &mut self,
        epoch: usize,
        meter: &mut EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<bool> {
        meter.last_report = Instant::now();
        let losses = read_losses(&mut meter.pending)?;
        self.loss_log.push(&losses);
        if let Some((at, bad)) = losses.iter().find(|(_, l)| !l.is_finite()) {
            return Err(self.divergence(f64::from(*bad), *at));
        }
        let n = self.ds.train.len();
        let ips = meter.images as f64 / meter.training_secs().max(1e-9);
        let seen = self.cur.seen(self.cfg.training.batch_size, n);
        let remaining = (self.epochs_bound(epoch) - epoch)
            .saturating_mul(n)
            .saturating_sub(seen);
        let elapsed = self.clock.elapsed();
        let budget_left = self.cfg.training.time_budget.secs().map(|b| b - elapsed);
        Ok(sink.send(TrainEvent::Progress(Progress {
            epoch,
            batch: self.cur.batch,
            batches: self.batches_per_epoch(),
            losses,
            train_acc: self.cur.correct.int64_value(&[]) as f64 / seen as f64,
            images_per_sec: ips,
            eta_secs: budget_left.unwrap_or(remaining as f64 / ips),
            lr: self.opt.hyper.lr,
            elapsed_secs: elapsed,
            budget_left_secs: budget_left,
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
        self.record_epoch(&summary, sink)?;
        self.save_or_pause(control, sink)?;
        sink.send(TrainEvent::EpochEnd(Box::new(summary)));
        sink.send(TrainEvent::Predictions(Box::new(self.predictions(&eval))));
        let fm = self.feature_maps(self.feature_index, (epoch + 1) as f64);
        sink.send(TrainEvent::FeatureMaps(Box::new(fm)));
        Ok(())
    }

    /// The epoch's training figures, and its evaluation on the test set (and on the
    /// held-out images, when there are any).
    fn evaluate_epoch(
        &self,
        epoch: usize,
        meter: &EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<(EpochSummary, Evaluation)> {
        let seconds = meter.training_secs();
        // The whole split, or what a time budget's last epoch reached of it.
        let n = self
            .cur
            .seen(self.cfg.training.batch_size, self.ds.train.len())
            .max(1) as f64;
        let train_loss = self.cur.loss_sum.double_value(&[]) / n;
        let train_acc = self.cur.correct.int64_value(&[]) as f64 / n;
        sink.send(TrainEvent::Phase(Phase::Evaluating));
        let eval_start = Instant::now();
        let eval = self.evaluate()?;
        let val = self.validate()?;
        let summary = EpochSummary {
            epoch: epoch + 1,
            epochs: self.epochs_bound(epoch),
            train_loss,
            train_acc,
            test_loss: eval.loss,
            test_acc: eval.accuracy,
            test_acc_plain: eval.accuracy_plain,
            val_loss: val.as_ref().map(|v| v.loss),
            val_acc: val.as_ref().map(|v| v.accuracy),
            lr: self.opt.hyper.lr,
            seconds,
            elapsed: self.clock.elapsed(),
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
        anyhow::Error::new(run_record::Diverged(format!(
            "the training loss became {value} at epoch {at:.3}; the last good checkpoint was \
             kept. Lower the learning rate and resume: fashion-tui train --resume {} --lr <smaller>",
            self.run_dir.display()
        )))
    }

    fn finish_early(&mut self, outcome: Outcome, sink: &mut dyn Sink) -> Result<Outcome> {
        sink.send(TrainEvent::Applied(format!(
            "stopping at epoch {:.2}: saving a checkpoint",
            self.position()
        )));
        self.flush_losses()?;
        self.save(sink, SaveReason::Stopping)?;
        Ok(outcome)
    }

    /// The network that is evaluated and saved: the weight average when there is one.
    fn evaluated_net(&self) -> &dyn Network {
        match &self.averaged {
            Some(avg) => avg.net.as_ref(),
            None => self.net.as_ref(),
        }
    }

    fn evaluate(&self) -> Result<Evaluation> {
        evaluate::evaluate(
            self.evaluated_net(),
            &self.test_x,
            &self.test_y,
            self.cfg.training.tta,
        )
    }

    /// The evaluation on the held-out training images, when there are any.
    fn validate(&self) -> Result<Option<Evaluation>> {
        let Some((x, y)) = &self.val else {
            return Ok(None);
        };
        evaluate::evaluate(self.evaluated_net(), x, y, self.cfg.training.tta).map(Some)
    }

    fn predictions(&self, eval: &Evaluation) -> Predictions {
        evaluate::predictions(eval, &self.ds.test, &self.sample, self.cur.epoch)
    }

    fn feature_maps(&self, index: usize, at_epoch: f64) -> FeatureMaps {
        evaluate::feature_maps(
            self.evaluated_net(),
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
