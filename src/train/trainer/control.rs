//! The consumer's commands as the trainer obeys them between batches and while paused:
//! pause and resume, stop, a checkpoint or feature maps on request, and live changes of
//! settings (validated, applied from the next batch, and reported).

use flume::{Receiver, TryRecvError};

use super::{Outcome, Trainer};
use crate::config::live::LiveSetting;
use crate::config::text;
use crate::config::Optimizer;
use crate::events::{Change, Command, Phase, SaveReason, TrainEvent};
use crate::train::sink::Sink;

impl Trainer<'_> {
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
                self.eval.choose(index);
                let fm = self
                    .eval
                    .feature_maps(self.learner.evaluated(), self.position());
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
            Command::Note(text) => {
                sink.send(TrainEvent::Applied(text));
            }
            Command::Detached(text) => {
                // The record is a convenience for later: a failure to note this changes
                // nothing now.
                let _ = self.record.run.record(|r| r.detached = Some(text.clone()));
                sink.send(TrainEvent::Applied(text));
            }
        }
        None
    }

    /// Take a new value for a live setting if the whole configuration stays valid.
    fn set(&mut self, setting: LiveSetting, sink: &mut dyn Sink) {
        let key = setting.key();
        let mut probe = self.cfg.clone();
        let from = text::value_text(&probe, key);
        setting.apply(&mut probe);
        if let Err(e) = probe.validate() {
            sink.send(TrainEvent::Applied(format!("refused: {e}")));
            return;
        }
        let to = text::value_text(&probe, key);
        if from == to {
            return;
        }
        self.cfg = probe;
        self.learner.follow(&self.cfg.training);
        let at = self.position();
        let mut note = match setting {
            // libtorch's Adam(W) would take it as beta1, which the config keeps at 0.9.
            LiveSetting::Momentum(_)
                if !matches!(
                    self.cfg.training.optimizer,
                    Optimizer::Sgd | Optimizer::Nesterov
                ) =>
            {
                format!(
                    " (no effect with {:?}: momentum is for sgd and nesterov)",
                    self.cfg.training.optimizer
                )
                .to_lowercase()
            }
            LiveSetting::Epochs(n) => {
                let current = at.floor() as usize + usize::from(at.fract() > 0.0);
                if n < current.max(1) {
                    format!(" (the run ends after the current epoch, {current})")
                } else {
                    String::new()
                }
            }
            _ => String::new(),
        };
        // The schedule (also for the rest) is re-read at every batch.
        let lr_now = self.scheduled_lr(at.floor() as usize, at);
        if lr_now != self.learner.lr() && !matches!(setting, LiveSetting::Lr(v) if v == lr_now) {
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

    /// Drain pending commands; while paused, block on the channel. `Some` when stopping.
    pub(super) fn obey(
        &mut self,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> Option<Outcome> {
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

    /// Paused by the trainer itself: block until Resume (`true`) or Stop or a vanished
    /// consumer (`false`), answering other commands meanwhile.
    pub(super) fn wait_for_resume(
        &mut self,
        control: &Receiver<Command>,
        sink: &mut dyn Sink,
    ) -> bool {
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
}
