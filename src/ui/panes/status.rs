//! The run's status, drawn by the header and the footer: the trainer's phase and any
//! pause or resume on its way, what the run is, its latest progress and finished epoch
//! (the confusion matrix shows that one), how it ended, the stop protocol's state and the
//! dashboard clock. Also the texts that describe the run in one line.

use std::time::Duration;

use crate::events::text::{completed, epochs, outcome};
use crate::events::{Best, BestBy, BudgetPlan, EpochSummary, Phase, Progress, RunInfo, RunSummary};

/// Shown when the trainer's channels close without `Done` or `Failed`.
pub const DISCONNECTED: &str = "trainer thread ended unexpectedly";

/// `best 91.2% @ 7`, or `best val 91.2% @ 7` when held-out images chose it.
fn best_of(best: Best) -> String {
    let which = match best.by {
        BestBy::Val => "best val",
        BestBy::Test => "best",
    };
    format!("{which} {:.1}% @ {}", best.acc * 100.0, best.epoch)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// The phase the trainer last reported.
    pub phase: Phase,
    /// A pause (`true`) or resume (`false`) sent but not yet confirmed by a `Phase` event.
    pub pause_request: Option<bool>,
    pub info: Option<Box<RunInfo>>,
    /// The latest progress scalars (its `losses` go to the charts).
    pub progress: Option<Progress>,
    pub last_epoch: Option<Box<EpochSummary>>,
    /// The best epoch so far, by validation accuracy when the run holds images out.
    pub best: Option<Best>,
    /// What a time budget decided, once it has.
    pub plan: Option<Box<BudgetPlan>>,
    pub done: Option<Box<RunSummary>>,
    pub failure: Option<String>,
    /// When `Stop` was sent (dashboard time).
    pub stop_sent_at: Option<Duration>,
    pub disconnected: bool,
    /// Time since the dashboard's first tick.
    pub elapsed: Duration,
}

impl Default for RunStatus {
    fn default() -> Self {
        RunStatus {
            phase: Phase::Loading,
            pause_request: None,
            info: None,
            progress: None,
            last_epoch: None,
            best: None,
            plan: None,
            done: None,
            failure: None,
            stop_sent_at: None,
            disconnected: false,
            elapsed: Duration::ZERO,
        }
    }
}

impl RunStatus {
    /// The trainer reports a phase; it confirms a pending pause or resume.
    pub fn on_phase(&mut self, p: Phase) {
        self.phase = p;
        match (self.pause_request, p) {
            (Some(true), Phase::Paused) => self.pause_request = None,
            (Some(false), p) if p != Phase::Paused => self.pause_request = None,
            _ => {}
        }
    }

    /// A finished epoch: the latest, and the best if it beats it (by its validation
    /// accuracy when it has one, as the trainer judges).
    pub fn on_epoch(&mut self, s: Box<EpochSummary>) {
        let by = BestBy::with(usize::from(s.val_acc.is_some()));
        self.best = Best::update(self.best, Best::of(&s, by));
        self.last_epoch = Some(s);
    }

    /// The best epoch for the header: `best 91.2% @ 7 · patience 2/3` while early
    /// stopping counts epochs without a better test accuracy, `best val 91.2% @ 7` (and
    /// the patience, when it counts) when held-out images choose the best epoch; `None`
    /// when neither applies or no epoch has finished.
    pub fn best_text(&self) -> Option<String> {
        let n = self.info.as_ref()?.early_stop;
        let best = self.best?;
        let done = self.last_epoch.as_ref()?.epoch;
        let text = best_of(best);
        match (n, best.by) {
            (0, BestBy::Test) => None,
            (0, BestBy::Val) => Some(text),
            (n, _) => Some(format!(
                "{text} · patience {}/{n}",
                done.saturating_sub(best.epoch).min(n)
            )),
        }
    }

    /// The best epoch for a finished run's header, where `best.safetensors` holds a
    /// model other than the final one: `best 87.5% @ 14` (`best val …` when held-out
    /// images chose it); `None` when the best epoch is the last.
    pub fn best_done_text(&self) -> Option<String> {
        let best = self.best?;
        let last = self.last_epoch.as_ref()?.epoch;
        (best.epoch != last).then(|| best_of(best))
    }

    /// The first batch or the `Started` event ends the loading phase.
    pub fn leave_loading(&mut self) {
        if self.phase == Phase::Loading {
            self.phase = Phase::Training;
        }
    }

    /// The phase to show: the trainer's, overridden at once by a pending pause/resume and
    /// by a final outcome.
    pub fn display_phase(&self) -> Phase {
        if self.failure.is_some() {
            return Phase::Failed;
        }
        if self.done.is_some() {
            return Phase::Done;
        }
        match (self.pause_request, self.phase) {
            (Some(true), _) => Phase::Paused,
            (Some(false), Phase::Paused) => Phase::Training,
            (_, p) => p,
        }
    }

    /// Training is over (successfully or not), or the trainer is gone.
    pub fn finished(&self) -> bool {
        self.done.is_some() || self.failure.is_some() || self.disconnected
    }

    /// `Stop` was sent and `Done` has not arrived yet.
    pub fn stopping(&self) -> bool {
        self.stop_sent_at.is_some() && !self.finished()
    }

    /// A live setting can still reach the trainer.
    pub fn trainer_running(&self) -> bool {
        !self.finished() && !self.stopping()
    }

    /// One line for after the terminal is restored, e.g.
    /// `fashion-tui: 10 epochs, test accuracy 90.8%, model saved to /runs/x/model.safetensors`.
    pub fn summary_line(&self) -> Option<String> {
        if let Some(reason) = &self.failure {
            return Some(format!("fashion-tui: training failed: {reason}"));
        }
        if let Some(s) = &self.done {
            return Some(format!(
                "fashion-tui: {}{}",
                completed(s),
                outcome(s, "test accuracy")
            ));
        }
        self.last_epoch.as_ref().map(|e| {
            format!(
                "fashion-tui: quit after {}, test accuracy {:.1}% (the trainer did not confirm saving)",
                epochs(e.epoch),
                e.test_acc * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_names_its_best_epoch_when_it_is_not_the_last() {
        let mut status = RunStatus::default();
        assert_eq!(status.best_done_text(), None, "no epoch yet");
        let mut epoch = |n: usize, test_acc: f64, val_acc: Option<f64>| {
            status.on_epoch(Box::new(EpochSummary {
                test_acc,
                val_acc,
                ..crate::ui::fixtures::epoch_summary(n)
            }));
            status.best_done_text()
        };
        assert_eq!(epoch(1, 0.80, None), None, "the best is the last");
        assert_eq!(epoch(2, 0.875, None), None);
        assert_eq!(epoch(3, 0.86, None).as_deref(), Some("best 87.5% @ 2"));
        let mut status = RunStatus::default();
        for (n, val) in [(1, 0.91), (2, 0.90)] {
            status.on_epoch(Box::new(EpochSummary {
                val_acc: Some(val),
                ..crate::ui::fixtures::epoch_summary(n)
            }));
        }
        assert_eq!(
            status.best_done_text().as_deref(),
            Some("best val 91.0% @ 1")
        );
    }

    #[test]
    fn the_end_reads_alike_in_the_log_and_the_summary_line() {
        let s = RunSummary {
            epochs_completed: 1,
            test_acc: None,
            model_path: None,
            run_dir: "/r".into(),
            stopped_early: false,
            seconds: 75.0,
        };
        assert_eq!(
            crate::events::text::done_text(&s),
            "done after 1 epoch in 00:01:15, no model saved"
        );
        let status = RunStatus {
            done: Some(Box::new(s)),
            ..RunStatus::default()
        };
        assert_eq!(
            status.summary_line().as_deref(),
            Some("fashion-tui: 1 epoch, no model saved")
        );
    }
}
