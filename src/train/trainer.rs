//! The trainer: a thin loop over its parts. The [`Learner`] takes the steps, the
//! [`Evaluator`] evaluates and shows, the [`RunPlan`] says how long the run is and when it
//! evaluates, and the [`Record`] writes the run's files. The trainer holds the settings
//! in force (the run's config with the live changes applied: the one place they live),
//! the position in the run and its clock, and runs the loop in named steps (epoch, batch,
//! progress report, end of epoch). How it obeys the consumer's commands is in [`control`];
//! how it saves and restores itself, in [`save`]; the time budget's side, in [`timing`].

mod control;
mod record;
mod save;
mod team;
mod timing;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::Result;
use flume::Receiver;
use tch::{Device, Kind, Tensor};

use crate::model::Kernels;

use super::evaluate::{Evaluation, Evaluator};
use super::fault::Faults;
use super::learner::Learner;
use super::plan::RunPlan;
use super::schedule;
use super::sink::Sink;
use super::threads;
use crate::config::Config;
use crate::data::Dataset;
use crate::events::{
    Command, EpochSummary, Phase, Progress, RunInfo, RunSummary, SaveReason, TrainEvent,
};
use crate::rng::SplitMix64;
use crate::store::run::Run;
use crate::store::run_record;
use record::Record;

/// How often per-batch metrics are sent: ~30 times a second at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(33);

/// How a run that did not fail ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Finished,
    Stopped,
}

/// What the trainer is told besides its config.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Watch {
    /// Someone is watching: when a save fails or the loss is not finite, pause and wait
    /// for Resume or Stop instead of failing.
    pub pause_on_fault: bool,
    /// Faults to inject (test builds only).
    pub faults: Faults,
    /// Test images in the Predictions grids.
    pub predictions: usize,
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

    fn started(&self) -> bool {
        self.first_batch.is_some()
    }

    fn elapsed(&self) -> f64 {
        self.first_batch.map_or(0.0, |t| {
            t.elapsed().saturating_sub(self.paused).as_secs_f64()
        })
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
pub(super) struct Trainer<'a> {
    /// The settings in force: the run's config with the live changes applied.
    cfg: Config,
    ds: &'a Dataset,
    learner: Learner,
    eval: Evaluator<'a>,
    plan: RunPlan,
    clock: RunClock,
    /// The epoch in progress (its number is also the count of epochs completed).
    cur: EpochState,
    record: Record,
    watch: Watch,
    /// The thread team's size, fitted to the CPU while training.
    team: threads::Fit,
}

impl<'a> Trainer<'a> {
    /// A trainer for `cfg` on `ds`, writing into `run`.
    pub(super) fn new(
        cfg: &Config,
        ds: &'a Dataset,
        (device, kernels): (Device, Kernels),
        run: Run,
        watch: Watch,
    ) -> Self {
        let learner = Learner::new(cfg, &ds.train, device, kernels);
        let t = &cfg.training;
        let eval = Evaluator::new(ds, device, t.tta, t.seed, watch.predictions);
        let per_epoch = ds.train.len().div_ceil(t.batch_size);
        Trainer {
            plan: RunPlan::new(t, per_epoch),
            record: Record::new(run, ds.validation.len()),
            cfg: cfg.clone(),
            ds,
            learner,
            eval,
            clock: RunClock::default(),
            cur: EpochState::new(0, device),
            watch,
            team: threads::Fit::new(
                cfg.thread_choice().most,
                tch::get_num_threads().max(1) as usize,
                cfg.runtime.threads == 0 && device == Device::Cpu,
            ),
        }
    }

    /// The test images and classes, for the consumers.
    pub(super) fn test_images(&self) -> crate::events::TestImages {
        super::evaluate::test_images(&self.ds.test)
    }

    pub(super) fn parameters(&self) -> usize {
        self.learner.parameters()
    }

    pub(super) fn batches_per_epoch(&self) -> usize {
        self.plan.per_epoch()
    }

    /// Fractional epoch reached so far (batches done / batches per epoch).
    fn position(&self) -> f64 {
        self.cur.epoch as f64 + self.cur.batch as f64 / self.batches_per_epoch() as f64
    }

    /// Batches done in the whole run.
    fn run_batches(&self) -> usize {
        self.cur.epoch * self.batches_per_epoch() + self.cur.batch
    }

    /// The epoch count the loop runs to (see [`RunPlan::epochs_bound`]).
    fn epochs_bound(&self, epoch: usize) -> usize {
        self.plan.epochs_bound(epoch, self.cfg.training.epochs)
    }

    /// What the run is, for [`TrainEvent::Started`]: `cfg` on `ds`, trained on
    /// `trains_on`.
    pub(super) fn info(&self, cfg: &Config, trains_on: &str) -> RunInfo {
        RunInfo {
            model: cfg.model.name.to_string(),
            device: trains_on.to_string(),
            parameters: self.parameters(),
            epochs: cfg.training.epochs,
            batch_size: cfg.training.batch_size,
            batches_per_epoch: self.batches_per_epoch(),
            train_images: self.ds.train.len(),
            test_images: self.ds.test.len(),
            lr: cfg.training.lr,
            seed: cfg.training.seed,
            time_budget: cfg.training.time_budget.secs(),
            run_dir: self.record.run.dir().to_path_buf(),
            data_source: self.ds.dir.display().to_string(),
            data_load_secs: self.ds.load_secs,
            early_stop: cfg.training.early_stop,
            validation: self.ds.validation.len(),
        }
    }

    /// What the run reached, once `train` has returned `outcome`.
    pub(super) fn summary(&self, outcome: Outcome, seconds: f64) -> RunSummary {
        RunSummary {
            epochs_completed: self.cur.epoch,
            test_acc: self.record.last_test_acc,
            model_path: self.record.model_path.clone(),
            run_dir: self.record.run.dir().to_path_buf(),
            stopped_early: outcome == Outcome::Stopped,
            seconds,
        }
    }

    /// The rate at fractional epoch `at` of 0-based `epoch`: the schedule over the live
    /// settings, with the run as long as it will really be.
    fn scheduled_lr(&self, epoch: usize, at: f64) -> f64 {
        let length = self.plan.length(epoch, self.cfg.training.epochs);
        schedule::lr_at(&self.cfg.training, at, length)
    }

    /// Train from where `cur` stands (the start, or the checkpoint's position when
    /// resuming) until the run is done: each epoch is [`train_epoch`](Self::train_epoch)
    /// then [`end_epoch`](Self::end_epoch). Commands are obeyed between batches and
    /// between epochs; a Stop, or a consumer that went away, saves a checkpoint and ends
    /// the run early.
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
            let done = self.run_batches();
            if self.plan.run_done(done, epoch, self.cfg.training.epochs)
                || self.patience_spent(sink)
            {
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
            self.cur = EpochState::new(epoch, self.learner.device());
            0
        };
        for b in first_batch..self.batches_per_epoch() {
            // Before the first batch, the loop's head has just obeyed.
            if b > first_batch {
                let pause_start = Instant::now();
                let stop = self.obey(control, sink);
                self.count_pause(&mut meter, pause_start.elapsed());
                if let Some(stop) = stop {
                    return self.finish_early(stop, sink).map(ControlFlow::Break);
                }
            }
            if self.train_batch(epoch, b, &order, &mut meter, control, sink)? == Batch::Skipped {
                continue;
            }
            if let ControlFlow::Break(outcome) = self.after_batch(b, &mut meter, sink)? {
                return Ok(ControlFlow::Break(outcome));
            }
            if self.plan.ends_at(self.run_batches()) {
                break;
            }
            if self.plan.out_of_time(self.clock.elapsed()) {
                self.end_for_time(sink);
                break;
            }
            self.test_if_due(b, &mut meter, sink)?;
        }
        Ok(ControlFlow::Continue(meter))
    }

    /// Time spent paused (or obeying) between two batches: not the epoch's training time,
    /// nor, after the first batch, the run's.
    fn count_pause(&mut self, meter: &mut EpochMeter, paused: Duration) {
        if paused >= Duration::from_millis(100) {
            self.hold_team();
        }
        meter.paused += paused;
        if self.clock.started() {
            self.clock.paused += paused;
        }
    }

    /// After batch `b` trained: report progress when due (or when the run ends with it),
    /// and with a time budget, measure the speed. `Break` when the consumer went away and
    /// the run stopped.
    fn after_batch(
        &mut self,
        b: usize,
        meter: &mut EpochMeter,
        sink: &mut dyn Sink,
    ) -> Result<ControlFlow<Outcome>> {
        let ends_run = self.plan.ends_at(self.run_batches());
        let due =
            meter.last_report.elapsed() >= PROGRESS_EVERY || b + 1 == self.batches_per_epoch();
        if (due || ends_run) && !self.report_progress(meter, sink)? {
            return self
                .finish_early(Outcome::Stopped, sink)
                .map(ControlFlow::Break);
        }
        self.measure_budget(sink)?;
        Ok(ControlFlow::Continue(()))
    }

    /// The order of 0-based `epoch`'s images: a permutation that depends only on the seed
    /// and the epoch, so that a resumed run sees the same batches.
    fn batch_order(&self, epoch: usize) -> Tensor {
        let mut perm: Vec<i64> = (0..self.ds.train.len() as i64).collect();
        SplitMix64::new(self.cfg.training.seed.wrapping_add(epoch as u64)).shuffle(&mut perm);
        Tensor::from_slice(&perm).to_device(self.learner.device())
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
        self.learner.set_lr(self.scheduled_lr(epoch, frac));
        self.clock.start();
        let began = Instant::now();
        let idx = order.narrow(0, start as i64, len as i64);
        let step = self.learner.forward(&idx, frac, &mut self.watch.faults);
        let loss_value = step.loss.detach();
        if let Err(e) = self.check_finite(&loss_value) {
            self.pause_or_fail(e, control, sink)?;
            self.cur.batch = b + 1;
            return Ok(Batch::Skipped);
        }
        self.learner.apply(&step);
        self.cur.loss_sum += &loss_value * len as f64;
        self.cur.correct += &step.correct;
        self.cur.batch = b + 1;
        meter.images += step.images;
        meter.pending.push((self.position(), loss_value));
        self.fit_team(began.elapsed().as_secs_f64(), step.images, sink);
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
        if !self.watch.pause_on_fault {
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
    fn report_progress(&mut self, meter: &mut EpochMeter, sink: &mut dyn Sink) -> Result<bool> {
        meter.last_report = Instant::now();
        let losses = read_losses(&mut meter.pending)?;
        self.record.run.push_losses(&losses);
        if let Some((at, bad)) = losses.iter().find(|(_, l)| !l.is_finite()) {
            return Err(self.divergence(f64::from(*bad), *at));
        }
        let n = self.ds.train.len();
        let ips = meter.images as f64 / meter.training_secs().max(1e-9);
        let seen = self.cur.seen(self.cfg.training.batch_size, n);
        let epoch = self.cur.epoch;
        let remaining = (self.epochs_bound(epoch) - epoch)
            .saturating_mul(n)
            .saturating_sub(seen);
        let elapsed = self.clock.elapsed();
        let budget_left = self.plan.budget_left(elapsed);
        Ok(sink.send(TrainEvent::Progress(Progress {
            epoch,
            batch: self.cur.batch,
            batches: self.batches_per_epoch(),
            losses,
            train_acc: self.cur.correct.int64_value(&[]) as f64 / seen as f64,
            images_per_sec: ips,
            eta_secs: budget_left.unwrap_or(remaining as f64 / ips),
            lr: self.learner.lr(),
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
        self.hold_team();
        let (summary, eval) = self.evaluate_epoch(epoch, meter, sink)?;
        self.record.last_test_acc = Some(eval.accuracy);
        self.cur = EpochState::new(epoch + 1, self.learner.device());
        self.record.run.append_epoch(&summary)?;
        self.record_epoch(&summary, sink)?;
        self.save_or_pause(control, sink)?;
        sink.send(TrainEvent::EpochEnd(Box::new(summary)));
        let preds = self.eval.predictions(&eval, self.cur.epoch);
        sink.send(TrainEvent::Predictions(Box::new(preds)));
        let fm = self
            .eval
            .feature_maps(self.learner.evaluated(), (epoch + 1) as f64);
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
        let eval = self.eval.test(self.learner.evaluated())?;
        let val = self.eval.validate(self.learner.evaluated())?;
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
            lr: self.learner.lr(),
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
        if self.learner.device() != Device::Cpu {
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
            self.record.run.dir().display()
        )))
    }

    fn finish_early(&mut self, outcome: Outcome, sink: &mut dyn Sink) -> Result<Outcome> {
        sink.send(TrainEvent::Applied(format!(
            "stopping at epoch {:.2}: saving a checkpoint",
            self.position()
        )));
        self.record.run.flush_losses()?;
        self.save(sink, SaveReason::Stopping)?;
        Ok(outcome)
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
